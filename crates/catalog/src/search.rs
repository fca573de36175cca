//! Turning a [`Query`] into SQL over the full-text indexes, and running it.
//!
//! Words that no archive or run description or tag contains (the usual
//! case) are joined by AND into one FTS5 `MATCH` that drives the query: FTS5 walks
//! the rarest doclist first and returns rowids in ascending order, so the
//! first page of a two-word query over millions of files touches a few
//! pages only. Every other clause filters the driven rows. Words that some
//! archive's text also contains become "in the file's tokens, or in an
//! archive that matches" filters; then, with no other word to drive, the
//! files table is scanned in id order until the page is full.

use rusqlite::types::Value;

use crate::catalog::{SqliteCatalog, decode_extra, join_path, split_path, to_u64};
use crate::error::{CatalogError, Result};
use crate::model::{
    ArchiveKey, ArchiveState, FileEntry, FileHit, FileId, Page, RunId, SearchPage, state_sql,
};
use crate::query::{Query, Term};
use crate::tokens::query_tokens;

/// The columns of a [`FileHit`]; the archive's state as `state_sql!`
/// reads it (`pruned`, `missing`).
const HIT_COLUMNS: &str = concat!(
    "f.id, d.path, f.name, f.size, f.mtime, f.extra, a.id, a.remote_id, s.name, v.name, ",
    state_sql!(),
    ", a.run_id, a.created"
);

const PATH: &str = "(d.path || '/' || f.name)";

/// The largest page [`Catalog::search`] returns.
pub const MAX_PAGE: u32 = 10_000;

#[derive(Default, Clone)]
struct Plan {
    /// FTS expressions that must all match (they drive the query).
    fts: Vec<String>,
    /// FTS expressions that must not match.
    fts_not: Vec<String>,
    /// The same as `pf_has` patterns (for files the index does not hold yet).
    fts_pat: Vec<String>,
    fts_not_pat: Vec<String>,
    /// The whole tokens (not prefixes) that every hit holds, from `fts`.
    and_tokens: Vec<String>,
    /// Filters with their parameters, all required.
    wheres: Vec<(String, Vec<Value>)>,
}

fn fts_expr(tokens: &[String], prefix: bool) -> String {
    let mut s = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            s.push_str(" AND ");
        }
        s.push('"');
        s.push_str(t);
        s.push('"');
        if prefix && i + 1 == tokens.len() {
            s.push('*');
        }
    }
    s
}

/// A `pf_has` pattern: the tokens, the last with `*` when a prefix.
fn pattern(tokens: &[String], prefix: bool) -> String {
    let mut s = tokens.join(" ");
    if prefix {
        s.push('*');
    }
    s
}

/// Which files a query reads: those the index holds, or the tail above it.
#[derive(Clone, Copy)]
struct Part {
    /// Files up to this id are indexed.
    upto: i64,
    /// Some files are above `upto`.
    tail: bool,
    /// This query reads only the tail, testing words on each path.
    reading_tail: bool,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The principal key an `acl:`/`owner:` name stands for: `sid:S-1-…` for
/// a SID, else the name itself.
pub(crate) fn sid_key(n: &str) -> String {
    if n.to_ascii_uppercase().starts_with("S-1-") {
        format!("sid:{}", n.to_ascii_uppercase())
    } else {
        n.to_owned()
    }
}

/// The condition of an `owner:`, `group:`, `acl:` or `acl:deny` clause.
fn access_clause(term: &Term, neg: &str) -> (String, Vec<Value>) {
    match term {
        Term::Owner(n) | Term::Group(n) => {
            let (kind, func, col) = if matches!(term, Term::Owner(_)) {
                ("u", "pf_uid", "owner")
            } else {
                ("g", "pf_gid", "grp")
            };
            let num = n
                .parse::<u32>()
                .map_or(Value::Null, |v| Value::Integer(v.into()));
            (
                format!(
                    // COALESCE: a row without a uid, or a name that is
                    // no number, is NULL here, and NOT NULL would drop
                    // every row from a negated clause (`-owner:alice`).
                    "{neg}(COALESCE({func}(f.extra) IN (SELECT num FROM accounts WHERE kind = '{kind}' AND name = ? COLLATE NOCASE), 0)
                      OR COALESCE({func}(f.extra) = ?, 0)
                      OR f.id IN (SELECT file_id FROM file_acls WHERE {col}_name = ? OR {col} = ?))"
                ),
                vec![text(n), num, text(n), text(&sid_key(n))],
            )
        }
        Term::Acl(n) => (
            format!(
                "{neg}(f.id IN (SELECT file_id FROM acl_entries WHERE name = ? UNION SELECT file_id FROM acl_entries WHERE principal = ?))"
            ),
            vec![text(n), text(&sid_key(n))],
        ),
        _ => (
            format!("{neg}(f.id IN (SELECT file_id FROM acl_entries WHERE kind = 'deny'))"),
            vec![],
        ),
    }
}

