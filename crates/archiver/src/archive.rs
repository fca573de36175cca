//! The archive flow: choose entries, cut them into bundles, stream each
//! bundle into the store, record every file, store the run's export.
//!
//! Each bundle is recorded in the catalog as `uploading` (description
//! `permafrost-bundle v1 run=UID seq=N`) before a byte is sent, streamed by
//! the bundler through a bounded in-memory pipe into the uploader (no
//! temporary copy), then marked stored with its files and their byte
//! ranges. A crash leaves either a forgotten `uploading` row (its files are
//! archived again) or a stored archive without files, never files of an
//! archive that is not stored. [`recover`] settles what an interrupted run
//! left; [`archive`] calls it first.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};

use bundler::{
    BundleIndex, BundleLimits, BundleOptions, BundlePlan, BundleWriter, Compression, Encryption,
    Entry, EntryKind, EntryList, EntryType, MemberIndex, MemberKind, NameStyle, WalkOptions,
    Walker,
};
use catalog::{
    Archive, ArchiveKey, ArchiveState, Catalog, FileEntry, MemberLocation, NewArchive, NewRun,
    PackedRange, RunId,
};
use glacier_multipart::{NoProgress, UploadOptions, Uploader};

use crate::error::{Error, Result};
use crate::inventory::{InventoryRequest, request_inventory};
use crate::observer::{
    BundleEvent, Notice, Observer, PlanSummary, RunStarted, Transfer, Warning, emit_notice,
    emit_warning,
};
use crate::options::{ArchiveOptions, ChangeDetection, Sources, Vault};
use crate::pricing::{PriceTable, StorageClass, StorageEstimate};
use crate::side::{ArchiveCatalog, Cleanup, SideFiles};

/// The description prefix of bundles.
pub const BUNDLE_PREFIX: &str = "permafrost-bundle v1";
/// The description prefix of catalog exports.
pub const CATALOG_PREFIX: &str = "permafrost-catalog v1";

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The entries a run will archive, cut into bundles: a value to show,
/// price, or hand to [`archive_planned`]. The entries are held compactly
/// (an [`EntryList`], about 90 bytes a file) and built as [`Entry`] values
/// a bundle at a time.
#[derive(Debug, Clone)]
pub struct ArchivePlan {
    entries: EntryList,
    bundles: BundlePlan,
    roots: Vec<String>,
    unchanged: usize,
}

/// Storing a plan in one class: as bundles, and as one object per file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassCost {
    /// The class.
    pub class: StorageClass,
    /// The plan's bundles.
    pub bundled: StorageEstimate,
    /// The same files as single objects.
    pub single: StorageEstimate,
}

impl ArchivePlan {
    /// Every entry chosen, in bundle order, built (all at once: for small
    /// plans; [`ArchivePlan::entry_list`] is the compact form).
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.to_entries()
    }

    /// Every entry chosen, in bundle order, as held.
    pub fn entry_list(&self) -> &EntryList {
        &self.entries
    }

    /// The number of entries chosen.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The number of bundles.
    pub fn bundles(&self) -> usize {
        self.bundles.len()
    }

    /// The entries of bundle `i`, built.
    pub fn bundle(&self, i: usize) -> Vec<Entry> {
        self.entries.range(self.bundles.bundles[i].clone())
    }

    /// The content bytes of bundle `i`.
    fn bundle_bytes(&self, i: usize) -> u64 {
        self.bundles.bundles[i]
            .clone()
            .map(|j| self.entries.size(j))
            .sum()
    }

    /// Regular files chosen.
    pub fn files(&self) -> u64 {
        self.entries
            .metas()
            .filter(|e| e.kind == EntryType::File)
            .count() as u64
    }

    /// Their bytes.
    pub fn bytes(&self) -> u64 {
        self.entries.metas().map(|e| e.size).sum()
    }

    /// Entries left out because they did not change since last stored.
    pub fn unchanged(&self) -> usize {
        self.unchanged
    }

    /// Nothing to archive.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The roots the run records.
    pub fn roots(&self) -> &[String] {
        &self.roots
    }

    /// Billed upload requests of the bundles (one per bundle up to a part,
    /// else initiate, parts and complete).
    pub fn upload_requests(&self, options: &ArchiveOptions) -> u64 {
        (0..self.bundles())
            .map(|i| options.requests_for(self.bundle_bytes(i)))
            .sum()
    }

    /// What storing the plan costs in each of `classes`, as bundles and as
    /// single files.
    pub fn cost_picture(
        &self,
        options: &ArchiveOptions,
        prices: &PriceTable,
        classes: &[StorageClass],
    ) -> Result<Vec<ClassCost>> {
        let n = self.bundles() as u64;
        let files = self.files();
        let bytes = self.bytes();
        let requests = self.upload_requests(options);
        classes
            .iter()
            .map(|&class| {
                Ok(ClassCost {
                    class,
                    bundled: prices.storage(class, n, bytes, requests)?,
                    single: prices.storage(class, files, bytes, files)?,
                })
            })
            .collect()
    }

    /// A plan of `entries` as they are (no change detection, no roots):
    /// cut into bundles by `options`' limits.
    pub(crate) fn of_entries(entries: EntryList, options: &ArchiveOptions) -> Result<Self> {
        let bundles = BundlePlan::from_sizes(
            (0..entries.len()).map(|i| entries.size(i)),
            BundleLimits {
                max_members: usize::try_from(options.max_files).unwrap_or(usize::MAX),
                max_bytes: options.max_bundle_size,
            },
        )?;
        Ok(ArchivePlan {
            entries,
            bundles,
            roots: Vec::new(),
            unchanged: 0,
        })
    }

    fn summary(&self) -> PlanSummary {
        PlanSummary {
            entries: self.entries.len(),
            files: self.files(),
            bytes: self.bytes(),
            bundles: self.bundles(),
            unchanged: self.unchanged,
        }
    }
}

