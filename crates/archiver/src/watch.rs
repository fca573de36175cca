//! Getting files back, step two: poll the pending retrieval jobs; download
//! each completed output (verified by tree hash, resumable), decrypt,
//! extract just the requested files with their metadata, and mark the job
//! done.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bundler::{Decryption, ExtractOptions, FileSource, RangeSource, Selection};
use catalog::JobState;
use glacier_multipart::{DownloadOptions, Downloader, JobStatus};

use crate::error::{Error, Result};
use crate::observer::{Notice, Observer, Transfer, Warning, emit_notice, emit_warning};
use crate::options::Vault;
use crate::side::{ArchiveCatalog, JobPlan, SideFiles};

/// How [`watch`] polls and decrypts.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Pause between polls (default 60 s).
    pub interval: Duration,
    /// Poll once and return, even with jobs pending.
    pub once: bool,
    /// Decrypts encrypted bundles.
    pub decryption: Option<Decryption>,
    /// How outputs are downloaded.
    pub download: DownloadOptions,
    /// Restore owners and groups (`None`: only when running as root).
    pub restore_owners: Option<bool>,
    /// Called after each job's files are extracted.
    pub after_extract: Option<Arc<dyn ExtractHook>>,
    /// Polls that may fail in a row (see [`PollFailures`]); default
    /// [`PollFailures::DEFAULT_LIMIT`].
    pub max_failed_polls: u32,
}

/// The failed polls of a waiting loop (`watch`, `restore-completed --wait`,
/// a catalog rebuild waiting for its jobs), so that a store that stops
/// answering is reported and tried again rather than ending hours of
/// waiting, or waited on in silence.
///
/// A poll that fails with a retryable error (a timeout, a dropped
/// connection, throttling: after the store's own tries) counts as one
/// failure and the loop polls again after its pause; `limit` failures in a
/// row end the wait with the last error, and a successful poll resets the
/// count. The first poll of a loop is not forgiven: a store that never
/// answered fails the command at once, with the error it gave.
///
/// ```
/// use archiver::PollFailures;
///
/// let mut f = PollFailures::new(2);
/// assert_eq!(f.failed(true), None, "the first poll is not forgiven");
/// f.succeeded();
/// assert_eq!(f.failed(true), Some(1));
/// assert_eq!(f.failed(false), None, "not retryable: give up");
/// f.succeeded();
/// assert_eq!(f.failed(true), Some(1));
/// assert_eq!(f.failed(true), None, "two in a row");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollFailures {
    limit: u32,
    in_a_row: u32,
    ever_succeeded: bool,
}

impl PollFailures {
    /// Five failed polls in a row end a wait.
    pub const DEFAULT_LIMIT: u32 = 5;

    /// A count that gives up at `limit` failures in a row (at least 1).
    pub fn new(limit: u32) -> Self {
        PollFailures {
            limit: limit.max(1),
            in_a_row: 0,
            ever_succeeded: false,
        }
    }

    /// How many failures in a row end the wait.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// A poll succeeded: the count starts again.
    pub fn succeeded(&mut self) {
        self.in_a_row = 0;
        self.ever_succeeded = true;
    }

    /// A poll failed (`retryable`: with an error that may go away): the
    /// number of this failure in the row when the loop should poll again,
    /// `None` when it should give up.
    pub fn failed(&mut self, retryable: bool) -> Option<u32> {
        if !retryable || !self.ever_succeeded {
            return None;
        }
        self.in_a_row += 1;
        (self.in_a_row < self.limit).then_some(self.in_a_row)
    }
}

impl Default for PollFailures {
    fn default() -> Self {
        PollFailures::new(PollFailures::DEFAULT_LIMIT)
    }
}

