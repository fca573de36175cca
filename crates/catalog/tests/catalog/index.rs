//! The search index beside the catalog (`<catalog>-fts`): files it does not
//! hold yet (the tail) are found all the same, a lost or damaged index is
//! rebuilt, searches never miss committed rows while a second thread
//! indexes, and file ids are never reused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use catalog::{Catalog, FileId, Page};

const QUERIES: &[&str] = &[
    "budget",
    "budget 2019",
    "\"budget 2019\"",
    "budget2019",
    "kalo*",
    "2019 fin*",
    "report -draft",
    "xlsx -final -2019",
    "-xlsx size:>1M",
    "-jpg -pdf under:/data/Finance",
    "lab",
    "lab xlsx",
    "-lab budget",
    "img jpg",
    "jpg zip",
    "png docx 2019",
    "library chemistry",
    "zzzz",
];

fn index_file(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-fts");
    PathBuf::from(s)
}

/// A catalog of `n` synthetic files in two runs (the second described
/// "quarterly lab data"), inserted `batch` at a time.
fn make(path: &Path, n: u64, batch: usize) -> Catalog {
    make_with_cache(path, n, batch, None)
}

/// [`make`], with the page cache limited to `kib` before the first
/// insertion and again after the first batch of the second run (the
/// indexing thread running by then).
fn make_with_cache(path: &Path, n: u64, batch: usize, kib: Option<u32>) -> Catalog {
    let mut cat = Catalog::open(path).unwrap();
    if let Some(kib) = kib {
        cat.set_page_cache(kib).unwrap();
    }
    let store = cat.store("s", "local", None).unwrap();
    let vault = cat.vault(store, "v").unwrap();
    let files: Vec<_> = catalog::synth::synthetic_tree(11, n).collect();
    let (first, second) = files.split_at(files.len() / 2);
    for (i, part) in [first, second].into_iter().enumerate() {
        let run = cat
            .begin_run(&catalog::NewRun {
                started: 1,
                description: if i == 1 {
                    "quarterly lab data".into()
                } else {
                    String::new()
                },
                ..catalog::NewRun::default()
            })
            .unwrap();
        let a = cat
            .add_archive(&crate::support::archive(run, vault, 1, ""))
            .unwrap();
        for (j, chunk) in part.chunks(batch).enumerate() {
            cat.insert_files(a, chunk).unwrap();
            if let (Some(kib), 1, 0) = (kib, i, j) {
                cat.set_page_cache(kib / 2).unwrap();
            }
        }
    }
    cat
}

/// Every hit of every query, all pages, as ids.
fn answers(cat: &Catalog) -> Vec<(String, Vec<FileId>, u64)> {
    QUERIES
        .iter()
        .map(|q| {
            let query: catalog::Query = q.parse().unwrap();
            let mut ids = Vec::new();
            let mut page = Page::first(97);
            loop {
                let p = cat.search(&query, page).unwrap();
                ids.extend(p.hits.iter().map(|h| h.id));
                match p.next {
                    Some(after) => {
                        page = Page {
                            limit: 97,
                            after: Some(after),
                        }
                    }
                    None => break,
                }
            }
            let n = cat.count(&query).unwrap();
            ((*q).to_owned(), ids, n)
        })
        .collect()
}

#[test]
fn files_the_index_lacks_are_found_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cat.db");
    let mut cat = make(&path, 12_000, 5_000);
    let want = answers(&cat);
    for (q, ids, n) in &want {
        assert_eq!(ids.len() as u64, *n, "{q}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{q}: ids ascend");
    }
    assert!(want.iter().filter(|(_, ids, _)| !ids.is_empty()).count() >= 10);
    cat.checkpoint().unwrap();
    drop(cat);
    // The second bulk batch listed its common tokens (dense.rs), which the
    // searches above used: the answers below come without them.
    let lists: i64 = rusqlite::Connection::open(index_file(&path))
        .unwrap()
        .query_row("SELECT count(*) FROM dense WHERE token = 'jpg'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(lists >= 1, "{lists}");

    // A copy of the catalog without its index: every file is in the tail.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    assert!(!index_file(&copy).exists());
    let ro = Catalog::open_read_only(&copy).unwrap();
    assert_eq!(answers(&ro), want, "read-only, no index");
    assert!(!index_file(&copy).exists(), "a reader creates nothing");
    drop(ro);

    // A writer rebuilds the index; the answers do not change.
    let rw = Catalog::open(&copy).unwrap();
    assert!(index_file(&copy).exists());
    assert_eq!(answers(&rw), want, "rebuilt");
    drop(rw);
    assert_eq!(answers(&Catalog::open_read_only(&copy).unwrap()), want);
}

#[test]
fn a_small_page_cache_changes_no_answer() {
    // Set before the first insertion and again while the indexing thread
    // runs (which then starts again with the new limit).
    let dir = tempfile::tempdir().unwrap();
    let want = answers(&make(&dir.path().join("default.db"), 12_000, 5_000));
    let path = dir.path().join("small.db");
    let cat = make_with_cache(&path, 12_000, 5_000, Some(512));
    assert_eq!(answers(&cat), want);
    assert!(cat.integrity_check().unwrap().is_empty());
    drop(cat);
    assert_eq!(answers(&Catalog::open_read_only(&path).unwrap()), want);
}

