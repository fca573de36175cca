//! Archive runs shared by many hosts (feature `postgres`): one run cut
//! into work units recorded in a PostgreSQL catalog ([`catalog::WorkQueue`]),
//! worked on by any number of workers on any hosts.
//!
//! - [`Cluster::coordinate`] walks the roots' directories (not their
//!   files), cuts them into units of about [`RunPlan::unit_entries`]
//!   entries (a unit: directories whose direct entries it archives, and
//!   the roots themselves), records the run, its spec (where the bundles
//!   go, how they are made) and its units, works on them with its own
//!   workers, waits until every unit is done (a unit whose worker died is
//!   claimed again once its lease runs out), then ends the run and stores
//!   its catalog export, once.
//! - [`Cluster::work`] is a worker: it claims a unit, lists its
//!   directories, leaves out what did not change, bundles, uploads and
//!   records it as a run does, renewing the claim from a thread of its own
//!   meanwhile, and marks it done in a transaction that checks the claim
//!   is still its own.
//!
//! Under kill -9: files are recorded under the unit's claim
//! ([`catalog::Catalog::insert_many_claimed`]), so a worker that lost its
//! claim records nothing more; a unit claimed again after its worker died
//! first forgets that worker's unfinished bundles (as [`crate::recover`]
//! does for a run) and leaves out the files it recorded already, so every
//! file is recorded once; a bundle is recorded stored only once it is.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bundler::{Compression, Entry, EntryList};
use catalog::{ArchiveState, ClaimedUnit, NewRun, Page, RunId, VaultId, WorkQueue};
use glacier_multipart::{UploadOptions, Uploader};
use serde::{Deserialize, Serialize};

use crate::archive::{
    ArchivePlan, ArchiveSummary, BUNDLE_PREFIX, BundleTarget, finish_and_export, forget_uploading,
    now, recorded_options, store_bundles,
};
use crate::error::{Error, Result};
use crate::observer::{Notice, Observer, Warning, emit_notice, emit_warning};
use crate::options::{ArchiveOptions, ChangeDetection, EntryHook, Vault};
use crate::side::{ArchiveCatalog, holder_name};

/// A unit claimed this many times without success is given up (the run
/// then fails, naming it).
pub const MAX_ATTEMPTS: u32 = crate::distributed_max_attempts();

/// What the workers of a run need to know, recorded with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The store's location ([`glacier_multipart::ArchiveStore::location`]).
    pub store: String,
    /// The vault in it.
    pub vault: String,
    /// The run's description.
    pub description: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// At most this many members per bundle.
    pub max_files: u64,
    /// At most this many content bytes per bundle.
    pub max_bundle_size: u64,
    /// `zstd`, `gzip` or `none`.
    pub compress: String,
    /// age recipients.
    pub encrypt_to: Vec<String>,
    /// Part size of uploads.
    pub part_size: u64,
    /// Every entry (`true`) or only those new or changed.
    pub all: bool,
    /// The caller's options recorded with the run (`acls`, ...).
    pub run_options: std::collections::BTreeMap<String, String>,
}

impl RunSpec {
    /// The options a worker archives a unit with (`jobs` bundles at once,
    /// `hook` for each file).
    pub fn options(&self, jobs: usize, hook: Option<Arc<dyn EntryHook>>) -> ArchiveOptions {
        let mut o = ArchiveOptions::default()
            .description(self.description.clone())
            .tags(self.tags.clone())
            .max_files(self.max_files)
            .max_bundle_size(self.max_bundle_size)
            .part_size(self.part_size)
            .jobs(jobs)
            .compression(match self.compress.as_str() {
                "gzip" => Compression::Gzip,
                "none" => Compression::None,
                _ => Compression::Zstd,
            });
        o.encrypt_to.clone_from(&self.encrypt_to);
        o.run_options.clone_from(&self.run_options);
        if self.all {
            o = o.all();
        }
        o.entry_hook = hook;
        o
    }
}

