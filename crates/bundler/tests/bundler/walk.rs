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

/// The entries of `dir` below root-relative `rel`, as the walk should give
/// them (depth first, siblings by name), read with the standard library
/// alone: (member name, source, kind, size, mode, mtime).
#[allow(clippy::type_complexity)]
fn reference(
    root: &std::path::Path,
    root_name: &[u8],
    rel: &[u8],
    seen: &mut std::collections::HashMap<(u64, u64), Vec<u8>>,
    out: &mut Vec<(Vec<u8>, std::path::PathBuf, EntryKind, u64, u32, i64)>,
) {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::MetadataExt as _;
    let join = |a: &[u8], b: &[u8]| {
        if a.is_empty() {
            b.to_vec()
        } else {
            [a, b"/", b].concat()
        }
    };
    let dir = root.join(std::ffi::OsStr::from_bytes(rel));
    let mut names: Vec<Vec<u8>> = fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    for n in names {
        let child_rel = join(rel, &n);
        let source = root.join(std::ffi::OsStr::from_bytes(&child_rel));
        let m = fs::symlink_metadata(&source).unwrap();
        let name = join(root_name, &child_rel);
        let mut size = 0;
        let kind = if m.is_dir() {
            EntryKind::Dir
        } else if m.file_type().is_symlink() {
            EntryKind::Symlink {
                target: fs::read_link(&source)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
            }
        } else if m.nlink() > 1
            && let Some(t) = seen.get(&(m.dev(), m.ino()))
        {
            EntryKind::HardLink { target: t.clone() }
        } else {
            if m.nlink() > 1 {
                seen.insert((m.dev(), m.ino()), name.clone());
            }
            size = m.len();
            EntryKind::File
        };
        let is_dir = kind == EntryKind::Dir;
        out.push((name, source, kind, size, m.mode() & 0o7777, m.mtime()));
        if is_dir {
            reference(root, root_name, &child_rel, seen, out);
        }
    }
}

#[test]
#[allow(clippy::too_many_lines)]
fn compact_list_builds_the_entries_the_tree_holds() {
    use std::os::unix::ffi::OsStrExt as _;
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    let b = t.path().join("b");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(b.join("deep/er/est")).unwrap();
    sample_tree(&a);
    fs::write(b.join("deep/er/est/x"), b"xyz").unwrap();
    fs::write(b.join("deep/y"), b"").unwrap();
    let single = t.path().join("single.txt");
    fs::write(&single, b"one").unwrap();
    let abs =
        |p: &std::path::Path| std::path::absolute(p).unwrap().as_os_str().as_bytes()[1..].to_vec();
    for style in [NameStyle::Absolute, NameStyle::RelativeToRoot] {
        let walker = Walker::new(WalkOptions {
            roots: vec![b.clone(), single.clone(), a.clone()],
            name_style: style,
            ..WalkOptions::default()
        })
        .unwrap();
        let (list, report) = walker.walk_list().unwrap();
        // Expected: roots by member name (in the order given when equal),
        // a directory root's children after it (the root itself is no
        // member).
        let mut tops: Vec<(Vec<u8>, Option<std::path::PathBuf>)> = vec![
            (
                if style == NameStyle::Absolute {
                    abs(&b)
                } else {
                    vec![]
                },
                Some(b.clone()),
            ),
            (
                if style == NameStyle::Absolute {
                    abs(&single)
                } else {
                    b"single.txt".to_vec()
                },
                None,
            ),
            (
                if style == NameStyle::Absolute {
                    abs(&a)
                } else {
                    vec![]
                },
                Some(a.clone()),
            ),
        ];
        tops.sort_by(|x, y| x.0.cmp(&y.0));
        let mut want = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for (name, dir) in tops {
            match dir {
                Some(d) => reference(&d, &name, b"", &mut seen, &mut want),
                None => want.push((name, single.clone(), EntryKind::File, 3, 0o644 & 0o7777, 0)),
            }
        }
        assert_eq!(list.len(), want.len(), "{style:?}");
        let built = list.to_entries();
        assert_eq!(
            built,
            walker
                .walk()
                .unwrap()
                .entries
                .iter()
                .map(|e| {
                    // A second walk reads directories again: only their atime moves.
                    let mut e = e.clone();
                    if let Some(x) = built.iter().find(|b| b.name == e.name) {
                        e.atime = x.atime;
                    }
                    e
                })
                .collect::<Vec<_>>()
        );
        for (i, (e, w)) in built.iter().zip(&want).enumerate() {
            assert_eq!(e.name, w.0, "{style:?} entry {i}");
            assert_eq!(e.source, w.1, "{style:?} {}", e.name_lossy());
            assert_eq!(e.kind, w.2, "{}", e.name_lossy());
            assert_eq!(e.size, w.3, "{}", e.name_lossy());
            if e.source != single {
                assert_eq!((e.mode, e.mtime.secs), (w.4, w.5), "{}", e.name_lossy());
            }
            let m = list.meta(i);
            assert_eq!(
                (m.size, m.mode, m.mtime, m.ctime),
                (e.size, e.mode, e.mtime, e.ctime)
            );
            assert_eq!(list.name(i), e.name);
            assert_eq!(list.source(i), e.source);
            assert_eq!(list.get(i), *e);
        }
        assert_eq!(report.hard_links, 1);
        assert_eq!(
            report.files as usize + report.dirs as usize + report.symlinks as usize + 1,
            list.len()
        );
        // Entries given one by one round-trip, and retain keeps the order.
        let mut again = bundler::EntryList::from(built.clone());
        assert_eq!(again.to_entries(), built);
        again.retain(|i| i % 2 == 1);
        let odd: Vec<_> = built.iter().skip(1).step_by(2).cloned().collect();
        assert_eq!(again.to_entries(), odd);
    }
}
