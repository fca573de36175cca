//! The catalog at scale: insert N synthetic files, then time two-word
//! searches. See docs/catalog-scale.md.
//!
//! ```sh
//! cargo run --release -p catalog --example scale -- 10000000 /tmp/scale.db
//! ```
//!
//! Arguments: number of files (default 1 000 000), catalog path (default a
//! file in the temporary directory; an existing file there is replaced),
//! files per archive (default 1000).
//!
//! `--catalog postgres://USER@HOST:PORT/DB` (anywhere among the arguments)
//! measures the PostgreSQL backend instead, in that database, which must
//! hold no catalog runs yet (create an empty one); the path is then unused.
//! Its sizes are the database's (`pg_database_size`), and its second round
//! of searches follows a `VACUUM ANALYZE` instead of `optimize`.
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

use std::time::{Duration, Instant};

use catalog::synth::synthetic_tree;
use catalog::{ArchiveState, Catalog, FileEntry, NewArchive, NewRun, Page, Query};

/// CPU time of this process (user + system), from /proc (Linux; zero elsewhere):
/// the machine may be shared, and CPU time is steadier than wall time.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name; 100 ticks/s.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Bytes of the catalog and its search index (`<catalog>-fts`), checkpointed.
fn db_size(path: &std::path::Path) -> std::io::Result<u64> {
    let mut fts = path.as_os_str().to_owned();
    fts.push("-fts");
    Ok(std::fs::metadata(path)?.len() + std::fs::metadata(fts)?.len())
}

/// CPU time of each thread of this process, by name (Linux; empty elsewhere).
fn thread_cpu_times() -> Vec<(String, Duration)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in dir.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |x| x.1).to_owned();
        let f: Vec<u64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        out.push((name, Duration::from_millis(ticks * 10)));
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn time_queries(
    cat: &Catalog,
    label: &str,
    queries: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut times = Vec::new();
    let mut empty = 0;
    for q in queries {
        let q: Query = q.parse()?;
        let t = Instant::now();
        let page = cat.search(&q, Page::first(50))?;
        times.push(t.elapsed());
        if page.hits.is_empty() {
            empty += 1;
        }
    }
    let mut slowest: Vec<(Duration, &String)> = times.iter().copied().zip(queries).collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    times.sort();
    println!(
        "{label}: {} queries ({empty} without hits): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    for (t, q) in slowest.iter().take(3) {
        println!("    slowest: {q:<30} {:.2} ms", t.as_secs_f64() * 1e3);
    }
    Ok(())
}

