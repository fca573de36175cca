//! The full-text index of file paths: an FTS5 table in a second database
//! file beside the catalog (`<catalog>-fts`), attached to every connection
//! as the schema `fts`.
//!
//! The index is derived data: it holds, for every file row, the tokens of
//! its path (see `tokens.rs`), and in `meta` the id up to which files are
//! indexed (`upto`). Being its own file, it has its own write lock, so a
//! bulk insertion writes it from a second thread on a second connection
//! while the first writes the rows ([`Indexer`]): the two halves of an
//! insertion run on two cores.
//!
//! Invariants, which make a crash at any point harmless:
//! - every file row with `id <= upto` is in the index; rows above `upto`
//!   (the *tail*) are not, and searches test them one by one (normally the
//!   tail is empty: a writer indexes it when it opens the catalog);
//! - file ids are never reused: a new row's id is above both the largest
//!   row id and `upto`, so postings of rows that were rolled back or lost
//!   in a crash (the index commits before the rows) never match a later
//!   row, and searches join the postings with `files`, which drops them;
//! - the index of a batch commits before the batch's rows, and a search
//!   reads `files` before the index inside one read transaction, so it
//!   never sees a committed row whose postings it cannot see, except in
//!   the tail, which it scans.
//!
//! A missing or unreadable index file is rebuilt by the next writer.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::{CatalogError, Result};

/// The index format; another value in `meta` means "rebuild". 2: tokens
/// fold diacritics (tokens.rs).
const FORMAT: i64 = 2;

/// FTS5 flushes its buffered postings into a segment when they exceed this.
const HASH_SIZE: i64 = 16 * 1024 * 1024;

/// FTS5 merges segments of one level when there are this many (its
/// default is 4): fewer rewrites of the postings while inserting, a few
/// more segments for a search to read until `optimize` merges them all.
const AUTOMERGE: i64 = 8;

/// Documents handed to the indexing thread at a time.
const CHUNK: usize = 2048;

/// Chunks in flight between the row writer and the indexing thread.
const IN_FLIGHT: usize = 32;

/// The index file of the catalog at `main` (`None` for in-memory catalogs).
pub(crate) fn index_path(main: &Path) -> Option<PathBuf> {
    if main == Path::new(":memory:") {
        return None;
    }
    let mut s = main.as_os_str().to_owned();
    s.push("-fts");
    Some(PathBuf::from(s))
}

/// The schema of the index database, for `schema` (`fts` when attached,
/// `main` on the indexing thread's own connection).
fn schema_sql(schema: &str) -> String {
    format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {schema}.file_fts USING fts5(
             tokens, content = '', columnsize = 0, detail = none, tokenize = 'ascii');
         CREATE TABLE IF NOT EXISTS {schema}.meta (
             key   TEXT PRIMARY KEY,
             value INTEGER NOT NULL
         ) WITHOUT ROWID;
         -- See dense.rs: the ids of each common token in each range of ids.
         CREATE TABLE IF NOT EXISTS {schema}.dense (
             token TEXT NOT NULL,
             lo    INTEGER NOT NULL,
             ids   BLOB NOT NULL,
             PRIMARY KEY (token, lo)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS {schema}.dense_ranges (
             lo INTEGER PRIMARY KEY,
             hi INTEGER NOT NULL
         );"
    )
}

