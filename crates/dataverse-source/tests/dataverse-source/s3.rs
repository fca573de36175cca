//! The S3 store against a real S3 server (moto, `scripts/services/moto`):
//! objects streamed and verified with Dataverse's checksum, and every way
//! a read can fail reported per file, naming driver, bucket and key.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use dataverse_source::{
    Checksum, ChecksumType, DataFile, DatasetId, DataverseSource, FileSystemStore, ListOptions,
    MemoryDestination, S3FileStore, Source, Status, Stores, back_up,
};

use crate::fixture::{TestDb, md5, sha256};

use test_services::s3_endpoint as endpoint;
use test_services::s3_request as raw_http;

fn put(bucket: &str, key: &str, data: &[u8]) {
    assert_eq!(
        raw_http("PUT", &format!("/{bucket}/{key}"), data),
        200,
        "object {bucket}/{key}"
    );
}

fn store(driver: &str) -> S3FileStore {
    S3FileStore::new(driver)
        .endpoint_url(endpoint())
        .region("us-east-1")
        .static_credentials("testing", "testing")
}

/// Bytes that differ everywhere (a misplaced chunk would show).
fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn s3_file(id: i64, bucket: &str, storage_id: &str, checksum: Checksum, size: usize) -> DataFile {
    let mut f = DataFile::new(
        id,
        DatasetId::new("doi", "10.5072", "FK2/S3TEST"),
        &format!("s3://{bucket}:{storage_id}"),
        checksum,
    );
    f.size = Some(size as u64);
    f
}

/// A source that only reads (no database is asked: `open` goes to the
/// stores).
fn reader(stores: Stores) -> DataverseSource {
    DataverseSource::new(
        dataverse_source::DatabaseConfig::new("127.0.0.1", 1, "none", "none"),
        stores,
    )
}

#[test]
fn objects_stream_and_verify_with_each_checksum_type() {
    let bucket = fresh_bucket();
    // Several MiB: the body arrives in many chunks.
    let big = content(6 << 20, 1);
    let small = content(1000, 2);
    let empty: Vec<u8> = Vec::new();
    put(&bucket, "10.5072/FK2/S3TEST/big-1", &big);
    put(&bucket, "10.5072/FK2/S3TEST/small-2", &small);
    put(&bucket, "10.5072/FK2/S3TEST/empty-3", &empty);
    let sha512 = Checksum::compute(&ChecksumType::Sha512, &mut &small[..])
        .unwrap()
        .unwrap();
    let sha1 = Checksum::compute(&ChecksumType::Sha1, &mut &empty[..])
        .unwrap()
        .unwrap();
    let files = [
        (
            s3_file(
                1,
                &bucket,
                "big-1",
                Checksum::new(ChecksumType::Sha256, sha256(&big)),
                big.len(),
            ),
            &big,
        ),
        (
            s3_file(
                2,
                &bucket,
                "small-2",
                Checksum::new(ChecksumType::Sha512, sha512),
                small.len(),
            ),
            &small,
        ),
        (
            s3_file(
                3,
                &bucket,
                "empty-3",
                Checksum::new(ChecksumType::Sha1, sha1),
                0,
            ),
            &empty,
        ),
    ];
    let source = reader(Stores::new().with("s3", Arc::new(store("s3"))));
    let dest = MemoryDestination::new();
    for (f, data) in &files {
        let o = back_up(&source, &dest, f);
        assert_eq!(o.status, Status::Ok, "file {}: {:?}", f.id, o.message);
        assert_eq!(o.bytes, data.len() as u64);
        assert_eq!(
            dest.get(&f.backup_path().unwrap()).as_deref(),
            Some(&data[..]),
            "file {} byte for byte",
            f.id
        );
    }
    assert_eq!(
        source.locate(&files[0].0),
        format!("s3://{bucket}/10.5072/FK2/S3TEST/big-1")
    );

    // An object whose bytes are not what Dataverse recorded.
    let mut damaged = small.clone();
    damaged[500] ^= 1;
    put(&bucket, "10.5072/FK2/S3TEST/damaged-4", &damaged);
    let f = s3_file(
        4,
        &bucket,
        "damaged-4",
        Checksum::new(ChecksumType::Md5, md5(&small)),
        small.len(),
    );
    let o = back_up(&source, &dest, &f);
    assert_eq!(o.status, Status::FailVerify, "{o:?}");
    let msg = o.message.unwrap();
    assert!(
        msg.contains(&format!("s3://{bucket}/10.5072/FK2/S3TEST/damaged-4"))
            && msg.contains(&md5(&damaged)),
        "{msg}"
    );
}

