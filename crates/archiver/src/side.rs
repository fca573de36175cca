//! The catalog and the files kept beside it.
//!
//! Beside the catalog `FILE` live `FILE.indexes/ARCHIVE_ID.json` (each
//! bundle's own index, so a retrieval can ask for just the ranges of the
//! wanted members), `FILE.jobs/JOB_ID.json` (what a pending retrieval job
//! is to extract, and where; its downloaded output is `JOB_ID.out` there
//! until extracted), `FILE.cleanup.json` (descriptions of interrupted
//! uploads that may have reached the vault, awaiting an inventory) and
//! `FILE.exports.json` (runs ended whose catalog export is being stored).

use std::path::{Path, PathBuf};

use catalog::Catalog;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An open catalog and the paths of the files beside it. Every flow of
/// this crate takes one.
#[derive(Debug)]
pub struct ArchiveCatalog {
    catalog: Catalog,
    side: SideFiles,
}

impl ArchiveCatalog {
    /// Opens (creating, with its directory) the catalog at `path`.
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

    /// The files beside it.
    pub fn side(&self) -> &SideFiles {
        &self.side
    }

    /// The catalog alone.
    pub fn into_catalog(self) -> Catalog {
        self.catalog
    }
}

/// Where the files beside a catalog are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideFiles {
    catalog: PathBuf,
}

impl SideFiles {
    /// The side files of the catalog at `catalog`.
    pub fn beside(catalog: &Path) -> Self {
        SideFiles {
            catalog: catalog.to_owned(),
        }
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

    /// The directory of bundle indexes.
    pub fn index_dir(&self) -> PathBuf {
        self.with_suffix(".indexes")
    }

    /// The directory of pending retrieval jobs.
    pub fn jobs_dir(&self) -> PathBuf {
        self.with_suffix(".jobs")
    }

    /// The list of interrupted uploads awaiting an inventory.
    pub fn cleanup_file(&self) -> PathBuf {
        self.with_suffix(".cleanup.json")
    }

    /// The runs ended whose catalog export may not be stored yet.
    pub fn pending_exports_file(&self) -> PathBuf {
        self.with_suffix(".exports.json")
    }

    /// Where the index of archive `archive_id` is kept.
    pub fn index_path(&self, archive_id: &str) -> PathBuf {
        self.index_dir()
            .join(format!("{}.json", safe_name(archive_id)))
    }

    /// Where the plan of job `job_id` is kept.
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
        write_atomic(&path, &bytes)
    }

    /// The index kept for `archive_id`, if any (a missing or unreadable
    /// one means: fetch whole bundles).
    pub fn load_index(&self, archive_id: &str) -> Option<bundler::BundleIndex> {
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
        write_atomic(&path, &bytes)
    }

    /// The plan of job `job_id`: `None` when there is none here.
    pub fn load_job_plan(&self, job_id: &str) -> Result<Option<JobPlan>> {
        let path = self.job_plan_path(job_id);
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json { path, source })
    }

    /// Run uids whose export is pending.
    pub(crate) fn pending_exports(&self) -> Vec<String> {
        std::fs::read(self.pending_exports_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Marks (or, `pending: false`, unmarks) run `uid`'s export pending.
    pub(crate) fn set_export_pending(&self, uid: &str, pending: bool) -> Result<()> {
        let mut list = self.pending_exports();
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

    pub(crate) fn load_cleanup(&self) -> Cleanup {
        std::fs::read(self.cleanup_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub(crate) fn save_cleanup(&self, c: &Cleanup) -> Result<()> {
        let path = self.cleanup_file();
        let bytes = serde_json::to_vec(c).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &bytes)
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