#[test]
fn an_index_lagging_behind_the_rows_is_caught_up() {
    // As after a crash between the commit of a batch's rows and of its
    // postings: the index holds fewer files than the catalog.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cat.db");
    let mut cat = make(&path, 4_000, 1_000);
    cat.checkpoint().unwrap();
    let saved = dir.path().join("saved-fts");
    std::fs::copy(index_file(&path), &saved).unwrap();
    let store = cat.store("s", "local", None).unwrap();
    let vault = cat.vault(store, "v").unwrap();
    let run = cat.runs().unwrap()[0].id;
    let a = cat
        .add_archive(&crate::support::archive(run, vault, 1, ""))
        .unwrap();
    let more: Vec<_> = catalog::synth::synthetic_tree(12, 6_000).collect();
    cat.insert_files(a, &more).unwrap();
    let want = answers(&cat);
    cat.checkpoint().unwrap();
    drop(cat);
    // Put back the index of the first 4000 files.
    std::fs::copy(&saved, index_file(&path)).unwrap();
    let upto = |p: &Path| -> i64 {
        rusqlite::Connection::open(index_file(p))
            .unwrap()
            .query_row("SELECT value FROM meta WHERE key = 'upto'", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(upto(&path), 4_000);
    assert_eq!(answers(&Catalog::open_read_only(&path).unwrap()), want);
    assert_eq!(upto(&path), 4_000, "a reader leaves the index alone");
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(upto(&path), 10_000, "a writer catches up");
    assert_eq!(answers(&cat), want);
}

#[test]
fn a_damaged_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cat.db");
    let mut cat = make(&path, 6_000, 6_000);
    let want = answers(&cat);
    cat.checkpoint().unwrap();
    drop(cat);
    let fts = index_file(&path);
    let len = std::fs::metadata(&fts).unwrap().len();
    std::fs::write(&fts, vec![0x5a; usize::try_from(len).unwrap()]).unwrap();
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(answers(&cat), want);
    assert!(cat.integrity_check().unwrap().is_empty());
}

#[test]
fn searches_never_miss_committed_rows() {
    const BATCH: usize = 5_000;
    const BATCHES: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let archive = {
        let mut cat = Catalog::open(&path).unwrap();
        let store = cat.store("s", "local", None).unwrap();
        let vault = cat.vault(store, "v").unwrap();
        let run = cat
            .begin_run(&catalog::NewRun {
                started: 1,
                ..catalog::NewRun::default()
            })
            .unwrap();
        cat.add_archive(&crate::support::archive(run, vault, 1, ""))
            .unwrap()
    };
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|i| {
            let path = path.clone();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let cat = if i == 0 {
                    Catalog::open_read_only(&path)
                } else {
                    Catalog::open(&path)
                }
                .unwrap();
                // Every synthetic path starts with /data: both count all.
                let rows = "under:/".parse().unwrap();
                let word = "data".parse().unwrap();
                let mut reads = 0;
                while !done.load(Ordering::Acquire) || reads < 3 {
                    let before = cat.count(&rows).unwrap();
                    let found = cat.count(&word).unwrap();
                    assert!(
                        found >= before,
                        "a search missed committed rows: {found} < {before}"
                    );
                    reads += 1;
                }
            })
        })
        .collect();
    let mut cat = Catalog::open(&path).unwrap();
    let files: Vec<_> = catalog::synth::synthetic_tree(3, (BATCH * BATCHES) as u64).collect();
    for chunk in files.chunks(BATCH) {
        cat.insert_files(archive, chunk).unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    let n = (BATCH * BATCHES) as u64;
    assert_eq!(cat.count(&"data".parse().unwrap()).unwrap(), n);
    drop(cat);
    let cat = Catalog::open_read_only(&path).unwrap();
    assert_eq!(cat.count(&"data".parse().unwrap()).unwrap(), n);
}

#[test]
fn file_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cat.db");
    let mut cat = make(&path, 5_000, 5_000);
    let old = cat
        .search_str("budget", Page::first(10_000))
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id)
        .max()
        .unwrap();
    for run in cat.runs().unwrap() {
        cat.delete_run(run.id).unwrap();
    }
    assert_eq!(cat.count(&"data".parse().unwrap()).unwrap(), 0);
    let store = cat.store("s", "local", None).unwrap();
    let vault = cat.vault(store, "v").unwrap();
    let run = cat
        .begin_run(&catalog::NewRun {
            started: 2,
            ..catalog::NewRun::default()
        })
        .unwrap();
    let a = cat
        .add_archive(&crate::support::archive(run, vault, 2, ""))
        .unwrap();
    cat.insert_files(
        a,
        &[crate::support::file("/new/plain.txt", 1, "2020-01-01")],
    )
    .unwrap();
    let hits = cat.search_str("plain", Page::default()).unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert!(hits[0].id > old, "{} reuses an id up to {old}", hits[0].id);
    assert!(
        cat.search_str("budget", Page::default())
            .unwrap()
            .hits
            .is_empty()
    );
    assert_eq!(cat.count(&"under:/".parse().unwrap()).unwrap(), 1);
    assert!(cat.integrity_check().unwrap().is_empty());
}

#[test]
fn a_catalog_moves_between_threads() {
    // Its indexing thread's handles must not pin it to one thread.
    fn send<T: Send>() {}
    send::<Catalog>();
}
