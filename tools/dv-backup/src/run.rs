//! `dv-backup run`: list, copy and verify in parallel, record in order.
//!
//! Kill safety: a file's row is written only once its copy was verified
//! (`OK`) or failed, and rows are committed in listing order (createdate,
//! then id), so the newest `createdate` in the table always has every
//! earlier file recorded. A default run lists from that timestamp
//! (inclusive) and skips files that already have a row: a run killed at
//! any moment is finished by running it again, and nothing is `OK` that
//! was not verified.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use dataverse_source::{DataFile, Destination, ListOptions, Outcome, Source, Status, back_up};

use crate::status::{Record, StatusDb};

/// How a run goes.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) rerun: bool,
    pub(crate) dry_run: bool,
    pub(crate) jobs: usize,
    pub(crate) method: &'static str,
}

/// One failed file, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Failure {
    pub(crate) file_id: i64,
    pub(crate) dataset: String,
    pub(crate) storage_identifier: Option<String>,
    pub(crate) status: String,
    pub(crate) message: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Report {
    pub(crate) processed: u64,
    pub(crate) skipped: u64,
    pub(crate) success: u64,
    pub(crate) failed: u64,
    /// Failed files by status (`FAIL_READ`, `FAIL_WRITE`, `FAIL_VERIFY`).
    pub(crate) failed_by_status: BTreeMap<String, u64>,
    /// The first failures, with their messages.
    pub(crate) failures: Vec<Failure>,
    /// Bytes read from the stores.
    pub(crate) bytes: u64,
    pub(crate) seconds: f64,
    pub(crate) since: Option<String>,
    pub(crate) rerun: bool,
    pub(crate) dry_run: bool,
    /// Set when the run stopped early (the listing failed).
    pub(crate) aborted: Option<String>,
}

/// How many failures the report lists one by one.
const FAILURES_LISTED: usize = 200;
/// Files looked up in the status table at once.
const LOOKUP_CHUNK: usize = 256;

impl Report {
    /// The original's report line.
    pub(crate) fn line(&self) -> String {
        if self.dry_run {
            return format!(
                "{} files processed; {} skipped; {} would be backed up (dry run)",
                self.processed, self.skipped, self.success
            );
        }
        format!(
            "{} files processed; {} skipped; {} success, {} failed",
            self.processed, self.skipped, self.success, self.failed
        )
    }

    /// The line, the failures by status, and the failures listed.
    pub(crate) fn text(&self) -> String {
        let mut s = format!("backup run report: {}\n", self.line());
        if let Some(since) = &self.since {
            let _ = writeln!(s, "files created since {since}");
        } else if self.rerun {
            s.push_str("rerun: every file, skipping those backed up OK\n");
        }
        if let Some(why) = &self.aborted {
            let _ = writeln!(s, "THE RUN STOPPED EARLY: {why}");
        }
        if !self.failed_by_status.is_empty() {
            s.push_str("failures by status:\n");
            for (status, n) in &self.failed_by_status {
                let _ = writeln!(s, "  {status}: {n}");
            }
            for f in &self.failures {
                let _ = writeln!(
                    s,
                    "  {} file {} ({}{}): {}",
                    f.status,
                    f.file_id,
                    f.dataset,
                    f.storage_identifier
                        .as_deref()
                        .map(|s| format!(", {s}"))
                        .unwrap_or_default(),
                    f.message
                );
            }
            let listed = self.failures.len() as u64;
            if self.failed > listed {
                let _ = writeln!(
                    s,
                    "  ... and {} more (dv-backup status --failed)",
                    self.failed - listed
                );
            }
        }
        let _ = writeln!(s, "{} bytes read in {:.1} s", self.bytes, self.seconds);
        s
    }

