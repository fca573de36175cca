//! Searching a PostgreSQL catalog: the same [`Query`] language, answers
//! and paging as the SQLite catalog (search.rs), over the same tokens.
//!
//! Each file row holds the tokens of its path (tokens.rs, the very tokens
//! the SQLite catalog's FTS5 index holds) as a `tsvector` of bare lexemes
//! under a GIN index, and a word is a `tsquery` of them (`'budg':*` for a
//! prefix), so "the file's tokens hold these" is answered by the index as
//! FTS5 answers it. What SQLite tests with its `pf_phrase` function (the
//! order and adjacency of a phrase's tokens, words that some archive's
//! text also holds) is tested here by the catalog on each candidate row
//! ([`Check`]), with the same function (`tokens::phrase_matches`); the SQL
//! narrows the candidates as far as it can and yields them in id order,
//! a chunk at a time, until the page is full.
//!
//! A search reads one snapshot (a read-only `REPEATABLE READ`
//! transaction), however many chunks it takes.

use std::collections::HashSet;
use std::fmt::Write as _;

use postgres::types::ToSql;
use postgres::{IsolationLevel, Row, Transaction};

use super::PgCatalog;
use crate::catalog::{join_path, split_path, to_u64};
use crate::error::{CatalogError, Result};
use crate::model::{
    ArchiveKey, ArchiveState, FileEntry, FileHit, FileId, Page, RunId, SearchPage, state_sql,
};
use crate::query::{Query, Term};
use crate::record;
use crate::search::{MAX_PAGE, StoredFile};
use crate::tokens::{phrase_matches, query_tokens};

/// Candidate rows read at a time when the catalog tests some clause itself.
const SCAN_CHUNK: i64 = 2000;

const PATH: &str = "(d.path || '/' || f.name)";

/// `tokens` (from `tokens::index_text`, separated by spaces) as the text
/// of a `tsvector` of those lexemes, each quoted (no text search
/// configuration touches them).
pub(crate) fn tsvector(tokens: &str) -> String {
    let mut out = String::with_capacity(tokens.len() * 2);
    for t in tokens.split(' ').filter(|t| !t.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        quote_lexeme(&mut out, t);
    }
    out
}

fn quote_lexeme(out: &mut String, t: &str) {
    out.push('\'');
    for c in t.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
}

/// The `tsquery` text asking for every token, the last a prefix when
/// `prefix`: what the SQLite catalog's FTS5 expression asks.
fn tsquery(tokens: &[String], prefix: bool) -> String {
    let mut s = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            s.push_str(" & ");
        }
        quote_lexeme(&mut s, t);
        if prefix && i + 1 == tokens.len() {
            s.push_str(":*");
        }
    }
    s
}

/// SQLite's `GLOB` pattern as a PostgreSQL regular expression matching
/// the same strings (case-sensitive, `*` any text including `/`, `?` one
/// character, `[...]` and `[^...]` classes with ranges, no escapes);
/// `None` for a pattern that matches nothing (an unclosed class, or a
/// class of nothing). Every character but ASCII letters and digits is
/// written `\UXXXXXXXX`, which means that character alone, inside a class
/// or out.
fn glob_regex(glob: &str) -> Option<String> {
    fn lit(out: &mut String, c: char) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\U{:08x}", u32::from(c));
        }
    }
    let mut out = String::from("^");
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                // As SQLite's patternCompare reads a class.
                i += 1;
                let invert = chars.get(i) == Some(&'^');
                if invert {
                    i += 1;
                }
                let mut singles: Vec<char> = Vec::new();
                let mut ranges: Vec<(char, char)> = Vec::new();
                if chars.get(i) == Some(&']') {
                    singles.push(']');
                    i += 1;
                }
                let mut prior: Option<char> = None;
                loop {
                    let &c = chars.get(i)?; // unclosed: matches nothing
                    if c == ']' {
                        break;
                    }
                    let next = chars.get(i + 1).copied();
                    if c == '-' && prior.is_some() && next.is_some_and(|n| n != ']') {
                        let (lo, hi) = (prior.take()?, next?);
                        // The range's start was taken as a single: it stays
                        // one only when the range is backwards (empty), as
                        // SQLite then matches it alone.
                        if lo <= hi {
                            singles.pop();
                            ranges.push((lo, hi));
                        }
                        i += 2;
                        continue;
                    }
                    singles.push(c);
                    prior = Some(c);
                    i += 1;
                }
                if singles.is_empty() && ranges.is_empty() {
                    if invert {
                        out.push('.');
                    } else {
                        return None;
                    }
                } else {
                    out.push('[');
                    if invert {
                        out.push('^');
                    }
                    for c in singles {
                        lit(&mut out, c);
                    }
                    for (lo, hi) in ranges {
                        lit(&mut out, lo);
                        out.push('-');
                        lit(&mut out, hi);
                    }
                    out.push(']');
                }
            }
            c => lit(&mut out, c),
        }
        i += 1;
    }
    out.push('$');
    Some(out)
}

