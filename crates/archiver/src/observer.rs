//! What a flow tells its caller while it runs: the [`Observer`] trait.
//!
//! Every method has a default that does nothing, so an implementation
//! picks what it shows. The flows also emit `tracing` events (target
//! `archiver`) for the same moments, for callers that only log.

use std::fmt;
use std::path::PathBuf;

use glacier_multipart::{NoProgress, Progress};

/// Receives the events of a flow. Called from worker threads too, hence
/// `Send + Sync`; calls are short and must not block for long.
pub trait Observer: Send + Sync {
    /// An archive run was recorded in the catalog and is about to bundle.
    fn run_started(&self, run: &RunStarted) {
        let _ = run;
    }

    /// The entries of a run are chosen (walked, compared with the catalog)
    /// and cut into bundles; nothing was stored yet.
    fn planned(&self, plan: &PlanSummary) {
        let _ = plan;
    }

    /// Bundle `seq` of the run is being written and uploaded.
    fn bundle_started(&self, bundle: &BundleEvent) {
        let _ = bundle;
    }

    /// Bundle `seq` is stored and its files are recorded.
    fn bundle_stored(&self, bundle: &BundleEvent, archive_id: &str, stored_bytes: u64) {
        let _ = (bundle, archive_id, stored_bytes);
    }

    /// A progress sink for one transfer (an archive run's content bytes, a
    /// job's download). Dropped when the transfer ends.
    fn progress(&self, transfer: &Transfer<'_>) -> Box<dyn Progress + '_> {
        let _ = transfer;
        Box::new(NoProgress)
    }

    /// Something the caller should know (a recovery step, a job's state).
    fn notice(&self, notice: &Notice) {
        let _ = notice;
    }

    /// Something went wrong with one item; the flow went on without it.
    fn warning(&self, warning: &Warning) {
        let _ = warning;
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// See [`Observer::run_started`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStarted {
    /// The run's uid.
    pub uid: String,
    /// Regular files to archive.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bundles.
    pub bundles: usize,
    /// The vault.
    pub vault: String,
    /// The store's location.
    pub store: String,
}

/// See [`Observer::planned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSummary {
    /// Entries chosen (files, directories, links).
    pub entries: usize,
    /// Regular files among them.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bundles.
    pub bundles: usize,
    /// Entries left out because they did not change.
    pub unchanged: usize,
}

/// One bundle of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEvent {
    /// The run's uid.
    pub run: String,
    /// The bundle's position in the run.
    pub seq: usize,
    /// Members.
    pub members: usize,
    /// Content bytes.
    pub bytes: u64,
}

/// What a progress sink measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transfer<'a> {
    /// The content bytes of an archive run, advanced as bundles are stored.
    Archive {
        /// The run's uid.
        run: &'a str,
    },
    /// The download of a job's output.
    Download {
        /// The job id.
        job: &'a str,
    },
}

impl Transfer<'_> {
    /// A short label ("archive", or the job id).
    pub fn label(&self) -> &str {
        match self {
            Transfer::Archive { .. } => "archive",
            Transfer::Download { job } => job,
        }
    }
}