/// What an archive run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// The run's uid; `None` when nothing was new or changed (no run).
    pub run: Option<String>,
    /// The vault.
    pub vault: String,
    /// The store's location.
    pub store: String,
    /// Regular files archived.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bundles stored.
    pub bundles: usize,
    /// Bytes stored (compressed, encrypted).
    pub stored_bytes: u64,
    /// The archive id of the run's catalog export.
    pub catalog_export: Option<String>,
    /// Entries left out because they did not change.
    pub unchanged: usize,
    /// Interrupted earlier runs closed first (uids).
    pub closed_runs: Vec<String>,
}

/// Chooses what a run over `sources` would archive, without touching a
/// store: walks, leaves out what the catalog holds unchanged (unless
/// [`ArchiveOptions::all`]), and cuts the rest into bundles.
pub fn plan_archive(
    sources: &Sources,
    options: &ArchiveOptions,
    catalog: &ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<ArchivePlan> {
    let (entries, roots) = collect(sources, options, observer)?;
    plan_from(entries, roots, options, catalog.catalog(), observer)
}

fn plan_from(
    mut entries: EntryList,
    roots: Vec<String>,
    options: &ArchiveOptions,
    cat: &Catalog,
    observer: &dyn Observer,
) -> Result<ArchivePlan> {
    let before = entries.len();
    if options.changes == ChangeDetection::Changed {
        crate::changes::changed(cat, &mut entries)?;
    }
    let mut plan = ArchivePlan::of_entries(entries, options)?;
    plan.unchanged = before - plan.entries.len();
    plan.roots = roots;
    tracing::debug!(target: "archiver", entries = plan.entries.len(), bundles = plan.bundles(), unchanged = plan.unchanged, "planned");
    observer.planned(&plan.summary());
    Ok(plan)
}

/// The entries of `sources` and the roots to record.
fn collect(
    sources: &Sources,
    options: &ArchiveOptions,
    observer: &dyn Observer,
) -> Result<(EntryList, Vec<String>)> {
    match sources {
        Sources::Roots(paths) => {
            let mut roots = Vec::new();
            for p in paths {
                roots.push(std::fs::canonicalize(p).map_err(|source| Error::Source {
                    path: p.clone(),
                    source,
                })?);
            }
            let (list, report) = Walker::new(WalkOptions {
                roots: roots.clone(),
                time: options.time,
                name_style: NameStyle::Absolute,
                ..WalkOptions::default()
            })?
            .walk_list()?;
            for issue in &report.unreadable {
                emit_warning(
                    observer,
                    &Warning::Unreadable {
                        path: issue.path.clone(),
                        message: issue.message.clone(),
                    },
                );
            }
            let roots = roots.iter().map(|r| r.display().to_string()).collect();
            Ok((list, roots))
        }
        Sources::Entries(list) => {
            let mut entries = Vec::with_capacity(list.len());
            for e in list {
                let name = e
                    .path
                    .strip_prefix('/')
                    .ok_or_else(|| Error::InvalidEntry {
                        path: e.path.clone(),
                        reason: "a catalog path must be absolute",
                    })?;
                if name.is_empty()
                    || name
                        .split('/')
                        .any(|c| c.is_empty() || c == "." || c == "..")
                {
                    return Err(Error::InvalidEntry {
                        path: e.path.clone(),
                        reason: "a catalog path needs non-empty components, none `.` or `..`",
                    });
                }
                let entry = std::fs::symlink_metadata(&e.source)
                    .map_err(|err| err.to_string())
                    .and_then(|m| {
                        Entry::from_metadata(e.source.clone(), name.as_bytes().to_vec(), &m)
                            .ok_or_else(|| "not a file, directory or readable symlink".to_owned())
                    });
                match entry {
                    Ok(entry) => {
                        if options.time.is_none_or(|w| keeps(&w, &entry)) {
                            entries.push(entry);
                        }
                    }
                    Err(message) => emit_warning(
                        observer,
                        &Warning::Unreadable {
                            path: e.source.clone(),
                            message,
                        },
                    ),
                }
            }
            let roots = common_dir(list.iter().map(|e| e.path.as_str()))
                .into_iter()
                .collect();
            Ok((entries.into(), roots))
        }
    }
}

/// Whether an explicit entry lies in the time window (directories always,
/// as the walk keeps them).
fn keeps(w: &bundler::TimeWindow, e: &Entry) -> bool {
    if e.kind == EntryKind::Dir {
        return true;
    }
    let t = match w.field {
        bundler::TimeField::Mtime => e.mtime,
        bundler::TimeField::Atime => e.atime,
        bundler::TimeField::Ctime => e.ctime,
    };
    let ago = |d: std::time::Duration| {
        bundler::Timestamp::from(w.now.checked_sub(d).unwrap_or(std::time::UNIX_EPOCH))
    };
    w.older_than.is_none_or(|d| t <= ago(d)) && w.newer_than.is_none_or(|d| t >= ago(d))
}

/// The longest directory all `paths` lie in (`/` at least).
fn common_dir<'a>(paths: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut common: Option<Vec<&str>> = None;
    for p in paths {
        let dirs: Vec<&str> = p
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .split('/')
            .collect();
        common = Some(match common {
            None => dirs,
            Some(c) => c
                .iter()
                .zip(&dirs)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    common.map(|c| {
        let s = c.join("/");
        if s.is_empty() { "/".to_owned() } else { s }
    })
}

/// Archives `sources` into `vault`, recording everything in `catalog`:
/// settles what an interrupted earlier run left ([`recover`]), chooses the
/// entries ([`plan_archive`]) and stores them ([`archive_planned`]).
pub fn archive(
    sources: &Sources,
    options: &ArchiveOptions,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<ArchiveSummary> {
    let (entries, roots) = collect(sources, options, observer)?;
    vault.create_if_missing()?;
    let closed = recover(vault, catalog, observer)?;
    let plan = plan_from(entries, roots, options, catalog.catalog(), observer)?;
    // Owned: the entries are freed once bundled, before the export.
    let mut summary = store_plan(Cow::Owned(plan), options, vault, catalog, observer)?;
    summary.closed_runs = closed;
    Ok(summary)
}

/// Stores a plan made by [`plan_archive`]: begins a run, bundles and
/// uploads `options.jobs` bundles at a time, records each, ends the run and
/// stores its catalog export (`permafrost-catalog v1 run=UID`). An empty
/// plan begins no run. On the first failure the bundles in flight finish
/// or fail, no new one starts, and the error names the bundle and run; the
/// run stays open and the next [`archive`] completes it.
pub fn archive_planned(
    plan: &ArchivePlan,
    options: &ArchiveOptions,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<ArchiveSummary> {
    store_plan(Cow::Borrowed(plan), options, vault, catalog, observer)
}

/// [`archive_planned`]; a plan given owned is dropped (its entries freed)
/// once every bundle is stored, before the run's export is made.
#[allow(clippy::too_many_lines)]
fn store_plan(
    plan: Cow<'_, ArchivePlan>,
    options: &ArchiveOptions,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<ArchiveSummary> {
    let files = plan.files();
    let bytes = plan.bytes();
    let store_name = vault.store.location();
    let mut summary = ArchiveSummary {
        run: None,
        vault: vault.name.clone(),
        store: store_name.clone(),
        files,
        bytes,
        bundles: plan.bundles(),
        stored_bytes: 0,
        catalog_export: None,
        unchanged: plan.unchanged,
        closed_runs: Vec::new(),
    };
    if plan.is_empty() {
        summary.files = 0;
        summary.bytes = 0;
        summary.bundles = 0;
        return Ok(summary);
    }
    // Bad recipients fail here, before a run begins.
    if !options.encrypt_to.is_empty() {
        Encryption::recipients(&options.encrypt_to)?;
    }
    let side = catalog.side().clone();
    let cat = catalog.catalog_mut();
    let store_id = cat.store(&store_name, &vault.kind, Some(&store_name))?;
    let vault_id = cat.vault(store_id, &vault.name)?;
    let run_options = recorded_options(options);
    // Claimed before it begins, so that no other host sharing the catalog
    // takes it for an interrupted run while it is being archived.
    let uid = catalog::new_run_uid();
    let side_run = side.clone();
    side_run.while_holding_run(&uid.clone(), move || {
    let run_id = cat.begin_run(&NewRun {
        uid: Some(uid.clone()),
        roots: plan.roots.clone(),
        description: options.description.clone(),
        tags: options.tags.clone(),
        options: run_options,
        started: now(),
    })?;
    summary.run = Some(uid.clone());
    tracing::info!(target: "archiver", run = %uid, files, bytes, bundles = plan.bundles(), vault = %vault.name, "archive run started");
    observer.run_started(&RunStarted {
        uid: uid.clone(),
        files,
        bytes,
        bundles: plan.bundles(),
        vault: vault.name.clone(),
        store: store_name.clone(),
    });
    let target = BundleTarget {
        run_id,
        vault_id,
        uid: &uid,
        unit: None,
    };
    let stored = store_bundles(&plan, options, vault, cat, &side, &target, observer);
    // Bundling is over: what it held is not needed for the export.
    drop(plan);
    if !options.keep_buffers {
        bundler::release_buffers();
    }
    let stored_bytes = stored?;
    let uploader = uploader(vault, options);
    let info = finish_and_export(cat, &side, &uploader, &vault.name, run_id, &uid)?;
    summary.stored_bytes = stored_bytes;
    summary.catalog_export = Some(info.archive_id);
    tracing::info!(target: "archiver", run = %uid, stored = summary.stored_bytes, "archive run finished");
    Ok(summary)
    })
}

/// The options recorded with a run: the caller's, the bundle limits and
/// the compression.
pub(crate) fn recorded_options(options: &ArchiveOptions) -> BTreeMap<String, String> {
    let mut run_options = options.run_options.clone();
    run_options.insert("max_files".to_owned(), options.max_files.to_string());
    run_options.insert(
        "max_bundle_size".to_owned(),
        options.max_bundle_size.to_string(),
    );
    run_options.insert(
        "compress".to_owned(),
        match options.compression {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
        .to_owned(),
    );
    run_options
}

/// Where [`store_bundles`] puts a plan's bundles: a run, a vault and, for
/// a work unit of a run shared by many hosts, the unit's claim (its number
/// goes into the bundles' descriptions, `… run=UID unit=U seq=N`, and its
/// files are recorded only while the claim holds).
pub(crate) struct BundleTarget<'a> {
    pub(crate) run_id: RunId,
    pub(crate) vault_id: catalog::VaultId,
    pub(crate) uid: &'a str,
    pub(crate) unit: Option<&'a catalog::UnitClaim>,
}

/// Bundles and uploads the bundles of `plan`, `options.jobs` at a time,
/// recording each in `cat` (as uploading first, then stored with its
/// files). Returns the bytes stored. On the first failure the bundles in
/// flight finish or fail, no new one starts, and the error names the
/// bundle and run.
#[allow(clippy::too_many_lines)]
pub(crate) fn store_bundles(
    plan: &ArchivePlan,
    options: &ArchiveOptions,
    vault: &Vault,
    cat: &mut Catalog,
    side: &SideFiles,
    target: &BundleTarget<'_>,
    observer: &dyn Observer,
) -> Result<u64> {
    let uid = target.uid;
    let bytes = plan.bytes();
    let encryption = if options.encrypt_to.is_empty() {
        None
    } else {
        Some(Encryption::recipients(&options.encrypt_to)?)
    };
    let uploader = uploader(vault, options);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let stored_bytes = AtomicU64::new(0);
    let progress = observer.progress(&Transfer::Archive { run: uid });
    // Progress in content bytes bundled and stored.
    progress.start(Some(bytes), Some(plan.bundles() as u64), 0);
    let (to_catalog, requests) = mpsc::channel::<Request>();
    let recorded = std::thread::scope(|s| {
        // The catalog's one writer: lanes hand it their rows and go on.
        let writer = s.spawn(|| {
            let r = record(cat, &requests, uid, target.unit);
            if r.is_err() {
                stop.store(true, Ordering::SeqCst);
            }
            // Wakes lanes waiting for a reply, fails those that send.
            drop(requests);
            r
        });
        for _ in 0..options.jobs.max(1) {
            let to_catalog = to_catalog.clone();
            s.spawn(|| {
                let to_catalog = to_catalog;
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= plan.bundles() {
                        return;
                    }
                    // Built for this bundle only, freed after it.
                    let members = plan.bundle(i);
                    let content: u64 = members.iter().map(|e| e.size).sum();
                    let event = BundleEvent {
                        run: uid.to_owned(),
                        seq: i,
                        members: members.len(),
                        bytes: content,
                    };
                    observer.bundle_started(&event);
                    let r = one_bundle(
                        &to_catalog,
                        side,
                        &uploader,
                        vault,
                        NewArchive {
                            run: target.run_id,
                            vault: target.vault_id,
                            remote_id: None,
                            size: content,
                            stored_size: None,
                            tree_hash: None,
                            description: match target.unit {
                                Some(u) => format!("{BUNDLE_PREFIX} run={uid} unit={} seq={i}", u.unit),
                                None => format!("{BUNDLE_PREFIX} run={uid} seq={i}"),
                            },
                            tags: vec![],
                            created: now(),
                            state: ArchiveState::Uploading,
                            recipients: options.encrypt_to.clone(),
                        },
                        i,
                        &members,
                        BundleOptions {
                            compression: options.compression,
                            encryption: encryption.clone(),
                            ..BundleOptions::default()
                        },
                        options,
                        observer,
                    );
                    match r {
                        Ok((archive_id, n)) => {
                            stored_bytes.fetch_add(n, Ordering::SeqCst);
                            tracing::debug!(target: "archiver", run = %uid, seq = i, archive_id = %archive_id, stored = n, "bundle stored");
                            observer.bundle_stored(&event, &archive_id, n);
                            progress.advance(content);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            let mut fe = first_error.lock().unwrap_or_else(PoisonError::into_inner);
                            if fe.is_none() {
                                *fe = Some(Error::Bundling {
                                    seq: i,
                                    run: uid.to_owned(),
                                    source: Box::new(e),
                                });
                            }
                            return;
                        }
                    }
                }
            });
        }
        drop(to_catalog);
        writer
            .join()
            .unwrap_or(Err(Error::Panicked("catalog writer")))
    });
    drop(progress);
    // The writer's failure is the cause of the lanes' that followed it.
    recorded?;
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(e);
    }
    Ok(stored_bytes.load(Ordering::SeqCst))
}

/// Ends run `run_id` (if it has not ended) and stores its catalog export
/// in the vault, marked `permafrost-catalog v1 run=UID`, so
/// [`crate::rebuild_catalog`] can find it. The run is listed beside the
/// catalog until the export is stored, so a kill in between is completed
/// by [`recover`] (at worst the vault then holds the export twice, which
/// a rebuild imports once).
pub(crate) fn finish_and_export(
    cat: &mut Catalog,
    side: &SideFiles,
    uploader: &Uploader,
    vault: &str,
    run_id: RunId,
    uid: &str,
) -> Result<glacier_multipart::ArchiveInfo> {
    side.set_export_pending(uid, true)?;
    if cat.run(run_id)?.is_some_and(|r| r.ended.is_none()) {
        cat.finish_run(run_id, now())?;
    }
    // Streamed into the store while it is written (it grows with the
    // run's files: tens of MiB for a million): at most the pipe and one
    // part in memory. An export that fails leaves the pipe unfinished,
    // so the upload fails too and nothing half-written is stored.
    let desc = format!("{CATALOG_PREFIX} run={uid}");
    let (mut w, mut r) = crate::pipe::pipe(4);
    let (exported, info) = std::thread::scope(|s| {
        let up = s.spawn(move || {
            let info = uploader.upload_reader(vault, &mut r, &desc, None, &NoProgress);
            drop(r);
            info
        });
        let exported = cat
            .export_run(run_id, &mut w, "run export")
            .map_err(Error::from)
            .and_then(|_| w.finish().map_err(|source| Error::Stream { source }));
        let info = up.join();
        (exported, info)
    });
    exported?;
    let info = info
        .map_err(|_| Error::Panicked("export upload"))?
        .map_err(Error::store(format!(
            "storing the catalog export of run {uid}"
        )))?;
    side.set_export_pending(uid, false)?;
    Ok(info)
}

/// What the lanes ask of the catalog's writer.
enum Request {
    /// Record an archive as uploading; the reply carries its key.
    Add(Box<NewArchive>, mpsc::SyncSender<Result<ArchiveKey>>),
    /// Mark archive `key` (bundle `seq`) stored, then record its files.
    Stored {
        key: ArchiveKey,
        seq: usize,
        info: glacier_multipart::ArchiveInfo,
        files: Vec<FileEntry>,
    },
}

/// The uploader of a run's bundles and its export, as `options` set it up.
fn uploader(vault: &Vault, options: &ArchiveOptions) -> Uploader {
    Uploader::new(
        vault.store.clone(),
        UploadOptions {
            part_size: options.part_size,
            concurrency: options.upload_concurrency,
            retry: options.retry,
            state_dir: None,
        },
    )
}

/// Files recorded per transaction: large enough that the catalog indexes
/// them on its second thread and writes few index segments.
const RECORD_BATCH: usize = 16 * 1024;

/// The catalog's writer during a run: records archives as they start, and
/// marks each stored as soon as it is; the files of stored archives are
/// recorded [`RECORD_BATCH`] at a time (and the rest once every lane is
/// done, even after a failure). A crash in between leaves stored archives
/// without files, whose files the next run archives again, as a crash
/// between marking one stored and recording its files always could.
/// Returns the catalog when the lanes are done.
fn record(
    cat: &mut Catalog,
    requests: &mpsc::Receiver<Request>,
    uid: &str,
    claim: Option<&catalog::UnitClaim>,
) -> Result<()> {
    let mut pending: Vec<(ArchiveKey, usize, Vec<FileEntry>)> = Vec::new();
    let mut count = 0usize;
    let flush = |cat: &mut Catalog, pending: &mut Vec<(ArchiveKey, usize, Vec<FileEntry>)>| {
        let Some(&(_, seq, _)) = pending.first() else {
            return Ok(());
        };
        let batches: Vec<(ArchiveKey, &[FileEntry])> =
            pending.iter().map(|(k, _, f)| (*k, f.as_slice())).collect();
        let r = match claim {
            Some(claim) => cat.insert_many_claimed(&batches, claim),
            None => cat.insert_many(&batches),
        }
        .map_err(|e| Error::Bundling {
            seq,
            run: uid.to_owned(),
            source: Box::new(e.into()),
        });
        pending.clear();
        r
    };
    for request in requests {
        match request {
            Request::Add(archive, reply) => {
                // A failure goes back to the lane, which fails its bundle.
                let _ = reply.send(cat.add_archive(&archive).map_err(Error::from));
            }
            Request::Stored {
                key,
                seq,
                info,
                files,
            } => {
                // Stored first: a crash between the two leaves a known
                // archive whose files the next run archives again, never
                // files of a forgotten one.
                let marked = cat.set_archive_stored(
                    key,
                    &info.archive_id,
                    Some(&info.tree_hash.to_hex()),
                    info.size,
                );
                if let Err(e) = marked {
                    let _ = flush(cat, &mut pending);
                    return Err(Error::Bundling {
                        seq,
                        run: uid.to_owned(),
                        source: Box::new(e.into()),
                    });
                }
                count += files.len();
                pending.push((key, seq, files));
                if count >= RECORD_BATCH {
                    count = 0;
                    flush(cat, &mut pending)?;
                }
            }
        }
    }
    flush(cat, &mut pending)?;
    Ok(())
}

/// Bundles `members` into the uploader, then hands the archive's files to
/// the catalog's writer. The archive is recorded as uploading while the
/// bundle is being compressed, before the first byte goes to the store.
/// Returns the archive id and the bytes stored.
#[allow(clippy::too_many_arguments)]
fn one_bundle(
    to_catalog: &mpsc::Sender<Request>,
    side: &SideFiles,
    uploader: &Uploader,
    vault: &Vault,
    archive: NewArchive,
    seq: usize,
    members: &[Entry],
    bundle_options: BundleOptions,
    options: &ArchiveOptions,
    observer: &dyn Observer,
) -> Result<(String, u64)> {
    let gone = || Error::Panicked("catalog writer");
    let desc = archive.description.clone();
    let (reply, key) = mpsc::sync_channel(1);
    to_catalog
        .send(Request::Add(Box::new(archive), reply))
        .map_err(|_| gone())?;
    let (w, mut r) = crate::pipe::pipe(8);
    let (up, written) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<BundleIndex> {
            let written = BundleWriter::new(w, bundle_options).write(members)?;
            written
                .sink
                .finish()
                .map_err(|source| Error::Stream { source })?;
            Ok(written.index)
        });
        let up = match key.recv().unwrap_or_else(|_| Err(gone())) {
            Ok(key) => Ok((
                key,
                uploader
                    .upload_reader(&vault.name, &mut r, &desc, None, &NoProgress)
                    .map_err(Error::store(format!("uploading {desc}"))),
            )),
            Err(e) => Err(e),
        };
        drop(r);
        let written = writer
            .join()
            .unwrap_or(Err(Error::Panicked("bundle writer")));
        (up, written)
    });
    let (key, up) = up?;
    let index = written?;
    let info = up?;
    for s in &index.skipped {
        emit_warning(
            observer,
            &Warning::LeftOut {
                name: s.path.lossy(),
                message: s.message.clone(),
            },
        );
    }
    for m in &index.members {
        if let Some(p) = &m.problem {
            emit_warning(
                observer,
                &Warning::Changed {
                    name: m.path.lossy(),
                    message: p.clone(),
                },
            );
        }
    }
    // Change times as the walk saw them, for the next run's change
    // detection (the bundle index does not carry them).
    let by_name: HashMap<&[u8], &Entry> = members.iter().map(|e| (e.name.as_slice(), e)).collect();
    let files: Vec<FileEntry> = index
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut f = file_entry(&index, i as u64, m);
            let e = by_name.get(m.path.0.as_slice());
            f.ctime = e.map(|e| e.ctime.secs);
            if let (Some(hook), Some(e)) = (&options.entry_hook, e) {
                hook.before_record(&e.source, &mut f);
            }
            f
        })
        .collect();
    side.save_index(&info.archive_id, &index)?;
    let stored = (info.archive_id.clone(), info.size);
    to_catalog
        .send(Request::Stored {
            key,
            seq,
            info,
            files,
        })
        .map_err(|_| gone())?;
    Ok(stored)
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The catalog row of one bundle member.
fn file_entry(index: &BundleIndex, i: u64, m: &MemberIndex) -> FileEntry {
    let kind_bits = match m.kind {
        MemberKind::File | MemberKind::HardLink => 0o100_000,
        MemberKind::Dir => 0o040_000,
        MemberKind::Symlink => 0o120_000,
    };
    let stored = index.encrypted_range(m.range);
    let origin = index
        .frames
        .get(m.frames.0 as usize)
        .map_or(0, |f| f.tar_offset);
    FileEntry {
        path: format!("/{}", m.path.lossy()),
        size: m.size,
        mtime: m.mtime.secs,
        mode: kind_bits | m.mode,
        uid: Some(m.uid),
        gid: Some(m.gid),
        sha256: m.sha256.as_deref().and_then(unhex32),
        symlink: if m.kind == MemberKind::Symlink {
            m.link.as_ref().map(bundler::MemberPath::lossy)
        } else {
            None
        },
        member: Some(MemberLocation {
            index: i,
            offset: m.tar_offset,
            packed: Some(PackedRange {
                start: stored.start,
                end: stored.end,
                origin,
            }),
        }),
        ..FileEntry::default()
    }
}

