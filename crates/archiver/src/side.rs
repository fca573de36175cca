//! The catalog and what is kept beside it.
//!
//! Beside an SQLite catalog `FILE` live `FILE.indexes/ARCHIVE_ID.json`
//! (each bundle's own index, so a retrieval can ask for just the ranges of
//! the wanted members), `FILE.jobs/JOB_ID.json` (what a pending retrieval
//! job is to extract, and where; its downloaded output is `JOB_ID.out`
//! there until extracted), `FILE.cleanup.json` (descriptions of interrupted
//! uploads that may have reached the vault, awaiting an inventory) and
//! `FILE.exports.json` (runs ended whose catalog export is being stored).
//!
//! A PostgreSQL catalog (feature `postgres`) keeps the same things in its
//! own database ([`catalog::SideTable`]), so that every host sharing it
//! sees them: any host retrieves with any bundle's index and finishes any
//! pending job. There a host *claims* what it works on, with a lease it
//! renews while it works: a job being downloaded and extracted, a run
//! being archived. Another host leaves a claimed job alone (two hosts
//! never download one job twice, nor request the same archive range for
//! the same directory twice: see [`SideFiles::request_job`]) and does not
//! take a live run for an interrupted one. Only a job's downloaded output
//! is a local file, in a work directory of the host's own.

// Without the `postgres` feature the shared branches are compiled out,
// leaving results that cannot fail and arguments only they read.
#![cfg_attr(
    not(feature = "postgres"),
    allow(clippy::unnecessary_wraps, unused_variables, dead_code)
)]

use std::path::{Path, PathBuf};
#[cfg(feature = "postgres")]
use std::sync::Arc;
use std::time::Duration;

use catalog::Catalog;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An open catalog and what is kept beside it. Every flow of this crate
/// takes one.
#[derive(Debug)]
pub struct ArchiveCatalog {
    catalog: Catalog,
    side: SideFiles,
}

impl ArchiveCatalog {
    /// Opens (creating, with its directory) the SQLite catalog at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(Error::io("creating the directory", dir))?;
        }
        let catalog = Catalog::open(path)?;
        Ok(ArchiveCatalog {
            side: SideFiles::beside(path),
            catalog,
        })
    }

    /// Opens the catalog at `location` ([`catalog::Location::parse`]): a
    /// path as [`ArchiveCatalog::open`] does, `postgres://USER@HOST:PORT/DB`
    /// (feature `postgres`; the password as [`catalog::location`] says,
    /// or from `password_file`) with its side values in the database and
    /// the downloads of retrieval jobs in the local directory `work`.
    ///
    /// # Errors
    /// The catalog's, naming the location (a malformed one, a server that
    /// is not there, a build without the `postgres` feature).
    pub fn open_location(
        location: &str,
        password_file: Option<&Path>,
        work: &Path,
    ) -> Result<Self> {
        let other = match catalog::Location::parse(location)? {
            catalog::Location::Sqlite(path) => return Self::open(path),
            other => other,
        };
        #[cfg(feature = "postgres")]
        if let catalog::Location::Postgres(mut pg) = other {
            if let Some(f) = password_file {
                pg = pg.with_password_file(f);
            }
            let catalog = Catalog::open_at(&catalog::Location::Postgres(pg.clone()))?;
            let table = catalog::SideTable::open(&pg)?;
            return Ok(ArchiveCatalog {
                catalog,
                side: SideFiles::in_table(Arc::new(table), work),
            });
        }
        // Without the `postgres` feature this fails, saying so.
        #[allow(unreachable_code)]
        let catalog = Catalog::open_at(&other)?;
        Ok(ArchiveCatalog {
            catalog,
            side: SideFiles::beside(Path::new(location)),
        })
    }

    /// An already open catalog, its side files beside `path` (for a
    /// catalog in memory, any file name in a directory of the caller's).
    pub fn with_side_files(catalog: Catalog, path: impl AsRef<Path>) -> Self {
        ArchiveCatalog {
            side: SideFiles::beside(path.as_ref()),
            catalog,
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The catalog, to write.
    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    /// What is kept beside it.
    pub fn side(&self) -> &SideFiles {
        &self.side
    }

    /// The catalog alone.
    pub fn into_catalog(self) -> Catalog {
        self.catalog
    }
}

/// Where what is kept beside a catalog is: files beside an SQLite
/// catalog, or (feature `postgres`) the side values of a PostgreSQL one.
#[derive(Debug, Clone)]
pub struct SideFiles {
    /// The SQLite catalog; for a PostgreSQL one, a file name in the work
    /// directory (job outputs are downloaded beside it).
    catalog: PathBuf,
    #[cfg(feature = "postgres")]
    table: Option<Shared>,
}

/// The side values of a PostgreSQL catalog, and who this process is when
/// it claims one.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone)]
struct Shared {
    table: Arc<catalog::SideTable>,
    holder: String,
}

/// Kinds of side values in a PostgreSQL catalog.
#[cfg(feature = "postgres")]
mod kind {
    pub(super) const INDEX: &str = "bundle-index";
    pub(super) const JOB: &str = "job-plan";
    pub(super) const REQUEST: &str = "retrieval-request";
    pub(super) const EXPORT: &str = "pending-export";
    pub(super) const CLEANUP: &str = "cleanup";
    pub(super) const RUN: &str = "live-run";
}

/// How long a claim lasts unless renewed, and how often it is renewed.
pub const LEASE: Duration = Duration::from_secs(60);
const RENEW_EVERY: Duration = Duration::from_secs(15);

/// This process, as the holder of claims: host name, process id and start
/// time (unique among the hosts sharing a catalog).
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{host}:{}:{nanos:x}", std::process::id())
}