impl SqliteCatalog {
    fn archive_text_matches(&self, expr: &str, phrase: Option<&str>) -> Result<bool> {
        let sql = if phrase.is_some() {
            "SELECT EXISTS(SELECT 1 FROM archive_fts WHERE archive_fts MATCH ?1 AND pf_phrase(raw, ?2))"
        } else {
            "SELECT EXISTS(SELECT 1 FROM archive_fts WHERE archive_fts MATCH ?1 AND ?2 IS NULL)"
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row(rusqlite::params![expr, phrase], |r| r.get(0)))
            .map_err(self.err("matching archive descriptions"))
    }

    #[allow(clippy::too_many_lines)] // one arm per kind of clause
    fn plan(&self, q: &Query) -> Result<Plan> {
        let mut p = Plan::default();
        for c in &q.clauses {
            let neg = if c.negated { "NOT " } else { "" };
            match &c.term {
                Term::Word(w) | Term::Prefix(w) | Term::Phrase(w) => {
                    let prefix = matches!(c.term, Term::Prefix(_));
                    let toks = query_tokens(w);
                    if toks.is_empty() {
                        continue;
                    }
                    let expr = fts_expr(&toks, prefix);
                    let phrase = (toks.len() > 1).then(|| {
                        let mut s = toks.join(" ");
                        if prefix {
                            s.push('*');
                        }
                        s
                    });
                    let in_archives = self.archive_text_matches(&expr, phrase.as_deref())?;
                    let arch_sql = if phrase.is_some() {
                        "f.archive_id IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH ? AND pf_phrase(raw, ?))"
                    } else {
                        "f.archive_id IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?)"
                    };
                    let mut arch_params = vec![text(&expr)];
                    arch_params.extend(phrase.as_deref().map(text));
                    match (c.negated, in_archives) {
                        (false, false) => {
                            p.fts.push(expr);
                            p.fts_pat.push(pattern(&toks, prefix));
                            let whole = if prefix { toks.len() - 1 } else { toks.len() };
                            p.and_tokens.extend(toks[..whole].iter().cloned());
                            if let Some(ph) = &phrase {
                                p.wheres.push((format!("pf_phrase({PATH}, ?)"), vec![text(ph)]));
                            }
                        }
                        (false, true) => {
                            // Tested on each candidate row's path (another
                            // clause drives), not by reading a whole doclist.
                            let mut pattern = toks.join(" ");
                            if prefix {
                                pattern.push('*');
                            }
                            let mut params = vec![text(&pattern)];
                            params.extend(arch_params);
                            p.wheres.push((format!("(pf_phrase({PATH}, ?) OR {arch_sql})"), params));
                        }
                        (true, _) => {
                            match &phrase {
                                None => {
                                    p.fts_not.push(expr);
                                    p.fts_not_pat.push(pattern(&toks, prefix));
                                }
                                Some(ph) => p.wheres.push((format!("NOT pf_phrase({PATH}, ?)"), vec![text(ph)])),
                            }
                            if in_archives {
                                p.wheres.push((format!("NOT {arch_sql}"), arch_params));
                            }
                        }
                    }
                }
                Term::Tag(t) => p.wheres.push((
                    format!(
                        "{neg}(f.archive_id IN (SELECT x.archive_id FROM archive_tags x JOIN tags t ON t.id = x.tag_id WHERE t.name = ?
                           UNION SELECT a2.id FROM archives a2 JOIN run_tags x ON x.run_id = a2.run_id JOIN tags t ON t.id = x.tag_id WHERE t.name = ?))"
                    ),
                    vec![text(t), text(t)],
                )),
                Term::Path(g) => {
                    let col = if g.contains('/') { PATH } else { "f.name" };
                    p.wheres.push((format!("{neg}({col} GLOB ?)"), vec![text(g)]));
                }
                Term::Under(d) => {
                    let d = d.trim_end_matches('/');
                    if d.is_empty() {
                        if c.negated {
                            p.wheres.push(("0".into(), vec![]));
                        }
                        continue;
                    }
                    p.wheres.push((
                        format!("{neg}(f.dir_id IN (SELECT id FROM dirs WHERE path = ? OR (path >= ? AND path < ?)))"),
                        vec![text(d), text(&format!("{d}/")), text(&format!("{d}0"))],
                    ));
                }
                Term::Owner(_) | Term::Group(_) | Term::Acl(_) | Term::AclDeny => {
                    p.wheres.push(access_clause(&c.term, neg));
                }
                Term::Size(r) => p.wheres.push((format!("{neg}({})", r.sql("f.size")), vec![])),
                Term::Mtime(r) => p.wheres.push((format!("{neg}({})", r.sql("f.mtime")), vec![])),
                Term::Archive(id) => p.wheres.push((
                    format!("{neg}(f.archive_id = ? OR f.archive_id IN (SELECT id FROM archives WHERE remote_id = ?))"),
                    vec![id.parse::<i64>().map_or(Value::Null, Value::Integer), text(id)],
                )),
                Term::Run(id) => p.wheres.push((
                    format!(
                        "{neg}(f.archive_id IN (SELECT id FROM archives WHERE run_id = ? OR run_id IN (SELECT id FROM runs WHERE uid = ?)))"
                    ),
                    vec![id.parse::<i64>().map_or(Value::Null, Value::Integer), text(id)],
                )),
            }
        }
        Ok(p)
    }

    /// (SQL after `SELECT <cols>`, parameters, ordering column) for a
    /// plan; `after` bounds ids.
    fn from_where(
        p: &Plan,
        after: Option<FileId>,
        upper: i64,
        part: Part,
    ) -> (String, Vec<Value>, &'static str) {
        let mut sql = String::new();
        let mut params = Vec::new();
        let joins =
            " CROSS JOIN dirs d ON d.id = f.dir_id CROSS JOIN archives a ON a.id = f.archive_id
             CROSS JOIN vaults v ON v.id = a.vault_id CROSS JOIN stores s ON s.id = v.store_id";
        let after = after.map_or(i64::MIN, |a| a.0);
        let driven = !p.fts.is_empty() && !part.reading_tail;
        if driven {
            // CROSS JOIN fixes the order: the FTS table drives.
            sql.push_str(" FROM fts.file_fts CROSS JOIN files f ON f.id = file_fts.rowid");
            sql.push_str(joins);
            let mut m = format!("({})", p.fts.join(") AND ("));
            for n in &p.fts_not {
                m.push_str(" NOT (");
                m.push_str(n);
                m.push(')');
            }
            sql.push_str(" WHERE file_fts MATCH ? AND file_fts.rowid > ? AND file_fts.rowid <= ?");
            params.push(Value::Text(m));
            params.push(Value::Integer(after));
            params.push(Value::Integer(upper));
        } else {
            sql.push_str(" FROM files f");
            sql.push_str(joins);
            sql.push_str(" WHERE f.id > ? AND f.id <= ?");
            params.push(Value::Integer(if part.reading_tail {
                after.max(part.upto)
            } else {
                after
            }));
            params.push(Value::Integer(upper));
        }
        if part.reading_tail {
            for pat in &p.fts_pat {
                sql.push_str(" AND pf_has(d.path, f.name, ?)");
                params.push(text(pat));
            }
            for pat in &p.fts_not_pat {
                sql.push_str(" AND NOT pf_has(d.path, f.name, ?)");
                params.push(text(pat));
            }
        } else if !driven {
            for (n, pat) in p.fts_not.iter().zip(&p.fts_not_pat) {
                sql.push_str(
                    " AND f.id NOT IN (SELECT rowid FROM fts.file_fts WHERE file_fts MATCH ?)",
                );
                params.push(Value::Text(n.clone()));
                if part.tail {
                    sql.push_str(" AND (f.id <= ? OR NOT pf_has(d.path, f.name, ?))");
                    params.push(Value::Integer(part.upto));
                    params.push(text(pat));
                }
            }
        }
        for (w, ps) in &p.wheres {
            sql.push_str(" AND ");
            sql.push_str(w);
            params.extend(ps.iter().cloned());
        }
        (sql, params, if driven { "file_fts.rowid" } else { "f.id" })
    }

    /// The parts a query of `plan` reads: the indexed files, and (when the
    /// index lags behind the rows and the index drives) the tail.
    fn parts(&self, plan: &Plan) -> Result<Vec<Part>> {
        let (max, upto) =
            crate::index::extent(&self.conn).map_err(self.err("reading the search index"))?;
        let tail = max > upto;
        let mut parts = vec![Part {
            upto,
            tail,
            reading_tail: false,
        }];
        if tail && !plan.fts.is_empty() {
            parts.push(Part {
                upto,
                tail,
                reading_tail: true,
            });
        }
        Ok(parts)
    }

    /// Up to `want` hits of `plan` with ids in `after..=upper`.
    fn run_page(
        &self,
        plan: &Plan,
        after: Option<FileId>,
        upper: i64,
        part: Part,
        want: usize,
    ) -> rusqlite::Result<Vec<FileHit>> {
        let (from, mut params, order) = Self::from_where(plan, after, upper, part);
        let sql = format!("SELECT {HIT_COLUMNS}{from} ORDER BY {order} LIMIT ?");
        params.push(Value::Integer(i64::try_from(want).unwrap_or(i64::MAX)));
        let mut st = self.conn.prepare_cached(&sql)?;
        st.query_map(rusqlite::params_from_iter(params), hit)?
            .collect()
    }

    /// The indexed part of a search whose words hold two or more common
    /// tokens (see dense.rs): stretches of ids where their lists never meet
    /// are skipped; where they meet a few times, those files are tested
    /// one by one (`pf_has`, as for the tail); from the first stretch the
    /// lists cannot settle, FTS5 finishes the page as usual.
    fn search_stretches(
        &self,
        plan: &Plan,
        after: Option<FileId>,
        part: Part,
        common: Vec<String>,
        want: usize,
        hits: &mut Vec<FileHit>,
    ) -> rusqlite::Result<()> {
        use crate::dense::Stretch;
        let start = after.map_or(0, |a| a.0.max(0));
        // Candidates hold every common token: words made of them need no
        // test on the path (phrases still do, in `wheres`).
        let mut checked = plan.clone();
        checked.fts_pat.retain(|pat| {
            pat.ends_with('*') || !pat.split(' ').all(|t| common.iter().any(|c| c == t))
        });
        let walker = crate::dense::Walker::new(&self.conn, common, start, part.upto)?;
        for stretch in walker {
            match stretch? {
                Stretch::Empty => {}
                Stretch::Candidates(ids) => {
                    let found = self.run_candidates(&checked, &ids, want - hits.len())?;
                    hits.extend(found);
                }
                Stretch::Unknown { lo } => {
                    let found = self.run_page(
                        plan,
                        Some(FileId(lo - 1)),
                        i64::MAX,
                        part,
                        want - hits.len(),
                    )?;
                    hits.extend(found);
                    return Ok(());
                }
            }
            if hits.len() >= want {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Up to `want` hits of `plan` among the files `ids` (ascending), each
    /// tested on its path as the tail is.
    fn run_candidates(
        &self,
        plan: &Plan,
        ids: &[i64],
        want: usize,
    ) -> rusqlite::Result<Vec<FileHit>> {
        let part = Part {
            upto: 0,
            tail: false,
            reading_tail: true,
        };
        let (from, mut params, _) = Self::from_where(plan, None, i64::MAX, part);
        let sql = format!(
            "SELECT {HIT_COLUMNS}{from} AND f.id IN (SELECT value FROM json_each(?)) ORDER BY f.id LIMIT ?"
        );
        let list = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        params.push(Value::Text(list));
        params.push(Value::Integer(i64::try_from(want).unwrap_or(i64::MAX)));
        let mut st = self.conn.prepare_cached(&sql)?;
        st.query_map(rusqlite::params_from_iter(params), hit)?
            .collect()
    }

    /// One page of the files matching `query`, by ascending [`FileId`].
    pub(crate) fn search(&self, query: &Query, page: Page) -> Result<SearchPage> {
        let limit = page.limit.clamp(1, MAX_PAGE);
        let plan = self.plan(query)?;
        self.settle_index();
        let action = || format!("searching for {query}");
        // One read transaction: `files` is read before the index (see index.rs).
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err(action()))?;
        let mut hits = Vec::new();
        let want = limit as usize + 1;
        for part in self.parts(&plan)? {
            if hits.len() >= want {
                break;
            }
            let common = if part.reading_tail || plan.fts.is_empty() {
                None
            } else {
                crate::dense::common_tokens(&self.conn, &plan.and_tokens)
                    .map_err(self.err(action()))?
            };
            if let Some(common) = common {
                self.search_stretches(&plan, page.after, part, common, want, &mut hits)
                    .map_err(self.err(action()))?;
            } else {
                let found = self
                    .run_page(&plan, page.after, i64::MAX, part, want - hits.len())
                    .map_err(self.err(action()))?;
                hits.extend(found);
            }
        }
        tx.finish().map_err(self.err(action()))?;
        let next = if hits.len() > limit as usize {
            hits.truncate(limit as usize);
            hits.last().map(|h| h.id)
        } else {
            None
        };
        crate::tape::fill_positions(self, &mut hits)?;
        Ok(SearchPage {
            query: query.to_string(),
            hits,
            next,
        })
    }

    /// How many files match `query` (reads every match: slower than a page).
    pub(crate) fn count(&self, query: &Query) -> Result<u64> {
        let plan = self.plan(query)?;
        self.settle_index();
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err(format!("counting {query}")))?;
        let mut n = 0;
        for part in self.parts(&plan)? {
            let (from, params, _) = Self::from_where(&plan, None, i64::MAX, part);
            let sql = format!("SELECT count(*){from}");
            n += self
                .conn
                .prepare_cached(&sql)
                .and_then(|mut st| {
                    st.query_row(rusqlite::params_from_iter(params), |r| r.get::<_, i64>(0))
                })
                .map(to_u64)
                .map_err(self.err(format!("counting {query}")))?;
        }
        tx.finish().map_err(self.err(format!("counting {query}")))?;
        Ok(n)
    }

    /// Every archived version of one path, oldest archive first.
    pub(crate) fn where_is(&self, path: &str) -> Result<Vec<FileHit>> {
        let (dir, name) = split_path(path)?;
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM dirs d CROSS JOIN files f ON f.dir_id = d.id CROSS JOIN archives a ON a.id = f.archive_id
               CROSS JOIN vaults v ON v.id = a.vault_id CROSS JOIN stores s ON s.id = v.store_id
             WHERE d.path = ?1 AND f.name = ?2 ORDER BY a.created, f.id"
        );
        let mut st = self
            .conn
            .prepare_cached(&sql)
            .map_err(self.err(format!("looking up {path}")))?;
        let mut hits: Vec<FileHit> = st
            .query_map([dir, name], hit)
            .map_err(self.err(format!("looking up {path}")))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| CatalogError::sqlite(&self.path, format!("looking up {path}"), e))?;
        crate::tape::fill_positions(self, &mut hits)?;
        Ok(hits)
    }

    /// Every file recorded in a stored archive whose directory is `dir` or
    /// lies below it (every stored file for `/`), each version once, in no
    /// particular order. One query where an incremental run would otherwise
    /// ask [`Catalog::where_is`] once per file; the rows are borrowed, so a
    /// caller matching a million files allocates nothing per row.
    pub(crate) fn stored_files_under(
        &self,
        dir: &str,
        mut each: impl FnMut(&StoredFile<'_>),
    ) -> Result<()> {
        let what = || format!("reading the stored files under {dir}");
        let base = dir.trim_end_matches('/');
        let (lo, hi) = (format!("{base}/"), format!("{base}0"));
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT d.path, f.name, f.size, f.mtime, f.extra, f.id FROM dirs d
                   CROSS JOIN files f ON f.dir_id = d.id CROSS JOIN archives a ON a.id = f.archive_id
                 WHERE (d.path = ?1 OR (d.path >= ?2 AND d.path < ?3)) AND a.state = 'stored'",
            )
            .map_err(self.err(what()))?;
        let mut rows = st
            .query(rusqlite::params![base, lo, hi])
            .map_err(self.err(what()))?;
        let mut f = FileEntry::default();
        while let Some(r) = rows.next().map_err(self.err(what()))? {
            let mut read = || -> rusqlite::Result<()> {
                let dir = r.get_ref(0)?.as_str()?;
                let name = r.get_ref(1)?.as_str()?;
                // The blob holds the change time relative to mtime.
                f.mtime = r.get(3)?;
                f.ctime = None;
                f.mode = 0;
                decode_extra(r.get_ref(4)?.as_blob()?, &mut f, 4)?;
                each(&StoredFile {
                    id: FileId(r.get(5)?),
                    dir,
                    name,
                    size: to_u64(r.get(2)?),
                    mtime: f.mtime,
                    ctime: f.ctime,
                    mode: f.mode,
                });
                Ok(())
            };
            read().map_err(|e| CatalogError::sqlite(&self.path, what(), e))?;
        }
        Ok(())
    }
}