/// Settles what an interrupted run left in `vault`: aborts our half-done
/// multipart uploads, forgets archives recorded as `uploading` (their files
/// are archived again by the next run), deletes bundles that reached the
/// vault unrecorded once an inventory shows them (the list waits beside
/// the catalog until then), and closes every run that never ended, storing
/// its catalog export. Returns the uids of the runs closed.
pub fn recover(
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<Vec<String>> {
    let mut unfinished = reconcile(vault, catalog, observer)?;
    let side = catalog.side().clone();
    for uid in side.pending_exports()? {
        if side.run_is_live_elsewhere(&uid)? {
            continue;
        }
        match catalog.catalog().run_by_uid(&uid)? {
            Some(run) if !unfinished.iter().any(|(id, _)| *id == run.id) => {
                unfinished.push((run.id, uid));
            }
            Some(_) => {}
            None => side.set_export_pending(&uid, false)?,
        }
    }
    let uploader = Uploader::new(vault.store.clone(), UploadOptions::default());
    let mut closed = Vec::new();
    for (id, uid) in unfinished {
        emit_notice(observer, &Notice::ClosingRun { uid: uid.clone() });
        finish_and_export(
            catalog.catalog_mut(),
            &side,
            &uploader,
            &vault.name,
            id,
            &uid,
        )?;
        closed.push(uid);
    }
    Ok(closed)
}

/// Aborts our uploads and forgets `uploading` archives. Returns the runs
/// that never ended.
fn reconcile(
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<Vec<(RunId, String)>> {
    let store = &vault.store;
    let uploads = store
        .list_multipart_uploads(&vault.name)
        .map_err(Error::store(format!(
            "listing uploads in vault {}",
            vault.name
        )))?;
    let side = catalog.side().clone();
    for u in uploads {
        if u.description.starts_with(BUNDLE_PREFIX) || u.description.starts_with(CATALOG_PREFIX) {
            if let Some(uid) = run_of(&u.description)
                && side.run_is_live_elsewhere(uid)?
            {
                continue;
            }
            emit_notice(
                observer,
                &Notice::AbortingUpload {
                    description: u.description.clone(),
                },
            );
            store
                .abort_multipart_upload(&vault.name, &u.upload_id)
                .map_err(Error::store(format!("aborting upload {}", u.upload_id)))?;
        }
    }
    let cat = catalog.catalog_mut();
    let mut unfinished = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    let runs = cat.runs()?;
    let mut archives = BTreeMap::new();
    for run in &runs {
        let list = cat.archives_of_run(run.id)?;
        for a in &list {
            if a.info.state == ArchiveState::Stored
                && let Some(id) = &a.info.remote_id
            {
                known.insert(id.clone());
            }
        }
        archives.insert(run.id, list);
    }
    let mut forget = Vec::new();
    for run in &runs {
        // Another host's run in progress on a shared catalog.
        if side.is_shared() && side.run_is_live_elsewhere(&run.uid)? {
            continue;
        }
        if run.ended.is_none() {
            unfinished.push((run.id, run.uid.clone()));
        }
        for a in archives.get(&run.id).into_iter().flatten() {
            if a.info.state == ArchiveState::Uploading {
                forget.push(a);
            }
        }
    }
    forget_uploading(cat, &side, &forget, observer)?;
    clean_unknown(vault, &side, &known, observer)?;
    Ok(unfinished)
}

/// Forgets archives recorded as `uploading` (marks them deleted, so their
/// files are archived again). They are listed for the inventory cleanup
/// beside the catalog first, so a kill in between still leaves their
/// uploads to be looked for.
pub(crate) fn forget_uploading(
    cat: &mut Catalog,
    side: &SideFiles,
    forget: &[&Archive],
    observer: &dyn Observer,
) -> Result<()> {
    if !forget.is_empty() {
        let mut todo = side.load_cleanup()?;
        for a in forget {
            if !todo.descriptions.contains(&a.info.description) {
                todo.descriptions.push(a.info.description.clone());
            }
        }
        side.save_cleanup(&todo)?;
    }
    for a in forget {
        emit_notice(
            observer,
            &Notice::Forgetting {
                description: a.info.description.clone(),
            },
        );
        cat.set_archive_state(a.key, ArchiveState::Deleted)?;
    }
    Ok(())
}

/// The run uid in a bundle's or export's description (`… run=UID …`).
fn run_of(description: &str) -> Option<&str> {
    description.split(' ').find_map(|w| w.strip_prefix("run="))
}

/// Deletes archives of forgotten uploads that did reach the vault, found by
/// their descriptions in an inventory. When the inventory is not ready
/// (hours on AWS), says so and keeps the list for a later run.
fn clean_unknown(
    vault: &Vault,
    side: &SideFiles,
    known: &HashSet<String>,
    observer: &dyn Observer,
) -> Result<()> {
    let store = &vault.store;
    let v = &vault.name;
    let mut todo: Cleanup = side.load_cleanup()?;
    if todo.descriptions.is_empty() {
        return Ok(());
    }
    let inventory = match request_inventory(vault, todo.inventory_job.as_deref())? {
        InventoryRequest::Ready(inventory) => inventory,
        InventoryRequest::Pending(job) => {
            todo.inventory_job = Some(job);
            emit_warning(
                observer,
                &Warning::InventoryPending {
                    uploads: todo.descriptions.len(),
                    vault: v.clone(),
                },
            );
            return side.save_cleanup(&todo);
        }
    };
    let wanted: HashSet<&String> = todo.descriptions.iter().collect();
    for a in inventory.archives {
        if wanted.contains(&a.description) && !known.contains(&a.archive_id) {
            emit_notice(
                observer,
                &Notice::DeletingUnknown {
                    archive_id: a.archive_id.clone(),
                    description: a.description.clone(),
                },
            );
            store
                .delete_archive(v, &a.archive_id)
                .map_err(Error::store(format!(
                    "deleting archive {} from vault {v}",
                    a.archive_id
                )))?;
        }
    }
    side.clear_cleanup()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_dir_of_entry_paths() {
        let d = |v: &[&str]| common_dir(v.iter().copied());
        assert_eq!(d(&["/a/b/c", "/a/b/d"]).as_deref(), Some("/a/b"));
        assert_eq!(d(&["/a/b/c", "/a/x/d"]).as_deref(), Some("/a"));
        assert_eq!(d(&["/a", "/b"]).as_deref(), Some("/"));
        assert_eq!(d(&[]), None);
    }

    #[test]
    fn unhex_rejects_bad_digests() {
        assert_eq!(unhex32("00"), None);
        assert_eq!(unhex32(&"zz".repeat(32)), None);
        assert_eq!(unhex32(&"ab".repeat(32)), Some([0xab; 32]));
    }
}
