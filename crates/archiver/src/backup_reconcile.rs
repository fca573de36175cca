//! Reconciling a backup set's catalog rows with an inventory of its store,
//! as the Glacier Backup Suite did: the inventory is the truth, except for
//! archives created after the inventory was taken (they are kept as they
//! are).
//!
//! - An archive the catalog records as stored for the set but the
//!   inventory does not hold is *missing*: its row is kept (so `find` can
//!   still say the file existed), its state set to `missing` and tagged
//!   `missing`, so the set's next run stores its files again.
//! - An archive the inventory holds but the catalog does not know at all
//!   (neither as an archive nor, for a catalog export, its run)
//!   is *unknown*: reported, and with [`Unknown::Adopt`] recorded in the
//!   catalog (under the run its description names, created when the
//!   catalog lacks it; tagged `adopted` and `backup:NAME`; its member files
//!   come with `rebuild-catalog` from that run's catalog export), or with
//!   [`Unknown::Delete`] deleted from the store.
//!
//! The inventory is a value: [`reconcile`] does not ask the store for one
//! (the caller does, [`request_inventory`](crate::request_inventory), or reads one it saved), so it
//! works the same with an inventory a day old.

use std::collections::HashSet;
use std::time::UNIX_EPOCH;

use catalog::{ArchiveState, NewArchive, NewRun};
use glacier_multipart::Inventory;
use serde::Serialize;

use crate::CATALOG_PREFIX;
use crate::backup::{BackupError, set};
use crate::options::Vault;
use crate::side::ArchiveCatalog;

/// The tag given to archives found missing.
pub const MISSING_TAG: &str = "missing";
/// The tag given to adopted archives.
pub const ADOPTED_TAG: &str = "adopted";

/// What to do with archives the store holds and the catalog does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// Report them only.
    #[default]
    Report,
    /// Record them in the catalog.
    Adopt,
    /// Delete them from the store.
    Delete,
}

/// How [`reconcile`] reconciles.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReconcileOptions {
    /// What to do with unknown archives.
    pub unknown: Unknown,
    /// Decide and report only: change neither the catalog nor the store.
    pub dry_run: bool,
}

/// An archive of the set the inventory does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingArchive {
    /// The store's archive id.
    pub archive_id: String,
    /// Its description.
    pub description: String,
    /// The cycle and level whose run stored it.
    pub cycle: u32,
    /// The level.
    pub level: u32,
    /// Files the catalog records in it.
    pub files: u64,
    /// When it was created, Unix seconds.
    pub created: i64,
}

/// An archive in the inventory the catalog does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownArchive {
    /// The store's archive id.
    pub archive_id: String,
    /// Its description.
    pub description: String,
    /// Its size in the store.
    pub size: u64,
    /// When it was created, Unix seconds.
    pub created: i64,
}

/// What [`reconcile`] found (and, unless a dry run, did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileOutcome {
    /// The set.
    pub set: String,
    /// When the inventory was taken, Unix seconds.
    pub inventory_date: i64,
    /// Archives in the inventory.
    pub inventory_archives: usize,
    /// The set's stored archives the inventory holds.
    pub present: usize,
    /// The set's stored archives the inventory does not hold.
    pub missing: Vec<MissingArchive>,
    /// The set's archives created after the inventory: kept as they are.
    pub newer_than_inventory: Vec<String>,
    /// Archives in the store the catalog does not know.
    pub unknown: Vec<UnknownArchive>,
    /// What was done with them.
    pub unknown_action: Unknown,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

impl ReconcileOutcome {
    /// Whether catalog and store agree (after adopting or deleting the
    /// unknown archives, when asked).
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && (self.unknown.is_empty() || self.unknown_action != Unknown::Report)
    }
}

