//! `Catalog::check` and `Catalog::rebuild_index`: a sound catalog passes;
//! a search index restored from another backup than the catalog (sound to
//! SQLite, wrong for the rows) is found out, and rebuilding it repairs the
//! searches.

use std::path::{Path, PathBuf};

use catalog::{Catalog, FileEntry, Page};

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copies the catalog's files (`""`: the catalog, `"-fts"`: the index,
/// each with its write-ahead log) from `from` to `to`.
fn copy_files(from: &Path, to: &Path, which: &str) {
    for ext in ["", "-wal", "-shm"] {
        let src = with_suffix(from, &format!("{which}{ext}"));
        let dst = with_suffix(to, &format!("{which}{ext}"));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn add(path: &Path, files: &[FileEntry]) {
    let mut cat = Catalog::open(path).unwrap();
    let store = cat.store("s", "local", None).unwrap();
    let vault = cat.vault(store, "v").unwrap();
    let run = cat
        .begin_run(&catalog::NewRun {
            started: 1,
            ..catalog::NewRun::default()
        })
        .unwrap();
    let a = cat
        .add_archive(&crate::support::archive(run, vault, 1, ""))
        .unwrap();
    cat.insert_files(a, files).unwrap();
    cat.checkpoint().unwrap();
}

fn named(prefix: &str, n: usize) -> Vec<FileEntry> {
    (0..n)
        .map(|i| FileEntry {
            path: format!("/data/{prefix}/{prefix}word{i} report.txt"),
            size: 1,
            mtime: 1,
            ..FileEntry::default()
        })
        .collect()
}

fn hits(cat: &Catalog, q: &str) -> usize {
    cat.search_str(q, Page::first(1000)).unwrap().hits.len()
}

#[test]
fn a_sound_catalog_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let files: Vec<_> = catalog::synth::synthetic_tree(5, 20_000).collect();
    add(&path, &files);
    let report = Catalog::open(&path).unwrap().check().unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!(report.files, 20_000);
    assert_eq!(report.indexed_upto, 20_000);
    assert_eq!(report.tail, 0);
}

#[test]
fn an_index_restored_from_another_backup_is_found_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let backup1 = dir.path().join("b1.sqlite");
    let backup2 = dir.path().join("b2.sqlite");
    // Backup 1 of both files; then more files, and backup 2 of the index.
    add(&path, &named("alpha", 300));
    copy_files(&path, &backup1, "");
    copy_files(&path, &backup1, "-fts");
    add(&path, &named("beta", 300));
    copy_files(&path, &backup2, "-fts");
    // The disk is lost: both files come back from backup 1, work goes on,
    // and later the index file is restored from backup 2.
    copy_files(&backup1, &path, "");
    copy_files(&backup1, &path, "-fts");
    add(&path, &named("gamma", 200));
    copy_files(&backup2, &path, "-fts");

    let mut cat = Catalog::open(&path).unwrap();
    // SQLite finds both files sound, and searches go wrong.
    assert!(cat.integrity_check().unwrap().is_empty());
    assert_eq!(
        hits(&cat, "gammaword7"),
        0,
        "the restored index hides gamma"
    );
    let report = cat.check().unwrap();
    assert!(!report.is_sound());
    assert!(report.catalog_problems.is_empty(), "{report:?}");
    assert!(report.index_problems.is_empty(), "{report:?}");
    assert_eq!(report.files, 500);
    assert_eq!(report.missing, 200, "{report:?}");
    assert!(
        report.missing_examples[0].starts_with("/data/gamma/"),
        "{report:?}"
    );
    assert_eq!(cat.rebuild_index().unwrap(), 500);
    assert!(cat.check().unwrap().is_sound());
    assert_eq!(hits(&cat, "gammaword7"), 1);
    assert_eq!(hits(&cat, "betaword7"), 0);
    assert_eq!(hits(&cat, "alphaword7 report"), 1);
    // Files added after the rebuild are indexed as usual.
    drop(cat);
    add(&path, &named("delta", 10));
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(hits(&cat, "deltaword3"), 1);
    assert!(cat.check().unwrap().is_sound());
}
