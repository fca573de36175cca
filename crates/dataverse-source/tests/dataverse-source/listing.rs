//! The listing and the file store against a real PostgreSQL.

use std::fs;
use std::sync::Arc;

use dataverse_source::{
    ChecksumType, DataverseSource, DirectoryDestination, Error, FileSystemStore, ListOptions,
    Source, Status, Stores, Timestamp, back_up, list_files,
};

use crate::fixture::{TestDb, md5, sha256};

#[test]
fn lists_files_with_their_dataset_and_storage() {
    let mut db = TestDb::new("list");
    let ds = db.dataset("10.5072", "FK2/AAAAAA");
    let other = db.dataset("10.5072", "FK2/BBBBBB");
    let harvested = db.harvested_dataset("10.9999", "HARV/1", "remote-oai");
    let f1 = db.file(
        ds,
        Some("file://18b0000000a-000000000001"),
        "MD5",
        &md5(b"one"),
        Some(3),
        "2024-01-01 10:00:00.000001",
    );
    let f2 = db.file(
        other,
        Some("s3://bucket-a:18b0000000b-000000000002"),
        "SHA256",
        &sha256(b"two"),
        Some(3),
        "2024-01-01 09:00:00",
    );
    let tab = db.file(
        ds,
        Some("file://18b0000000c-000000000003"),
        "SHA1",
        "aaaa",
        Some(100),
        "2024-01-02 00:00:00",
    );
    db.tabular(tab, "application/x-stata", Some(42));
    let missing = db.file(ds, None, "MD5", "x", None, "2024-01-03 00:00:00");
    let legacy = db.file(
        other,
        Some("14e7d2a3a3c-8c1b2f3e4d5a"),
        "SHA-512",
        "bb",
        Some(1),
        "2024-01-04 00:00:00",
    );
    let _harvested_file = db.file(
        harvested,
        Some("file://18b0000000d-000000000004"),
        "MD5",
        "cc",
        Some(1),
        "2024-01-01 00:00:00",
    );

    let files: Vec<_> = list_files(&db.config, &ListOptions::all())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
    // createdate order; the harvested dataset's file is not listed.
    assert_eq!(ids, vec![f2, f1, tab, missing, legacy]);

    let one = &files[1];
    assert_eq!(one.dataset.to_string(), "doi:10.5072/FK2/AAAAAA");
    assert_eq!(one.dataset_db_id, ds);
    assert_eq!(one.created.to_string(), "2024-01-01 10:00:00.000001");
    assert_eq!(one.size, Some(3));
    assert_eq!(one.checksum.kind, ChecksumType::Md5);
    assert_eq!(
        one.backup_path().unwrap(),
        "10.5072/FK2/AAAAAA/18b0000000a-000000000001"
    );

    let s3 = &files[0];
    let storage = s3.storage.as_ref().unwrap();
    assert_eq!(
        (storage.driver.as_str(), storage.bucket()),
        ("s3", Some("bucket-a"))
    );
    assert_eq!(
        s3.backup_path().unwrap(),
        "10.5072/FK2/BBBBBB/18b0000000b-000000000002"
    );
    assert_eq!(s3.checksum.kind, ChecksumType::Sha256);

    let t = &files[2];
    let original = t.original.as_ref().expect("tabular file has an original");
    assert_eq!(original.format, "application/x-stata");
    // The size to check is the original's, not the .tab's.
    assert_eq!(t.size, Some(42));
    assert_eq!(t.object_name().unwrap(), "18b0000000c-000000000003.orig");
    assert_eq!(t.checksum.kind, ChecksumType::Sha1);

    assert_eq!(
        files[3].storage, None,
        "a file without storage identifier is listed, marked"
    );
    assert_eq!(files[3].backup_path(), None);
    assert_eq!(
        files[4].storage.as_ref().unwrap().driver,
        "file",
        "legacy identifiers are the file driver's"
    );
    assert_eq!(files[4].checksum.kind, ChecksumType::Sha512);

    // Inclusive `since`: files at the boundary are listed again.
    let since = Timestamp::parse("2024-01-02 00:00:00").unwrap();
    let later: Vec<i64> = list_files(&db.config, &ListOptions::since(since))
        .unwrap()
        .map(|f| f.unwrap().id)
        .collect();
    assert_eq!(later, vec![tab, missing, legacy]);
}

