//! Export and import of a run on PostgreSQL: the same file as the SQLite
//! catalog's (export.rs writes and reads the records), so a run exported
//! from either backend imports into either.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use super::PgCatalog;
use super::records::tag_id;
use crate::catalog::{join_path, split_path, to_u64};
use crate::error::{CatalogError, Result};
use crate::export::{
    ArchiveRecord, BATCH, ExportReader, ExportSummary, FileRecord, ImportOutcome, Item, LEVEL,
    Record, RunRecord, io, write_record,
};
use crate::model::{ArchiveKey, FileEntry, RunId, StoreId, VaultId};
use crate::record;

/// File rows read at a time while exporting.
const EXPORT_CHUNK: i64 = 10_000;

impl PgCatalog {
    /// Writes run `run` with its archives, files and tags to `out` (named
    /// `name` in errors), as of one snapshot (a read-only `REPEATABLE
    /// READ` transaction around every read).
    pub(crate) fn export_run(
        &self,
        run: RunId,
        out: impl Write,
        name: &str,
    ) -> Result<ExportSummary> {
        self.client()
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(self.err("starting an export"))?;
        let res = self.export_in_snapshot(run, out, name);
        let end = self
            .client()
            .batch_execute(if res.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .map_err(self.err("ending an export"));
        let summary = res?;
        end?;
        Ok(summary)
    }

    #[allow(clippy::too_many_lines)] // one pass writing the records in order
    fn export_in_snapshot(&self, run: RunId, out: impl Write, name: &str) -> Result<ExportSummary> {
        let e = || self.err("reading files for export");
        let r = self.run(run)?.ok_or_else(|| self.not_found("run", &run))?;
        let archives = self.archives_of_run(run)?;
        let stores: HashMap<String, (String, Option<String>)> = self
            .client()
            .query("SELECT name, kind, location FROM stores", &[])
            .map_err(self.err("reading stores"))?
            .iter()
            .map(|x| (x.get(0), (x.get(1), x.get(2))))
            .collect();
        let accounts = self.accounts()?;
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
                format: crate::EXPORT_FORMAT.into(),
                version: crate::EXPORT_VERSION,
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
        let mut c = self.client();
        // Files with ACLs, read with each of them (most files have none).
        let with_acls: HashSet<i64> = c
            .query(
                "SELECT DISTINCT file_id FROM file_acls WHERE file_id IN
                   (SELECT f.id FROM files f JOIN archives a ON a.id = f.archive_id WHERE a.run_id = $1)",
                &[&run.0],
            )
            .map_err(self.err("reading ACLs for export"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let st = c
            .prepare(
                "SELECT f.id, d.path, f.name, f.size, f.mtime, f.extra FROM files f JOIN dirs d ON d.id = f.dir_id
                 WHERE f.archive_id = $1 AND f.id > $2 ORDER BY f.id LIMIT $3",
            )
            .map_err(e())?;
        for a in archives {
            let (key, seq) = (a.key, a.seq);
            write_record(
                &mut w,
                &Record::Archive(ArchiveRecord::of(a, &stores)),
                name,
            )?;
            summary.archives += 1;
            let mut after = i64::MIN;
            loop {
                let rows = c
                    .query(&st, &[&key.0, &after, &EXPORT_CHUNK])
                    .map_err(e())?;
                for row in &rows {
                    let id: i64 = row.get(0);
                    after = id;
                    let mut file = FileEntry {
                        path: join_path(row.get(1), row.get(2)),
                        size: to_u64(row.get(3)),
                        mtime: row.get(4),
                        ..FileEntry::default()
                    };
                    if record::decode(row.get(5), &mut file).is_none() {
                        return Err(CatalogError::NotACatalog {
                            path: self.path().to_path_buf(),
                            reason: format!("file {id} has a malformed record"),
                        });
                    }
                    accounts.fill(&mut file);
                    if with_acls.contains(&id) {
                        file.acls = super::jobs::load_acls(&mut *c, id)
                            .map_err(self.err("reading ACLs for export"))?;
                    }
                    write_record(
                        &mut w,
                        &Record::File(FileRecord { archive: seq, file }),
                        name,
                    )?;
                    summary.files += 1;
                }
                if (rows.len() as u64) < to_u64(EXPORT_CHUNK) {
                    break;
                }
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
        Ok(summary)
    }

    /// Reads an export from `input` (named `name` in errors) and records
    /// its run, in one transaction; a run whose uid is already here is left
    /// alone.
    pub(crate) fn import_run(&mut self, input: impl Read, name: &str) -> Result<ImportOutcome> {
        let (mut reader, run) = ExportReader::open(input, name)?;
        if let Some(existing) = self.run_by_uid(&run.uid)? {
            tracing::info!(run = %run.uid, "run already in the catalog: import skipped");
            return Ok(ImportOutcome {
                run: existing.id,
                imported: false,
                summary: ExportSummary {
                    archives: self.archives_of_run(existing.id)?.len() as u64,
                    files: existing.files,
                },
            });
        }
        let mut dirs = std::mem::take(&mut self.dirs);
        let mut accounts = std::mem::take(&mut self.accounts);
        let res = self.import_tx(&mut reader, &run, &mut dirs, &mut accounts);
        if res.is_err() {
            dirs.clear();
            accounts.clear();
        }
        self.dirs = dirs;
        self.accounts = accounts;
        let run = res?;
        Ok(ImportOutcome {
            run,
            imported: true,
            summary: reader.summary,
        })
    }

    fn import_tx<R: Read>(
        &self,
        reader: &mut ExportReader<R>,
        run: &RunRecord,
        dirs: &mut HashMap<String, i64>,
        accounts: &mut HashMap<(&'static str, u32), String>,
    ) -> Result<RunId> {
        let e = |what: &str| self.err(format!("importing run {}: {what}", run.uid));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e("starting"))?;
        let roots = serde_json::to_string(&run.roots).unwrap_or_else(|_| "[]".into());
        let options = serde_json::to_string(&run.options).unwrap_or_else(|_| "{}".into());
        let run_id: i64 = tx
            .query_one(
                "INSERT INTO runs(uid, roots, description, options, started, ended) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&run.uid, &roots, &run.description, &options, &run.started, &run.ended],
            )
            .map_err(e("its run"))?
            .get(0);
        for t in &run.tags {
            let tag = tag_id(&mut tx, t).map_err(e("its tags"))?;
            tx.execute(
                "INSERT INTO run_tags(run_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&run_id, &tag],
            )
            .map_err(e("its tags"))?;
        }
        let run_id = RunId(run_id);
        let mut archives: HashMap<u64, ArchiveKey> = HashMap::new();
        let mut batch: Vec<FileEntry> = Vec::new();
        let mut batch_archive: Option<ArchiveKey> = None;
        let mut flush = |tx: &mut postgres::Transaction<'_>,
                         batch: &mut Vec<FileEntry>,
                         a: Option<ArchiveKey>|
         -> Result<()> {
            if let (Some(a), false) = (a, batch.is_empty()) {
                let split = batch
                    .iter()
                    .map(|f| split_path(&f.path))
                    .collect::<Result<Vec<_>>>()?;
                self.insert_in(tx, &[(a, batch)], &split, dirs, accounts)?;
            }
            batch.clear();
            Ok(())
        };
        while let Some(item) = reader.next_item()? {
            match item {
                Item::Archive(a) => {
                    tx.execute(
                        "INSERT INTO stores(name, kind, location) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                        &[&a.store, &a.store_kind, &a.store_location],
                    )
                    .map_err(e("a store"))?;
                    let store = StoreId(
                        tx.query_one("SELECT id FROM stores WHERE name = $1", &[&a.store])
                            .map_err(e("a store"))?
                            .get(0),
                    );
                    tx.execute(
                        "INSERT INTO vaults(store_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&store.0, &a.vault],
                    )
                    .map_err(e("a vault"))?;
                    let vault = VaultId(
                        tx.query_one(
                            "SELECT id FROM vaults WHERE store_id = $1 AND name = $2",
                            &[&store.0, &a.vault],
                        )
                        .map_err(e("a vault"))?
                        .get(0),
                    );
                    let seq = a.seq;
                    let key = self.add_archive_in(&mut tx, &a.into_new(run_id, vault))?;
                    archives.insert(seq, key);
                }
                Item::File(f) => {
                    let key = archives[&f.archive];
                    if batch_archive != Some(key) || batch.len() >= BATCH {
                        flush(&mut tx, &mut batch, batch_archive)?;
                        batch_archive = Some(key);
                    }
                    batch.push(f.file);
                }
            }
        }
        flush(&mut tx, &mut batch, batch_archive)?;
        tx.commit().map_err(e("committing"))?;
        Ok(run_id)
    }
}
