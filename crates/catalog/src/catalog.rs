//! Opening, migrating and writing a catalog.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::error::{CatalogError, Result};
use crate::index::{self, Docs, Indexer};
use crate::model::{
    AclEntry, Archive, ArchiveKey, ArchiveState, FileEntry, JobKey, JobState, NewArchive, NewRun,
    RetrievalJob, Run, RunId, StoreId, VaultId, state_sql,
};
use crate::{record, tokens};

/// The newest schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 6;

/// `PRAGMA application_id` of every catalog: "PFCT".
pub const APPLICATION_ID: i32 = 0x5046_4354;

/// Migration `i` takes a catalog from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema/v1.sql"),
    include_str!("schema/v2.sql"),
    include_str!("schema/v3.sql"),
    include_str!("schema/v4.sql"),
    include_str!("schema/v5.sql"),
    include_str!("schema/v6.sql"),
];

/// Insertions of at least this many files index on a second thread.
const THREAD_MIN_FILES: usize = 4096;

/// How long a statement waits for another writer before failing with
/// [`CatalogError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The page cache, in KiB, of a catalog's connection to its main file and
/// of the indexing thread's connections, unless
/// [`Catalog::set_page_cache`](crate::Catalog::set_page_cache) sets one
/// limit for all (the search index attached to the main connection keeps
/// SQLite's default, 2,000 KiB, until then).
pub const DEFAULT_PAGE_CACHE_KIB: u32 = 16 * 1024;

/// The smallest page cache [`Catalog::set_page_cache`](crate::Catalog::set_page_cache)
/// sets, in KiB (a smaller request is raised to it).
pub const MIN_PAGE_CACHE_KIB: u32 = 256;

/// Directory path -> (id, its tokens), as written.
pub(crate) type DirCache =
    HashMap<String, (i64, String), std::hash::BuildHasherDefault<crate::dense::Fx>>;

/// (kind, num) -> name, as written.
pub(crate) type AccountCache =
    HashMap<(&'static str, u32), String, std::hash::BuildHasherDefault<crate::dense::Fx>>;

/// Inserts files inside a [`Catalog::write_files`] transaction.
pub(crate) struct FileWriter<'a, 'd> {
    path: &'a Path,
    dirs: &'a mut DirCache,
    accounts: &'a mut AccountCache,
    /// The id the next file gets.
    next: i64,
    docs: &'a mut Docs<'d>,
}

impl FileWriter<'_, '_> {
    /// The catalog file, for messages.
    pub(crate) fn path(&self) -> &Path {
        self.path
    }

    /// Inserts `files` of `archive`; returns the id of the first (the
    /// others follow in order).
    pub(crate) fn insert(
        &mut self,
        tx: &Transaction<'_>,
        archive: ArchiveKey,
        files: &[FileEntry],
    ) -> Result<i64> {
        let first = self.next;
        insert_files_tx(
            tx,
            self.path,
            archive,
            files,
            self.dirs,
            self.accounts,
            &mut self.next,
            self.docs,
        )?;
        Ok(first)
    }
}

/// Directory ids remembered between batches (cleared when it grows past this).
const DIR_CACHE_MAX: usize = 100_000;

/// An open catalog: one SQLite connection.
///
/// Open one `Catalog` per thread: any number of them may read while one
/// writes (WAL mode); writers take turns, each waiting up to
/// [`BUSY_TIMEOUT`].
#[derive(Debug)]
pub(crate) struct SqliteCatalog {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// Directory path -> (id, its tokens).
    dirs: DirCache,
    /// (kind, num) -> name, as written.
    accounts: AccountCache,
    /// The search index's writing thread, started by the first large insertion.
    indexer: Option<Indexer>,
    /// The page cache of each connection and attached database, in KiB,
    /// when set; otherwise [`DEFAULT_PAGE_CACHE_KIB`] for the main file
    /// and the indexing thread.
    cache_kib: Option<u32>,
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Splits an absolute path into its directory (without trailing '/', '' for
/// the root) and name.
pub(crate) fn split_path(path: &str) -> Result<(&str, &str)> {
    if !path.starts_with('/') {
        return Err(CatalogError::RelativePath {
            path: path.to_owned(),
        });
    }
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let cut = trimmed.rfind('/').unwrap_or(0);
    Ok((&trimmed[..cut], &trimmed[cut + 1..]))
}

/// A new run uid (time, process and a counter, mixed): what
/// [`Catalog::begin_run`](crate::Catalog::begin_run) gives a run without one.
pub fn new_uid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Time, process and a counter: unique enough for runs of one site; a
    // hash mixes them so uids do not look sequential.
    let mut x = now.as_nanos() as u64
        ^ (u64::from(std::process::id()) << 32)
        ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 29;
    format!("{:012x}-{x:016x}", now.as_millis())
}

/// The search document of a file: its directory's tokens, then its name's.
pub(crate) fn file_doc(dir_tokens: &str, name: &str, doc: &mut String) {
    doc.clear();
    doc.push_str(dir_tokens);
    tokens::index_text(name, doc);
}

fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    // The owner and group ids inside a file row's `extra` blob (owner:,
    // group: searches); NULL when the row has none.
    for (name, gid) in [("pf_uid", false), ("pf_gid", true)] {
        conn.create_scalar_function(
            name,
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let Ok(blob) = ctx.get_raw(0).as_blob() else {
                    return Ok(None);
                };
                let mut f = FileEntry::default();
                if record::decode(blob, &mut f).is_none() {
                    return Ok(None);
                }
                Ok(if gid { f.gid } else { f.uid }.map(i64::from))
            },
        )?;
    }
    conn.create_scalar_function(
        "pf_file_tokens",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let dir = ctx.get_raw(0).as_str().unwrap_or("");
            let name = ctx.get_raw(1).as_str().unwrap_or("");
            let mut dir_tokens = String::new();
            tokens::index_text(dir, &mut dir_tokens);
            let mut doc = String::new();
            file_doc(&dir_tokens, name, &mut doc);
            Ok(doc)
        },
    )?;
    conn.create_scalar_function(
        "pf_text_tokens",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let mut toks = String::new();
            tokens::index_text(ctx.get_raw(0).as_str().unwrap_or(""), &mut toks);
            Ok(toks)
        },
    )?;
    conn.create_scalar_function(
        "pf_has",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let dir = ctx.get_raw(0).as_str().unwrap_or("");
            let name = ctx.get_raw(1).as_str().unwrap_or("");
            let pattern = ctx.get_raw(2).as_str().unwrap_or("");
            let mut dir_tokens = String::new();
            tokens::index_text(dir, &mut dir_tokens);
            let mut doc = String::new();
            file_doc(&dir_tokens, name, &mut doc);
            Ok(tokens::doc_has(&doc, pattern))
        },
    )?;
    conn.create_scalar_function(
        "pf_phrase",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = ctx.get_raw(0).as_str().unwrap_or("");
            let pattern = ctx.get_raw(1).as_str().unwrap_or("");
            let (pattern, prefix) = match pattern.strip_suffix('*') {
                Some(p) => (p, true),
                None => (pattern, false),
            };
            let toks: Vec<String> = pattern
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            Ok(tokens::phrase_matches(text, &toks, prefix))
        },
    )
}

