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
    loop {
        let pending = poll_jobs(vault, catalog, options, observer)?;
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
        let Some(plan) = side.load_job_plan(id)? else {
            emit_warning(observer, &Warning::NoJobPlan { job: id.clone() });
            continue;
        };
        let dest = side.job_output_path(id);
        if !dest.exists() {
            let info = match vault.store.describe_job(&vault.name, id) {
                Ok(i) => i,
                Err(glacier_multipart::Error::JobNotFound { .. }) => {
                    emit_warning(observer, &Warning::JobExpired { job: id.clone() });
                    cat.set_job_state(key, JobState::Expired, None)?;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Store {
                        action: format!("describing job {id} of vault {}", vault.name),
                        source: e,
                    });
                }
            };
            match info.status {
                JobStatus::InProgress => {
                    pending += 1;
                    continue;
                }
                JobStatus::Failed => {
                    emit_warning(observer, &Warning::JobFailed { job: id.clone() });
                    cat.set_job_state(key, JobState::Failed, None)?;
                    continue;
                }
                JobStatus::Succeeded => {}
            }
            let progress = observer.progress(&Transfer::Download { job: id });
            Downloader::new(vault.store.clone(), options.download.clone())
                .download_job(&vault.name, id, &dest, &*progress)
                .map_err(Error::store(format!("downloading the output of job {id}")))?;
            drop(progress);
            cat.set_job_state(key, JobState::Ready, None)?;
        }
        extract(&plan, &dest, &side, options).map_err(|e| Error::Extract {
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
        let _ = std::fs::remove_file(&dest);
        let _ = std::fs::remove_file(side.job_plan_path(id));
        emit_notice(
            observer,
            &Notice::JobExtracted {
                job: id.clone(),
                files: plan.members.as_ref().map_or(0, Vec::len),
                to: plan.to.clone(),
            },
        );
    }
    Ok(pending)
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
