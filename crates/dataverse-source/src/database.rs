//! The listing of data files from a Dataverse PostgreSQL database.
//!
//! One query over `datafile`, its `dvobject` row, the owning dataset's
//! `dvobject` and `dataset` rows, and the file's `datatable` row, for the
//! current schema (Dataverse 4.10 and later, where authority and identifier
//! live on the dataset's own `dvobject` row). Rows are read through a
//! server-side cursor (a bound portal fetched `fetch_size` rows at a time)
//! on a thread of their own, so memory holds two batches, whatever the
//! number of files.

use std::fmt;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::SystemTime;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row};

use crate::checksum::{Checksum, ChecksumType};
use crate::error::{Error, Result};
use crate::model::{DataFile, DatasetId, Original, StorageIdentifier, Timestamp};

/// How to reach a PostgreSQL database (the original script's `[Database]`
/// section). The password is never printed by `Debug`.
#[derive(Clone, Default)]
pub struct DatabaseConfig {
    /// Host name or address (`localhost`).
    pub host: String,
    /// Port (5432).
    pub port: u16,
    /// Database name (`dvndb`).
    pub dbname: String,
    /// User (`dvnapp`).
    pub user: String,
    /// Password; empty for none (trust or peer authentication).
    pub password: String,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<hidden>"
                },
            )
            .finish()
    }
}

impl DatabaseConfig {
    /// `dbname` on `host:port` as `user`, no password.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        dbname: impl Into<String>,
        user: impl Into<String>,
    ) -> Self {
        DatabaseConfig {
            host: host.into(),
            port,
            dbname: dbname.into(),
            user: user.into(),
            password: String::new(),
        }
    }

    /// The same server and login, another database.
    #[must_use]
    pub fn with_dbname(&self, dbname: impl Into<String>) -> Self {
        DatabaseConfig {
            dbname: dbname.into(),
            ..self.clone()
        }
    }

    /// With a password.
    #[must_use]
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// `host:port/dbname`, for messages.
    pub fn target(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.dbname)
    }

    /// Opens a connection (no TLS).
    pub fn connect(&self) -> Result<Client> {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .application_name("permafrost-dataverse-source")
            .connect_timeout(std::time::Duration::from_secs(30));
        if !self.password.is_empty() {
            config.password(&self.password);
        }
        config.connect(NoTls).map_err(|source| Error::Connect {
            target: self.target(),
            source,
        })
    }
}

/// Which files a listing yields.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only files whose `createdate` is at or after this instant
    /// (inclusive, so files sharing the newest recorded timestamp are seen
    /// again; the caller skips those it already holds).
    pub created_since: Option<Timestamp>,
    /// Rows per fetch from the cursor (default 1000).
    pub fetch_size: usize,
}

impl ListOptions {
    /// Every file.
    pub fn all() -> Self {
        ListOptions::default()
    }

    /// Files created at or after `t`.
    pub fn since(t: Timestamp) -> Self {
        ListOptions {
            created_since: Some(t),
            ..ListOptions::default()
        }
    }
}

/// What the connected database offers beyond the 4.10 baseline.
#[derive(Debug, Clone, Copy)]
struct Features {
    original_size: bool,
    alternative_pids: bool,
}

fn features(client: &mut Client) -> Result<Features> {
    let row = client
        .query_one(
            "SELECT \
               EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
                       AND table_name = 'dvobject' AND column_name = 'authority'), \
               EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
                       AND table_name = 'datatable' AND column_name = 'originalfilesize'), \
               EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
                       AND table_name = 'alternativepersistentidentifier' AND column_name = 'storagelocationdesignator'), \
               EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() \
                       AND table_name = 'datafile')",
            &[],
        )
        .map_err(|source| Error::Query {
            action: "reading the database's schema",
            source,
        })?;
    let (has_authority, original_size, alternative_pids, has_datafile): (bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if !has_datafile {
        return Err(Error::Schema {
            message: "no table datafile".into(),
        });
    }
    if !has_authority {
        return Err(Error::Schema {
            message: "dvobject has no column authority (a Dataverse older than 4.9?)".into(),
        });
    }
    Ok(Features {
        original_size,
        alternative_pids,
    })
}

fn listing_query(features: Features, since: bool) -> String {
    let original_size = if features.original_size {
        "dt.originalfilesize"
    } else {
        "NULL::bigint"
    };
    let (alt_join, alt_cols) = if features.alternative_pids {
        (
            "LEFT JOIN LATERAL (SELECT a.authority, a.identifier FROM alternativepersistentidentifier a \
               WHERE a.dvobject_id = ds.id AND a.storagelocationdesignator \
               ORDER BY a.id DESC LIMIT 1) alt ON true",
            "alt.authority::text, alt.identifier::text",
        )
    } else {
        ("", "NULL::text, NULL::text")
    };
    let filter = if since { "AND o.createdate >= $1" } else { "" };
    format!(
        "SELECT f.id::bigint, ds.id::bigint, o.createdate::timestamp, o.storageidentifier::text, \
                COALESCE(ds.protocol, '')::text, COALESCE(ds.authority, '')::text, COALESCE(ds.identifier, '')::text, \
                f.checksumtype::text, f.checksumvalue::text, f.filesize::bigint, COALESCE(f.contenttype, '')::text, \
                dt.originalfileformat::text, {original_size}::bigint, dt.datafile_id IS NOT NULL, {alt_cols} \
         FROM datafile f \
         JOIN dvobject o ON o.id = f.id \
         JOIN dvobject ds ON ds.id = o.owner_id \
         JOIN dataset s ON s.id = ds.id \
         LEFT JOIN LATERAL (SELECT t.* FROM datatable t \
                            WHERE t.datafile_id = f.id ORDER BY t.id LIMIT 1) dt ON true \
         {alt_join} \
         WHERE s.harvestingclient_id IS NULL {filter} \
         ORDER BY o.createdate, f.id"
    )
}

