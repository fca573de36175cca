//! Point-in-time restore of a backup set: the tree as its newest level at
//! or before a time recorded it (deleted paths left out), each path at its
//! newest stored version up to that level, as an ordinary
//! [`crate::RetrievePlan`] (bytes, requests, cost, wait, ranged retrieval
//! of the wanted members), retrieved and extracted by the archive flow.

use serde::Serialize;

use crate::backup::{BackupError, set};
use crate::options::Vault;
use crate::retrieve::{RetrieveOptions, RetrievePlan, Selection, plan_retrieve};
use crate::side::ArchiveCatalog;
use crate::{Observer, Result};

/// Which level a restore is as of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestorePoint {
    /// The set.
    pub set: String,
    /// The level's cycle.
    pub cycle: u32,
    /// The level (0: FULL).
    pub level: u32,
    /// When that level ended (Unix seconds).
    pub ended: i64,
    /// Paths of the tree then (after the `PATH` filters).
    pub paths: usize,
    /// Paths of the tree with no stored version left (a pruned archive).
    pub missing: Vec<String>,
}

/// Whether `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    p.is_empty()
        || path == p
        || path
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Plans restoring set `name` as of `as_of` (Unix seconds), only paths
/// under `only` when some are given.
pub fn plan_restore(
    name: &str,
    as_of: i64,
    only: &[String],
    options: &RetrieveOptions,
    vault: &Vault,
    catalog: &ArchiveCatalog,
    observer: &dyn Observer,
) -> std::result::Result<(RestorePoint, RetrievePlan), BackupError> {
    let (set, _) = set(catalog, name)?;
    let cat = catalog.catalog();
    let levels = cat.backup_levels(set.id)?;
    let Some(point) = levels
        .iter()
        .filter(|l| l.ended.is_some_and(|e| e <= as_of))
        .max_by_key(|l| (l.ended, l.id))
    else {
        return Err(BackupError::NothingAsOf {
            name: name.to_owned(),
            as_of,
        });
    };
    // The newest archive run of the levels up to that one: versions stored
    // by later runs are newer than the point (run ids grow with time; a
    // killed run's id is below the run that completed its level).
    let mut max_run = None;
    for l in levels.iter().filter(|l| l.id <= point.id) {
        if let Some(uid) = &l.run_uid
            && let Some(r) = cat.run_by_uid(uid)?
        {
            max_run = max_run.max(Some(r.id));
        }
    }
    let tree: Vec<String> = cat
        .backup_tree_at(set.id, point.id)?
        .into_iter()
        .filter(|p| only.is_empty() || only.iter().any(|o| under(p, o)))
        .collect();
    let mut hits = Vec::with_capacity(tree.len());
    let mut missing = Vec::new();
    for p in &tree {
        let best = cat
            .where_is(p)?
            .into_iter()
            .filter(|h| h.state == catalog::ArchiveState::Stored && Some(h.run) <= max_run)
            .max_by_key(|h| (h.run, h.id));
        match best {
            Some(h) => hits.push(h),
            None => missing.push(p.clone()),
        }
    }
    let plan = plan_retrieve(&Selection::Hits(hits), options, vault, catalog, observer)
        .map_err(BackupError::Archive)?;
    Ok((
        RestorePoint {
            set: name.to_owned(),
            cycle: point.cycle,
            level: point.level,
            ended: point.ended.unwrap_or(0),
            paths: tree.len(),
            missing,
        },
        plan,
    ))
}

/// Restores a planned restore into `to` and, for a local store, downloads
/// and extracts at once (other stores: the jobs are requested; `watch`
/// completes them).
pub fn restore(
    plan: &RetrievePlan,
    to: &std::path::Path,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<Vec<String>> {
    let jobs = crate::retrieve(plan, to, vault, catalog, observer)?;
    if vault.is_local() {
        crate::watch(vault, catalog, &crate::WatchOptions::default(), observer)?;
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn under_prefixes() {
        assert!(super::under("/a/b", "/a"));
        assert!(super::under("/a", "/a/"));
        assert!(!super::under("/ab", "/a"));
        assert!(super::under("/x", "/"));
    }
}
