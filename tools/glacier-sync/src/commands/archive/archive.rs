//! `glacier-sync archive`: crawl, bundle, upload and catalog in parallel.
//!
//! Each bundle is recorded in the catalog as `uploading` (description
//! `permafrost-bundle v1 run=UID seq=N`) before a byte is sent, streamed by
//! the bundler through a bounded in-memory pipe into the uploader (no
//! temporary copy), then marked stored with its files and their byte
//! ranges in one step. A rerun after a crash first settles what the last
//! run left: half-done multipart uploads of our bundles are aborted and
//! `uploading` archives are dropped from the catalog, and their files are
//! archived again.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use bundler::{
    BundleIndex, BundleLimits, BundleOptions, BundlePlan, BundleWriter, Compression, Encryption,
    Entry, EntryKind, MemberIndex, MemberKind, NameStyle, TimeField, TimeWindow, WalkOptions,
    Walker,
};
use catalog::{
    ArchiveKey, ArchiveState, Catalog, FileEntry, MemberLocation, NewArchive, NewRun, PackedRange,
};
use glacier_multipart::{NoProgress, UploadOptions, Uploader};
use glacier_sync::cost::{StorageClass, US_EAST_1_2026};
use serde_json::json;

use super::cli::{ArchiveArgs, CompressArg, TimeFieldArg};
use super::{
    BUNDLE_PREFIX, CATALOG_PREFIX, catalog_path, human, index_dir, open_catalog, open_target, pipe,
    safe_name, write_atomic,
};
use crate::commands::Ctx;
use crate::commands::common::now;
use crate::exit::Code;

/// Part size of uploads.
const PART: u64 = 16 << 20;

