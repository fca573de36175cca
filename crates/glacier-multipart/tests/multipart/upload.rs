//! The upload engine: part sizes, faults, pipes, resume, changed sources.

use std::io::Read;
use std::sync::Arc;

use glacier_multipart::{
    ArchiveStore, Error, LocalStore, MemoryStore, NoProgress, RetryPolicy, StoreLimits,
    UploadOptions, Uploader, choose_part_size,
};
use glacier_treehash::{MAX_PART_SIZE, tree_hash};

use crate::util::{Counting, MIB, data, quick, read_back};

#[test]
fn part_size_is_the_smallest_power_of_two_that_fits() {
    let g = StoreLimits::GLACIER;
    // Requested sizes round up to 1 MiB x 2^k.
    assert_eq!(choose_part_size(0, None, &g).unwrap(), MIB);
    assert_eq!(choose_part_size(1, None, &g).unwrap(), MIB);
    assert_eq!(choose_part_size(MIB, None, &g).unwrap(), MIB);
    assert_eq!(choose_part_size(MIB + 1, None, &g).unwrap(), 2 * MIB);
    assert_eq!(
        choose_part_size(MAX_PART_SIZE, None, &g).unwrap(),
        MAX_PART_SIZE
    );
    assert!(matches!(
        choose_part_size(MAX_PART_SIZE + 1, None, &g),
        Err(Error::InvalidPartSize { .. })
    ));
    // Every boundary: 10,000 parts of p fit in p; one byte more needs 2p.
    let mut p = MIB;
    while p <= MAX_PART_SIZE {
        let full = 10_000 * p;
        assert_eq!(
            choose_part_size(MIB, Some(full), &g).unwrap(),
            p,
            "size {full}"
        );
        if p < MAX_PART_SIZE {
            assert_eq!(choose_part_size(MIB, Some(full + 1), &g).unwrap(), 2 * p);
        } else {
            assert!(matches!(
                choose_part_size(MIB, Some(full + 1), &g),
                Err(Error::ArchiveTooLarge { .. })
            ));
        }
        // A larger request is honoured.
        assert_eq!(choose_part_size(p, Some(1), &g).unwrap(), p);
        p *= 2;
    }
    // S3's minimum is 8 MiB as a power of two.
    assert_eq!(
        choose_part_size(MIB, Some(100), &StoreLimits::S3).unwrap(),
        8 * MIB
    );
}

fn options(part_size: u64, concurrency: usize) -> UploadOptions {
    UploadOptions {
        part_size,
        concurrency,
        retry: quick(),
        state_dir: None,
    }
}

#[test]
fn files_at_every_part_boundary_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let local: Arc<dyn ArchiveStore> =
        Arc::new(LocalStore::open(dir.path().join("store")).unwrap());
    local.create_vault("v").unwrap();
    let mem_dyn: Arc<dyn ArchiveStore> = mem.clone();
    for part in [MIB, 2 * MIB] {
        for size in [
            1,
            part - 1,
            part,
            part + 1,
            2 * part - 1,
            2 * part,
            2 * part + 1,
            3 * part + MIB / 3,
        ] {
            let body = data(size, size ^ part);
            let path = dir.path().join(format!("f-{part}-{size}"));
            std::fs::write(&path, &body).unwrap();
            for store in [&mem_dyn, &local] {
                let before = mem.stats();
                let a = Uploader::new(Arc::clone(store), options(part, 3))
                    .upload_file("v", &path, "boundary", &NoProgress)
                    .unwrap();
                assert_eq!(a.size, size);
                assert_eq!(a.tree_hash, tree_hash(&body), "part {part} size {size}");
                assert_eq!(read_back(&**store, "v", &a.archive_id), body);
                if Arc::ptr_eq(store, &mem_dyn) {
                    let after = mem.stats();
                    if size <= part {
                        assert_eq!(after.single_uploads - before.single_uploads, 1);
                    } else {
                        assert_eq!(
                            after.parts_stored - before.parts_stored,
                            size.div_ceil(part)
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn retries_ride_out_injected_faults() {
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = data(9 * MIB + 123, 9);
    let path = dir.path().join("f");
    std::fs::write(&path, &body).unwrap();
    mem.fail_part(0, 2);
    mem.fail_part(4, 3);
    mem.drop_connection_mid_part(7, 2);
    mem.throttle(3);
    let a = Uploader::new(mem.clone(), options(MIB, 4))
        .upload_file("v", &path, "faults", &NoProgress)
        .unwrap();
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert_eq!(*mem.archive_data("v", &a.archive_id).unwrap(), body);
    let st = mem.stats();
    assert_eq!(st.parts_stored, 10, "each part stored once");
    assert_eq!(st.faults_injected, 10);
}

#[test]
fn a_permanent_failure_stops_the_upload_with_the_cause() {
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, data(6 * MIB, 1)).unwrap();
    mem.fail_part(3, 100);
    let err = Uploader::new(mem.clone(), options(MIB, 2))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap_err();
    match &err {
        Error::Server {
            status: 500,
            message,
            ..
        } => assert!(message.contains("part 3"), "{err}"),
        other => panic!("{other:?}"),
    }
    // Not retryable at all: no retry.
    let err = Uploader::new(mem.clone(), options(MIB, 2))
        .upload_file("nope", &path, "", &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::VaultNotFound { .. }), "{err}");
}

/// A reader that hands out a few bytes at a time, like a pipe.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(70_001);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn streams_of_unknown_length_upload() {
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let up = Uploader::new(mem.clone(), options(MIB, 3));
    for size in [0, 1, MIB, MIB + 1, 5 * MIB + 17] {
        let body = data(size, size + 1);
        let mut r = Trickle(&body);
        let res = up.upload_reader("v", &mut r, "pipe", None, &NoProgress);
        if size == 0 {
            assert!(matches!(res, Err(Error::Rejected { .. })), "{res:?}");
            continue;
        }
        let a = res.unwrap();
        assert_eq!((a.size, a.tree_hash), (size, tree_hash(&body)));
        assert_eq!(*mem.archive_data("v", &a.archive_id).unwrap(), body);
    }
    // A failing stream upload is aborted on the store.
    mem.fail_part(1, 100);
    let body = data(3 * MIB, 5);
    let err = up
        .upload_reader("v", &mut Trickle(&body), "pipe", None, &NoProgress)
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(mem.list_multipart_uploads("v").unwrap().is_empty());
}

#[test]
fn store_limits_shape_the_upload() {
    // A store allowing 4 parts of 1-2 MiB: a stream of 9 MiB cannot fit.
    let tiny = StoreLimits {
        min_part_size: MIB,
        max_part_size: 2 * MIB,
        max_parts: 4,
        max_single_upload: 2 * MIB,
    };
    let mem = Arc::new(MemoryStore::new().with_limits(tiny));
    mem.create_vault("v").unwrap();
    let up = Uploader::new(mem.clone(), options(MIB, 2));
    let body = data(9 * MIB, 3);
    let err = up
        .upload_reader("v", &mut Trickle(&body), "", None, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::ArchiveTooLarge { .. }), "{err}");
    assert!(
        mem.list_multipart_uploads("v").unwrap().is_empty(),
        "aborted"
    );
    // With a size hint the part size grows to 2 MiB... which still cannot
    // carry 9 MiB in 4 parts: refused before anything is sent.
    let err = up
        .upload_reader("v", &mut Trickle(&body), "", Some(9 * MIB), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::ArchiveTooLarge { .. }), "{err}");
    // 7 MiB fits in 4 parts of 2 MiB.
    let body = data(7 * MIB, 4);
    let a = up
        .upload_reader("v", &mut Trickle(&body), "", Some(7 * MIB), &NoProgress)
        .unwrap();
    assert_eq!(a.tree_hash, tree_hash(&body));
    let mem_s3 = Arc::new(MemoryStore::new().with_limits(StoreLimits::S3));
    mem_s3.create_vault("v").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, data(17 * MIB, 5)).unwrap();
    Uploader::new(mem_s3.clone(), options(MIB, 2))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap();
    assert_eq!(mem_s3.stats().parts_stored, 3, "8 MiB parts on S3 rules");
}

