//! What is particular to the S3 store, against the S3 test server (moto,
//! from `scripts/services/moto`): restores and their reuse, classes that
//! need none, verification of every read, listings over several pages,
//! faults, a killed upload, and an independent client (boto3) reading what
//! the store wrote.

use std::ops::Range;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use glacier_multipart::{
    ArchiveInfo, ArchiveStore, DownloadOptions, Downloader, Error, Inventory, InventoryFormat,
    JobInfo, JobOutput, JobRequest, JobStatus, NoProgress, Result, RetryPolicy, S3Class, S3Options,
    S3Store, StoreLimits, Tier, UploadInfo, UploadOptions, UploadParts, Uploader, VaultInfo,
    open_store,
};
use glacier_treehash::{TreeHash, tree_hash};

use crate::child::spawn_child;
use crate::util::{Counting, MIB, data, fresh_bucket, s3_endpoint, s3_options, s3_store};

fn python() -> String {
    std::env::var("PERMAFROST_MOTO_PYTHON").unwrap_or_else(|_| {
        panic!(
            "PERMAFROST_MOTO_PYTHON is not set: this test reads back with boto3 from moto's venv; \
             run `eval \"$(scripts/services/moto start)\"` first (scripts/test does)"
        )
    })
}

/// Runs `script` with boto3 (moto's venv), `s3` a client of the test
/// server, `args` in `sys.argv[1:]`; returns what it printed.
fn boto3(script: &str, args: &[&str]) -> String {
    let prelude = "import sys, json, base64, boto3\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='testing', \
        aws_secret_access_key='testing', region_name='us-east-1')\n\
        args = sys.argv[2:]\n";
    let out = Command::new(python())
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .arg(s3_endpoint())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn upload_file(store: Arc<dyn ArchiveStore>, path: &Path, state: Option<&Path>) -> ArchiveInfo {
    let options = UploadOptions {
        part_size: 8 * MIB,
        concurrency: 2,
        retry: RetryPolicy::quick(3),
        state_dir: state.map(Path::to_path_buf),
    };
    Uploader::new(store, options)
        .upload_file("v", path, "a file", &NoProgress)
        .unwrap()
}

#[test]
fn deep_archive_reads_wait_for_a_restore_and_restores_are_reused() {
    let s = s3_store(S3Class::DeepArchive);
    s.create_vault("v").unwrap();
    let body = data(3 * MIB + 1, 7);
    let a = s
        .upload_archive("v", "deep", &body, tree_hash(&body))
        .unwrap();
    // Before any restore, S3 answers 403 InvalidObjectState: not ready.
    // (A job id made by hand: the store's ids say which archive they read.)
    let unrestored = format!("r.S.0.all.{}", a.archive_id);
    let err = s.get_job_output("v", &unrestored, None).unwrap_err();
    assert!(matches!(err, Error::JobNotReady { .. }), "{err}");
    assert!(!err.is_retryable());
    // Deep Archive has no Expedited tier: refused before anything is sent.
    let expedited = JobRequest::ArchiveRetrieval {
        archive_id: a.archive_id.clone(),
        tier: Tier::Expedited,
        range: None,
        description: None,
    };
    let err = s.initiate_job("v", &expedited).unwrap_err();
    assert!(err.to_string().contains("DEEP_ARCHIVE"), "{err}");
    assert_eq!(s.restore_requests(), 0);
    let bulk = JobRequest::ArchiveRetrieval {
        archive_id: a.archive_id.clone(),
        tier: Tier::Bulk,
        range: None,
        description: None,
    };
    let job = s.initiate_job("v", &bulk).unwrap();
    assert_eq!(s.restore_requests(), 1);
    let info = s.describe_job("v", &job).unwrap();
    assert_eq!(info.status, JobStatus::Succeeded, "moto restores at once");
    assert_eq!(info.archive_tree_hash, Some(tree_hash(&body)));
    // A second retrieval reuses the restore: no second (billed) request.
    let again = s
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    assert_eq!(s.restore_requests(), 1);
    assert_eq!(s.get_job_output("v", &again, None).unwrap().data, body);
    // The jobs are listed, from the store's own records.
    let jobs = s.list_jobs("v").unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.status == JobStatus::Succeeded));
}

