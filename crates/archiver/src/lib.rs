//! Permafrost's archive engine: put trees of files into cold storage as
//! bundles, record every file in the catalog, and get any of them back.
//!
//! - [`archive`]: walk [`Sources`], leave out what the catalog holds
//!   unchanged, cut the rest into bundles (seekable tar, zstd by default,
//!   optionally age-encrypted), stream each bundle straight into a
//!   [`Vault`] of any [`glacier_multipart::ArchiveStore`] (no temporary
//!   copy; [`ArchiveOptions::jobs`] bundles in flight), record every file
//!   with the byte range that holds it, and store the run's catalog export
//!   in the vault too. [`plan_archive`] makes the same choice without a
//!   store, as an [`ArchivePlan`] that can be priced
//!   ([`ArchivePlan::cost_picture`]) and later stored ([`archive_planned`]).
//! - Interrupted runs: each bundle is recorded as `uploading` before its
//!   first byte is sent; [`recover`] (the first step of [`archive`]) aborts
//!   half-done uploads, forgets unfinished bundles (their files are
//!   archived again), deletes a bundle that reached the vault unrecorded
//!   once an inventory shows it, and closes the interrupted run. A process
//!   killed at any moment is completed by running again.
//! - [`plan_retrieve`] turns a [`Selection`] (a catalog query, an archive,
//!   a path) into a [`RetrievePlan`]: archives, megabyte-aligned byte
//!   ranges when only some members of a bundle are wanted, bytes, requests,
//!   cost and wait; serializable, and refusable
//!   ([`RetrievePlan::check_max_cost`]). [`retrieve`] requests its jobs;
//!   [`watch`] ([`poll_jobs`] for one pass) downloads finished jobs
//!   (tree-hash verified, resumable), decrypts, and extracts just the
//!   requested files with their metadata under `DIR/<original path>`.
//! - [`rebuild_catalog`] restores a lost catalog from the vault alone.
//! - [`pricing`]: prices per storage class as data, and the estimates.
//!
//! The catalog travels as an [`ArchiveCatalog`]: the SQLite catalog and the
//! files kept beside it (each bundle's index, pending jobs' plans, the list
//! of interrupted uploads awaiting an inventory). Progress, recovery steps
//! and per-file warnings reach the caller through an [`Observer`] (every
//! method optional) and as `tracing` events; nothing is printed.
//!
//! Seams for callers that are not a directory walk: [`Sources::Entries`]
//! archives an explicit list of files, each under the catalog path given;
//! [`ArchiveOptions::run_options`] and [`ArchiveOptions::tags`] are
//! recorded with the run; [`ArchiveOptions::changes`] chooses between
//! incremental and full runs; an [`EntryHook`] adds metadata to each file's
//! catalog row; [`ArchivePlan`] separates choosing from storing.
//!
//! # Example
//!
//! Archive a directory into a local store, find a file and get it back:
//!
//! ```
//! use std::sync::Arc;
//! use archiver::{ArchiveCatalog, ArchiveOptions, NoObserver, RetrieveOptions, Selection, Sources, Vault, WatchOptions};
//!
//! let tmp = tempfile::tempdir()?;
//! std::fs::create_dir_all(tmp.path().join("data/reports"))?;
//! std::fs::write(tmp.path().join("data/reports/budget 2019.txt"), b"figures")?;
//!
//! let store = Arc::new(archiver::glacier_multipart::LocalStore::open(tmp.path().join("store"))?);
//! let vault = Vault::new(store, "projects");
//! let mut catalog = ArchiveCatalog::open(tmp.path().join("catalog.sqlite"))?;
//! let options = ArchiveOptions::default().tags(["reports"]).max_files(500);
//! let sources = Sources::roots([tmp.path().join("data")]);
//! let summary = archiver::archive(&sources, &options, &vault, &mut catalog, &NoObserver)?;
//! assert_eq!((summary.files, summary.bundles), (1, 1));
//!
//! let query = archiver::catalog::query::parse("budget tag:reports")?;
//! let plan = archiver::plan_retrieve(&Selection::Query(query), &RetrieveOptions::default(), &vault, &catalog, &NoObserver)?;
//! assert_eq!(plan.files, 1);
//! archiver::retrieve(&plan, &tmp.path().join("out"), &vault, &mut catalog, &NoObserver)?;
//! archiver::watch(&vault, &mut catalog, &WatchOptions::default(), &NoObserver)?;
//!
//! let original = std::fs::canonicalize(tmp.path().join("data/reports/budget 2019.txt"))?;
//! let back = tmp.path().join("out").join(original.strip_prefix("/")?);
//! assert_eq!(std::fs::read(back)?, b"figures");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// Errors carry their context and the store's error; large, but rare.
#![allow(clippy::result_large_err)]

mod archive;
pub mod backup;
mod backup_prune;
mod backup_reconcile;
mod backup_restore;
mod changes;
#[cfg(feature = "postgres")]
pub mod distributed;
mod error;
mod inventory;
mod observer;
mod options;
mod pipe;
pub mod pricing;
mod rebuild;
mod retrieve;
mod side;
mod watch;

pub use archive::{
    ArchivePlan, ArchiveSummary, BUNDLE_PREFIX, CATALOG_PREFIX, ClassCost, archive,
    archive_planned, plan_archive, recover,
};
pub use backup_prune::{PruneOptions, PruneOutcome, PrunedCycle, prune};
pub use backup_reconcile::{
    ADOPTED_TAG, MISSING_TAG, MissingArchive, ReconcileOptions, ReconcileOutcome, Unknown,
    UnknownArchive, reconcile,
};
pub use backup_restore::{RestorePoint, plan_restore, restore};
pub use error::{Error, Result};
pub use inventory::{InventoryRequest, request_inventory};
pub use observer::{
    BundleEvent, NoObserver, Notice, Observer, PlanSummary, RunStarted, Transfer, Warning,
};
pub use options::{ArchiveOptions, ChangeDetection, EntryHook, SourceEntry, Sources, Vault};
pub use rebuild::{RebuildSummary, rebuild_catalog};
pub use retrieve::{
    PlannedArchive, RetrieveOptions, RetrievePlan, Selection, plan_retrieve, retrieve,
};
pub use side::{
    ArchiveCatalog, DEFAULT_VAULT, JobPlan, LEASE, SideFiles, data_home, default_vault_location,
    holder_name, human_bytes, safe_name,
};
pub use watch::{ExtractHook, PollFailures, WatchOptions, WatchOutcome, poll_jobs, watch};

/// [`distributed::MAX_ATTEMPTS`], for messages of any build.
pub(crate) const fn distributed_max_attempts() -> u32 {
    3
}

// The crates whose types appear in this API, so callers use the same
// versions.
pub use bundler;
pub use catalog;
pub use glacier_multipart;
