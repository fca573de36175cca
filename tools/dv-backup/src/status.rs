//! The status table `datafilestatus`: the original script's, in its
//! PostgreSQL backup database (`[Database] BackupDatabase`), used exactly as
//! its `backupdb.sql` creates it; or the same table in a SQLite file.
//!
//! Beside it, table `dvbackup_failure` (ours) keeps the message of each
//! file's last failure, so `status --failed` can say why; the original's
//! table is never altered.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use dataverse_source::postgres::{Client, types::ToSql};
use dataverse_source::{DatabaseConfig, Status, Timestamp};

/// One file's row to record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) dataset: String,
    pub(crate) storage_identifier: String,
    pub(crate) status: Status,
    pub(crate) created: Timestamp,
    pub(crate) method: &'static str,
    pub(crate) message: Option<String>,
}

/// One row read back.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Row {
    pub(crate) dataset: String,
    pub(crate) storage_identifier: String,
    pub(crate) status: String,
    pub(crate) created: Option<String>,
    pub(crate) last_backup: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) message: Option<String>,
}

/// Where statuses are kept.
pub(crate) trait StatusDb: Send {
    /// The newest `createdate` recorded (the default run's starting point).
    fn newest_created(&mut self) -> Result<Option<Timestamp>>;
    /// The statuses of these storage identifiers (those that have a row).
    fn lookup(&mut self, storage_identifiers: &[String]) -> Result<HashMap<String, String>>;
    /// Records rows (insert or update by storage identifier), all or none.
    fn record(&mut self, rows: &[Record]) -> Result<()>;
    /// Row counts by status.
    fn counts(&mut self) -> Result<Vec<(String, i64)>>;
    /// Rows (only failures when `failed`), in createdate order, one at a time.
    fn rows(&mut self, failed: bool, each: &mut dyn FnMut(Row) -> Result<()>) -> Result<()>;
    /// Where it is, for messages.
    fn describe(&self) -> String;
}

/// The original script's `backupdb.sql`, less its `OWNER TO dvnapp` lines:
/// run when the table does not exist yet.
const BACKUPDB_SQL: &str = "
CREATE TABLE datafilestatus (
    id integer NOT NULL,
    datasetidentifier character varying(255),
    storageidentifier character varying(255),
    status character varying(255),
    createdate timestamp without time zone,
    lastbackuptime timestamp without time zone,
    lastbackupmethod character varying(16)
);
CREATE SEQUENCE datafilestatus_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
ALTER SEQUENCE datafilestatus_id_seq OWNED BY datafilestatus.id;
ALTER TABLE ONLY datafilestatus ADD CONSTRAINT datafilestatus_pkey PRIMARY KEY (id);
ALTER TABLE ONLY datafilestatus ALTER COLUMN id SET DEFAULT nextval('datafilestatus_id_seq'::regclass);
ALTER TABLE ONLY datafilestatus ADD CONSTRAINT datafilestatus_storageidentifier_key UNIQUE (storageidentifier);
";

const FAILURE_SQL_PG: &str = "CREATE TABLE IF NOT EXISTS dvbackup_failure (
    storageidentifier character varying(255) PRIMARY KEY,
    message text NOT NULL,
    failedat timestamp without time zone NOT NULL DEFAULT LOCALTIMESTAMP
)";

/// The bare storage identifier the original recorded for a file-store
/// file before Dataverse 4.19 (`file://ID` was `ID`).
fn legacy_of(storage_identifier: &str) -> Option<&str> {
    storage_identifier
        .strip_prefix("file://")
        .filter(|rest| !rest.is_empty() && !rest.contains("://"))
}

/// The status table in PostgreSQL.
pub(crate) struct PgStatus {
    client: Client,
    target: String,
}

