//! Generates a large journal and replays it, for measuring replay speed and
//! memory.
//!
//! ```text
//! cargo run --release -p journal --example replay -- generate PATH RECORDS LIVE_FILES
//! cargo run --release -p journal --example replay -- replay PATH [--no-deleted]
//! ```
//!
//! `generate` writes `RECORDS` version-B lines: new versions of `LIVE_FILES`
//! files in turn, each followed (after the first round) by the `DELETED`
//! record of the version it replaces, and a `RETRIEVE_JOB` every tenth step.
//! So the journal is long but only `LIVE_FILES` archives are live at the end.
//! `replay` prints records, live archives and files, time and records/s;
//! run it under `/usr/bin/time -f %M` for the peak RSS.

// An example is a small program: it reports on standard output.
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::io::{BufWriter, Write as _};
use std::time::Instant;

use glacier_treehash::TreeHash;
use journal::{ArchiveId, JobId, ReadOptions, Record, RelName, read_journal};

fn archive_id(n: u64) -> ArchiveId {
    // Glacier's ids are 138 characters of base64url.
    let s = format!("{n:016x}").repeat(9);
    ArchiveId::new(&format!("A{}", &s[..137])).expect("valid id")
}

fn generate(path: &str, records: u64, live: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut line = Vec::with_capacity(512);
    let (mut written, mut step, mut next_id) = (0u64, 0u64, 0u64);
    // archive id currently live for each file slot
    let mut current: Vec<Option<u64>> = vec![None; live as usize];
    let time0 = 1_400_000_000u64;
    while written < records {
        let slot = step % live;
        let name = RelName::new(&format!(
            "data/dir{:04}/sub{:03}/file-{slot:010}.dat",
            slot % 9973,
            slot % 997
        ))
        .expect("valid name");
        let time = time0 + step;
        let id = next_id;
        next_id += 1;
        let mut batch = vec![Record::Created {
            time,
            archive_id: archive_id(id),
            size: 1000 + id % 100_000,
            mtime: Some(i64::try_from(time).unwrap_or(i64::MAX) - 1000),
            treehash: TreeHash::leaf(&id.to_le_bytes()),
            relname: name.clone(),
        }];
        if let Some(old) = current[slot as usize].replace(id) {
            batch.push(Record::Deleted {
                time,
                archive_id: archive_id(old),
                relname: name,
            });
        }
        if step % 10 == 0 {
            batch.push(Record::RetrieveJob {
                time,
                archive_id: archive_id(id),
                job_id: Some(JobId::new(&format!("JOB{id:090}")).expect("valid job id")),
            });
        }
        for r in batch {
            if written == records {
                break;
            }
            line.clear();
            r.write_line(&mut line);
            out.write_all(&line)?;
            written += 1;
        }
        step += 1;
    }
    out.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", path, records, live] => {
            let t = Instant::now();
            generate(path, records.parse()?, live.parse()?)?;
            let size = std::fs::metadata(path)?.len();
            println!(
                "generated {records} records, {size} bytes, in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        ["replay", path, ref rest @ ..] => {
            let keep_deleted = !rest.contains(&"--no-deleted");
            let t = Instant::now();
            let replay = read_journal(path, ReadOptions::default().keep_deleted(keep_deleted))?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "replayed {} records ({} lines) in {secs:.2} s: {:.0} records/s; {} live archives, {} files, {} deleted kept",
                replay.records,
                replay.lines,
                replay.records as f64 / secs,
                replay.state.archive_count(),
                replay.state.file_count(),
                replay.state.deleted().len(),
            );
        }
        _ => {
            return Err("usage: replay generate PATH RECORDS LIVE_FILES | replay replay PATH [--no-deleted]".into());
        }
    }
    Ok(())
}