/// Called after a job's files were extracted, each under
/// `plan.to/<catalog path>`: a place to put back what the bundle does not
/// hold (ACLs from the catalog, for instance). Problems are the hook's to
/// report; the job counts as done.
pub trait ExtractHook: Send + Sync + std::fmt::Debug {
    /// The files of `plan` are extracted.
    fn after_extract(&self, catalog: &catalog::Catalog, plan: &JobPlan);
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            interval: Duration::from_secs(60),
            once: false,
            decryption: None,
            download: DownloadOptions::default(),
            restore_owners: None,
            after_extract: None,
            max_failed_polls: PollFailures::DEFAULT_LIMIT,
        }
    }
}

/// How a [`watch`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOutcome {
    /// No job is pending any more.
    Done,
    /// Polled once ([`WatchOptions::once`]); this many jobs are pending.
    Pending(usize),
}

/// Polls until no job is pending (or once), finishing each completed job.
pub fn watch(
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    options: &WatchOptions,
    observer: &dyn Observer,
) -> Result<WatchOutcome> {
    let mut failures = PollFailures::new(options.max_failed_polls);
    loop {
        let pending = match poll_jobs(vault, catalog, options, observer) {
            Ok(p) => {
                failures.succeeded();
                p
            }
            Err(e) => {
                let Some(failure) = failures.failed(!options.once && e.is_retryable()) else {
                    return Err(e);
                };
                emit_warning(
                    observer,
                    &Warning::PollFailed {
                        waiting_for: format!("the retrieval jobs of vault {}", vault.name),
                        message: e.to_string(),
                        failure,
                        limit: failures.limit(),
                        next_poll_s: options.interval.as_secs(),
                    },
                );
                std::thread::sleep(options.interval);
                continue;
            }
        };
        if pending == 0 {
            return Ok(WatchOutcome::Done);
        }
        if options.once {
            emit_notice(observer, &Notice::JobsStillPending { pending });
            return Ok(WatchOutcome::Pending(pending));
        }
        emit_notice(
            observer,
            &Notice::JobsPending {
                pending,
                next_poll_s: options.interval.as_secs(),
            },
        );
        std::thread::sleep(options.interval);
    }
}

/// One pass over the requested and ready jobs: finishes each whose output
/// is ready; returns how many are still pending. A job whose output
/// expired, or that failed in the store, is marked so with a warning.
pub fn poll_jobs(
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    options: &WatchOptions,
    observer: &dyn Observer,
) -> Result<usize> {
    let side = catalog.side().clone();
    let cat = catalog.catalog_mut();
    let mut jobs = cat.retrieval_jobs(Some(JobState::Requested))?;
    jobs.extend(cat.retrieval_jobs(Some(JobState::Ready))?);
    let mut pending = 0;
    for (key, job) in jobs {
        let id = &job.job_id;
        if side.load_job_plan(id)?.is_none() {
            emit_warning(observer, &Warning::NoJobPlan { job: id.clone() });
            continue;
        }
        // On a shared catalog another host may be finishing it: pending
        // here until that host marks it done.
        let held = side.while_holding_job(id, || {
            finish_job(vault, cat, &side, key, &job, options, observer)
        })?;
        match held {
            None | Some(Finished::Pending) => pending += 1,
            Some(Finished::Done | Finished::Settled) => {}
        }
    }
    Ok(pending)
}

/// What became of one job.
enum Finished {
    /// Its output is not ready.
    Pending,
    /// Expired or failed in the store (marked so).
    Settled,
    /// Downloaded and extracted.
    Done,
}

