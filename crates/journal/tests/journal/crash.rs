//! Crash safety: torn last lines, corrupted middle lines.

use std::fs;
use std::io::Write as _;

use journal::{
    ApplyError, JournalError, JournalWriter, LineError, MAX_LINE_LEN, ParseError, ReadOptions,
    read_journal,
};

use crate::{created, deleted, retrieve};

fn journal_with(records: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.log");
    let mut w = JournalWriter::open(&path).unwrap();
    for i in 0..records {
        w.append(&created(
            i as u64,
            &format!("id-{i}"),
            Some(7),
            &format!("f/{i}"),
        ))
        .unwrap();
    }
    drop(w);
    let bytes = fs::read(&path).unwrap();
    (dir, path, bytes)
}

#[test]
fn torn_last_line_is_set_aside_and_appending_continues() {
    let (_dir, path, complete) = journal_with(3);
    // A crash in the middle of the fourth append; the cut name would parse.
    let fourth = created(3, "id-3", Some(7), "f/3-long-name").to_line();
    let torn = &fourth.as_bytes()[..fourth.len() - 5];
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn)
        .unwrap();

    // A reader keeps every complete record and reports the torn tail.
    let replay = read_journal(&path, ReadOptions::default()).unwrap();
    assert_eq!(replay.records, 3);
    let tail = replay.torn_tail.clone().unwrap();
    assert_eq!(tail.offset, complete.len() as u64);
    assert_eq!(tail.len, torn.len() as u64);
    assert_eq!(tail.sidecar, None);
    assert!(replay.state.archive("id-3").is_none());

    // A writer sets it aside and continues on a fresh line.
    let (mut w, replay) = JournalWriter::open_and_read(&path, ReadOptions::default()).unwrap();
    let tail = w.torn_tail().unwrap().clone();
    assert_eq!(tail.offset, complete.len() as u64);
    let sidecar = tail.sidecar.clone().unwrap();
    assert_eq!(
        sidecar.file_name().unwrap().to_str().unwrap(),
        format!("journal.log.torn-{}", complete.len())
    );
    assert_eq!(fs::read(&sidecar).unwrap(), torn);
    assert_eq!(replay.torn_tail, Some(tail));
    assert_eq!(replay.records, 3);
    assert_eq!(fs::read(&path).unwrap(), complete);

    w.append(&created(9, "id-9", None, "after/crash")).unwrap();
    drop(w);
    let replay = read_journal(&path, ReadOptions::default()).unwrap();
    assert_eq!(replay.records, 4);
    assert!(replay.torn_tail.is_none());
    assert!(replay.state.archive("id-9").is_some());
}

#[test]
fn torn_only_line_and_torn_long_line() {
    // A journal whose only line is torn.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    fs::write(&path, "B\t1\tCREA").unwrap();
    let w = JournalWriter::open(&path).unwrap();
    assert_eq!(w.torn_tail().unwrap().offset, 0);
    assert!(w.is_empty());
    drop(w);
    assert_eq!(fs::read(&path).unwrap(), b"");

    // A torn tail longer than the backward-scan block.
    let (_dir, path, complete) = journal_with(2);
    let junk = vec![b'x'; 200_000];
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&junk)
        .unwrap();
    let w = JournalWriter::open(&path).unwrap();
    let tail = w.torn_tail().unwrap();
    assert_eq!(
        (tail.offset, tail.len),
        (complete.len() as u64, junk.len() as u64)
    );
    assert_eq!(fs::read(tail.sidecar.as_ref().unwrap()).unwrap(), junk);
}

#[test]
fn corrupted_middle_line_is_an_error_naming_line_and_reason() {
    let (_dir, path, complete) = journal_with(4);
    let text = String::from_utf8(complete).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let bad = lines[2].replace("\t7\t", "\tseven\t");
    lines[2] = &bad;
    let corrupted = lines.join("\n") + "\n";
    fs::write(&path, &corrupted).unwrap();
    let offset = corrupted.find(&bad).unwrap() as u64;

    let err = read_journal(&path, ReadOptions::default()).unwrap_err();
    let msg = err.to_string();
    match err {
        JournalError::InvalidLine {
            line,
            offset: at,
            reason,
            ..
        } => {
            assert_eq!(line, 3);
            assert_eq!(at, offset);
            assert!(matches!(
                reason,
                LineError::Parse(ParseError::BadField { field: "mtime", .. })
            ));
        }
        other => panic!("{other}"),
    }
    assert!(msg.contains("journal.log, line 3"), "{msg}");
    assert!(msg.contains("bad mtime \"seven\""), "{msg}");

    // Recovery: skip and report.
    let replay = read_journal(&path, ReadOptions::default().skip_invalid()).unwrap();
    assert_eq!(replay.records, 3);
    assert_eq!(replay.lines, 4);
    assert_eq!(replay.skipped.len(), 1);
    assert_eq!(replay.skipped[0].line, 3);
    assert_eq!(replay.skipped[0].offset, offset);
    assert!(replay.state.archive("id-2").is_none());
    assert!(replay.state.archive("id-3").is_some());
}