#[test]
fn a_missing_object_bucket_or_bucket_name_is_a_read_failure_naming_it() {
    let bucket = fresh_bucket();
    let source = reader(Stores::new().with("s3-east", Arc::new(store("s3-east"))));
    let dest = MemoryDestination::new();
    let sum = Checksum::new(ChecksumType::Md5, md5(b"x"));
    let mut cases = Vec::new();
    // No such key.
    let mut f = s3_file(1, &bucket, "gone-1", sum.clone(), 1);
    f.storage = Some(dataverse_source::StorageIdentifier::parse(&format!(
        "s3-east://{bucket}:gone-1"
    )));
    cases.push((
        f,
        vec![
            "store 's3-east'".to_owned(),
            format!("s3://{bucket}/10.5072/FK2/S3TEST/gone-1"),
            "no such object".to_owned(),
            "NoSuchKey".to_owned(),
        ],
    ));
    // No such bucket.
    let mut f = s3_file(2, "no-such-bucket-dvsrc", "x-2", sum.clone(), 1);
    f.storage = Some(dataverse_source::StorageIdentifier::parse(
        "s3-east://no-such-bucket-dvsrc:x-2",
    ));
    cases.push((
        f,
        vec![
            "store 's3-east'".to_owned(),
            "s3://no-such-bucket-dvsrc/10.5072/FK2/S3TEST/x-2".to_owned(),
            "no such bucket".to_owned(),
        ],
    ));
    // A storage identifier without a bucket, none configured.
    let mut f = s3_file(3, &bucket, "x-3", sum, 1);
    f.storage = Some(dataverse_source::StorageIdentifier::parse("s3-east://x-3"));
    cases.push((
        f,
        vec![
            "store 's3-east'".to_owned(),
            "names no bucket".to_owned(),
            "10.5072/FK2/S3TEST/x-3".to_owned(),
        ],
    ));
    for (f, needles) in cases {
        let o = back_up(&source, &dest, &f);
        assert_eq!(o.status, Status::FailRead, "file {}: {o:?}", f.id);
        let msg = o.message.unwrap();
        for n in needles {
            assert!(msg.contains(&n), "file {}: {n:?} in {msg}", f.id);
        }
    }
}

#[test]
fn a_configured_bucket_is_read_whatever_the_identifier_names() {
    let bucket = fresh_bucket();
    let data = content(3000, 3);
    put(&bucket, "10.5072/FK2/S3TEST/obj-1", &data);
    // Dataverse reads from its configured bucket-name; the identifier may
    // name another (a bucket renamed, a copied installation).
    let f = s3_file(
        1,
        "old-bucket-name",
        "obj-1",
        Checksum::new(ChecksumType::Md5, md5(&data)),
        data.len(),
    );
    let source = reader(Stores::new().with("s3", Arc::new(store("s3").bucket(&bucket))));
    let dest = MemoryDestination::new();
    let o = back_up(&source, &dest, &f);
    assert_eq!(o.status, Status::Ok, "{o:?}");
    assert_eq!(dest.get(&f.backup_path().unwrap()), Some(data));
}