#[allow(clippy::too_many_lines)]
pub(crate) fn run(ctx: &Ctx<'_>, args: &ArchiveArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let mut roots = Vec::new();
    for p in &args.paths {
        roots.push(
            std::fs::canonicalize(p).with_context(|| format!("{}: cannot archive", p.display()))?,
        );
    }
    let time = match (args.older_than, args.newer_than) {
        (None, None) => None,
        (o, n) => {
            let field = match args.time_field {
                TimeFieldArg::Mtime => TimeField::Mtime,
                TimeFieldArg::Atime => TimeField::Atime,
            };
            let mut w = TimeWindow::new(field);
            if let Some(d) = o {
                w = w.older_than_days(d);
            }
            if let Some(d) = n {
                w = w.newer_than_days(d);
            }
            Some(w)
        }
    };
    let walk = Walker::new(WalkOptions {
        roots: roots.clone(),
        time,
        name_style: NameStyle::Absolute,
        ..WalkOptions::default()
    })?
    .walk()?;
    for issue in &walk.report.unreadable {
        out.warn(format!(
            "{}: {}, skipped",
            issue.path.display(),
            issue.message
        ));
    }
    let cat_path = catalog_path(args.place.catalog.as_deref())?;
    let mut cat = open_catalog(Some(&cat_path))?;
    let target = if args.dry_run {
        None
    } else {
        Some(open_target(ctx, &args.place, true)?)
    };
    if let Some(t) = &target {
        let unfinished = reconcile(ctx, &mut cat, t)?;
        let uploader = Uploader::new(t.store.clone(), UploadOptions::default());
        for (id, uid) in unfinished {
            ctx.out.info(format!(
                "closing run {uid}, interrupted earlier, and storing its catalog export"
            ));
            finish_and_export(&mut cat, &uploader, &t.vault, id, &uid)?;
        }
    }
    let entries = if args.all {
        walk.entries
    } else {
        changed(&cat, walk.entries)?
    };
    let files = entries.iter().filter(|e| e.kind == EntryKind::File).count() as u64;
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    if files == 0 && entries.is_empty() {
        out.info("nothing new or changed to archive");
        out.json(&json!({"files": 0, "bytes": 0, "bundles": 0}));
        return Ok(Code::Success);
    }
    let max_members = usize::try_from(args.max_files).unwrap_or(usize::MAX);
    let plan = BundlePlan::new(
        &entries,
        BundleLimits {
            max_members,
            max_bytes: args.max_bundle_size,
        },
    )?;
    let Some(target) = target else {
        dry_run(ctx, &entries, &plan, files, bytes);
        return Ok(Code::Success);
    };
    let encryption = if args.encrypt_to.is_empty() {
        None
    } else {
        Some(Encryption::recipients(&args.encrypt_to)?)
    };
    let compression = match args.compress {
        CompressArg::Zstd => Compression::Zstd,
        CompressArg::Gzip => Compression::Gzip,
        CompressArg::None => Compression::None,
    };
    let kind = if target.remote { "glacier" } else { "local" };
    let store_name = target.store.location();
    let store_id = cat.store(&store_name, kind, Some(&store_name))?;
    let vault_id = cat.vault(store_id, &target.vault)?;
    let started = i64::try_from(now()).unwrap_or(i64::MAX);
    let mut options = std::collections::BTreeMap::new();
    options.insert("max_files".to_owned(), args.max_files.to_string());
    options.insert(
        "max_bundle_size".to_owned(),
        args.max_bundle_size.to_string(),
    );
    options.insert(
        "compress".to_owned(),
        format!("{:?}", args.compress).to_lowercase(),
    );
    let run_id = cat.begin_run(&NewRun {
        uid: None,
        roots: roots.iter().map(|r| r.display().to_string()).collect(),
        description: args.description.clone(),
        tags: args.tags.clone(),
        options,
        started,
    })?;
    let uid = cat
        .run(run_id)?
        .map(|r| r.uid)
        .context("the run just begun is missing from the catalog")?;
    out.info(format!(
        "archiving {files} files ({}) in {} bundles to vault {} of {} (run {uid})",
        human(bytes),
        plan.len(),
        target.vault,
        store_name
    ));
    let uploader = Uploader::new(
        target.store.clone(),
        UploadOptions {
            part_size: PART,
            concurrency: 4,
            ..UploadOptions::default()
        },
    );
    let cat = Mutex::new(cat);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let done_bundles = AtomicUsize::new(0);
    let stored_bytes = Arc::new(AtomicUsize::new(0));
    let bar = crate::progress::Bar::new("archive", ctx.progress_visible());
    // Progress in content bytes bundled and stored.
    glacier_multipart::Progress::start(&bar, Some(bytes), Some(plan.len() as u64), 0);
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= plan.len() {
                        return;
                    }
                    let members = plan.bundle(&entries, i);
                    let r = one_bundle(
                        &cat,
                        &uploader,
                        &target.vault,
                        &cat_path,
                        &NewArchive {
                            run: run_id,
                            vault: vault_id,
                            remote_id: None,
                            size: members.iter().map(|e| e.size).sum(),
                            stored_size: None,
                            tree_hash: None,
                            description: format!("{BUNDLE_PREFIX} run={uid} seq={i}"),
                            tags: vec![],
                            created: i64::try_from(now()).unwrap_or(i64::MAX),
                            state: ArchiveState::Uploading,
                            recipients: args.encrypt_to.clone(),
                        },
                        members,
                        BundleOptions {
                            compression,
                            encryption: encryption.clone(),
                            ..BundleOptions::default()
                        },
                    );
                    match r {
                        Ok(n) => {
                            stored_bytes.fetch_add(
                                usize::try_from(n).unwrap_or(usize::MAX),
                                Ordering::SeqCst,
                            );
                            done_bundles.fetch_add(1, Ordering::SeqCst);
                            glacier_multipart::Progress::advance(
                                &bar,
                                members.iter().map(|e| e.size).sum(),
                            );
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            let mut fe = first_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            if fe.is_none() {
                                *fe = Some(e.context(format!("bundle {i} of run {uid}")));
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    drop(bar);
    let mut cat = cat
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    let info = finish_and_export(&mut cat, &uploader, &target.vault, run_id, &uid)?;
    let stored = stored_bytes.load(Ordering::SeqCst) as u64;
    out.info(format!(
        "archived {files} files ({}) in {} bundles ({} stored); catalog export {}",
        human(bytes),
        plan.len(),
        human(stored),
        info.archive_id
    ));
    out.json(&json!({
        "run": uid,
        "vault": target.vault,
        "store": store_name,
        "files": files,
        "bytes": bytes,
        "bundles": plan.len(),
        "stored_bytes": stored,
        "catalog_export": info.archive_id,
    }));
    Ok(Code::Success)
}

/// Ends run `run` and stores its catalog export in the vault, marked
/// `permafrost-catalog v1 run=UID`, so `catalog rebuild` can find it.
fn finish_and_export(
    cat: &mut Catalog,
    uploader: &Uploader,
    vault: &str,
    run_id: catalog::RunId,
    uid: &str,
) -> anyhow::Result<glacier_multipart::ArchiveInfo> {
    cat.finish_run(run_id, i64::try_from(now()).unwrap_or(i64::MAX))?;
    let mut export = Vec::new();
    cat.export_run(run_id, &mut export, "run export")?;
    let desc = format!("{CATALOG_PREFIX} run={uid}");
    uploader
        .upload_reader(
            vault,
            &mut &export[..],
            &desc,
            Some(export.len() as u64),
            &NoProgress,
        )
        .with_context(|| format!("storing the catalog export of run {uid}"))
}

/// Bundles `members` into the uploader, then records the archive's files.
/// Returns the bytes stored.
#[allow(clippy::too_many_arguments)]
fn one_bundle(
    cat: &Mutex<Catalog>,
    uploader: &Uploader,
    vault: &str,
    cat_path: &std::path::Path,
    archive: &NewArchive,
    members: &[Entry],
    options: BundleOptions,
) -> anyhow::Result<u64> {
    let lock = || {
        cat.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let desc = archive.description.clone();
    let key = lock().add_archive(archive)?;
    let (w, mut r) = pipe(8);
    let (up, written) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> anyhow::Result<BundleIndex> {
            let written = BundleWriter::new(w, options).write(members)?;
            written.sink.finish().context("streaming the bundle")?;
            Ok(written.index)
        });
        let up = uploader.upload_reader(vault, &mut r, &desc, None, &NoProgress);
        drop(r);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the bundle writer panicked")));
        (up, written)
    });
    let index = written?;
    let info = up.with_context(|| format!("uploading {desc}"))?;
    // Change times, for the next run's change detection (the bundle index
    // does not carry them).
    let ctimes: HashMap<&[u8], i64> = members
        .iter()
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(&e.source).ok()?;
            Some((e.name.as_slice(), m.ctime()))
        })
        .collect();
    let files: Vec<FileEntry> = index
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut f = file_entry(&index, i as u64, m);
            f.ctime = ctimes.get(m.path.0.as_slice()).copied();
            f
        })
        .collect();
    let idx_path = index_dir(cat_path).join(format!("{}.json", safe_name(&info.archive_id)));
    write_atomic(&idx_path, &serde_json::to_vec(&index)?)?;
    // Stored first: a crash between the two leaves a known archive whose
    // files the next run archives again, never files of a forgotten one.
    let mut c = lock();
    c.set_archive_stored(
        key,
        &info.archive_id,
        Some(&info.tree_hash.to_hex()),
        info.size,
    )?;
    c.insert_files(key, &files)?;
    Ok(info.size)
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