impl SideFiles {
    /// The side files of the SQLite catalog at `catalog`.
    pub fn beside(catalog: &Path) -> Self {
        SideFiles {
            catalog: catalog.to_owned(),
            #[cfg(feature = "postgres")]
            table: None,
        }
    }

    /// The side values of a PostgreSQL catalog, job outputs downloaded into
    /// the local directory `work`.
    #[cfg(feature = "postgres")]
    pub fn in_table(table: Arc<catalog::SideTable>, work: &Path) -> Self {
        SideFiles {
            catalog: work.join("catalog"),
            table: Some(Shared {
                table,
                holder: holder_name(),
            }),
        }
    }

    #[cfg(feature = "postgres")]
    fn shared(&self) -> Option<&Shared> {
        self.table.as_ref()
    }

    /// Whether this is a catalog other hosts share (where claims matter).
    pub fn is_shared(&self) -> bool {
        #[cfg(feature = "postgres")]
        return self.table.is_some();
        #[cfg(not(feature = "postgres"))]
        false
    }

    fn with_suffix(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .catalog
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_default();
        name.push(suffix);
        self.catalog.with_file_name(name)
    }

    /// The directory of bundle indexes (SQLite catalogs).
    pub fn index_dir(&self) -> PathBuf {
        self.with_suffix(".indexes")
    }

    /// The directory of pending retrieval jobs (SQLite catalogs: their
    /// plans and outputs; PostgreSQL: the outputs being downloaded here).
    pub fn jobs_dir(&self) -> PathBuf {
        self.with_suffix(".jobs")
    }

    /// The list of interrupted uploads awaiting an inventory (SQLite
    /// catalogs).
    pub fn cleanup_file(&self) -> PathBuf {
        self.with_suffix(".cleanup.json")
    }

    /// The runs ended whose catalog export may not be stored yet (SQLite
    /// catalogs).
    pub fn pending_exports_file(&self) -> PathBuf {
        self.with_suffix(".exports.json")
    }

    /// Where the index of archive `archive_id` is kept (SQLite catalogs).
    pub fn index_path(&self, archive_id: &str) -> PathBuf {
        self.index_dir()
            .join(format!("{}.json", safe_name(archive_id)))
    }

