//! The public [`Catalog`]: one API over its backends, the SQLite file (the
//! embedded default) and, with the `postgres` feature, a PostgreSQL
//! database shared by many hosts.
//!
//! Each operation is the backend's own; one a backend cannot do yet returns
//! [`CatalogError::Unsupported`] naming the operation and the backend,
//! never a panic nor a silent empty answer.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;

use crate::catalog::SqliteCatalog;
use crate::error::{CatalogError, Result};
use crate::location::Location;
use crate::search::StoredFile;
use crate::tape::Tapes;
use crate::{
    AclEntry, Archive, ArchiveKey, ArchiveState, BackupLevel, BackupSet, CheckReport, FileAcl,
    FileEntry, FileHit, FileId, JobKey, JobState, KnownPrincipal, NewArchive, NewBackupSet, NewRun,
    Page, Query, RetrievalJob, Run, RunId, SearchPage, StoreId, VaultId,
};
use crate::{ExportSummary, ImportOutcome};

/// Which database holds a catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// One SQLite file (and its search index beside it).
    Sqlite,
    /// A PostgreSQL database (feature `postgres`).
    Postgres,
}

impl BackendKind {
    /// "SQLite", "PostgreSQL".
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "SQLite",
            BackendKind::Postgres => "PostgreSQL",
        }
    }
}

/// An open catalog: an SQLite file ([`Catalog::open`]) or, with the
/// `postgres` feature, a PostgreSQL database ([`Catalog::open_location`]
/// with `postgres://USER@HOST:PORT/DB`).
///
/// Open one `Catalog` per thread. On SQLite any number of them may read
/// while one writes (WAL mode); writers take turns, each waiting up to
/// [`BUSY_TIMEOUT`](crate::BUSY_TIMEOUT).
#[derive(Debug)]
pub struct Catalog {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(SqliteCatalog),
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::PgCatalog),
}

/// Calls the same method on whichever backend is open.
macro_rules! both {
    ($backend:expr, $c:ident => $call:expr) => {
        match $backend {
            Backend::Sqlite($c) => $call,
            #[cfg(feature = "postgres")]
            Backend::Postgres($c) => $call,
        }
    };
}

