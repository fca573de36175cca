//! Archives a tree into a fresh local store (as `glacier-sync archive`
//! does, fsync included) and prints when each stage of the run ended, with
//! the process's CPU seconds by then: the timeline behind
//! `docs/performance.md`.
//!
//! ```text
//! archive-stages TREE [JOBS]
//! ```
//!
//! The store and catalog go to a temporary directory beside TREE (same
//! disk), removed at the end.
#![allow(clippy::print_stdout)] // a measuring tool: it reports on stdout

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use archiver::glacier_multipart::LocalStore;
use archiver::{
    ArchiveCatalog, ArchiveOptions, BundleEvent, Observer, PlanSummary, RunStarted, Sources, Vault,
};

/// User + system CPU seconds of this process so far (from /proc).
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses; utime and stime are
    // the 14th and 15th fields, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

struct Stages {
    start: Instant,
    marks: Mutex<Vec<(String, f64, f64)>>,
    stored: Mutex<usize>,
    bundles: Mutex<usize>,
}

impl Stages {
    fn mark(&self, what: impl Into<String>) {
        let t = self.start.elapsed().as_secs_f64();
        if let Ok(mut m) = self.marks.lock() {
            m.push((what.into(), t, cpu()));
        }
    }
}

impl Observer for Stages {
    fn planned(&self, plan: &PlanSummary) {
        if let Ok(mut b) = self.bundles.lock() {
            *b = plan.bundles;
        }
        self.mark(format!(
            "walked and planned ({} entries, {} bundles)",
            plan.entries, plan.bundles
        ));
    }
    fn run_started(&self, _: &RunStarted) {
        self.mark("run begun in the catalog");
    }
    fn bundle_stored(&self, _: &BundleEvent, _: &str, _: u64) {
        let n = self.stored.lock().map_or(0, |mut s| {
            *s += 1;
            *s
        });
        let total = self.bundles.lock().map_or(0, |b| *b);
        if n == 1 || n == total / 2 || n == total {
            self.mark(format!("bundle {n} of {total} stored"));
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let tree = PathBuf::from(args.get(1).ok_or("usage: archive-stages TREE [JOBS]")?);
    let jobs: usize = args.get(2).map_or(Ok(2), |s| s.parse())?;
    let parent = tree.parent().unwrap_or(std::path::Path::new("."));
    let dir = tempfile::tempdir_in(parent)?;
    let stages = Stages {
        start: Instant::now(),
        marks: Mutex::new(Vec::new()),
        stored: Mutex::new(0),
        bundles: Mutex::new(0),
    };
    let store = Arc::new(LocalStore::open(dir.path().join("store"))?);
    let vault = Vault::new(store, "default");
    let mut catalog = ArchiveCatalog::open(dir.path().join("catalog.sqlite"))?;
    stages.mark("catalog opened");
    let options = ArchiveOptions::default().jobs(jobs);
    let summary = archiver::archive(
        &Sources::roots([&tree]),
        &options,
        &vault,
        &mut catalog,
        &stages,
    )?;
    stages.mark("files recorded, run ended, export stored");
    drop(catalog);
    println!(
        "{} files, {} bytes in {} bundles ({} stored), jobs {jobs}",
        summary.files, summary.bytes, summary.bundles, summary.stored_bytes
    );
    let (mut t0, mut c0) = (0.0, 0.0);
    for (what, t, c) in stages.marks.into_inner().unwrap_or_default() {
        println!(
            "{t:7.3} s  cpu {c:6.2} s  (+{:.3} s wall, +{:.2} s cpu)  {what}",
            t - t0,
            c - c0
        );
        (t0, c0) = (t, c);
    }
    Ok(())
}
