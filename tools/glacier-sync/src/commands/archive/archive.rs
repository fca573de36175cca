//! `glacier-sync archive`: crawl, bundle, upload and catalog in parallel
//! (`archiver::archive`); `--dry-run` prints the plan and its cost picture.

use archiver::pricing::{StorageClass, US_EAST_1_2026};
use archiver::{ArchiveOptions, ArchivePlan, Sources, human_bytes};
use bundler::{Compression, TimeField, TimeWindow};
use serde_json::json;

use super::cli::{ArchiveArgs, CompressArg, TimeFieldArg};
use crate::commands::Ctx;
use crate::commands::acl::cli::AclsArg;
use crate::commands::flow::{Shown, open_records, open_vault};
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &ArchiveArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let mut options = ArchiveOptions::default()
        .description(args.description.clone())
        .tags(args.tags.clone())
        .max_files(args.max_files)
        .max_bundle_size(args.max_bundle_size)
        .compression(match args.compress {
            CompressArg::Zstd => Compression::Zstd,
            CompressArg::Gzip => Compression::Gzip,
            CompressArg::None => Compression::None,
        });
    if let Some(j) = args.jobs {
        options = options.jobs(usize::from(j));
    }
    options.encrypt_to.clone_from(&args.encrypt_to);
    if args.all {
        options = options.all();
    }
    if args.older_than.is_some() || args.newer_than.is_some() {
        let mut w = TimeWindow::new(match args.time_field {
            TimeFieldArg::Mtime => TimeField::Mtime,
            TimeFieldArg::Atime => TimeField::Atime,
        });
        if let Some(d) = args.older_than {
            w = w.older_than_days(d);
        }
        if let Some(d) = args.newer_than {
            w = w.newer_than_days(d);
        }
        options = options.time_window(w);
    }
    let sources = Sources::roots(&args.paths);
    let shown = Shown::new(ctx);
    let mut cat = open_records(args.place.catalog.as_deref())?;
    // Owners' names always; ACLs with --acls (the hook runs on the
    // bundling lanes, its names cached for the run and in the catalog).
    let capture = std::sync::Arc::new(archive_acls::Capture::new(
        args.acls.selection(),
        crate::commands::acl::names(ctx, args.acls != AclsArg::None)?,
    ));
    capture.seed_from(cat.catalog())?;
    options = options
        .entry_hook(capture.clone())
        .run_option("acls", args.acls.selection().as_str());
    if args.dry_run {
        let plan = archiver::plan_archive(&sources, &options, &cat, &shown)?;
        if plan.is_empty() {
            return Ok(nothing(ctx));
        }
        // Priced for the class the location names, without connecting.
        let named = args
            .place
            .store
            .store
            .as_deref()
            .or(args.place.vault.as_deref());
        let vault_class = named.map_or(StorageClass::GlacierVault, StorageClass::of_location);
        dry_run(ctx, &plan, &options, vault_class)?;
        return Ok(Code::Success);
    }
    let vault = open_vault(ctx, &args.place)?;
    let s = match args.workers {
        None => archiver::archive(&sources, &options, &vault, &mut cat, &shown)?,
        Some(n) => distributed(args, n, &options, &vault, &mut cat, &shown, capture.clone())?,
    };
    capture.save_to(cat.catalog_mut())?;
    let acl_stats = capture.stats();
    if args.acls != AclsArg::None {
        out.info(format!(
            "ACLs: {} of {} files have ACLs; {} name lookups ({} from the cache), {} failed",
            acl_stats.with_acls,
            acl_stats.files,
            acl_stats.names.lookups,
            acl_stats.names.hits,
            acl_stats.names.failures
        ));
    }
    let (Some(run), Some(export)) = (&s.run, &s.catalog_export) else {
        return Ok(nothing(ctx));
    };
    out.info(format!(
        "archived {} files ({}) in {} bundles ({} stored); catalog export {export}",
        s.files,
        human_bytes(s.bytes),
        s.bundles,
        human_bytes(s.stored_bytes),
    ));
    out.json(&json!({
        "run": run,
        "vault": s.vault,
        "store": s.store,
        "files": s.files,
        "bytes": s.bytes,
        "bundles": s.bundles,
        "stored_bytes": s.stored_bytes,
        "catalog_export": export,
        "acls": acl_stats,
    }));
    Ok(Code::Success)
}