    /// Where the plan of job `job_id` is kept (SQLite catalogs).
    pub fn job_plan_path(&self, job_id: &str) -> PathBuf {
        self.jobs_dir().join(format!("{}.json", safe_name(job_id)))
    }

    /// Where the output of job `job_id` is downloaded.
    pub fn job_output_path(&self, job_id: &str) -> PathBuf {
        self.jobs_dir().join(format!("{}.out", safe_name(job_id)))
    }

    /// Keeps the index of a stored bundle.
    pub fn save_index(&self, archive_id: &str, index: &bundler::BundleIndex) -> Result<()> {
        let path = self.index_path(archive_id);
        let bytes = serde_json::to_vec(index).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s.table.put(kind::INDEX, archive_id, &bytes)?);
        }
        write_atomic(&path, &bytes)
    }

    /// The index kept for `archive_id`, if any (a missing or unreadable
    /// one means: fetch whole bundles).
    pub fn load_index(&self, archive_id: &str) -> Option<bundler::BundleIndex> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            let bytes = s
                .table
                .get(kind::INDEX, archive_id)
                .inspect_err(|e| tracing::warn!(target: "archiver", archive_id, error = %e, "bundle index unreadable; the whole bundle will be fetched"))
                .ok()??;
            return serde_json::from_slice(&bytes).ok();
        }
        let bytes = std::fs::read(self.index_path(archive_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Keeps what job `job_id` is to do.
    pub fn save_job_plan(&self, job_id: &str, plan: &JobPlan) -> Result<()> {
        let path = self.job_plan_path(job_id);
        let bytes = serde_json::to_vec(plan).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s.table.put(kind::JOB, job_id, &bytes)?);
        }
        write_atomic(&path, &bytes)
    }

    /// The plan of job `job_id`: `None` when there is none here.
    pub fn load_job_plan(&self, job_id: &str) -> Result<Option<JobPlan>> {
        let path = self.job_plan_path(job_id);
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            let Some(bytes) = s.table.get(kind::JOB, job_id)? else {
                return Ok(None);
            };
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| Error::Json { path, source });
        }
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json { path, source })
    }

    /// Forgets job `job_id`'s plan and downloaded output (it is done).
    pub fn finish_job(&self, job_id: &str) -> Result<()> {
        let _ = std::fs::remove_file(self.job_output_path(job_id));
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s.table.remove(kind::JOB, job_id)?);
        }
        let _ = std::fs::remove_file(self.job_plan_path(job_id));
        Ok(())
    }

    /// Requests a retrieval of `plan.archive_id` (`plan.range`) into
    /// `plan.to` with `initiate` (which asks the store and records the job
    /// in the catalog, returning its id), and keeps its plan. Returns the
    /// job id and whether it is a new job.
    ///
    /// On a shared catalog, requests of the same archive range into the
    /// same directory take turns (a row lock held while `initiate` runs, or
    /// until the requesting process dies); when one is pending already and
    /// not yet being extracted, `plan`'s members join it instead and no
    /// second job is requested.
    pub fn request_job(
        &self,
        plan: &JobPlan,
        initiate: impl FnOnce() -> Result<String>,
    ) -> Result<(String, bool)> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            let key = plan.request_key();
            let path = self.job_plan_path("");
            let json = |p: &JobPlan| {
                serde_json::to_vec(p).map_err(|source| Error::Json {
                    path: path.clone(),
                    source,
                })
            };
            return s.table.transaction(|tx| {
                let pending = String::from_utf8(tx.lock(kind::REQUEST, &key)?).unwrap_or_default();
                if !pending.is_empty()
                    && let Some(bytes) = tx.get(kind::JOB, &pending)?
                {
                    let mut theirs: JobPlan =
                        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
                            path: path.clone(),
                            source,
                        })?;
                    theirs.join(plan);
                    tx.put(kind::JOB, &pending, &json(&theirs)?)?;
                    return Ok((pending, false));
                }
                let job_id = initiate()?;
                tx.put(kind::JOB, &job_id, &json(plan)?)?;
                tx.put(kind::REQUEST, &key, job_id.as_bytes())?;
                Ok((job_id, true))
            });
        }
        let job_id = initiate()?;
        self.save_job_plan(&job_id, plan)?;
        Ok((job_id, true))
    }

    /// The plan of job `job_id` as it is to be extracted, now that its
    /// output is here: on a shared catalog, no further request joins it
    /// from now on (a new job is requested instead), and the members that
    /// joined it until now are in the plan returned.
    pub fn seal_job(&self, job_id: &str, plan: JobPlan) -> Result<JobPlan> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            let key = plan.request_key();
            let path = self.job_plan_path(job_id);
            return s.table.transaction(|tx| {
                let pending = tx.lock(kind::REQUEST, &key)?;
                if pending.is_empty() || pending == job_id.as_bytes() {
                    tx.remove(kind::REQUEST, &key)?;
                }
                match tx.get(kind::JOB, job_id)? {
                    Some(bytes) => serde_json::from_slice(&bytes)
                        .map_err(|source| Error::Json { path, source }),
                    None => Ok(plan),
                }
            });
        }
        Ok(plan)
    }

    /// Runs `work` on job `job_id` while holding it: on a shared catalog,
    /// `None` without running it when another host holds the job; the
    /// claim is renewed while `work` runs and given up after it.
    pub fn while_holding_job<T>(
        &self,
        job_id: &str,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<Option<T>> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return s.while_holding(kind::JOB, job_id, work);
        }
        let _ = job_id;
        work().map(Some)
    }

    /// Runs `work` (archiving run `uid`) while holding the run: other
    /// hosts sharing the catalog do not take it for an interrupted run
    /// while the claim is renewed.
    pub fn while_holding_run<T>(&self, uid: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            s.table.put(kind::RUN, uid, b"")?;
            let out = s.while_holding(kind::RUN, uid, work)?;
            if out.is_some() {
                s.table.remove(kind::RUN, uid)?;
            }
            return out.ok_or_else(|| Error::RunHeld {
                uid: uid.to_owned(),
            });
        }
        let _ = uid;
        work()
    }

    /// Whether another live process (another host's, on a shared catalog)
    /// is archiving run `uid` right now, or the run was planned for workers
    /// and has units left (its workers end it, not a recovery).
    pub fn run_is_live_elsewhere(&self, uid: &str) -> Result<bool> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(
                s.table.held_by_other(kind::RUN, uid, &s.holder)? || s.table.has_work_left(uid)?
            );
        }
        let _ = uid;
        Ok(false)
    }

    /// Run uids whose export is pending.
    pub(crate) fn pending_exports(&self) -> Result<Vec<String>> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s.table.keys(kind::EXPORT)?);
        }
        Ok(std::fs::read(self.pending_exports_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    /// Marks (or, `pending: false`, unmarks) run `uid`'s export pending.
    pub(crate) fn set_export_pending(&self, uid: &str, pending: bool) -> Result<()> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            if pending {
                s.table.put(kind::EXPORT, uid, b"")?;
            } else {
                s.table.remove(kind::EXPORT, uid)?;
            }
            return Ok(());
        }
        let mut list = self.pending_exports()?;
        list.retain(|u| u != uid);
        if pending {
            list.push(uid.to_owned());
        }
        let path = self.pending_exports_file();
        if list.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io("removing", path)(e))
                }
                _ => Ok(()),
            };
        }
        let bytes = serde_json::to_vec(&list).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &bytes)
    }

    pub(crate) fn load_cleanup(&self) -> Result<Cleanup> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s
                .table
                .get(kind::CLEANUP, "")?
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default());
        }
        Ok(std::fs::read(self.cleanup_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    pub(crate) fn save_cleanup(&self, c: &Cleanup) -> Result<()> {
        let path = self.cleanup_file();
        let bytes = serde_json::to_vec(c).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s.table.put(kind::CLEANUP, "", &bytes)?);
        }
        write_atomic(&path, &bytes)
    }

    pub(crate) fn clear_cleanup(&self) -> Result<()> {
        #[cfg(feature = "postgres")]
        if let Some(s) = self.shared() {
            return Ok(s.table.remove(kind::CLEANUP, "")?);
        }
        let _ = std::fs::remove_file(self.cleanup_file());
        Ok(())
    }
}

