//! Writing a target to the file-backed tape: tar stream, 1 MiB blocks
//! through the RAM buffer, MD5 and SHA-256 of every file.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tape_io::target::{LocalDir, WriteOptions, write_target};
use tape_io::{FileTape, FileTapeOptions};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src");
    std::fs::create_dir(&src).expect("src dir");
    let (files, size): (usize, usize) = if permafrost_benches::measuring() {
        (8, 32 << 20)
    } else {
        (2, 1 << 20)
    };
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..files {
        let data: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        std::fs::write(src.join(format!("f{i}")), data).expect("write source");
    }
    let tape = dir.path().join("t.tap");
    let opts = WriteOptions {
        buffer_size: 64 << 20,
        ..WriteOptions::default()
    };
    let mut g = c.benchmark_group("tape");
    g.throughput(Throughput::Bytes((files * size) as u64));
    g.sample_size(10);
    g.bench_function("write_target_with_checksums", |b| {
        b.iter(|| {
            let mut t = FileTape::create(&tape, FileTapeOptions::default()).expect("tape");
            write_target(&mut t, "src", &mut LocalDir::new(&src), None, &opts).expect("write")
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