/// How [`Cluster::coordinate`] plans a run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The roots to archive.
    pub roots: Vec<PathBuf>,
    /// About this many entries per unit (a directory is never split).
    pub unit_entries: usize,
    /// How long a unit's claim lasts unless its worker renews it (every
    /// quarter of it): how soon a dead worker's unit is claimed again.
    pub lease: Duration,
    /// Workers of the coordinating process (0: none, others work).
    pub workers: usize,
    /// Bundles in flight per worker.
    pub jobs: usize,
    /// Called for each file the coordinator's own workers record.
    pub entry_hook: Option<Arc<dyn EntryHook>>,
}

impl std::fmt::Debug for dyn EntryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EntryHook")
    }
}

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Only units of this run (default: of any open run, oldest first).
    pub run: Option<String>,
    /// Wait for new runs instead of returning when no run has units left.
    pub follow: bool,
    /// Bundles in flight at once.
    pub jobs: usize,
    /// Called for each file recorded.
    pub entry_hook: Option<Arc<dyn EntryHook>>,
    /// How often to look for a unit when none is free.
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            run: None,
            follow: false,
            jobs: ArchiveOptions::default().jobs,
            entry_hook: None,
            poll: Duration::from_millis(500),
        }
    }
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Units done.
    pub units: u64,
    /// Regular files archived.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bundles stored.
    pub bundles: u64,
    /// Bytes stored.
    pub stored_bytes: u64,
    /// Runs this worker ended (their coordinator was gone).
    pub runs_closed: Vec<String>,
}

/// What a unit did, recorded with it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct UnitResult {
    files: u64,
    bytes: u64,
    bundles: u64,
    stored_bytes: u64,
    unchanged: u64,
}

/// A unit's content: directories whose direct entries it archives, and
/// single entries (the roots).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct UnitContent {
    dirs: Vec<PathBuf>,
    paths: Vec<PathBuf>,
    entries: usize,
}

impl UnitContent {
    /// Bytes: per path a tag (`d` or `p`), its length (u32 LE), its bytes
    /// (names need not be UTF-8).
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, list) in [(b'd', &self.dirs), (b'p', &self.paths)] {
            for p in list {
                let b = p.as_os_str().as_bytes();
                out.push(tag);
                out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
                out.extend_from_slice(b);
            }
        }
        out
    }

    fn decode(mut b: &[u8]) -> Option<Self> {
        let mut c = UnitContent::default();
        while let [tag, rest @ ..] = b {
            let (len, rest) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let path = PathBuf::from(std::ffi::OsStr::from_bytes(rest.get(..len)?));
            match tag {
                b'd' => c.dirs.push(path),
                b'p' => c.paths.push(path),
                _ => return None,
            }
            b = &rest[len..];
        }
        Some(c)
    }
}

/// Cuts the trees under `roots` (canonical) into units of about
/// `unit_entries` entries: directory by directory, depth first.
fn plan_units(roots: &[PathBuf], unit_entries: usize, observer: &dyn Observer) -> Vec<UnitContent> {
    let mut units = Vec::new();
    let mut current = UnitContent {
        paths: roots.to_vec(),
        entries: roots.len(),
        ..UnitContent::default()
    };
    let mut stack: Vec<PathBuf> = roots.iter().filter(|r| r.is_dir()).cloned().collect();
    stack.reverse();
    while let Some(dir) = stack.pop() {
        let list = match std::fs::read_dir(&dir) {
            Ok(l) => l,
            Err(e) => {
                emit_warning(
                    observer,
                    &Warning::Unreadable {
                        path: dir.clone(),
                        message: e.to_string(),
                    },
                );
                continue;
            }
        };
        let mut n = 0;
        let mut subdirs = Vec::new();
        for entry in list.flatten() {
            n += 1;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                subdirs.push(entry.path());
            }
        }
        subdirs.sort();
        stack.extend(subdirs.into_iter().rev());
        current.dirs.push(dir);
        current.entries += n;
        if current.entries >= unit_entries {
            units.push(std::mem::take(&mut current));
        }
    }
    if !current.dirs.is_empty() || !current.paths.is_empty() {
        units.push(current);
    }
    units
}

