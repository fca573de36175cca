//! Backup sets: levelled FULL and incremental runs of a tree, each one an
//! ordinary [`crate::archive`] run tagged with its set, cycle and level.
//!
//! - [`init`] records a named set ([`SetConfig`]: its [`Spec`], maximum
//!   level, size cap, cycles always kept, age recipients) in the catalog.
//! - [`run`] takes the set's lock (a file beside the catalog), chooses the
//!   level (a FULL, level 0, when the set has none, the last cycle is
//!   closed, or asked; otherwise the next level of the cycle), walks the
//!   spec, archives what changed (everything for a FULL), and records the
//!   set's tree: paths gone since the previous run get a tombstone. The
//!   cycle is closed when its level `max_level` is written. A killed run
//!   leaves its level open; the next run completes that level.
//! - [`list`] reports cycles and levels with stored bytes, the monthly
//!   storage cost and the earliest date each cycle can be deleted without
//!   an early-deletion charge.
//!
//! Time comes from a [`Clock`] so tests can move it.
//!
//! Limitation: a FULL completing a killed FULL stores only what the
//! catalog does not already hold unchanged, so it can lean on copies that
//! earlier cycles stored.

use std::collections::HashSet;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use catalog::{BackupLevel, BackupSet, NewBackupSet};
use serde::{Deserialize, Serialize};

