//! Real child processes: the test binary runs itself with `GM_CHILD` set to
//! act as a separate uploader, so tests can kill it with SIGKILL or run
//! several at once on one vault.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glacier_multipart::{
    ArchiveStore, DownloadOptions, Downloader, JobRequest, LocalStore, NoProgress, RetryPolicy,
    S3Class, S3Store, UploadOptions, Uploader,
};
use glacier_treehash::tree_hash;

use crate::util::{Counting, MIB, data, s3_options};

/// Starts this test binary as a child running [`child_helper`].
pub(crate) fn spawn_child(vars: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child::child_helper",
        "--nocapture",
        "--test-threads=1",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Not a test on its own: does nothing unless started by `spawn_child`.
/// `GM_CHILD=upload` uploads `GM_FILE` to vault `v` of the local store at
/// `GM_STORE` (or of bucket `GM_S3_BUCKET` on the S3 test server, in 8 MiB
/// parts) with resume state in `GM_STATE`, each part delayed by
/// `GM_DELAY_MS`, and writes the archive id to `GM_FILE.id`;
/// `GM_CHILD=download` downloads job `GM_JOB` of vault `v` to `GM_DEST` in
/// 1 MiB segments, each read delayed by `GM_DELAY_MS`.
#[test]
fn child_helper() {
    let Ok(mode) = std::env::var("GM_CHILD") else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap();
    let delay = Duration::from_millis(var("GM_DELAY_MS").parse().unwrap());
    // `GM_S3_BUCKET`: that bucket of the S3 test server instead.
    let (inner, part_size): (Arc<dyn ArchiveStore>, u64) = match std::env::var("GM_S3_BUCKET") {
        Ok(bucket) => (
            Arc::new(S3Store::connect(&s3_options(&bucket, S3Class::Standard)).unwrap()),
            8 * MIB,
        ),
        Err(_) => (Arc::new(LocalStore::open(var("GM_STORE")).unwrap()), MIB),
    };
    let store = Counting::slow(inner, delay);
    if mode == "download" {
        let options = DownloadOptions {
            segment_size: MIB,
            concurrency: 2,
            retry: RetryPolicy::quick(3),
        };
        Downloader::new(store, options)
            .download_job("v", &var("GM_JOB"), Path::new(&var("GM_DEST")), &NoProgress)
            .unwrap();
        return;
    }
    assert_eq!(mode, "upload");
    let file = PathBuf::from(var("GM_FILE"));
    let options = UploadOptions {
        part_size,
        concurrency: 2,
        retry: RetryPolicy::quick(3),
        state_dir: Some(PathBuf::from(var("GM_STATE"))),
    };
    let a = Uploader::new(store, options)
        .upload_file("v", &file, "child", &NoProgress)
        .unwrap();
    let mut id = file.into_os_string();
    id.push(".id");
    std::fs::write(id, a.archive_id).unwrap();
}

fn parts_on_disk(store_root: &Path) -> usize {
    let Ok(uploads) = std::fs::read_dir(store_root.join("v/uploads")) else {
        return 0;
    };
    uploads
        .flatten()
        .filter_map(|u| std::fs::read_dir(u.path().join("parts")).ok())
        .map(|parts| {
            parts
                .flatten()
                .filter(|p| !p.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .sum()
}

#[test]
fn a_killed_upload_resumes_sending_only_the_missing_parts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let state = dir.path().join("state");
    let local = LocalStore::open(&root).unwrap();
    local.create_vault("v").unwrap();
    let total_parts = 32;
    let body = data(total_parts * MIB - 1000, 32);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &body).unwrap();

    let mut child = spawn_child(&[
        ("GM_CHILD", "upload"),
        ("GM_STORE", root.to_str().unwrap()),
        ("GM_STATE", state.to_str().unwrap()),
        ("GM_FILE", file.to_str().unwrap()),
        ("GM_DELAY_MS", "100"),
    ]);
    let started = Instant::now();
    while parts_on_disk(&root) < 8 {
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

    // Nothing half-done is visible: no archive, one upload in progress.
    assert_eq!(local.describe_vault("v").unwrap().archives, 0);
    let uploads = local.list_multipart_uploads("v").unwrap();
    assert_eq!(uploads.len(), 1);
    let held = local
        .list_parts("v", &uploads[0].upload_id)
        .unwrap()
        .parts
        .len() as u64;
    assert!((8..total_parts).contains(&held), "{held} parts held");

    let counting = Counting::new(Arc::new(local.clone()));
    let options = UploadOptions {
        part_size: MIB,
        concurrency: 3,
        retry: RetryPolicy::quick(3),
        state_dir: Some(state.clone()),
    };
    let a = Uploader::new(counting.clone(), options)
        .upload_file("v", &file, "child", &NoProgress)
        .unwrap();
    assert_eq!(
        counting.parts(),
        total_parts - held,
        "only the missing parts travel"
    );
    assert_eq!(a.tree_hash, tree_hash(&body));
    assert!(local.list_multipart_uploads("v").unwrap().is_empty());

    let store: Arc<dyn ArchiveStore> = Arc::new(local);
    let job = store
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let out = dir.path().join("back.bin");
    Downloader::new(store, DownloadOptions::default())
        .download_job("v", &job, &out, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
}

#[test]
fn several_processes_share_one_vault() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let local = LocalStore::open(&root).unwrap();
    local.create_vault("v").unwrap();
    let mut children = Vec::new();
    let mut files = Vec::new();
    for (i, size) in [5 * MIB + 3, 700_000, 9 * MIB, 3 * MIB]
        .into_iter()
        .enumerate()
    {
        let body = data(size, 100 + i as u64);
        let file = dir.path().join(format!("f{i}"));
        std::fs::write(&file, &body).unwrap();
        let state = dir.path().join(format!("state{i}"));
        children.push(spawn_child(&[
            ("GM_CHILD", "upload"),
            ("GM_STORE", root.to_str().unwrap()),
            ("GM_STATE", state.to_str().unwrap()),
            ("GM_FILE", file.to_str().unwrap()),
            ("GM_DELAY_MS", "0"),
        ]));
        files.push((file, body));
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let vault = local.describe_vault("v").unwrap();
    assert_eq!(vault.archives, 4);
    for (file, body) in files {
        let mut id = file.into_os_string();
        id.push(".id");
        let id = std::fs::read_to_string(id).unwrap();
        let job = local.initiate_job("v", &JobRequest::archive(&id)).unwrap();
        let out = local.get_job_output("v", &job, None).unwrap();
        assert_eq!(out.data, body);
        assert_eq!(out.tree_hash, Some(tree_hash(&body)));
    }
}

#[test]
fn a_killed_download_resumes_fetching_only_the_missing_segments() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let local = LocalStore::open(&root).unwrap();
    local.create_vault("v").unwrap();
    let segments = 24;
    let body = data(segments * MIB - 77, 24);
    let a = local
        .upload_archive("v", "", &body, tree_hash(&body))
        .unwrap();
    let job = local
        .initiate_job("v", &JobRequest::archive(&a.archive_id))
        .unwrap();
    let dest = dir.path().join("restored.bin");
    let state = dir.path().join("restored.bin.partial.state");
    let done_lines = || {
        std::fs::read_to_string(&state)
            .map_or(0, |t| t.lines().filter(|l| l.starts_with("seg ")).count())
    };
    let mut child = spawn_child(&[
        ("GM_CHILD", "download"),
        ("GM_STORE", root.to_str().unwrap()),
        ("GM_JOB", &job),
        ("GM_DEST", dest.to_str().unwrap()),
        ("GM_DELAY_MS", "100"),
    ]);
    let started = Instant::now();
    while done_lines() < 6 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child fetched nothing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !dest.exists(),
        "nothing is renamed into place before the end"
    );
    let done = done_lines() as u64;
    assert!((6..segments).contains(&done), "{done} segments done");

    let counting = Counting::new(Arc::new(local));
    let options = DownloadOptions {
        segment_size: MIB,
        concurrency: 3,
        retry: RetryPolicy::quick(3),
    };
    let info = Downloader::new(counting.clone(), options)
        .download_job("v", &job, &dest, &NoProgress)
        .unwrap();
    assert_eq!(info.segments_resumed, done);
    assert_eq!(info.segments_fetched, segments - done);
    assert_eq!(
        counting.outputs.load(std::sync::atomic::Ordering::SeqCst),
        segments - done,
        "only the missing segments travel"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert!(!state.exists());
}