/// Something a flow reports; [`fmt::Display`] gives the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A multipart upload of ours left by an interrupted run is aborted.
    AbortingUpload {
        /// Its description.
        description: String,
    },
    /// An archive recorded as uploading by an interrupted run is forgotten;
    /// its files are archived again.
    Forgetting {
        /// Its description.
        description: String,
    },
    /// A run that never ended is closed and its catalog export stored.
    ClosingRun {
        /// The run's uid.
        uid: String,
    },
    /// An archive an interrupted run uploaded but never recorded is deleted.
    DeletingUnknown {
        /// Its archive id.
        archive_id: String,
        /// Its description.
        description: String,
    },
    /// A vault inventory is requested.
    RequestingInventory {
        /// The vault.
        vault: String,
    },
    /// A job the flow waits for is still running.
    JobInProgress {
        /// The job id.
        job: String,
        /// Seconds until the next poll.
        next_poll_s: u64,
    },
    /// What a vault inventory holds.
    InventoryRead {
        /// Archives in it.
        archives: usize,
        /// Catalog exports among them.
        exports: usize,
    },
    /// A retrieval job was requested.
    JobRequested {
        /// The job id.
        job: String,
        /// The archive id.
        archive_id: String,
    },
    /// Another host sharing the catalog had requested the same archive
    /// range into the same directory and the job is not extracted yet:
    /// these files joined that job instead of a second request.
    JobJoined {
        /// The job id.
        job: String,
        /// The archive id.
        archive_id: String,
    },
    /// A job's output was downloaded, verified and extracted.
    JobExtracted {
        /// The job id.
        job: String,
        /// Members asked for (0: all).
        files: usize,
        /// Where to.
        to: PathBuf,
    },
    /// Jobs are pending; the next poll follows.
    JobsPending {
        /// How many.
        pending: usize,
        /// Seconds until the next poll.
        next_poll_s: u64,
    },
    /// Jobs are still pending and the watch returns (polling once).
    JobsStillPending {
        /// How many.
        pending: usize,
    },
    /// A run shared by many hosts was cut into work units.
    UnitsPlanned {
        /// The run's uid.
        run: String,
        /// Units.
        units: usize,
        /// Entries in them, as planned.
        entries: usize,
    },
    /// A worker claimed a unit.
    UnitClaimed {
        /// The run's uid.
        run: String,
        /// The unit.
        unit: u32,
        /// Its claims so far, this one included (more than one: an earlier
        /// worker died or failed).
        attempt: u32,
    },
    /// A worker finished a unit.
    UnitDone {
        /// The run's uid.
        run: String,
        /// The unit.
        unit: u32,
        /// Regular files archived.
        files: u64,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::UnitsPlanned {
                run,
                units,
                entries,
            } => write!(
                f,
                "run {run}: {entries} entries cut into {units} work units; workers on any host may join (`glacier-sync worker`)"
            ),
            Notice::UnitClaimed { run, unit, attempt } => {
                if *attempt > 1 {
                    write!(
                        f,
                        "claimed unit {unit} of run {run} (attempt {attempt}: its earlier worker died or failed)"
                    )
                } else {
                    write!(f, "claimed unit {unit} of run {run}")
                }
            }
            Notice::UnitDone { run, unit, files } => {
                write!(f, "unit {unit} of run {run} done: {files} files")
            }
            Notice::AbortingUpload { description } => {
                write!(f, "aborting the unfinished upload of {description}")
            }
            Notice::Forgetting { description } => {
                write!(f, "forgetting {description} (its upload did not finish)")
            }
            Notice::ClosingRun { uid } => write!(
                f,
                "closing run {uid}, interrupted earlier, and storing its catalog export"
            ),
            Notice::DeletingUnknown {
                archive_id,
                description,
            } => write!(
                f,
                "deleting {archive_id} ({description}): uploaded by an interrupted run, unknown to the catalog"
            ),
            Notice::RequestingInventory { vault } => {
                write!(f, "requesting the inventory of vault {vault}")
            }
            Notice::JobInProgress { job, next_poll_s } => {
                write!(f, "job {job} in progress; next poll in {next_poll_s} s")
            }
            Notice::InventoryRead { archives, exports } => write!(
                f,
                "{archives} archives in the inventory, {exports} catalog exports"
            ),
            Notice::JobRequested { job, archive_id } => {
                write!(f, "requested job {job} for archive {archive_id}")
            }
            Notice::JobJoined { job, archive_id } => write!(
                f,
                "joined job {job} for archive {archive_id}, requested already by another process sharing the catalog"
            ),
            Notice::JobExtracted { job, files, to } => write!(
                f,
                "job {job}: {files} files extracted into {}",
                to.display()
            ),
            Notice::JobsPending {
                pending,
                next_poll_s,
            } => write!(f, "{pending} jobs pending; next poll in {next_poll_s} s"),
            Notice::JobsStillPending { pending } => write!(f, "{pending} jobs still pending"),
        }
    }
}