impl SqliteCatalog {
    /// Opens the catalog at `path`, creating it when the file is missing or
    /// empty and migrating it to [`SCHEMA_VERSION`].
    ///
    /// # Errors
    /// [`CatalogError::NotACatalog`] for a file that is not SQLite or is
    /// another application's database, [`CatalogError::TooNew`] for a catalog
    /// of a newer version, [`CatalogError::Open`] when it cannot be opened.
    pub(crate) fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens an existing catalog for reading only (it must be at
    /// [`SCHEMA_VERSION`]).
    pub(crate) fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), true)
    }

    /// A catalog in memory (tests, dry runs). Not shared between connections.
    pub(crate) fn open_in_memory() -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| CatalogError::Open {
            path: path.clone(),
            source: e,
        })?;
        let mut cat = SqliteCatalog {
            conn,
            path,
            dirs: DirCache::default(),
            accounts: AccountCache::default(),
            indexer: None,
            cache_kib: None,
        };
        cat.setup(false)?;
        Ok(cat)
    }

    /// Limits the page cache of every connection of this catalog (the main
    /// file, the search index attached to it, and the indexing thread's
    /// connections when it starts) to `kib` KiB each.
    pub(crate) fn set_page_cache(&mut self, kib: u32) -> Result<()> {
        let kib = kib.max(MIN_PAGE_CACHE_KIB);
        self.conn
            .execute_batch(&format!(
                "PRAGMA main.cache_size = -{kib}; PRAGMA fts.cache_size = -{kib};"
            ))
            .map_err(self.err("setting the page cache"))?;
        self.cache_kib = Some(kib);
        if self.indexer.is_some() {
            // Its connections keep their limit: let the next large
            // insertion start it again with the new one.
            self.settle_index();
            self.indexer = None;
            self.conn
                .execute_batch("PRAGMA main.wal_autocheckpoint = 10000")
                .map_err(self.err("setting pragmas"))?;
        }
        Ok(())
    }

    fn open_with(path: &Path, read_only: bool) -> Result<Self> {
        let opened = if read_only {
            // Read-only through the URI, not the connection's flags: the
            // connection can then attach a writable in-memory index when
            // the catalog's index file is missing (see index.rs).
            Connection::open_with_flags(
                index::read_only_uri(path),
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        };
        let conn = opened.map_err(|e| CatalogError::Open {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut cat = SqliteCatalog {
            conn,
            path: path.to_path_buf(),
            dirs: DirCache::default(),
            accounts: AccountCache::default(),
            indexer: None,
            cache_kib: None,
        };
        cat.setup(read_only)?;
        Ok(cat)
    }

    pub(crate) fn err(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(rusqlite::Error) -> CatalogError + '_ {
        let action = action.into();
        move |e| CatalogError::sqlite(&self.path, action, e)
    }

    fn setup(&mut self, read_only: bool) -> Result<()> {
        let path = self.path.clone();
        let sq = |action: &str| {
            let path = path.clone();
            let action = action.to_owned();
            move |e| CatalogError::sqlite(&path, action, e)
        };
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(sq("setting the busy timeout"))?;
        let (app, version) = self.header()?;
        if version > SCHEMA_VERSION {
            return Err(CatalogError::TooNew {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if app != APPLICATION_ID {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .map_err(sq("reading the schema"))?;
            if app != 0 || tables > 0 || version > 0 {
                return Err(CatalogError::NotACatalog {
                    path: self.path.clone(),
                    reason: format!(
                        "an SQLite database of another application (application id {app:#x}, {tables} schema objects)"
                    ),
                });
            }
        }
        if read_only {
            if version != SCHEMA_VERSION {
                return Err(CatalogError::NotACatalog {
                    path: self.path.clone(),
                    reason: format!(
                        "schema version {version}, which a read-only open cannot migrate to {SCHEMA_VERSION}"
                    ),
                });
            }
        } else {
            // WAL: readers never block the writer nor see half a batch.
            self.conn
                .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(sq("switching to WAL"))?;
            self.conn
                .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 10000;")
                .map_err(sq("setting synchronous"))?;
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")
            .map_err(sq("setting pragmas"))?;
        self.conn
            .execute_batch(&format!(
                "PRAGMA main.cache_size = -{}",
                self.cache_kib.unwrap_or(DEFAULT_PAGE_CACHE_KIB)
            ))
            .map_err(sq("setting the page cache"))?;
        // Before migrating: migrations may compute tokens.
        register_functions(&self.conn).map_err(sq("registering functions"))?;
        if !read_only {
            self.migrate()?;
        }
        index::attach(&self.conn, &self.path, read_only)?;
        if !read_only {
            index::create_delete_trigger(&self.conn).map_err(sq("creating triggers"))?;
            self.catch_up_index()?;
        }
        Ok(())
    }

    /// Indexes the files that the search index lacks (a catalog of an
    /// earlier version, a lost index file, a crash between the two commits).
    fn catch_up_index(&mut self) -> Result<()> {
        let (max, upto) =
            index::extent(&self.conn).map_err(self.err("reading the search index"))?;
        if max <= upto {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self.write_tx("indexing")?;
        let n =
            index::catch_up(&tx).map_err(|e| CatalogError::sqlite(&path, "indexing files", e))?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing the search index", e))?;
        tracing::info!(catalog = %path.display(), files = n, "search index caught up");
        Ok(())
    }

    /// (application id, user version) from the file header.
    fn header(&self) -> Result<(i32, u32)> {
        let app: i32 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(self.err("reading the header"))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err("reading the header"))?;
        Ok((app, u32::try_from(version).unwrap_or(u32::MAX)))
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| CatalogError::sqlite(&path, "starting the migration", e))?;
        // Read again under the write lock: another process may have migrated.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| CatalogError::sqlite(&path, "reading the schema version", e))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(CatalogError::TooNew {
                path,
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tracing::info!(catalog = %path.display(), from = i, to = i + 1, "migrating catalog schema");
            tx.execute_batch(sql).map_err(|e| {
                CatalogError::sqlite(&path, format!("migrating from version {i} to {}", i + 1), e)
            })?;
            if i + 1 == 4 {
                // v4.sql: the archives' tokens, computed again (they fold
                // diacritics now).
                let ids: Vec<i64> = tx
                    .prepare("SELECT id FROM archives")
                    .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
                    .map_err(|e| CatalogError::sqlite(&path, "migrating to version 4", e))?;
                for id in ids {
                    refresh_archive_text(&tx, id)
                        .map_err(|e| CatalogError::sqlite(&path, "migrating to version 4", e))?;
                }
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(|e| CatalogError::sqlite(&path, "setting the schema version", e))?;
        }
        tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
            .map_err(|e| CatalogError::sqlite(&path, "setting the application id", e))?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing the migration", e))
    }

    /// The file this catalog lives in (`:memory:` for in-memory ones).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open catalog.
    pub(crate) fn schema_version(&self) -> Result<u32> {
        Ok(self.header()?.1)
    }

    /// Runs SQLite's full integrity check (slow on big catalogs: reads
    /// everything). Returns the problems found; empty when sound.
    pub(crate) fn integrity_check(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.err("checking integrity"))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err("checking integrity"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err("checking integrity"))?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    /// Merges the search index into one segment and refreshes the planner's
    /// statistics: run it after a large import (it rewrites the index, so
    /// it takes about as long as a tenth of the inserts did).
    pub(crate) fn optimize(&mut self) -> Result<()> {
        self.settle_index();
        self.conn
            .execute_batch(
                "INSERT INTO fts.file_fts(file_fts) VALUES ('optimize'); PRAGMA optimize;",
            )
            .map_err(self.err("optimizing the search index"))?;
        self.checkpoint()
    }

    /// Copies the write-ahead log into the database file and truncates it
    /// (done automatically as it grows; call it before measuring or copying
    /// the file).
    pub(crate) fn checkpoint(&mut self) -> Result<()> {
        self.settle_index();
        self.conn
            .query_row("PRAGMA main.wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.err("checkpointing the write-ahead log"))?;
        if index::index_path(&self.path).is_some() {
            self.conn
                .query_row("PRAGMA fts.wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(self.err("checkpointing the search index"))?;
        }
        Ok(())
    }

    /// Waits until the indexing thread (if any) committed the last batch,
    /// so that this connection's searches need not test it row by row.
    /// A failure leaves the batch to the tail (searches stay complete) and
    /// the next insertion catches up.
    pub(crate) fn settle_index(&self) {
        if let Some(ix) = &self.indexer
            && let Err(e) = ix.settle()
        {
            tracing::warn!(catalog = %self.path.display(), error = %e, "indexing failed: the next insertion catches up");
        }
    }

    pub(crate) fn write_tx(&mut self, action: &str) -> Result<Transaction<'_>> {
        let path = self.path.clone();
        main_write_tx(&mut self.conn).map_err(|e| {
            CatalogError::sqlite(&path, format!("starting a transaction for {action}"), e)
        })
    }

    /// The store named `name`, created with `kind` and `location` when new.
    pub(crate) fn store(
        &mut self,
        name: &str,
        kind: &str,
        location: Option<&str>,
    ) -> Result<StoreId> {
        self.conn
            .execute(
                "INSERT INTO stores(name, kind, location) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
                params![name, kind, location],
            )
            .map_err(self.err(format!("adding store {name}")))?;
        self.conn
            .query_row("SELECT id FROM stores WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map(StoreId)
            .map_err(self.err(format!("reading store {name}")))
    }

    /// The vault `name` of `store`, created when new.
    pub(crate) fn vault(&mut self, store: StoreId, name: &str) -> Result<VaultId> {
        self.conn
            .execute(
                "INSERT INTO vaults(store_id, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![store.0, name],
            )
            .map_err(self.err(format!("adding vault {name}")))?;
        self.conn
            .query_row(
                "SELECT id FROM vaults WHERE store_id = ?1 AND name = ?2",
                params![store.0, name],
                |r| r.get(0),
            )
            .map(VaultId)
            .map_err(self.err(format!("reading vault {name}")))
    }

    /// Records the start of a run.
    pub(crate) fn begin_run(&mut self, run: &NewRun) -> Result<RunId> {
        let path = self.path.clone();
        let tx = self.write_tx("a new run")?;
        let id = insert_run(&tx, &path, run, None)?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing a new run", e))?;
        Ok(id)
    }

    /// Records the end of a run.
    pub(crate) fn finish_run(&mut self, run: RunId, ended: i64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET ended = ?2 WHERE id = ?1",
                params![run.0, ended],
            )
            .map_err(self.err(format!("finishing run {run}")))?;
        if n == 0 {
            return Err(self.not_found("run", &run));
        }
        Ok(())
    }

    pub(crate) fn not_found(&self, what: &'static str, id: &impl ToString) -> CatalogError {
        CatalogError::NotFound {
            path: self.path.clone(),
            what,
            id: id.to_string(),
        }
    }

    /// Adds tags to a run (and so to the search text of its archives).
    pub(crate) fn tag_run(&mut self, run: RunId, tags: &[&str]) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_tx("tagging a run")?;
        let sq = |e| CatalogError::sqlite(&path, format!("tagging run {run}"), e);
        for t in tags {
            let tag = tag_id(&tx, t).map_err(sq)?;
            tx.execute(
                "INSERT OR IGNORE INTO run_tags(run_id, tag_id) VALUES (?1, ?2)",
                params![run.0, tag],
            )
            .map_err(sq)?;
        }
        let archives: Vec<i64> = {
            let mut st = tx
                .prepare("SELECT id FROM archives WHERE run_id = ?1")
                .map_err(sq)?;
            st.query_map([run.0], |r| r.get(0))
                .map_err(sq)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sq)?
        };
        for a in archives {
            refresh_archive_text(&tx, a).map_err(sq)?;
        }
        tx.commit().map_err(sq)
    }

    /// Adds tags to an archive.
    pub(crate) fn tag_archive(&mut self, archive: ArchiveKey, tags: &[&str]) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_tx("tagging an archive")?;
        let sq = |e| CatalogError::sqlite(&path, format!("tagging archive {archive}"), e);
        for t in tags {
            let tag = tag_id(&tx, t).map_err(sq)?;
            tx.execute(
                "INSERT OR IGNORE INTO archive_tags(archive_id, tag_id) VALUES (?1, ?2)",
                params![archive.0, tag],
            )
            .map_err(sq)?;
        }
        refresh_archive_text(&tx, archive.0).map_err(sq)?;
        tx.commit().map_err(sq)
    }

    /// Records an archive of a run; its position in the run is the next free one.
    pub(crate) fn add_archive(&mut self, archive: &NewArchive) -> Result<ArchiveKey> {
        let path = self.path.clone();
        let tx = self.write_tx("a new archive")?;
        let key = insert_archive(&tx, &path, archive, None)?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing a new archive", e))?;
        Ok(key)
    }

    /// Marks an archive stored, with the store's id, tree hash and size.
    pub(crate) fn set_archive_stored(
        &mut self,
        archive: ArchiveKey,
        remote_id: &str,
        tree_hash: Option<&str>,
        stored_size: u64,
    ) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE archives SET state = 'stored', remote_id = ?2, tree_hash = coalesce(?3, tree_hash), stored_size = ?4 WHERE id = ?1",
                params![archive.0, remote_id, tree_hash, to_i64(stored_size)],
            )
            .map_err(self.err(format!("marking archive {archive} stored")))?;
        if n == 0 {
            return Err(self.not_found("archive", &archive));
        }
        Ok(())
    }

    /// Sets an archive's state (e.g. [`ArchiveState::Deleted`]).
    /// [`ArchiveState::Pruned`] and [`ArchiveState::Missing`] are kept as
    /// `deleted` and a tag of their name.
    pub(crate) fn set_archive_state(
        &mut self,
        archive: ArchiveKey,
        state: ArchiveState,
    ) -> Result<()> {
        let (column, tag) = state.column();
        let path = self.path.clone();
        let sq =
            |e| CatalogError::sqlite(&path, format!("setting the state of archive {archive}"), e);
        let tx = self.write_tx("setting an archive's state")?;
        let n = tx
            .execute(
                "UPDATE archives SET state = ?2 WHERE id = ?1",
                params![archive.0, column],
            )
            .map_err(sq)?;
        if n == 0 {
            drop(tx);
            return Err(self.not_found("archive", &archive));
        }
        if let Some(tag) = tag {
            let tag = tag_id(&tx, tag).map_err(sq)?;
            tx.execute(
                "INSERT OR IGNORE INTO archive_tags(archive_id, tag_id) VALUES (?1, ?2)",
                params![archive.0, tag],
            )
            .map_err(sq)?;
            refresh_archive_text(&tx, archive.0).map_err(sq)?;
        }
        tx.commit().map_err(sq)
    }

    /// Records a batch of files of one archive, in one transaction: either
    /// all of them are recorded or none. Batches of 10 000 to 100 000 files
    /// are fastest.
    pub(crate) fn insert_files(&mut self, archive: ArchiveKey, files: &[FileEntry]) -> Result<()> {
        // Foreign keys are checked once per batch (the archive exists, the
        // directories are ours) instead of twice per row; they stay on for
        // every other statement, so deletes still cascade.
        self.insert_many(&[(archive, files)])
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
    pub(crate) fn insert_many(&mut self, batches: &[(ArchiveKey, &[FileEntry])]) -> Result<()> {
        let total: usize = batches.iter().map(|(_, f)| f.len()).sum();
        self.write_files(total, false, "inserting files", |tx, files| {
            for (archive, batch) in batches {
                files.insert(tx, *archive, batch)?;
            }
            Ok(())
        })
    }

    /// One write transaction that inserts about `total` files through
    /// `body` (which may write other rows too): all or nothing. Large
    /// batches are indexed by the indexing thread (see [`Catalog::insert_many`]).
    /// Without `foreign_keys` they are not checked (nor do deletes cascade)
    /// inside the transaction.
    pub(crate) fn write_files<T>(
        &mut self,
        total: usize,
        foreign_keys: bool,
        action: &str,
        body: impl FnOnce(&Transaction<'_>, &mut FileWriter<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let mut dirs = std::mem::take(&mut self.dirs);
        let mut accounts = std::mem::take(&mut self.accounts);
        if dirs.len() > DIR_CACHE_MAX {
            dirs.clear();
        }
        // Foreign keys are checked once per batch (the archive exists, the
        // directories are ours) instead of twice per row; they stay on for
        // every other statement, so deletes still cascade.
        if !foreign_keys {
            self.conn
                .execute_batch("PRAGMA foreign_keys = OFF")
                .map_err(self.err("pausing foreign key checks"))?;
        }
        let mut lagging = false;
        if self.indexer.as_ref().is_some_and(Indexer::failed) {
            tracing::warn!(catalog = %path.display(), "the indexing thread failed: indexing here");
            self.indexer = None;
            self.conn
                .execute_batch("PRAGMA main.wal_autocheckpoint = 10000")
                .map_err(self.err("setting pragmas"))?;
            lagging = true;
        }
        if !lagging
            && total >= THREAD_MIN_FILES
            && self.indexer.is_none()
            && index::index_path(&path).is_some()
        {
            self.indexer = Some(Indexer::start(
                &path,
                BUSY_TIMEOUT,
                self.cache_kib.unwrap_or(DEFAULT_PAGE_CACHE_KIB),
            )?);
            // Its third thread checkpoints after each batch, off this path.
            self.conn
                .execute_batch("PRAGMA main.wal_autocheckpoint = 0")
                .map_err(self.err("setting pragmas"))?;
        }
        let inline = total < THREAD_MIN_FILES || self.indexer.is_none();
        if inline {
            self.settle_index();
        }
        let mut docs = match &self.indexer {
            Some(ix) if !inline => Docs::thread(ix),
            _ => Docs::Inline(&path),
        };
        let conn = &mut self.conn;
        let res = (|| {
            let tx = main_write_tx(conn).map_err(|e| {
                CatalogError::sqlite(&path, format!("starting a transaction for {action}"), e)
            })?;
            if inline {
                // Write the index here: take its lock before reading it (an
                // indexing thread may hold it until its batch commits).
                tx.execute_batch("UPDATE fts.meta SET value = value WHERE 0")
                    .map_err(|e| CatalogError::sqlite(&path, "locking the search index", e))?;
            }
            if lagging {
                index::catch_up(&tx)
                    .map_err(|e| CatalogError::sqlite(&path, "indexing files", e))?;
            }
            let next = index::next_file_id(&tx)
                .map_err(|e| CatalogError::sqlite(&path, "reading the search index", e))?;
            let mut files = FileWriter {
                path: &path,
                dirs: &mut dirs,
                accounts: &mut accounts,
                next,
                docs: &mut docs,
            };
            let out = body(&tx, &mut files)?;
            let upto = files.next - 1;
            docs.finish(&tx, upto)?;
            tx.commit()
                .map_err(|e| CatalogError::sqlite(&path, format!("committing {action}"), e))?;
            Ok((out, upto))
        })();
        if inline && let Some(ix) = &self.indexer {
            ix.poke();
        }
        let res = match res {
            // The rows are in: the thread commits their postings while the
            // caller goes on (see index.rs).
            Ok((out, upto)) => docs.committed(upto).map(|()| out),
            Err(e) => {
                docs.abandon();
                Err(e)
            }
        };
        let on = self
            .conn
            .execute_batch("PRAGMA foreign_keys = ON")
            .map_err(self.err("resuming foreign key checks"));
        let res = res.and_then(|out| on.map(|()| out));
        if res.is_err() {
            // Rows cached in the failed transaction were rolled back.
            dirs.clear();
            accounts.clear();
        }
        self.dirs = dirs;
        self.accounts = accounts;
        res
    }

    /// A run by number.
    pub(crate) fn run(&self, id: RunId) -> Result<Option<Run>> {
        read_run(&self.conn, "id = ?1", &id.0).map_err(self.err(format!("reading run {id}")))
    }

    /// A run by uid.
    pub(crate) fn run_by_uid(&self, uid: &str) -> Result<Option<Run>> {
        read_run(&self.conn, "uid = ?1", &uid).map_err(self.err(format!("reading run {uid}")))
    }

    /// Every run, oldest first.
    pub(crate) fn runs(&self) -> Result<Vec<Run>> {
        let ids: Vec<i64> = {
            let mut st = self
                .conn
                .prepare("SELECT id FROM runs ORDER BY id")
                .map_err(self.err("listing runs"))?;
            st.query_map([], |r| r.get(0))
                .map_err(self.err("listing runs"))?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err("listing runs"))?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.run(RunId(id))?);
        }
        Ok(out)
    }

    /// An archive by number.
    pub(crate) fn archive(&self, key: ArchiveKey) -> Result<Option<Archive>> {
        read_archives(&self.conn, "a.id = ?1", key.0)
            .map(|mut v| v.pop())
            .map_err(self.err(format!("reading archive {key}")))
    }

    /// The archives of a run, in order.
    pub(crate) fn archives_of_run(&self, run: RunId) -> Result<Vec<Archive>> {
        read_archives(&self.conn, "a.run_id = ?1", run.0)
            .map_err(self.err(format!("reading archives of run {run}")))
    }

    /// Deletes a run with its archives, files and tags (not its retrieval jobs,
    /// which lose their archive link).
    pub(crate) fn delete_run(&mut self, run: RunId) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_tx("deleting a run")?;
        let n = tx
            .execute("DELETE FROM runs WHERE id = ?1", [run.0])
            .map_err(|e| CatalogError::sqlite(&path, format!("deleting run {run}"), e))?;
        if n == 0 {
            return Err(CatalogError::NotFound {
                path,
                what: "run",
                id: run.to_string(),
            });
        }
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, format!("deleting run {run}"), e))
    }

    /// Records a retrieval job.
    pub(crate) fn add_retrieval_job(&mut self, job: &RetrievalJob) -> Result<JobKey> {
        self.conn
            .execute(
                "INSERT INTO retrieval_jobs(vault_id, job_id, archive_id, range_start, range_end, tier, requested, state, expires, downloaded_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    job.vault.0,
                    job.job_id,
                    job.archive.map(|a| a.0),
                    job.range.map(|r| to_i64(r.0)),
                    job.range.map(|r| to_i64(r.1)),
                    job.tier,
                    job.requested,
                    job.state.as_str(),
                    job.expires,
                    job.downloaded_to,
                ],
            )
            .map_err(self.err(format!("recording retrieval job {}", job.job_id)))?;
        Ok(JobKey(self.conn.last_insert_rowid()))
    }

    /// Updates a retrieval job's state (and where its output went).
    pub(crate) fn set_job_state(
        &mut self,
        job: JobKey,
        state: JobState,
        downloaded_to: Option<&str>,
    ) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE retrieval_jobs SET state = ?2, downloaded_to = coalesce(?3, downloaded_to) WHERE id = ?1",
                params![job.0, state.as_str(), downloaded_to],
            )
            .map_err(self.err(format!("updating retrieval job {job}")))?;
        if n == 0 {
            return Err(self.not_found("retrieval job", &job));
        }
        Ok(())
    }

    /// Retrieval jobs, optionally only those in one state, oldest first.
    pub(crate) fn retrieval_jobs(
        &self,
        state: Option<JobState>,
    ) -> Result<Vec<(JobKey, RetrievalJob)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, vault_id, job_id, archive_id, range_start, range_end, tier, requested, state, expires, downloaded_to
                 FROM retrieval_jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY id",
            )
            .map_err(self.err("listing retrieval jobs"))?;
        st.query_map([state.map(JobState::as_str)], |r| {
            let start: Option<i64> = r.get(4)?;
            let end: Option<i64> = r.get(5)?;
            Ok((
                JobKey(r.get(0)?),
                RetrievalJob {
                    vault: VaultId(r.get(1)?),
                    job_id: r.get(2)?,
                    archive: r.get::<_, Option<i64>>(3)?.map(ArchiveKey),
                    range: start.zip(end).map(|(a, b)| (to_u64(a), to_u64(b))),
                    tier: r.get(6)?,
                    requested: r.get(7)?,
                    state: JobState::parse(&r.get::<_, String>(8)?),
                    expires: r.get(9)?,
                    downloaded_to: r.get(10)?,
                },
            ))
        })
        .map_err(self.err("listing retrieval jobs"))?
        .collect::<rusqlite::Result<_>>()
        .map_err(self.err("listing retrieval jobs"))
    }

    /// Replaces the access control entries of a file.
    pub(crate) fn set_acl(&mut self, file: crate::FileId, entries: &[AclEntry]) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_tx("setting an ACL")?;
        let sq = |e| CatalogError::sqlite(&path, format!("setting the ACL of file {file}"), e);
        tx.execute("DELETE FROM acl_entries WHERE file_id = ?1", [file.0])
            .map_err(sq)?;
        {
            let mut st = tx
                .prepare("INSERT INTO acl_entries(file_id, seq, principal, allow, rights, kind, flags, name, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .map_err(sq)?;
            for (i, e) in entries.iter().enumerate() {
                let kind = match (e.kind.as_str(), e.allow) {
                    ("", true) => "allow",
                    ("", false) => "deny",
                    (k, _) => k,
                };
                st.execute(params![
                    file.0,
                    to_i64(i as u64),
                    e.principal,
                    e.allow,
                    e.rights,
                    kind,
                    e.flags,
                    e.name,
                    e.text
                ])
                .map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)
    }

    /// The access control entries of a file, in order.
    pub(crate) fn acl(&self, file: crate::FileId) -> Result<Vec<AclEntry>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT principal, allow, rights, kind, flags, name, text FROM acl_entries WHERE file_id = ?1 ORDER BY seq",
            )
            .map_err(self.err(format!("reading the ACL of file {file}")))?;
        st.query_map([file.0], |r| {
            Ok(AclEntry {
                principal: r.get(0)?,
                allow: r.get(1)?,
                rights: r.get(2)?,
                kind: r.get(3)?,
                flags: r.get(4)?,
                name: r.get(5)?,
                text: r.get(6)?,
            })
        })
        .map_err(self.err(format!("reading the ACL of file {file}")))?
        .collect::<rusqlite::Result<_>>()
        .map_err(self.err(format!("reading the ACL of file {file}")))
    }

    /// The full record of one file.
    pub(crate) fn file(&self, id: crate::FileId) -> Result<Option<(ArchiveKey, FileEntry)>> {
        let sql = format!("{FILE_ENTRY_SELECT} WHERE f.id = ?1");
        let found = self
            .conn
            .query_row(&sql, [id.0], |r| {
                Ok((ArchiveKey(r.get(0)?), file_entry(r)?))
            })
            .optional()
            .map_err(self.err(format!("reading file {id}")))?;
        let Some((archive, mut f)) = found else {
            return Ok(None);
        };
        Accounts::load(&self.conn)
            .map_err(self.err("reading account names"))?
            .fill(&mut f);
        f.acls = crate::acl::load(&self.conn, id.0)
            .map_err(self.err(format!("reading the ACLs of file {id}")))?;
        Ok(Some((archive, f)))
    }
}

