//! The catalog's hot paths: bulk insertion of file rows and the first page
//! of a search. Under `cargo bench` the search runs over 1 000 000
//! synthetic files and insertion measures 200 000 rows; under
//! `cargo test --benches` both are small.
//!
//! Throughput is in rows (files), not bytes: what the goals count.
//! The documented 10 million-file run is `crates/catalog/examples/scale.rs`
//! (docs/catalog-scale.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use catalog::synth::synthetic_tree;
use catalog::{ArchiveKey, ArchiveState, Catalog, FileEntry, NewArchive, NewRun, Page, Query};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const PER_ARCHIVE: usize = 1000;
const ARCHIVES_PER_TX: usize = 50;

fn sizes() -> (u64, u64) {
    if permafrost_benches::measuring() {
        (200_000, 1_000_000)
    } else {
        (5_000, 20_000)
    }
}

/// Records `files` in bundles of [`PER_ARCHIVE`], [`ARCHIVES_PER_TX`] bundles per transaction.
fn fill(cat: &mut Catalog, files: &[FileEntry]) {
    let store = cat.store("bench", "local", None).unwrap();
    let vault = cat.vault(store, "bench").unwrap();
    let run = cat
        .begin_run(&NewRun {
            started: 0,
            ..NewRun::default()
        })
        .unwrap();
    for group in files.chunks(PER_ARCHIVE * ARCHIVES_PER_TX) {
        let mut parts: Vec<(ArchiveKey, &[FileEntry])> = Vec::new();
        for bundle in group.chunks(PER_ARCHIVE) {
            let key = cat
                .add_archive(&NewArchive {
                    run,
                    vault,
                    remote_id: None,
                    size: 0,
                    stored_size: None,
                    tree_hash: None,
                    description: String::new(),
                    tags: vec![],
                    created: 0,
                    state: ArchiveState::Stored,
                    recipients: vec![],
                })
                .unwrap();
            parts.push((key, bundle));
        }
        cat.insert_many(&parts).unwrap();
    }
}

fn insert(c: &mut Criterion) {
    let (n, _) = sizes();
    let files: Vec<FileEntry> = synthetic_tree(1, n).collect();
    let mut g = c.benchmark_group("catalog/insert");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(BenchmarkId::new("files", n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let mut cat = Catalog::open(dir.path().join("bench.db")).unwrap();
                let t = Instant::now();
                fill(&mut cat, &files);
                // The last batch's postings are committed by the indexing
                // thread after `insert_many` returns: a search here waits
                // for them, so they are counted.
                black_box(cat.search_str("settle", Page::first(1)).unwrap());
                total += t.elapsed();
            }
            total
        });
    });
    g.finish();
}

fn search(c: &mut Criterion) {
    let (_, n) = sizes();
    let dir = tempfile::tempdir().unwrap();
    let mut cat = Catalog::open(dir.path().join("bench.db")).unwrap();
    let files: Vec<FileEntry> = synthetic_tree(2, n).collect();
    fill(&mut cat, &files);
    drop(files);
    cat.checkpoint().unwrap();
    let mut g = c.benchmark_group(format!("catalog/search-{n}"));
    g.throughput(Throughput::Elements(1));
    for q in [
        "budget 2019",
        "report final",
        "\"budget 2019\"",
        "scan 2010 jpg",
        "invoice -draft size:>1M",
        "kalo*",
    ] {
        let query: Query = q.parse().unwrap();
        g.bench_function(q, |b| {
            b.iter(|| black_box(cat.search(&query, Page::first(50)).unwrap()));
        });
    }
    g.finish();
}

criterion_group!(benches, insert, search);
criterion_main!(benches);