/// The entries of a unit, as a walk would give them (absolute names).
fn unit_entries(c: &UnitContent, observer: &dyn Observer) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut add = |p: PathBuf| {
        let name = p.as_os_str().as_bytes();
        let name = name.strip_prefix(b"/").unwrap_or(name).to_vec();
        if name.is_empty() {
            return;
        }
        match std::fs::symlink_metadata(&p) {
            Ok(m) => {
                if let Some(e) = Entry::from_metadata(p, name, &m) {
                    out.push(e);
                }
            }
            Err(e) => emit_warning(
                observer,
                &Warning::Unreadable {
                    path: p,
                    message: e.to_string(),
                },
            ),
        }
    };
    for p in &c.paths {
        add(p.clone());
    }
    for d in &c.dirs {
        match std::fs::read_dir(d) {
            Ok(list) => {
                let mut children: Vec<PathBuf> = list.flatten().map(|e| e.path()).collect();
                children.sort();
                for p in children {
                    add(p);
                }
            }
            Err(e) => emit_warning(
                observer,
                &Warning::Unreadable {
                    path: d.clone(),
                    message: e.to_string(),
                },
            ),
        }
    }
    out
}

/// A PostgreSQL catalog shared by the hosts of distributed runs: opens
/// the connections each worker needs.
#[derive(Debug, Clone)]
pub struct Cluster {
    location: String,
    password_file: Option<PathBuf>,
    work: PathBuf,
    pg: catalog::PgLocation,
}

impl Cluster {
    /// The catalog at `location`, which must be `postgres://USER@HOST:PORT/DB`
    /// (password as [`ArchiveCatalog::open_location`] takes it; `work`: the
    /// local directory of this host).
    ///
    /// # Errors
    /// [`Error::NeedsSharedCatalog`] for an SQLite location; a malformed one.
    pub fn new(location: &str, password_file: Option<&Path>, work: &Path) -> Result<Self> {
        let catalog::Location::Postgres(mut pg) = catalog::Location::parse(location)? else {
            return Err(Error::NeedsSharedCatalog {
                location: location.to_owned(),
            });
        };
        if let Some(f) = password_file {
            pg = pg.with_password_file(f);
        }
        Ok(Cluster {
            location: location.to_owned(),
            password_file: password_file.map(Path::to_owned),
            work: work.to_owned(),
            pg,
        })
    }

    /// A connection to the catalog, with its side values.
    pub fn open_catalog(&self) -> Result<ArchiveCatalog> {
        ArchiveCatalog::open_location(&self.location, self.password_file.as_deref(), &self.work)
    }

    /// A connection to the work units.
    pub fn open_queue(&self) -> Result<WorkQueue> {
        Ok(WorkQueue::open(&self.pg)?)
    }