/// The listing of a real Dataverse database with files on an S3 store and
/// a file store, each read from its store through `DataverseSource`.
#[test]
fn listed_files_are_read_from_their_own_stores() {
    let bucket = fresh_bucket();
    let tmp = tempfile::tempdir().unwrap();
    let mut db = TestDb::new("s3");
    let ds = db.dataset("10.5072", "FK2/MIXED");
    let on_s3 = content(200_000, 4);
    let on_disk = content(5000, 5);
    let original = content(7000, 6);
    put(&bucket, "10.5072/FK2/MIXED/18b3-s3obj", &on_s3);
    // A tabular file on S3: its preserved original is the `.orig` object.
    put(&bucket, "10.5072/FK2/MIXED/18b3-tab.orig", &original);
    let dir = tmp.path().join("10.5072/FK2/MIXED");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("18b3-disk"), &on_disk).unwrap();
    let s3_id = db.file(
        ds,
        Some(&format!("s3://{bucket}:18b3-s3obj")),
        "SHA-256",
        &sha256(&on_s3),
        Some(len(&on_s3)),
        "2024-01-01 00:00:00",
    );
    let disk_id = db.file(
        ds,
        Some("file://18b3-disk"),
        "MD5",
        &md5(&on_disk),
        Some(len(&on_disk)),
        "2024-01-02 00:00:00",
    );
    let tab_id = db.file(
        ds,
        Some(&format!("s3://{bucket}:18b3-tab")),
        "MD5",
        &md5(&original),
        Some(10),
        "2024-01-03 00:00:00",
    );
    db.tabular(tab_id, "application/x-stata", Some(len(&original)));

    let stores = Stores::new()
        .with("file", Arc::new(FileSystemStore::new(tmp.path())))
        .with("s3", Arc::new(store("s3")));
    let source = DataverseSource::new(db.config.clone(), stores);
    let dest = MemoryDestination::new();
    let mut seen = Vec::new();
    for f in source.list(&ListOptions::all()).unwrap() {
        let f = f.unwrap();
        let o = back_up(&source, &dest, &f);
        assert_eq!(o.status, Status::Ok, "file {}: {:?}", f.id, o.message);
        seen.push((f.id, dest.get(&f.backup_path().unwrap()).unwrap()));
    }
    assert_eq!(
        seen,
        vec![(s3_id, on_s3), (disk_id, on_disk), (tab_id, original)]
    );
}

/// A TCP proxy in front of the S3 server that passes `limit` bytes of each
/// response and then cuts the connection: a connection dropped mid-object.
fn cutting_proxy(limit: usize) -> String {
    use std::net::{Shutdown, TcpListener, TcpStream};
    let upstream = endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { break };
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                break;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
            });
            std::thread::spawn(move || {
                let mut left = limit;
                let mut buf = vec![0u8; 16 << 10];
                while left > 0 {
                    let n = match server.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n.min(left),
                    };
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_connection_dropped_mid_object_is_a_read_failure() {
    let bucket = fresh_bucket();
    let data = content(1 << 20, 7);
    put(&bucket, "10.5072/FK2/S3TEST/cut-1", &data);
    let f = s3_file(
        1,
        &bucket,
        "cut-1",
        Checksum::new(ChecksumType::Md5, md5(&data)),
        data.len(),
    );
    let store = S3FileStore::new("s3")
        .endpoint_url(cutting_proxy(300_000))
        .region("us-east-1")
        .static_credentials("testing", "testing");
    let source = reader(Stores::new().with("s3", Arc::new(store)));
    let dest = MemoryDestination::new();
    let o = back_up(&source, &dest, &f);
    assert_eq!(o.status, Status::FailRead, "{o:?}");
    assert!(o.bytes > 0 && o.bytes < data.len() as u64, "{o:?}");
    let msg = o.message.unwrap();
    assert!(
        msg.contains(&format!(
            "reading s3://{bucket}/10.5072/FK2/S3TEST/cut-1 (store 's3')"
        )) && msg.contains("end of file"),
        "{msg}"
    );
    assert!(!msg.contains("Error {"), "no debug dump: {msg}");
    assert!(
        dest.get(&f.backup_path().unwrap()).is_none(),
        "no copy is kept"
    );
}

#[test]
fn an_unreachable_endpoint_is_a_read_failure_naming_it() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = S3FileStore::new("s3")
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region("us-east-1")
        .static_credentials("testing", "testing");
    let source = reader(Stores::new().with("s3", Arc::new(store)));
    let f = s3_file(
        1,
        "some-bucket",
        "x-1",
        Checksum::new(ChecksumType::Md5, md5(b"x")),
        1,
    );
    let o = back_up(&source, &MemoryDestination::new(), &f);
    assert_eq!(o.status, Status::FailRead, "{o:?}");
    let msg = o.message.unwrap();
    assert!(
        msg.contains("opening s3://some-bucket/10.5072/FK2/S3TEST/x-1 (store 's3')")
            && msg.to_lowercase().contains("connect"),
        "{msg}"
    );
}

fn len(data: &[u8]) -> i64 {
    i64::try_from(data.len()).unwrap()
}

/// A new, empty bucket on the S3 test server.
fn fresh_bucket() -> String {
    test_services::s3_fresh_bucket("dvsrc")
}