#[test]
fn instant_classes_need_no_restore() {
    for class in [S3Class::GlacierIr, S3Class::Standard] {
        let s = s3_store(class);
        s.create_vault("v").unwrap();
        let body = data(MIB + 3, 8);
        let a = s
            .upload_archive("v", "ir", &body, tree_hash(&body))
            .unwrap();
        let job = s
            .initiate_job("v", &JobRequest::archive(&a.archive_id))
            .unwrap();
        assert_eq!(s.restore_requests(), 0, "{class}");
        assert_eq!(
            s.describe_job("v", &job).unwrap().status,
            JobStatus::Succeeded
        );
        assert_eq!(s.get_job_output("v", &job, None).unwrap().data, body);
        // An unrestored read goes straight through too.
        let direct = format!("r.S.0.all.{}", a.archive_id);
        assert_eq!(s.get_job_output("v", &direct, None).unwrap().data, body);
    }
}

/// Refuses the upload of one part, once, as a server would refuse it.
#[derive(Debug)]
struct RefuseOnce {
    inner: Arc<dyn ArchiveStore>,
    part_start: u64,
    refused: AtomicU64,
}

impl ArchiveStore for RefuseOnce {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn limits(&self) -> StoreLimits {
        self.inner.limits()
    }
    fn create_vault(&self, vault: &str) -> Result<()> {
        self.inner.create_vault(vault)
    }
    fn describe_vault(&self, vault: &str) -> Result<VaultInfo> {
        self.inner.describe_vault(vault)
    }
    fn list_vaults(&self) -> Result<Vec<VaultInfo>> {
        self.inner.list_vaults()
    }
    fn delete_vault(&self, vault: &str) -> Result<()> {
        self.inner.delete_vault(vault)
    }
    fn upload_archive(&self, v: &str, d: &str, data: &[u8], h: TreeHash) -> Result<ArchiveInfo> {
        self.inner.upload_archive(v, d, data, h)
    }
    fn initiate_multipart_upload(&self, v: &str, d: &str, part_size: u64) -> Result<String> {
        self.inner.initiate_multipart_upload(v, d, part_size)
    }
    fn upload_part(
        &self,
        v: &str,
        id: &str,
        range: Range<u64>,
        h: TreeHash,
        data: &[u8],
    ) -> Result<()> {
        if range.start == self.part_start && self.refused.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Error::Rejected {
                operation: "upload_part",
                vault: v.to_owned(),
                message: "InvalidPart: refused by the test".into(),
            });
        }
        self.inner.upload_part(v, id, range, h, data)
    }
    fn list_parts(&self, v: &str, id: &str) -> Result<UploadParts> {
        self.inner.list_parts(v, id)
    }
    fn complete_multipart_upload(
        &self,
        v: &str,
        id: &str,
        size: u64,
        h: TreeHash,
    ) -> Result<ArchiveInfo> {
        self.inner.complete_multipart_upload(v, id, size, h)
    }
    fn complete_multipart_upload_with_part_hashes(
        &self,
        v: &str,
        id: &str,
        size: u64,
        h: TreeHash,
        parts: &[TreeHash],
    ) -> Result<ArchiveInfo> {
        self.inner
            .complete_multipart_upload_with_part_hashes(v, id, size, h, parts)
    }
    fn abort_multipart_upload(&self, v: &str, id: &str) -> Result<()> {
        self.inner.abort_multipart_upload(v, id)
    }
    fn list_multipart_uploads(&self, v: &str) -> Result<Vec<UploadInfo>> {
        self.inner.list_multipart_uploads(v)
    }
    fn delete_archive(&self, v: &str, id: &str) -> Result<()> {
        self.inner.delete_archive(v, id)
    }
    fn initiate_job(&self, v: &str, r: &JobRequest) -> Result<String> {
        self.inner.initiate_job(v, r)
    }
    fn describe_job(&self, v: &str, id: &str) -> Result<JobInfo> {
        self.inner.describe_job(v, id)
    }
    fn list_jobs(&self, v: &str) -> Result<Vec<JobInfo>> {
        self.inner.list_jobs(v)
    }
    fn get_job_output(&self, v: &str, id: &str, range: Option<Range<u64>>) -> Result<JobOutput> {
        self.inner.get_job_output(v, id, range)
    }
}