/// One file of a stored archive, as [`Catalog::stored_files_under`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredFile<'a> {
    /// The version's row: later versions of a path have greater ids.
    pub id: FileId,
    /// Its directory (`""` for `/`, else without a trailing `/`).
    pub dir: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Bytes.
    pub size: u64,
    /// Modification time.
    pub mtime: i64,
    /// Status change time, when recorded.
    pub ctime: Option<i64>,
    /// Unix mode bits (type and permissions; 0 when not recorded).
    pub mode: u32,
}

fn hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileHit> {
    let dir: String = r.get(1)?;
    let name: String = r.get(2)?;
    let mut f = FileEntry {
        mtime: r.get(4)?,
        ..FileEntry::default()
    };
    decode_extra(r.get_ref(5)?.as_blob()?, &mut f, 5)?;
    Ok(FileHit {
        id: FileId(r.get(0)?),
        path: join_path(&dir, &name),
        size: to_u64(r.get(3)?),
        mtime: f.mtime,
        sha256: f.sha256,
        archive: ArchiveKey(r.get(6)?),
        archive_id: r.get(7)?,
        store: r.get(8)?,
        vault: r.get(9)?,
        state: ArchiveState::parse(&r.get::<_, String>(10)?),
        run: RunId(r.get(11)?),
        archived: r.get(12)?,
        member: f.member,
        tape: None,
    })
}
