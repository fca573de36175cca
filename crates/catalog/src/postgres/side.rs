//! Values kept beside a PostgreSQL catalog, in its database (table
//! `side_values`): what the archive engine keeps in files beside an SQLite
//! catalog (bundle indexes, retrieval job plans, pending exports), here so
//! that every host sharing the catalog reads and writes the same ones.
//!
//! A value is bytes of some `kind` under a `key`; this module does not
//! read them. A host may *claim* a value for a while (a lease measured by
//! the server's clock): another host's claim fails until the holder
//! releases it or its lease runs out, so of several hosts at most one at
//! a time works on the thing the value stands for.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::Client;

use super::{NOW, PgCatalog, pg_error};
use crate::error::{CatalogError, Result};
use crate::location::PgLocation;

/// The side values of a PostgreSQL catalog, on a connection of their own.
/// `Send + Sync`: threads share one, taking turns on its connection.
pub struct SideTable {
    client: Mutex<Client>,
    location: String,
}

impl std::fmt::Debug for SideTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideTable")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl SideTable {
    /// Connects to the catalog at `loc` (creating or migrating its tables,
    /// as [`crate::Catalog::open_at`] does).
    ///
    /// # Errors
    /// As [`crate::Catalog::open_at`].
    pub fn open(loc: &PgLocation) -> Result<Self> {
        let cat = PgCatalog::open(loc)?;
        Ok(SideTable {
            location: cat.location.clone(),
            client: Mutex::new(cat.into_client()),
        })
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn err(&self, action: String) -> impl FnOnce(postgres::Error) -> CatalogError + use<> {
        pg_error(&self.location, action)
    }

    /// The catalog's location, `postgres://USER@HOST:PORT/DB`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The value of `kind` under `key`, if any.
    pub fn get(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.client()
            .query_opt(
                "SELECT value FROM side_values WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .map(|r| r.map(|r| r.get(0)))
            .map_err(self.err(format!("reading {kind} {key}")))
    }

    /// Sets the value of `kind` under `key` (a claim on it stays).
    pub fn put(&self, kind: &str, key: &str, value: &[u8]) -> Result<()> {
        put(&mut *self.client(), kind, key, value)
            .map_err(self.err(format!("writing {kind} {key}")))
    }

    /// Removes the value of `kind` under `key` (none there: nothing to do).
    pub fn remove(&self, kind: &str, key: &str) -> Result<()> {
        self.client()
            .execute(
                "DELETE FROM side_values WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .map(drop)
            .map_err(self.err(format!("removing {kind} {key}")))
    }

    /// The keys of `kind`, sorted.
    pub fn keys(&self, kind: &str) -> Result<Vec<String>> {
        self.client()
            .query(
                "SELECT key FROM side_values WHERE kind = $1 ORDER BY key",
                &[&kind],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(self.err(format!("listing {kind}")))
    }

    /// Claims the value of `kind` under `key` for `holder` for `lease`:
    /// true when it is now held by `holder` (it was free, its lease had
    /// run out, or `holder` held it already, whose lease is renewed);
    /// false when another holder's lease is running, or there is no such
    /// value. One conditional `UPDATE`: of hosts claiming at once, one
    /// wins.
    pub fn claim(&self, kind: &str, key: &str, holder: &str, lease: Duration) -> Result<bool> {
        let sql = format!(
            "UPDATE side_values SET holder = $3, held_until = {NOW} + $4 \
             WHERE kind = $1 AND key = $2 \
             AND (holder IS NULL OR holder = $3 OR held_until < {NOW})"
        );
        self.client()
            .execute(&sql, &[&kind, &key, &holder, &secs(lease)])
            .map(|n| n == 1)
            .map_err(self.err(format!("claiming {kind} {key}")))
    }

    /// Gives up `holder`'s claim on the value of `kind` under `key`.
    pub fn release(&self, kind: &str, key: &str, holder: &str) -> Result<()> {
        self.client()
            .execute(
                "UPDATE side_values SET holder = NULL, held_until = NULL \
                 WHERE kind = $1 AND key = $2 AND holder = $3",
                &[&kind, &key, &holder],
            )
            .map(drop)
            .map_err(self.err(format!("releasing {kind} {key}")))
    }

    /// Whether the value of `kind` under `key` is claimed by someone other
    /// than `holder` whose lease is still running.
    pub fn held_by_other(&self, kind: &str, key: &str, holder: &str) -> Result<bool> {
        let sql = format!(
            "SELECT count(*) FROM side_values WHERE kind = $1 AND key = $2 \
             AND holder IS NOT NULL AND holder <> $3 AND held_until >= {NOW}"
        );
        self.client()
            .query_one(&sql, &[&kind, &key, &holder])
            .map(|r| r.get::<_, i64>(0) > 0)
            .map_err(self.err(format!("reading the claim on {kind} {key}")))
    }

    /// Whether run `uid` was planned for workers
    /// ([`WorkQueue`](crate::WorkQueue)), is still open and has units
    /// pending or claimed: its workers (on any host, alive or to come)
    /// finish and close it, so no host's recovery may.
    pub fn has_work_left(&self, uid: &str) -> Result<bool> {
        super::work::units_left(&mut self.client(), Some(uid))
            .map_err(self.err(format!("looking for units left in run {uid}")))
    }

    /// Runs `f` in one transaction, committed when it returns `Ok` and
    /// rolled back otherwise (or when the process dies: the server then
    /// drops its locks). What [`SideTx::lock`] locked stays locked until
    /// then, so hosts doing the same thing at once take turns.
    ///
    /// # Errors
    /// `f`'s, or a [`CatalogError::Postgres`] converted into `E`.
    pub fn transaction<T, E: From<CatalogError>>(
        &self,
        f: impl FnOnce(&mut SideTx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut client = self.client();
        let tx = client
            .transaction()
            .map_err(self.err("starting a transaction".into()))?;
        let mut side = SideTx {
            tx,
            location: &self.location,
        };
        let out = f(&mut side)?;
        side.tx
            .commit()
            .map_err(self.err("committing a transaction".into()))?;
        Ok(out)
    }
}

fn put(
    c: &mut impl postgres::GenericClient,
    kind: &str,
    key: &str,
    value: &[u8],
) -> std::result::Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO side_values(kind, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value",
        &[&kind, &key, &value],
    )
    .map(drop)
}

/// The side values within one [`SideTable::transaction`].
pub struct SideTx<'a> {
    tx: postgres::Transaction<'a>,
    location: &'a str,
}

impl std::fmt::Debug for SideTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideTx").finish_non_exhaustive()
    }
}