    fn fail(&mut self, file: &DataFile, status: &str, message: String) {
        self.failed += 1;
        *self.failed_by_status.entry(status.to_owned()).or_default() += 1;
        if self.failures.len() < FAILURES_LISTED {
            self.failures.push(Failure {
                file_id: file.id,
                dataset: file.dataset.to_string(),
                storage_identifier: file.storage.as_ref().map(|s| s.raw.clone()),
                status: status.to_owned(),
                message,
            });
        }
    }
}

/// How files reach their destination: [`Backend::copy`] runs on the copy
/// threads, one file at a time; [`Backend::settle`] on the recording
/// thread, with the outcomes in listing order, and returns those that may
/// be recorded now, still in order (a batching backend holds them until
/// its batch is stored, so rows stay committed in listing order).
pub(crate) trait Backend: Sync {
    /// Backs up (or stages) one file.
    fn copy(&self, source: &dyn Source, file: &DataFile) -> Outcome;

    /// Takes in-order outcomes, gives back those final; `last`: nothing
    /// more comes, give back everything.
    fn settle(
        &self,
        done: Vec<(DataFile, Outcome)>,
        last: bool,
    ) -> Result<Vec<(DataFile, Outcome)>>;
}

/// A per-file [`Destination`]: each file is copied and verified there,
/// and final at once.
pub(crate) struct Direct<'a>(pub(crate) &'a dyn Destination);

impl Backend for Direct<'_> {
    fn copy(&self, source: &dyn Source, file: &DataFile) -> Outcome {
        back_up(source, self.0, file)
    }

    fn settle(
        &self,
        done: Vec<(DataFile, Outcome)>,
        _last: bool,
    ) -> Result<Vec<(DataFile, Outcome)>> {
        Ok(done)
    }
}

/// Progress callbacks (the tool draws them).
pub(crate) trait Progress: Sync {
    fn file_done(&self, _report: &Report) {}
}