#[test]
fn streams_many_files_through_small_fetches() {
    let mut db = TestDb::new("stream");
    let ds = db.dataset("10.5072", "FK2/MANY");
    db.client()
        .batch_execute(&format!(
            "INSERT INTO dvobject (id, dtype, owner_id, createdate, modificationtime, storageidentifier) \
             SELECT 1000 + g, 'DataFile', {ds}, timestamp '2024-01-01' + g * interval '1 second', now(), 'file://id-' || g \
             FROM generate_series(1, 2500) g; \
             INSERT INTO datafile (id, checksumtype, checksumvalue, contenttype, filesize, rootdatafileid) \
             SELECT 1000 + g, 'MD5', md5(g::text), 'text/plain', g, -1 FROM generate_series(1, 2500) g;"
        ))
        .unwrap();
    let source = DataverseSource::new(db.config.clone(), Stores::new()).fetch_size(7);
    let mut n = 0i64;
    let mut last = None;
    for f in source.list(&ListOptions::all()).unwrap() {
        let f = f.unwrap();
        n += 1;
        assert_eq!(f.id, 1000 + n, "in createdate order");
        assert!(last < Some(f.created));
        last = Some(f.created);
    }
    assert_eq!(n, 2500);
    // A listing dropped half-way ends its thread and connection quietly.
    let mut it = source.list(&ListOptions::all()).unwrap();
    assert!(it.next().is_some());
    drop(it);
}