    /// Plans a run over `plan.roots` into `vault` with `options`, works on
    /// it with `plan.workers` workers of this process (others may join
    /// with [`Cluster::work`]), waits until every unit is done, ends the
    /// run and stores its catalog export. Settles what interrupted runs
    /// left first, as [`crate::archive`] does.
    ///
    /// # Errors
    /// A root that cannot be read, the catalog's and store's errors; units
    /// given up after [`MAX_ATTEMPTS`] ([`Error::UnitsFailed`]: the run
    /// stays open); every worker of this process failing (its error).
    #[allow(clippy::too_many_lines)]
    pub fn coordinate(
        &self,
        plan: &RunPlan,
        options: &ArchiveOptions,
        vault: &Vault,
        catalog: &mut ArchiveCatalog,
        observer: &dyn Observer,
    ) -> Result<ArchiveSummary> {
        let mut roots = Vec::new();
        for p in &plan.roots {
            roots.push(std::fs::canonicalize(p).map_err(|source| Error::Source {
                path: p.clone(),
                source,
            })?);
        }
        vault.create_if_missing()?;
        let closed = crate::recover(vault, catalog, observer)?;
        if !options.encrypt_to.is_empty() {
            bundler::Encryption::recipients(&options.encrypt_to)?;
        }
        let units = plan_units(&roots, plan.unit_entries.max(1), observer);
        let entries: usize = units.iter().map(|u| u.entries).sum();
        let store_name = vault.store.location();
        let spec = RunSpec {
            store: store_name.clone(),
            vault: vault.name.clone(),
            description: options.description.clone(),
            tags: options.tags.clone(),
            max_files: options.max_files,
            max_bundle_size: options.max_bundle_size,
            compress: match options.compression {
                Compression::Zstd => "zstd",
                Compression::Gzip => "gzip",
                Compression::None => "none",
            }
            .to_owned(),
            encrypt_to: options.encrypt_to.clone(),
            part_size: options.part_size,
            all: options.changes == ChangeDetection::All,
            run_options: options.run_options.clone(),
        };
        let spec_bytes = serde_json::to_vec(&spec).map_err(|source| Error::Json {
            path: PathBuf::from("run spec"),
            source,
        })?;
        let queue = self.open_queue()?;
        let side = catalog.side().clone();
        let cat = catalog.catalog_mut();
        let store_id = cat.store(&store_name, &vault.kind, Some(&store_name))?;
        // Recorded before the workers look them up.
        cat.vault(store_id, &vault.name)?;
        let mut run_options = recorded_options(options);
        run_options.insert("units".to_owned(), units.len().to_string());
        let uid = catalog::new_run_uid();
        side.clone().while_holding_run(&uid.clone(), move || {
            let run_id = cat.begin_run(&NewRun {
                uid: Some(uid.clone()),
                roots: roots.iter().map(|r| r.display().to_string()).collect(),
                description: options.description.clone(),
                tags: options.tags.clone(),
                options: run_options,
                started: now(),
            })?;
            let contents: Vec<Vec<u8>> = units.iter().map(UnitContent::encode).collect();
            queue.create_run(&uid, &spec_bytes, plan.lease, &contents)?;
            tracing::info!(target: "archiver", run = %uid, units = units.len(), entries, "distributed run planned");
            emit_notice(
                observer,
                &Notice::UnitsPlanned {
                    run: uid.clone(),
                    units: units.len(),
                    entries,
                },
            );
            let worker = WorkerOptions {
                run: Some(uid.clone()),
                follow: false,
                jobs: plan.jobs,
                entry_hook: plan.entry_hook.clone(),
                poll: Duration::from_millis(200),
            };
            let errors = std::thread::scope(|s| {
                let handles: Vec<_> = (0..plan.workers)
                    .map(|_| {
                        let worker = worker.clone();
                        s.spawn(move || self.work(&worker, &|_| Ok(vault.clone()), observer))
                    })
                    .collect();
                let mut errors = Vec::new();
                let mut running = handles.len();
                let mut handles: Vec<Option<_>> = handles.into_iter().map(Some).collect();
                loop {
                    let counts = queue.counts(&uid)?;
                    if counts.left() == 0 {
                        break;
                    }
                    for h in &mut handles {
                        if h.as_ref().is_some_and(std::thread::ScopedJoinHandle::is_finished)
                            && let Some(h) = h.take()
                        {
                            running -= 1;
                            match h.join() {
                                Ok(Err(e)) => errors.push(e),
                                Err(_) => errors.push(Error::Panicked("worker")),
                                Ok(Ok(_)) => {}
                            }
                        }
                    }
                    if plan.workers > 0 && running == 0 && !errors.is_empty() {
                        return Ok::<_, Error>(errors);
                    }
                    queue.reclaim_expired(&uid)?;
                    std::thread::sleep(Duration::from_millis(200));
                }
                for h in handles.into_iter().flatten() {
                    match h.join() {
                        Ok(Err(e)) => errors.push(e),
                        Err(_) => errors.push(Error::Panicked("worker")),
                        Ok(Ok(_)) => {}
                    }
                }
                Ok(errors)
            })?;
            let failures = queue.failures(&uid)?;
            if !failures.is_empty() {
                return Err(Error::UnitsFailed {
                    run: uid.clone(),
                    failures,
                });
            }
            if queue.counts(&uid)?.left() > 0
                && let Some(e) = errors.into_iter().next()
            {
                return Err(e);
            }
            let mut summary = ArchiveSummary {
                run: Some(uid.clone()),
                vault: vault.name.clone(),
                store: store_name.clone(),
                files: 0,
                bytes: 0,
                bundles: 0,
                stored_bytes: 0,
                catalog_export: None,
                unchanged: 0,
                closed_runs: closed,
            };
            for (_, r) in queue.results(&uid)? {
                let r: UnitResult = serde_json::from_slice(&r).unwrap_or_default();
                summary.files += r.files;
                summary.bytes += r.bytes;
                summary.bundles += usize::try_from(r.bundles).unwrap_or(usize::MAX);
                summary.stored_bytes += r.stored_bytes;
                summary.unchanged += usize::try_from(r.unchanged).unwrap_or(usize::MAX);
            }
            if queue.close_run(&uid)? {
                let uploader = Uploader::new(vault.store.clone(), UploadOptions::default());
                let info = finish_and_export(cat, &side, &uploader, &vault.name, run_id, &uid)?;
                summary.catalog_export = Some(info.archive_id);
            }
            Ok(summary)
        })
    }