impl Catalog {
    /// Opens the SQLite catalog at `path`, creating it when the file is
    /// missing or empty and migrating it to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    ///
    /// # Errors
    /// [`CatalogError::NotACatalog`] for a file that is not SQLite or is
    /// another application's database, [`CatalogError::TooNew`] for a catalog
    /// of a newer version, [`CatalogError::Open`] when it cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteCatalog::open(path).map(Self::sqlite_backend)
    }

    /// Opens an existing SQLite catalog for reading only (it must be at
    /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        SqliteCatalog::open_read_only(path).map(Self::sqlite_backend)
    }

    /// An SQLite catalog in memory (tests, dry runs). Not shared between
    /// connections.
    pub fn open_in_memory() -> Result<Self> {
        SqliteCatalog::open_in_memory().map(Self::sqlite_backend)
    }

    /// Opens the catalog at `location` ([`Location::parse`]): a path opens
    /// an SQLite file as [`Catalog::open`] does; `postgres://USER@HOST:PORT/DB`
    /// connects to that PostgreSQL database (feature `postgres`), creating
    /// or migrating the catalog's tables in it. The password is never part
    /// of the location: see [`crate::location`].
    ///
    /// # Errors
    /// [`CatalogError::Location`] for a malformed location, one with a
    /// password, or a PostgreSQL location in a build without the `postgres`
    /// feature; the backend's errors opening it.
    pub fn open_location(location: &str) -> Result<Self> {
        Self::open_at(&Location::parse(location)?)
    }

    /// Limits the memory this catalog keeps for pages read and written, to
    /// `kib` KiB per SQLite connection and attached database (the main
    /// file, its search index, and the indexing thread's connections, at
    /// most five), instead of [`DEFAULT_PAGE_CACHE_KIB`](crate::DEFAULT_PAGE_CACHE_KIB)
    /// for the main file and the indexing thread. A long-lived process
    /// that inserts millions of files and wants its memory flat (a backup
    /// daemon) sets a few MiB; large insertions and searches then read
    /// more pages from the operating system's cache. At least
    /// [`MIN_PAGE_CACHE_KIB`](crate::MIN_PAGE_CACHE_KIB). On PostgreSQL
    /// the server's own settings decide; this does nothing there.
    ///
    /// # Errors
    /// [`CatalogError::Sqlite`] when SQLite refuses the setting.
    pub fn set_page_cache(&mut self, kib: u32) -> Result<()> {
        match &mut self.backend {
            Backend::Sqlite(c) => c.set_page_cache(kib),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Opens the catalog at a parsed [`Location`].
    pub fn open_at(location: &Location) -> Result<Self> {
        match location {
            Location::Sqlite(path) => Self::open(path),
            #[cfg(feature = "postgres")]
            Location::Postgres(pg) => crate::postgres::PgCatalog::open(pg).map(|c| Catalog {
                backend: Backend::Postgres(c),
            }),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(pg) => Err(CatalogError::Location {
                location: pg.to_string(),
                reason:
                    "this build of the catalog has no PostgreSQL backend (cargo feature `postgres`)"
                        .into(),
            }),
        }
    }

    fn sqlite_backend(c: SqliteCatalog) -> Self {
        Catalog {
            backend: Backend::Sqlite(c),
        }
    }

    /// Which database holds this catalog.
    pub fn backend(&self) -> BackendKind {
        match &self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Where this catalog lives, for messages: the SQLite file (`:memory:`
    /// for in-memory ones), or the PostgreSQL location
    /// `postgres://USER@HOST:PORT/DB` (never a password).
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::Sqlite(c) => c.path(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(c) => c.path(),
        }
    }

    /// The tape tables of this catalog (SQLite only so far: on another
    /// backend each of their operations returns [`CatalogError::Unsupported`]).
    pub fn tape(&mut self) -> Tapes<'_> {
        Tapes::new(self)
    }

    /// The SQLite backend, or [`CatalogError::Unsupported`] naming
    /// `operation` on any other.
    // `operation` names the backend that lacks it: only the PostgreSQL one.
    #[cfg_attr(
        not(feature = "postgres"),
        allow(unused_variables, clippy::unnecessary_wraps)
    )]
    pub(crate) fn sqlite(&self, operation: &'static str) -> Result<&SqliteCatalog> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Err(self.unsupported(operation)),
        }
    }

    /// [`Catalog::sqlite`], to write.
    // `operation` names the backend that lacks it: only the PostgreSQL one.
    #[cfg_attr(
        not(feature = "postgres"),
        allow(unused_variables, clippy::unnecessary_wraps)
    )]
    pub(crate) fn sqlite_mut(&mut self, operation: &'static str) -> Result<&mut SqliteCatalog> {
        match &mut self.backend {
            Backend::Sqlite(c) => Ok(c),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Err(CatalogError::Unsupported {
                operation,
                backend: BackendKind::Postgres.name(),
            }),
        }
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn unsupported(&self, operation: &'static str) -> CatalogError {
        CatalogError::Unsupported {
            operation,
            backend: self.backend().name(),
        }
    }

    pub(crate) fn not_found(&self, what: &'static str, id: &impl ToString) -> CatalogError {
        CatalogError::NotFound {
            path: self.path().to_path_buf(),
            what,
            id: id.to_string(),
        }
    }

    /// The schema version of the open catalog.
    pub fn schema_version(&self) -> Result<u32> {
        both!(&self.backend, c => c.schema_version())
    }

    /// Runs SQLite's full integrity check (slow on big catalogs: reads
    /// everything). Returns the problems found; empty when sound.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        self.sqlite("Catalog::integrity_check")?.integrity_check()
    }

    /// Merges the search index into one segment and refreshes the planner's
    /// statistics: run it after a large import (it rewrites the index, so
    /// it takes about as long as a tenth of the inserts did).
    pub fn optimize(&mut self) -> Result<()> {
        self.sqlite_mut("Catalog::optimize")?.optimize()
    }

    /// Copies the write-ahead log into the database file and truncates it
    /// (done automatically as it grows; call it before measuring or copying
    /// the file).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.sqlite_mut("Catalog::checkpoint")?.checkpoint()
    }

    /// The store named `name`, created with `kind` and `location` when new.
    pub fn store(&mut self, name: &str, kind: &str, location: Option<&str>) -> Result<StoreId> {
        both!(&mut self.backend, c => c.store(name, kind, location))
    }

    /// The vault `name` of `store`, created when new.
    pub fn vault(&mut self, store: StoreId, name: &str) -> Result<VaultId> {
        both!(&mut self.backend, c => c.vault(store, name))
    }

    /// Records the start of a run.
    pub fn begin_run(&mut self, run: &NewRun) -> Result<RunId> {
        both!(&mut self.backend, c => c.begin_run(run))
    }

    /// Records the end of a run.
    pub fn finish_run(&mut self, run: RunId, ended: i64) -> Result<()> {
        both!(&mut self.backend, c => c.finish_run(run, ended))
    }

    /// Adds tags to a run (and so to the search text of its archives).
    pub fn tag_run(&mut self, run: RunId, tags: &[&str]) -> Result<()> {
        both!(&mut self.backend, c => c.tag_run(run, tags))
    }

    /// Adds tags to an archive.
    pub fn tag_archive(&mut self, archive: ArchiveKey, tags: &[&str]) -> Result<()> {
        both!(&mut self.backend, c => c.tag_archive(archive, tags))
    }

    /// Records an archive of a run; its position in the run is the next free one.
    pub fn add_archive(&mut self, archive: &NewArchive) -> Result<ArchiveKey> {
        both!(&mut self.backend, c => c.add_archive(archive))
    }

    /// Marks an archive stored, with the store's id, tree hash and size.
    pub fn set_archive_stored(
        &mut self,
        archive: ArchiveKey,
        remote_id: &str,
        tree_hash: Option<&str>,
        stored_size: u64,
    ) -> Result<()> {
        both!(&mut self.backend, c => c.set_archive_stored(archive, remote_id, tree_hash, stored_size))
    }

    /// Sets an archive's state (e.g. [`ArchiveState::Deleted`]).
    /// [`ArchiveState::Pruned`] and [`ArchiveState::Missing`] are kept as
    /// `deleted` and a tag of their name.
    pub fn set_archive_state(&mut self, archive: ArchiveKey, state: ArchiveState) -> Result<()> {
        both!(&mut self.backend, c => c.set_archive_state(archive, state))
    }

    /// Records a batch of files of one archive, in one transaction: either
    /// all of them are recorded or none. Batches of 10 000 to 100 000 files
    /// are fastest.
    pub fn insert_files(&mut self, archive: ArchiveKey, files: &[FileEntry]) -> Result<()> {
        both!(&mut self.backend, c => c.insert_files(archive, files))
    }

    /// Records files of several archives in one transaction (all or none).
    /// The search index writes one segment per transaction, so bundles of
    /// a thousand files are best recorded a few dozen at a time.
    ///
    /// Batches of 4096 files or more are indexed by a second thread while
    /// the rows are written; it commits their postings just after the rows,
    /// while the caller goes on. Searches never miss a committed file: until
    /// then they test the batch's files one by one (see `index.rs`), and a
    /// search on this `Catalog` waits for the commit instead.
    pub fn insert_many(&mut self, batches: &[(ArchiveKey, &[FileEntry])]) -> Result<()> {
        both!(&mut self.backend, c => c.insert_many(batches))
    }

    /// [`Catalog::insert_many`], only while `claim` holds: in one
    /// transaction that locks the claimed unit's row and checks its holder
    /// ([`CatalogError::ClaimLost`], nothing recorded, when another worker
    /// has claimed it since). A worker's files thus never join those of a
    /// second worker running the same unit. PostgreSQL catalogs only (work
    /// units live there).
    pub fn insert_many_claimed(
        &mut self,
        batches: &[(ArchiveKey, &[FileEntry])],
        claim: &crate::model::UnitClaim,
    ) -> Result<()> {
        match &mut self.backend {
            Backend::Sqlite(_) => {
                let _ = (batches, claim);
                Err(CatalogError::Unsupported {
                    operation: "Catalog::insert_many_claimed",
                    backend: BackendKind::Sqlite.name(),
                })
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(c) => c.insert_many_claimed(batches, claim),
        }
    }

    /// A run by number.
    pub fn run(&self, id: RunId) -> Result<Option<Run>> {
        both!(&self.backend, c => c.run(id))
    }

    /// A run by uid.
    pub fn run_by_uid(&self, uid: &str) -> Result<Option<Run>> {
        both!(&self.backend, c => c.run_by_uid(uid))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>> {
        both!(&self.backend, c => c.runs())
    }

    /// An archive by number.
    pub fn archive(&self, key: ArchiveKey) -> Result<Option<Archive>> {
        both!(&self.backend, c => c.archive(key))
    }

    /// The archives of a run, in order.
    pub fn archives_of_run(&self, run: RunId) -> Result<Vec<Archive>> {
        both!(&self.backend, c => c.archives_of_run(run))
    }

    /// Deletes a run with its archives, files and tags (not its retrieval jobs,
    /// which lose their archive link).
    pub fn delete_run(&mut self, run: RunId) -> Result<()> {
        both!(&mut self.backend, c => c.delete_run(run))
    }

    /// Records a retrieval job.
    pub fn add_retrieval_job(&mut self, job: &RetrievalJob) -> Result<JobKey> {
        both!(&mut self.backend, c => c.add_retrieval_job(job))
    }

    /// Updates a retrieval job's state (and where its output went).
    pub fn set_job_state(
        &mut self,
        job: JobKey,
        state: JobState,
        downloaded_to: Option<&str>,
    ) -> Result<()> {
        both!(&mut self.backend, c => c.set_job_state(job, state, downloaded_to))
    }

    /// Retrieval jobs, optionally only those in one state, oldest first.
    pub fn retrieval_jobs(&self, state: Option<JobState>) -> Result<Vec<(JobKey, RetrievalJob)>> {
        both!(&self.backend, c => c.retrieval_jobs(state))
    }

    /// Replaces the access control entries of a file.
    pub fn set_acl(&mut self, file: crate::FileId, entries: &[AclEntry]) -> Result<()> {
        both!(&mut self.backend, c => c.set_acl(file, entries))
    }

    /// The access control entries of a file, in order.
    pub fn acl(&self, file: crate::FileId) -> Result<Vec<AclEntry>> {
        both!(&self.backend, c => c.acl(file))
    }

    /// The full record of one file.
    pub fn file(&self, id: crate::FileId) -> Result<Option<(ArchiveKey, FileEntry)>> {
        both!(&self.backend, c => c.file(id))
    }

    /// The ACLs recorded with a file, in order (none when it was archived
    /// without `--acls`, or had only mode bits).
    pub fn file_acls(&self, file: FileId) -> Result<Vec<FileAcl>> {
        both!(&self.backend, c => c.file_acls(file))
    }

    /// Every principal name the catalog remembers.
    pub fn principals(&self) -> Result<Vec<KnownPrincipal>> {
        both!(&self.backend, c => c.principals())
    }

    /// The names recorded with files' owners and groups (the `accounts`
    /// table), as principals `uid:N` / `gid:N` of class `user` / `group`.
    /// A rebuilt catalog has them from the exports' file rows, while
    /// [`Catalog::principals`] holds only the names ACL entries carried.
    pub fn account_names(&self) -> Result<Vec<KnownPrincipal>> {
        both!(&self.backend, c => c.account_names())
    }

    /// Remembers principal names (a newer answer replaces an older one).
    pub fn remember_principals(&mut self, known: &[KnownPrincipal]) -> Result<()> {
        both!(&mut self.backend, c => c.remember_principals(known))
    }

    /// The files of the archive whose store id is `remote_id` that have
    /// ACLs, with them (for writing them back after extraction); only
    /// those named in `members` (catalog paths without the leading `/`)
    /// when given.
    pub fn acls_of_archive(
        &self,
        remote_id: &str,
        members: Option<&[String]>,
    ) -> Result<Vec<FileEntry>> {
        both!(&self.backend, c => c.acls_of_archive(remote_id, members))
    }

    /// Creates backup set `set`; an error when the name is taken.
    pub fn create_backup_set(&mut self, set: &NewBackupSet) -> Result<i64> {
        self.sqlite_mut("Catalog::create_backup_set")?
            .create_backup_set(set)
    }

    /// Backup set `name`, if there is one.
    pub fn backup_set(&self, name: &str) -> Result<Option<BackupSet>> {
        self.sqlite("Catalog::backup_set")?.backup_set(name)
    }

    /// The levels of set `set_id`, oldest first.
    pub fn backup_levels(&self, set_id: i64) -> Result<Vec<BackupLevel>> {
        self.sqlite("Catalog::backup_levels")?.backup_levels(set_id)
    }

    /// Begins level `level` of cycle `cycle` of set `set_id` (creating the
    /// cycle when new); a level already begun (a killed run) is reused.
    pub fn begin_backup_level(
        &mut self,
        set_id: i64,
        cycle: u32,
        level: u32,
        started: i64,
    ) -> Result<i64> {
        self.sqlite_mut("Catalog::begin_backup_level")?
            .begin_backup_level(set_id, cycle, level, started)
    }

    /// Records the set's tree as seen by level `level_id`: paths new since
    /// the set last saw them are recorded, paths the set held that are not
    /// in `present` get a tombstone at this level. Returns the tombstoned
    /// paths.
    pub fn record_backup_tree(
        &mut self,
        set_id: i64,
        level_id: i64,
        present: &HashSet<String>,
    ) -> Result<Vec<String>> {
        self.sqlite_mut("Catalog::record_backup_tree")?
            .record_backup_tree(set_id, level_id, present)
    }

    /// The set's tree as recorded by level `level_id` (its paths, sorted):
    /// each path whose latest event at or before that level is an
    /// appearance rather than a tombstone.
    pub fn backup_tree_at(&self, set_id: i64, level_id: i64) -> Result<Vec<String>> {
        self.sqlite("Catalog::backup_tree_at")?
            .backup_tree_at(set_id, level_id)
    }

    /// Marks cycle `number` of set `set_id` pruned at `when` (its rows
    /// stay: the tree history and the archives' files, marked deleted).
    pub fn mark_backup_cycle_pruned(&mut self, set_id: i64, number: u32, when: i64) -> Result<()> {
        self.sqlite_mut("Catalog::mark_backup_cycle_pruned")?
            .mark_backup_cycle_pruned(set_id, number, when)
    }

    /// The tombstones of level `level_id`.
    pub fn backup_tombstones(&self, level_id: i64) -> Result<Vec<String>> {
        self.sqlite("Catalog::backup_tombstones")?
            .backup_tombstones(level_id)
    }

    /// Ends level `level_id`: its run, counts and end; closes its cycle
    /// when `close_cycle`.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_backup_level(
        &mut self,
        level_id: i64,
        run_uid: Option<&str>,
        files: u64,
        bytes: u64,
        stored_bytes: u64,
        ended: i64,
        close_cycle: bool,
    ) -> Result<()> {
        self.sqlite_mut("Catalog::finish_backup_level")?
            .finish_backup_level(
                level_id,
                run_uid,
                files,
                bytes,
                stored_bytes,
                ended,
                close_cycle,
            )
    }

    /// Checks both files and that the search index agrees with the file
    /// rows (see the module's docs). Reads everything: about as long as a
    /// search per file.
    pub fn check(&self) -> Result<CheckReport> {
        self.sqlite("Catalog::check")?.check()
    }

    /// Rebuilds the search index from the file rows: forgets every posting
    /// and indexes every file again, in one transaction. Returns how many
    /// files were indexed.
    pub fn rebuild_index(&mut self) -> Result<u64> {
        self.sqlite_mut("Catalog::rebuild_index")?.rebuild_index()
    }

    /// Writes run `run` with its archives, files and tags to `out` (named
    /// `name` in errors), as of one consistent snapshot.
    #[allow(clippy::too_many_lines)] // one pass writing the records in order
    pub fn export_run(&self, run: RunId, out: impl Write, name: &str) -> Result<ExportSummary> {
        both!(&self.backend, c => c.export_run(run, out, name))
    }

    /// Reads an export made by [`Catalog::export_run`] from `input` (named
    /// `name` in errors) and records its run, in one transaction. A run
    /// whose uid is already here is left alone ([`ImportOutcome::imported`]
    /// false), so importing twice changes nothing.
    #[allow(clippy::too_many_lines)] // one pass over the records, read in order
    pub fn import_run(&mut self, input: impl Read, name: &str) -> Result<ImportOutcome> {
        both!(&mut self.backend, c => c.import_run(input, name))
    }

    /// One page of the files matching `query`, by ascending [`FileId`].
    pub fn search(&self, query: &Query, page: Page) -> Result<SearchPage> {
        both!(&self.backend, c => c.search(query, page))
    }

    /// Parses `text` and returns one page of its matches.
    ///
    /// # Errors
    /// [`CatalogError::Query`] naming the column of a syntax error.
    pub fn search_str(&self, text: &str, page: Page) -> Result<SearchPage> {
        let query: Query = text.parse()?;
        self.search(&query, page)
    }

    /// How many files match `query` (reads every match: slower than a page).
    pub fn count(&self, query: &Query) -> Result<u64> {
        both!(&self.backend, c => c.count(query))
    }

    /// Every archived version of one path, oldest archive first.
    pub fn where_is(&self, path: &str) -> Result<Vec<FileHit>> {
        both!(&self.backend, c => c.where_is(path))
    }

    /// Every file recorded in a stored archive whose directory is `dir` or
    /// lies below it (every stored file for `/`), each version once, in no
    /// particular order. One query where an incremental run would otherwise
    /// ask [`Catalog::where_is`] once per file; the rows are borrowed, so a
    /// caller matching a million files allocates nothing per row.
    pub fn stored_files_under(&self, dir: &str, each: impl FnMut(&StoredFile<'_>)) -> Result<()> {
        both!(&self.backend, c => c.stored_files_under(dir, each))
    }
}
