//! Cold archive stores and the engine that moves archives in and out of
//! them: in parallel, verified with the Glacier tree hash, resumable.
//!
//! - [`ArchiveStore`]: one blocking, object-safe trait for a cold archive
//!   store, modelled on Glacier's vault API (vaults, single and multipart
//!   uploads with tree hashes, retrieval and inventory jobs, ranged job
//!   output). Errors are one [`Error`] enum that knows
//!   [`is_retryable`](Error::is_retryable).
//! - Stores: [`LocalStore`], a directory (the embedded default: no cloud
//!   account needed), and [`MemoryStore`], with fault injection for tests.
//!   With the default-on `glacier` feature, [`GlacierStore`] talks to
//!   Amazon Glacier vaults (`aws-sdk-glacier` on a private tokio runtime);
//!   with the default-on `s3` feature, [`S3Store`] keeps archives as
//!   objects of one S3 bucket in an archive storage class (`DEEP_ARCHIVE`,
//!   `GLACIER`, `GLACIER_IR`, `STANDARD`), restores them for reading and
//!   verifies every byte read against the tree hash it recorded.
//!   [`open_store`] picks one from a location string.
//! - The engine: [`Uploader`] (automatic part size, N parts in flight with
//!   bounded memory, retries with backoff, the archive's tree hash combined
//!   from part hashes, resume after a crash) and [`Downloader`] (job output
//!   in tree-hash aligned segments fetched in parallel, each verified,
//!   resumable, the whole checked before it is renamed into place).
//!   Both report through [`Progress`] and never print.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use glacier_multipart::{
//!     ArchiveStore, Downloader, JobRequest, LocalStore, NoProgress, UploadOptions, Uploader,
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let store: Arc<dyn ArchiveStore> = Arc::new(LocalStore::open(dir.path().join("store"))?);
//! store.create_vault("photos")?;
//!
//! // Upload a 3 MiB file in 1 MiB parts, two at a time.
//! let src = dir.path().join("holiday.tar");
//! std::fs::write(&src, vec![7u8; 3 << 20])?;
//! let options = UploadOptions { part_size: 1 << 20, concurrency: 2, ..UploadOptions::default() };
//! let archive = Uploader::new(Arc::clone(&store), options)
//!     .upload_file("photos", &src, "holiday", &NoProgress)?;
//! assert_eq!(archive.size, 3 << 20);
//!
//! // Retrieve it: start a job (instant on a local store), download and verify.
//! let job = store.initiate_job("photos", &JobRequest::archive(&archive.archive_id))?;
//! let dest = dir.path().join("restored.tar");
//! Downloader::new(store, Default::default()).download_job("photos", &job, &dest, &NoProgress)?;
//! assert_eq!(std::fs::read(&dest)?, std::fs::read(&src)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// Errors carry two tree hashes and their context (vault, ids, range): large,
// but rare and never on a hot path. Boxing them would only hide the fields.
#![allow(clippy::result_large_err)]

#[cfg(feature = "aws")]
mod aws;
mod common;
mod download;
mod error;
mod inventory;
mod local;
mod location;
mod memory;
mod progress;
mod retry;
mod serde_util;
mod store;
mod timeouts;
mod upload;

#[cfg(feature = "glacier")]
pub use aws::glacier::{GlacierOptions, GlacierStore};
#[cfg(feature = "s3")]
pub use aws::s3::{CHECKSUM as S3_CHECKSUM, S3Class, S3Options, S3Store};
#[cfg(feature = "s3")]
pub use aws::{S3Client, S3Connect};
pub use download::{DownloadInfo, DownloadOptions, Downloader};
pub use error::{Detail, Error, Result};
pub use inventory::{Inventory, InventoryParseError};
pub use local::LocalStore;
pub use location::open_store;
pub use memory::{MemoryStats, MemoryStore};
pub use progress::{NoProgress, Progress};
pub use retry::{NO_ANSWER_ATTEMPTS, RetryPolicy};
pub use store::{
    ArchiveInfo, ArchiveStore, InventoryFormat, JobInfo, JobOutput, JobRequest, JobStatus,
    PartInfo, StoreLimits, Tier, UploadInfo, UploadParts, VaultInfo,
};
pub use timeouts::{TimeoutKind, Timeouts};
pub use upload::{UploadOptions, Uploader, choose_part_size};