/// Downloads (when ready) and extracts job `job`.
#[allow(clippy::too_many_arguments)]
fn finish_job(
    vault: &Vault,
    cat: &mut catalog::Catalog,
    side: &SideFiles,
    key: catalog::JobKey,
    job: &catalog::RetrievalJob,
    options: &WatchOptions,
    observer: &dyn Observer,
) -> Result<Finished> {
    let id = &job.job_id;
    // Another host may have finished it (and forgotten its plan) just
    // before the claim; and others may have joined it since it was read.
    let Some(plan) = side.load_job_plan(id)? else {
        return Ok(Finished::Settled);
    };
    {
        let dest = side.job_output_path(id);
        if !dest.exists() {
            let info = match vault.store.describe_job(&vault.name, id) {
                Ok(i) => i,
                Err(glacier_multipart::Error::JobNotFound { .. }) => {
                    emit_warning(observer, &Warning::JobExpired { job: id.clone() });
                    cat.set_job_state(key, JobState::Expired, None)?;
                    return Ok(Finished::Settled);
                }
                Err(e) => {
                    return Err(Error::Store {
                        action: format!("describing job {id} of vault {}", vault.name),
                        source: e,
                    });
                }
            };
            match info.status {
                JobStatus::InProgress => return Ok(Finished::Pending),
                JobStatus::Failed => {
                    emit_warning(observer, &Warning::JobFailed { job: id.clone() });
                    cat.set_job_state(key, JobState::Failed, None)?;
                    return Ok(Finished::Settled);
                }
                JobStatus::Succeeded => {}
            }
            let dir = side.jobs_dir();
            std::fs::create_dir_all(&dir).map_err(Error::io("creating the directory", &dir))?;
            let progress = observer.progress(&Transfer::Download { job: id });
            Downloader::new(vault.store.clone(), options.download.clone())
                .download_job(&vault.name, id, &dest, &*progress)
                .map_err(Error::store(format!("downloading the output of job {id}")))?;
            drop(progress);
            cat.set_job_state(key, JobState::Ready, None)?;
        }
        let plan = side.seal_job(id, plan)?;
        extract(&plan, &dest, side, options).map_err(|e| Error::Extract {
            job: id.clone(),
            archive_id: plan.archive_id.clone(),
            identity_given: options.decryption.is_some(),
            source: Box::new(e),
        })?;
        if let Some(hook) = &options.after_extract {
            hook.after_extract(cat, &plan);
        }
        cat.set_job_state(
            key,
            JobState::Downloaded,
            Some(&plan.to.display().to_string()),
        )?;
        side.finish_job(id)?;
        emit_notice(
            observer,
            &Notice::JobExtracted {
                job: id.clone(),
                files: plan.members.as_ref().map_or(0, Vec::len),
                to: plan.to.clone(),
            },
        );
    }
    Ok(Finished::Done)
}

/// Serves a byte range of an archive from the downloaded output of a ranged
/// job, at the archive's offsets.
struct Offset {
    inner: FileSource,
    base: u64,
}

impl RangeSource for Offset {
    fn len(&self) -> u64 {
        self.base + self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let at = offset.checked_sub(self.base).ok_or_else(|| {
            std::io::Error::other(format!(
                "byte {offset} lies before the retrieved range starting at {}",
                self.base
            ))
        })?;
        self.inner.read_at(at, buf)
    }
}

fn extract(plan: &JobPlan, dest: &Path, side: &SideFiles, options: &WatchOptions) -> Result<()> {
    let selection = match &plan.members {
        Some(m) => Selection::paths(m.iter().map(String::as_bytes)),
        None => Selection::All,
    };
    let options = ExtractOptions {
        decryption: options.decryption.clone(),
        restore_owners: options.restore_owners,
    };
    std::fs::create_dir_all(&plan.to).map_err(Error::io("creating the directory", &plan.to))?;
    if let (Some((start, _)), Some(index)) = (plan.range, side.load_index(&plan.archive_id)) {
        let src = Offset {
            inner: FileSource::open(dest).map_err(Error::io("opening", dest))?,
            base: start,
        };
        bundler::extract_ranges(&src, &index, &selection, &plan.to, &options)?;
    } else {
        let f = std::fs::File::open(dest).map_err(Error::io("opening", dest))?;
        bundler::extract_stream(std::io::BufReader::new(f), &selection, &plan.to, &options)?;
    }
    Ok(())
}
