//! The whole archive run, as `glacier-sync archive` does it: walk a tree
//! of small text files, bundle, store into a fresh local store, record
//! every file in a fresh catalog, store the run's export. 2000 files under
//! `cargo bench`, 100 under `cargo test --benches` (one smoke run).
//! `benches/compare-archive.sh` runs the same flow at 200,000 files
//! against `tar | zstd`.

use std::sync::Arc;
use std::time::Duration;

use archiver::glacier_multipart::LocalStore;
use archiver::{ArchiveCatalog, ArchiveOptions, NoObserver, Sources, Vault};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// `n` text files of 200 B - 8 KB in directories of 100; their bytes.
fn tree(n: usize) -> (tempfile::TempDir, u64) {
    let t = tempfile::tempdir().expect("temp dir");
    let words = [
        "permafrost ",
        "glacier ",
        "tundra ",
        "archive ",
        "bundle ",
        "catalog ",
        "zstd ",
        "tape ",
        "cold ",
        "vault ",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut total = 0;
    for i in 0..n {
        let dir = t
            .path()
            .join(format!("g{:02}/s{:02}", i % 10, (i / 10) % 10));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let size = 200 + (i * 7919) % 7800;
        let mut body = String::with_capacity(size + 16);
        while body.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            body.push_str(words[(x % words.len() as u64) as usize]);
        }
        body.truncate(size);
        std::fs::write(dir.join(format!("f{i}.txt")), body).expect("write");
        total += size as u64;
    }
    (t, total)
}

fn archive(crit: &mut Criterion) {
    let files = if permafrost_benches::measuring() {
        2000
    } else {
        100
    };
    let (t, bytes) = tree(files);
    let sources = Sources::roots([t.path()]);
    let options = ArchiveOptions::default();
    let mut g = crit.benchmark_group("archive");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function(format!("run {files} files"), |b| {
        b.iter_batched(
            || {
                let out = tempfile::tempdir().expect("temp dir");
                let store = LocalStore::open(out.path().join("store")).expect("store");
                let vault = Vault::new(Arc::new(store), "default");
                let catalog =
                    ArchiveCatalog::open(out.path().join("catalog.sqlite")).expect("catalog");
                (out, vault, catalog)
            },
            |(out, vault, mut catalog)| {
                let s = archiver::archive(&sources, &options, &vault, &mut catalog, &NoObserver)
                    .expect("archive run");
                assert_eq!(s.files, files as u64);
                (out, catalog)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, archive);
criterion_main!(benches);