fn secs(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The run uid in a bundle's or catalog export's description
/// (`... run=UID ...`).
fn run_uid_of(description: &str) -> Option<&str> {
    description
        .split_whitespace()
        .find_map(|w| w.strip_prefix("run="))
        .filter(|u| !u.is_empty())
}

/// Reconciles set `name` with `inventory` of its vault: see the module docs.
#[allow(clippy::too_many_lines)] // one pass: missing, then unknown, then the changes
pub fn reconcile(
    name: &str,
    inventory: &Inventory,
    options: &ReconcileOptions,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
) -> Result<ReconcileOutcome, BackupError> {
    let (set, _) = set(catalog, name)?;
    let inventory_date = secs(inventory.inventory_date);
    let in_store: HashSet<&str> = inventory
        .archives
        .iter()
        .map(|a| a.archive_id.as_str())
        .collect();

    // Every archive id the catalog knows in this vault, whatever its state,
    // and its runs (whose catalog exports are not rows of their own).
    let cat = catalog.catalog();
    let mut known = HashSet::new();
    let mut runs = HashSet::new();
    for run in cat.runs()? {
        runs.insert(run.uid.clone());
        for a in cat.archives_of_run(run.id)? {
            if a.vault == vault.name
                && let Some(id) = a.info.remote_id
            {
                known.insert(id);
            }
        }
    }

    let mut present = 0;
    let mut missing = Vec::new();
    let mut missing_keys = Vec::new();
    let mut newer = Vec::new();
    for level in cat.backup_levels(set.id)? {
        let Some(uid) = &level.run_uid else { continue };
        let Some(run) = cat.run_by_uid(uid)? else {
            continue;
        };
        for a in cat.archives_of_run(run.id)? {
            if a.vault != vault.name || a.info.state != ArchiveState::Stored {
                continue;
            }
            let Some(id) = &a.info.remote_id else {
                continue;
            };
            if in_store.contains(id.as_str()) {
                present += 1;
            } else if a.info.created > inventory_date {
                newer.push(id.clone());
            } else {
                missing_keys.push(a.key);
                missing.push(MissingArchive {
                    archive_id: id.clone(),
                    description: a.info.description.clone(),
                    cycle: level.cycle,
                    level: level.level,
                    files: a.files,
                    created: a.info.created,
                });
            }
        }
    }
    let unknown: Vec<UnknownArchive> = inventory
        .archives
        .iter()
        .filter(|a| {
            let export_of_known_run = a.description.starts_with(CATALOG_PREFIX)
                && run_uid_of(&a.description).is_some_and(|u| runs.contains(u));
            !known.contains(&a.archive_id) && !export_of_known_run
        })
        .map(|a| UnknownArchive {
            archive_id: a.archive_id.clone(),
            description: a.description.clone(),
            size: a.size,
            created: secs(a.created),
        })
        .collect();

    if !options.dry_run {
        let cat = catalog.catalog_mut();
        for key in &missing_keys {
            cat.set_archive_state(*key, ArchiveState::Missing)?;
            cat.tag_archive(*key, &[MISSING_TAG])?;
        }
        match options.unknown {
            Unknown::Report => {}
            Unknown::Delete => {
                for u in &unknown {
                    match vault.store.delete_archive(&vault.name, &u.archive_id) {
                        Ok(()) | Err(glacier_multipart::Error::ArchiveNotFound { .. }) => {}
                        Err(e) => {
                            return Err(BackupError::Archive(crate::Error::Store {
                                action: format!(
                                    "deleting unknown archive {} from vault {}",
                                    u.archive_id, vault.name
                                ),
                                source: e,
                            }));
                        }
                    }
                }
            }
            Unknown::Adopt => adopt(name, &unknown, inventory, vault, catalog)?,
        }
    }
    Ok(ReconcileOutcome {
        set: name.to_owned(),
        inventory_date,
        inventory_archives: inventory.archives.len(),
        present,
        missing,
        newer_than_inventory: newer,
        unknown,
        unknown_action: options.unknown,
        dry_run: options.dry_run,
    })
}

/// Records `unknown` archives in the catalog, each under the run its
/// description names (created when missing).
fn adopt(
    name: &str,
    unknown: &[UnknownArchive],
    inventory: &Inventory,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
) -> Result<(), BackupError> {
    let cat = catalog.catalog_mut();
    let location = vault.store.location();
    let store_id = cat.store(&location, &vault.kind, Some(&location))?;
    let vault_id = cat.vault(store_id, &vault.name)?;
    let set_tag = format!("backup:{name}");
    for u in unknown {
        let uid = run_uid_of(&u.description);
        let known = uid.map(|uid| cat.run_by_uid(uid)).transpose()?.flatten();
        let run = if let Some(r) = known {
            r.id
        } else {
            let id = cat.begin_run(&NewRun {
                uid: uid.map(str::to_owned),
                roots: Vec::new(),
                description: format!(
                    "adopted by backup reconcile of set {name}: {}",
                    u.description
                ),
                tags: vec![set_tag.clone(), ADOPTED_TAG.to_owned()],
                options: std::collections::BTreeMap::new(),
                started: u.created,
            })?;
            cat.finish_run(id, u.created)?;
            id
        };
        let tree_hash = inventory
            .archives
            .iter()
            .find(|a| a.archive_id == u.archive_id)
            .map(|a| a.tree_hash.to_hex());
        cat.add_archive(&NewArchive {
            run,
            vault: vault_id,
            remote_id: Some(u.archive_id.clone()),
            size: u.size,
            stored_size: Some(u.size),
            tree_hash,
            description: u.description.clone(),
            tags: vec![set_tag.clone(), ADOPTED_TAG.to_owned()],
            created: u.created,
            state: ArchiveState::Stored,
            recipients: Vec::new(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::run_uid_of;

    #[test]
    fn run_uid_in_descriptions() {
        assert_eq!(
            run_uid_of("permafrost-bundle v1 run=abc seq=2"),
            Some("abc")
        );
        assert_eq!(run_uid_of("permafrost-catalog v1 run=abc"), Some("abc"));
        assert_eq!(run_uid_of("something else"), None);
    }
}