#[cfg(feature = "postgres")]
impl Shared {
    /// Claims `kind`/`key`, runs `work` while a thread renews the claim,
    /// then releases it; `None` (not run) when another holds it.
    fn while_holding<T>(
        &self,
        kind: &str,
        key: &str,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<Option<T>> {
        if !self.table.claim(kind, key, &self.holder, LEASE)? {
            return Ok(None);
        }
        let (done, stop) = std::sync::mpsc::channel::<()>();
        let out = std::thread::scope(|s| {
            s.spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(RENEW_EVERY)
                {
                    if let Err(e) = self.table.claim(kind, key, &self.holder, LEASE) {
                        tracing::warn!(target: "archiver", kind, key, error = %e, "renewing a claim failed");
                    }
                }
            });
            let out = work();
            drop(done);
            out
        });
        // A failed release only leaves the lease to run out.
        if let Err(e) = self.table.release(kind, key, &self.holder) {
            tracing::warn!(target: "archiver", kind, key, error = %e, "releasing a claim failed");
        }
        out.map(Some)
    }
}

/// What a pending retrieval job is to do once its output is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPlan {
    /// The store's archive id.
    pub archive_id: String,
    /// The byte range asked for (`None`: the whole archive).
    pub range: Option<(u64, u64)>,
    /// Member names to extract (`None`: all).
    pub members: Option<Vec<String>>,
    /// Where to.
    pub to: PathBuf,
}