/// Attaches (creating if needed) the index of the catalog at `main` as the
/// schema `fts`. Read-only connections attach it read-only; when it is
/// missing or unreadable there, they attach an empty in-memory index, so
/// every file is in the tail (slow but complete).
pub(crate) fn attach(conn: &Connection, main: &Path, read_only: bool) -> Result<()> {
    let sq = |action: &'static str| move |e| CatalogError::sqlite(main, action, e);
    let Some(path) = index_path(main) else {
        return attach_memory(conn, main);
    };
    let target = path.to_string_lossy().into_owned();
    if read_only {
        let ok = path.exists()
            && conn
                .execute("ATTACH DATABASE ?1 AS fts", [read_only_uri(&path)])
                .is_ok()
            && conn
                .query_row("SELECT value FROM fts.meta WHERE key = 'format'", [], |r| {
                    r.get::<_, i64>(0)
                })
                .is_ok_and(|f| f == FORMAT);
        if !ok {
            let _ = conn.execute_batch("DETACH DATABASE fts");
            return attach_memory(conn, main);
        }
        return Ok(());
    }
    let usable = conn.execute("ATTACH DATABASE ?1 AS fts", [&target]).is_ok()
        && conn
            .query_row("PRAGMA fts.journal_mode = WAL", [], |r| {
                r.get::<_, String>(0)
            })
            .is_ok()
        && conn.execute_batch(&schema_sql("fts")).is_ok()
        && conn
            .query_row("SELECT value FROM fts.meta WHERE key = 'format'", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .is_ok_and(|f| f.is_none_or(|f| f == FORMAT));
    if !usable {
        // Derived data: start again from nothing.
        tracing::warn!(index = %path.display(), "search index unreadable: rebuilding it");
        let _ = conn.execute_batch("DETACH DATABASE fts");
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::remove_file(PathBuf::from(p)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(CatalogError::Index {
                        path: path.clone(),
                        action: "removing a damaged search index",
                        source: e,
                    });
                }
                _ => {}
            }
        }
        conn.execute("ATTACH DATABASE ?1 AS fts", [&target])
            .map_err(sq("attaching the search index"))?;
        conn.query_row("PRAGMA fts.journal_mode = WAL", [], |_| Ok(()))
            .map_err(sq("switching the search index to WAL"))?;
        conn.execute_batch(&schema_sql("fts"))
            .map_err(sq("creating the search index"))?;
    }
    init_meta(conn, "fts").map_err(sq("creating the search index"))
}

/// A URI that opens `path` read-only (the connection must allow URIs).
pub(crate) fn read_only_uri(path: &Path) -> String {
    let p = path
        .to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23");
    format!("file:{p}?mode=ro")
}

fn attach_memory(conn: &Connection, main: &Path) -> Result<()> {
    conn.execute_batch("ATTACH DATABASE ':memory:' AS fts")
        .and_then(|()| conn.execute_batch(&schema_sql("fts")))
        .and_then(|()| init_meta(conn, "fts"))
        .map_err(|e| CatalogError::sqlite(main, "creating the search index", e))
}

fn init_meta(conn: &Connection, schema: &str) -> rusqlite::Result<()> {
    let fresh: bool = conn.query_row(
        &format!("SELECT NOT EXISTS(SELECT 1 FROM {schema}.meta WHERE key = 'format')"),
        [],
        |r| r.get(0),
    )?;
    if fresh {
        conn.execute_batch(&format!(
            "BEGIN;
             INSERT INTO {schema}.file_fts(file_fts, rank) VALUES ('hashsize', {HASH_SIZE});
             INSERT INTO {schema}.file_fts(file_fts, rank) VALUES ('automerge', {AUTOMERGE});
             INSERT OR REPLACE INTO {schema}.meta(key, value) VALUES ('format', {FORMAT}), ('upto', 0);
             COMMIT;"
        ))?;
    }
    Ok(())
}

/// Creates, on a writing connection, the trigger that removes a deleted
/// file's postings (a contentless FTS5 table forgets a row only when given
/// its tokens again, which `pf_file_tokens` recomputes). Temporary, because
/// a trigger of `main` cannot name a table of another file; inside it,
/// `file_fts` (unqualified, as triggers require) is the only one: `fts`'s.
pub(crate) fn create_delete_trigger(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TRIGGER IF NOT EXISTS files_fts_delete AFTER DELETE ON main.files
         WHEN old.id <= (SELECT value FROM fts.meta WHERE key = 'upto')
         BEGIN
             INSERT INTO file_fts(file_fts, rowid, tokens) VALUES ('delete', old.id,
                 pf_file_tokens((SELECT path FROM main.dirs WHERE id = old.dir_id), old.name));
         END;",
    )
}

/// (largest file id, indexed up to), read in one statement: `files` first.
pub(crate) fn extent(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached(
        "SELECT (SELECT coalesce(max(id), 0) FROM main.files),
                (SELECT value FROM fts.meta WHERE key = 'upto')",
    )?
    .query_row([], |r| {
        Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0)))
    })
}

/// The id for the next new file row: above every row and every indexed id.
pub(crate) fn next_file_id(conn: &Connection) -> rusqlite::Result<i64> {
    let (max, upto) = extent(conn)?;
    Ok(max.max(upto) + 1)
}

/// Sets `upto` (inside the caller's transaction, on `schema`).
fn set_upto(conn: &Connection, schema: &str, upto: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE {schema}.meta SET value = max(value, ?1) WHERE key = 'upto'"
    ))?
    .execute([upto])?;
    Ok(())
}