use crate::options::{ArchiveOptions, SourceEntry, Sources, Vault};
use crate::pricing::US_EAST_1_2026;
use crate::side::ArchiveCatalog;
use crate::{Observer, archive};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The current time, as Unix seconds.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A clock that tells what it was set to: for tests.
#[derive(Debug, Default)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    /// A clock at `now`.
    pub fn new(now: i64) -> Self {
        FakeClock(AtomicI64::new(now))
    }
    /// Sets it to `now`.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
    /// Moves it on by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What could go wrong with a backup set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// No set of that name in the catalog.
    #[error("no backup set {0:?} in the catalog (create it with `backup init`)")]
    NoSet(String),
    /// A set of that name exists.
    #[error("backup set {0:?} exists already")]
    Exists(String),
    /// The spec cannot be read or parsed.
    #[error("{}: not a backup spec: {reason}", path.display())]
    Spec {
        /// The spec file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another run of the set holds its lock.
    #[error("backup set {name:?} is being backed up by another run (lock {})", lock.display())]
    Locked {
        /// The set.
        name: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {action}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The set has no finished level at or before the time asked.
    #[error("backup set {name:?} has no finished run at or before {}", catalog::format_time(*as_of))]
    NothingAsOf {
        /// The set.
        name: String,
        /// The time asked.
        as_of: i64,
    },
    /// Prune was given no cap and the set has none.
    #[error("backup set {0:?} has no size cap: pass --cap SIZE")]
    NoCap(String),
    /// The archive flow failed.
    #[error(transparent)]
    Archive(#[from] crate::Error),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
}

/// What a set backs up: the Glacier Backup Suite's `includeexclude.json`
/// as is: directories to include; excludes that are `*.ext` (a file name
/// suffix) or a directory name excluded wherever it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Spec {
    /// Directories (or files) to back up.
    pub includes: Vec<PathBuf>,
    /// `*.ext` suffixes and directory names left out.
    #[serde(default)]
    pub excludes: Vec<String>,
}

impl Spec {
    /// Reads a spec file (JSON).
    pub fn read(path: &Path) -> Result<Spec, BackupError> {
        let text = std::fs::read_to_string(path).map_err(|e| BackupError::Spec {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let spec: Spec = serde_json::from_str(&text).map_err(|e| BackupError::Spec {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if spec.includes.is_empty() {
            return Err(BackupError::Spec {
                path: path.to_owned(),
                reason: "\"includes\" lists no directory".into(),
            });
        }
        Ok(spec)
    }

    /// Whether a file named `name` is excluded by a suffix.
    fn excludes_file(&self, name: &str) -> bool {
        self.excludes
            .iter()
            .filter_map(|e| e.strip_prefix('*'))
            .any(|suffix| name.ends_with(suffix))
    }

    /// Whether a directory named `name` is excluded.
    fn excludes_dir(&self, name: &str) -> bool {
        self.excludes
            .iter()
            .any(|e| !e.starts_with('*') && e == name)
    }

    /// Every entry the spec selects: absolute paths, parents before
    /// children, the include roots themselves included.
    pub fn walk(&self) -> Result<Vec<PathBuf>, BackupError> {
        let mut out = Vec::new();
        for root in &self.includes {
            let root = std::path::absolute(root).map_err(|e| BackupError::Io {
                path: root.clone(),
                action: "resolving an include",
                source: e,
            })?;
            if std::fs::symlink_metadata(&root).is_err() {
                // An include that is gone: everything under it is deleted.
                continue;
            }
            out.push(root.clone());
            self.walk_dir(&root, &mut out)?;
        }
        Ok(out)
    }

    fn walk_dir(&self, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BackupError> {
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            return Ok(());
        };
        if !meta.is_dir() {
            return Ok(());
        }
        let io = |e| BackupError::Io {
            path: dir.to_owned(),
            action: "reading the directory",
            source: e,
        };
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        names.sort_by_key(std::fs::DirEntry::file_name);
        for d in names {
            let name = d.file_name().to_string_lossy().into_owned();
            let is_dir = d.file_type().map_err(io)?.is_dir();
            let path = d.path();
            if is_dir {
                if self.excludes_dir(&name) {
                    continue;
                }
                out.push(path.clone());
                self.walk_dir(&path, out)?;
            } else if !self.excludes_file(&name) {
                out.push(path);
            }
        }
        Ok(())
    }
}

/// A set's settings, as given to [`init`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetConfig {
    /// The set's name.
    pub name: String,
    /// The vault, as the tool names it (kept so later commands find it).
    pub vault: String,
    /// What it backs up.
    pub spec: Spec,
    /// Highest incremental level (default 7): a cycle is a FULL and
    /// `max_level` incrementals.
    pub max_level: u32,
    /// Size cap of its stored bytes, for prune.
    pub cap: Option<u64>,
    /// Cycles prune always keeps.
    pub min_keep_cycles: u32,
    /// age recipients.
    pub encrypt_to: Vec<String>,
}

/// Creates backup set `config` in the catalog.
pub fn init(
    config: &SetConfig,
    catalog: &mut ArchiveCatalog,
    clock: &dyn Clock,
) -> Result<i64, BackupError> {
    let cat = catalog.catalog_mut();
    if cat.backup_set(&config.name)?.is_some() {
        return Err(BackupError::Exists(config.name.clone()));
    }
    let spec = serde_json::to_string(&config.spec).map_err(|e| BackupError::Spec {
        path: PathBuf::from(format!("<backup set {}>", config.name)),
        reason: e.to_string(),
    })?;
    Ok(cat.create_backup_set(&NewBackupSet {
        name: config.name.clone(),
        vault: config.vault.clone(),
        spec,
        max_level: config.max_level,
        cap: config.cap,
        min_keep_cycles: config.min_keep_cycles,
        encrypt_to: config.encrypt_to.clone(),
        created: clock.now(),
    })?)
}

/// Set `name` with its spec.
pub fn set(catalog: &ArchiveCatalog, name: &str) -> Result<(BackupSet, Spec), BackupError> {
    let set = catalog
        .catalog()
        .backup_set(name)?
        .ok_or_else(|| BackupError::NoSet(name.to_owned()))?;
    let spec = serde_json::from_str(&set.set.spec).map_err(|e| BackupError::Spec {
        path: PathBuf::from(format!("<backup set {name}>")),
        reason: e.to_string(),
    })?;
    Ok((set, spec))
}

/// How [`run`] runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A FULL whatever the level.
    pub full: bool,
    /// The archive flow's options (bundle limits, compression, jobs); the
    /// set's tags, run options and recipients are added.
    pub archive: ArchiveOptions,
}

/// What [`run`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The set.
    pub set: String,
    /// The cycle number.
    pub cycle: u32,
    /// The level (0: FULL).
    pub level: u32,
    /// Whether this run completed a level a killed run had begun.
    pub resumed: bool,
    /// The archive-flow run (none when nothing changed).
    pub run: Option<String>,
    /// Files archived.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes stored.
    pub stored_bytes: u64,
    /// Paths found deleted (tombstones written).
    pub deleted: Vec<String>,
    /// Whether the cycle was closed by this run.
    pub closed_cycle: bool,
}

/// The lock file of set `name` beside the catalog.
fn lock_path(catalog: &ArchiveCatalog, name: &str) -> PathBuf {
    let p = catalog.catalog().path();
    let dir = p.parent().unwrap_or_else(|| Path::new("."));
    dir.join(format!(
        "{}.backup-{}.lock",
        p.file_name()
            .map_or("catalog".into(), |n| n.to_string_lossy()),
        crate::safe_name(name)
    ))
}

/// Takes set `name`'s lock; held while the file lives.
fn lock(catalog: &ArchiveCatalog, name: &str) -> Result<File, BackupError> {
    let path = lock_path(catalog, name);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BackupError::Io {
            path: path.clone(),
            action: "opening the lock",
            source: e,
        })?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(TryLockError::WouldBlock) => Err(BackupError::Locked {
            name: name.to_owned(),
            lock: path,
        }),
        Err(TryLockError::Error(e)) => Err(BackupError::Io {
            path,
            action: "taking the lock",
            source: e,
        }),
    }
}