impl JobPlan {
    /// What requests of the same job share: the archive, the range, the
    /// directory.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn request_key(&self) -> String {
        let range = self
            .range
            .map_or_else(|| "all".to_owned(), |(a, b)| format!("{a}-{b}"));
        format!("{} {range} {}", self.archive_id, self.to.display())
    }

    /// Adds `other`'s members (a plan of the same request) to these.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn join(&mut self, other: &JobPlan) {
        match (&mut self.members, &other.members) {
            (Some(mine), Some(theirs)) => {
                for m in theirs {
                    if !mine.contains(m) {
                        mine.push(m.clone());
                    }
                }
            }
            (mine, _) => *mine = None,
        }
    }
}

/// What an earlier run may have left in the vault unknown to the catalog:
/// bundles whose upload finished just as the process died.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Cleanup {
    pub(crate) descriptions: Vec<String>,
    pub(crate) inventory_job: Option<String>,
}

/// A file name for a store id (archive and job ids may hold `/`, `+`).
pub fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(Error::io("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("writing", path))
}

/// The data directory of the embedded default: `$PERMAFROST_HOME`, else
/// `$XDG_DATA_HOME/permafrost`, else `$HOME/.local/share/permafrost` (see
/// [`catalog::data_home`]). It holds the local store `store/` (vault
/// [`DEFAULT_VAULT`]) and the catalog `catalog.sqlite`
/// ([`catalog::default_path`], which `tape-op` uses too).
pub fn data_home() -> Result<PathBuf> {
    catalog::data_home().ok_or(Error::NoDataHome)
}

/// The vault of the embedded default store.
pub const DEFAULT_VAULT: &str = "default";

/// The location of the embedded default store's vault,
/// `DATA_HOME/store/default` ([`data_home`]), its directory created.
pub fn default_vault_location() -> Result<String> {
    let root = data_home()?.join("store");
    std::fs::create_dir_all(&root).map_err(Error::io("creating the store", &root))?;
    Ok(format!("{}/{DEFAULT_VAULT}", root.display()))
}

/// A size for people: `512 B`, `1.5 KiB`, `3.2 GiB`.
///
/// ```
/// assert_eq!(archiver::human_bytes(512), "512 B");
/// assert_eq!(archiver::human_bytes(1536), "1.5 KiB");
/// ```
#[allow(clippy::cast_precision_loss)] // one decimal shown
pub fn human_bytes(bytes: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}
