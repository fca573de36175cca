//! Bundling hot path: walk a tree of small files (half text, half random)
//! and write one zstd bundle into memory, with all threads and with one,
//! and with one thread in plain walk order (random-looking files not
//! grouped); ranged extraction of one member. 2000 files under `cargo
//! bench`, 200 under `cargo test --benches`.

use std::time::Duration;

use bundler::{
    BundleOptions, BundleWriter, ExtractOptions, NameStyle, Selection, WalkOptions, Walker,
    extract_ranges,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn tree(n: usize) -> (tempfile::TempDir, u64) {
    let t = tempfile::tempdir().expect("temp dir");
    let text: Vec<u8> = b"lorem ipsum dolor sit amet consectetur adipiscing elit "
        .iter()
        .copied()
        .cycle()
        .take(1 << 16)
        .collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut total = 0;
    for i in 0..n {
        let dir = t.path().join(format!("d{:03}", i / 500));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let size = 1024 + (i * 7919) % 15_360;
        let data: Vec<u8> = if i % 2 == 0 {
            text[i % 1000..i % 1000 + size].to_vec()
        } else {
            (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 32) as u8
                })
                .collect()
        };
        std::fs::write(dir.join(format!("f{i:06}")), data).expect("write");
        total += size as u64;
    }
    (t, total)
}

fn bundle(crit: &mut Criterion) {
    let files = if permafrost_benches::measuring() {
        2000
    } else {
        200
    };
    let (t, bytes) = tree(files);
    let walk = || {
        Walker::new(WalkOptions {
            roots: vec![t.path().to_path_buf()],
            name_style: NameStyle::RelativeToRoot,
            ..WalkOptions::default()
        })
        .expect("walker")
        .walk()
        .expect("walk")
    };
    let entries = walk().entries;
    let mut g = crit.benchmark_group("bundle");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("walk", |b| b.iter(walk));
    // The last one keeps walk order inside frames (random-looking files
    // not grouped after the text ones): what the grouping saves.
    for (name, threads, group_incompressible) in [
        ("write-zstd1-all-threads", 0, true),
        ("write-zstd1-one-thread", 1, true),
        ("write-zstd1-one-thread-walk-order", 1, false),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                BundleWriter::new(
                    Vec::with_capacity(bytes as usize),
                    BundleOptions {
                        threads,
                        group_incompressible,
                        ..BundleOptions::default()
                    },
                )
                .write(&entries)
                .expect("bundle")
            });
        });
    }
    g.finish();

    let written = BundleWriter::new(Vec::new(), BundleOptions::default())
        .write(&entries)
        .expect("bundle");
    let m = written
        .index
        .members
        .iter()
        .rfind(|m| m.size > 0)
        .expect("a file")
        .clone();
    let mut g = crit.benchmark_group("extract");
    g.throughput(Throughput::Bytes(m.size));
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.bench_function("one-member-from-ranges", |b| {
        b.iter(|| {
            let out = tempfile::tempdir().expect("temp dir");
            extract_ranges(
                &written.sink,
                &written.index,
                &Selection::paths([&m.path.0]),
                out.path(),
                &ExtractOptions::default(),
            )
            .expect("extract")
        });
    });
    g.finish();
}

criterion_group!(benches, bundle);
criterion_main!(benches);