/// The entries that are new or changed since they were last stored (size,
/// mtime or ctime differ: a replaced file, a new inode, gets a new ctime);
/// directories when new or their mtime changed.
fn changed(cat: &Catalog, entries: Vec<Entry>) -> anyhow::Result<Vec<Entry>> {
    let mut keep = vec![false; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let path = format!("/{}", e.name_lossy());
        let hits = cat.where_is(&path)?;
        let ctime = std::fs::symlink_metadata(&e.source).ok().map(|m| m.ctime());
        let mut same = false;
        for h in &hits {
            if h.state == ArchiveState::Stored && h.size == e.size && h.mtime == e.mtime.secs {
                // A change of ctime (chmod, chown, a replaced file) counts too.
                let recorded = cat.file(h.id)?.and_then(|(_, f)| f.ctime);
                if recorded.is_none() || recorded == ctime {
                    same = true;
                    break;
                }
            }
        }
        if e.kind == EntryKind::Dir {
            keep[i] = !hits
                .iter()
                .any(|h| h.state == ArchiveState::Stored && h.mtime == e.mtime.secs);
            continue;
        }
        keep[i] = !same;
    }
    Ok(entries
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(e, _)| e)
        .collect())
}

/// Settles what an interrupted run left: aborts our half-done multipart
/// uploads and forgets archives recorded as `uploading` (their files are
/// archived again by this run). Returns the runs that never ended.
fn reconcile(
    ctx: &Ctx<'_>,
    cat: &mut Catalog,
    t: &crate::store::Target,
) -> anyhow::Result<Vec<(catalog::RunId, String)>> {
    let uploads = t
        .store
        .list_multipart_uploads(&t.vault)
        .with_context(|| format!("listing uploads in vault {}", t.vault))?;
    for u in uploads {
        if u.description.starts_with(BUNDLE_PREFIX) || u.description.starts_with(CATALOG_PREFIX) {
            ctx.out.info(format!(
                "aborting the unfinished upload of {}",
                u.description
            ));
            t.store
                .abort_multipart_upload(&t.vault, &u.upload_id)
                .with_context(|| format!("aborting upload {}", u.upload_id))?;
        }
    }
    let mut unfinished = Vec::new();
    let mut suspects: Vec<String> = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    for run in cat.runs()? {
        for a in cat.archives_of_run(run.id)? {
            if a.info.state == ArchiveState::Stored
                && let Some(id) = &a.info.remote_id
            {
                known.insert(id.clone());
            }
        }
    }
    for run in cat.runs()? {
        if run.ended.is_none() {
            unfinished.push((run.id, run.uid.clone()));
        }
        for a in cat.archives_of_run(run.id)? {
            if a.info.state == ArchiveState::Uploading {
                ctx.out.info(format!(
                    "forgetting {} (its upload did not finish)",
                    a.info.description
                ));
                forget(cat, a.key)?;
                suspects.push(a.info.description.clone());
            }
        }
    }
    clean_unknown(ctx, cat.path(), t, suspects, &known)?;
    Ok(unfinished)
}