/// A write transaction holding the catalog's write lock but not the
/// index's, which the indexing thread takes (`BEGIN IMMEDIATE` would lock
/// every attached file). A statement that could write `main` takes its
/// lock even when it writes nothing, waiting for other writers as `BEGIN
/// IMMEDIATE` does; statements that write the index take its lock then.
pub(crate) fn main_write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    tx.execute_batch("UPDATE main.runs SET files = files WHERE 0")?;
    Ok(tx)
}

fn tag_id(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO tags(name) VALUES (?1) ON CONFLICT DO NOTHING",
        [name],
    )?;
    tx.query_row("SELECT id FROM tags WHERE name = ?1", [name], |r| r.get(0))
}

/// Rebuilds an archive's search row from its and its run's descriptions and tags.
fn refresh_archive_text(tx: &Transaction<'_>, archive: i64) -> rusqlite::Result<()> {
    let (adesc, rdesc, run): (String, String, i64) = tx.query_row(
        "SELECT a.description, r.description, r.id FROM archives a JOIN runs r ON r.id = a.run_id WHERE a.id = ?1",
        [archive],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut raw = format!("{adesc}\n{rdesc}");
    let mut st = tx.prepare_cached(
        "SELECT t.name FROM archive_tags x JOIN tags t ON t.id = x.tag_id WHERE x.archive_id = ?1
         UNION SELECT t.name FROM run_tags x JOIN tags t ON t.id = x.tag_id WHERE x.run_id = ?2",
    )?;
    for tag in st.query_map(params![archive, run], |r| r.get::<_, String>(0))? {
        raw.push('\n');
        raw.push_str(&tag?);
    }
    let mut toks = String::new();
    tokens::index_text(&raw, &mut toks);
    tx.execute("DELETE FROM archive_fts WHERE rowid = ?1", [archive])?;
    tx.execute(
        "INSERT INTO archive_fts(rowid, tokens, raw) VALUES (?1, ?2, ?3)",
        params![archive, toks, raw],
    )?;
    Ok(())
}

pub(crate) fn insert_run(
    tx: &Transaction<'_>,
    path: &Path,
    run: &NewRun,
    ended: Option<(i64, u64, u64)>,
) -> Result<RunId> {
    let uid = run.uid.clone().unwrap_or_else(new_uid);
    let sq = |e| CatalogError::sqlite(path, format!("recording run {uid}"), e);
    let roots = serde_json::to_string(&run.roots).unwrap_or_else(|_| "[]".into());
    let options = serde_json::to_string(&run.options).unwrap_or_else(|_| "{}".into());
    let (end, files, bytes) = ended.map_or((None, 0, 0), |(e, f, b)| (Some(e), f, b));
    tx.execute(
        "INSERT INTO runs(uid, roots, description, options, started, ended, files, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![uid, roots, run.description, options, run.started, end, to_i64(files), to_i64(bytes)],
    )
    .map_err(sq)?;
    let id = tx.last_insert_rowid();
    for t in &run.tags {
        let tag = tag_id(tx, t).map_err(sq)?;
        tx.execute(
            "INSERT OR IGNORE INTO run_tags(run_id, tag_id) VALUES (?1, ?2)",
            params![id, tag],
        )
        .map_err(sq)?;
    }
    Ok(RunId(id))
}

pub(crate) fn insert_archive(
    tx: &Transaction<'_>,
    path: &Path,
    a: &NewArchive,
    files: Option<u64>,
) -> Result<ArchiveKey> {
    let sq = |e| CatalogError::sqlite(path, format!("recording an archive of run {}", a.run), e);
    let exists: Option<i64> = tx
        .query_row("SELECT id FROM runs WHERE id = ?1", [a.run.0], |r| r.get(0))
        .optional()
        .map_err(sq)?;
    if exists.is_none() {
        return Err(CatalogError::NotFound {
            path: path.to_path_buf(),
            what: "run",
            id: a.run.to_string(),
        });
    }
    let recipients = serde_json::to_string(&a.recipients).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO archives(run_id, seq, vault_id, remote_id, size, stored_size, tree_hash, description, created, state, recipients, files)
         VALUES (?1, (SELECT coalesce(max(seq) + 1, 0) FROM archives WHERE run_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            a.run.0,
            a.vault.0,
            a.remote_id,
            to_i64(a.size),
            a.stored_size.map(to_i64),
            a.tree_hash,
            a.description,
            a.created,
            a.state.column().0,
            recipients,
            to_i64(files.unwrap_or(0)),
        ],
    )
    .map_err(sq)?;
    let id = tx.last_insert_rowid();
    for t in a.tags.iter().map(String::as_str).chain(a.state.column().1) {
        let tag = tag_id(tx, t).map_err(sq)?;
        tx.execute(
            "INSERT OR IGNORE INTO archive_tags(archive_id, tag_id) VALUES (?1, ?2)",
            params![id, tag],
        )
        .map_err(sq)?;
    }
    refresh_archive_text(tx, id).map_err(sq)?;
    Ok(ArchiveKey(id))
}

/// Inserts files inside an open transaction; `count` also updates the
/// archive's and run's totals.
/// The id and tokens of directory `dir`, added when new.
fn dir_entry(
    tx: &Transaction<'_>,
    dir: &str,
    dirs: &mut DirCache,
    sel: &mut rusqlite::CachedStatement<'_>,
    ins: &mut rusqlite::CachedStatement<'_>,
) -> rusqlite::Result<(i64, String)> {
    if let Some((id, t)) = dirs.get(dir) {
        return Ok((*id, t.clone()));
    }
    let id: i64 = if let Some(id) = sel.query_row([dir], |r| r.get(0)).optional()? {
        id
    } else {
        ins.execute([dir])?;
        tx.last_insert_rowid()
    };
    let mut t = String::new();
    tokens::index_text(dir, &mut t);
    dirs.insert(dir.to_owned(), (id, t.clone()));
    Ok((id, t))
}

/// File rows per multi-row `INSERT`.
const ROWS: usize = 32;

/// `INSERT INTO files ... VALUES (...), (...) ...` for [`ROWS`] rows.
fn multi_insert_sql() -> String {
    let mut sql =
        String::from("INSERT INTO files(id, archive_id, dir_id, name, size, mtime, extra) VALUES ");
    for i in 0..ROWS {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?)");
    }
    sql
}

