//! Export of one run (run, archives, files, tags) to a compact file, and
//! idempotent import: what lets a tool keep the catalog itself in the vault
//! and rebuild it from the vault alone.
//!
//! # Format, version 1
//!
//! A zstd stream of JSON lines ([`EXPORT_FORMAT`]):
//!
//! ```text
//! {"header":{"format":"permafrost-catalog-run","version":1}}
//! {"run":{"uid":"…","roots":[…],"description":"…","tags":[…],"options":{…},"started":…,"ended":…}}
//! {"archive":{"seq":0,"store":"…","store_kind":"…","vault":"…","remote_id":…,…}}
//! {"file":{"archive":0,"path":"/…","size":…,"mtime":…,…}}      (many)
//! {"end":{"archives":N,"files":M}}
//! ```
//!
//! Every archive comes before its files. The `end` record's counts must
//! match, so a truncated export is refused rather than half imported.
//! Readers refuse a version newer than theirs; fields a reader does not know
//! are ignored, so a version may add fields without a bump.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};

use serde::{Deserialize, Serialize};

use crate::catalog::{
    FILE_ENTRY_SELECT, SqliteCatalog, file_entry, insert_archive, insert_files_tx, insert_run,
};
use crate::error::{CatalogError, Result};
use crate::model::{
    Archive, ArchiveKey, ArchiveState, FileEntry, NewArchive, NewRun, RunId, StoreId, VaultId,
};

/// The `format` named in the header record.
pub const EXPORT_FORMAT: &str = "permafrost-catalog-run";
/// The newest export version written and read.
pub const EXPORT_VERSION: u32 = 1;

pub(crate) const BATCH: usize = 20_000;

/// zstd level of exports. An export is mostly SHA-256 digests, which no
/// level compresses: at 200 000 files level 1 wrote 11.6 MB in 0.17 s,
/// level 9 the same 11.6 MB in 1.0 s, at the end of every archive run.
pub(crate) const LEVEL: i32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Record {
    Header { format: String, version: u32 },
    Run(RunRecord),
    Archive(ArchiveRecord),
    File(FileRecord),
    End { archives: u64, files: u64 },
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub(crate) uid: String,
    pub(crate) roots: Vec<String>,
    pub(crate) description: String,
    pub(crate) tags: Vec<String>,
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) started: i64,
    pub(crate) ended: Option<i64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ArchiveRecord {
    pub(crate) seq: u64,
    pub(crate) store: String,
    pub(crate) store_kind: String,
    pub(crate) store_location: Option<String>,
    pub(crate) vault: String,
    pub(crate) remote_id: Option<String>,
    pub(crate) size: u64,
    pub(crate) stored_size: Option<u64>,
    pub(crate) tree_hash: Option<String>,
    pub(crate) description: String,
    pub(crate) tags: Vec<String>,
    pub(crate) created: i64,
    pub(crate) state: ArchiveState,
    pub(crate) recipients: Vec<String>,
}