#[test]
fn invalid_bytes_and_inconsistent_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut bytes = Vec::new();
    for r in [
        created(1, "a", None, "x"),
        created(2, "a", None, "y"), // duplicate id
        deleted(3, "nope", "x"),    // not live
        retrieve(4, "a", "job"),
    ] {
        r.write_line(&mut bytes);
    }
    bytes.extend_from_slice(b"B\t5\tDELETED\ta\t\xff\xfe\n");
    bytes.extend_from_slice(&vec![b'y'; MAX_LINE_LEN + 10]);
    bytes.push(b'\n');
    bytes.extend_from_slice(b"\n");
    fs::write(&path, &bytes).unwrap();

    let err = read_journal(&path, ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            JournalError::InvalidLine {
                line: 2,
                reason: LineError::Apply(ApplyError::DuplicateArchive { .. }),
                ..
            }
        ),
        "{err}"
    );
    let replay = read_journal(&path, ReadOptions::default().skip_invalid()).unwrap();
    let reasons: Vec<(u64, String)> = replay
        .skipped
        .iter()
        .map(|s| (s.line, s.reason.to_string()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert_eq!(reasons[0].0, 2);
    assert!(reasons[0].1.contains("created twice"));
    assert_eq!(reasons[1].0, 3);
    assert!(reasons[1].1.contains("not live"));
    assert_eq!(reasons[2].0, 5);
    assert!(reasons[2].1.contains("UTF-8"));
    assert_eq!(reasons[3].0, 6);
    assert!(reasons[3].1.contains("longer than"));
    assert_eq!(reasons[4].0, 7);
    assert!(reasons[4].1.contains("empty line"));
    assert_eq!(replay.records, 2);
    assert_eq!(replay.state.retrievals("a").len(), 1);
}

#[test]
fn missing_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let err = read_journal(&path, ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cannot open journal"), "{err}");
    assert!(err.to_string().contains("absent"), "{err}");
    let replay = read_journal(&path, ReadOptions::default().allow_missing()).unwrap();
    assert_eq!(replay.records, 0);
}

const FILLER_ENV: &str = "JOURNAL_TEST_FILLER";

/// The child's side of `a_writer_killed_mid_append_loses_no_complete_record`:
/// append records one by one until the file-size limit kills the process.
#[test]
fn child_filler() {
    let Ok(path) = std::env::var(FILLER_ENV) else {
        return;
    };
    let mut w = JournalWriter::open(&path).expect("child opens the journal");
    for i in 0u64.. {
        w.append(&created(
            i,
            &format!("fill-{i}"),
            Some(1),
            "some/longer/name/so/lines/are/long",
        ))
        .expect("the file-size limit kills this process before any error");
    }
}

/// A real crash in the middle of an append: the child runs under
/// `prlimit --fsize`, so the write that crosses the limit is cut short and
/// the next one kills it with SIGXFSZ, leaving a torn last line.
#[test]
fn a_writer_killed_mid_append_loses_no_complete_record() {
    use std::os::unix::process::ExitStatusExt as _;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let status = std::process::Command::new("prlimit")
        .arg("--fsize=10000")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args([
            "crash::child_filler",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FILLER_ENV, &path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("prlimit (util-linux) runs");
    assert_eq!(
        status.signal(),
        Some(25),
        "child killed by SIGXFSZ: {status:?}"
    );
    let on_disk = fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), 10_000);
    let complete = on_disk.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    assert!(complete < on_disk.len(), "the last line is torn");

    let (mut w, replay) = JournalWriter::open_and_read(&path, ReadOptions::default()).unwrap();
    let tail = w.torn_tail().unwrap().clone();
    assert_eq!(tail.offset, complete as u64);
    assert_eq!(
        fs::read(tail.sidecar.unwrap()).unwrap(),
        &on_disk[complete..]
    );
    let lines = on_disk[..complete].split(|&b| b == b'\n').count() as u64 - 1;
    assert_eq!(replay.records, lines);
    assert!(
        replay
            .state
            .archive(&format!("fill-{}", lines - 1))
            .is_some()
    );
    w.append(&created(lines, "next", None, "x")).unwrap();
    drop(w);
    assert_eq!(
        read_journal(&path, ReadOptions::default()).unwrap().records,
        lines + 1
    );
}

const FULL_ENV: &str = "JOURNAL_TEST_FULL";

/// The child's side of `a_failed_write_is_cut_back_to_a_complete_line`: with
/// SIGXFSZ ignored, the write that crosses the limit fails (EFBIG, as a full
/// disk fails with ENOSPC) and the writer must cut the partial line off.
#[test]
fn child_full() {
    let Ok(path) = std::env::var(FULL_ENV) else {
        return;
    };
    let mut w = JournalWriter::open(&path).expect("child opens the journal");
    let mut i = 0u64;
    let err = loop {
        let r = created(
            i,
            &format!("fill-{i}"),
            Some(1),
            "some/longer/name/so/lines/are/long",
        );
        match w.append(&r) {
            Ok(()) => i += 1,
            Err(e) => break e,
        }
    };
    let msg = err.to_string();
    assert!(matches!(err, JournalError::Io { .. }), "{msg}");
    assert!(msg.contains("cannot append to journal"), "{msg}");
    assert_eq!(fs::read(&path).unwrap().last(), Some(&b'\n'));
    assert_eq!(w.len(), fs::metadata(&path).unwrap().len());
    // The writer stays usable: a record that fits goes in.
    assert!(w.append(&created(0, "z", None, "z")).is_ok() || w.len() > 9_900);
}

#[test]
fn a_failed_write_is_cut_back_to_a_complete_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec prlimit --fsize=10000 -- "$0" crash::child_full --exact --nocapture --test-threads=1"#)
        .arg(&exe)
        .env(FULL_ENV, &path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("sh and prlimit run");
    assert!(status.success(), "child checks failed: {status:?}");
    let replay = read_journal(&path, ReadOptions::default()).unwrap();
    assert!(replay.torn_tail.is_none());
    assert!(replay.records > 10);
}
