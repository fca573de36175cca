//! Tree hash throughput: one thread and all threads, in memory and from a
//! file in the page cache. Inputs are 1 GiB under `cargo bench` and 8 MiB
//! under `cargo test --benches`.

use std::io::Write as _;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use glacier_treehash::{TreeHasher, tree_hash, tree_hash_file};

fn input_len() -> usize {
    if permafrost_benches::measuring() {
        1 << 30
    } else {
        8 << 20
    }
}

fn threads_all() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn data(len: usize) -> Vec<u8> {
    // Not all zeros, so nothing can shortcut it.
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn in_memory(c: &mut Criterion) {
    let len = input_len();
    let data = data(len);
    let mut g = c.benchmark_group("treehash/memory");
    g.throughput(Throughput::Bytes(len as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("one-shot", |b| b.iter(|| tree_hash(&data)));
    g.bench_function("streaming-64KiB-writes", |b| {
        b.iter(|| {
            let mut h = TreeHasher::new();
            for piece in data.chunks(64 << 10) {
                h.update(piece);
            }
            h.finish()
        });
    });
    g.finish();
}

fn from_file(c: &mut Criterion) {
    let len = input_len();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data(len)).expect("write bench file");
    file.flush().expect("flush bench file");
    // Warm the page cache so the bench measures hashing, not the disk.
    let _ = tree_hash_file(file.path(), threads_all()).expect("warm-up read");

    let mut g = c.benchmark_group("treehash/file");
    g.throughput(Throughput::Bytes(len as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for threads in [1, threads_all()] {
        g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, &t| {
            b.iter(|| tree_hash_file(file.path(), t).expect("hash bench file"));
        });
    }
    g.finish();
}

criterion_group!(benches, in_memory, from_file);
criterion_main!(benches);