/// A problem with one item; the flow went on. [`fmt::Display`] gives the
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// An entry could not be read while walking (or stat'ed, for explicit
    /// entries); it is not archived.
    Unreadable {
        /// The path on disk.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A file could not be read while bundling; it was left out of the
    /// bundle and is not recorded, so the next run tries it again.
    LeftOut {
        /// Its member name.
        name: String,
        /// Why.
        message: String,
    },
    /// A file changed while it was read (it shrank or grew); what was read
    /// is stored and recorded, and its new mtime makes the next run store
    /// it again.
    Changed {
        /// Its member name.
        name: String,
        /// What happened.
        message: String,
    },
    /// Interrupted uploads may have reached the vault; the inventory that
    /// would show them is not ready, so a later run deletes them.
    InventoryPending {
        /// How many.
        uploads: usize,
        /// The vault.
        vault: String,
    },
    /// A selected file lies in another vault than the one retrieving.
    OtherVault {
        /// Its path.
        path: String,
        /// Its vault.
        vault: String,
        /// The vault in use.
        wanted: String,
    },
    /// Files a query selected whose archives the store no longer holds
    /// (pruned, missing or deleted); left out of the retrieval.
    NotInStore {
        /// The first such file.
        path: String,
        /// Its archive's state.
        state: catalog::ArchiveState,
        /// How many such files in all.
        files: usize,
    },
    /// A retrieval job has no extraction plan beside this catalog.
    NoJobPlan {
        /// The job id.
        job: String,
    },
    /// A job's output expired before it was downloaded.
    JobExpired {
        /// The job id.
        job: String,
    },
    /// A job failed in the store.
    JobFailed {
        /// The job id.
        job: String,
    },
    /// A poll of a waiting loop failed after the store's own tries (the
    /// server timed out, dropped the connection, or was busy); the loop
    /// polls again after its pause, and gives up after
    /// [`PollFailures::limit`](crate::PollFailures) failures in a row.
    PollFailed {
        /// What the poll waits for (`3 jobs of vault photos`).
        waiting_for: String,
        /// The store's one-sentence error.
        message: String,
        /// Failures in a row so far, this one included.
        failure: u32,
        /// How many in a row end the wait.
        limit: u32,
        /// Seconds until the next poll.
        next_poll_s: u64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Unreadable { path, message } => {
                write!(f, "{}: {message}, skipped", path.display())
            }
            Warning::LeftOut { name, message } => write!(f, "/{name}: {message}, skipped"),
            Warning::Changed { name, message } => write!(f, "/{name}: {message}"),
            Warning::InventoryPending { uploads, vault } => write!(
                f,
                "{uploads} interrupted uploads may have reached vault {vault}; the inventory that shows them is not ready yet, a later run deletes them"
            ),
            Warning::OtherVault {
                path,
                vault,
                wanted,
            } => write!(f, "{path}: in vault {vault}, not {wanted}; skipped"),
            Warning::NotInStore { path, state, files } => write!(
                f,
                "{files} selected files are not in the store, skipped; the first: {path} ({})",
                crate::error::gone_reason(*state)
            ),
            Warning::NoJobPlan { job } => write!(f, "job {job}: no extraction plan here, skipped"),
            Warning::JobExpired { job } => write!(
                f,
                "job {job}: its output expired before it was downloaded; request it again"
            ),
            Warning::JobFailed { job } => write!(f, "job {job} failed in the store"),
            Warning::PollFailed {
                waiting_for,
                message,
                failure,
                limit,
                next_poll_s,
            } => write!(
                f,
                "waiting for {waiting_for}: {message}; polling again in {next_poll_s} s (failure {failure} of {limit} in a row)"
            ),
        }
    }
}

/// Tells the observer, and `tracing` at level warn.
pub(crate) fn emit_warning(observer: &dyn Observer, w: &Warning) {
    tracing::warn!(target: "archiver", "{w}");
    observer.warning(w);
}

/// Tells the observer, and `tracing` at level info.
pub(crate) fn emit_notice(observer: &dyn Observer, n: &Notice) {
    tracing::info!(target: "archiver", "{n}");
    observer.notice(n);
}
