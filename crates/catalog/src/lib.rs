//! Permafrost's catalog: every run, archive, file, tag, retrieval job and
//! tape volume in one SQLite file (its full-text index, derived data, in a second file
//! beside it: `<catalog>-fts`), and a search that finds any file among
//! millions in milliseconds.
//!
//! - [`Catalog::open`] creates or migrates a catalog (versioned schema,
//!   WAL, foreign keys, a busy timeout) and refuses, with a clear error, a
//!   file that is not a catalog or comes from a newer version.
//! - Writing: [`Catalog::store`] and [`Catalog::vault`], [`Catalog::begin_run`],
//!   [`Catalog::add_archive`], [`Catalog::insert_files`] and
//!   [`Catalog::insert_many`] (batched transactions; large batches are
//!   indexed by a second thread: ~300 000 rows a second on two cores), [`Catalog::set_archive_stored`],
//!   [`Catalog::finish_run`], tags, retrieval jobs, ACL entries.
//! - Reading: [`Catalog::search`] with the [query language](query),
//!   paged and serializable ([`SearchPage`]); [`Catalog::where_is`] for every
//!   archived version of a path.
//! - Tape: [`Catalog::tape`] ([`Tapes`]) records tape volumes as a kind of
//!   store location (store [`TAPE_STORE`]), the targets written to them,
//!   backups and their parts (tape files), and for every member of a tape
//!   archive the volume, tape file and block where it starts; searches set
//!   [`FileHit::tape`] for those files.
//! - Health: [`Catalog::check`] runs SQLite's integrity check on both files
//!   and checks that the search index agrees with the file rows
//!   ([`CheckReport`]); [`Catalog::rebuild_index`] rebuilds the index.
//! - [`default_path`]: the catalog every Permafrost tool uses by default
//!   (`catalog.sqlite` in [`data_home`]).
//! - [`Catalog::export_run`] / [`Catalog::import_run`]: a run as a compact,
//!   versioned, compressed file, imported idempotently.
//! - [`synth`]: synthetic trees of any size for benchmarks.
//!
//! It knows nothing of AWS, async runtimes, command lines or terminals.
//! Open one [`Catalog`] per thread: many read while one writes.
//!
//! # Example
//!
//! ```
//! use catalog::{ArchiveState, Catalog, FileEntry, NewArchive, NewRun, Page};
//!
//! let mut cat = Catalog::open_in_memory()?;
//! let store = cat.store("local", "local", Some("/srv/cold"))?;
//! let vault = cat.vault(store, "projects")?;
//! let run = cat.begin_run(&NewRun {
//!     roots: vec!["/data".into()],
//!     description: "yearly archive".into(),
//!     tags: vec!["finance".into()],
//!     started: 1_700_000_000,
//!     ..NewRun::default()
//! })?;
//! let archive = cat.add_archive(&NewArchive {
//!     run,
//!     vault,
//!     remote_id: None,
//!     size: 2048,
//!     stored_size: None,
//!     tree_hash: None,
//!     description: String::new(),
//!     tags: vec![],
//!     created: 1_700_000_100,
//!     state: ArchiveState::Uploading,
//!     recipients: vec![],
//! })?;
//! cat.insert_files(archive, &[
//!     FileEntry { path: "/data/Finance/Budget_2019-final.xlsx".into(), size: 1024, mtime: 1_560_000_000, ..FileEntry::default() },
//!     FileEntry { path: "/data/Finance/Budget_2020.xlsx".into(), size: 1024, mtime: 1_590_000_000, ..FileEntry::default() },
//! ])?;
//! cat.set_archive_stored(archive, "glacier-archive-id-1", None, 900)?;
//!
//! let page = cat.search_str("budget 2019", Page::default())?;
//! assert_eq!(page.hits.len(), 1);
//! assert_eq!(page.hits[0].path, "/data/Finance/Budget_2019-final.xlsx");
//! assert_eq!(page.hits[0].archive_id.as_deref(), Some("glacier-archive-id-1"));
//!
//! let page = cat.search_str("tag:finance -2019 mtime:>=2020-01-01", Page::default())?;
//! assert_eq!(page.hits[0].path, "/data/Finance/Budget_2020.xlsx");
//!
//! // A syntax error says where and what was expected.
//! let err = cat.search_str("budget size:>lots", Page::default()).unwrap_err();
//! assert!(err.to_string().contains("column 14"));
//! # Ok::<(), catalog::CatalogError>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod acl;
mod api;
mod backup;
mod catalog;
mod check;
mod dense;
mod error;
mod export;
mod home;
mod index;
pub mod location;
mod model;
#[cfg(feature = "postgres")]
mod postgres;
pub mod query;
mod record;
mod search;
pub mod synth;
pub mod tape;
mod time;
mod tokens;

pub use acl::{FileAcl, KnownPrincipal};
pub use api::{BackendKind, Catalog};
pub use backup::{BackupLevel, BackupSet, NewBackupSet};
pub use catalog::{
    APPLICATION_ID, BUSY_TIMEOUT, DEFAULT_PAGE_CACHE_KIB, MIN_PAGE_CACHE_KIB, SCHEMA_VERSION,
    new_uid as new_run_uid,
};
pub use check::CheckReport;
pub use error::{CatalogError, Result};
pub use export::{EXPORT_FORMAT, EXPORT_VERSION, ExportSummary, ImportOutcome};
pub use home::{DEFAULT_FILE_NAME, data_home, default_path};
pub use location::{Location, PgLocation};
pub use model::{
    AclEntry, Archive, ArchiveKey, ArchiveState, BackupId, FileEntry, FileHit, FileId, JobKey,
    JobState, MemberLocation, NewArchive, NewRun, PackedRange, Page, RetrievalJob, Run, RunId,
    SearchPage, StoreId, TargetId, UnitClaim, VaultId, VolumeId,
};
#[cfg(feature = "postgres")]
pub use postgres::side::{SideTable, SideTx};
#[cfg(feature = "postgres")]
pub use postgres::work::{ClaimedUnit, UnitCounts, WorkQueue};
pub use query::{Query, QueryError};
pub use search::{MAX_PAGE, StoredFile};
pub use tape::{TAPE_STORE, TapePosition, Tapes};
pub use time::{format_time, parse_time};
pub use tokens::{phrase_matches, query_tokens};
