//! Pruning a backup set under its size cap: whole oldest cycles, never
//! the newest closed one nor an open one (later incrementals build on it),
//! never fewer than the set's `min_keep_cycles`; a cycle still inside its
//! storage class's minimum duration is kept unless forced, and the
//! early-deletion charge is computed first. Deleted archives are marked
//! `pruned` in the catalog, not forgotten.

use serde::Serialize;

use crate::backup::{BackupError, Clock, list, set};
use crate::options::Vault;
use crate::pricing::US_EAST_1_2026;
use crate::side::ArchiveCatalog;

/// How [`prune`] prunes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// The cap (default: the set's own).
    pub cap: Option<u64>,
    /// Delete cycles inside their minimum storage duration too (paying
    /// the early-deletion charge).
    pub force: bool,
    /// Decide and report only.
    pub dry_run: bool,
}

/// One cycle prune chose or kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunedCycle {
    /// The cycle.
    pub cycle: u32,
    /// Its stored bytes.
    pub stored_bytes: u64,
    /// The early-deletion charge of deleting it now, USD.
    pub early_deletion_usd: f64,
    /// When it can be deleted free.
    pub free_deletion: i64,
}

/// What [`prune`] decided (and, unless a dry run, did).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneOutcome {
    /// The cap applied.
    pub cap: u64,
    /// The set's stored bytes before.
    pub stored_before: u64,
    /// After (as planned, for a dry run).
    pub stored_after: u64,
    /// Cycles deleted (to be deleted, for a dry run).
    pub deleted: Vec<PrunedCycle>,
    /// The oldest cycle that would have gone next but is inside its
    /// minimum duration (without `force`).
    pub kept_for_minimum: Option<PrunedCycle>,
    /// Archives deleted from the store.
    pub archives_deleted: usize,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// Prunes set `name`: see the module docs.
#[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
pub fn prune(
    name: &str,
    options: &PruneOptions,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    clock: &dyn Clock,
) -> Result<PruneOutcome, BackupError> {
    let (set, _) = set(catalog, name)?;
    let cap = options
        .cap
        .or(set.set.cap)
        .ok_or_else(|| BackupError::NoCap(name.to_owned()))?;
    let now = clock.now();
    let cycles: Vec<_> = list(name, vault, catalog)?
        .into_iter()
        .filter(|c| c.pruned.is_none())
        .collect();
    let stored_before: u64 = cycles.iter().map(|c| c.stored_bytes).sum();
    let newest_closed = cycles
        .iter()
        .rev()
        .find(|c| c.closed.is_some())
        .map(|c| c.cycle);
    let keep = set.set.min_keep_cycles as usize;
    let mut total = stored_before;
    let mut left = cycles.len();
    let mut deleted = Vec::new();
    let mut kept_for_minimum = None;
    for c in &cycles {
        if total <= cap || left <= keep || c.closed.is_none() || Some(c.cycle) == newest_closed {
            break;
        }
        let objects = c.levels.iter().filter(|l| l.run.is_some()).count() as u64;
        let age_days = (now - c.started).max(0) as u64 / 86_400;
        let fee = if vault.is_local() {
            0.0
        } else {
            US_EAST_1_2026
                .early_deletion(vault.class, objects, c.stored_bytes, age_days)
                .unwrap_or(0.0)
        };
        let p = PrunedCycle {
            cycle: c.cycle,
            stored_bytes: c.stored_bytes,
            early_deletion_usd: fee,
            free_deletion: c.free_deletion,
        };
        if now < c.free_deletion && !options.force {
            kept_for_minimum = Some(p);
            break;
        }
        total -= c.stored_bytes;
        left -= 1;
        deleted.push(p);
    }
    let mut archives_deleted = 0;
    if !options.dry_run {
        for p in &deleted {
            let Some(c) = cycles.iter().find(|c| c.cycle == p.cycle) else {
                continue;
            };
            for l in &c.levels {
                let Some(uid) = &l.run else { continue };
                let Some(run) = catalog.catalog().run_by_uid(uid)? else {
                    continue;
                };
                for a in catalog.catalog().archives_of_run(run.id)? {
                    if a.info.state != catalog::ArchiveState::Stored {
                        continue;
                    }
                    if let Some(id) = &a.info.remote_id {
                        match vault.store.delete_archive(&vault.name, id) {
                            Ok(()) | Err(glacier_multipart::Error::ArchiveNotFound { .. }) => {}
                            Err(e) => {
                                return Err(BackupError::Archive(crate::Error::Store {
                                    action: format!("deleting archive {id} of cycle {}", c.cycle),
                                    source: e,
                                }));
                            }
                        }
                    }
                    catalog
                        .catalog_mut()
                        .set_archive_state(a.key, catalog::ArchiveState::Pruned)?;
                    archives_deleted += 1;
                }
            }
            catalog
                .catalog_mut()
                .mark_backup_cycle_pruned(set.id, c.cycle, now)?;
        }
    }
    Ok(PruneOutcome {
        cap,
        stored_before,
        stored_after: total,
        deleted,
        kept_for_minimum,
        archives_deleted,
        dry_run: options.dry_run,
    })
}
