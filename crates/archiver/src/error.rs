//! The one error type of this crate.

use std::path::PathBuf;

use crate::pricing::PricingError;

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong archiving or retrieving.
///
/// Each variant names what a user needs to act on it: the path, vault,
/// archive or job id, the run. The cause (a store, catalog or bundler
/// error) is kept as the [`std::error::Error::source`], so a caller that
/// prints the whole chain shows both, and one that maps errors to exit
/// codes can look at the cause ([`Error::store_error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path given to archive cannot be resolved or read.
    #[error("{}: cannot archive", path.display())]
    Source {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An explicit entry's catalog path is not usable.
    #[error("{path:?}: {reason}")]
    InvalidEntry {
        /// The catalog path given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Walking, bundling or extracting failed.
    #[error(transparent)]
    Bundle(#[from] bundler::BundleError),
    /// The catalog failed (it names its file).
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// A store request failed; `action` says which, naming the vault,
    /// archive, upload or job.
    #[error("{action}")]
    Store {
        /// What was being done.
        action: String,
        /// The store's error.
        source: glacier_multipart::Error,
    },
    /// One bundle of a run failed; the cause says how. The bundles stored
    /// before it are recorded, the rest are archived by the next run.
    #[error("bundle {seq} of run {run}")]
    Bundling {
        /// The bundle's position in the run.
        seq: usize,
        /// The run's uid.
        run: String,
        /// What failed.
        source: Box<Error>,
    },
    /// A local file beside the catalog (or a retrieval's target) could not
    /// be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done ("writing", "creating the directory", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file beside the catalog holds JSON that does not parse.
    #[error("reading {}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Streaming a bundle into the uploader failed.
    #[error("streaming the bundle")]
    Stream {
        /// The cause.
        source: std::io::Error,
    },
    /// A worker thread panicked.
    #[error("the {0} panicked")]
    Panicked(&'static str),
    /// A vault inventory does not parse.
    #[error("the inventory of job {job}")]
    Inventory {
        /// The inventory job.
        job: String,
        /// The cause.
        source: glacier_multipart::InventoryParseError,
    },
    /// A job the flow waits for failed in the store.
    #[error("job {job} failed in the store")]
    JobFailed {
        /// The job id.
        job: String,
    },
    /// A catalog export found in the vault could not be imported.
    #[error("importing {description} ({archive_id})")]
    Import {
        /// The export's description (`permafrost-catalog v1 run=UID`).
        description: String,
        /// Its archive id.
        archive_id: String,
        /// The cause.
        source: catalog::CatalogError,
    },
    /// A path asked for is not in the catalog.
    #[error("{path}: not in the catalog")]
    NotInCatalog {
        /// The absolute path.
        path: String,
    },
    /// The files asked for are in the catalog, but the store no longer
    /// holds the archive of any of their versions (pruned, found missing
    /// or deleted): nothing can be retrieved.
    #[error("{path}: not retrievable, {} (archive {archive_id}){}", gone_reason(*.state), more_files(*.more))]
    NotInStore {
        /// The absolute path (for a query, the first such file).
        path: String,
        /// The state of its newest version's archive.
        state: catalog::ArchiveState,
        /// That archive's id in the store.
        archive_id: String,
        /// How many other files the selection matched that are gone too.
        more: usize,
    },
    /// A selection matched no stored file.
    #[error("no archived file matches")]
    NothingMatches,
    /// A query does not parse.
    #[error("query: {0}")]
    Query(#[from] catalog::QueryError),
    /// An archive disappeared from the catalog while a plan was made.
    #[error("archive {key} vanished")]
    ArchiveVanished {
        /// Its number in the catalog.
        key: catalog::ArchiveKey,
    },
    /// A retrieval would cost more than the caller allows; nothing was
    /// requested.
    #[error("the estimated cost ${estimate:.4} exceeds the limit of ${max}; nothing requested")]
    CostLimit {
        /// The plan's estimate, USD.
        estimate: f64,
        /// The limit, USD.
        max: f64,
    },
    /// A price is missing for what was asked.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// Extracting a downloaded job's output failed (nothing was moved into
    /// place for the members that did not verify).
    #[error("extracting job {job} (archive {archive_id})")]
    Extract {
        /// The job id.
        job: String,
        /// The archive id.
        archive_id: String,
        /// Whether a decryption identity was given.
        identity_given: bool,
        /// The cause.
        source: Box<Error>,
    },
    /// No data directory can be found for the default catalog and store.
    #[error("no data directory: set PERMAFROST_HOME (or HOME)")]
    NoDataHome,
    /// Another process sharing the catalog holds run `uid` (it claimed it
    /// while this one was archiving it: this one's claim had run out).
    #[error("run {uid} is held by another process sharing the catalog (this one's claim ran out)")]
    RunHeld {
        /// The run.
        uid: String,
    },
    /// Work units and workers need a catalog many hosts share.
    #[error(
        "catalog {location}: archive workers need a PostgreSQL catalog (postgres://USER@HOST:PORT/DB) that every worker's host reaches; an SQLite catalog is one host's"
    )]
    NeedsSharedCatalog {
        /// The location given.
        location: String,
    },
    /// Work units of a run were given up after too many failed attempts;
    /// the run stays open.
    #[error("run {run}: {} work unit(s) failed {} times: {}", failures.len(), crate::distributed_max_attempts(), failures.iter().map(|(u, e)| format!("unit {u}: {e}")).collect::<Vec<_>>().join("; "))]
    UnitsFailed {
        /// The run.
        run: String,
        /// Each unit and its last error.
        failures: Vec<(u32, String)>,
    },
    /// A worker failed on a unit (given back for another attempt).
    #[error("{claim}")]
    Unit {
        /// The unit.
        claim: catalog::UnitClaim,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The store's error somewhere in the cause chain, if any.
    pub fn store_error(&self) -> Option<&glacier_multipart::Error> {
        match self {
            Error::Store { source, .. } => Some(source),
            Error::Bundling { source, .. }
            | Error::Extract { source, .. }
            | Error::Unit { source, .. } => source.store_error(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: a store error that is
    /// retryable (throttling, a server error, a timeout, a dropped
    /// connection) after the engine's own retries gave up.
    pub fn is_retryable(&self) -> bool {
        self.store_error()
            .is_some_and(glacier_multipart::Error::is_retryable)
    }

    pub(crate) fn store(
        action: impl Into<String>,
    ) -> impl FnOnce(glacier_multipart::Error) -> Self {
        let action = action.into();
        move |source| Error::Store { action, source }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

/// Why an archive in `state` cannot be retrieved, for messages.
pub(crate) fn gone_reason(state: catalog::ArchiveState) -> &'static str {
    match state {
        catalog::ArchiveState::Pruned => "its archive was pruned from the store by `backup prune`",
        catalog::ArchiveState::Missing => {
            "its archive is missing from the store (found by `backup reconcile`)"
        }
        catalog::ArchiveState::Deleted => "its archive was deleted from the store",
        catalog::ArchiveState::Uploading => "its archive was never finished uploading",
        catalog::ArchiveState::Stored => "its archive is stored",
    }
}

fn more_files(more: usize) -> String {
    match more {
        0 => String::new(),
        1 => "; so is 1 other matching file".to_owned(),
        n => format!("; so are {n} other matching files"),
    }
}