#[test]
fn a_refused_part_stops_the_upload_and_a_rerun_resumes_it_in_another_store_handle() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = fresh_bucket();
    let first: Arc<dyn ArchiveStore> =
        Arc::new(S3Store::connect(&s3_options(&bucket, S3Class::Glacier)).unwrap());
    first.create_vault("v").unwrap();
    let body = data(4 * 8 * MIB + 5, 9);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &body).unwrap();
    let state = dir.path().join("state");
    let refusing = Arc::new(RefuseOnce {
        inner: first,
        part_start: 16 * MIB,
        refused: AtomicU64::new(0),
    });
    let options = UploadOptions {
        part_size: 8 * MIB,
        concurrency: 1,
        retry: RetryPolicy::quick(3),
        state_dir: Some(state.clone()),
    };
    let err = Uploader::new(refusing, options)
        .upload_file("v", &file, "a file", &NoProgress)
        .unwrap_err();
    assert!(err.to_string().contains("refused by the test"), "{err}");
    // A new handle (as a new process would have) knows no part hashes: the
    // resume state supplies them, and only the missing parts travel.
    let second: Arc<dyn ArchiveStore> =
        Arc::new(S3Store::connect(&s3_options(&bucket, S3Class::Glacier)).unwrap());
    let counting = Counting::new(Arc::clone(&second));
    let a = upload_file(counting.clone(), &file, Some(&state));
    assert_eq!(counting.parts(), 3, "parts 0 and 1 were held already");
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert!(second.list_multipart_uploads("v").unwrap().is_empty());
    let job = second
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("back.bin");
    Downloader::new(second, DownloadOptions::default())
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn replaced_bytes_fail_verification_naming_the_key_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(s3_store(S3Class::Standard));
    s.create_vault("v").unwrap();
    let body = data(2 * 8 * MIB + 100, 10);
    let file = dir.path().join("f.bin");
    std::fs::write(&file, &body).unwrap();
    let a = upload_file(s.clone(), &file, None);
    let key = format!("v/{}", a.archive_id);
    // Same length, one byte changed in the second part, written by another
    // client behind the store's back.
    let mut evil = body.clone();
    evil[8 << 20 | 5] ^= 1;
    let evil_path = dir.path().join("evil.bin");
    std::fs::write(&evil_path, &evil).unwrap();
    boto3(
        "s3.put_object(Bucket=args[0], Key=args[1], Body=open(args[2], 'rb').read())",
        &[s.bucket(), &key, evil_path.to_str().unwrap()],
    );
    let fresh = Arc::new(S3Store::connect(&s3_options(s.bucket(), S3Class::Standard)).unwrap());
    let job = fresh
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    // A ranged read inside the first part is still fine...
    let out = fresh.get_job_output("v", &job, Some(0..MIB)).unwrap();
    assert_eq!(out.data, &body[..1 << 20]);
    // ...one in the second is refused, naming the object and its part.
    let err = fresh
        .get_job_output("v", &job, Some(9 * MIB..10 * MIB))
        .unwrap_err();
    match &err {
        Error::StoredChecksumMismatch { object, range, .. } => {
            assert_eq!(object, &format!("s3://{}/{key}", s.bucket()));
            assert_eq!(range, &(8 * MIB..16 * MIB));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&key), "{err}");
    // The download engine stops and leaves nothing at the destination.
    let dest = dir.path().join("back.bin");
    let err = Downloader::new(fresh, DownloadOptions::default())
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::StoredChecksumMismatch { .. }), "{err}");
    assert!(!dest.exists());
}