impl PgStatus {
    pub(crate) fn open(config: &DatabaseConfig, create: bool) -> Result<PgStatus> {
        let mut client = config
            .connect()
            .with_context(|| format!("the status database {}", config.target()))?;
        let exists: bool = client
            .query_one("SELECT to_regclass('datafilestatus') IS NOT NULL", &[])?
            .get(0);
        if !exists {
            if !create {
                anyhow::bail!(
                    "the status database {} has no table datafilestatus (create it with the original backupdb.sql, or run `dv-backup run` once)",
                    config.target()
                );
            }
            tracing::info!(target = %config.target(), "creating table datafilestatus (the original backupdb.sql)");
            client
                .batch_execute(BACKUPDB_SQL)
                .context("creating table datafilestatus")?;
        }
        if create {
            client
                .batch_execute(FAILURE_SQL_PG)
                .context("creating table dvbackup_failure")?;
        }
        Ok(PgStatus {
            client,
            target: config.target(),
        })
    }
}

impl StatusDb for PgStatus {
    fn newest_created(&mut self) -> Result<Option<Timestamp>> {
        // As the original: the newest createdate of any row.
        let row = self
            .client
            .query_one("SELECT max(createdate) FROM datafilestatus", &[])?;
        let t: Option<std::time::SystemTime> = row.get(0);
        Ok(t.map(Timestamp::from_system_time))
    }

    /// A row the original wrote before Dataverse 4.19 names a file-store
    /// file by its bare storage identifier (`14e7d2a3a3c-8c1b2f3e4d5a`),
    /// which Dataverse's 4.19 migration has since prefixed with `file://`
    /// in `dvobject`: such a row is that file's.
    fn lookup(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut all: Vec<&str> = wanted.iter().copied().collect();
        all.extend(ids.iter().filter_map(|s| legacy_of(s)));
        let rows = self.client.query(
            "SELECT storageidentifier, status FROM datafilestatus WHERE storageidentifier = ANY($1)",
            &[&all],
        )?;
        let mut out = HashMap::new();
        let mut legacy = Vec::new();
        for r in &rows {
            let sid: String = r.get(0);
            let status = r.get::<_, Option<String>>(1).unwrap_or_default();
            if wanted.contains(sid.as_str()) {
                out.insert(sid, status);
            } else {
                legacy.push((format!("file://{sid}"), status));
            }
        }
        for (sid, status) in legacy {
            out.entry(sid).or_insert(status);
        }
        Ok(out)
    }

    fn record(&mut self, rows: &[Record]) -> Result<()> {
        let mut t = self.client.transaction()?;
        let upsert = t.prepare(
            "INSERT INTO datafilestatus (status, createdate, lastbackuptime, lastbackupmethod, datasetidentifier, storageidentifier) \
             VALUES ($1, $2, LOCALTIMESTAMP(0), $3, $4, $5) \
             ON CONFLICT (storageidentifier) DO UPDATE SET status = EXCLUDED.status, createdate = EXCLUDED.createdate, \
             lastbackuptime = EXCLUDED.lastbackuptime, lastbackupmethod = EXCLUDED.lastbackupmethod, \
             datasetidentifier = EXCLUDED.datasetidentifier",
        )?;
        let fail_set = t.prepare(
            "INSERT INTO dvbackup_failure (storageidentifier, message, failedat) VALUES ($1, $2, LOCALTIMESTAMP) \
             ON CONFLICT (storageidentifier) DO UPDATE SET message = EXCLUDED.message, failedat = EXCLUDED.failedat",
        )?;
        let fail_clear = t.prepare("DELETE FROM dvbackup_failure WHERE storageidentifier = $1")?;
        // The original's row of a file under its pre-4.19 bare identifier
        // (see `lookup`) is carried on under the current one, id and all.
        let adopt = t.prepare(
            "UPDATE datafilestatus SET storageidentifier = $1 WHERE storageidentifier = $2 \
             AND NOT EXISTS (SELECT 1 FROM datafilestatus WHERE storageidentifier = $1)",
        )?;
        for r in rows {
            if let Some(bare) = legacy_of(&r.storage_identifier) {
                t.execute(&adopt, &[&r.storage_identifier, &bare])?;
            }
            let created = r.created.to_system_time();
            let params: [&(dyn ToSql + Sync); 5] = [
                &r.status.as_str(),
                &created,
                &r.method,
                &r.dataset,
                &r.storage_identifier,
            ];
            t.execute(&upsert, &params)?;
            match &r.message {
                Some(m) if r.status != Status::Ok => {
                    t.execute(&fail_set, &[&r.storage_identifier, m])?;
                }
                _ => {
                    t.execute(&fail_clear, &[&r.storage_identifier])?;
                }
            }
        }
        t.commit()?;
        Ok(())
    }

