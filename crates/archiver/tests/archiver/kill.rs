//! kill -9 at any point: the test binary runs itself as a child that
//! archives a tree into a local store and SIGKILLs itself at its Nth store
//! request (just before it, or just after it succeeded); a second child is
//! killed during the recovery; then a run in this process must complete
//! the job with every file once, every run closed and exported, and no
//! archive in the vault that the catalog does not account for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use archiver::glacier_multipart::{ArchiveStore, LocalStore, RetryPolicy};
use archiver::{ArchiveCatalog, ArchiveOptions, NoObserver, Sources, Vault};

use crate::{Setup, VAULT, Wrapped, check_consistent, make_tree, noise};

fn options() -> ArchiveOptions {
    ArchiveOptions::default()
        .max_files(15)
        .part_size(1 << 20)
        .jobs(2)
        .retry(RetryPolicy::quick(2))
}

/// Not a test on its own: does nothing unless started by [`child`].
/// Archives `ARCHIVER_DIR/src` into vault `v` of the local store
/// `ARCHIVER_DIR/store` with the catalog `ARCHIVER_DIR/catalog.sqlite`,
/// killing itself at request `ARCHIVER_KILL_AT` (after it when
/// `ARCHIVER_KILL_AFTER=1`); without a kill point it writes the number of
/// requests it made to `ARCHIVER_DIR/calls`.
#[test]
fn child_helper() {
    let Ok(dir) = std::env::var("ARCHIVER_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    // No fsync: a killed process loses nothing the page cache holds.
    let local = LocalStore::open(dir.join("store"))
        .unwrap()
        .with_sync(false);
    let mut w = Wrapped::new(Arc::new(local));
    w.kill_at = std::env::var("ARCHIVER_KILL_AT").ok().map(|n| {
        (
            n.parse().unwrap(),
            std::env::var("ARCHIVER_KILL_AFTER").is_ok_and(|v| v == "1"),
        )
    });
    let w = Arc::new(w);
    let vault = Vault::new(w.clone(), VAULT);
    let mut cat = ArchiveCatalog::open(dir.join("catalog.sqlite")).unwrap();
    archiver::archive(
        &Sources::roots([dir.join("src")]),
        &options(),
        &vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    if w.kill_at.is_none() {
        std::fs::write(
            dir.join("calls"),
            w.calls.load(Ordering::SeqCst).to_string(),
        )
        .unwrap();
    }
}

/// Runs [`child_helper`] on `dir`; returns whether it was killed.
fn child(dir: &Path, kill: Option<(u64, bool)>) -> bool {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "kill::child_helper",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("ARCHIVER_DIR", dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some((n, after)) = kill {
        cmd.env("ARCHIVER_KILL_AT", n.to_string())
            .env("ARCHIVER_KILL_AFTER", if after { "1" } else { "0" });
    }
    let status = cmd.status().unwrap();
    match std::os::unix::process::ExitStatusExt::signal(&status) {
        Some(9) => true,
        None if status.success() => false,
        _ => panic!("the child failed: {status:?}"),
    }
}

fn tree(root: &Path) {
    make_tree(root, 60, false);
    // Sent in parts, so a kill can leave a half-done multipart upload.
    std::fs::write(root.join("finance/big.bin"), noise(9, 3 << 20)).unwrap();
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let local = LocalStore::open(tmp.path().join("store"))
        .unwrap()
        .with_sync(false);
    let store: Arc<dyn ArchiveStore> = Arc::new(local);
    let s = Setup::with(tmp, store);
    tree(&s.path("src"));
    s
}

#[test]
fn killed_at_any_store_request_the_next_run_completes_the_job() {
    // How many requests an undisturbed first run makes.
    let probe = setup();
    assert!(!child(probe.tmp.path(), None));
    let calls: u64 = std::fs::read_to_string(probe.path("calls"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(calls > 8, "{calls} requests");
    check_consistent(&probe, &probe.src(), true);
    let mut closed = 0;
    for n in 1..=calls {
        for after in [false, true] {
            let s = setup();
            let killed = child(s.tmp.path(), Some((n, after)));
            assert!(killed, "request {n} reached");
            if n % 3 == 0 {
                // Killed again while recovering.
                child(s.tmp.path(), Some((2 + n % 5, after)));
            }
            let mut cat = s.catalog();
            let summary = archiver::archive(
                &Sources::roots([s.path("src")]),
                &options(),
                &s.vault,
                &mut cat,
                &crate::Recorder::default(),
            )
            .unwrap_or_else(|e| panic!("after a kill at request {n} (after: {after}): {e}"));
            if !summary.closed_runs.is_empty() {
                closed += 1;
            }
            drop(cat);
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_consistent(&s, &s.src(), true);
            }));
            assert!(
                checked.is_ok(),
                "after a kill at request {n} (after: {after})"
            );
        }
    }
    assert!(closed > calls, "killed runs were closed: {closed}");
}
