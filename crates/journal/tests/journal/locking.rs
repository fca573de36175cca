//! The writer lock, within one process and across processes.
//!
//! The cross-process tests run this test binary again as the child, asking
//! it to run only `locking::child_writer` with `JOURNAL_TEST_CHILD` set; in
//! a normal run that test returns at once.

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Stdio};

use journal::{JournalError, JournalWriter, ReadOptions, read_journal};

use crate::created;

const CHILD_ENV: &str = "JOURNAL_TEST_CHILD";

/// The child's side: open the journal given in the environment, append one
/// record, say "ready <pid>", then hold the writer until stdin closes.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut w = JournalWriter::open(&path).expect("child opens the journal");
    w.append(&created(42, "from-child", Some(1), "child/file"))
        .expect("child appends");
    // Straight to the stdout handle: the test harness captures `println!`.
    let mut out = std::io::stdout();
    writeln!(out, "ready {}", std::process::id()).unwrap();
    out.flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(w);
}

fn spawn_child(path: &std::path::Path) -> (Child, u32) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "locking::child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let pid = loop {
        let line = lines
            .next()
            .expect("child wrote 'ready' before exiting")
            .unwrap();
        // The harness may print "test ... " before it on the same line.
        if let Some((_, pid)) = line.split_once("ready ") {
            break pid.trim().parse::<u32>().unwrap();
        }
    };
    // Keep draining the child's output so that it never writes to a closed
    // pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, pid)
}

#[test]
fn two_writers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let mut first = JournalWriter::open(&path).unwrap();
    let err = JournalWriter::open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, JournalError::Locked { .. }), "{msg}");
    assert!(msg.contains("journal"), "{msg}");
    assert!(
        msg.contains(&format!("locked by pid {}", std::process::id())),
        "{msg}"
    );
    // The first writer is unaffected.
    first.append(&created(1, "a", None, "x")).unwrap();
    drop(first);
    assert!(!dir.path().join("journal.lock").exists());
    // Released on drop.
    let mut second = JournalWriter::open(&path).unwrap();
    second.append(&created(2, "b", None, "x")).unwrap();
    drop(second);
    assert_eq!(
        read_journal(&path, ReadOptions::default()).unwrap().records,
        2
    );
}

#[test]
fn record_appended_by_another_process_is_visible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let (mut child, pid) = spawn_child(&path);

    // While the child still holds the writer: its record is on disk and
    // readable here, and this process cannot write.
    let replay = read_journal(&path, ReadOptions::default()).unwrap();
    let archive = replay.state.archive("from-child").expect("child's record");
    assert_eq!(archive.relname.as_str(), "child/file");
    let err = JournalWriter::open(&path).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("locked by pid {pid} on ")),
        "{err}"
    );

    // The child finishes; the lock is free again.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let mut w = JournalWriter::open(&path).unwrap();
    w.append(&created(43, "from-parent", None, "parent/file"))
        .unwrap();
}

#[test]
fn a_killed_writer_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let (mut child, _pid) = spawn_child(&path);
    assert!(matches!(
        JournalWriter::open(&path),
        Err(JournalError::Locked { .. })
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    // The stale `.lock` note is still there, but the lock went with the
    // process.
    let mut w = JournalWriter::open(&path).unwrap();
    w.append(&created(44, "after-kill", None, "x")).unwrap();
    drop(w);
    assert_eq!(
        read_journal(&path, ReadOptions::default()).unwrap().records,
        2
    );
}