/// A word the catalog tests on each candidate row: its tokens in sequence
/// in the path (or, for a word some archive's text holds, the row in one
/// of those archives).
struct Check {
    tokens: Vec<String>,
    prefix: bool,
    negated: bool,
    /// Archives whose text matches the word (positive words only).
    archives: HashSet<i64>,
}

impl Check {
    fn holds(&self, path: &str, archive: i64) -> bool {
        let found =
            self.archives.contains(&archive) || phrase_matches(path, &self.tokens, self.prefix);
        found != self.negated
    }
}

/// A query as SQL conditions (with their parameters) and row checks.
#[derive(Default)]
struct Plan {
    wheres: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync>>,
    checks: Vec<Check>,
}

impl Plan {
    /// Adds a parameter; its placeholder.
    fn p(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|b| &**b as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The columns of a [`FileHit`] and the joins they need.
fn hit_select() -> String {
    format!(
        "SELECT f.id, d.path, f.name, f.size, f.mtime, f.extra, a.id, a.remote_id, s.name, v.name, {}, a.run_id, a.created
         FROM files f JOIN dirs d ON d.id = f.dir_id JOIN archives a ON a.id = f.archive_id
           JOIN vaults v ON v.id = a.vault_id JOIN stores s ON s.id = v.store_id",
        state_sql!().replace("CROSS JOIN", "JOIN")
    )
}

impl PgCatalog {
    /// The archives whose text (descriptions, tags) holds the word.
    fn archives_matching(
        tx: &mut Transaction<'_>,
        toks: &[String],
        prefix: bool,
    ) -> Result<HashSet<i64>, postgres::Error> {
        let rows = tx.query(
            "SELECT archive_id, raw FROM archive_text WHERE tokens @@ $1::text::tsquery",
            &[&tsquery(toks, prefix)],
        )?;
        Ok(rows
            .iter()
            .filter(|r| toks.len() < 2 || phrase_matches(r.get(1), toks, prefix))
            .map(|r| r.get(0))
            .collect())
    }

    #[allow(clippy::too_many_lines)] // one arm per kind of clause
    fn plan(&self, tx: &mut Transaction<'_>, query: &Query) -> Result<Plan> {
        let fail = || self.err(format!("searching for {query}"));
        let mut plan = Plan::default();
        for clause in &query.clauses {
            let neg = if clause.negated { "NOT " } else { "" };
            match &clause.term {
                Term::Word(w) | Term::Prefix(w) | Term::Phrase(w) => {
                    let prefix = matches!(clause.term, Term::Prefix(_));
                    let toks = query_tokens(w);
                    if toks.is_empty() {
                        continue;
                    }
                    let archives = Self::archives_matching(tx, &toks, prefix).map_err(fail())?;
                    let phrase = toks.len() > 1;
                    match (clause.negated, archives.is_empty()) {
                        (false, true) => {
                            let tsq = plan.p(tsquery(&toks, prefix));
                            plan.wheres
                                .push(format!("f.tokens @@ {tsq}::text::tsquery"));
                            if phrase {
                                plan.checks.push(Check {
                                    tokens: toks,
                                    prefix,
                                    negated: false,
                                    archives: HashSet::new(),
                                });
                            }
                        }
                        (false, false) => plan.checks.push(Check {
                            tokens: toks,
                            prefix,
                            negated: false,
                            archives,
                        }),
                        (true, _) => {
                            if !archives.is_empty() {
                                let ids: Vec<i64> = archives.into_iter().collect();
                                let ids = plan.p(ids);
                                plan.wheres.push(format!("NOT (f.archive_id = ANY({ids}))"));
                            }
                            if phrase {
                                plan.checks.push(Check {
                                    tokens: toks,
                                    prefix,
                                    negated: true,
                                    archives: HashSet::new(),
                                });
                            } else {
                                let tsq = plan.p(tsquery(&toks, prefix));
                                plan.wheres
                                    .push(format!("NOT (f.tokens @@ {tsq}::text::tsquery)"));
                            }
                        }
                    }
                }
                Term::Tag(t) => {
                    let tag = plan.p(t.clone());
                    plan.wheres.push(format!(
                        "{neg}(f.archive_id IN (SELECT x.archive_id FROM archive_tags x JOIN tags t ON t.id = x.tag_id WHERE lower(t.name) = lower({tag})
                           UNION SELECT a2.id FROM archives a2 JOIN run_tags x ON x.run_id = a2.run_id JOIN tags t ON t.id = x.tag_id WHERE lower(t.name) = lower({tag})))"
                    ));
                }
                Term::Path(g) => {
                    let col = if g.contains('/') { PATH } else { "f.name" };
                    match glob_regex(g) {
                        Some(re) => {
                            let re = plan.p(re);
                            plan.wheres
                                .push(format!("{neg}({col} COLLATE \"C\" ~ {re})"));
                        }
                        None => plan.wheres.push(format!("{neg}(FALSE)")),
                    }
                }
                Term::Under(d) => {
                    let d = d.trim_end_matches('/');
                    if d.is_empty() {
                        if clause.negated {
                            plan.wheres.push("FALSE".into());
                        }
                        continue;
                    }
                    let (dir, lo, hi) = (
                        plan.p(d.to_owned()),
                        plan.p(format!("{d}/")),
                        plan.p(format!("{d}0")),
                    );
                    plan.wheres.push(format!(
                        "{neg}(f.dir_id IN (SELECT id FROM dirs WHERE path = {dir} OR (path >= {lo} AND path < {hi})))"
                    ));
                }
                Term::Owner(n) | Term::Group(n) => {
                    let (kind, col, acl_col) = if matches!(clause.term, Term::Owner(_)) {
                        ("u", "f.uid", "owner")
                    } else {
                        ("g", "f.gid", "grp")
                    };
                    let name = plan.p(n.clone());
                    let num = plan.p(n.parse::<u32>().ok().map(i64::from));
                    let key = plan.p(crate::search::sid_key(n));
                    // COALESCE: as on SQLite, a row without an id is no
                    // match, and stays one when negated.
                    plan.wheres.push(format!(
                        "{neg}(COALESCE({col} IN (SELECT num FROM accounts WHERE kind = '{kind}' AND lower(name) = lower({name})), FALSE)
                          OR COALESCE({col} = {num}::bigint, FALSE)
                          OR f.id IN (SELECT file_id FROM file_acls WHERE lower({acl_col}_name) = lower({name}) OR {acl_col} = {key}))"
                    ));
                }
                Term::Acl(n) => {
                    let (name, key) = (plan.p(n.clone()), plan.p(crate::search::sid_key(n)));
                    plan.wheres.push(format!(
                        "{neg}(f.id IN (SELECT file_id FROM acl_entries WHERE lower(name) = lower({name})
                           UNION SELECT file_id FROM acl_entries WHERE principal = {key}))"
                    ));
                }
                Term::AclDeny => plan.wheres.push(format!(
                    "{neg}(f.id IN (SELECT file_id FROM acl_entries WHERE kind = 'deny'))"
                )),
                Term::Size(r) => plan.wheres.push(format!("{neg}({})", r.sql("f.size"))),
                Term::Mtime(r) => plan.wheres.push(format!("{neg}({})", r.sql("f.mtime"))),
                Term::Archive(id) => {
                    let (num, text) = (plan.p(id.parse::<i64>().ok()), plan.p(id.clone()));
                    plan.wheres.push(format!(
                        "{neg}(f.archive_id = {num}::bigint OR f.archive_id IN (SELECT id FROM archives WHERE remote_id = {text}))"
                    ));
                }
                Term::Run(id) => {
                    let (num, text) = (plan.p(id.parse::<i64>().ok()), plan.p(id.clone()));
                    plan.wheres.push(format!(
                        "{neg}(f.archive_id IN (SELECT id FROM archives WHERE run_id = {num}::bigint OR run_id IN (SELECT id FROM runs WHERE uid = {text})))"
                    ));
                }
            }
        }
        Ok(plan)
    }

    /// Calls `each` with the hits of `plan` after `after`, in id order,
    /// until it returns false or none are left.
    fn scan(
        &self,
        tx: &mut Transaction<'_>,
        plan: &Plan,
        after: Option<FileId>,
        want: Option<usize>,
        mut each: impl FnMut(FileHit) -> bool,
    ) -> Result<()> {
        let e = || self.err("searching");
        let mut sql = hit_select();
        let n = plan.params.len();
        // Writing to a String cannot fail.
        let _ = write!(sql, " WHERE f.id > ${}", n + 1);
        for w in &plan.wheres {
            sql.push_str(" AND ");
            sql.push_str(w);
        }
        // Writing to a String cannot fail.
        let _ = write!(sql, " ORDER BY f.id LIMIT ${}", n + 2);
        let st = tx.prepare(&sql).map_err(e())?;
        let mut after = after.map_or(i64::MIN, |a| a.0);
        let mut found = 0usize;
        loop {
            let chunk = match want {
                Some(w) if plan.checks.is_empty() => i64::try_from(w - found).unwrap_or(i64::MAX),
                Some(w) => SCAN_CHUNK.max(i64::try_from(w - found).unwrap_or(i64::MAX)),
                None => SCAN_CHUNK * 10,
            };
            let mut params = plan.params();
            params.push(&after);
            params.push(&chunk);
            let rows = tx.query(&st, &params).map_err(e())?;
            let read = rows.len();
            for r in &rows {
                let h = self.hit(r)?;
                after = h.id.0;
                if plan.checks.iter().all(|c| c.holds(&h.path, h.archive.0)) {
                    found += 1;
                    if !each(h) {
                        return Ok(());
                    }
                }
            }
            if i64::try_from(read).unwrap_or(i64::MAX) < chunk {
                return Ok(());
            }
        }
    }

    fn hit(&self, r: &Row) -> Result<FileHit> {
        let id: i64 = r.get(0);
        let mut f = FileEntry {
            mtime: r.get(4),
            ..FileEntry::default()
        };
        if record::decode(r.get(5), &mut f).is_none() {
            return Err(self.malformed(id));
        }
        Ok(FileHit {
            id: FileId(id),
            path: join_path(r.get(1), r.get(2)),
            size: to_u64(r.get(3)),
            mtime: f.mtime,
            sha256: f.sha256,
            archive: ArchiveKey(r.get(6)),
            archive_id: r.get(7),
            store: r.get(8),
            vault: r.get(9),
            state: ArchiveState::parse(r.get(10)),
            run: RunId(r.get(11)),
            archived: r.get(12),
            member: f.member,
            tape: None,
        })
    }

    fn malformed(&self, id: i64) -> CatalogError {
        CatalogError::NotACatalog {
            path: self.path().to_path_buf(),
            reason: format!("file {id} has a malformed record"),
        }
    }

    /// One page of the files matching `query`, by ascending [`FileId`].
    pub(crate) fn search(&self, query: &Query, page: Page) -> Result<SearchPage> {
        let limit = page.limit.clamp(1, MAX_PAGE) as usize;
        let e = || self.err(format!("searching for {query}"));
        let mut c = self.client();
        let mut tx = snapshot(&mut c).map_err(e())?;
        let plan = self.plan(&mut tx, query)?;
        let mut hits = Vec::new();
        self.scan(&mut tx, &plan, page.after, Some(limit + 1), |h| {
            hits.push(h);
            hits.len() <= limit
        })?;
        tx.commit().map_err(e())?;
        let next = if hits.len() > limit {
            hits.truncate(limit);
            hits.last().map(|h| h.id)
        } else {
            None
        };
        Ok(SearchPage {
            query: query.to_string(),
            hits,
            next,
        })
    }

    /// How many files match `query`.
    pub(crate) fn count(&self, query: &Query) -> Result<u64> {
        let e = || self.err(format!("counting {query}"));
        let mut c = self.client();
        let mut tx = snapshot(&mut c).map_err(e())?;
        let plan = self.plan(&mut tx, query)?;
        let n = if plan.checks.is_empty() {
            let mut sql = String::from(
                "SELECT count(*) FROM files f JOIN dirs d ON d.id = f.dir_id WHERE TRUE",
            );
            for w in &plan.wheres {
                sql.push_str(" AND ");
                sql.push_str(w);
            }
            to_u64(tx.query_one(&sql, &plan.params()).map_err(e())?.get(0))
        } else {
            let mut n = 0;
            self.scan(&mut tx, &plan, None, None, |_| {
                n += 1;
                true
            })?;
            n
        };
        tx.commit().map_err(e())?;
        Ok(n)
    }

    /// Every archived version of one path, oldest archive first.
    pub(crate) fn where_is(&self, path: &str) -> Result<Vec<FileHit>> {
        let (dir, name) = split_path(path)?;
        let sql = format!(
            "{} WHERE d.path = $1 AND f.name = $2 ORDER BY a.created, f.id",
            hit_select()
        );
        let rows = self
            .client()
            .query(&sql, &[&dir, &name])
            .map_err(self.err(format!("looking up {path}")))?;
        rows.iter().map(|r| self.hit(r)).collect()
    }

    /// Every file recorded in a stored archive whose directory is `dir` or
    /// lies below it, each version once, in no particular order.
    pub(crate) fn stored_files_under(
        &self,
        dir: &str,
        mut each: impl FnMut(&StoredFile<'_>),
    ) -> Result<()> {
        let base = dir.trim_end_matches('/');
        let (lo, hi) = (format!("{base}/"), format!("{base}0"));
        let e = || self.err(format!("reading the stored files under {dir}"));
        let mut c = self.client();
        let mut tx = snapshot(&mut c).map_err(e())?;
        let st = tx
            .prepare(
                "SELECT d.path, f.name, f.size, f.mtime, f.extra, f.id FROM dirs d
                   JOIN files f ON f.dir_id = d.id JOIN archives a ON a.id = f.archive_id
                 WHERE (d.path = $1 OR (d.path >= $2 AND d.path < $3)) AND a.state = 'stored'",
            )
            .map_err(e())?;
        // A portal, read a chunk at a time: a million rows never sit in memory.
        let portal = tx.bind(&st, &[&base, &lo, &hi]).map_err(e())?;
        let mut f = FileEntry::default();
        loop {
            let rows = tx.query_portal(&portal, 10_000).map_err(e())?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let id: i64 = r.get(5);
                f.mtime = r.get(3);
                f.ctime = None;
                f.mode = 0;
                if record::decode(r.get(4), &mut f).is_none() {
                    return Err(self.malformed(id));
                }
                each(&StoredFile {
                    id: FileId(id),
                    dir: r.get(0),
                    name: r.get(1),
                    size: to_u64(r.get(2)),
                    mtime: f.mtime,
                    ctime: f.ctime,
                    mode: f.mode,
                });
            }
        }
        tx.commit().map_err(e())
    }
}