#[test]
fn listings_page_through_and_moto_list_parts_needs_the_fallback() {
    let bucket = fresh_bucket();
    let s = S3Store::connect(&s3_options(&bucket, S3Class::Glacier))
        .unwrap()
        .with_page_size(2);
    for v in ["a", "b", "c"] {
        s.create_vault(v).unwrap();
    }
    let names: Vec<_> = s
        .list_vaults()
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    let mut ids = Vec::new();
    for i in 0..5u8 {
        let body = [i; 10];
        ids.push(
            s.upload_archive("a", &format!("n{i}"), &body, tree_hash(&body))
                .unwrap()
                .archive_id,
        );
    }
    assert_eq!(s.describe_vault("a").unwrap().archives, 5);
    let job = s
        .initiate_job("a", &JobRequest::inventory(InventoryFormat::Csv))
        .unwrap();
    let inv = Inventory::parse(&s.get_job_output("a", &job, None).unwrap().data).unwrap();
    let mut got: Vec<_> = inv.archives.into_iter().map(|a| a.archive_id).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    // Three parts listed two per page, three uploads likewise.
    let unit = 8 * MIB;
    let body = data(3 * unit, 11);
    let mut uploads = Vec::new();
    for d in ["u1", "u2", "u3"] {
        uploads.push(s.initiate_multipart_upload("b", d, unit).unwrap());
    }
    for i in 0..3 {
        let part = &body[(i * unit) as usize..((i + 1) * unit) as usize];
        s.upload_part(
            "b",
            &uploads[0],
            i * unit..(i + 1) * unit,
            tree_hash(part),
            part,
        )
        .unwrap();
    }
    let listed = s.list_parts("b", &uploads[0]).unwrap();
    assert_eq!(listed.parts.len(), 3);
    assert_eq!(listed.upload.description, "u1");
    assert!(
        s.list_parts_fallbacks() >= 2,
        "moto's ListParts answer is still unreadable to the SDK"
    );
    let mut descs: Vec<_> = s
        .list_multipart_uploads("b")
        .unwrap()
        .into_iter()
        .map(|u| u.description)
        .collect();
    descs.sort();
    assert_eq!(descs, ["u1", "u2", "u3"]);
    let a = s
        .complete_multipart_upload("b", &uploads[0], 3 * unit, tree_hash(&body))
        .unwrap();
    assert_eq!(a.description, "u1");
    for u in &uploads[1..] {
        s.abort_multipart_upload("b", u).unwrap();
    }
    assert!(s.list_multipart_uploads("b").unwrap().is_empty());
    assert!(matches!(
        s.delete_vault("b"),
        Err(Error::VaultNotEmpty { .. })
    ));
    s.delete_archive("b", &a.archive_id).unwrap();
    s.delete_vault("b").unwrap();
}

#[test]
fn store_faults_name_the_bucket_and_the_endpoint() {
    // A bucket that does not exist.
    let missing = S3Store::connect(&s3_options("pf-no-such-bucket", S3Class::Glacier)).unwrap();
    let err = missing.create_vault("v").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pf-no-such-bucket") && text.contains(&s3_endpoint()),
        "{text}"
    );
    assert!(!err.is_retryable());
    let err = missing
        .upload_archive("v", "", b"x", tree_hash(b"x"))
        .unwrap_err();
    assert!(err.to_string().contains("pf-no-such-bucket"), "{err}");
    // An endpoint nobody listens on: a retryable connection failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut o = s3_options("pf-bucket", S3Class::Glacier);
    o.connect.endpoint_url = Some(format!("http://127.0.0.1:{port}"));
    let err = S3Store::connect(&o).unwrap().create_vault("v").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Connection { .. }), "{text}");
    assert!(err.is_retryable());
    assert!(
        text.contains("pf-bucket") && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
}

#[test]
fn locations_name_bucket_prefix_class_and_endpoint() {
    let ep = s3_endpoint();
    let s = open_store(&format!(
        "s3://bkt/some/prefix/?class=glacier_ir&restore-days=3&endpoint={ep}"
    ))
    .unwrap();
    assert_eq!(
        s.location(),
        format!("s3://bkt/some/prefix?class=GLACIER_IR&restore-days=3&endpoint={ep}")
    );
    assert_eq!(s.limits(), StoreLimits::S3);
    for bad in [
        "s3://",
        "s3://b?class=COLD",
        "s3://b?restore-days=0",
        "s3://b?colour=red",
    ] {
        assert!(
            matches!(open_store(bad), Err(Error::InvalidLocation { .. })),
            "{bad}"
        );
    }
    let mut o = S3Options::new("b");
    o.prefix = "/x".into();
    assert!(matches!(
        S3Store::connect(&o),
        Err(Error::InvalidLocation { .. })
    ));
}

#[test]
fn an_independent_client_sees_the_class_metadata_and_checksums_we_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = fresh_bucket();
    let mut options = s3_options(&bucket, S3Class::DeepArchive);
    options.prefix = "backups/site1".into();
    let s = Arc::new(S3Store::connect(&options).unwrap());
    s.create_vault("v").unwrap();
    let small = data(100_000, 12);
    let one = s
        .upload_archive("v", "mt2 small", &small, tree_hash(&small))
        .unwrap();
    let big = data(8 * MIB * 2 + 77, 13);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &big).unwrap();
    let two = upload_file(s.clone(), &file, None);
    let small_path = dir.path().join("small.bin");
    std::fs::write(&small_path, &small).unwrap();
    let script = r"
