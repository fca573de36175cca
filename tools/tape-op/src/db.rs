//! The SQLite catalogue: tapes, targets, their files with checksums,
//! backups (a target assigned to a tape) and their parts on tape.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, params};
use tape_io::target::{FileRecord, hex};

/// `PRAGMA application_id` of a tape-op database ("PFTP").
const APPLICATION_ID: i64 = 0x5046_5450;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE tapes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        serial TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'full', 'closed', 'garbage')),
        online INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL
    );
    CREATE TABLE targets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        remote INTEGER NOT NULL,
        imported INTEGER NOT NULL
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL REFERENCES targets (id),
        name BLOB NOT NULL,
        size INTEGER NOT NULL,
        md5 TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        UNIQUE (target_id, name)
    );
    CREATE TABLE backups (
        id INTEGER PRIMARY KEY,
        target_id INTEGER NOT NULL REFERENCES targets (id),
        tape_id INTEGER NOT NULL REFERENCES tapes (id),
        status TEXT NOT NULL CHECK (status IN ('assigned', 'partial', 'recorded', 'confirmed', 'failed')),
        created INTEGER NOT NULL,
        archived INTEGER,
        confirmed INTEGER
    );
    CREATE TABLE parts (
        backup_id INTEGER NOT NULL REFERENCES backups (id),
        part INTEGER NOT NULL,
        tape_id INTEGER NOT NULL REFERENCES tapes (id),
        file_number INTEGER NOT NULL,
        stream_start INTEGER NOT NULL,
        stream_end INTEGER NOT NULL,
        block_size INTEGER NOT NULL,
        complete INTEGER NOT NULL,
        written INTEGER NOT NULL,
        PRIMARY KEY (backup_id, part),
        UNIQUE (tape_id, file_number)
    );",
];

pub(crate) struct Db {
    pub(crate) conn: Connection,
}

#[derive(Debug, Clone)]
pub(crate) struct Tape {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) serial: String,
    pub(crate) status: String,
    pub(crate) online: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Backup {
    pub(crate) id: i64,
    pub(crate) target_id: i64,
    pub(crate) target: String,
    pub(crate) remote: bool,
    pub(crate) status: String,
}