/// A read-only transaction on one snapshot.
fn snapshot(c: &mut postgres::Client) -> Result<Transaction<'_>, postgres::Error> {
    c.build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexemes_are_quoted() {
        assert_eq!(tsvector("budget 2019 o'k"), "'budget' '2019' 'o''k'");
        assert_eq!(tsvector(""), "");
        assert_eq!(
            tsquery(&["budget".into(), "20".into()], true),
            "'budget' & '20':*"
        );
    }

    #[test]
    fn globs_become_anchored_regexes() {
        assert_eq!(glob_regex("*.xlsx").unwrap(), "^.*\\U0000002exlsx$");
        assert_eq!(glob_regex("a?[12]").unwrap(), "^a.[12]$");
        assert_eq!(glob_regex("[^a-c]").unwrap(), "^[^a-c]$");
        assert_eq!(glob_regex("[]x]").unwrap(), "^[\\U0000005dx]$");
        assert_eq!(glob_regex("[a-]").unwrap(), "^[a\\U0000002d]$");
        // A backwards range is empty; its start still matches (as in SQLite).
        assert_eq!(glob_regex("[z-a]").unwrap(), "^[z]$");
        assert_eq!(glob_regex("[^z-a]").unwrap(), "^[^z]$");
        assert_eq!(glob_regex("x[ab"), None);
    }
}
