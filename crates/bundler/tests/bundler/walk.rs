//! Walking and selecting.

use std::fs;
use std::os::unix::net::UnixListener;
use std::time::{Duration, SystemTime};

use bundler::{BundleError, EntryKind, NameStyle, TimeField, TimeWindow, WalkOptions, Walker};

use crate::common::{sample_tree, sh, walk_rel};

#[test]
fn records_kinds_links_once_and_sorts() {
    let t = tempfile::tempdir().unwrap();
    sample_tree(t.path());
    let entries = walk_rel(t.path());
    let names: Vec<String> = entries.iter().map(bundler::Entry::name_lossy).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "deterministic, sorted order");
    let link = entries.iter().find(|e| e.name == b"link").unwrap();
    assert_eq!(
        link.kind,
        EntryKind::Symlink {
            target: b"dir/a.txt".to_vec()
        }
    );
    let hard = entries.iter().find(|e| e.name == b"zz-hard").unwrap();
    assert_eq!(
        hard.kind,
        EntryKind::HardLink {
            target: b"dir/a.txt".to_vec()
        }
    );
    assert_eq!(hard.size, 0);
    let b = entries.iter().find(|e| e.name == b"dir/sub/b.bin").unwrap();
    assert_eq!(b.mtime.nanos, 123_456_789);
    assert_eq!(b.mode, 0o600);
    // The same walk twice gives the same entries.
    // (Reading directories moves their atime; compare the rest.)
    let key = |e: &bundler::Entry| (e.name.clone(), e.kind.clone(), e.size, e.mtime, e.mode);
    let again: Vec<_> = walk_rel(t.path()).iter().map(key).collect();
    assert_eq!(entries.iter().map(key).collect::<Vec<_>>(), again);
}

#[test]
fn skips_and_counts_special_files() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("f"), b"x").unwrap();
    let _sock = UnixListener::bind(t.path().join("sock")).unwrap();
    sh(&format!("mkfifo {}/fifo", t.path().display()));
    let w = Walker::new(WalkOptions {
        roots: vec![t.path().into()],
        name_style: NameStyle::RelativeToRoot,
        ..WalkOptions::default()
    })
    .unwrap()
    .walk()
    .unwrap();
    assert_eq!(w.entries.len(), 1);
    assert_eq!(w.report.sockets, 1);
    assert_eq!(w.report.fifos, 1);
    assert_eq!(w.report.special_skipped(), 2);
    assert_eq!(w.report.files, 1);
}

#[test]
fn unreadable_entries_are_reported_not_fatal() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("d")).unwrap();
    fs::write(t.path().join("d/ok"), b"x").unwrap();
    // A symlink loop cannot be stat'ed when links are followed (even as root).
    std::os::unix::fs::symlink("loop", t.path().join("d/loop")).unwrap();
    let w = Walker::new(WalkOptions {
        roots: vec![t.path().into()],
        name_style: NameStyle::RelativeToRoot,
        follow_symlinks: true,
        ..WalkOptions::default()
    })
    .unwrap()
    .walk()
    .unwrap();
    assert_eq!(w.report.unreadable.len(), 1, "{:?}", w.report);
    assert!(w.report.unreadable[0].path.ends_with("d/loop"));
    assert!(w.entries.iter().any(|e| e.name == b"d/ok"));
    // A root that does not exist is an error naming it.
    let err = Walker::new(WalkOptions {
        roots: vec![t.path().join("missing")],
        ..WalkOptions::default()
    })
    .unwrap()
    .walk()
    .unwrap_err();
    assert!(matches!(err, BundleError::Root { .. }), "{err}");
    assert!(err.to_string().contains("missing"));
}