impl ArchiveRecord {
    /// The record of archive `a`, its store's kind and location looked up
    /// in `stores` (name to kind and location; both backends read it the
    /// same way).
    pub(crate) fn of(a: Archive, stores: &HashMap<String, (String, Option<String>)>) -> Self {
        let (store_kind, store_location) = stores.get(&a.store).cloned().unwrap_or_default();
        ArchiveRecord {
            seq: a.seq,
            store: a.store,
            store_kind,
            store_location,
            vault: a.vault,
            remote_id: a.info.remote_id,
            size: a.info.size,
            stored_size: a.info.stored_size,
            tree_hash: a.info.tree_hash,
            description: a.info.description,
            tags: a.info.tags,
            created: a.info.created,
            state: a.info.state,
            recipients: a.info.recipients,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub(crate) archive: u64,
    #[serde(flatten)]
    pub(crate) file: FileEntry,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Archives written.
    pub archives: u64,
    /// Files written.
    pub files: u64,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOutcome {
    /// The run in this catalog.
    pub run: RunId,
    /// False when the run (same uid) was already there: nothing changed.
    pub imported: bool,
    /// Archives and files in the export.
    pub summary: ExportSummary,
}

pub(crate) fn io(action: &'static str, file: &str) -> impl FnOnce(std::io::Error) -> CatalogError {
    let file = file.to_owned();
    move |source| CatalogError::Io {
        action,
        file,
        source,
    }
}

pub(crate) fn write_record(w: &mut impl Write, rec: &Record, file: &str) -> Result<()> {
    serde_json::to_writer(&mut *w, rec).map_err(|e| CatalogError::Io {
        action: "writing export",
        file: file.to_owned(),
        source: e.into(),
    })?;
    w.write_all(b"\n").map_err(io("writing export", file))
}

impl SqliteCatalog {
    /// Writes run `run` with its archives, files and tags to `out` (named
    /// `name` in errors), as of one consistent snapshot.
    #[allow(clippy::too_many_lines)] // one pass writing the records in order
    pub(crate) fn export_run(
        &self,
        run: RunId,
        out: impl Write,
        name: &str,
    ) -> Result<ExportSummary> {
        // A read transaction: one snapshot even while a writer works.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err("starting an export"))?;
        let r = self.run(run)?.ok_or_else(|| self.not_found("run", &run))?;
        let archives = self.archives_of_run(run)?;
        let stores = store_kinds(&tx).map_err(self.err("reading stores"))?;
        // Buffered: serde_json writes a record in many small pieces, and
        // each write into the encoder is a call into zstd.
        let mut w = std::io::BufWriter::with_capacity(
            1 << 17,
            zstd::Encoder::new(out, LEVEL).map_err(io("writing export", name))?,
        );
        let mut summary = ExportSummary {
            archives: 0,
            files: 0,
        };
        write_record(
            &mut w,
            &Record::Header {
                format: EXPORT_FORMAT.into(),
                version: EXPORT_VERSION,
            },
            name,
        )?;
        write_record(
            &mut w,
            &Record::Run(RunRecord {
                uid: r.uid,
                roots: r.roots,
                description: r.description,
                tags: r.tags,
                options: r.options,
                started: r.started,
                ended: r.ended,
            }),
            name,
        )?;
        let sql = format!(
            "{} WHERE f.archive_id = ?1 ORDER BY f.id",
            FILE_ENTRY_SELECT.replacen(" FROM", ", f.id FROM", 1)
        );
        // Files with ACLs (schema 5), read with each of them.
        let with_acls =
            crate::acl::files_of_run(&tx, run.0).map_err(self.err("reading ACLs for export"))?;
        let mut files = tx
            .prepare(&sql)
            .map_err(self.err("reading files for export"))?;
        let accounts =
            crate::catalog::Accounts::load(&tx).map_err(self.err("reading account names"))?;
        for a in archives {
            let (key, seq) = (a.key, a.seq);
            write_record(
                &mut w,
                &Record::Archive(ArchiveRecord::of(a, &stores)),
                name,
            )?;
            summary.archives += 1;
            let mut rows = files
                .query([key.0])
                .map_err(self.err("reading files for export"))?;
            while let Some(row) = rows.next().map_err(self.err("reading files for export"))? {
                let mut file = file_entry(row).map_err(self.err("reading files for export"))?;
                accounts.fill(&mut file);
                let id: i64 = row.get(6).map_err(self.err("reading files for export"))?;
                if with_acls.contains(&id) {
                    file.acls =
                        crate::acl::load(&tx, id).map_err(self.err("reading ACLs for export"))?;
                }
                write_record(
                    &mut w,
                    &Record::File(FileRecord { archive: seq, file }),
                    name,
                )?;
                summary.files += 1;
            }
        }
        write_record(
            &mut w,
            &Record::End {
                archives: summary.archives,
                files: summary.files,
            },
            name,
        )?;
        w.into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(zstd::Encoder::finish)
            .and_then(|mut o| o.flush())
            .map_err(io("writing export", name))?;
        drop(files);
        tx.finish().map_err(self.err("ending an export"))?;
        Ok(summary)
    }

    /// Reads an export made by [`Catalog::export_run`] from `input` (named
    /// `name` in errors) and records its run, in one transaction. A run
    /// whose uid is already here is left alone ([`ImportOutcome::imported`]
    /// false), so importing twice changes nothing.
    #[allow(clippy::too_many_lines)] // one pass over the records, read in order
    pub(crate) fn import_run(&mut self, input: impl Read, name: &str) -> Result<ImportOutcome> {
        let (mut reader, run) = ExportReader::open(input, name)?;
        if let Some(existing) = self.run_by_uid(&run.uid)? {
            tracing::info!(run = %run.uid, "run already in the catalog: import skipped");
            return Ok(ImportOutcome {
                run: existing.id,
                imported: false,
                summary: ExportSummary {
                    archives: existing_count(self, existing.id)?,
                    files: existing.files,
                },
            });
        }
        let path = self.path.clone();
        self.settle_index();
        let mut dirs = crate::catalog::DirCache::default();
        let mut accounts = crate::catalog::AccountCache::default();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| CatalogError::sqlite(&path, "starting an import", e))?;
        let mut next_id = crate::index::next_file_id(&tx)
            .map_err(|e| CatalogError::sqlite(&path, "reading the search index", e))?;
        let mut docs = crate::index::Docs::Inline(&path);
        let new_run = NewRun {
            uid: Some(run.uid.clone()),
            roots: run.roots,
            description: run.description,
            tags: run.tags,
            options: run.options,
            started: run.started,
        };
        let run_id = insert_run(&tx, &path, &new_run, run.ended.map(|e| (e, 0, 0)))?;
        if run.ended.is_none() {
            tx.execute("UPDATE runs SET ended = NULL WHERE id = ?1", [run_id.0])
                .map_err(|e| CatalogError::sqlite(&path, "importing a run", e))?;
        }
        let mut archives: HashMap<u64, ArchiveKey> = HashMap::new();
        let mut batch: Vec<FileEntry> = Vec::new();
        let mut batch_archive: Option<ArchiveKey> = None;
        let mut flush = |tx: &rusqlite::Transaction<'_>,
                         batch: &mut Vec<FileEntry>,
                         a: Option<ArchiveKey>|
         -> Result<()> {
            if let (Some(a), false) = (a, batch.is_empty()) {
                insert_files_tx(
                    tx,
                    &path,
                    a,
                    batch,
                    &mut dirs,
                    &mut accounts,
                    &mut next_id,
                    &mut docs,
                )?;
            }
            batch.clear();
            Ok(())
        };
        while let Some(item) = reader.next_item()? {
            match item {
                Item::Archive(a) => {
                    let store = store_id(&tx, &a.store, &a.store_kind, a.store_location.as_deref())
                        .map_err(|e| CatalogError::sqlite(&self.path, "importing a store", e))?;
                    let vault = vault_id(&tx, store, &a.vault)
                        .map_err(|e| CatalogError::sqlite(&self.path, "importing a vault", e))?;
                    let seq = a.seq;
                    let key = insert_archive(&tx, &self.path, &a.into_new(run_id, vault), None)?;
                    archives.insert(seq, key);
                }
                Item::File(f) => {
                    let key = archives[&f.archive];
                    if batch_archive != Some(key) || batch.len() >= BATCH {
                        flush(&tx, &mut batch, batch_archive)?;
                        batch_archive = Some(key);
                    }
                    batch.push(f.file);
                }
            }
        }
        flush(&tx, &mut batch, batch_archive)?;
        docs.finish(&tx, next_id - 1)?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&self.path, "committing an import", e))?;
        Ok(ImportOutcome {
            run: run_id,
            imported: true,
            summary: reader.summary,
        })
    }
}