/// The next (cycle, level) and whether it completes a killed run.
fn next_level(levels: &[BackupLevel], max_level: u32, full: bool) -> (u32, u32, bool) {
    let Some(last) = levels.iter().rfind(|l| l.cycle_pruned.is_none()) else {
        let cycle = levels.last().map_or(1, |l| l.cycle + 1);
        return (cycle, 0, false);
    };
    if last.ended.is_none() {
        return (last.cycle, last.level, true);
    }
    if full || last.cycle_closed.is_some() || last.level >= max_level {
        (levels.last().map_or(1, |l| l.cycle + 1), 0, false)
    } else {
        (last.cycle, last.level + 1, false)
    }
}

/// Runs a backup of set `name`: see the module docs.
pub fn run(
    name: &str,
    options: &RunOptions,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    clock: &dyn Clock,
    observer: &dyn Observer,
) -> Result<RunSummary, BackupError> {
    let (set, spec) = set(catalog, name)?;
    let _lock = lock(catalog, name)?;
    let levels = catalog.catalog().backup_levels(set.id)?;
    let (cycle, level, resumed) = next_level(&levels, set.set.max_level, options.full);
    let level_id = catalog
        .catalog_mut()
        .begin_backup_level(set.id, cycle, level, clock.now())?;

    let paths = spec.walk()?;
    let mut present = HashSet::with_capacity(paths.len());
    let mut entries = Vec::with_capacity(paths.len());
    for p in paths {
        let s = p.to_string_lossy().into_owned();
        entries.push(SourceEntry::new(p, s.clone()));
        present.insert(s);
    }
    let mut opts = options
        .archive
        .clone()
        .tags([
            format!("backup:{name}"),
            format!("cycle:{cycle}"),
            format!("level:{level}"),
        ])
        .run_option("backup.set", name)
        .run_option("backup.cycle", cycle.to_string())
        .run_option("backup.level", level.to_string());
    if opts.description.is_empty() {
        let kind = if level == 0 { "FULL" } else { "incremental" };
        opts = opts.description(format!(
            "backup {name} cycle {cycle} level {level} ({kind})"
        ));
    }
    for r in &set.set.encrypt_to {
        if !opts.encrypt_to.contains(r) {
            opts = opts.encrypt_to(r.clone());
        }
    }
    // A FULL stores everything; a FULL completing a killed one stores what
    // the catalog does not hold unchanged (what the killed run stored is
    // not stored twice; see the limitation in the module docs).
    if level == 0 && !resumed {
        opts = opts.all();
    }
    let summary = if entries.is_empty() {
        None
    } else {
        Some(archive(
            &Sources::Entries(entries),
            &opts,
            vault,
            catalog,
            observer,
        )?)
    };
    let deleted = catalog
        .catalog_mut()
        .record_backup_tree(set.id, level_id, &present)?;
    let close = level >= set.set.max_level;
    let (run_uid, files, bytes, stored) = summary.as_ref().map_or((None, 0, 0, 0), |s| {
        (s.run.clone(), s.files, s.bytes, s.stored_bytes)
    });
    catalog.catalog_mut().finish_backup_level(
        level_id,
        run_uid.as_deref(),
        files,
        bytes,
        stored,
        clock.now(),
        close,
    )?;
    Ok(RunSummary {
        set: name.to_owned(),
        cycle,
        level,
        resumed,
        run: run_uid,
        files,
        bytes,
        stored_bytes: stored,
        deleted,
        closed_cycle: close,
    })
}