#[test]
fn include_exclude_globs() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("keep/cache")).unwrap();
    fs::write(t.path().join("keep/a.txt"), b"a").unwrap();
    fs::write(t.path().join("keep/b.log"), b"b").unwrap();
    fs::write(t.path().join("keep/cache/c.txt"), b"c").unwrap();
    let w = Walker::new(WalkOptions {
        roots: vec![t.path().into()],
        name_style: NameStyle::RelativeToRoot,
        include: vec!["*.txt".into()],
        exclude: vec!["**/cache".into()],
        ..WalkOptions::default()
    })
    .unwrap()
    .walk()
    .unwrap();
    let names: Vec<_> = w.entries.iter().map(bundler::Entry::name_lossy).collect();
    assert_eq!(names, ["keep", "keep/a.txt"]);
    assert_eq!(w.report.excluded, 2);
    let bad = Walker::new(WalkOptions {
        roots: vec![t.path().into()],
        include: vec!["a[".into()],
        ..WalkOptions::default()
    })
    .unwrap_err();
    assert!(matches!(bad, BundleError::Glob { .. }));
}

#[test]
fn time_window_uses_the_named_field() {
    let t = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    // old: mtime 10 days ago, atime now; new: mtime now, atime 10 days ago.
    fs::write(t.path().join("old-mtime"), b"1").unwrap();
    fs::write(t.path().join("old-atime"), b"2").unwrap();
    let ft = |s: SystemTime| filetime::FileTime::from_system_time(s);
    filetime::set_file_times(t.path().join("old-mtime"), ft(now), ft(now - 10 * day)).unwrap();
    filetime::set_file_times(t.path().join("old-atime"), ft(now - 10 * day), ft(now)).unwrap();
    let run = |w: TimeWindow| -> Vec<String> {
        Walker::new(WalkOptions {
            roots: vec![t.path().into()],
            name_style: NameStyle::RelativeToRoot,
            time: Some(w),
            ..WalkOptions::default()
        })
        .unwrap()
        .walk()
        .unwrap()
        .entries
        .iter()
        .map(bundler::Entry::name_lossy)
        .collect()
    };
    let mut w = TimeWindow::new(TimeField::Mtime).older_than_days(5);
    w.now = now;
    assert_eq!(run(w), ["old-mtime"]);
    let mut w = TimeWindow::new(TimeField::Atime).older_than_days(5);
    w.now = now;
    assert_eq!(run(w), ["old-atime"]);
    let mut w = TimeWindow::new(TimeField::Mtime).newer_than_days(5);
    w.now = now;
    assert_eq!(run(w), ["old-atime"]);
    // Both bounds: a window between 5 and 20 days ago.
    let mut w = TimeWindow::new(TimeField::Mtime)
        .older_than_days(5)
        .newer_than_days(20);
    w.now = now;
    assert_eq!(run(w), ["old-mtime"]);
    let mut w = TimeWindow::new(TimeField::Mtime)
        .older_than_days(5)
        .newer_than_days(9);
    w.now = now;
    assert!(run(w).is_empty());
}

#[test]
fn absolute_names_and_multiple_roots() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("r1")).unwrap();
    fs::create_dir(t.path().join("r2")).unwrap();
    fs::write(t.path().join("r1/x"), b"1").unwrap();
    fs::write(t.path().join("r2/x"), b"2").unwrap();
    let w = Walker::new(WalkOptions {
        roots: vec![t.path().join("r2"), t.path().join("r1")],
        ..WalkOptions::default()
    })
    .unwrap()
    .walk()
    .unwrap();
    let base = t
        .path()
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_owned();
    let names: Vec<_> = w.entries.iter().map(bundler::Entry::name_lossy).collect();
    assert_eq!(names, [format!("{base}/r1/x"), format!("{base}/r2/x")]);
}

#[test]
fn order_is_depth_first_with_sorted_siblings() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("a/b")).unwrap();
    fs::write(t.path().join("a/b/x"), b"1").unwrap();
    fs::write(t.path().join("a/b-1"), b"2").unwrap();
    fs::write(t.path().join("a/B"), b"3").unwrap();
    fs::write(t.path().join("a0"), b"4").unwrap();
    let names: Vec<String> = walk_rel(t.path())
        .iter()
        .map(bundler::Entry::name_lossy)
        .collect();
    assert_eq!(names, ["a", "a/B", "a/b", "a/b/x", "a/b-1", "a0"]);
}
