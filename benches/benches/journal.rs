//! Journal replay and append cost.
//!
//! - `journal/replay`: replaying a generated journal (1 M records under
//!   `cargo bench`, 20 k under `cargo test --benches`) whose records are
//!   mostly superseded versions: new versions of 10 % as many files, each
//!   followed by the DELETED record of the version it replaces, and a
//!   retrieval job every tenth step. Throughput is in records. Replay is one
//!   streaming pass; its memory is proportional to the live files (here a
//!   tenth of the records), not to the journal's length, when deleted
//!   archives are not kept (`keep_deleted(false)`), and grows with the
//!   deletions when they are.
//! - `journal/append`: 100 records appended with an fsync per record
//!   (`append`) against one write and one fsync for all of them
//!   (`append_all`). Throughput is in records.

use std::io::{BufWriter, Write as _};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glacier_treehash::TreeHash;
use journal::{ArchiveId, JobId, JournalWriter, ReadOptions, Record, RelName, read_journal};

fn record_count() -> u64 {
    if permafrost_benches::measuring() {
        1_000_000
    } else {
        20_000
    }
}

fn archive_id(n: u64) -> ArchiveId {
    let s = format!("{n:016x}").repeat(9);
    ArchiveId::new(&format!("A{}", &s[..137])).expect("valid id")
}

fn relname(slot: u64) -> RelName {
    RelName::new(&format!("data/dir{:04}/file-{slot:010}.dat", slot % 9973)).expect("valid name")
}

fn created(id: u64, slot: u64) -> Record {
    Record::Created {
        time: 1_400_000_000 + id,
        archive_id: archive_id(id),
        size: 1000 + id,
        mtime: Some(1_300_000_000),
        treehash: TreeHash::leaf(&id.to_le_bytes()),
        relname: relname(slot),
    }
}

/// Writes `records` lines for `live` files; see the module docs.
fn generate(path: &std::path::Path, records: u64, live: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create journal"));
    let mut line = Vec::new();
    let (mut written, mut id) = (0u64, 0u64);
    while written < records {
        let slot = id % live;
        let mut batch = vec![created(id, slot)];
        if id >= live {
            batch.push(Record::Deleted {
                time: 1_400_000_000 + id,
                archive_id: archive_id(id - live),
                relname: relname(slot),
            });
        }
        if id % 10 == 0 {
            batch.push(Record::RetrieveJob {
                time: 1_400_000_000 + id,
                archive_id: archive_id(id),
                job_id: Some(JobId::new(&format!("JOB{id:090}")).expect("valid job id")),
            });
        }
        for r in batch.iter().take((records - written) as usize) {
            line.clear();
            r.write_line(&mut line);
            out.write_all(&line).expect("write journal");
            written += 1;
        }
        id += 1;
    }
    out.flush().expect("flush journal");
}

fn replay(c: &mut Criterion) {
    let records = record_count();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journal");
    generate(&path, records, records / 10);

    let mut g = c.benchmark_group("journal/replay");
    g.throughput(Throughput::Elements(records));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("live-only", |b| {
        b.iter(|| {
            let r =
                read_journal(&path, ReadOptions::default().keep_deleted(false)).expect("replay");
            assert_eq!(r.records, records);
            r.state.file_count()
        });
    });
    g.bench_function("keep-deleted", |b| {
        b.iter(|| {
            let r = read_journal(&path, ReadOptions::default()).expect("replay");
            r.state.deleted().len()
        });
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    const BATCH: u64 = 100;
    // On the disk the build runs on, not a tmpfs, so fsync costs what it
    // costs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let path = dir.path().join("journal");
    let mut writer = JournalWriter::open(&path).expect("open journal");
    let mut next = 0u64;
    let mut batch = || {
        let records: Vec<Record> = (next..next + BATCH).map(|i| created(i, i)).collect();
        next += BATCH;
        records
    };

    let mut g = c.benchmark_group("journal/append");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("fsync-per-record", |b| {
        b.iter_batched(
            &mut batch,
            |records| {
                for r in &records {
                    writer.append(r).expect("append");
                }
            },
            criterion::BatchSize::PerIteration,
        );
    });
    g.bench_function("fsync-per-batch", |b| {
        b.iter_batched(
            &mut batch,
            |records| writer.append_all(&records).expect("append batch"),
            criterion::BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, replay, append);
criterion_main!(benches);