#[allow(clippy::too_many_lines)] // the dispatch and in-order commit loop, in one piece
/// Runs a backup. Errors are failures of the run itself (the status table,
/// the listing's start); per-file failures are in the report.
pub(crate) fn run(
    source: &dyn Source,
    backend: &dyn Backend,
    status: &mut dyn StatusDb,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    let since = if options.rerun {
        None
    } else {
        status.newest_created()?
    };
    let mut report = Report {
        since: since.map(|t| t.to_string()),
        rerun: options.rerun,
        dry_run: options.dry_run,
        ..Report::default()
    };
    tracing::info!(since = ?report.since, rerun = options.rerun, "listing data files");
    let mut listing = source.list(&ListOptions {
        created_since: since,
        fetch_size: 1000,
    })?;
    let jobs = options.jobs.max(1);
    let window = (jobs * 4 + LOOKUP_CHUNK) as u64;

    let (todo_tx, todo_rx) = crossbeam_channel::unbounded::<(u64, DataFile)>();
    let (done_tx, done_rx) = mpsc::channel::<(u64, DataFile, Outcome)>();
    std::thread::scope(|scope| -> Result<()> {
        if !options.dry_run {
            for n in 0..jobs {
                let rx = todo_rx.clone();
                let tx = done_tx.clone();
                std::thread::Builder::new()
                    .name(format!("dv-backup-copy-{n}"))
                    .spawn_scoped(scope, move || {
                        for (seq, file) in rx {
                            let outcome = backend.copy(source, &file);
                            if tx.send((seq, file, outcome)).is_err() {
                                break;
                            }
                        }
                    })?;
            }
        }
        drop(done_tx);
        drop(todo_rx);

        let mut next_seq = 0u64;
        let mut next_commit = 0u64;
        let mut pending: BTreeMap<u64, (DataFile, Outcome)> = BTreeMap::new();
        let mut listing_done = false;
        let result = (|| -> Result<()> {
            loop {
                while !listing_done && next_seq - next_commit < window {
                    let mut chunk = Vec::with_capacity(LOOKUP_CHUNK);
                    for item in listing.by_ref() {
                        match item {
                            Ok(f) => chunk.push(f),
                            Err(e) => {
                                report.aborted = Some(format!("listing data files: {e}"));
                                listing_done = true;
                                break;
                            }
                        }
                        if chunk.len() == LOOKUP_CHUNK {
                            break;
                        }
                    }
                    if chunk.len() < LOOKUP_CHUNK {
                        listing_done = true;
                    }
                    for file in classify(chunk, status, options, &mut report)? {
                        if options.dry_run {
                            report.success += 1;
                            report.bytes += file.size.unwrap_or(0);
                            tracing::info!(file = file.id, path = %file.backup_path().unwrap_or_default(), "would back up");
                        } else {
                            todo_tx.send((next_seq, file))?;
                            next_seq += 1;
                        }
                    }
                }
                if next_commit == next_seq {
                    if listing_done {
                        let rest = backend.settle(Vec::new(), true)?;
                        commit(rest, status, options, &mut report)?;
                        progress.file_done(&report);
                        return Ok(());
                    }
                    continue;
                }
                // Wait for a result, then take all that are ready.
                let first = done_rx.recv_timeout(Duration::from_secs(3600));
                let Ok(first) = first else {
                    anyhow::bail!("no copy finished within an hour; giving up");
                };
                let mut got = vec![first];
                got.extend(done_rx.try_iter());
                for (seq, file, outcome) in got {
                    pending.insert(seq, (file, outcome));
                }
                let mut in_order = Vec::new();
                while let Some(done) = pending.remove(&next_commit) {
                    next_commit += 1;
                    in_order.push(done);
                }
                if !in_order.is_empty() {
                    let last = listing_done && next_commit == next_seq;
                    let settled = backend.settle(in_order, last)?;
                    commit(settled, status, options, &mut report)?;
                }
                progress.file_done(&report);
            }
        })();
        drop(todo_tx);
        result
    })?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Counts final outcomes in the report and records them, all or none.
fn commit(
    settled: Vec<(DataFile, Outcome)>,
    status: &mut dyn StatusDb,
    options: &RunOptions,
    report: &mut Report,
) -> Result<()> {
    let mut records = Vec::with_capacity(settled.len());
    for (file, outcome) in settled {
        report.bytes += outcome.bytes;
        match outcome.status {
            Status::Ok => report.success += 1,
            s => report.fail(
                &file,
                s.as_str(),
                outcome.message.clone().unwrap_or_default(),
            ),
        }
        records.push(Record {
            dataset: file.dataset_identifier(),
            storage_identifier: status_key(&file),
            status: outcome.status,
            created: file.created,
            method: options.method,
            message: outcome.message,
        });
    }
    if !records.is_empty() {
        status.record(&records)?;
    }
    Ok(())
}

/// Sorts a chunk of listed files into those to copy, those skipped, those
/// already recorded (ignored) and those without a storage identifier.
fn classify(
    chunk: Vec<DataFile>,
    status: &mut dyn StatusDb,
    options: &RunOptions,
    report: &mut Report,
) -> Result<Vec<DataFile>> {
    let ids: Vec<String> = chunk.iter().map(status_key).collect();
    let known: HashMap<String, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        status.lookup(&ids)?
    };
    let mut todo = Vec::with_capacity(chunk.len());
    for file in chunk {
        match known.get(&status_key(&file)) {
            // A default run starts at the newest recorded createdate: files
            // of that instant already recorded are not new.
            Some(_) if !options.rerun => {}
            Some(s) if s == "OK" => {
                report.processed += 1;
                report.skipped += 1;
            }
            _ => {
                report.processed += 1;
                todo.push(file);
            }
        }
    }
    Ok(todo)
}

/// The status table's key of a file: its storage identifier, as the
/// original recorded it; `datafile:<id>` for a file the database holds no
/// storage identifier for (recorded `FAIL_READ`, so it is reported once and
/// again by `--rerun`, never silently dropped).
pub(crate) fn status_key(file: &DataFile) -> String {
    match &file.storage {
        Some(s) => s.raw.clone(),
        None => format!("datafile:{}", file.id),
    }
}