impl SideTx<'_> {
    fn err(&self, action: String) -> impl FnOnce(postgres::Error) -> CatalogError + use<> {
        pg_error(self.location, action)
    }

    /// Locks the value of `kind` under `key` until the transaction ends
    /// (creating it empty when there is none, so that there is a row to
    /// lock) and returns it: another transaction locking it waits.
    pub fn lock(&mut self, kind: &str, key: &str) -> Result<Vec<u8>> {
        self.tx
            .execute(
                "INSERT INTO side_values(kind, key, value) VALUES ($1, $2, '') \
                 ON CONFLICT (kind, key) DO NOTHING",
                &[&kind, &key],
            )
            .map_err(self.err(format!("creating {kind} {key}")))?;
        self.tx
            .query_one(
                "SELECT value FROM side_values WHERE kind = $1 AND key = $2 FOR UPDATE",
                &[&kind, &key],
            )
            .map(|r| r.get(0))
            .map_err(self.err(format!("locking {kind} {key}")))
    }

    /// The value of `kind` under `key`, if any.
    pub fn get(&mut self, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.tx
            .query_opt(
                "SELECT value FROM side_values WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .map(|r| r.map(|r| r.get(0)))
            .map_err(self.err(format!("reading {kind} {key}")))
    }

    /// Sets the value of `kind` under `key`.
    pub fn put(&mut self, kind: &str, key: &str, value: &[u8]) -> Result<()> {
        put(&mut self.tx, kind, key, value).map_err(self.err(format!("writing {kind} {key}")))
    }

    /// Removes the value of `kind` under `key`.
    pub fn remove(&mut self, kind: &str, key: &str) -> Result<()> {
        self.tx
            .execute(
                "DELETE FROM side_values WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .map(drop)
            .map_err(self.err(format!("removing {kind} {key}")))
    }
}
