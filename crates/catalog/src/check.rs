//! Checking a catalog's health and rebuilding its search index.
//!
//! [`Catalog::check`] runs SQLite's integrity check on both files (the
//! catalog and its full-text index `<catalog>-fts`), FTS5's own check of
//! the index's structure, and then checks that the index and the file rows
//! agree: every row the index says it holds (ids up to its `upto`) must be
//! found there under the tokens of its own name. An index file restored
//! from another backup than the catalog, or copied from another catalog,
//! passes SQLite's checks but not this one: searches would miss those files
//! or return others. [`Catalog::rebuild_index`] rebuilds the index from the
//! file rows.

use rusqlite::params;

use crate::catalog::SqliteCatalog;
use crate::error::{CatalogError, Result};
use crate::{index, tokens};

/// At most this many example paths in a [`CheckReport`].
const EXAMPLES: usize = 10;

/// What [`Catalog::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// What SQLite's integrity check says of the catalog file (empty: ok).
    pub catalog_problems: Vec<String>,
    /// What SQLite's integrity check and FTS5's say of the index file.
    pub index_problems: Vec<String>,
    /// File rows in the catalog.
    pub files: u64,
    /// The largest file id the index says it holds.
    pub indexed_upto: i64,
    /// Rows above that (searched one by one; normally none).
    pub tail: u64,
    /// Rows the index says it holds but does not find under their name.
    pub missing: u64,
    /// Paths of some of those rows.
    pub missing_examples: Vec<String>,
}

impl CheckReport {
    /// Whether everything checked is sound.
    pub fn is_sound(&self) -> bool {
        self.catalog_problems.is_empty() && self.index_problems.is_empty() && self.missing == 0
    }
}

/// The lines of a `PRAGMA ...integrity_check` other than `ok`.
fn pragma_lines(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(sql)?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter(|r| r != "ok").collect())
}

/// An FTS5 query asking for every distinct token of `doc`.
fn all_tokens_query(doc: &str) -> Option<String> {
    let mut seen: Vec<&str> = doc.split(' ').filter(|t| !t.is_empty()).collect();
    seen.sort_unstable();
    seen.dedup();
    if seen.is_empty() {
        return None;
    }
    Some(
        seen.iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

impl SqliteCatalog {
    /// Checks both files and that the search index agrees with the file
    /// rows (see the module's docs). Reads everything: about as long as a
    /// search per file.
    pub(crate) fn check(&self) -> Result<CheckReport> {
        self.settle_index();
        let conn = &self.conn;
        let mut report = CheckReport {
            catalog_problems: pragma_lines(conn, "PRAGMA main.integrity_check")
                .map_err(self.err("checking the catalog's integrity"))?,
            ..CheckReport::default()
        };
        report.index_problems = pragma_lines(conn, "PRAGMA fts.integrity_check")
            .map_err(self.err("checking the search index's integrity"))?;
        if let Err(e) =
            conn.execute_batch("INSERT INTO fts.file_fts(file_fts) VALUES ('integrity-check')")
        {
            report
                .index_problems
                .push(format!("full-text index structure: {e}"));
        }
        let (_, upto) = index::extent(conn).map_err(self.err("reading the search index"))?;
        report.indexed_upto = upto;
        let tx = conn
            .unchecked_transaction()
            .map_err(self.err("starting a read"))?;
        let mut rows = tx
            .prepare("SELECT f.id, d.path, f.name FROM files f JOIN dirs d ON d.id = f.dir_id ORDER BY f.id")
            .map_err(self.err("reading the files"))?;
        let mut probe = tx
            .prepare("SELECT count(*) FROM fts.file_fts WHERE file_fts MATCH ?1 AND rowid = ?2")
            .map_err(self.err("reading the search index"))?;
        let mut it = rows.query([]).map_err(self.err("reading the files"))?;
        let mut name_tokens = String::new();
        while let Some(r) = it.next().map_err(self.err("reading the files"))? {
            report.files += 1;
            let id: i64 = r.get(0).map_err(self.err("reading the files"))?;
            if id > upto {
                report.tail += 1;
                continue;
            }
            let dir: String = r.get(1).map_err(self.err("reading the files"))?;
            let name: String = r.get(2).map_err(self.err("reading the files"))?;
            name_tokens.clear();
            tokens::index_text(&name, &mut name_tokens);
            // A name without letters or digits has no tokens of its own:
            // its directory's stand for it.
            if name_tokens.trim().is_empty() {
                tokens::index_text(&dir, &mut name_tokens);
            }
            let Some(q) = all_tokens_query(&name_tokens) else {
                continue; // nothing to find it by
            };
            let found: i64 = probe
                .query_row(params![q, id], |r| r.get(0))
                .map_err(self.err("reading the search index"))?;
            if found == 0 {
                report.missing += 1;
                if report.missing_examples.len() < EXAMPLES {
                    report
                        .missing_examples
                        .push(crate::catalog::join_path(&dir, &name));
                }
            }
        }
        Ok(report)
    }

    /// Rebuilds the search index from the file rows: forgets every posting
    /// and indexes every file again, in one transaction. Returns how many
    /// files were indexed.
    pub(crate) fn rebuild_index(&mut self) -> Result<u64> {
        self.settle_index();
        let path = self.path().to_owned();
        let sq = |action: &'static str| {
            let path = path.clone();
            move |e| CatalogError::sqlite(&path, action, e)
        };
        let tx = crate::catalog::main_write_tx(&mut self.conn)
            .map_err(sq("starting the index rebuild"))?;
        tx.execute_batch(
            "INSERT INTO fts.file_fts(file_fts) VALUES ('delete-all');
             DELETE FROM fts.dense;
             DELETE FROM fts.dense_ranges;
             UPDATE fts.meta SET value = 0 WHERE key = 'upto';",
        )
        .map_err(sq("clearing the search index"))?;
        let n = index::catch_up(&tx).map_err(sq("indexing files"))?;
        tx.commit().map_err(sq("committing the rebuilt index"))?;
        self.optimize()?;
        tracing::info!(catalog = %self.path().display(), files = n, "search index rebuilt");
        Ok(n)
    }
}
