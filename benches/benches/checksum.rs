//! The checksum S3 verifies on every part and PUT: SHA-256
//! (`x-amz-checksum-sha256`) against CRC64NVME, both through
//! `aws-smithy-checksums`, the implementation the SDK runs for `S3Store`
//! (it computes the header as the body streams out), on part-sized buffers
//! (8 MiB, the default part size, and 64 MiB under `cargo bench`; 1 MiB
//! under `cargo test --benches`). The tree hash (SHA-256 per MiB, our own
//! `glacier-treehash`) is computed once per archive either way, so it is
//! shown beside them: choosing SHA-256 for S3 would hash every byte twice.

use std::time::Duration;

use aws_smithy_checksums::ChecksumAlgorithm;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn sizes() -> Vec<usize> {
    if permafrost_benches::measuring() {
        vec![8 << 20, 64 << 20]
    } else {
        vec![1 << 20]
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The SDK's checksum of `data`, fed in 64 KiB pieces as the body streams.
fn sdk_checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> usize {
    let mut c = algorithm.into_impl();
    for piece in data.chunks(64 << 10) {
        c.update(piece);
    }
    c.finalize().len()
}

fn part_checksums(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum/part");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for len in sizes() {
        let buf = data(len);
        g.throughput(Throughput::Bytes(len as u64));
        let mib = len >> 20;
        g.bench_with_input(BenchmarkId::new("crc64nvme", mib), &buf, |b, d| {
            b.iter(|| sdk_checksum(ChecksumAlgorithm::Crc64Nvme, d));
        });
        g.bench_with_input(BenchmarkId::new("sha256", mib), &buf, |b, d| {
            b.iter(|| sdk_checksum(ChecksumAlgorithm::Sha256, d));
        });
        g.bench_with_input(BenchmarkId::new("treehash", mib), &buf, |b, d| {
            b.iter(|| glacier_treehash::tree_hash(d));
        });
    }
    g.finish();
}

criterion_group!(benches, part_checksums);
criterion_main!(benches);