/// Indexes the tail (rows above `upto`) on `conn`, inside its open write
/// transaction. Returns how many rows were indexed.
pub(crate) fn catch_up(conn: &Connection) -> rusqlite::Result<u64> {
    // Take the index's write lock before reading `upto` (an indexing
    // thread may hold it until its batch is committed).
    conn.execute_batch("UPDATE fts.meta SET value = value WHERE 0")?;
    let (max, upto) = extent(conn)?;
    if max <= upto {
        return Ok(0);
    }
    let mut sel = conn.prepare(
        "SELECT f.id, d.path, f.name FROM files f JOIN dirs d ON d.id = f.dir_id WHERE f.id > ?1 ORDER BY f.id",
    )?;
    let mut ins = conn.prepare_cached("INSERT INTO fts.file_fts(rowid, tokens) VALUES (?1, ?2)")?;
    let mut rows = sel.query([upto])?;
    let mut dir_tokens = String::new();
    let mut last_dir = None::<String>;
    let mut doc = String::new();
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let dir = r.get_ref(1)?.as_str()?;
        if last_dir.as_deref() != Some(dir) {
            dir_tokens.clear();
            crate::tokens::index_text(dir, &mut dir_tokens);
            last_dir = Some(dir.to_owned());
        }
        crate::catalog::file_doc(&dir_tokens, r.get_ref(2)?.as_str()?, &mut doc);
        ins.execute(params![id, doc])?;
        n += 1;
    }
    set_upto(conn, "fts", max)?;
    Ok(n)
}

/// A batch of files to index: ids, and their token texts packed in one
/// string (tokenized by the writer, which has time to spare; the indexing
/// thread has FTS5's work).
#[derive(Default)]
pub(crate) struct Chunk {
    ids: Vec<i64>,
    /// Directory id, end of the directory's tokens and end of the file's
    /// tokens in `text`, of each file.
    ends: Vec<(i64, usize, usize)>,
    text: String,
}

impl Chunk {
    fn clear(&mut self) {
        self.ids.clear();
        self.ends.clear();
        self.text.clear();
    }

    fn push(&mut self, id: i64, dir_id: i64, dir_tokens: &str, name: &str) {
        // Separators at the edges are harmless to the tokenizer.
        self.text.push(' ');
        self.text.push_str(dir_tokens);
        let dir_end = self.text.len();
        crate::tokens::index_text(name, &mut self.text);
        self.ids.push(id);
        self.ends.push((dir_id, dir_end, self.text.len()));
    }
}

enum Msg {
    Docs(Chunk),
    /// The rows of the batch are committed: commit its postings with
    /// `upto`, answer with the outcome.
    Commit(i64, SyncSender<rusqlite::Result<()>>),
    /// The rows of the batch were rolled back: forget its postings.
    Rollback,
}

