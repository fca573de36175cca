//! A catalog from the vault alone.
//!
//! Asks for the vault's inventory, picks the archives whose description
//! marks them as catalog exports, retrieves each and imports it (runs
//! already present are left alone, so it also merges a vault into a
//! catalog). Bundle indexes are not rebuilt: retrievals through a rebuilt
//! catalog fetch whole bundles.

use std::time::Duration;

use glacier_multipart::{
    DownloadOptions, Downloader, Inventory, InventoryFormat, JobRequest, JobStatus, NoProgress,
};

use crate::archive::CATALOG_PREFIX;
use crate::error::{Error, Result};
use crate::observer::{Notice, Observer, Warning, emit_notice, emit_warning};
use crate::options::Vault;
use crate::side::ArchiveCatalog;
use crate::watch::PollFailures;

/// What [`rebuild_catalog`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildSummary {
    /// Catalog exports found in the inventory.
    pub exports: usize,
    /// Runs imported (the others were already in the catalog).
    pub imported_runs: u64,
    /// Files in the exports read.
    pub files: u64,
}

/// Rebuilds (or completes) `catalog` from `vault`: its inventory and the
/// catalog export every archive run stored there. Polls jobs every
/// `interval`.
pub fn rebuild_catalog(
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    interval: Duration,
    observer: &dyn Observer,
) -> Result<RebuildSummary> {
    emit_notice(
        observer,
        &Notice::RequestingInventory {
            vault: vault.name.clone(),
        },
    );
    let job = vault
        .store
        .initiate_job(&vault.name, &JobRequest::inventory(InventoryFormat::Json))
        .map_err(Error::store(format!(
            "requesting the inventory of vault {}",
            vault.name
        )))?;
    let data = wait_output(vault, &job, interval, observer)?;
    let inventory = Inventory::parse(&data).map_err(|source| Error::Inventory {
        job: job.clone(),
        source,
    })?;
    let mut exports: Vec<_> = inventory
        .archives
        .iter()
        .filter(|a| a.description.starts_with(CATALOG_PREFIX))
        .collect();
    exports.sort_by_key(|a| a.created);
    emit_notice(
        observer,
        &Notice::InventoryRead {
            archives: inventory.archives.len(),
            exports: exports.len(),
        },
    );
    let mut summary = RebuildSummary {
        exports: exports.len(),
        imported_runs: 0,
        files: 0,
    };
    for a in &exports {
        let job = vault
            .store
            .initiate_job(&vault.name, &JobRequest::archive(a.archive_id.clone()))
            .map_err(Error::store(format!(
                "requesting archive {} from vault {}",
                a.archive_id, vault.name
            )))?;
        let bytes = wait_output(vault, &job, interval, observer)?;
        let outcome = catalog
            .catalog_mut()
            .import_run(&bytes[..], &a.description)
            .map_err(|source| Error::Import {
                description: a.description.clone(),
                archive_id: a.archive_id.clone(),
                source,
            })?;
        if outcome.imported {
            summary.imported_runs += 1;
        }
        summary.files += outcome.summary.files;
    }
    Ok(summary)
}

/// Waits for job `job` and returns its whole output, verified.
fn wait_output(
    vault: &Vault,
    job: &str,
    interval: Duration,
    observer: &dyn Observer,
) -> Result<Vec<u8>> {
    let mut failures = PollFailures::default();
    loop {
        let info = match vault.store.describe_job(&vault.name, job) {
            Ok(info) => {
                failures.succeeded();
                info
            }
            Err(e) => {
                let retryable = e.is_retryable();
                let e = Error::Store {
                    action: format!("describing job {job} of vault {}", vault.name),
                    source: e,
                };
                let Some(failure) = failures.failed(retryable) else {
                    return Err(e);
                };
                emit_warning(
                    observer,
                    &Warning::PollFailed {
                        waiting_for: format!("job {job} of vault {}", vault.name),
                        message: e.to_string(),
                        failure,
                        limit: failures.limit(),
                        next_poll_s: interval.as_secs(),
                    },
                );
                std::thread::sleep(interval);
                continue;
            }
        };
        match info.status {
            JobStatus::Succeeded => break,
            JobStatus::Failed => {
                return Err(Error::JobFailed {
                    job: job.to_owned(),
                });
            }
            JobStatus::InProgress => {
                emit_notice(
                    observer,
                    &Notice::JobInProgress {
                        job: job.to_owned(),
                        next_poll_s: interval.as_secs(),
                    },
                );
                std::thread::sleep(interval);
            }
        }
    }
    let dir = temp_dir()?;
    let dest = dir.join("output");
    let r = Downloader::new(vault.store.clone(), DownloadOptions::default())
        .download_job(&vault.name, job, &dest, &NoProgress)
        .map_err(Error::store(format!("downloading the output of job {job}")))
        .and_then(|_| std::fs::read(&dest).map_err(Error::io("reading", &dest)));
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn temp_dir() -> Result<std::path::PathBuf> {
    // Unique within the process too: two rebuilds in one second (two
    // threads) must not share, and remove, one directory.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "permafrost-rebuild-{}-{}-{n}",
        std::process::id(),
        crate::archive::now()
    ));
    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
    Ok(dir)
}