/// Two tokens of existing paths (at least one hit each), random pairs of
/// vocabulary words (often no hit: the worst case), and fixed queries.
fn queries(n: u64) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut queries_hit = Vec::new();
    for (i, f) in synthetic_tree(42, n)
        .step_by((n as usize / 200).max(1))
        .enumerate()
    {
        let toks = catalog::query_tokens(&f.path);
        let a = &toks[3 + i % (toks.len() - 3)];
        let b = &toks[(i * 7 + 1) % toks.len()];
        queries_hit.push(format!("{a} {b}"));
    }
    let vocab: Vec<String> = synthetic_tree(7, 2000)
        .flat_map(|f| catalog::query_tokens(&f.path))
        .filter(|t| t.len() > 2 && !t.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let mut queries_pairs = Vec::new();
    for i in 0..200usize {
        let a = &vocab[(i * 7919) % vocab.len()];
        let b = &vocab[(i * 104_729 + 13) % vocab.len()];
        queries_pairs.push(format!("{a} {b}"));
    }
    let fixed: Vec<String> = [
        "budget 2019",
        "report final",
        "scan 2010",
        "budget 2019 xlsx",
        "\"budget 2019\"",
        "final -draft",
        "invoice size:>1M",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();

    (queries_hit, queries_pairs, fixed)
}

/// The database's size in bytes, and a client on it (for `VACUUM`).
fn pg_size(location: &str) -> Result<(u64, postgres::Client), Box<dyn std::error::Error>> {
    let mut c = postgres::Client::connect(location, postgres::NoTls)?;
    let size: i64 = c
        .query_one("SELECT pg_database_size(current_database())", &[])?
        .get(0);
    Ok((size as u64, c))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let pg = match args.iter().position(|a| a == "--catalog") {
        Some(i) => {
            let loc = args
                .get(i + 1)
                .cloned()
                .ok_or("--catalog needs a location")?;
            args.drain(i..=i + 1);
            if !loc.starts_with("postgres://") {
                return Err(
                    format!("--catalog {loc}: expected postgres://USER@HOST:PORT/DB").into(),
                );
            }
            Some(loc)
        }
        None => None,
    };
    let open = |path: &std::path::Path| match &pg {
        Some(loc) => Catalog::open_location(loc),
        None => Catalog::open(path),
    };
    // `--queries-only N PATH`: time the searches on a catalog made before.
    let queries_only = args.first().is_some_and(|a| a == "--queries-only");
    if queries_only {
        args.remove(0);
    }
    // `--insert-only N PATH`: stop after the insertion figures.
    let insert_only = args.first().is_some_and(|a| a == "--insert-only");
    if insert_only {
        args.remove(0);
    }
    let n: u64 = args.first().map_or(Ok(1_000_000), |s| s.parse())?;
    let path = args.get(1).map_or_else(
        || std::env::temp_dir().join("permafrost-catalog-scale.db"),
        std::path::PathBuf::from,
    );
    let per_archive: usize = args.get(2).map_or(Ok(1000), |s| s.parse())?;
    if queries_only {
        let cat = open(&path)?;
        let (hit, pairs, fixed) = queries(n);
        time_queries(&cat, "two words of an existing path", &hit)?;
        time_queries(&cat, "random vocabulary pairs", &pairs)?;
        time_queries(&cat, "fixed", &fixed)?;
        return Ok(());
    }
    if pg.is_none() {
        for suffix in ["", "-wal", "-shm", "-fts", "-fts-wal", "-fts-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    let mut cat = open(&path)?;
    if !cat.runs()?.is_empty() {
        return Err(format!(
            "{} already holds runs: measure in an empty one",
            cat.path().display()
        )
        .into());
    }
    let store = cat.store("local", "local", None)?;
    let vault = cat.vault(store, "scale")?;
    let run = cat.begin_run(&NewRun {
        roots: vec!["/data".into()],
        description: "synthetic scale run".into(),
        tags: vec!["synthetic".into()],
        started: 0,
        ..NewRun::default()
    })?;
    let mut files = synthetic_tree(42, n);
    let start = Instant::now();
    let cpu_start = cpu_time();
    let mut done = 0u64;
    let mut gen_time = Duration::ZERO;
    // Bundles of `per_archive` files, recorded 50 bundles per transaction.
    loop {
        let t = Instant::now();
        let bundles: Vec<Vec<FileEntry>> = (0..50)
            .map(|_| files.by_ref().take(per_archive).collect::<Vec<_>>())
            .filter(|b| !b.is_empty())
            .collect();
        gen_time += t.elapsed();
        if bundles.is_empty() {
            break;
        }
        let mut keys = Vec::new();
        for b in &bundles {
            keys.push(cat.add_archive(&NewArchive {
                run,
                vault,
                remote_id: Some(format!("archive-{}", done + keys.len() as u64)),
                size: b.iter().map(|f| f.size).sum(),
                stored_size: None,
                tree_hash: None,
                description: String::new(),
                tags: vec![],
                created: 0,
                state: ArchiveState::Stored,
                recipients: vec![],
            })?);
        }
        let parts: Vec<_> = keys
            .iter()
            .copied()
            .zip(bundles.iter().map(Vec::as_slice))
            .collect();
        cat.insert_many(&parts)?;
        let before = done;
        done += bundles.iter().map(|b| b.len() as u64).sum::<u64>();
        if done / 1_000_000 != before / 1_000_000 {
            println!(
                "  {done} files, {:.0} rows/s",
                done as f64 / start.elapsed().saturating_sub(gen_time).as_secs_f64()
            );
        }
    }
    // The last batch's postings are committed by the indexing thread after
    // `insert_many` returns; a search on this catalog waits for them (a
    // search elsewhere would test the batch row by row): count it in.
    cat.search_str("settle", Page::first(1))?;
    let insert = start.elapsed().saturating_sub(gen_time);
    let insert_cpu = cpu_time()
        .saturating_sub(cpu_start)
        .saturating_sub(gen_time);
    let mut side = None;
    let size = if let Some(loc) = &pg {
        let (size, c) = pg_size(loc)?;
        side = Some(c);
        size
    } else {
        cat.checkpoint()?;
        db_size(&path)?
    };
    println!(
        "inserted {n} files in {:.1} s (+{:.1} s generating): {:.0} rows/s wall, {:.0} rows/s of CPU time, archives of {per_archive} files, 50 archives per transaction",
        insert.as_secs_f64(),
        gen_time.as_secs_f64(),
        n as f64 / insert.as_secs_f64(),
        n as f64 / insert_cpu.as_secs_f64(),
    );
    let threads: Vec<String> = thread_cpu_times()
        .iter()
        .map(|(name, t)| format!("{name} {:.1} s", t.as_secs_f64()))
        .collect();
    println!(
        "CPU time by thread (the main one includes generating the files): {}",
        threads.join(", ")
    );
    if pg.is_some() {
        println!(
            "database: {size} bytes, {:.0} bytes per file (PostgreSQL, tables and indexes)",
            size as f64 / n as f64,
        );
    } else {
        println!(
            "database: {size} bytes, {:.0} bytes per file (catalog {} + search index {})",
            size as f64 / n as f64,
            std::fs::metadata(&path)?.len(),
            size - std::fs::metadata(&path)?.len(),
        );
    }

    if insert_only {
        return Ok(());
    }
    let (queries_hit, queries_pairs, fixed) = queries(n);

    for round in ["as inserted", "after optimize"] {
        if round == "after optimize" {
            let t = Instant::now();
            let size = if let (Some(loc), Some(c)) = (&pg, side.as_mut()) {
                c.batch_execute("VACUUM ANALYZE")?;
                println!("(PostgreSQL: VACUUM ANALYZE in place of optimize)");
                pg_size(loc)?.0
            } else {
                cat.optimize()?;
                db_size(&path)?
            };
            println!(
                "optimize: {:.1} s; database now {size} bytes, {:.0} bytes per file",
                t.elapsed().as_secs_f64(),
                size as f64 / n as f64
            );
        }
        println!("-- {round}");
        time_queries(&cat, "two words of an existing path", &queries_hit)?;
        time_queries(&cat, "random vocabulary pairs", &queries_pairs)?;
        for q in &fixed {
            let parsed: Query = q.parse()?;
            let t = Instant::now();
            let page = cat.search(&parsed, Page::first(50))?;
            let first = t.elapsed();
            let t = Instant::now();
            let _ = cat.search(&parsed, Page::first(50))?;
            println!(
                "  {q:<24} {:>3} hits on page 1: {:.2} ms (again {:.2} ms)",
                page.hits.len(),
                first.as_secs_f64() * 1e3,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