#[test]
fn a_database_that_is_not_dataverse_is_a_schema_error() {
    let db = TestDb::with_schema("notdv", "CREATE TABLE something (id int)");
    match list_files(&db.config, &ListOptions::all()) {
        Err(Error::Schema { message }) => assert!(message.contains("datafile"), "{message}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn a_wrong_port_is_a_connection_error_naming_the_target() {
    let mut config = crate::fixture::server();
    config.port = 1;
    let err = list_files(&config, &ListOptions::all()).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains(":1/"), "{err}");
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, every status
fn backs_up_a_file_store_to_a_directory_with_every_status() {
    let mut db = TestDb::new("filestore");
    let tmp = tempfile::tempdir().unwrap();
    let files_dir = tmp.path().join("files");
    let ds = db.dataset("10.5072", "FK2/CCCCCC");
    let dir = files_dir.join("10.5072/FK2/CCCCCC");
    fs::create_dir_all(&dir).unwrap();

    fs::write(dir.join("id-ok"), b"payload").unwrap();
    let ok = db.file(
        ds,
        Some("file://id-ok"),
        "MD5",
        &md5(b"payload"),
        Some(7),
        "2024-01-01 00:00:01",
    );
    // Tabular: the .tab is the main object, the original is backed up.
    fs::write(dir.join("id-tab"), b"a\tb\n1\t2\n").unwrap();
    fs::write(dir.join("id-tab.orig"), b"original stata bytes").unwrap();
    let tab = db.file(
        ds,
        Some("file://id-tab"),
        "SHA256",
        &sha256(b"original stata bytes"),
        Some(8),
        "2024-01-01 00:00:02",
    );
    db.tabular(tab, "application/x-stata", Some(20));
    let gone = db.file(
        ds,
        Some("file://id-gone"),
        "MD5",
        &md5(b"x"),
        Some(1),
        "2024-01-01 00:00:03",
    );
    fs::write(dir.join("id-odd"), b"odd").unwrap();
    let odd = db.file(
        ds,
        Some("file://id-odd"),
        "CRC32",
        "12345678",
        Some(3),
        "2024-01-01 00:00:04",
    );
    let unknown_driver = db.file(
        ds,
        Some("swift1://id-swift"),
        "MD5",
        &md5(b"x"),
        Some(1),
        "2024-01-01 00:00:05",
    );
    fs::write(dir.join("id-bad"), b"changed on disk").unwrap();
    let bad = db.file(
        ds,
        Some("file://id-bad"),
        "MD5",
        &md5(b"what was uploaded"),
        None,
        "2024-01-01 00:00:06",
    );
    let none = db.file(ds, None, "MD5", &md5(b"x"), Some(1), "2024-01-01 00:00:07");

    let stores = Stores::new().with("file", Arc::new(FileSystemStore::new(&files_dir)));
    let source = DataverseSource::new(db.config.clone(), stores);
    let backup_dir = tmp.path().join("backup");
    let dest = DirectoryDestination::new(&backup_dir);
    let mut results = Vec::new();
    for f in source.list(&ListOptions::all()).unwrap() {
        let f = f.unwrap();
        let outcome = back_up(&source, &dest, &f);
        results.push((f.id, outcome.status, outcome.message.unwrap_or_default()));
    }
    let status = |id: i64| results.iter().find(|r| r.0 == id).unwrap().clone();
    assert_eq!(status(ok).1, Status::Ok);
    assert_eq!(
        fs::read(backup_dir.join("10.5072/FK2/CCCCCC/id-ok")).unwrap(),
        b"payload"
    );
    assert_eq!(status(tab).1, Status::Ok, "{:?}", status(tab));
    assert_eq!(
        fs::read(backup_dir.join("10.5072/FK2/CCCCCC/id-tab.orig")).unwrap(),
        b"original stata bytes"
    );
    assert!(!backup_dir.join("10.5072/FK2/CCCCCC/id-tab").exists());
    assert_eq!(status(gone).1, Status::FailRead);
    assert!(status(gone).2.contains("id-gone"), "{:?}", status(gone));
    assert_eq!(status(odd).1, Status::FailVerify);
    assert!(status(odd).2.contains("CRC32"), "{:?}", status(odd));
    assert_eq!(status(unknown_driver).1, Status::FailRead);
    assert!(
        status(unknown_driver).2.contains("swift1"),
        "{:?}",
        status(unknown_driver)
    );
    assert_eq!(status(bad).1, Status::FailVerify);
    assert!(
        status(bad).2.contains("Dataverse records"),
        "{:?}",
        status(bad)
    );
    assert_eq!(status(none).1, Status::FailRead);
    // No half-written copies are left behind.
    let leftovers: Vec<_> = walk(&backup_dir)
        .into_iter()
        .filter(|p| {
            std::path::Path::new(p)
                .extension()
                .is_some_and(|e| e == "part")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn files_of_a_dataset_with_a_new_pid_are_read_from_the_storage_location_pid() {
    let mut db = TestDb::new("altpid");
    let tmp = tempfile::tempdir().unwrap();
    let ds = db.dataset("10.5072", "FK2/NEWPID");
    db.client()
        .execute(
            "INSERT INTO alternativepersistentidentifier (authority, identifier, protocol, storagelocationdesignator, dvobject_id) \
             VALUES ('1902.1', 'OLD-HANDLE', 'hdl', true, $1)",
            &[&ds],
        )
        .unwrap();
    let old_dir = tmp.path().join("files/1902.1/OLD-HANDLE");
    fs::create_dir_all(&old_dir).unwrap();
    fs::write(old_dir.join("id-1"), b"moved").unwrap();
    db.file(
        ds,
        Some("file://id-1"),
        "MD5",
        &md5(b"moved"),
        Some(5),
        "2024-01-01 00:00:00",
    );
    let stores = Stores::new().with(
        "file",
        Arc::new(FileSystemStore::new(tmp.path().join("files"))),
    );
    let source = DataverseSource::new(db.config.clone(), stores);
    let f = source
        .list(&ListOptions::all())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(f.dataset_dir(), "1902.1/OLD-HANDLE");
    // The backup copy is named by the dataset's current PID.
    assert_eq!(f.backup_path().unwrap(), "10.5072/FK2/NEWPID/id-1");
    let dest = DirectoryDestination::new(tmp.path().join("backup"));
    assert_eq!(back_up(&source, &dest, &f).status, Status::Ok);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
