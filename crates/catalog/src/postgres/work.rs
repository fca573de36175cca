//! Work units of archive runs shared by many hosts (tables `work_runs` and
//! `work_units`, schema version 3).
//!
//! A run planned for workers is a spec and a list of units, both bytes
//! this module does not read (the archive engine's: where the bundles go,
//! which directories a unit holds). A worker claims one unit at a time
//! with `SELECT … FOR UPDATE SKIP LOCKED` (so that workers claiming at
//! once never wait for each other, nor get the same unit): a pending one,
//! or a claimed one whose lease, measured by the server's clock, ran out.
//! The claim is renewed while the worker works; the unit is marked done in
//! a transaction that checks the claim is still the worker's. Files are
//! recorded under a claim ([`crate::Catalog::insert_many_claimed`]) in a
//! transaction that locks the unit's row and checks its holder, so a
//! worker whose unit was claimed again records nothing more.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::{Client, Transaction};

use super::{NOW, PgCatalog, pg_error};
use crate::error::{CatalogError, Result};
use crate::location::PgLocation;
use crate::model::UnitClaim;

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)
}

fn unit_number(unit: u32) -> i32 {
    i32::try_from(unit).unwrap_or(i32::MAX)
}

/// A unit claimed by [`WorkQueue::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedUnit {
    /// The run, unit and holder: pass it to renew, finish or release.
    pub claim: UnitClaim,
    /// The unit's content, as planned.
    pub content: Vec<u8>,
    /// How many times it has been claimed, this claim included (more than
    /// one: an earlier worker died or gave it up).
    pub attempts: u32,
    /// How long the claim lasts unless renewed (the run's lease).
    pub lease: Duration,
}

/// How many units of a run are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitCounts {
    /// Not claimed yet, or given back.
    pub pending: u64,
    /// Claimed (the lease may have run out: it is claimed again then).
    pub claimed: u64,
    /// Done.
    pub done: u64,
    /// Given up after too many failed attempts.
    pub failed: u64,
}

impl UnitCounts {
    /// Units still to work on: pending or claimed.
    pub fn left(&self) -> u64 {
        self.pending + self.claimed
    }

    /// Every unit.
    pub fn total(&self) -> u64 {
        self.pending + self.claimed + self.done + self.failed
    }
}

/// The work units of a PostgreSQL catalog, on a connection of their own.
/// `Send + Sync`: threads share one, taking turns on its connection.
pub struct WorkQueue {
    client: Mutex<Client>,
    location: String,
}