/// Store name -> (kind, location).
fn store_kinds(
    tx: &rusqlite::Transaction<'_>,
) -> rusqlite::Result<HashMap<String, (String, Option<String>)>> {
    let mut st = tx.prepare("SELECT name, kind, location FROM stores")?;
    st.query_map([], |x| Ok((x.get(0)?, (x.get(1)?, x.get(2)?))))?
        .collect()
}

fn existing_count(cat: &SqliteCatalog, run: RunId) -> Result<u64> {
    Ok(cat.archives_of_run(run)?.len() as u64)
}

fn store_id(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    kind: &str,
    location: Option<&str>,
) -> rusqlite::Result<StoreId> {
    tx.execute(
        "INSERT INTO stores(name, kind, location) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING",
        rusqlite::params![name, kind, location],
    )?;
    tx.query_row("SELECT id FROM stores WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .map(StoreId)
}

fn vault_id(
    tx: &rusqlite::Transaction<'_>,
    store: StoreId,
    name: &str,
) -> rusqlite::Result<VaultId> {
    tx.execute(
        "INSERT INTO vaults(store_id, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        rusqlite::params![store.0, name],
    )?;
    tx.query_row(
        "SELECT id FROM vaults WHERE store_id = ?1 AND name = ?2",
        rusqlite::params![store.0, name],
        |r| r.get(0),
    )
    .map(VaultId)
}

impl ArchiveRecord {
    /// The archive to record, in run `run` and vault `vault`.
    pub(crate) fn into_new(self, run: RunId, vault: VaultId) -> NewArchive {
        NewArchive {
            run,
            vault,
            remote_id: self.remote_id,
            size: self.size,
            stored_size: self.stored_size,
            tree_hash: self.tree_hash,
            description: self.description,
            tags: self.tags,
            created: self.created,
            state: self.state,
            recipients: self.recipients,
        }
    }
}

/// An archive or a file of an export, as [`ExportReader::next_item`] reads it.
pub(crate) enum Item {
    Archive(ArchiveRecord),
    File(FileRecord),
}

/// Reads an export for either backend's import, refusing what is not one:
/// a foreign or newer header, a missing run record, an archive twice, a
/// file before its archive, a second header, a missing or wrong end.
pub(crate) struct ExportReader<R: Read> {
    lines: BufReader<zstd::Decoder<'static, BufReader<R>>>,
    line: String,
    n: u64,
    name: String,
    seqs: HashSet<u64>,
    /// Archives and files read so far.
    pub(crate) summary: ExportSummary,
}

impl<R: Read> ExportReader<R> {
    /// Reads the header and the run record.
    pub(crate) fn open(input: R, name: &str) -> Result<(Self, RunRecord)> {
        let dec = zstd::Decoder::new(input).map_err(io("reading export", name))?;
        let mut r = ExportReader {
            lines: BufReader::new(dec),
            line: String::new(),
            n: 0,
            name: name.to_owned(),
            seqs: HashSet::new(),
            summary: ExportSummary {
                archives: 0,
                files: 0,
            },
        };
        match r.record()? {
            Some(Record::Header { format, version }) if format == EXPORT_FORMAT => {
                if version > EXPORT_VERSION {
                    return Err(r.bad(
                        0,
                        format!(
                            "version {version} is newer than {EXPORT_VERSION}, the newest this reader knows"
                        ),
                    ));
                }
            }
            _ => {
                return Err(r.bad(
                    0,
                    format!("expected the header of a {EXPORT_FORMAT} export"),
                ));
            }
        }
        let Some(Record::Run(run)) = r.record()? else {
            return Err(r.bad(r.n, "expected the run record".into()));
        };
        Ok((r, run))
    }

    fn bad(&self, record: u64, reason: String) -> CatalogError {
        CatalogError::BadExport {
            file: self.name.clone(),
            record,
            reason,
        }
    }

    fn record(&mut self) -> Result<Option<Record>> {
        self.line.clear();
        let read = self.lines.read_line(&mut self.line).map_err(|e| {
            self.bad(
                self.n,
                format!("cannot read: {e} (truncated or not an export)"),
            )
        })?;
        if read == 0 {
            return Ok(None);
        }
        let rec = serde_json::from_str(&self.line)
            .map_err(|e| self.bad(self.n, format!("malformed record: {e}")))?;
        self.n += 1;
        Ok(Some(rec))
    }

    /// The next archive or file; `None` after the end record, whose
    /// counts match what was read.
    pub(crate) fn next_item(&mut self) -> Result<Option<Item>> {
        let n = self.n;
        match self.record()? {
            None => Err(self.bad(
                n,
                "the export ends without its end record: truncated".into(),
            )),
            Some(Record::Archive(a)) => {
                if !self.seqs.insert(a.seq) {
                    return Err(self.bad(self.n, format!("archive {} appears twice", a.seq)));
                }
                self.summary.archives += 1;
                Ok(Some(Item::Archive(a)))
            }
            Some(Record::File(f)) => {
                if !self.seqs.contains(&f.archive) {
                    return Err(self.bad(
                        self.n,
                        format!(
                            "file {} names archive {} before it is defined",
                            f.file.path, f.archive
                        ),
                    ));
                }
                self.summary.files += 1;
                Ok(Some(Item::File(f)))
            }
            Some(Record::End {
                archives: na,
                files: nf,
            }) => {
                let s = self.summary;
                if (na, nf) != (s.archives, s.files) {
                    return Err(self.bad(
                        self.n,
                        format!(
                            "the end record counts {na} archives and {nf} files, but the export holds {} and {}",
                            s.archives, s.files
                        ),
                    ));
                }
                Ok(None)
            }
            Some(Record::Header { .. } | Record::Run(_)) => {
                Err(self.bad(self.n, "a second header or run record".into()))
            }
        }
    }
}