/// One level in [`list`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelInfo {
    /// 0: FULL.
    pub level: u32,
    /// Start, Unix seconds.
    pub started: i64,
    /// End (none: a killed run, completed by the next).
    pub ended: Option<i64>,
    /// The archive-flow run.
    pub run: Option<String>,
    /// Files stored.
    pub files: u64,
    /// Bytes stored.
    pub stored_bytes: u64,
    /// Tombstones.
    pub deleted: u64,
}

/// One cycle in [`list`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleInfo {
    /// Its number.
    pub cycle: u32,
    /// When its FULL started.
    pub started: i64,
    /// When it was closed.
    pub closed: Option<i64>,
    /// When it was pruned.
    pub pruned: Option<i64>,
    /// Its levels.
    pub levels: Vec<LevelInfo>,
    /// Files stored by its levels.
    pub files: u64,
    /// Bytes stored by its levels.
    pub stored_bytes: u64,
    /// Monthly storage cost of its bytes, USD.
    pub monthly_cost: f64,
    /// The earliest time all its archives can be deleted without an
    /// early-deletion charge (its newest level's end plus the class's
    /// minimum duration; none for a local store).
    pub free_deletion: i64,
}

/// The cycles of set `name`, oldest first.
#[allow(clippy::cast_possible_wrap)]
pub fn list(
    name: &str,
    vault: &Vault,
    catalog: &ArchiveCatalog,
) -> Result<Vec<CycleInfo>, BackupError> {
    let (set, _) = set(catalog, name)?;
    let minimum_days = if vault.is_local() {
        0
    } else {
        US_EAST_1_2026
            .class(vault.class)
            .map_or(0, |c| i64::from(c.minimum_days))
    };
    let mut out: Vec<CycleInfo> = Vec::new();
    for l in catalog.catalog().backup_levels(set.id)? {
        if out.last().is_none_or(|c| c.cycle != l.cycle) {
            out.push(CycleInfo {
                cycle: l.cycle,
                started: l.started,
                closed: l.cycle_closed,
                pruned: l.cycle_pruned,
                levels: Vec::new(),
                files: 0,
                stored_bytes: 0,
                monthly_cost: 0.0,
                free_deletion: l.started,
            });
        }
        let Some(c) = out.last_mut() else { continue };
        c.files += l.files;
        c.stored_bytes += l.stored_bytes;
        c.free_deletion = c
            .free_deletion
            .max(l.ended.unwrap_or(l.started) + minimum_days * DAY);
        c.levels.push(LevelInfo {
            level: l.level,
            started: l.started,
            ended: l.ended,
            run: l.run_uid,
            files: l.files,
            stored_bytes: l.stored_bytes,
            deleted: l.deleted,
        });
    }
    for c in &mut out {
        let objects = c.levels.iter().filter(|l| l.run.is_some()).count() as u64;
        c.monthly_cost = US_EAST_1_2026
            .storage(vault.class, objects, c.stored_bytes, 0)
            .map_or(0.0, |e| e.data_per_month + e.overhead_per_month);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_excludes() {
        let spec: Spec = serde_json::from_str(
            r#"{"includes": ["/home/a"], "excludes": ["*.tmp", ".cache", "node_modules"]}"#,
        )
        .unwrap();
        assert!(spec.excludes_file("x.tmp"));
        assert!(!spec.excludes_file("x.txt"));
        assert!(spec.excludes_dir(".cache"));
        assert!(!spec.excludes_dir("x.tmp"));
    }
}
