//! What only the local directory store promises: atomic visibility,
//! reopening, threads hammering one vault.

use std::sync::Arc;

use glacier_multipart::{
    ArchiveStore, Error, LocalStore, NoProgress, UploadOptions, Uploader, open_store,
};
use glacier_treehash::tree_hash;

use crate::util::{MIB, data, quick, read_back};

#[test]
fn half_written_files_are_never_archives() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    store.create_vault("v").unwrap();
    let a = store
        .upload_archive("v", "real", b"abc", tree_hash(b"abc"))
        .unwrap();
    // What a crash can leave: data renamed in but no metadata yet, a
    // temporary file, a claimed upload.
    std::fs::write(dir.path().join("v/archives/orphan.data"), b"half").unwrap();
    std::fs::write(dir.path().join("v/tmp/.partial"), b"half").unwrap();
    std::fs::create_dir_all(dir.path().join("v/tmp/.complete-x/parts")).unwrap();
    let reopened = LocalStore::open(dir.path()).unwrap();
    let info = reopened.describe_vault("v").unwrap();
    assert_eq!((info.archives, info.size), (1, 3));
    assert!(matches!(
        reopened.delete_archive("v", "orphan"),
        Err(Error::ArchiveNotFound { .. })
    ));
    assert_eq!(read_back(&reopened, "v", &a.archive_id), b"abc");
    assert!(reopened.list_multipart_uploads("v").unwrap().is_empty());
}

#[test]
fn ids_from_users_cannot_escape_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    store.create_vault("v").unwrap();
    assert!(matches!(
        store.delete_archive("v", "../v"),
        Err(Error::ArchiveNotFound { .. })
    ));
    assert!(matches!(
        store.list_parts("v", "../../x"),
        Err(Error::UploadNotFound { .. })
    ));
    assert!(matches!(
        store.describe_job("v", "a/b"),
        Err(Error::JobNotFound { .. })
    ));
    assert!(matches!(
        store.create_vault(".."),
        Err(Error::InvalidVaultName { .. })
    ));
}

#[test]
fn threads_upload_to_one_vault_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ArchiveStore> = Arc::new(LocalStore::open(dir.path().join("s")).unwrap());
    store.create_vault("v").unwrap();
    let bodies: Vec<Vec<u8>> = (0..6).map(|i| data(2 * MIB + i * 1000, i)).collect();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let store = Arc::clone(&store);
                let path = dir.path().join(format!("f{i}"));
                std::fs::write(&path, body).unwrap();
                s.spawn(move || {
                    let options = UploadOptions {
                        part_size: MIB,
                        concurrency: 2,
                        retry: quick(),
                        state_dir: None,
                    };
                    Uploader::new(store, options)
                        .upload_file("v", &path, "t", &NoProgress)
                        .unwrap()
                        .archive_id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (id, body) in ids.iter().zip(&bodies) {
        assert_eq!(&read_back(&*store, "v", id), body);
    }
    assert_eq!(store.describe_vault("v").unwrap().archives, 6);
}

#[test]
fn locations_open_the_right_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}?job_delay=0.5&sync=0", dir.path().display());
    let s = open_store(&url).unwrap();
    assert_eq!(
        s.location(),
        format!("file://{}", dir.path().canonicalize().unwrap().display())
    );
    s.create_vault("v").unwrap();
    let a = s.upload_archive("v", "", b"x", tree_hash(b"x")).unwrap();
    let job = s
        .initiate_job("v", &glacier_multipart::JobRequest::archive(&a.archive_id))
        .unwrap();
    assert!(matches!(
        s.get_job_output("v", &job, None),
        Err(Error::JobNotReady { .. })
    ));
    let plain = open_store(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(plain.list_vaults().unwrap().len(), 1);
    assert!(
        open_store("memory:")
            .unwrap()
            .list_vaults()
            .unwrap()
            .is_empty()
    );
    for bad in [
        "file://relative",
        "ftp://x",
        "file:///tmp/x?job_delay=-1",
        "file:///tmp/x?color=red",
        "",
    ] {
        assert!(
            matches!(open_store(bad), Err(Error::InvalidLocation { .. })),
            "{bad}"
        );
    }
}