    /// Works as a worker: claims units (of `options.run`, or of any open
    /// run), archives them into the vault `open_vault` opens for their
    /// run's spec, until no run has units left (unless `options.follow`).
    /// A run whose units are all done and whose coordinator is gone is
    /// ended here, its catalog export stored.
    ///
    /// # Errors
    /// The first unit that fails (it is given back for another attempt, by
    /// any worker, up to [`MAX_ATTEMPTS`]); the catalog's.
    pub fn work(
        &self,
        options: &WorkerOptions,
        open_vault: &(dyn Fn(&RunSpec) -> Result<Vault> + Sync),
        observer: &dyn Observer,
    ) -> Result<WorkerSummary> {
        let mut catalog = self.open_catalog()?;
        let queue = self.open_queue()?;
        let holder = holder_name();
        let mut summary = WorkerSummary::default();
        let mut runs: std::collections::HashMap<String, RunCtx> = std::collections::HashMap::new();
        loop {
            let Some(unit) = queue.claim(options.run.as_deref(), &holder)? else {
                Self::close_orphans(&queue, options, &mut catalog, open_vault, &mut summary)?;
                if let Some(run) = &options.run
                    && !queue.is_open(run)?
                {
                    return Ok(summary);
                }
                if !options.follow && !queue.has_units_left(options.run.as_deref())? {
                    return Ok(summary);
                }
                std::thread::sleep(options.poll);
                continue;
            };
            let run = unit.claim.run.clone();
            if !runs.contains_key(&run) {
                let ctx = RunCtx::load(&queue, &mut catalog, &run, open_vault)?;
                runs.insert(run.clone(), ctx);
            }
            let ctx = &runs[&run];
            let unit_options = ctx.spec.options(options.jobs, options.entry_hook.clone());
            emit_notice(
                observer,
                &Notice::UnitClaimed {
                    run: run.clone(),
                    unit: unit.claim.unit,
                    attempt: unit.attempts,
                },
            );
            let r = renewing(&queue, &unit, || {
                work_unit(&unit, ctx, &unit_options, &mut catalog, observer)
            });
            match r {
                Ok(result) => {
                    let bytes = serde_json::to_vec(&result).unwrap_or_default();
                    if queue.finish(&unit.claim, &bytes)? {
                        summary.units += 1;
                        summary.files += result.files;
                        summary.bytes += result.bytes;
                        summary.bundles += result.bundles;
                        summary.stored_bytes += result.stored_bytes;
                        emit_notice(
                            observer,
                            &Notice::UnitDone {
                                run: run.clone(),
                                unit: unit.claim.unit,
                                files: result.files,
                            },
                        );
                    }
                }
                Err(e) => {
                    queue.give_back(&unit.claim, &error_chain(&e), MAX_ATTEMPTS)?;
                    return Err(Error::Unit {
                        claim: unit.claim.clone(),
                        source: Box::new(e),
                    });
                }
            }
        }
    }