from awscrt import checksums
out = {}
for key, path in [(args[1], args[3]), (args[2], args[4])]:
    h = s3.head_object(Bucket=args[0], Key=key, ChecksumMode='ENABLED')
    crc = base64.b64encode(checksums.crc64nvme(open(path, 'rb').read()).to_bytes(8, 'big')).decode()
    out[key] = {'class': h.get('StorageClass'), 'meta': h['Metadata'], 'size': h['ContentLength'],
                'crc': h.get('ChecksumCRC64NVME'), 'crc_ok': h.get('ChecksumCRC64NVME') == crc,
                'type': h.get('ChecksumType')}
side = s3.get_object(Bucket=args[0], Key=args[2] + '.treehash')
out['sidecar'] = {'class': side.get('StorageClass', 'STANDARD'), 'body': json.loads(side['Body'].read())}
print(json.dumps(out))
";
    let k1 = format!("backups/site1/v/{}", one.archive_id);
    let k2 = format!("backups/site1/v/{}", two.archive_id);
    let out = boto3(
        script,
        &[
            &bucket,
            &k1,
            &k2,
            small_path.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = &v[&k1];
    assert_eq!(first["class"], "DEEP_ARCHIVE", "{out}");
    assert_eq!(first["meta"]["treehash"], tree_hash(&small).to_hex());
    assert_eq!(first["meta"]["description"], "mt2 small");
    assert_eq!(first["size"], 100_000);
    assert_eq!(
        first["crc_ok"], true,
        "the CRC64NVME S3 keeps is that of our bytes: {out}"
    );
    let second = &v[&k2];
    assert_eq!(second["class"], "DEEP_ARCHIVE", "{out}");
    assert_eq!(second["meta"]["description"], "a file");
    assert_eq!(second["meta"]["partsize"], (8 * MIB).to_string());
    assert_eq!(second["type"], "FULL_OBJECT", "{out}");
    assert_eq!(
        second["crc_ok"], true,
        "a full-object CRC64NVME of the multipart object: {out}"
    );
    let side = &v["sidecar"];
    assert_eq!(side["class"], "STANDARD");
    assert_eq!(side["body"]["tree_hash"], tree_hash(&big).to_hex());
    assert_eq!(side["body"]["parts"].as_array().unwrap().len(), 3);
}

#[test]
fn a_killed_upload_to_s3_resumes_sending_only_the_missing_parts() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = fresh_bucket();
    let store: Arc<dyn ArchiveStore> =
        Arc::new(S3Store::connect(&s3_options(&bucket, S3Class::Standard)).unwrap());
    store.create_vault("v").unwrap();
    let total_parts = 6;
    let body = data(total_parts * 8 * MIB - 1000, 14);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &body).unwrap();
    let state = dir.path().join("state");
    let mut child = spawn_child(&[
        ("GM_CHILD", "upload"),
        ("GM_S3_BUCKET", &bucket),
        ("GM_STATE", state.to_str().unwrap()),
        ("GM_FILE", file.to_str().unwrap()),
        ("GM_DELAY_MS", "300"),
    ]);
    let recorded = || -> u64 {
        std::fs::read_dir(&state).map_or(0, |d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .map(|t| t.lines().filter(|l| l.starts_with("part ")).count() as u64)
                .sum()
        })
    };
    let started = Instant::now();
    while recorded() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child uploaded nothing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(store.describe_vault("v").unwrap().archives, 0);
    let uploads = store.list_multipart_uploads("v").unwrap();
    assert_eq!(uploads.len(), 1);
    let held = store
        .list_parts("v", &uploads[0].upload_id)
        .unwrap()
        .parts
        .len() as u64;
    assert!((2..total_parts).contains(&held), "{held} parts held");

    let counting = Counting::new(Arc::clone(&store));
    let a = upload_file(counting.clone(), &file, Some(&state));
    assert!(
        counting.parts() <= total_parts - 2 && counting.parts() >= total_parts - held,
        "{} parts sent again of {total_parts}, {held} held",
        counting.parts()
    );
    assert_eq!(a.tree_hash, tree_hash(&body));
    let job = store
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("back.bin");
    Downloader::new(store, DownloadOptions::default())
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}