/// What an earlier run may have left in the vault unknown to the catalog:
/// bundles whose upload finished just as the process died. Kept beside the
/// catalog until an inventory shows them.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Cleanup {
    descriptions: Vec<String>,
    inventory_job: Option<String>,
}

/// Deletes archives of forgotten uploads that did reach the vault, found by
/// their descriptions in an inventory. When the inventory is not ready
/// (hours on AWS), says so and keeps the list for a later run.
fn clean_unknown(
    ctx: &Ctx<'_>,
    cat_path: &std::path::Path,
    t: &crate::store::Target,
    suspects: Vec<String>,
    known: &HashSet<String>,
) -> anyhow::Result<()> {
    let mut name = cat_path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".cleanup.json");
    let file = cat_path.with_file_name(name);
    let mut todo: Cleanup = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    todo.descriptions.extend(suspects);
    if todo.descriptions.is_empty() {
        return Ok(());
    }
    let job = match todo.inventory_job.clone() {
        Some(j) => j,
        None => t.store.initiate_job(
            &t.vault,
            &glacier_multipart::JobRequest::inventory(glacier_multipart::InventoryFormat::Json),
        )?,
    };
    let ready = match t.store.describe_job(&t.vault, &job) {
        Ok(i) => i.status == glacier_multipart::JobStatus::Succeeded,
        Err(glacier_multipart::Error::JobNotFound { .. }) => {
            todo.inventory_job = None;
            false
        }
        Err(e) => return Err(e.into()),
    };
    if !ready {
        todo.inventory_job = todo.inventory_job.or(Some(job));
        ctx.out.warn(format!(
            "{} interrupted uploads may have reached vault {}; the inventory that shows them              is not ready yet, a later run deletes them",
            todo.descriptions.len(),
            t.vault
        ));
        write_atomic(&file, &serde_json::to_vec(&todo)?)?;
        return Ok(());
    }
    let data = t.store.get_job_output(&t.vault, &job, None)?.data;
    let inventory = glacier_multipart::Inventory::parse(&data)
        .with_context(|| format!("the inventory of job {job}"))?;
    let wanted: HashSet<&String> = todo.descriptions.iter().collect();
    for a in inventory.archives {
        if wanted.contains(&a.description) && !known.contains(&a.archive_id) {
            ctx.out.info(format!(
                "deleting {} ({}): uploaded by an interrupted run, unknown to the catalog",
                a.archive_id, a.description
            ));
            t.store.delete_archive(&t.vault, &a.archive_id)?;
        }
    }
    let _ = std::fs::remove_file(&file);
    Ok(())
}

fn forget(cat: &mut Catalog, key: ArchiveKey) -> anyhow::Result<()> {
    cat.set_archive_state(key, ArchiveState::Deleted)?;
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn dry_run(ctx: &Ctx<'_>, entries: &[Entry], plan: &BundlePlan, files: u64, bytes: u64) {
    let out = ctx.out;
    let mut requests = 0u64;
    for i in 0..plan.len() {
        let b: u64 = plan.bundle(entries, i).iter().map(|e| e.size).sum();
        requests += if b <= PART { 1 } else { b.div_ceil(PART) + 2 };
    }
    let n = plan.len() as u64;
    let p = US_EAST_1_2026;
    let mut rows = Vec::new();
    out.line(format!(
        "would archive {files} files, {} entries, {} ({bytes} bytes) in {n} bundles",
        entries.len(),
        human(bytes)
    ));
    out.line(format!("cost picture ({}):", p.as_of));
    for class in [StorageClass::GlacierVault, StorageClass::DeepArchive] {
        let bundled = p.storage(class, n, bytes, requests);
        let single = p.storage(class, files, bytes, files);
        out.line(format!(
            "  {class}: bundles {n} objects, {requests} requests ${:.4}, ${:.4}/month; \
             single files {files} objects, ${:.4} requests, ${:.4}/month",
            bundled.upload_requests,
            bundled.per_month(),
            single.upload_requests,
            single.per_month()
        ));
        rows.push(json!({
            "class": class.to_string(),
            "bundles": {"objects": n, "requests": requests, "upload_usd": bundled.upload_requests, "usd_per_month": bundled.per_month(), "minimum_commitment_usd": bundled.minimum_commitment},
            "single": {"objects": files, "requests": files, "upload_usd": single.upload_requests, "usd_per_month": single.per_month(), "minimum_commitment_usd": single.minimum_commitment},
        }));
    }
    out.json(&json!({
        "dry_run": true,
        "files": files,
        "entries": entries.len(),
        "bytes": bytes,
        "bundles": n,
        "prices": p.as_of,
        "cost": rows,
    }));
    let _ = PathBuf::new();
}