#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)] // `part.part` is the part's index, as in the schema
pub(crate) struct Part {
    pub(crate) part: u32,
    pub(crate) tape: String,
    pub(crate) file_number: u64,
    pub(crate) stream_start: u64,
    pub(crate) stream_end: u64,
    pub(crate) complete: bool,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

impl Db {
    /// Opens (creating and migrating) the catalogue; a file that is not a
    /// SQLite database, or another program's database, is a clear error.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let existed = path.exists() && std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        let conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        let app: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .with_context(|| {
                format!(
                    "{} is not a SQLite database (corrupt or another kind of file)",
                    path.display()
                )
            })?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if existed && app != APPLICATION_ID && tables > 0 {
            bail!(
                "{} is a SQLite database of another program (application id {app:#x}), not a tape-op catalogue",
                path.display()
            );
        }
        let db = Self { conn };
        db.migrate()
            .with_context(|| format!("migrating database {}", path.display()))?;
        Ok(db)
    }

    fn migrate(&self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = i64::try_from(MIGRATIONS.len())?;
        if version > known {
            bail!(
                "the database has schema version {version}, newer than this tape-op knows ({known})"
            );
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version)?)
        {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!(
                "PRAGMA user_version = {}; PRAGMA application_id = {APPLICATION_ID};",
                i + 1
            ))?;
            tx.commit()?;
        }
        self.conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        Ok(())
    }

    fn tape_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tape> {
        Ok(Tape {
            id: r.get(0)?,
            name: r.get(1)?,
            serial: r.get(2)?,
            status: r.get(3)?,
            online: r.get(4)?,
        })
    }

    pub(crate) fn tapes(&self) -> Result<Vec<Tape>> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, serial, status, online FROM tapes ORDER BY id")?;
        let rows = st
            .query_map([], Self::tape_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub(crate) fn tape(&self, name: &str) -> Result<Tape> {
        self.conn
            .query_row(
                "SELECT id, name, serial, status, online FROM tapes WHERE name = ?1",
                [name],
                Self::tape_row,
            )
            .optional()?
            .with_context(|| format!("no tape named '{name}' in the catalogue"))
    }

    pub(crate) fn online_tape(&self) -> Result<Option<Tape>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, serial, status, online FROM tapes WHERE online = 1",
                [],
                Self::tape_row,
            )
            .optional()?)
    }

    /// The named tape, or the online one.
    pub(crate) fn tape_or_online(&self, name: Option<&str>) -> Result<Tape> {
        match name {
            Some(n) => self.tape(n),
            None => self
                .online_tape()?
                .context("no tape is online: name one, or use activate-tape / open-tape --online"),
        }
    }

    pub(crate) fn add_tape(&self, name: &str, serial: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO tapes (name, serial, created) VALUES (?1, ?2, ?3)",
                params![name, serial, now()],
            )
            .with_context(|| format!("adding tape '{name}' (is the name taken?)"))?;
        Ok(())
    }

    pub(crate) fn set_online(&self, name: &str) -> Result<()> {
        let t = self.tape(name)?;
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("UPDATE tapes SET online = 0", [])?;
        tx.execute("UPDATE tapes SET online = 1 WHERE id = ?1", [t.id])?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn set_tape_status(&self, id: i64, status: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE tapes SET status = ?2 WHERE id = ?1",
            params![id, status],
        )?;
        Ok(())
    }

    pub(crate) fn target_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM targets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub(crate) fn add_target(&self, name: &str, remote: bool, files: &[FileRecord]) -> Result<i64> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO targets (name, remote, imported) VALUES (?1, ?2, ?3)",
            params![name, remote, now()],
        )
        .with_context(|| format!("adding target {name}"))?;
        let id = tx.last_insert_rowid();
        {
            let mut st =
                tx.prepare("INSERT INTO files (target_id, name, size, md5, sha256) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for f in files {
                st.execute(params![id, f.name, f.size, hex(&f.md5), hex(&f.sha256)])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    pub(crate) fn files(&self, target_id: i64) -> Result<Vec<FileRecord>> {
        let mut st = self.conn.prepare(
            "SELECT name, size, md5, sha256 FROM files WHERE target_id = ?1 ORDER BY name",
        )?;
        let rows = st
            .query_map([target_id], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(name, size, md5, sha)| {
                Ok(FileRecord {
                    md5: unhex(&md5).with_context(|| format!("bad MD5 in the catalogue: {md5}"))?,
                    sha256: unhex(&sha)
                        .with_context(|| format!("bad SHA-256 in the catalogue: {sha}"))?,
                    name,
                    size,
                })
            })
            .collect()
    }

    pub(crate) fn target_size(&self, target_id: i64) -> Result<(u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM files WHERE target_id = ?1",
            [target_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Assigns every target without a live backup to the tape.
    pub(crate) fn assign(&self, tape_id: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "INSERT INTO backups (target_id, tape_id, status, created)
             SELECT t.id, ?1, 'assigned', ?2 FROM targets t
             WHERE NOT EXISTS (SELECT 1 FROM backups b WHERE b.target_id = t.id AND b.status != 'failed')
             ORDER BY t.id",
            params![tape_id, now()],
        )?)
    }

    fn backup_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Backup> {
        Ok(Backup {
            id: r.get(0)?,
            target_id: r.get(1)?,
            target: r.get(2)?,
            remote: r.get(3)?,
            status: r.get(5)?,
        })
    }

    const BACKUP_COLS: &'static str = "SELECT b.id, b.target_id, t.name, t.remote, b.tape_id, b.status FROM backups b JOIN targets t ON t.id = b.target_id";

    /// The next step of work for `archive`: a target cut by a full tape
    /// first, then the next target assigned to this tape.
    pub(crate) fn next_to_archive(&self, tape_id: i64) -> Result<Option<Backup>> {
        let q = format!(
            "{} WHERE b.status = 'partial' OR (b.status = 'assigned' AND b.tape_id = ?1)
             ORDER BY b.status = 'partial' DESC, b.id LIMIT 1",
            Self::BACKUP_COLS
        );
        Ok(self
            .conn
            .query_row(&q, [tape_id], Self::backup_row)
            .optional()?)
    }

    pub(crate) fn backup_at(&self, tape_id: i64, file_number: u64) -> Result<Option<Backup>> {
        let q = format!(
            "{} JOIN parts p ON p.backup_id = b.id WHERE p.tape_id = ?1 AND p.file_number = ?2",
            Self::BACKUP_COLS
        );
        Ok(self
            .conn
            .query_row(&q, params![tape_id, file_number], Self::backup_row)
            .optional()?)
    }

    pub(crate) fn next_to_confirm(&self, tape_id: i64) -> Result<Option<Backup>> {
        let q = format!(
            "{} JOIN parts p ON p.backup_id = b.id AND p.part = 0
             WHERE b.status = 'recorded' AND p.tape_id = ?1 ORDER BY p.file_number LIMIT 1",
            Self::BACKUP_COLS
        );
        Ok(self
            .conn
            .query_row(&q, [tape_id], Self::backup_row)
            .optional()?)
    }

    /// The backups whose first part is on `tape_id`, by file number:
    /// recorded ones, and with `retry` confirmed and failed ones too.
    pub(crate) fn backups_to_confirm(&self, tape_id: i64, retry: bool) -> Result<Vec<Backup>> {
        let statuses = if retry {
            "('recorded', 'confirmed', 'failed')"
        } else {
            "('recorded')"
        };
        let q = format!(
            "{} JOIN parts p ON p.backup_id = b.id AND p.part = 0
             WHERE b.status IN {statuses} AND p.tape_id = ?1 ORDER BY p.file_number",
            Self::BACKUP_COLS
        );
        let mut st = self.conn.prepare(&q)?;
        let rows = st
            .query_map([tape_id], Self::backup_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The best backup to restore a target from: confirmed, else recorded,
    /// else one that failed verification (restore verifies again and names
    /// what does not match).
    pub(crate) fn backup_for_restore(&self, target_id: i64) -> Result<Option<Backup>> {
        let q = format!(
            "{} WHERE b.target_id = ?1 AND b.status IN ('confirmed', 'recorded', 'failed')
               AND EXISTS (SELECT 1 FROM parts p WHERE p.backup_id = b.id AND p.complete)
             ORDER BY b.status = 'confirmed' DESC, b.status = 'recorded' DESC, b.id DESC LIMIT 1",
            Self::BACKUP_COLS
        );
        Ok(self
            .conn
            .query_row(&q, [target_id], Self::backup_row)
            .optional()?)
    }

    pub(crate) fn parts(&self, backup_id: i64) -> Result<Vec<Part>> {
        let mut st = self.conn.prepare(
            "SELECT p.part, t.name, p.file_number, p.stream_start, p.stream_end, p.complete
             FROM parts p JOIN tapes t ON t.id = p.tape_id WHERE p.backup_id = ?1 ORDER BY p.part",
        )?;
        let rows = st
            .query_map([backup_id], |r| {
                Ok(Part {
                    part: r.get(0)?,
                    tape: r.get(1)?,
                    file_number: r.get(2)?,
                    stream_start: r.get(3)?,
                    stream_end: r.get(4)?,
                    complete: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The highest file number the catalogue has on a tape.
    pub(crate) fn last_file_number(&self, tape_id: i64) -> Result<Option<u64>> {
        Ok(self.conn.query_row(
            "SELECT max(file_number) FROM parts WHERE tape_id = ?1",
            [tape_id],
            |r| r.get(0),
        )?)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_part(
        &self,
        backup_id: i64,
        part: u32,
        tape_id: i64,
        file_number: u64,
        stream: (u64, u64),
        block_size: usize,
        complete: bool,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO parts (backup_id, part, tape_id, file_number, stream_start, stream_end, block_size, complete, written)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![backup_id, part, tape_id, file_number, stream.0, stream.1, block_size, complete, now()],
        )?;
        Ok(())
    }

    pub(crate) fn set_backup_status(&self, id: i64, status: &str) -> Result<()> {
        let col = match status {
            "recorded" | "partial" => ", archived = ?3",
            "confirmed" => ", confirmed = ?3",
            _ => ", created = created + 0 * ?3",
        };
        self.conn.execute(
            &format!("UPDATE backups SET status = ?2{col} WHERE id = ?1"),
            params![id, status, now()],
        )?;
        Ok(())
    }
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
