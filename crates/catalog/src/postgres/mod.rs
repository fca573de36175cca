//! The PostgreSQL backend (feature `postgres`): the catalog's tables in a
//! database many hosts share, through the blocking `postgres` client (its
//! tokio runtime is its own; nothing async leaves this module).

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::{Client, NoTls};

mod export;
mod jobs;
mod records;
mod search;
pub(crate) mod side;
pub(crate) mod work;

use crate::catalog::APPLICATION_ID;
use crate::error::{CatalogError, Result};
use crate::location::PgLocation;

/// The newest schema version of a PostgreSQL catalog this crate writes and
/// reads (its own numbering: the SQLite catalog's is
/// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)).
pub(crate) const PG_SCHEMA_VERSION: u32 = 3;

/// Migration `i` takes a PostgreSQL catalog from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema/v1.sql"),
    include_str!("schema/v2.sql"),
    include_str!("schema/v3.sql"),
];

/// The `application` of every catalog's `permafrost_catalog` row.
const APPLICATION: &str = "permafrost-catalog";

/// The server's clock in Unix seconds, in SQL: leases are measured by it,
/// so hosts whose clocks disagree still agree on them.
const NOW: &str = "CAST(extract(epoch FROM clock_timestamp()) AS BIGINT)";

/// How long connecting may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An open PostgreSQL catalog: one connection.
///
/// The client needs `&mut` for every statement and the catalog's readers
/// take `&self`: the connection sits in a `RefCell` (a `Catalog` is `Send`,
/// not `Sync`, on either backend). No borrow outlives the method taking it.
pub(crate) struct PgCatalog {
    client: RefCell<Client>,
    /// `postgres://USER@HOST:PORT/DB`, for messages.
    location: String,
    /// The same, as the path [`crate::Catalog::path`] returns.
    path: PathBuf,
    /// Directory path -> id, as committed.
    dirs: HashMap<String, i64>,
    /// (kind, num) -> name, as committed.
    accounts: HashMap<(&'static str, u32), String>,
}

impl fmt::Debug for PgCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCatalog")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Wraps a PostgreSQL error with the catalog's location and the action.
pub(crate) fn pg_error<A: Into<String>>(
    location: &str,
    action: A,
) -> impl FnOnce(postgres::Error) -> CatalogError + use<A> {
    let location = location.to_owned();
    let action = action.into();
    move |source| CatalogError::Postgres {
        location,
        action,
        source,
    }
}

impl PgCatalog {
    /// Connects to `loc` and creates or migrates the catalog's tables.
    pub(crate) fn open(loc: &PgLocation) -> Result<Self> {
        let location = loc.to_string();
        let mut config = postgres::Config::new();
        config
            .host(&loc.host)
            .port(loc.port)
            .user(&loc.user)
            .dbname(&loc.dbname)
            .application_name("permafrost-catalog")
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(pw) = loc.password()? {
            config.password(pw);
        }
        let client = config
            .connect(NoTls)
            .map_err(pg_error(&location, "connecting"))?;
        let cat = PgCatalog {
            client: RefCell::new(client),
            path: PathBuf::from(&location),
            location,
            dirs: HashMap::new(),
            accounts: HashMap::new(),
        };
        cat.migrate()?;
        Ok(cat)
    }

    pub(crate) fn err<A: Into<String>>(
        &self,
        action: A,
    ) -> impl FnOnce(postgres::Error) -> CatalogError + use<A> {
        pg_error(&self.location, action)
    }

    /// The connection alone (for a [`side::SideTable`]).
    pub(crate) fn into_client(self) -> Client {
        self.client.into_inner()
    }

    /// The connection, for one method's statements.
    pub(crate) fn client(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the tables in an empty database or brings an older catalog
    /// to [`PG_SCHEMA_VERSION`], under an advisory lock so that hosts
    /// opening it at once migrate it once.
    fn migrate(&self) -> Result<()> {
        let location = self.location.clone();
        let e = |action: &str| pg_error(&location, action.to_owned());
        let mut client = self.client();
        let mut tx = client.transaction().map_err(e("starting the migration"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&i64::from(APPLICATION_ID)],
        )
        .map_err(e("waiting for other hosts' migrations"))?;
        let has_meta: bool = tx
            .query_one("SELECT to_regclass('permafrost_catalog') IS NOT NULL", &[])
            .map_err(e("reading the schema"))?
            .get(0);
        let version = if has_meta {
            let row = tx
                .query_opt("SELECT application, version FROM permafrost_catalog", &[])
                .map_err(e("reading the schema version"))?;
            let Some(row) = row else {
                return Err(self.not_a_catalog("its permafrost_catalog table is empty".into()));
            };
            let app: String = row.get(0);
            if app != APPLICATION {
                return Err(self.not_a_catalog(format!(
                    "its permafrost_catalog table names application {app:?}"
                )));
            }
            u32::try_from(row.get::<_, i32>(1)).unwrap_or(u32::MAX)
        } else {
            let tables: i64 = tx
                .query_one(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                    &[],
                )
                .map_err(e("reading the schema"))?
                .get(0);
            if tables > 0 {
                return Err(self.not_a_catalog(format!(
                    "a database of another application ({tables} tables, no permafrost_catalog table)"
                )));
            }
            0
        };
        if version > PG_SCHEMA_VERSION {
            return Err(CatalogError::TooNew {
                path: self.path.clone(),
                found: version,
                supported: PG_SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql)
                .map_err(e(&format!("migrating to version {}", i + 1)))?;
        }
        if version < PG_SCHEMA_VERSION {
            tx.execute("DELETE FROM permafrost_catalog", &[])
                .map_err(e("setting the schema version"))?;
            tx.execute(
                "INSERT INTO permafrost_catalog(application, version) VALUES ($1, $2)",
                &[
                    &APPLICATION,
                    &i32::try_from(PG_SCHEMA_VERSION).unwrap_or(i32::MAX),
                ],
            )
            .map_err(e("setting the schema version"))?;
        }
        tx.commit().map_err(e("committing the migration"))?;
        if version < PG_SCHEMA_VERSION {
            tracing::info!(catalog = %self.location, from = version, to = PG_SCHEMA_VERSION, "catalog migrated");
        }
        Ok(())
    }

    fn not_a_catalog(&self, reason: String) -> CatalogError {
        CatalogError::NotACatalog {
            path: self.path.clone(),
            reason,
        }
    }

    /// The schema version of the open catalog.
    pub(crate) fn schema_version(&self) -> Result<u32> {
        let v: i32 = self
            .client()
            .query_one("SELECT version FROM permafrost_catalog", &[])
            .map_err(pg_error(&self.location, "reading the schema version"))?
            .get(0);
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    }
}
