//! The real `aws-sdk-glacier` store (`GlacierStore`) driven end to end
//! against the fake Glacier endpoint: uploads through the engine, faults,
//! ranged verified downloads, inventories, delayed jobs, error mapping.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use fake_glacier::{FakeGlacier, FakeOptions, Fault};
use glacier_multipart::{
    ArchiveStore, DownloadOptions, Downloader, Error, GlacierOptions, GlacierStore, Inventory,
    InventoryFormat, JobRequest, JobStatus, NoProgress, RetryPolicy, Tier, UploadOptions, Uploader,
};
use glacier_treehash::tree_hash;

const MIB: u64 = 1 << 20;

fn data(len: u64, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

fn connect(fake: &FakeGlacier) -> Arc<dyn ArchiveStore> {
    let options = GlacierOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(fake.endpoint()),
        static_credentials: Some(("AKIDEXAMPLE".into(), "secret".into())),
        ..GlacierOptions::default()
    };
    Arc::new(GlacierStore::connect(&options).unwrap())
}

fn upload_options(concurrency: usize, attempts: u32) -> UploadOptions {
    UploadOptions {
        part_size: MIB,
        concurrency,
        retry: RetryPolicy::quick(attempts),
        state_dir: None,
    }
}

#[test]
fn archives_go_up_and_come_back_through_the_sdk() {
    let fake = FakeGlacier::start(&FakeOptions::default()).unwrap();
    let store = connect(&fake);
    store.create_vault("photos").unwrap();
    assert_eq!(store.list_vaults().unwrap()[0].name, "photos");
    let dir = tempfile::tempdir().unwrap();
    let body = data(6 * MIB + 12_345, 1);
    let path = dir.path().join("f");
    std::fs::write(&path, &body).unwrap();
    let a = Uploader::new(Arc::clone(&store), upload_options(3, 2))
        .upload_file("photos", &path, "mt2 e30", &NoProgress)
        .unwrap();
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert_eq!(fake.stats().part_requests, 7);
    assert_eq!(
        *fake.store().archive_data("photos", &a.archive_id).unwrap(),
        body
    );
    let v = store.describe_vault("photos").unwrap();
    assert_eq!((v.archives, v.size), (1, body.len() as u64));

    // A small one goes in one request.
    let small = store
        .upload_archive("photos", "small", b"hello", tree_hash(b"hello"))
        .unwrap();

    // Retrieve in 2 MiB aligned segments, three at a time, verified.
    let job = store
        .initiate_job("photos", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let info = store.describe_job("photos", &job).unwrap();
    assert_eq!(info.status, JobStatus::Succeeded);
    assert_eq!(info.output_tree_hash, Some(a.tree_hash));
    assert_eq!(info.archive_size, Some(body.len() as u64));
    let before = fake.stats().output_requests;
    let dest = dir.path().join("back");
    let got = Downloader::new(
        Arc::clone(&store),
        DownloadOptions {
            segment_size: 2 * MIB,
            concurrency: 3,
            retry: RetryPolicy::quick(2),
        },
    )
    .download_job("photos", &job, &dest, &NoProgress)
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(got.segments_fetched, 4);
    assert_eq!(fake.stats().output_requests - before, 4);

    // One aligned range by hand: 206, Content-Range and its tree hash.
    let out = store
        .get_job_output("photos", &job, Some(4 * MIB..6 * MIB))
        .unwrap();
    assert_eq!(out.range, 4 * MIB..6 * MIB);
    assert_eq!(out.total_size, body.len() as u64);
    assert_eq!(out.tree_hash, Some(tree_hash(&body[4 << 20..6 << 20])));

    // A ranged retrieval job.
    let ranged = JobRequest::ArchiveRetrieval {
        archive_id: a.archive_id.clone(),
        tier: Tier::Bulk,
        range: Some(2 * MIB..4 * MIB),
        description: Some("part".into()),
    };
    let job2 = store.initiate_job("photos", &ranged).unwrap();
    let info2 = store.describe_job("photos", &job2).unwrap();
    assert_eq!(info2.output_size, Some(2 * MIB));
    assert_eq!(info2.request, ranged);
    assert_eq!(
        store.get_job_output("photos", &job2, None).unwrap().data,
        &body[2 << 20..4 << 20]
    );

    // Inventories in both forms.
    for format in [InventoryFormat::Json, InventoryFormat::Csv] {
        let job = store
            .initiate_job("photos", &JobRequest::inventory(format))
            .unwrap();
        let out = store.get_job_output("photos", &job, None).unwrap();
        let inv = Inventory::parse(&out.data).unwrap();
        let mut ids: Vec<_> = inv.archives.iter().map(|x| x.archive_id.clone()).collect();
        ids.sort();
        let mut want = vec![a.archive_id.clone(), small.archive_id.clone()];
        want.sort();
        assert_eq!(ids, want);
    }
    assert_eq!(store.list_jobs("photos").unwrap().len(), 4);

    // Deleting.
    assert!(matches!(
        store.delete_vault("photos"),
        Err(Error::VaultNotEmpty { .. })
    ));
    store.delete_archive("photos", &a.archive_id).unwrap();
    store.delete_archive("photos", &small.archive_id).unwrap();
    assert!(matches!(
        store.delete_archive("photos", &small.archive_id),
        Err(Error::ArchiveNotFound { .. })
    ));
    store.delete_vault("photos").unwrap();
    assert!(matches!(
        store.describe_vault("photos"),
        Err(Error::VaultNotFound { .. })
    ));
}

#[test]
fn injected_500s_and_throttling_are_retried() {
    let fake = FakeGlacier::start(&FakeOptions::default()).unwrap();
    let store = connect(&fake);
    store.create_vault("v").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = data(4 * MIB + 1, 2);
    let path = dir.path().join("f");
    std::fs::write(&path, &body).unwrap();
    fake.fail_next(Fault::ServerError, Some("UploadMultipartPart"), 2);
    fake.fail_next(Fault::Throttle, Some("UploadMultipartPart"), 2);
    fake.fail_next(Fault::Throttle, Some("CompleteMultipartUpload"), 1);
    let a = Uploader::new(Arc::clone(&store), upload_options(2, 4))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap();
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert_eq!(
        fake.stats().part_requests,
        5 + 4,
        "five parts, four failed tries"
    );
    // Beyond the retries, the error says what it was.
    fake.fail_next(Fault::ServerError, Some("DescribeVault"), 1);
    let err = store.describe_vault("v").unwrap_err();
    assert!(
        matches!(err, Error::Server { status: 500, .. }) && err.is_retryable(),
        "{err}"
    );
    fake.fail_next(Fault::Throttle, None, 1);
    let err = store.list_vaults().unwrap_err();
    assert!(
        matches!(err, Error::Throttled { .. }) && err.is_retryable(),
        "{err}"
    );
}

#[test]
fn wrong_hashes_and_ranges_are_refused_by_the_service() {
    let fake = FakeGlacier::start(&FakeOptions::default()).unwrap();
    let store = connect(&fake);
    store.create_vault("v").unwrap();
    let up = store.initiate_multipart_upload("v", "x", MIB).unwrap();
    let part = data(MIB, 3);
    let err = store
        .upload_part("v", &up, 0..MIB, tree_hash(b"not it"), &part)
        .unwrap_err();
    assert!(matches!(err, Error::PartChecksumMismatch { .. }), "{err}");
    assert!(!err.is_retryable());
    let err = store
        .upload_part("v", &up, 3..MIB + 3, tree_hash(&part), &part)
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    store
        .upload_part("v", &up, 0..MIB, tree_hash(&part), &part)
        .unwrap();
    let listed = store.list_parts("v", &up).unwrap();
    assert_eq!(listed.upload.part_size, MIB);
    assert_eq!(listed.parts[0].tree_hash, Some(tree_hash(&part)));
    let err = store
        .complete_multipart_upload("v", &up, MIB, tree_hash(b"x"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ArchiveChecksumMismatch { .. } | Error::Rejected { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Checksum mismatch"), "{err}");
    let uploads = store.list_multipart_uploads("v").unwrap();
    assert_eq!(uploads[0].upload_id, up);
    store.abort_multipart_upload("v", &up).unwrap();
    assert!(matches!(
        store.list_parts("v", &up),
        Err(Error::UploadNotFound { .. })
    ));
}

#[test]
fn requests_without_sigv4_are_refused() {
    let fake = FakeGlacier::start(&FakeOptions::default()).unwrap();
    let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
    s.write_all(b"GET /-/vaults HTTP/1.1\r\nHost: x\r\nx-amz-glacier-version: 2012-06-01\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("MissingAuthenticationTokenException"),
        "{answer}"
    );
}

#[test]
fn delayed_jobs_and_corrupted_ranges_over_http() {
    let fake = FakeGlacier::start(&FakeOptions {
        job_delay: Duration::from_millis(600),
        ..FakeOptions::default()
    })
    .unwrap();
    let store = connect(&fake);
    store.create_vault("v").unwrap();
    let body = data(4 * MIB, 4);
    let a = store
        .upload_archive("v", "", &body, tree_hash(&body))
        .unwrap();
    let job = store
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    assert_eq!(
        store.describe_job("v", &job).unwrap().status,
        JobStatus::InProgress
    );
    assert!(matches!(
        store.get_job_output("v", &job, None),
        Err(Error::JobNotReady { .. })
    ));
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        store.describe_job("v", &job).unwrap().status,
        JobStatus::Succeeded
    );
    // Every answer for bytes 2-3 MiB arrives corrupted: detected, named.
    fake.store().corrupt_output(Some(2 * MIB), 100);
    let dir = tempfile::tempdir().unwrap();
    let err = Downloader::new(
        Arc::clone(&store),
        DownloadOptions {
            segment_size: MIB,
            concurrency: 2,
            retry: RetryPolicy::quick(3),
        },
    )
    .download_job("v", &job, &dir.path().join("o"), &NoProgress)
    .unwrap_err();
    assert!(
        matches!(&err, Error::RangeChecksumMismatch { range, .. } if *range == (2 * MIB..3 * MIB)),
        "{err}"
    );
}

#[test]
fn an_interrupted_upload_resumes_over_http_with_only_missing_parts() {
    let fake = FakeGlacier::start(&FakeOptions::default()).unwrap();
    let store = connect(&fake);
    store.create_vault("v").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = data(10 * MIB, 5);
    let path = dir.path().join("f");
    std::fs::write(&path, &body).unwrap();
    let options = UploadOptions {
        part_size: MIB,
        concurrency: 1,
        retry: RetryPolicy::quick(2),
        state_dir: Some(dir.path().join("state")),
    };
    fake.store().fail_part(6, 2);
    Uploader::new(Arc::clone(&store), options.clone())
        .upload_file("v", &path, "", &NoProgress)
        .unwrap_err();
    let before = fake.stats().part_requests;
    let a = Uploader::new(Arc::clone(&store), options)
        .upload_file("v", &path, "", &NoProgress)
        .unwrap();
    assert_eq!(fake.stats().part_requests - before, 4, "parts 6-9 only");
    assert_eq!(a.tree_hash, tree_hash(&body));
}

#[test]
fn every_part_boundary_round_trips_over_http() {
    let fake = FakeGlacier::start(&FakeOptions::default()).unwrap();
    let store = connect(&fake);
    store.create_vault("v").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let part = MIB;
    for size in [
        1,
        part - 1,
        part,
        part + 1,
        2 * part - 1,
        2 * part,
        2 * part + 1,
        3 * part + 7,
    ] {
        let body = data(size, size);
        let path = dir.path().join(format!("f{size}"));
        std::fs::write(&path, &body).unwrap();
        let before = fake.stats().part_requests;
        let a = Uploader::new(Arc::clone(&store), upload_options(2, 2))
            .upload_file("v", &path, "", &NoProgress)
            .unwrap();
        assert_eq!(a.tree_hash, tree_hash(&body), "size {size}");
        assert_eq!(
            *fake.store().archive_data("v", &a.archive_id).unwrap(),
            body
        );
        let parts = fake.stats().part_requests - before;
        let want = if size <= part { 0 } else { size.div_ceil(part) };
        assert_eq!(parts, want, "size {size}");
    }
}

#[test]
fn unknown_access_keys_are_refused() {
    let fake = FakeGlacier::start(&FakeOptions {
        credentials: vec![("AKIDEXAMPLE".into(), "secret".into())],
        ..FakeOptions::default()
    })
    .unwrap();
    // The accepted key works.
    connect(&fake).create_vault("v").unwrap();
    // Another key is refused with a non-retryable error naming the cause.
    let other = GlacierStore::connect(&GlacierOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(fake.endpoint()),
        static_credentials: Some(("AKIDWRONG".into(), "secret".into())),
        ..GlacierOptions::default()
    })
    .unwrap();
    let err = other.list_vaults().unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("security token"), "{err}");
}

#[test]
fn wrong_signatures_are_refused() {
    let fake = FakeGlacier::start(&FakeOptions {
        credentials: vec![("AKIDEXAMPLE".into(), "secret".into())],
        ..FakeOptions::default()
    })
    .unwrap();
    connect(&fake).create_vault("v").unwrap();
    // The right key id with another secret: the SDK signs correctly, with
    // the wrong key, so the signature cannot match.
    let other = GlacierStore::connect(&GlacierOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(fake.endpoint()),
        static_credentials: Some(("AKIDEXAMPLE".into(), "not-the-secret".into())),
        ..GlacierOptions::default()
    })
    .unwrap();
    let err = other.list_vaults().unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains("InvalidSignatureException"),
        "{err}"
    );
    // A signed request replayed with one character of its signature
    // changed, over a raw socket.
    let request = |signature: &str| {
        format!(
            "GET /-/vaults HTTP/1.1\r\nHost: {addr}\r\nx-amz-date: 20260101T000000Z\r\n\
             x-amz-glacier-version: 2012-06-01\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/glacier/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-glacier-version, Signature={signature}\r\n\
             Connection: close\r\n\r\n",
            addr = fake.addr()
        )
    };
    let send = |text: String| {
        let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
        s.write_all(text.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let good = signature_of_list_vaults(&fake);
    let ok = send(request(&good));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let mut bad = good.into_bytes();
    bad[20] = if bad[20] == b'a' { b'b' } else { b'a' };
    let refused = send(request(std::str::from_utf8(&bad).unwrap()));
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(refused.contains("InvalidSignatureException"), "{refused}");
}

/// The `SigV4` signature of the raw `ListVaults` request of
/// `wrong_signatures_are_refused`, computed here step by step from the
/// specification (canonical request, string to sign, derived key).
fn signature_of_list_vaults(fake: &FakeGlacier) -> String {
    use sha2::Digest as _;
    fn hex(b: &[u8]) -> String {
        b.iter().fold(String::new(), |mut s, x| {
            use std::fmt::Write as _;
            let _ = write!(s, "{x:02x}");
            s
        })
    }
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let mut inner = sha2::Sha256::new();
        inner.update(k.map(|b| b ^ 0x36));
        inner.update(data);
        let mut outer = sha2::Sha256::new();
        outer.update(k.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        outer.finalize().to_vec()
    }
    let canonical = format!(
        "GET\n/-/vaults\n\nhost:{}\nx-amz-date:20260101T000000Z\nx-amz-glacier-version:2012-06-01\n\n\
         host;x-amz-date;x-amz-glacier-version\n{}",
        fake.addr(),
        hex(&sha2::Sha256::digest(b""))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/glacier/aws4_request\n{}",
        hex(&sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(b"AWS4secret", b"20260101");
    for part in [&b"us-east-1"[..], b"glacier", b"aws4_request"] {
        key = hmac(&key, part);
    }
    hex(&hmac(&key, to_sign.as_bytes()))
}
