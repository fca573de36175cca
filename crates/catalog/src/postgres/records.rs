//! Runs, archives and files on PostgreSQL: written in transactions (files
//! with `COPY … FROM STDIN`, text format) and read back as the SQLite
//! backend reads them.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use postgres::Transaction;

use super::PgCatalog;
use crate::catalog::{Accounts, file_doc, join_path, new_uid, split_path, to_i64, to_u64};
use crate::error::{CatalogError, Result};
use crate::model::{
    Archive, ArchiveKey, ArchiveState, FileEntry, FileId, NewArchive, NewRun, Run, RunId, StoreId,
    VaultId, state_sql,
};
use crate::{record, tokens};

/// Bytes of `COPY` text gathered before they go to the server.
const COPY_CHUNK: usize = 1 << 20;

/// Directory ids remembered between batches (cleared when it grows past this).
const DIR_CACHE_MAX: usize = 100_000;

/// `s` in `COPY` text format (backslash, tab, newline and return escaped).
fn copy_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// `bytes` as a `bytea` in `COPY` text format: `\\x` and hex (the
/// backslash of bytea's hex form escaped for `COPY`).
fn copy_bytea(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\\\x");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

fn copy_int(out: &mut Vec<u8>, v: i64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// The id of tag `name` (compared without case), added when new.
pub(super) fn tag_id(tx: &mut Transaction<'_>, name: &str) -> Result<i64, postgres::Error> {
    tx.execute(
        "INSERT INTO tags(name) VALUES ($1) ON CONFLICT ((lower(name))) DO NOTHING",
        &[&name],
    )?;
    Ok(tx
        .query_one(
            "SELECT id FROM tags WHERE lower(name) = lower($1)",
            &[&name],
        )?
        .get(0))
}

fn tag_archive_tx(
    tx: &mut Transaction<'_>,
    archive: i64,
    tag: &str,
) -> Result<(), postgres::Error> {
    let tag = tag_id(tx, tag)?;
    tx.execute(
        "INSERT INTO archive_tags(archive_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&archive, &tag],
    )?;
    Ok(())
}

/// Rebuilds the search row of an archive from its and its run's
/// descriptions and tags, as the SQLite catalog's `archive_fts` row.
pub(super) fn refresh_archive_text(
    tx: &mut Transaction<'_>,
    archive: i64,
) -> Result<(), postgres::Error> {
    let r = tx.query_one(
        "SELECT a.description, r.description, r.id FROM archives a JOIN runs r ON r.id = a.run_id WHERE a.id = $1",
        &[&archive],
    )?;
    let (adesc, rdesc, run): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
    let mut raw = format!("{adesc}\n{rdesc}");
    for t in tx.query(
        "SELECT name FROM (SELECT t.name FROM archive_tags x JOIN tags t ON t.id = x.tag_id WHERE x.archive_id = $1
           UNION SELECT t.name FROM run_tags x JOIN tags t ON t.id = x.tag_id WHERE x.run_id = $2) n
         ORDER BY lower(name), name",
        &[&archive, &run],
    )? {
        raw.push('\n');
        raw.push_str(t.get(0));
    }
    let mut toks = String::new();
    tokens::index_text(&raw, &mut toks);
    let vector = super::search::tsvector(&toks);
    tx.execute(
        "INSERT INTO archive_text(archive_id, tokens, raw) VALUES ($1, $2::text::tsvector, $3)
         ON CONFLICT (archive_id) DO UPDATE SET tokens = excluded.tokens, raw = excluded.raw",
        &[&archive, &vector, &raw],
    )?;
    Ok(())
}

impl PgCatalog {
    pub(super) fn not_found(&self, what: &'static str, id: &impl ToString) -> CatalogError {
        CatalogError::NotFound {
            path: self.path().to_path_buf(),
            what,
            id: id.to_string(),
        }
    }

    /// The store named `name`, created with `kind` and `location` when new.
    pub(crate) fn store(
        &mut self,
        name: &str,
        kind: &str,
        location: Option<&str>,
    ) -> Result<StoreId> {
        let mut c = self.client();
        c.execute(
            "INSERT INTO stores(name, kind, location) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            &[&name, &kind, &location],
        )
        .map_err(self.err(format!("adding store {name}")))?;
        c.query_one("SELECT id FROM stores WHERE name = $1", &[&name])
            .map(|r| StoreId(r.get(0)))
            .map_err(self.err(format!("reading store {name}")))
    }

    /// The vault `name` of `store`, created when new.
    pub(crate) fn vault(&mut self, store: StoreId, name: &str) -> Result<VaultId> {
        let mut c = self.client();
        c.execute(
            "INSERT INTO vaults(store_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&store.0, &name],
        )
        .map_err(self.err(format!("adding vault {name}")))?;
        c.query_one(
            "SELECT id FROM vaults WHERE store_id = $1 AND name = $2",
            &[&store.0, &name],
        )
        .map(|r| VaultId(r.get(0)))
        .map_err(self.err(format!("reading vault {name}")))
    }

    /// Records the start of a run.
    pub(crate) fn begin_run(&mut self, run: &NewRun) -> Result<RunId> {
        let uid = run.uid.clone().unwrap_or_else(new_uid);
        let e = || self.err(format!("recording run {uid}"));
        let roots = serde_json::to_string(&run.roots).unwrap_or_else(|_| "[]".into());
        let options = serde_json::to_string(&run.options).unwrap_or_else(|_| "{}".into());
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO runs(uid, roots, description, options, started) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&uid, &roots, &run.description, &options, &run.started],
            )
            .map_err(e())?
            .get(0);
        for t in &run.tags {
            let tag = tag_id(&mut tx, t).map_err(e())?;
            tx.execute(
                "INSERT INTO run_tags(run_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&id, &tag],
            )
            .map_err(e())?;
        }
        tx.commit().map_err(e())?;
        Ok(RunId(id))
    }

    /// Records the end of a run.
    pub(crate) fn finish_run(&mut self, run: RunId, ended: i64) -> Result<()> {
        let n = self
            .client()
            .execute(
                "UPDATE runs SET ended = $2 WHERE id = $1",
                &[&run.0, &ended],
            )
            .map_err(self.err(format!("finishing run {run}")))?;
        if n == 0 {
            return Err(self.not_found("run", &run));
        }
        Ok(())
    }

    /// Adds tags to a run.
    pub(crate) fn tag_run(&mut self, run: RunId, tags: &[&str]) -> Result<()> {
        let e = || self.err(format!("tagging run {run}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        for t in tags {
            let tag = tag_id(&mut tx, t).map_err(e())?;
            tx.execute(
                "INSERT INTO run_tags(run_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&run.0, &tag],
            )
            .map_err(e())?;
        }
        let archives: Vec<i64> = tx
            .query("SELECT id FROM archives WHERE run_id = $1", &[&run.0])
            .map_err(e())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for a in archives {
            refresh_archive_text(&mut tx, a).map_err(e())?;
        }
        tx.commit().map_err(e())
    }

    /// Adds tags to an archive.
    pub(crate) fn tag_archive(&mut self, archive: ArchiveKey, tags: &[&str]) -> Result<()> {
        let e = || self.err(format!("tagging archive {archive}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        for t in tags {
            tag_archive_tx(&mut tx, archive.0, t).map_err(e())?;
        }
        refresh_archive_text(&mut tx, archive.0).map_err(e())?;
        tx.commit().map_err(e())
    }

    /// Records an archive of a run; its position in the run is the next
    /// free one (the run's row locked meanwhile, so that hosts adding
    /// archives to one run at once take turns).
    pub(crate) fn add_archive(&mut self, a: &NewArchive) -> Result<ArchiveKey> {
        let e = || self.err(format!("recording an archive of run {}", a.run));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        let id = self.add_archive_in(&mut tx, a)?;
        tx.commit().map_err(e())?;
        Ok(id)
    }

    /// [`PgCatalog::add_archive`] inside `tx`.
    pub(super) fn add_archive_in(
        &self,
        tx: &mut Transaction<'_>,
        a: &NewArchive,
    ) -> Result<ArchiveKey> {
        let e = || self.err(format!("recording an archive of run {}", a.run));
        let run = tx
            .query_opt("SELECT id FROM runs WHERE id = $1 FOR UPDATE", &[&a.run.0])
            .map_err(e())?;
        if run.is_none() {
            return Err(self.not_found("run", &a.run));
        }
        let recipients = serde_json::to_string(&a.recipients).unwrap_or_else(|_| "[]".into());
        let id: i64 = tx
            .query_one(
                "INSERT INTO archives(run_id, seq, vault_id, remote_id, size, stored_size, tree_hash, description, created, state, recipients)
                 VALUES ($1, (SELECT coalesce(max(seq) + 1, 0) FROM archives WHERE run_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 RETURNING id",
                &[
                    &a.run.0,
                    &a.vault.0,
                    &a.remote_id,
                    &to_i64(a.size),
                    &a.stored_size.map(to_i64),
                    &a.tree_hash,
                    &a.description,
                    &a.created,
                    &a.state.column().0,
                    &recipients,
                ],
            )
            .map_err(e())?
            .get(0);
        for t in a.tags.iter().map(String::as_str).chain(a.state.column().1) {
            tag_archive_tx(tx, id, t).map_err(e())?;
        }
        refresh_archive_text(tx, id).map_err(e())?;
        Ok(ArchiveKey(id))
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
            .client()
            .execute(
                "UPDATE archives SET state = 'stored', remote_id = $2, tree_hash = coalesce($3, tree_hash), stored_size = $4 WHERE id = $1",
                &[&archive.0, &remote_id, &tree_hash, &to_i64(stored_size)],
            )
            .map_err(self.err(format!("marking archive {archive} stored")))?;
        if n == 0 {
            return Err(self.not_found("archive", &archive));
        }
        Ok(())
    }

    /// Sets an archive's state; pruned and missing ones are kept as
    /// `deleted` with a tag of their name, as on SQLite.
    pub(crate) fn set_archive_state(
        &mut self,
        archive: ArchiveKey,
        state: ArchiveState,
    ) -> Result<()> {
        let (column, tag) = state.column();
        let e = || self.err(format!("setting the state of archive {archive}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        let n = tx
            .execute(
                "UPDATE archives SET state = $2 WHERE id = $1",
                &[&archive.0, &column],
            )
            .map_err(e())?;
        if n == 0 {
            return Err(self.not_found("archive", &archive));
        }
        if let Some(tag) = tag {
            tag_archive_tx(&mut tx, archive.0, tag).map_err(e())?;
            refresh_archive_text(&mut tx, archive.0).map_err(e())?;
        }
        tx.commit().map_err(e())
    }

    /// Records a batch of files of one archive, in one transaction.
    pub(crate) fn insert_files(&mut self, archive: ArchiveKey, files: &[FileEntry]) -> Result<()> {
        self.insert_many(&[(archive, files)])
    }

    /// Records files of several archives in one transaction (all or none):
    /// their directories added first, their ids taken from the sequence,
    /// their rows sent with one `COPY`, the archives' and runs' totals
    /// updated.
    pub(crate) fn insert_many(&mut self, batches: &[(ArchiveKey, &[FileEntry])]) -> Result<()> {
        self.insert_many_under(batches, None)
    }

    /// [`PgCatalog::insert_many`] in a transaction that first locks the
    /// claimed unit's row and checks `claim` still holds it.
    pub(crate) fn insert_many_claimed(
        &mut self,
        batches: &[(ArchiveKey, &[FileEntry])],
        claim: &crate::model::UnitClaim,
    ) -> Result<()> {
        self.insert_many_under(batches, Some(claim))
    }

    fn insert_many_under(
        &mut self,
        batches: &[(ArchiveKey, &[FileEntry])],
        claim: Option<&crate::model::UnitClaim>,
    ) -> Result<()> {
        // Refused whole before anything is sent.
        let mut split = Vec::with_capacity(batches.iter().map(|(_, f)| f.len()).sum());
        for (_, files) in batches {
            for f in *files {
                split.push(split_path(&f.path)?);
            }
        }
        if self.dirs.len() > DIR_CACHE_MAX {
            self.dirs.clear();
        }
        let mut dirs = std::mem::take(&mut self.dirs);
        let mut accounts = std::mem::take(&mut self.accounts);
        let res = (|| {
            let e = || self.err("inserting files");
            let mut c = self.client();
            let mut tx = c.transaction().map_err(e())?;
            if let Some(claim) = claim
                && !super::work::holds(&mut tx, claim)
                    .map_err(self.err(format!("checking {claim}")))?
            {
                return Err(CatalogError::ClaimLost {
                    claim: claim.clone(),
                });
            }
            self.insert_in(&mut tx, batches, &split, &mut dirs, &mut accounts)?;
            tx.commit().map_err(e())
        })();
        if res.is_err() {
            // Rows cached in the failed transaction were rolled back.
            dirs.clear();
            accounts.clear();
        }
        self.dirs = dirs;
        self.accounts = accounts;
        res
    }

    #[allow(clippy::too_many_lines)] // one transaction: directories, ids, the COPY, totals
    pub(super) fn insert_in(
        &self,
        tx: &mut Transaction<'_>,
        batches: &[(ArchiveKey, &[FileEntry])],
        split: &[(&str, &str)],
        dirs: &mut HashMap<String, i64>,
        accounts: &mut HashMap<(&'static str, u32), String>,
    ) -> Result<()> {
        let e = || self.err("inserting files");
        // Every archive exists; its run, for the totals.
        let mut runs = Vec::with_capacity(batches.len());
        for (archive, _) in batches {
            let run = tx
                .query_opt("SELECT run_id FROM archives WHERE id = $1", &[&archive.0])
                .map_err(e())?;
            let Some(run) = run else {
                return Err(self.not_found("archive", archive));
            };
            runs.push(run.get::<_, i64>(0));
        }
        // New directories, sorted (hosts adding the same ones lock them in
        // one order).
        let mut new: Vec<&str> = split
            .iter()
            .map(|(d, _)| *d)
            .filter(|d| !dirs.contains_key(*d))
            .collect();
        new.sort_unstable();
        new.dedup();
        if !new.is_empty() {
            tx.execute(
                "INSERT INTO dirs(path) SELECT unnest($1::text[]) ON CONFLICT (path) DO NOTHING",
                &[&new],
            )
            .map_err(e())?;
            for r in tx
                .query("SELECT id, path FROM dirs WHERE path = ANY($1)", &[&new])
                .map_err(e())?
            {
                dirs.insert(r.get(1), r.get(0));
            }
        }
        let total = split.len();
        let ids: Vec<i64> = tx
            .query(
                "SELECT nextval('files_id_seq') FROM generate_series(1, $1::bigint)",
                &[&to_i64(total as u64)],
            )
            .map_err(e())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut acct = Vec::new();
        {
            let mut copy = tx
                .copy_in(
                    "COPY files(id, archive_id, dir_id, name, size, mtime, uid, gid, extra, tokens) FROM STDIN",
                )
                .map_err(e())?;
            let mut buf = Vec::with_capacity(COPY_CHUNK + 4096);
            let mut extra = Vec::new();
            // Each directory's tokens, then each file's: its search document.
            let mut dir_tokens: HashMap<&str, String> = HashMap::new();
            let mut doc = String::new();
            let mut at = 0;
            for (archive, files) in batches {
                for f in *files {
                    let (dir, name) = split[at];
                    let dir_id = *dirs.get(dir).expect("every directory was just added");
                    copy_int(&mut buf, ids[at]);
                    buf.push(b'\t');
                    copy_int(&mut buf, archive.0);
                    buf.push(b'\t');
                    copy_int(&mut buf, dir_id);
                    buf.push(b'\t');
                    copy_text(&mut buf, name);
                    buf.push(b'\t');
                    copy_int(&mut buf, to_i64(f.size));
                    buf.push(b'\t');
                    copy_int(&mut buf, f.mtime);
                    for id in [f.uid, f.gid] {
                        buf.push(b'\t');
                        match id {
                            Some(id) => copy_int(&mut buf, i64::from(id)),
                            None => buf.extend_from_slice(b"\\N"),
                        }
                    }
                    buf.push(b'\t');
                    record::encode(f, &mut extra);
                    copy_bytea(&mut buf, &extra);
                    buf.push(b'\t');
                    let dt = dir_tokens.entry(dir).or_insert_with(|| {
                        let mut t = String::new();
                        tokens::index_text(dir, &mut t);
                        t
                    });
                    file_doc(dt, name, &mut doc);
                    copy_text(&mut buf, &super::search::tsvector(&doc));
                    buf.push(b'\n');
                    if buf.len() >= COPY_CHUNK {
                        copy.write_all(&buf).map_err(|source| CatalogError::Io {
                            action: "sending files to",
                            file: self.path().display().to_string(),
                            source,
                        })?;
                        buf.clear();
                    }
                    for (kind, num, name) in [("u", f.uid, &f.owner), ("g", f.gid, &f.group)] {
                        if let (Some(num), Some(name)) = (num, name)
                            && accounts.get(&(kind, num)) != Some(name)
                        {
                            acct.push((kind, num, name.clone()));
                            accounts.insert((kind, num), name.clone());
                        }
                    }
                    at += 1;
                }
            }
            copy.write_all(&buf).map_err(|source| CatalogError::Io {
                action: "sending files to",
                file: self.path().display().to_string(),
                source,
            })?;
            copy.finish().map_err(e())?;
        }
        let mut seen = std::collections::HashSet::new();
        let mut at = 0;
        for (_, files) in batches {
            for f in *files {
                if !f.acls.is_empty() {
                    super::jobs::insert_acls(tx, ids[at], &f.acls, &mut seen).map_err(e())?;
                }
                at += 1;
            }
        }
        for (kind, num, name) in acct {
            tx.execute(
                "INSERT INTO accounts(kind, num, name) VALUES ($1, $2, $3)
                 ON CONFLICT (kind, num) DO UPDATE SET name = excluded.name WHERE accounts.name <> excluded.name",
                &[&kind, &i64::from(num), &name],
            )
            .map_err(e())?;
        }
        for ((archive, files), run) in batches.iter().zip(runs) {
            let n = to_i64(files.len() as u64);
            let bytes = to_i64(files.iter().map(|f| f.size).fold(0u64, u64::saturating_add));
            tx.execute(
                "UPDATE archives SET files = files + $2 WHERE id = $1",
                &[&archive.0, &n],
            )
            .map_err(e())?;
            tx.execute(
                "UPDATE runs SET files = files + $2, bytes = bytes + $3 WHERE id = $1",
                &[&run, &n, &bytes],
            )
            .map_err(e())?;
        }
        Ok(())
    }

    fn read_run(
        &self,
        cond: &str,
        arg: &(dyn postgres::types::ToSql + Sync),
    ) -> Result<Option<Run>> {
        let e = || self.err("reading a run");
        let mut c = self.client();
        let sql = format!(
            "SELECT id, uid, roots, description, options, started, ended, files, bytes FROM runs WHERE {cond}"
        );
        let Some(r) = c.query_opt(&sql, &[arg]).map_err(e())? else {
            return Ok(None);
        };
        let roots: String = r.get(2);
        let options: String = r.get(4);
        let id: i64 = r.get(0);
        let tags = c
            .query(
                "SELECT t.name FROM run_tags x JOIN tags t ON t.id = x.tag_id WHERE x.run_id = $1 ORDER BY lower(t.name), t.name",
                &[&id],
            )
            .map_err(e())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(Some(Run {
            id: RunId(id),
            uid: r.get(1),
            roots: serde_json::from_str(&roots).unwrap_or_default(),
            description: r.get(3),
            tags,
            options: serde_json::from_str::<BTreeMap<String, String>>(&options).unwrap_or_default(),
            started: r.get(5),
            ended: r.get(6),
            files: to_u64(r.get(7)),
            bytes: to_u64(r.get(8)),
        }))
    }

    /// A run by number.
    pub(crate) fn run(&self, id: RunId) -> Result<Option<Run>> {
        self.read_run("id = $1", &id.0)
    }

    /// A run by uid.
    pub(crate) fn run_by_uid(&self, uid: &str) -> Result<Option<Run>> {
        self.read_run("uid = $1", &uid)
    }

    /// Every run, oldest first.
    pub(crate) fn runs(&self) -> Result<Vec<Run>> {
        let ids: Vec<i64> = self
            .client()
            .query("SELECT id FROM runs ORDER BY id", &[])
            .map_err(self.err("listing runs"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.run(RunId(id))?);
        }
        Ok(out)
    }

    fn read_archives(&self, cond: &str, arg: i64) -> Result<Vec<Archive>> {
        let e = || self.err("reading archives");
        // The SQLite expression, its `CROSS JOIN … ON` (SQLite's join
        // order hint) a plain join here.
        let sql = format!(
            concat!(
                "SELECT a.id, a.seq, s.name, v.name, a.run_id, a.vault_id, a.remote_id, a.size, a.stored_size, a.tree_hash,
                    a.description, a.created, {state}, a.recipients, a.files
             FROM archives a JOIN vaults v ON v.id = a.vault_id JOIN stores s ON s.id = v.store_id
             WHERE {cond} ORDER BY a.run_id, a.seq"
            ),
            state = state_sql!().replace("CROSS JOIN", "JOIN"),
            cond = cond,
        );
        let mut c = self.client();
        let mut out: Vec<Archive> = c
            .query(&sql, &[&arg])
            .map_err(e())?
            .iter()
            .map(|r| {
                let recipients: String = r.get(13);
                Archive {
                    key: ArchiveKey(r.get(0)),
                    seq: to_u64(r.get(1)),
                    store: r.get(2),
                    vault: r.get(3),
                    info: NewArchive {
                        run: RunId(r.get(4)),
                        vault: VaultId(r.get(5)),
                        remote_id: r.get(6),
                        size: to_u64(r.get(7)),
                        stored_size: r.get::<_, Option<i64>>(8).map(to_u64),
                        tree_hash: r.get(9),
                        description: r.get(10),
                        tags: Vec::new(),
                        created: r.get(11),
                        state: ArchiveState::parse(r.get(12)),
                        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                    },
                    files: to_u64(r.get(14)),
                }
            })
            .collect();
        for a in &mut out {
            a.info.tags = c
                .query(
                    "SELECT t.name FROM archive_tags x JOIN tags t ON t.id = x.tag_id WHERE x.archive_id = $1 ORDER BY lower(t.name), t.name",
                    &[&a.key.0],
                )
                .map_err(e())?
                .iter()
                .map(|r| r.get(0))
                .collect();
        }
        Ok(out)
    }

    /// An archive by number.
    pub(crate) fn archive(&self, key: ArchiveKey) -> Result<Option<Archive>> {
        self.read_archives("a.id = $1", key.0).map(|mut v| v.pop())
    }

    /// The archives of a run, in order.
    pub(crate) fn archives_of_run(&self, run: RunId) -> Result<Vec<Archive>> {
        self.read_archives("a.run_id = $1", run.0)
    }

    /// Deletes a run with its archives and files.
    pub(crate) fn delete_run(&mut self, run: RunId) -> Result<()> {
        let n = self
            .client()
            .execute("DELETE FROM runs WHERE id = $1", &[&run.0])
            .map_err(self.err(format!("deleting run {run}")))?;
        if n == 0 {
            return Err(self.not_found("run", &run));
        }
        Ok(())
    }

    /// uid/gid to names.
    pub(crate) fn accounts(&self) -> Result<Accounts> {
        let rows = self
            .client()
            .query("SELECT kind, num, name FROM accounts", &[])
            .map_err(self.err("reading account names"))?;
        Ok(Accounts(
            rows.iter()
                .map(|r| {
                    let num: i64 = r.get(1);
                    ((r.get(0), u32::try_from(num).unwrap_or(u32::MAX)), r.get(2))
                })
                .collect(),
        ))
    }

    /// The full record of one file.
    pub(crate) fn file(&self, id: FileId) -> Result<Option<(ArchiveKey, FileEntry)>> {
        let row = self
            .client()
            .query_opt(
                "SELECT f.archive_id, d.path, f.name, f.size, f.mtime, f.extra FROM files f JOIN dirs d ON d.id = f.dir_id WHERE f.id = $1",
                &[&id.0],
            )
            .map_err(self.err(format!("reading file {id}")))?;
        let Some(r) = row else { return Ok(None) };
        let mut f = FileEntry {
            path: join_path(r.get(1), r.get(2)),
            size: to_u64(r.get(3)),
            mtime: r.get(4),
            ..FileEntry::default()
        };
        if record::decode(r.get(5), &mut f).is_none() {
            return Err(CatalogError::NotACatalog {
                path: self.path().to_path_buf(),
                reason: format!("file {id} has a malformed record"),
            });
        }
        self.accounts()?.fill(&mut f);
        f.acls = super::jobs::load_acls(&mut *self.client(), id.0)
            .map_err(self.err(format!("reading the ACLs of file {id}")))?;
        Ok(Some((ArchiveKey(r.get(0)), f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut out = Vec::new();
        copy_text(&mut out, "a\tb\nc\\d\re");
        assert_eq!(out, b"a\\tb\\nc\\\\d\\re");
        let mut out = Vec::new();
        copy_bytea(&mut out, &[0, 0xab, 0x10]);
        assert_eq!(out, b"\\\\x00ab10");
    }
}
