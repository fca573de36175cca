//! Several readers while one writer works, from separate connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use catalog::{Catalog, Page};

const BATCH: usize = 500;
const BATCHES: usize = 30;

#[test]
fn readers_see_whole_batches_while_a_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let (archive, run) = {
        let mut cat = Catalog::open(&path).unwrap();
        let store = cat.store("s", "local", None).unwrap();
        let vault = cat.vault(store, "v").unwrap();
        let run = cat
            .begin_run(&catalog::NewRun {
                started: 1,
                ..catalog::NewRun::default()
            })
            .unwrap();
        (
            cat.add_archive(&crate::support::archive(run, vault, 1, ""))
                .unwrap(),
            run,
        )
    };
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
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
                let q = "xlsx".parse().unwrap();
                let all = "under:/".parse().unwrap();
                let mut last = 0;
                let mut reads = 0;
                while !done.load(Ordering::Acquire) || reads < 5 {
                    let n = cat.count(&all).unwrap();
                    assert_eq!(n % BATCH as u64, 0, "a reader saw half a batch: {n}");
                    assert!(n >= last, "counts went backwards: {last} then {n}");
                    last = n;
                    let page = cat.search(&q, Page::first(20)).unwrap();
                    assert!(
                        page.hits
                            .iter()
                            .all(|h| h.path.to_ascii_lowercase().contains("xlsx"))
                    );
                    let run = cat.run(run).unwrap().unwrap();
                    assert_eq!(run.files % BATCH as u64, 0);
                    reads += 1;
                }
                last
            })
        })
        .collect();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut cat = Catalog::open(&path).unwrap();
            let files: Vec<_> =
                catalog::synth::synthetic_tree(3, (BATCH * BATCHES) as u64).collect();
            for chunk in files.chunks(BATCH) {
                cat.insert_files(archive, chunk).unwrap();
            }
        })
    };
    // A second writer takes turns with the first (busy timeout, not an error).
    let second = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut cat = Catalog::open(&path).unwrap();
            for i in 0..20 {
                cat.tag_run(run, &[&format!("t{i}")]).unwrap();
            }
        })
    };
    writer.join().unwrap();
    second.join().unwrap();
    done.store(true, Ordering::Release);
    for r in readers {
        let last = r.join().unwrap();
        assert!(last <= (BATCH * BATCHES) as u64);
    }
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(
        cat.count(&"under:/".parse().unwrap()).unwrap(),
        (BATCH * BATCHES) as u64
    );
    assert_eq!(cat.run(run).unwrap().unwrap().tags.len(), 20);
}
