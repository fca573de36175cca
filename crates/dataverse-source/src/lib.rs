//! Read a Dataverse installation for backup.
//!
//! - [`list_files`] (and [`DataverseSource::list`]) streams every data file
//!   of the installation's non-harvested datasets from its PostgreSQL
//!   database, current schema (Dataverse 4.10 to 6.x: authority and
//!   identifier on the dataset's own `dvobject` row), with one query
//!   through a server-side cursor: memory holds two batches of rows
//!   whatever the number of files. Each [`DataFile`] carries its dataset's
//!   persistent identifier, storage identifier, size, checksum type and
//!   value, creation date, content type, and for a tabular file its
//!   preserved original (`datatable.originalfileformat`: the object to back
//!   up is `<storageid>.orig`, and the checksum is the original's). Files
//!   without a storage identifier are listed with `storage: None`, so a
//!   caller can report them.
//! - [`Stores`] maps Dataverse's driver ids (`file`, `s3`, any configured
//!   store name) to [`FileStore`]s: [`FileSystemStore`] reads
//!   `<dir>/<authority>/<identifier>/<storageid>`; with the `s3` feature
//!   (on by default), `S3FileStore` reads storage identifiers
//!   `<driverId>://<bucket>:<storageid>` from the object
//!   `<authority>/<identifier>/<storageid>`, streamed.
//! - [`ChecksumType`]: MD5, SHA-1, SHA-256, SHA-512, computed while
//!   streaming ([`HashingReader`]); any other type is
//!   [`ChecksumType::Unknown`] and backs up as `FAIL_VERIFY` with its name.
//! - The seams: [`Source`] (list and open) and [`Destination`] (put a copy,
//!   checksum it where it is), with in-memory implementations that inject
//!   faults ([`MemorySource`], [`MemoryDestination`]) and a local directory
//!   destination ([`DirectoryDestination`]).
//! - [`back_up`]: one file from a source to a destination, verified, as an
//!   [`Outcome`] carrying the original script's [`Status`] (`OK`,
//!   `FAIL_READ`, `FAIL_WRITE`, `FAIL_VERIFY`) and a message.
//!
//! Blocking throughout; nothing is printed (events go to `tracing`).
//!
//! # Example
//!
//! ```
//! use dataverse_source::{
//!     Checksum, ChecksumType, DataFile, DatasetId, DestinationFault, MemoryDestination,
//!     MemorySource, Status, back_up,
//! };
//!
//! let source = MemorySource::new();
//! let dataset = DatasetId::new("doi", "10.5072", "FK2/ABCDEF");
//! let checksum = Checksum::new(ChecksumType::Md5, "900150983cd24fb0d6963f7d28e17f72");
//! let file = DataFile::new(7, dataset, "file://18b39722140-50eb7d3c5ece", checksum);
//! source.add(file.clone(), b"abc".to_vec());
//!
//! let destination = MemoryDestination::new();
//! let outcome = back_up(&source, &destination, &file);
//! assert_eq!(outcome.status, Status::Ok);
//! assert_eq!(
//!     destination.get("10.5072/FK2/ABCDEF/18b39722140-50eb7d3c5ece").as_deref(),
//!     Some(&b"abc"[..])
//! );
//!
//! // A copy damaged on the way is caught by the destination's checksum.
//! destination.inject("10.5072/FK2/ABCDEF/18b39722140-50eb7d3c5ece", DestinationFault::WrongChecksum);
//! assert_eq!(back_up(&source, &destination, &file).status, Status::FailVerify);
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// Errors carry the driver's error and their context; large, but rare.
#![allow(clippy::result_large_err)]

mod backup;
mod checksum;
mod database;
mod destination;
mod error;
mod model;
#[cfg(feature = "s3")]
mod s3;
mod source;
mod store;

pub use backup::{Outcome, Status, back_up};
pub use checksum::{Checksum, ChecksumType, Hasher, HashingReader, hex};
pub use database::{DatabaseConfig, FileIter, ListOptions, list_files};
pub use destination::{
    Destination, DestinationFault, DirectoryDestination, MemoryDestination, copy_classified,
};
pub use error::{Error, Result};
pub use model::{DataFile, DatasetId, ORIGINAL_SUFFIX, Original, StorageIdentifier, Timestamp};
#[cfg(feature = "s3")]
pub use s3::S3FileStore;
pub use source::{DataverseSource, Files, MemorySource, Source, SourceFault};
pub use store::{FileStore, FileSystemStore, Stores};

// The driver whose types appear in this API (`DatabaseConfig::connect`).
pub use postgres;