fn resumable(state: &std::path::Path, part: u64, concurrency: usize) -> UploadOptions {
    UploadOptions {
        part_size: part,
        concurrency,
        retry: RetryPolicy::quick(2),
        state_dir: Some(state.to_owned()),
    }
}

#[test]
fn an_interrupted_upload_resumes_with_only_the_missing_parts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let body = data(12 * MIB + 5, 12);
    let path = dir.path().join("f");
    std::fs::write(&path, &body).unwrap();
    // Part 8 fails for good: the first run stops.
    mem.fail_part(8, 2);
    let err = Uploader::new(mem.clone(), resumable(&state, MIB, 1))
        .upload_file("v", &path, "resume", &NoProgress)
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let uploads = mem.list_multipart_uploads("v").unwrap();
    assert_eq!(uploads.len(), 1, "the upload is kept for resuming");
    let held = mem
        .list_parts("v", &uploads[0].upload_id)
        .unwrap()
        .parts
        .len() as u64;
    assert_eq!(
        held, 8,
        "parts 0-7 went before part 8 failed (one at a time)"
    );
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 1);
    // The second run sends only the 5 missing parts.
    let counting = Counting::new(mem.clone());
    let a = Uploader::new(counting.clone(), resumable(&state, MIB, 3))
        .upload_file("v", &path, "resume", &NoProgress)
        .unwrap();
    assert_eq!(counting.parts(), 13 - held);
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert_eq!(*mem.archive_data("v", &a.archive_id).unwrap(), body);
    assert_eq!(
        std::fs::read_dir(&state).unwrap().count(),
        0,
        "state removed when done"
    );
    assert!(mem.list_multipart_uploads("v").unwrap().is_empty());
}

#[test]
fn a_changed_source_restarts_and_aborts_the_stale_upload() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, data(6 * MIB, 1)).unwrap();
    mem.fail_part(4, 2);
    Uploader::new(mem.clone(), resumable(&state, MIB, 1))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap_err();
    let stale = mem.list_multipart_uploads("v").unwrap()[0]
        .upload_id
        .clone();
    // The file changes (size and content).
    let body = data(7 * MIB + 1, 2);
    std::fs::write(&path, &body).unwrap();
    let counting = Counting::new(mem.clone());
    let a = Uploader::new(counting.clone(), resumable(&state, MIB, 2))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap();
    assert_eq!(counting.parts(), 8, "everything sent again");
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert!(
        mem.list_multipart_uploads("v").unwrap().is_empty(),
        "stale upload {stale} aborted"
    );
}

#[test]
fn a_resume_whose_upload_vanished_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let body = data(4 * MIB, 4);
    let path = dir.path().join("f");
    std::fs::write(&path, &body).unwrap();
    mem.fail_part(2, 2);
    Uploader::new(mem.clone(), resumable(&state, MIB, 1))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap_err();
    let id = mem.list_multipart_uploads("v").unwrap()[0]
        .upload_id
        .clone();
    mem.abort_multipart_upload("v", &id).unwrap();
    let a = Uploader::new(mem.clone(), resumable(&state, MIB, 2))
        .upload_file("v", &path, "", &NoProgress)
        .unwrap();
    assert_eq!(a.tree_hash, tree_hash(&body));
}
