//! Upload throughput of the glacier-multipart engine: one file to the local
//! directory store with one and four parts in flight, and to the fake
//! Glacier HTTP endpoint through the real AWS SDK store. Inputs are 256 MiB
//! under `cargo bench` and 8 MiB under `cargo test --benches`; the 2 GiB
//! figures come from `benches/measure-upload.sh`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fake_glacier::{FakeGlacier, FakeOptions};
use glacier_multipart::{
    ArchiveStore, GlacierOptions, GlacierStore, LocalStore, NoProgress, UploadOptions, Uploader,
};

fn input_len() -> usize {
    if permafrost_benches::measuring() {
        256 << 20
    } else {
        8 << 20
    }
}

fn source() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = Vec::with_capacity(1 << 20);
    for _ in 0..input_len() >> 20 {
        buf.clear();
        for _ in 0..(1 << 17) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        file.write_all(&buf).expect("write bench file");
    }
    file.flush().expect("flush bench file");
    file
}

fn options(concurrency: usize) -> UploadOptions {
    UploadOptions {
        part_size: 16 << 20,
        concurrency,
        ..UploadOptions::default()
    }
}

fn to_local(c: &mut Criterion) {
    let file = source();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::open(dir.path()).expect("local store");
    store.create_vault("bench").expect("vault");
    let store: Arc<dyn ArchiveStore> = Arc::new(store);
    let mut g = c.benchmark_group("upload/local");
    g.throughput(Throughput::Bytes(input_len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for concurrency in [1, 4] {
        let up = Uploader::new(Arc::clone(&store), options(concurrency));
        g.bench_with_input(
            BenchmarkId::new("concurrency", concurrency),
            &up,
            |b, up| {
                b.iter(|| {
                    let a = up
                        .upload_file("bench", file.path(), "bench", &NoProgress)
                        .expect("upload");
                    store
                        .delete_archive("bench", &a.archive_id)
                        .expect("delete");
                });
            },
        );
    }
    g.finish();
}

fn to_fake_http(c: &mut Criterion) {
    let file = source();
    let fake = FakeGlacier::start(&FakeOptions::default()).expect("fake glacier");
    let store = GlacierStore::connect(&GlacierOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(fake.endpoint()),
        static_credentials: Some(("AKIDBENCH".into(), "secret".into())),
        ..GlacierOptions::default()
    })
    .expect("glacier store");
    store.create_vault("bench").expect("vault");
    let store: Arc<dyn ArchiveStore> = Arc::new(store);
    let mut g = c.benchmark_group("upload/fake-glacier-http");
    g.throughput(Throughput::Bytes(input_len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for concurrency in [1, 4] {
        let up = Uploader::new(Arc::clone(&store), options(concurrency));
        g.bench_with_input(
            BenchmarkId::new("concurrency", concurrency),
            &up,
            |b, up| {
                b.iter(|| {
                    let a = up
                        .upload_file("bench", file.path(), "bench", &NoProgress)
                        .expect("upload");
                    store
                        .delete_archive("bench", &a.archive_id)
                        .expect("delete");
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, to_local, to_fake_http);
criterion_main!(benches);