impl std::fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl WorkQueue {
    /// Connects to the catalog at `loc` (creating or migrating its tables,
    /// as [`crate::Catalog::open_at`] does).
    ///
    /// # Errors
    /// As [`crate::Catalog::open_at`].
    pub fn open(loc: &PgLocation) -> Result<Self> {
        let cat = PgCatalog::open(loc)?;
        Ok(WorkQueue {
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

    /// Records run `uid` with its `spec` and its `units` (numbered from 0
    /// in order), all pending, in one transaction. A claim on one of its
    /// units lasts `lease` (whole seconds, at least one) unless renewed.
    ///
    /// # Errors
    /// A run `uid` recorded already, or the server's.
    pub fn create_run(
        &self,
        uid: &str,
        spec: &[u8],
        lease: Duration,
        units: &[Vec<u8>],
    ) -> Result<()> {
        let lease = i32::try_from(secs(lease)).unwrap_or(i32::MAX);
        let e = |a: &str| self.err(format!("{a} of run {uid}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e("planning the units"))?;
        tx.execute(
            &format!(
                "INSERT INTO work_runs(run_uid, spec, lease, created) VALUES ($1, $2, $3, {NOW})"
            ),
            &[&uid, &spec, &lease],
        )
        .map_err(e("recording the spec"))?;
        let stmt = tx
            .prepare("INSERT INTO work_units(run_uid, unit, content) VALUES ($1, $2, $3)")
            .map_err(e("recording the units"))?;
        for (i, content) in units.iter().enumerate() {
            let n = i32::try_from(i).unwrap_or(i32::MAX);
            tx.execute(&stmt, &[&uid, &n, content])
                .map_err(e("recording the units"))?;
        }
        tx.commit().map_err(e("committing the units"))
    }

    /// The spec of run `uid`, if it was planned for workers.
    pub fn run_spec(&self, uid: &str) -> Result<Option<Vec<u8>>> {
        self.client()
            .query_opt("SELECT spec FROM work_runs WHERE run_uid = $1", &[&uid])
            .map(|r| r.map(|r| r.get(0)))
            .map_err(self.err(format!("reading the spec of run {uid}")))
    }

    /// Runs planned for workers and not closed yet, oldest first.
    pub fn open_runs(&self) -> Result<Vec<String>> {
        self.client()
            .query(
                "SELECT run_uid FROM work_runs WHERE state = 'open' ORDER BY created, run_uid",
                &[],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(self.err("listing the open runs".into()))
    }

    /// Whether run `uid` was planned for workers and is not closed.
    pub fn is_open(&self, uid: &str) -> Result<bool> {
        self.client()
            .query_opt(
                "SELECT 1 FROM work_runs WHERE run_uid = $1 AND state = 'open'",
                &[&uid],
            )
            .map(|r| r.is_some())
            .map_err(self.err(format!("reading run {uid}")))
    }

    /// Claims a unit for `holder` for its run's lease: of run `run` (any
    /// open run, oldest first, with `None`), a pending one or a claimed one
    /// whose lease ran out. `None` when there is none free right now (all
    /// done, or the others' leases still running).
    pub fn claim(&self, run: Option<&str>, holder: &str) -> Result<Option<ClaimedUnit>> {
        let e = |a: &str| self.err(a.to_owned());
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e("claiming a unit"))?;
        let sql = format!(
            "SELECT u.run_uid, u.unit, u.content, u.attempts, r.lease FROM work_units u \
             JOIN work_runs r ON r.run_uid = u.run_uid \
             WHERE r.state = 'open' AND ($1::TEXT IS NULL OR u.run_uid = $1) \
             AND (u.state = 'pending' OR (u.state = 'claimed' AND u.held_until < {NOW})) \
             ORDER BY r.created, u.run_uid, u.unit LIMIT 1 \
             FOR UPDATE OF u SKIP LOCKED"
        );
        let Some(row) = tx.query_opt(&sql, &[&run]).map_err(e("claiming a unit"))? else {
            return Ok(None);
        };
        let uid: String = row.get(0);
        let unit: i32 = row.get(1);
        let content: Vec<u8> = row.get(2);
        let attempts: i32 = row.get(3);
        let lease: i32 = row.get(4);
        tx.execute(
            &format!(
                "UPDATE work_units SET state = 'claimed', holder = $3, held_until = {NOW} + $4, \
                 attempts = attempts + 1 WHERE run_uid = $1 AND unit = $2"
            ),
            &[&uid, &unit, &holder, &i64::from(lease)],
        )
        .map_err(e("claiming a unit"))?;
        tx.commit().map_err(e("committing a claim"))?;
        Ok(Some(ClaimedUnit {
            claim: UnitClaim {
                run: uid,
                unit: u32::try_from(unit).unwrap_or(0),
                holder: holder.to_owned(),
            },
            content,
            attempts: u32::try_from(attempts).unwrap_or(0).saturating_add(1),
            lease: Duration::from_secs(u64::try_from(lease).unwrap_or(1)),
        }))
    }

    /// Renews `claim` for its run's lease from now: false when the unit
    /// is no longer claimed by its holder (claimed again by another worker
    /// after the lease ran out, or done).
    pub fn renew(&self, claim: &UnitClaim) -> Result<bool> {
        let sql = format!(
            "UPDATE work_units u SET held_until = {NOW} + r.lease FROM work_runs r \
             WHERE r.run_uid = u.run_uid AND u.run_uid = $1 AND u.unit = $2 \
             AND u.holder = $3 AND u.state = 'claimed'"
        );
        self.client()
            .execute(&sql, &[&claim.run, &unit_number(claim.unit), &claim.holder])
            .map(|n| n == 1)
            .map_err(self.err(format!("renewing {claim}")))
    }

    /// Marks the unit of `claim` done with `result` (bytes of the caller's,
    /// read back by [`WorkQueue::results`]), in a transaction that first
    /// checks the claim is still its holder's: false (nothing changed)
    /// when it is not.
    pub fn finish(&self, claim: &UnitClaim, result: &[u8]) -> Result<bool> {
        let e = || self.err(format!("finishing {claim}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        if !holds(&mut tx, claim).map_err(e())? {
            return Ok(false);
        }
        tx.execute(
            "UPDATE work_units SET state = 'done', holder = NULL, held_until = NULL, \
             result = $3, error = NULL WHERE run_uid = $1 AND unit = $2",
            &[&claim.run, &unit_number(claim.unit), &result],
        )
        .map_err(e())?;
        tx.commit().map_err(e())?;
        Ok(true)
    }

    /// Gives the unit of `claim` back after a failure: pending again for
    /// any worker, or `failed` (given up) once it has been claimed
    /// `max_attempts` times. Nothing when the claim is no longer its
    /// holder's.
    pub fn give_back(&self, claim: &UnitClaim, error: &str, max_attempts: u32) -> Result<()> {
        let max = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        self.client()
            .execute(
                "UPDATE work_units SET holder = NULL, held_until = NULL, error = $4, \
                 state = CASE WHEN attempts >= $5 THEN 'failed' ELSE 'pending' END \
                 WHERE run_uid = $1 AND unit = $2 AND holder = $3 AND state = 'claimed'",
                &[
                    &claim.run,
                    &unit_number(claim.unit),
                    &claim.holder,
                    &error,
                    &max,
                ],
            )
            .map(drop)
            .map_err(self.err(format!("giving back {claim}")))
    }

    /// How many units of run `uid` are in each state.
    pub fn counts(&self, uid: &str) -> Result<UnitCounts> {
        let rows = self
            .client()
            .query(
                "SELECT state, count(*) FROM work_units WHERE run_uid = $1 GROUP BY state",
                &[&uid],
            )
            .map_err(self.err(format!("counting the units of run {uid}")))?;
        let mut counts = UnitCounts::default();
        for r in rows {
            let n = u64::try_from(r.get::<_, i64>(1)).unwrap_or(0);
            match r.get::<_, &str>(0) {
                "pending" => counts.pending = n,
                "claimed" => counts.claimed = n,
                "done" => counts.done = n,
                _ => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// Whether any open run (or run `run`) has units pending or claimed.
    pub fn has_units_left(&self, run: Option<&str>) -> Result<bool> {
        units_left(&mut self.client(), run).map_err(self.err("looking for units left".into()))
    }

    /// Puts back to pending the units of run `uid` whose claim ran out
    /// (their workers died): the number of them.
    pub fn reclaim_expired(&self, uid: &str) -> Result<u64> {
        let sql = format!(
            "UPDATE work_units SET state = 'pending', holder = NULL, held_until = NULL \
             WHERE run_uid = $1 AND state = 'claimed' AND held_until < {NOW}"
        );
        self.client()
            .execute(&sql, &[&uid])
            .map_err(self.err(format!("reclaiming the expired units of run {uid}")))
    }

    /// The results of run `uid`'s done units, by unit.
    pub fn results(&self, uid: &str) -> Result<Vec<(u32, Vec<u8>)>> {
        self.client()
            .query(
                "SELECT unit, result FROM work_units WHERE run_uid = $1 AND state = 'done' \
                 ORDER BY unit",
                &[&uid],
            )
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        (
                            u32::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                            r.get::<_, Option<Vec<u8>>>(1).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .map_err(self.err(format!("reading the results of run {uid}")))
    }

    /// The units of run `uid` given up, with their last error.
    pub fn failures(&self, uid: &str) -> Result<Vec<(u32, String)>> {
        self.client()
            .query(
                "SELECT unit, coalesce(error, '') FROM work_units \
                 WHERE run_uid = $1 AND state = 'failed' ORDER BY unit",
                &[&uid],
            )
            .map(|rows| {
                rows.iter()
                    .map(|r| (u32::try_from(r.get::<_, i32>(0)).unwrap_or(0), r.get(1)))
                    .collect()
            })
            .map_err(self.err(format!("reading the failures of run {uid}")))
    }

    /// Closes run `uid` when no unit of it is pending or claimed: true for
    /// the one caller that closed it (of callers closing at once, one wins;
    /// the run's row is locked meanwhile), false when it was closed
    /// already or has units left.
    pub fn close_run(&self, uid: &str) -> Result<bool> {
        let e = || self.err(format!("closing run {uid}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        let open = tx
            .query_opt(
                "SELECT 1 FROM work_runs WHERE run_uid = $1 AND state = 'open' FOR UPDATE",
                &[&uid],
            )
            .map_err(e())?
            .is_some();
        if !open {
            return Ok(false);
        }
        let left: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM work_units WHERE run_uid = $1 \
                 AND state IN ('pending', 'claimed'))",
                &[&uid],
            )
            .map_err(e())?
            .get(0);
        if left {
            return Ok(false);
        }
        tx.execute(
            "UPDATE work_runs SET state = 'closed' WHERE run_uid = $1",
            &[&uid],
        )
        .map_err(e())?;
        tx.commit().map_err(e())?;
        Ok(true)
    }
}

/// Whether `claim` is still its holder's, the unit's row locked until the
/// transaction ends (so a worker claiming it again waits, or skips it).
pub(crate) fn holds(
    tx: &mut Transaction<'_>,
    claim: &UnitClaim,
) -> std::result::Result<bool, postgres::Error> {
    tx.query_opt(
        "SELECT 1 FROM work_units WHERE run_uid = $1 AND unit = $2 AND holder = $3 \
         AND state = 'claimed' FOR UPDATE",
        &[&claim.run, &unit_number(claim.unit), &claim.holder],
    )
    .map(|r| r.is_some())
}

/// Whether any open run (or run `run`) has units pending or claimed, asked
/// on `client` ([`WorkQueue::has_units_left`], and the side table's
/// [`has_work_left`](super::side::SideTable::has_work_left)).
pub(super) fn units_left(
    client: &mut Client,
    run: Option<&str>,
) -> std::result::Result<bool, postgres::Error> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM work_units u JOIN work_runs r \
             ON r.run_uid = u.run_uid WHERE r.state = 'open' \
             AND ($1::TEXT IS NULL OR u.run_uid = $1) \
             AND u.state IN ('pending', 'claimed'))",
            &[&run],
        )
        .map(|r| r.get(0))
}