fn to_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn row_to_file(row: &Row) -> Result<DataFile, postgres::Error> {
    let storage: Option<String> = row.try_get(3)?;
    let storage = storage
        .filter(|s| !s.trim().is_empty())
        .map(|s| StorageIdentifier::parse(&s));
    let created: SystemTime = row.try_get(2)?;
    let checksum_type: Option<String> = row.try_get(7)?;
    let checksum_value: Option<String> = row.try_get(8)?;
    let is_tabular: bool = row.try_get(13)?;
    let original_format: Option<String> = row.try_get(11)?;
    // A datatable row marks a tabular file; Dataverse keeps its original
    // as `<storageid>.orig` (the original script's rule). An empty format
    // means the original was not kept.
    let original = if is_tabular {
        match original_format.filter(|f| !f.is_empty()) {
            Some(format) => Some(Original {
                format,
                size: to_u64(row.try_get(12)?),
            }),
            None => None,
        }
    } else {
        None
    };
    let filesize = to_u64(row.try_get(9)?);
    let alt_authority: Option<String> = row.try_get(14)?;
    let alt_identifier: Option<String> = row.try_get(15)?;
    let storage_dir = match (alt_authority, alt_identifier) {
        (Some(a), Some(i)) if !a.is_empty() && !i.is_empty() => Some(format!("{a}/{i}")),
        _ => None,
    };
    let size = if original.is_some() {
        original.as_ref().and_then(|o| o.size)
    } else {
        filesize
    };
    Ok(DataFile {
        id: row.try_get(0)?,
        dataset_db_id: row.try_get(1)?,
        dataset: DatasetId {
            protocol: row.try_get(4)?,
            authority: row.try_get(5)?,
            identifier: row.try_get(6)?,
        },
        storage_dir,
        storage,
        created: Timestamp::from_system_time(created),
        size,
        checksum: Checksum::new(
            ChecksumType::parse(checksum_type.as_deref().unwrap_or("")),
            checksum_value.unwrap_or_default(),
        ),
        content_type: row.try_get(10)?,
        original,
    })
}

/// Streams every data file of non-harvested datasets, in `createdate`
/// order (then id), through a server-side cursor. The connection lives on
/// a thread of its own until the iterator is dropped or exhausted.
pub fn list_files(config: &DatabaseConfig, options: &ListOptions) -> Result<FileIter> {
    let mut client = config.connect()?;
    let features = features(&mut client)?;
    let query = listing_query(features, options.created_since.is_some());
    let since = options.created_since.map(Timestamp::to_system_time);
    let fetch = i32::try_from(if options.fetch_size == 0 {
        1000
    } else {
        options.fetch_size
    })
    .unwrap_or(i32::MAX);
    let (tx, rx) = sync_channel::<Result<Vec<DataFile>>>(1);
    // The first batch is fetched here, so that a bad query fails the call.
    let (first_tx, first_rx) = sync_channel::<Result<()>>(1);
    thread::Builder::new()
        .name("dataverse-listing".into())
        .spawn(move || stream_rows(client, &query, since, fetch, &tx, &first_tx))
        .map_err(|e| Error::io("starting the listing thread", "dataverse-listing", e))?;
    match first_rx.recv() {
        Ok(Ok(())) | Err(_) => {}
        Ok(Err(e)) => return Err(e),
    }
    Ok(FileIter {
        rx,
        batch: Vec::new().into_iter(),
        done: false,
    })
}

fn stream_rows(
    mut client: Client,
    query: &str,
    since: Option<SystemTime>,
    fetch: i32,
    tx: &SyncSender<Result<Vec<DataFile>>>,
    first: &SyncSender<Result<()>>,
) {
    let query_err = |action, source| Error::Query { action, source };
    let mut transaction = match client.build_transaction().read_only(true).start() {
        Ok(t) => t,
        Err(e) => {
            let _ = first.send(Err(query_err("starting the listing transaction", e)));
            return;
        }
    };
    let params: Vec<&(dyn ToSql + Sync)> = match &since {
        Some(t) => vec![t],
        None => vec![],
    };
    let portal = match transaction.bind(query, &params) {
        Ok(p) => p,
        Err(e) => {
            let _ = first.send(Err(query_err("listing the data files", e)));
            return;
        }
    };
    let _ = first.send(Ok(()));
    loop {
        match transaction.query_portal(&portal, fetch) {
            Ok(rows) => {
                let n = rows.len();
                let batch = match rows.iter().map(row_to_file).collect::<Result<Vec<_>, _>>() {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(query_err("reading a data file row", e)));
                        return;
                    }
                };
                if !batch.is_empty() && tx.send(Ok(batch)).is_err() {
                    return; // the iterator was dropped
                }
                if n < usize::try_from(fetch).unwrap_or(usize::MAX) {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(query_err("fetching data files", e)));
                return;
            }
        }
    }
}

/// The data files of a listing, one at a time. An `Err` item ends it.
#[derive(Debug)]
pub struct FileIter {
    rx: Receiver<Result<Vec<DataFile>>>,
    batch: std::vec::IntoIter<DataFile>,
    done: bool,
}

impl Iterator for FileIter {
    type Item = Result<DataFile>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.batch.next() {
                return Some(Ok(f));
            }
            if self.done {
                return None;
            }
            match self.rx.recv() {
                Ok(Ok(batch)) => self.batch = batch.into_iter(),
                Ok(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Err(_) => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}
