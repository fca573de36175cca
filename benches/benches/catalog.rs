//! The catalog's hot paths: bulk insertion of file rows and the first page
//! of a search. Under `cargo bench` the search runs over 1 000 000
//! synthetic files and insertion measures 200 000 rows; under
//! `cargo test --benches` both are small.
//!
//! Throughput is in rows (files), not bytes: what the goals count.
//! The documented 10 million-file run is `crates/catalog/examples/scale.rs`
//! (docs/catalog-scale.md).
//!
//! With `PERMAFROST_POSTGRES_URL` set (a role that may create databases,
//! as `scripts/services/postgres start` prints), the same two groups run on
//! the PostgreSQL backend too, as `catalog-postgres/…`, each catalog in a
//! database of its own that is dropped afterwards; without it they are
//! left out and a line on standard error says so.

#![allow(clippy::print_stderr)] // says when the PostgreSQL groups are left out

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

/// Where a benchmarked catalog lives.
enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server.
    Postgres(String),
}

/// A catalog opened for one measurement, with what removes it.
struct Opened {
    cat: Catalog,
    _dir: Option<tempfile::TempDir>,
    db: Option<PgDatabase>,
    /// The PostgreSQL database's URL.
    url: Option<String>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        // The catalog's connection closes before its database is dropped.
        let _ = std::mem::replace(&mut self.cat, Catalog::open_in_memory().unwrap());
        drop(self.db.take());
    }
}

/// A database of its own on the server, dropped with the value.
struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

impl Backend {
    fn all() -> Vec<Backend> {
        let mut all = vec![Backend::Sqlite];
        match std::env::var("PERMAFROST_POSTGRES_URL") {
            Ok(url) => all.push(Backend::Postgres(url)),
            Err(_) => eprintln!(
                "catalog bench: PERMAFROST_POSTGRES_URL is not set, so catalog-postgres/* is left out \
                 (eval \"$(scripts/services/postgres start)\" first to include it)"
            ),
        }
        all
    }

    fn group(&self, name: &str) -> String {
        match self {
            Backend::Sqlite => format!("catalog/{name}"),
            Backend::Postgres(_) => format!("catalog-postgres/{name}"),
        }
    }

    fn open(&self) -> Opened {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let cat = Catalog::open(dir.path().join("bench.db")).unwrap();
                Opened {
                    cat,
                    _dir: Some(dir),
                    db: None,
                    url: None,
                }
            }
            Backend::Postgres(admin) => {
                use std::sync::atomic::{AtomicU32, Ordering};
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "bench_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let mut c = postgres::Client::connect(admin, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
                c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
                let db = PgDatabase {
                    admin: admin.clone(),
                    name: name.clone(),
                };
                let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
                let url = format!("{base}/{name}");
                let cat = Catalog::open_location(&url)
                    .unwrap_or_else(|e| panic!("opening the catalog in {name}: {e}"));
                Opened {
                    cat,
                    _dir: None,
                    db: Some(db),
                    url: Some(url),
                }
            }
        }
    }
}

fn insert(c: &mut Criterion) {
    for backend in Backend::all() {
        insert_on(c, &backend);
    }
}

fn insert_on(c: &mut Criterion, backend: &Backend) {
    let (n, _) = sizes();
    let files: Vec<FileEntry> = synthetic_tree(1, n).collect();
    let mut g = c.benchmark_group(backend.group("insert"));
    g.throughput(Throughput::Elements(n));
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(BenchmarkId::new("files", n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut opened = backend.open();
                let cat = &mut opened.cat;
                let t = Instant::now();
                fill(cat, &files);
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
    for backend in Backend::all() {
        search_on(c, &backend);
    }
}

fn search_on(c: &mut Criterion, backend: &Backend) {
    let (_, n) = sizes();
    let mut opened = backend.open();
    let files: Vec<FileEntry> = synthetic_tree(2, n).collect();
    fill(&mut opened.cat, &files);
    drop(files);
    match backend {
        Backend::Sqlite => opened.cat.checkpoint().unwrap(),
        // The planner's statistics made current, as autovacuum would.
        Backend::Postgres(_) => {
            let url = opened.url.as_deref().expect("a database URL");
            postgres::Client::connect(url, postgres::NoTls)
                .and_then(|mut c| c.batch_execute("VACUUM ANALYZE"))
                .unwrap_or_else(|e| panic!("VACUUM ANALYZE in {url}: {e}"));
        }
    }
    let cat = &opened.cat;
    let mut g = c.benchmark_group(backend.group(&format!("search-{n}")));
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