    /// Ends the open runs (of `options.run`) whose units are all done and
    /// whose coordinator no longer holds them.
    fn close_orphans(
        queue: &WorkQueue,
        options: &WorkerOptions,
        catalog: &mut ArchiveCatalog,
        open_vault: &(dyn Fn(&RunSpec) -> Result<Vault> + Sync),
        summary: &mut WorkerSummary,
    ) -> Result<()> {
        for run in queue.open_runs()? {
            if options.run.as_ref().is_some_and(|r| *r != run)
                || queue.counts(&run)?.left() > 0
                || catalog.side().run_is_live_elsewhere(&run)?
                || !queue.failures(&run)?.is_empty()
            {
                continue;
            }
            let ctx = RunCtx::load(queue, catalog, &run, open_vault)?;
            if queue.close_run(&run)? {
                let side = catalog.side().clone();
                let uploader = Uploader::new(ctx.vault.store.clone(), UploadOptions::default());
                finish_and_export(
                    catalog.catalog_mut(),
                    &side,
                    &uploader,
                    &ctx.vault.name,
                    ctx.run_id,
                    &run,
                )?;
                summary.runs_closed.push(run);
            }
        }
        Ok(())
    }
}

/// A run as a worker knows it.
struct RunCtx {
    spec: RunSpec,
    vault: Vault,
    run_id: RunId,
    vault_id: VaultId,
}

impl RunCtx {
    fn load(
        queue: &WorkQueue,
        catalog: &mut ArchiveCatalog,
        uid: &str,
        open_vault: &(dyn Fn(&RunSpec) -> Result<Vault> + Sync),
    ) -> Result<Self> {
        let bytes = queue.run_spec(uid)?.unwrap_or_default();
        let spec: RunSpec = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: PathBuf::from(format!("the spec of run {uid}")),
            source,
        })?;
        let vault = open_vault(&spec)?;
        let cat = catalog.catalog_mut();
        let run = cat.run_by_uid(uid)?.ok_or_else(|| Error::RunHeld {
            uid: uid.to_owned(),
        })?;
        let store_name = vault.store.location();
        let store_id = cat.store(&store_name, &vault.kind, Some(&store_name))?;
        let vault_id = cat.vault(store_id, &vault.name)?;
        Ok(RunCtx {
            spec,
            vault,
            run_id: run.id,
            vault_id,
        })
    }
}