/// A file row waiting for its multi-row `INSERT`: id, directory id, name,
/// size, mtime (its `extra` blob is beside it).
type PendingRow<'a> = (i64, i64, &'a str, i64, i64);

/// Runs the multi-row `INSERT` for [`ROWS`] rows.
fn insert_rows(
    multi: &mut rusqlite::CachedStatement<'_>,
    archive: ArchiveKey,
    rows: &[PendingRow<'_>],
    extras: &[Vec<u8>],
) -> rusqlite::Result<()> {
    for (i, (row, extra)) in rows.iter().zip(extras).enumerate() {
        let at = i * 7;
        multi.raw_bind_parameter(at + 1, row.0)?;
        multi.raw_bind_parameter(at + 2, archive.0)?;
        multi.raw_bind_parameter(at + 3, row.1)?;
        multi.raw_bind_parameter(at + 4, row.2)?;
        multi.raw_bind_parameter(at + 5, row.3)?;
        multi.raw_bind_parameter(at + 6, row.4)?;
        multi.raw_bind_parameter(at + 7, extra)?;
    }
    multi.raw_execute()?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the state of one write transaction
pub(crate) fn insert_files_tx(
    tx: &Transaction<'_>,
    path: &Path,
    archive: ArchiveKey,
    files: &[FileEntry],
    dirs: &mut DirCache,
    accounts: &mut AccountCache,
    next_id: &mut i64,
    docs: &mut Docs<'_>,
) -> Result<()> {
    let sq = |e| CatalogError::sqlite(path, format!("inserting files of archive {archive}"), e);
    let run: Option<i64> = tx
        .query_row(
            "SELECT run_id FROM archives WHERE id = ?1",
            [archive.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(sq)?;
    let Some(run) = run else {
        return Err(CatalogError::NotFound {
            path: path.to_path_buf(),
            what: "archive",
            id: archive.to_string(),
        });
    };
    let mut ins = tx
        .prepare_cached(
            "INSERT INTO files(id, archive_id, dir_id, name, size, mtime, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(sq)?;
    let mut dir_sel = tx
        .prepare_cached("SELECT id FROM dirs WHERE path = ?1")
        .map_err(sq)?;
    let mut dir_ins = tx
        .prepare_cached("INSERT INTO dirs(path) VALUES (?1)")
        .map_err(sq)?;
    let mut acct = tx
        .prepare_cached(
            "INSERT INTO accounts(kind, num, name) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET name = excluded.name WHERE name <> excluded.name",
        )
        .map_err(sq)?;
    // Rows go in ROWS at a time (one statement per ROWS rows costs less
    // than ROWS statements); the last few one by one.
    let mut multi = tx.prepare_cached(&multi_insert_sql()).map_err(sq)?;
    let mut pending: Vec<PendingRow<'_>> = Vec::with_capacity(ROWS);
    let mut extras: Vec<Vec<u8>> = (0..ROWS).map(|_| Vec::new()).collect();
    let mut total: u64 = 0;
    // ACL rows name their file: written once the file rows are in.
    let mut with_acls: Vec<(i64, &[crate::acl::FileAcl])> = Vec::new();
    // Consecutive files of one directory: looked up once.
    let mut last_dir = String::new();
    let mut dir_id = 0;
    let mut dir_tokens = String::new();
    for f in files {
        let (dir, name) = split_path(&f.path)?;
        if dir != last_dir || dir_id == 0 {
            (dir_id, dir_tokens) =
                dir_entry(tx, dir, dirs, &mut dir_sel, &mut dir_ins).map_err(sq)?;
            dir.clone_into(&mut last_dir);
        }
        let dir_tokens = dir_tokens.as_str();
        for (kind, num, name) in [("u", f.uid, &f.owner), ("g", f.gid, &f.group)] {
            if let (Some(num), Some(name)) = (num, name)
                && accounts.get(&(kind, num)) != Some(name)
            {
                acct.execute(params![kind, num, name]).map_err(sq)?;
                accounts.insert((kind, num), name.clone());
            }
        }
        let id = *next_id;
        if !f.acls.is_empty() {
            with_acls.push((id, &f.acls));
        }
        record::encode(f, &mut extras[pending.len()]);
        pending.push((id, dir_id, name, to_i64(f.size), f.mtime));
        if pending.len() == ROWS {
            insert_rows(&mut multi, archive, &pending, &extras).map_err(sq)?;
            pending.clear();
        }
        *next_id += 1;
        docs.push(tx, id, dir_id, dir_tokens, name)?;
        total = total.saturating_add(f.size);
    }
    for (row, extra) in pending.iter().zip(&extras) {
        ins.execute(params![row.0, archive.0, row.1, row.2, row.3, row.4, extra])
            .map_err(sq)?;
    }
    if !with_acls.is_empty() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| to_i64(d.as_secs()));
        let mut seen = std::collections::HashSet::new();
        for (id, acls) in with_acls {
            crate::acl::insert(tx, id, acls, &mut seen, now).map_err(sq)?;
        }
    }
    let n = to_i64(files.len() as u64);
    tx.execute(
        "UPDATE archives SET files = files + ?2 WHERE id = ?1",
        params![archive.0, n],
    )
    .map_err(sq)?;
    tx.execute(
        "UPDATE runs SET files = files + ?2, bytes = bytes + ?3 WHERE id = ?1",
        params![run, n, to_i64(total)],
    )
    .map_err(sq)?;
    Ok(())
}

fn read_run(
    conn: &Connection,
    cond: &str,
    arg: &dyn rusqlite::ToSql,
) -> rusqlite::Result<Option<Run>> {
    let sql = format!(
        "SELECT id, uid, roots, description, options, started, ended, files, bytes FROM runs WHERE {cond}"
    );
    let run = conn
        .query_row(&sql, [arg], |r| {
            let roots: String = r.get(2)?;
            let options: String = r.get(4)?;
            Ok(Run {
                id: RunId(r.get(0)?),
                uid: r.get(1)?,
                roots: serde_json::from_str(&roots).unwrap_or_default(),
                description: r.get(3)?,
                tags: Vec::new(),
                options: serde_json::from_str::<BTreeMap<String, String>>(&options)
                    .unwrap_or_default(),
                started: r.get(5)?,
                ended: r.get(6)?,
                files: to_u64(r.get(7)?),
                bytes: to_u64(r.get(8)?),
            })
        })
        .optional()?;
    let Some(mut run) = run else { return Ok(None) };
    let mut st = conn.prepare_cached(
        "SELECT t.name FROM run_tags x JOIN tags t ON t.id = x.tag_id WHERE x.run_id = ?1 ORDER BY t.name",
    )?;
    run.tags = st
        .query_map([run.id.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(run))
}

fn read_archives(conn: &Connection, cond: &str, arg: i64) -> rusqlite::Result<Vec<Archive>> {
    let sql = format!(
        concat!(
            "SELECT a.id, a.seq, s.name, v.name, a.run_id, a.vault_id, a.remote_id, a.size, a.stored_size, a.tree_hash,
                a.description, a.created, ",
            state_sql!(),
            ", a.recipients, a.files
         FROM archives a JOIN vaults v ON v.id = a.vault_id JOIN stores s ON s.id = v.store_id
         WHERE {cond} ORDER BY a.run_id, a.seq"
        ),
        cond = cond,
    );
    let mut st = conn.prepare(&sql)?;
    let mut out: Vec<Archive> = st
        .query_map([arg], |r| {
            let recipients: String = r.get(13)?;
            Ok(Archive {
                key: ArchiveKey(r.get(0)?),
                seq: to_u64(r.get(1)?),
                store: r.get(2)?,
                vault: r.get(3)?,
                info: NewArchive {
                    run: RunId(r.get(4)?),
                    vault: VaultId(r.get(5)?),
                    remote_id: r.get(6)?,
                    size: to_u64(r.get(7)?),
                    stored_size: r.get::<_, Option<i64>>(8)?.map(to_u64),
                    tree_hash: r.get(9)?,
                    description: r.get(10)?,
                    tags: Vec::new(),
                    created: r.get(11)?,
                    state: ArchiveState::parse(&r.get::<_, String>(12)?),
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                },
                files: to_u64(r.get(14)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut tags = conn.prepare_cached(
        "SELECT t.name FROM archive_tags x JOIN tags t ON t.id = x.tag_id WHERE x.archive_id = ?1 ORDER BY t.name",
    )?;
    for a in &mut out {
        a.info.tags = tags
            .query_map([a.key.0], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(out)
}

/// Selects (archive key, file entry columns) for [`file_entry`].
/// Owner and group names come from [`Accounts`].
pub(crate) const FILE_ENTRY_SELECT: &str = "SELECT f.archive_id, d.path, f.name, f.size, f.mtime, f.extra FROM files f JOIN dirs d ON d.id = f.dir_id";

/// uid/gid to names, read once for many rows.
pub(crate) struct Accounts(pub(crate) HashMap<(String, u32), String>);

impl Accounts {
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut st = conn.prepare("SELECT kind, num, name FROM accounts")?;
        let map = st
            .query_map([], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, u32>(1)?),
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Accounts(map))
    }

    pub(crate) fn fill(&self, f: &mut FileEntry) {
        f.owner = f
            .uid
            .and_then(|u| self.0.get(&("u".to_owned(), u)).cloned());
        f.group = f
            .gid
            .and_then(|g| self.0.get(&("g".to_owned(), g)).cloned());
    }
}

pub(crate) fn join_path(dir: &str, name: &str) -> String {
    let mut p = String::with_capacity(dir.len() + name.len() + 1);
    p.push_str(dir);
    p.push('/');
    p.push_str(name);
    p
}

/// Decodes the `extra` blob of a row into `f`, or fails the row.
pub(crate) fn decode_extra(blob: &[u8], f: &mut FileEntry, col: usize) -> rusqlite::Result<()> {
    record::decode(blob, f).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Blob,
            "malformed file record blob (corrupt catalog)".into(),
        )
    })
}

/// A [`FileEntry`] from a row of [`FILE_ENTRY_SELECT`].
pub(crate) fn file_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileEntry> {
    let dir: String = r.get(1)?;
    let name: String = r.get(2)?;
    let mut f = FileEntry {
        path: join_path(&dir, &name),
        size: to_u64(r.get(3)?),
        mtime: r.get(4)?,
        ..FileEntry::default()
    };
    let blob: Vec<u8> = r.get(5)?;
    decode_extra(&blob, &mut f, 5)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_sizes(c: &SqliteCatalog) -> (i64, i64) {
        let get = |schema: &str| {
            c.conn
                .query_row(&format!("PRAGMA {schema}.cache_size"), [], |r| r.get(0))
                .unwrap()
        };
        (get("main"), get("fts"))
    }

    #[test]
    fn the_page_cache_limit_reaches_the_main_file_and_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SqliteCatalog::open(dir.path().join("c.db")).unwrap();
        assert_eq!(cache_sizes(&c).0, -i64::from(DEFAULT_PAGE_CACHE_KIB));
        c.set_page_cache(1024).unwrap();
        assert_eq!(cache_sizes(&c), (-1024, -1024));
        c.set_page_cache(1).unwrap();
        let min = -i64::from(MIN_PAGE_CACHE_KIB);
        assert_eq!(cache_sizes(&c), (min, min));
    }
}
