//! The download engine: aligned segments, verification, resume.

use std::sync::Arc;

use glacier_multipart::{
    ArchiveStore, DownloadOptions, Downloader, Error, JobRequest, LocalStore, MemoryStore,
    NoProgress, RetryPolicy, Tier,
};
use glacier_treehash::tree_hash;

use crate::util::{Counting, MIB, data};

fn opts(segment: u64, concurrency: usize, attempts: u32) -> DownloadOptions {
    DownloadOptions {
        segment_size: segment,
        concurrency,
        retry: RetryPolicy::quick(attempts),
    }
}

#[test]
fn outputs_download_in_verified_segments() {
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn ArchiveStore> = Arc::new(LocalStore::open(dir.path().join("s")).unwrap());
    let mem: Arc<dyn ArchiveStore> = Arc::new(MemoryStore::new());
    for store in [local, mem] {
        store.create_vault("v").unwrap();
        let body = data(13 * MIB + 99, 13);
        let a = store
            .upload_archive("v", "", &body, tree_hash(&body))
            .unwrap();
        let job = store
            .initiate_job("v", &JobRequest::archive(&a.archive_id))
            .unwrap();
        let counting = Counting::new(Arc::clone(&store));
        let dest = dir.path().join("out");
        let info = Downloader::new(counting.clone(), opts(4 * MIB, 3, 3))
            .download_job("v", &job, &dest, &NoProgress)
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), body);
        assert_eq!(info.tree_hash, Some(tree_hash(&body)));
        // 4+4+4 MiB, then the last 1 MiB + 99 bytes (a node of two
        // leaves, the second short).
        assert_eq!(info.segments_fetched, 4);
        assert_eq!(
            counting.outputs.load(std::sync::atomic::Ordering::SeqCst),
            4
        );
        assert!(!dir.path().join("out.partial").exists());
        assert!(!dir.path().join("out.partial.state").exists());
        std::fs::remove_file(&dest).unwrap();
        // A ranged retrieval downloads just its range.
        let ranged = JobRequest::ArchiveRetrieval {
            archive_id: a.archive_id.clone(),
            tier: Tier::Bulk,
            range: Some(4 * MIB..8 * MIB),
            description: None,
        };
        let job = store.initiate_job("v", &ranged).unwrap();
        Downloader::new(Arc::clone(&store), opts(MIB, 2, 1))
            .download_job("v", &job, &dest, &NoProgress)
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), &body[4 << 20..8 << 20]);
        std::fs::remove_file(&dest).unwrap();
    }
}

#[test]
fn a_corrupted_range_is_refetched_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let body = data(8 * MIB, 8);
    let a = mem
        .upload_archive("v", "", &body, tree_hash(&body))
        .unwrap();
    let job = mem
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("out");
    // Corrupted once: fetched again, the file is right.
    mem.corrupt_output(Some(2 * MIB), 1);
    Downloader::new(mem.clone(), opts(2 * MIB, 2, 3))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    std::fs::remove_file(&dest).unwrap();
    // Corrupted every time: the error names the job and the range.
    mem.corrupt_output(Some(6 * MIB), 100);
    let err = Downloader::new(mem.clone(), opts(2 * MIB, 2, 3))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap_err();
    match &err {
        Error::RangeChecksumMismatch { range, job_id, .. } => {
            assert_eq!((range, job_id), (&(6 * MIB..8 * MIB), &job));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("6291456-8388608"), "{err}");
    assert!(!dest.exists(), "nothing is renamed into place");
}

#[test]
fn an_interrupted_download_resumes_with_the_missing_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let body = data(16 * MIB, 16);
    let a = mem
        .upload_archive("v", "", &body, tree_hash(&body))
        .unwrap();
    let job = mem
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("out");
    // One segment keeps failing; one at a time, so exactly the segments
    // before it are done when the run stops.
    mem.corrupt_output(Some(10 * MIB), 2);
    let err = Downloader::new(mem.clone(), opts(2 * MIB, 1, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::RangeChecksumMismatch { .. }), "{err}");
    assert!(dir.path().join("out.partial.state").exists());
    let counting = Counting::new(mem.clone());
    let info = Downloader::new(counting.clone(), opts(2 * MIB, 3, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!(info.segments_resumed, 5);
    assert_eq!(info.segments_fetched, 3);
    assert_eq!(
        counting.outputs.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn a_damaged_partial_file_is_caught_by_the_whole_check() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let body = data(4 * MIB, 4);
    let a = mem
        .upload_archive("v", "", &body, tree_hash(&body))
        .unwrap();
    let job = mem
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("out");
    mem.corrupt_output(Some(3 * MIB), 2);
    Downloader::new(mem.clone(), opts(MIB, 1, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap_err();
    // Someone scribbles over a finished segment of the partial file.
    let partial = dir.path().join("out.partial");
    let mut bytes = std::fs::read(&partial).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&partial, &bytes).unwrap();
    let err = Downloader::new(mem.clone(), opts(MIB, 1, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap_err();
    assert!(
        matches!(&err, Error::RangeChecksumMismatch { range, .. } if *range == (0..4 * MIB)),
        "{err}"
    );
    assert!(!dest.exists());
    // The next run starts over and succeeds.
    Downloader::new(mem.clone(), opts(MIB, 2, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn a_job_still_running_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStore::new().with_job_delay(std::time::Duration::from_secs(3600)));
    mem.create_vault("v").unwrap();
    let a = mem.upload_archive("v", "", b"x", tree_hash(b"x")).unwrap();
    let job = mem
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let err = Downloader::new(mem, opts(MIB, 1, 1))
        .download_job("v", &job, &dir.path().join("o"), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::JobNotReady { .. }), "{err}");
}

#[test]
fn a_resume_with_another_segment_size_reuses_what_is_covered() {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStore::new());
    mem.create_vault("v").unwrap();
    let body = data(8 * MIB, 8);
    let a = mem
        .upload_archive("v", "", &body, tree_hash(&body))
        .unwrap();
    let job = mem
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("out");
    // 1 MiB segments, one at a time: 0-4 MiB done when 4-5 MiB keeps failing.
    mem.corrupt_output(Some(4 * MIB), 2);
    Downloader::new(mem.clone(), opts(MIB, 1, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap_err();
    // Resumed with 4 MiB segments: 0-4 MiB is covered, 4-8 MiB is fetched.
    let counting = Counting::new(mem.clone());
    let info = Downloader::new(counting.clone(), opts(4 * MIB, 2, 2))
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!((info.segments_resumed, info.segments_fetched), (1, 1));
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}