/// Runs `f` while a thread renews `unit`'s claim every quarter lease.
fn renewing<T>(queue: &WorkQueue, unit: &ClaimedUnit, f: impl FnOnce() -> T) -> T {
    let every = (unit.lease / 4).max(Duration::from_millis(250));
    let (done, stop) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
                match queue.renew(&unit.claim) {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(target: "archiver", unit = %unit.claim, "the claim was lost: another worker claimed the unit");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(target: "archiver", unit = %unit.claim, error = %e, "renewing a claim failed");
                    }
                }
            }
        });
        let out = f();
        drop(done);
        out
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Archives one claimed unit.
fn work_unit(
    unit: &ClaimedUnit,
    ctx: &RunCtx,
    options: &ArchiveOptions,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<UnitResult> {
    let content = UnitContent::decode(&unit.content).ok_or_else(|| Error::InvalidEntry {
        path: unit.claim.to_string(),
        reason: "the unit's content is not readable",
    })?;
    let mut list: EntryList = unit_entries(&content, observer).into();
    let before = list.len();
    if options.changes == ChangeDetection::Changed {
        crate::changes::changed(catalog.catalog(), &mut list)?;
    }
    let unchanged = (before - list.len()) as u64;
    if unit.attempts > 1 {
        let recorded = settle_earlier_attempts(unit, ctx, catalog, observer)?;
        if !recorded.is_empty() {
            let mut name = Vec::new();
            let snapshot = list.clone();
            list.retain(|i| {
                snapshot.name_into(i, &mut name);
                let path = format!("/{}", String::from_utf8_lossy(&name));
                !recorded.contains(&path)
            });
        }
    }
    let plan = ArchivePlan::of_entries(list, options)?;
    if plan.is_empty() {
        return Ok(UnitResult {
            unchanged,
            ..UnitResult::default()
        });
    }
    let side = catalog.side().clone();
    let target = BundleTarget {
        run_id: ctx.run_id,
        vault_id: ctx.vault_id,
        uid: &unit.claim.run,
        unit: Some(&unit.claim),
    };
    let stored = store_bundles(
        &plan,
        options,
        &ctx.vault,
        catalog.catalog_mut(),
        &side,
        &target,
        observer,
    )?;
    Ok(UnitResult {
        files: plan.files(),
        bytes: plan.bytes(),
        bundles: plan.bundles() as u64,
        stored_bytes: stored,
        unchanged,
    })
}

/// What earlier workers of `unit` left: their unfinished uploads are
/// aborted and their `uploading` bundles forgotten (listed for an
/// inventory's cleanup, as [`crate::recover`] does); returns the paths of
/// the files they recorded, which this attempt leaves out.
fn settle_earlier_attempts(
    unit: &ClaimedUnit,
    ctx: &RunCtx,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<HashSet<String>> {
    let prefix = format!(
        "{BUNDLE_PREFIX} run={} unit={} ",
        unit.claim.run, unit.claim.unit
    );
    let store = &ctx.vault.store;
    let uploads = store
        .list_multipart_uploads(&ctx.vault.name)
        .map_err(Error::store(format!(
            "listing uploads in vault {}",
            ctx.vault.name
        )))?;
    for u in uploads {
        if u.description.starts_with(&prefix) {
            emit_notice(
                observer,
                &Notice::AbortingUpload {
                    description: u.description.clone(),
                },
            );
            store
                .abort_multipart_upload(&ctx.vault.name, &u.upload_id)
                .map_err(Error::store(format!("aborting upload {}", u.upload_id)))?;
        }
    }
    let side = catalog.side().clone();
    let cat = catalog.catalog_mut();
    let mine: Vec<_> = cat
        .archives_of_run(ctx.run_id)?
        .into_iter()
        .filter(|a| a.info.description.starts_with(&prefix))
        .collect();
    let forget: Vec<_> = mine
        .iter()
        .filter(|a| a.info.state == ArchiveState::Uploading)
        .collect();
    forget_uploading(cat, &side, &forget, observer)?;
    let mut recorded = HashSet::new();
    for a in mine.iter().filter(|a| a.files > 0) {
        let query: catalog::Query = format!("archive:{}", a.key).parse()?;
        let mut page = Page {
            limit: catalog::MAX_PAGE,
            after: None,
        };
        loop {
            let hits = cat.search(&query, page)?;
            recorded.extend(hits.hits.into_iter().map(|h| h.path));
            match hits.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_content_round_trips_any_name() {
        let c = UnitContent {
            dirs: vec![
                PathBuf::from("/a/b"),
                PathBuf::from(std::ffi::OsStr::from_bytes(b"/x\xff\n")),
            ],
            paths: vec![PathBuf::from("/a")],
            entries: 0,
        };
        assert_eq!(UnitContent::decode(&c.encode()), Some(c));
        assert_eq!(UnitContent::decode(b"d\x09\x00\x00\x00/a"), None);
    }

    #[test]
    fn units_cut_a_tree_by_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        for d in 0..5 {
            let dir = root.join(format!("d{d}"));
            std::fs::create_dir(&dir).unwrap();
            for f in 0..10 {
                std::fs::write(dir.join(format!("f{f}")), b"x").unwrap();
            }
        }
        let units = plan_units(std::slice::from_ref(&root), 20, &crate::NoObserver);
        let dirs: usize = units.iter().map(|u| u.dirs.len()).sum();
        assert_eq!(dirs, 6, "the root and its five directories, once each");
        assert!(
            units.len() >= 2 && units.len() <= 4,
            "{} units",
            units.len()
        );
        let entries: Vec<Entry> = units
            .iter()
            .flat_map(|u| unit_entries(u, &crate::NoObserver))
            .collect();
        assert_eq!(entries.len(), 1 + 5 + 50, "root, directories, files");
        let names: HashSet<_> = entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names.len(), entries.len(), "each entry in one unit");
    }
}
