//! Backup sets (schema version 6): a named set, its cycles and levels, the
//! set's view of its tree, and tombstones of deleted paths. The archives
//! and files of each level are an ordinary run's (its `run_uid`).

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};

use crate::catalog::SqliteCatalog;
use crate::error::{CatalogError, Result};

/// A backup set to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackupSet {
    /// Its unique name.
    pub name: String,
    /// Where its runs store: the vault as given to `init`.
    pub vault: String,
    /// The include/exclude spec, as JSON.
    pub spec: String,
    /// The highest incremental level of a cycle.
    pub max_level: u32,
    /// The size cap of the set's stored bytes.
    pub cap: Option<u64>,
    /// Cycles prune always keeps.
    pub min_keep_cycles: u32,
    /// age recipients.
    pub encrypt_to: Vec<String>,
    /// When it was created (Unix seconds).
    pub created: i64,
}

/// A recorded backup set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSet {
    /// Its row id.
    pub id: i64,
    /// The set as created.
    pub set: NewBackupSet,
}

/// One level (one backup run) of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupLevel {
    /// Its row id.
    pub id: i64,
    /// The cycle's number (1 for the set's first).
    pub cycle: u32,
    /// When the cycle was closed (its last level written), if it was.
    pub cycle_closed: Option<i64>,
    /// When the cycle was pruned, if it was.
    pub cycle_pruned: Option<i64>,
    /// 0 for the FULL, then 1, 2, ...
    pub level: u32,
    /// The archive-flow run that stored it (none when nothing changed).
    pub run_uid: Option<String>,
    /// Start (Unix seconds).
    pub started: i64,
    /// End; `None` while running or when killed.
    pub ended: Option<i64>,
    /// Regular files stored.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes stored (compressed).
    pub stored_bytes: u64,
    /// Paths found deleted (tombstones).
    pub deleted: u64,
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
impl SqliteCatalog {
    /// Creates backup set `set`; an error when the name is taken.
    pub(crate) fn create_backup_set(&mut self, set: &NewBackupSet) -> Result<i64> {
        let path = self.path.clone();
        let enc = set.encrypt_to.join("\n");
        self.conn
            .execute(
                "INSERT INTO backup_sets (name, vault, spec, max_level, cap, min_keep_cycles, encrypt_to, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    set.name,
                    set.vault,
                    set.spec,
                    set.max_level,
                    set.cap.map(|c| c as i64),
                    set.min_keep_cycles,
                    enc,
                    set.created
                ],
            )
            .map_err(|e| CatalogError::sqlite(&path, format!("creating backup set {}", set.name), e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Backup set `name`, if there is one.
    pub(crate) fn backup_set(&self, name: &str) -> Result<Option<BackupSet>> {
        self.conn
            .query_row(
                "SELECT id, name, vault, spec, max_level, cap, min_keep_cycles, encrypt_to, created
                 FROM backup_sets WHERE name = ?1",
                [name],
                |r| {
                    let enc: String = r.get(7)?;
                    Ok(BackupSet {
                        id: r.get(0)?,
                        set: NewBackupSet {
                            name: r.get(1)?,
                            vault: r.get(2)?,
                            spec: r.get(3)?,
                            max_level: r.get(4)?,
                            cap: r.get::<_, Option<i64>>(5)?.map(|c| c as u64),
                            min_keep_cycles: r.get(6)?,
                            encrypt_to: enc.lines().map(str::to_owned).collect(),
                            created: r.get(8)?,
                        },
                    })
                },
            )
            .optional()
            .map_err(|e| CatalogError::sqlite(&self.path, format!("reading backup set {name}"), e))
    }

    /// The levels of set `set_id`, oldest first.
    pub(crate) fn backup_levels(&self, set_id: i64) -> Result<Vec<BackupLevel>> {
        let run = || -> rusqlite::Result<Vec<BackupLevel>> {
            let mut st = self.conn.prepare(
                "SELECT l.id, c.number, c.closed, c.pruned, l.level, l.run_uid, l.started, l.ended,
                        l.files, l.bytes, l.stored_bytes, l.deleted
                 FROM backup_levels l JOIN backup_cycles c ON c.id = l.cycle_id
                 WHERE c.set_id = ?1 ORDER BY c.number, l.level",
            )?;
            st.query_map([set_id], |r| {
                Ok(BackupLevel {
                    id: r.get(0)?,
                    cycle: r.get(1)?,
                    cycle_closed: r.get(2)?,
                    cycle_pruned: r.get(3)?,
                    level: r.get(4)?,
                    run_uid: r.get(5)?,
                    started: r.get(6)?,
                    ended: r.get(7)?,
                    files: r.get::<_, i64>(8)? as u64,
                    bytes: r.get::<_, i64>(9)? as u64,
                    stored_bytes: r.get::<_, i64>(10)? as u64,
                    deleted: r.get::<_, i64>(11)? as u64,
                })
            })?
            .collect()
        };
        run().map_err(|e| CatalogError::sqlite(&self.path, "reading backup levels", e))
    }

    /// Begins level `level` of cycle `cycle` of set `set_id` (creating the
    /// cycle when new); a level already begun (a killed run) is reused.
    pub(crate) fn begin_backup_level(
        &mut self,
        set_id: i64,
        cycle: u32,
        level: u32,
        started: i64,
    ) -> Result<i64> {
        let path = self.path.clone();
        let tx = self.write_tx("beginning a backup level")?;
        let r = (|| -> rusqlite::Result<i64> {
            tx.execute(
                "INSERT OR IGNORE INTO backup_cycles (set_id, number, started) VALUES (?1, ?2, ?3)",
                params![set_id, cycle, started],
            )?;
            let cid: i64 = tx.query_row(
                "SELECT id FROM backup_cycles WHERE set_id = ?1 AND number = ?2",
                params![set_id, cycle],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO backup_levels (cycle_id, level, started) VALUES (?1, ?2, ?3)",
                params![cid, level, started],
            )?;
            tx.query_row(
                "SELECT id FROM backup_levels WHERE cycle_id = ?1 AND level = ?2",
                params![cid, level],
                |r| r.get(0),
            )
        })()
        .map_err(|e| CatalogError::sqlite(&path, "beginning a backup level", e))?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing a backup level", e))?;
        Ok(r)
    }

    /// Records the set's tree as seen by level `level_id`: paths new since
    /// the set last saw them are recorded, paths the set held that are not
    /// in `present` get a tombstone at this level. Returns the tombstoned
    /// paths.
    pub(crate) fn record_backup_tree(
        &mut self,
        set_id: i64,
        level_id: i64,
        present: &HashSet<String>,
    ) -> Result<Vec<String>> {
        let path = self.path.clone();
        let tx = self.write_tx("recording a backup tree")?;
        let gone = (|| -> rusqlite::Result<Vec<String>> {
            let live: Vec<String> = tx
                .prepare("SELECT path FROM backup_paths WHERE set_id = ?1 AND gone_level IS NULL")?
                .query_map([set_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let live_set: HashSet<&str> = live.iter().map(String::as_str).collect();
            let mut gone = Vec::new();
            {
                let mut mark = tx.prepare(
                    "UPDATE backup_paths SET gone_level = ?3 WHERE set_id = ?1 AND path = ?2",
                )?;
                let mut tomb = tx.prepare(
                    "INSERT OR IGNORE INTO backup_tombstones (level_id, path) VALUES (?1, ?2)",
                )?;
                for p in &live {
                    if !present.contains(p) {
                        mark.execute(params![set_id, p, level_id])?;
                        tomb.execute(params![level_id, p])?;
                        gone.push(p.clone());
                    }
                }
                let mut add = tx.prepare(
                    "INSERT INTO backup_paths (set_id, path, seen_level) VALUES (?1, ?2, ?3)
                     ON CONFLICT (set_id, path) DO UPDATE SET seen_level = ?3, gone_level = NULL",
                )?;
                let mut appeared = tx.prepare(
                    "INSERT OR IGNORE INTO backup_appeared (level_id, path) VALUES (?1, ?2)",
                )?;
                for p in present {
                    if !live_set.contains(p.as_str()) {
                        add.execute(params![set_id, p, level_id])?;
                        appeared.execute(params![level_id, p])?;
                    }
                }
            }
            tx.execute(
                "UPDATE backup_levels SET deleted = ?2 WHERE id = ?1",
                params![level_id, gone.len() as i64],
            )?;
            Ok(gone)
        })()
        .map_err(|e| CatalogError::sqlite(&path, "recording a backup tree", e))?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing a backup tree", e))?;
        Ok(gone)
    }

    /// The set's tree as recorded by level `level_id` (its paths, sorted):
    /// each path whose latest event at or before that level is an
    /// appearance rather than a tombstone.
    pub(crate) fn backup_tree_at(&self, set_id: i64, level_id: i64) -> Result<Vec<String>> {
        let run = || -> rusqlite::Result<Vec<String>> {
            self.conn
                .prepare(
                    "WITH lv AS (SELECT l.id FROM backup_levels l JOIN backup_cycles c ON c.id = l.cycle_id
                                 WHERE c.set_id = ?1 AND l.id <= ?2),
                          a AS (SELECT path, MAX(level_id) AS m FROM backup_appeared
                                WHERE level_id IN (SELECT id FROM lv) GROUP BY path),
                          t AS (SELECT path, MAX(level_id) AS m FROM backup_tombstones
                                WHERE level_id IN (SELECT id FROM lv) GROUP BY path)
                     SELECT a.path FROM a LEFT JOIN t ON t.path = a.path
                     WHERE t.m IS NULL OR a.m > t.m ORDER BY a.path",
                )?
                .query_map(params![set_id, level_id], |r| r.get(0))?
                .collect()
        };
        run().map_err(|e| CatalogError::sqlite(&self.path, "reading a backup tree", e))
    }

    /// Marks cycle `number` of set `set_id` pruned at `when` (its rows
    /// stay: the tree history and the archives' files, marked deleted).
    pub(crate) fn mark_backup_cycle_pruned(
        &mut self,
        set_id: i64,
        number: u32,
        when: i64,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE backup_cycles SET pruned = ?3 WHERE set_id = ?1 AND number = ?2",
                params![set_id, number, when],
            )
            .map_err(|e| CatalogError::sqlite(&self.path, "marking a backup cycle pruned", e))?;
        Ok(())
    }

    /// The tombstones of level `level_id`.
    pub(crate) fn backup_tombstones(&self, level_id: i64) -> Result<Vec<String>> {
        let run = || -> rusqlite::Result<Vec<String>> {
            self.conn
                .prepare("SELECT path FROM backup_tombstones WHERE level_id = ?1 ORDER BY path")?
                .query_map([level_id], |r| r.get(0))?
                .collect()
        };
        run().map_err(|e| CatalogError::sqlite(&self.path, "reading tombstones", e))
    }

    /// Ends level `level_id`: its run, counts and end; closes its cycle
    /// when `close_cycle`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_backup_level(
        &mut self,
        level_id: i64,
        run_uid: Option<&str>,
        files: u64,
        bytes: u64,
        stored_bytes: u64,
        ended: i64,
        close_cycle: bool,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_tx("finishing a backup level")?;
        (|| -> rusqlite::Result<()> {
            tx.execute(
                "UPDATE backup_levels SET run_uid = ?2, files = ?3, bytes = ?4, stored_bytes = ?5, ended = ?6
                 WHERE id = ?1",
                params![level_id, run_uid, files as i64, bytes as i64, stored_bytes as i64, ended],
            )?;
            if close_cycle {
                tx.execute(
                    "UPDATE backup_cycles SET closed = ?2
                     WHERE id = (SELECT cycle_id FROM backup_levels WHERE id = ?1)",
                    params![level_id, ended],
                )?;
            }
            Ok(())
        })()
        .map_err(|e| CatalogError::sqlite(&path, "finishing a backup level", e))?;
        tx.commit()
            .map_err(|e| CatalogError::sqlite(&path, "committing a backup level", e))
    }
}