/// The indexing thread of a catalog file, with its own connection to the
/// index file (and one to the catalog, to checkpoint its write-ahead log).
///
/// A batch's postings are sent while its rows are written, and committed
/// *after* the rows, while the caller goes on with its next batch: until
/// then the batch is in the tail, which searches test row by row. The
/// thread holds the index's write lock from its batch's first posting to
/// its commit, and skips ids at or below `upto` (indexed meanwhile by
/// another writer's catch-up), so no file is indexed twice.
#[derive(Debug)]
pub(crate) struct Indexer {
    to: Option<SyncSender<Msg>>,
    recycled: Receiver<Chunk>,
    /// The answer to the last commit, not read yet.
    pending: std::cell::RefCell<Option<Receiver<rusqlite::Result<()>>>>,
    /// A commit failed: the thread indexes nothing more.
    failed: std::cell::Cell<bool>,
    /// Asks the checkpointing thread to run.
    poke: Option<SyncSender<()>>,
    handle: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl Indexer {
    /// Starts the thread for the index of the catalog at `main`.
    pub(crate) fn start(main: &Path, busy: Duration, cache_kib: u32) -> Result<Self> {
        let path = index_path(main).ok_or_else(|| CatalogError::NotFound {
            path: main.to_path_buf(),
            what: "search index file",
            id: "in-memory".into(),
        })?;
        let open = |p: &Path| -> rusqlite::Result<Connection> {
            let c = Connection::open_with_flags(
                p,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(busy)?;
            c.execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{cache_kib}; PRAGMA wal_autocheckpoint = 10000;"
            ))?;
            Ok(c)
        };
        let conn =
            open(&path).map_err(|e| CatalogError::sqlite(&path, "opening the search index", e))?;
        // The indexing thread's commits do not checkpoint: the third thread does.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(|e| CatalogError::sqlite(&path, "setting pragmas", e))?;
        let logs = [
            open(main).map_err(|e| CatalogError::sqlite(main, "opening the catalog", e))?,
            open(&path).map_err(|e| CatalogError::sqlite(&path, "opening the search index", e))?,
        ];
        let spawn_err = |e| CatalogError::Index {
            path: path.clone(),
            action: "starting the indexing thread",
            source: e,
        };
        let (poke, poked) = sync_channel::<()>(1);
        let checkpointer = std::thread::Builder::new()
            .name("catalog-checkpoint".into())
            .spawn(move || {
                // Copies both write-ahead logs into their files after each
                // batch, off the writers' path (readers never wait for it;
                // it leaves what they still read).
                for () in poked {
                    for c in &logs {
                        let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                }
            })
            .map_err(spawn_err)?;
        let (to, from) = sync_channel::<Msg>(IN_FLIGHT);
        let (back, recycled) = sync_channel::<Chunk>(IN_FLIGHT + 2);
        let poke_here = poke.clone();
        let handle = std::thread::Builder::new()
            .name("catalog-index".into())
            .spawn(move || {
                work(&conn, &poke, &from, &back);
                drop(poke);
                let _ = checkpointer.join();
            })
            .map_err(spawn_err)?;
        Ok(Indexer {
            to: Some(to),
            recycled,
            pending: std::cell::RefCell::new(None),
            failed: std::cell::Cell::new(false),
            poke: Some(poke_here),
            handle: Some(handle),
            path,
        })
    }

    fn send(&self, msg: Msg) -> Result<()> {
        self.to
            .as_ref()
            .and_then(|t| t.send(msg).ok())
            .ok_or_else(|| self.gone())
    }

    fn gone(&self) -> CatalogError {
        CatalogError::Index {
            path: self.path.clone(),
            action: "indexing",
            source: std::io::Error::other("the indexing thread stopped"),
        }
    }

    /// Waits for the last batch's postings to be committed. After an error
    /// (the batch stays in the tail) [`Indexer::failed`] is true.
    pub(crate) fn settle(&self) -> Result<()> {
        let Some(rx) = self.pending.borrow_mut().take() else {
            return Ok(());
        };
        let r = rx
            .recv()
            .map_err(|_| self.gone())?
            .map_err(|e| CatalogError::sqlite(&self.path, "committing the search index", e));
        if r.is_err() {
            self.failed.set(true);
        }
        r
    }

    /// Whether a commit failed (seen without waiting): then the thread
    /// indexes nothing more, and the writer drops it and catches up.
    pub(crate) fn failed(&self) -> bool {
        let mut pending = self.pending.borrow_mut();
        if let Some(rx) = pending.as_ref() {
            match rx.try_recv() {
                Ok(Ok(())) => *pending = None,
                Ok(Err(_)) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    *pending = None;
                    self.failed.set(true);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
        self.failed.get()
    }

    /// Asks for a checkpoint of both write-ahead logs (the writer's own
    /// automatic checkpoints are off while this thread runs).
    pub(crate) fn poke(&self) {
        if let Some(p) = &self.poke {
            let _ = p.try_send(());
        }
    }

    fn commit(&self, upto: i64) -> Result<()> {
        let (tx, rx) = sync_channel(1);
        self.send(Msg::Commit(upto, tx))?;
        *self.pending.borrow_mut() = Some(rx);
        Ok(())
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        drop(self.poke.take());
        drop(self.to.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn work(conn: &Connection, poke: &SyncSender<()>, from: &Receiver<Msg>, back: &SyncSender<Chunk>) {
    // Open transaction: ids at or below this are indexed already.
    let mut floor: Option<i64> = None;
    let mut dense = crate::dense::Builder::new();
    let mut failed: Option<rusqlite::Error> = None;
    // After a failed commit nothing more is indexed here: `upto` must not
    // pass the batch that was lost (the next writer catches up).
    let mut stopped = false;
    let begin = |floor: &mut Option<i64>| -> rusqlite::Result<i64> {
        if let Some(f) = *floor {
            return Ok(f);
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let f = conn
            .query_row("SELECT value FROM meta WHERE key = 'upto'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0);
        *floor = Some(f);
        Ok(f)
    };
    let end = |floor: &mut Option<i64>| {
        if floor.take().is_some() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    };
    for msg in from {
        match msg {
            Msg::Docs(mut chunk) => {
                if failed.is_none() && !stopped {
                    let r = (|| {
                        let floor = begin(&mut floor)?;
                        let mut ins = conn.prepare_cached(
                            "INSERT INTO file_fts(rowid, tokens) VALUES (?1, ?2)",
                        )?;
                        let mut start = 0;
                        for (&id, &(dir, mid, end)) in chunk.ids.iter().zip(&chunk.ends) {
                            if id > floor {
                                ins.execute(params![id, &chunk.text[start..end]])?;
                                dense.add(id, dir, &chunk.text[start..mid], &chunk.text[mid..end]);
                            } else {
                                dense.skip();
                            }
                            start = end;
                        }
                        Ok(())
                    })();
                    if let Err(e) = r {
                        failed = Some(e);
                    }
                }
                chunk.clear();
                let _ = back.try_send(chunk);
            }
            Msg::Commit(upto, reply) => {
                let r = if stopped {
                    Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                        Some("an earlier commit of the search index failed".into()),
                    ))
                } else if let Some(e) = failed.take() {
                    Err(e)
                } else {
                    (|| {
                        begin(&mut floor)?;
                        dense.write(conn, "main")?;
                        set_upto(conn, "main", upto)?;
                        conn.execute_batch("COMMIT")?;
                        floor = None;
                        Ok(())
                    })()
                };
                end(&mut floor);
                dense.clear();
                if r.is_err() {
                    stopped = true;
                }
                let _ = reply.send(r);
                let _ = poke.try_send(());
            }
            Msg::Rollback => {
                end(&mut floor);
                dense.clear();
                failed = None;
            }
        }
    }
    end(&mut floor);
}

/// Where the files of one write transaction go to be indexed: to the
/// indexing thread, or (small batches, in-memory catalogs, imports) into
/// the attached index on the writing connection itself, inside its
/// transaction.
pub(crate) enum Docs<'a> {
    Thread { indexer: &'a Indexer, chunk: Chunk },
    Inline(&'a Path),
}

impl std::fmt::Debug for Docs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Docs::Thread { .. } => "Docs::Thread",
            Docs::Inline(_) => "Docs::Inline",
        })
    }
}

impl<'a> Docs<'a> {
    pub(crate) fn thread(indexer: &'a Indexer) -> Self {
        let chunk = indexer.recycled.try_recv().unwrap_or_default();
        Docs::Thread { indexer, chunk }
    }

    /// Indexes file `id`, named `name` in the directory of id `dir_id`
    /// whose tokens are `dir_tokens`.
    pub(crate) fn push(
        &mut self,
        conn: &Connection,
        id: i64,
        dir_id: i64,
        dir_tokens: &str,
        name: &str,
    ) -> Result<()> {
        match self {
            Docs::Thread { indexer, chunk } => {
                chunk.push(id, dir_id, dir_tokens, name);
                if chunk.ids.len() >= CHUNK {
                    let next = indexer.recycled.try_recv().unwrap_or_default();
                    indexer.send(Msg::Docs(std::mem::replace(chunk, next)))?;
                }
                Ok(())
            }
            Docs::Inline(path) => conn
                .prepare_cached("INSERT INTO fts.file_fts(rowid, tokens) VALUES (?1, ?2)")
                .and_then(|mut st| {
                    let mut doc = String::new();
                    crate::catalog::file_doc(dir_tokens, name, &mut doc);
                    st.execute(params![id, doc])
                })
                .map(|_| ())
                .map_err(|e| CatalogError::sqlite(path, format!("indexing file {id}"), e)),
        }
    }

    /// Before the rows commit: hands the last files to the thread, or
    /// (inline) records `upto` in the caller's transaction.
    pub(crate) fn finish(&mut self, conn: &Connection, upto: i64) -> Result<()> {
        match self {
            Docs::Thread { indexer, chunk } => {
                if !chunk.ids.is_empty() {
                    indexer.send(Msg::Docs(std::mem::take(chunk)))?;
                }
                Ok(())
            }
            Docs::Inline(path) => set_upto(conn, "fts", upto)
                .map_err(|e| CatalogError::sqlite(path, "recording what is indexed", e)),
        }
    }

    /// After the rows committed: the thread commits the postings with
    /// `upto` while the caller goes on.
    pub(crate) fn committed(&mut self, upto: i64) -> Result<()> {
        match self {
            Docs::Thread { indexer, .. } => indexer.commit(upto),
            Docs::Inline(_) => Ok(()),
        }
    }

    /// The rows were rolled back: so are the postings.
    pub(crate) fn abandon(&mut self) {
        if let Docs::Thread { indexer, chunk } = self {
            chunk.clear();
            let _ = indexer.send(Msg::Rollback);
        }
    }
}