    fn counts(&mut self) -> Result<Vec<(String, i64)>> {
        Ok(self
            .client
            .query(
                "SELECT COALESCE(status, ''), count(*) FROM datafilestatus GROUP BY 1 ORDER BY 1",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn rows(&mut self, failed: bool, each: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
        let has_failures: bool = self
            .client
            .query_one("SELECT to_regclass('dvbackup_failure') IS NOT NULL", &[])?
            .get(0);
        let message = if has_failures {
            "(SELECT message FROM dvbackup_failure m WHERE m.storageidentifier = s.storageidentifier)"
        } else {
            "NULL::text"
        };
        let filter = if failed {
            "WHERE s.status IS DISTINCT FROM 'OK'"
        } else {
            ""
        };
        let query = format!(
            "SELECT COALESCE(s.datasetidentifier, ''), COALESCE(s.storageidentifier, ''), COALESCE(s.status, ''), \
             to_char(s.createdate, 'YYYY-MM-DD HH24:MI:SS.US'), to_char(s.lastbackuptime, 'YYYY-MM-DD HH24:MI:SS'), \
             s.lastbackupmethod::text, {message} FROM datafilestatus s {filter} ORDER BY s.createdate, s.id"
        );
        let mut t = self.client.build_transaction().read_only(true).start()?;
        let portal = t.bind(query.as_str(), &[])?;
        loop {
            let batch = t.query_portal(&portal, 1000)?;
            let n = batch.len();
            for r in batch {
                each(Row {
                    dataset: r.get(0),
                    storage_identifier: r.get(1),
                    status: r.get(2),
                    created: r.get(3),
                    last_backup: r.get(4),
                    method: r.get(5),
                    message: r.get(6),
                })?;
            }
            if n < 1000 {
                break;
            }
        }
        t.commit()?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("table datafilestatus in {}", self.target)
    }
}

/// The status table in a SQLite file (when there is no BackupDatabase).
pub(crate) struct SqliteStatus {
    conn: Mutex<rusqlite::Connection>,
    path: String,
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS datafilestatus (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    datasetidentifier TEXT,
    storageidentifier TEXT UNIQUE,
    status TEXT,
    createdate TEXT,
    lastbackuptime TEXT,
    lastbackupmethod TEXT
);
CREATE INDEX IF NOT EXISTS datafilestatus_createdate ON datafilestatus (createdate);
CREATE TABLE IF NOT EXISTS dvbackup_failure (
    storageidentifier TEXT PRIMARY KEY,
    message TEXT NOT NULL,
    failedat TEXT NOT NULL
);
";

impl SqliteStatus {
    pub(crate) fn open(path: &Path, create: bool) -> Result<SqliteStatus> {
        if !create && !path.exists() {
            anyhow::bail!(
                "no status file {} yet (nothing was backed up)",
                path.display()
            );
        }
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("opening the status file {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // A fixed, small page cache (2 MiB): the table has a row per file.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -2048;",
        )?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(SqliteStatus {
            conn: Mutex::new(conn),
            path: path.display().to_string(),
        })
    }

    /// An empty table in memory (a dry run before any real run).
    pub(crate) fn in_memory() -> Result<SqliteStatus> {
        let conn = rusqlite::Connection::open_in_memory()?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(SqliteStatus {
            conn: Mutex::new(conn),
            path: "memory (nothing recorded yet)".to_owned(),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl StatusDb for SqliteStatus {
    fn newest_created(&mut self) -> Result<Option<Timestamp>> {
        let s: Option<String> =
            self.conn()
                .query_row("SELECT max(createdate) FROM datafilestatus", [], |r| {
                    r.get(0)
                })?;
        Ok(s.as_deref().and_then(Timestamp::parse))
    }

    fn lookup(&mut self, ids: &[String]) -> Result<HashMap<String, String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT storageidentifier, COALESCE(status, '') FROM datafilestatus WHERE storageidentifier = ?1",
        )?;
        let mut out = HashMap::new();
        for id in ids {
            let mut rows = stmt.query([id])?;
            if let Some(r) = rows.next()? {
                out.insert(r.get(0)?, r.get(1)?);
            }
        }
        Ok(out)
    }

    fn record(&mut self, rows: &[Record]) -> Result<()> {
        let mut conn = self.conn();
        let t = conn.transaction()?;
        {
            let mut upsert = t.prepare_cached(
                "INSERT INTO datafilestatus (status, createdate, lastbackuptime, lastbackupmethod, datasetidentifier, storageidentifier) \
                 VALUES (?1, ?2, datetime('now', 'localtime'), ?3, ?4, ?5) \
                 ON CONFLICT (storageidentifier) DO UPDATE SET status = excluded.status, createdate = excluded.createdate, \
                 lastbackuptime = excluded.lastbackuptime, lastbackupmethod = excluded.lastbackupmethod, \
                 datasetidentifier = excluded.datasetidentifier",
            )?;
            let mut fail_set = t.prepare_cached(
                "INSERT INTO dvbackup_failure (storageidentifier, message, failedat) VALUES (?1, ?2, datetime('now', 'localtime')) \
                 ON CONFLICT (storageidentifier) DO UPDATE SET message = excluded.message, failedat = excluded.failedat",
            )?;
            let mut fail_clear =
                t.prepare_cached("DELETE FROM dvbackup_failure WHERE storageidentifier = ?1")?;
            for r in rows {
                upsert.execute(rusqlite::params![
                    r.status.as_str(),
                    r.created.to_string(),
                    r.method,
                    r.dataset,
                    r.storage_identifier
                ])?;
                match &r.message {
                    Some(m) if r.status != Status::Ok => {
                        fail_set.execute(rusqlite::params![r.storage_identifier, m])?;
                    }
                    _ => {
                        fail_clear.execute([&r.storage_identifier])?;
                    }
                }
            }
        }
        t.commit()?;
        Ok(())
    }

    fn counts(&mut self) -> Result<Vec<(String, i64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT COALESCE(status, ''), count(*) FROM datafilestatus GROUP BY 1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn rows(&mut self, failed: bool, each: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
        let conn = self.conn();
        let filter = if failed {
            "WHERE s.status IS NOT 'OK'"
        } else {
            ""
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT COALESCE(s.datasetidentifier, ''), COALESCE(s.storageidentifier, ''), COALESCE(s.status, ''), \
             s.createdate, s.lastbackuptime, s.lastbackupmethod, m.message \
             FROM datafilestatus s LEFT JOIN dvbackup_failure m ON m.storageidentifier = s.storageidentifier \
             {filter} ORDER BY s.createdate, s.id"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            each(Row {
                dataset: r.get(0)?,
                storage_identifier: r.get(1)?,
                status: r.get(2)?,
                created: r.get(3)?,
                last_backup: r.get(4)?,
                method: r.get(5)?,
                message: r.get(6)?,
            })?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("table datafilestatus in {}", self.path)
    }
}