/// `--workers N`: a run cut into work units in the shared catalog, worked
/// on by N workers of this process and any `glacier-sync worker`.
#[cfg(feature = "postgres")]
fn distributed(
    args: &ArchiveArgs,
    workers: u16,
    options: &ArchiveOptions,
    vault: &archiver::Vault,
    cat: &mut archiver::ArchiveCatalog,
    shown: &Shown,
    hook: std::sync::Arc<archive_acls::Capture>,
) -> anyhow::Result<archiver::ArchiveSummary> {
    if args.older_than.is_some() || args.newer_than.is_some() {
        return Err(crate::exit::coded(
            Code::Usage,
            "--older-than/--newer-than do not work with --workers yet",
        ));
    }
    let cluster = crate::commands::flow::cluster(args.place.catalog.as_deref(), "--workers")?;
    let plan = archiver::distributed::RunPlan {
        roots: args.paths.clone(),
        unit_entries: usize::try_from(args.unit_files).unwrap_or(usize::MAX),
        lease: std::time::Duration::from_secs(args.lease),
        workers: usize::from(workers),
        jobs: options.jobs,
        entry_hook: Some(hook),
    };
    Ok(cluster.coordinate(&plan, options, vault, cat, shown)?)
}

#[cfg(not(feature = "postgres"))]
fn distributed(
    _: &ArchiveArgs,
    _: u16,
    _: &ArchiveOptions,
    _: &archiver::Vault,
    _: &mut archiver::ArchiveCatalog,
    _: &Shown,
    _: std::sync::Arc<archive_acls::Capture>,
) -> anyhow::Result<archiver::ArchiveSummary> {
    Err(crate::exit::coded(
        Code::Usage,
        "--workers needs a build with the `postgres` feature (a PostgreSQL catalog shared by the workers' hosts)",
    ))
}

fn nothing(ctx: &Ctx<'_>) -> Code {
    ctx.out.info("nothing new or changed to archive");
    ctx.out.json(&json!({"files": 0, "bytes": 0, "bundles": 0}));
    Code::Success
}

fn dry_run(
    ctx: &Ctx<'_>,
    plan: &ArchivePlan,
    options: &ArchiveOptions,
    vault_class: StorageClass,
) -> anyhow::Result<()> {
    let out = ctx.out;
    let (files, bytes, n) = (plan.files(), plan.bytes(), plan.bundles());
    let requests = plan.upload_requests(options);
    let p = US_EAST_1_2026;
    // The vault's own class first, then the others a user might choose.
    let classes = StorageClass::compared_with(vault_class);
    out.line(format!(
        "would archive {files} files, {} entries, {} ({bytes} bytes) in {n} bundles",
        plan.len(),
        human_bytes(bytes)
    ));
    out.line(format!("cost picture ({}):", p.as_of));
    let mut rows = Vec::new();
    for c in plan.cost_picture(options, &p, &classes)? {
        let (b, s) = (c.bundled, c.single);
        out.line(format!(
            "  {}: bundles {n} objects, {requests} requests ${:.4}, ${:.4}/month; \
             single files {files} objects, ${:.4} requests, ${:.4}/month",
            c.class,
            b.upload_requests,
            b.per_month(),
            s.upload_requests,
            s.per_month()
        ));
        rows.push(json!({
            "class": c.class.to_string(),
            "bundles": {"objects": n, "requests": requests, "upload_usd": b.upload_requests, "usd_per_month": b.per_month(), "minimum_commitment_usd": b.minimum_commitment},
            "single": {"objects": files, "requests": files, "upload_usd": s.upload_requests, "usd_per_month": s.per_month(), "minimum_commitment_usd": s.minimum_commitment},
        }));
    }
    out.json(&json!({
        "dry_run": true,
        "files": files,
        "entries": plan.len(),
        "bytes": bytes,
        "bundles": n,
        "prices": p.as_of,
        "cost": rows,
    }));
    Ok(())
}
