//! `glacier-sync backup`: levelled backup sets; the work is
//! `archiver::backup`'s, each run an archive-flow run.

pub(crate) mod cli;

use std::path::Path;

use anyhow::Context as _;
use archiver::ArchiveOptions;
use archiver::backup::{self, RunOptions, SetConfig, Spec, SystemClock};
use serde_json::json;

use std::io::IsTerminal as _;

use archiver::RetrieveOptions;
use archiver::human_bytes as human;
use glacier_multipart::Tier;

use crate::cli::TierArg;
use crate::commands::Ctx;
use crate::commands::common::{ask_yes, confirm_deletion};
use crate::commands::flow::{Shown, absolute, open_records, open_vault, refuse_over_cost};
use crate::exit::{Code, coded};
use cli::{
    BackupArgs, BackupCommand, InitArgs, ListArgs, PruneArgs, ReconcileArgs, RestoreArgs, RunArgs,
};

pub(crate) fn run(ctx: &Ctx<'_>, args: &BackupArgs) -> anyhow::Result<Code> {
    match &args.command {
        BackupCommand::Init(a) => init(ctx, a),
        BackupCommand::Run(a) => run_set(ctx, a),
        BackupCommand::List(a) => list(ctx, a),
        BackupCommand::Restore(a) => restore(ctx, a),
        BackupCommand::Prune(a) => prune(ctx, a),
        BackupCommand::Reconcile(a) => reconcile(ctx, a),
    }
}

/// The vault set `name` remembers.
fn set_vault(
    ctx: &Ctx<'_>,
    catalog: Option<&Path>,
    records: &archiver::ArchiveCatalog,
    name: &str,
) -> anyhow::Result<archiver::Vault> {
    let (set, _) = backup::set(records, name)?;
    let place = crate::commands::archive::cli::Place {
        vault: Some(set.set.vault),
        catalog: catalog.map(Path::to_owned),
        store: crate::cli::StoreArgs {
            store: None,
            endpoint_url: None,
        },
    };
    open_vault(ctx, &place)
}

fn init(ctx: &Ctx<'_>, a: &InitArgs) -> anyhow::Result<Code> {
    let spec = Spec::read(&a.spec)?;
    let mut records = open_records(a.catalog.as_deref())?;
    let config = SetConfig {
        name: a.name.clone(),
        vault: a.vault.clone(),
        spec,
        max_level: a.max_level,
        cap: a.cap,
        min_keep_cycles: a.min_keep_cycles,
        encrypt_to: a.encrypt_to.clone(),
    };
    backup::init(&config, &mut records, &SystemClock)?;
    ctx.out.info(format!(
        "backup set {} created: vault {}, max level {}",
        a.name, a.vault, a.max_level
    ));
    ctx.out
        .json(&json!({"set": a.name, "vault": a.vault, "max_level": a.max_level}));
    Ok(Code::Success)
}

fn run_set(ctx: &Ctx<'_>, a: &RunArgs) -> anyhow::Result<Code> {
    let mut records = open_records(a.catalog.as_deref())?;
    let vault = set_vault(ctx, a.catalog.as_deref(), &records, &a.name)?;
    let mut archive = ArchiveOptions::default().max_files(a.max_files);
    if let Some(j) = a.jobs {
        archive = archive.jobs(usize::from(j));
    }
    let options = RunOptions {
        full: a.full,
        archive,
    };
    let s = backup::run(
        &a.name,
        &options,
        &vault,
        &mut records,
        &SystemClock,
        &Shown::new(ctx),
    )
    .with_context(|| format!("backup run of set {}", a.name))?;
    let kind = if s.level == 0 { "FULL" } else { "incremental" };
    ctx.out.line(format!(
        "{} cycle {} level {} ({kind}{}): {} files ({}), {} stored, {} deleted{}",
        s.set,
        s.cycle,
        s.level,
        if s.resumed {
            ", completing a killed run"
        } else {
            ""
        },
        s.files,
        human(s.bytes),
        human(s.stored_bytes),
        s.deleted.len(),
        if s.closed_cycle { "; cycle closed" } else { "" }
    ));
    ctx.out.json(&serde_json::to_value(&s)?);
    Ok(Code::Success)
}

fn list(ctx: &Ctx<'_>, a: &ListArgs) -> anyhow::Result<Code> {
    let records = open_records(a.catalog.as_deref())?;
    let vault = set_vault(ctx, a.catalog.as_deref(), &records, &a.name)?;
    let cycles = backup::list(&a.name, &vault, &records)?;
    for c in &cycles {
        ctx.out.line(format!(
            "cycle {}{}{}: started {}, {} files, {} stored, ${:.4}/month, free to delete from {}",
            c.cycle,
            if c.closed.is_some() { " (closed)" } else { "" },
            if c.pruned.is_some() { " (pruned)" } else { "" },
            catalog::format_time(c.started),
            c.files,
            human(c.stored_bytes),
            c.monthly_cost,
            catalog::format_time(c.free_deletion),
        ));
        for l in &c.levels {
            ctx.out.line(format!(
                "  level {}: {} .. {}, {} files, {} stored, {} deleted{}",
                l.level,
                catalog::format_time(l.started),
                l.ended
                    .map_or_else(|| "(unfinished)".to_owned(), catalog::format_time),
                l.files,
                human(l.stored_bytes),
                l.deleted,
                l.run
                    .as_deref()
                    .map_or(String::new(), |r| format!(", run {r}")),
            ));
        }
    }
    ctx.out.json(&json!({"set": a.name, "cycles": cycles}));
    Ok(Code::Success)
}

/// `--as-of` as Unix seconds: a date means its last second.
fn as_of(text: Option<&str>) -> anyhow::Result<i64> {
    let Some(t) = text else {
        return Ok(backup::Clock::now(&SystemClock));
    };
    let secs = catalog::parse_time(t).ok_or_else(|| {
        coded(
            Code::Usage,
            format!("--as-of {t:?}: not a time (2026-12-04T10:15:00Z or a date 2026-12-04)"),
        )
    })?;
    Ok(if t.contains(['T', 't']) || t.starts_with('@') {
        secs
    } else {
        secs + 86_399
    })
}

fn restore(ctx: &Ctx<'_>, a: &RestoreArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let at = as_of(a.as_of.as_deref())?;
    let mut records = open_records(a.catalog.as_deref())?;
    let vault = set_vault(ctx, a.catalog.as_deref(), &records, &a.name)?;
    let tier = match a.tier {
        TierArg::Expedited => Tier::Expedited,
        TierArg::Standard => Tier::Standard,
        TierArg::Bulk => Tier::Bulk,
    };
    let options = RetrieveOptions::default().tier(tier).limit(u32::MAX);
    let only: Vec<String> = a.paths.iter().map(|p| absolute(p)).collect();
    let shown = Shown::new(ctx);
    let (point, plan) =
        archiver::plan_restore(&a.name, at, &only, &options, &vault, &records, &shown)?;
    for m in &point.missing {
        out.warn(format!("{m}: no stored version left (pruned?)"));
    }
    let est = plan.estimate();
    out.info(format!(
        "restore {} as of {}: cycle {} level {} (ended {}), {} paths, {} files from {} archives, {} ({} bytes) in {} requests, {}",
        a.name,
        catalog::format_time(at),
        point.cycle,
        point.level,
        catalog::format_time(point.ended),
        point.paths,
        plan.files,
        plan.archives.len(),
        human(plan.bytes),
        plan.bytes,
        plan.requests,
        if plan.local_store {
            "local store: no charge, ready at once".to_owned()
        } else {
            format!(
                "tier {}, estimated ${:.4}, ready in {}-{} minutes",
                tier.as_str(),
                est.usd,
                est.wait_min.as_secs() / 60,
                est.wait_max.as_secs() / 60
            )
        }
    ));
    refuse_over_cost(&plan, a.max_cost)?;
    if a.dry_run {
        out.json(&json!({"dry_run": true, "point": point, "plan": plan}));
        return Ok(Code::Success);
    }
    if !a.yes
        && !plan.local_store
        && std::io::stdin().is_terminal()
        && !ask_yes("request these retrievals?")?
    {
        return Err(coded(Code::Failure, "cancelled; nothing requested"));
    }
    let jobs = archiver::retrieve(&plan, &a.to, &vault, &mut records, &shown)?;
    out.json(&json!({"point": point, "plan": plan, "jobs": jobs}));
    if a.wait || vault.is_local() {
        return crate::commands::archive::watch::watch(
            ctx,
            &vault,
            &mut records,
            a.interval,
            false,
            &a.decrypt,
        );
    }
    out.info("run `glacier-sync watch` to download and extract when the jobs are done");
    Ok(Code::Success)
}

fn prune(ctx: &Ctx<'_>, a: &PruneArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let mut records = open_records(a.catalog.as_deref())?;
    let vault = set_vault(ctx, a.catalog.as_deref(), &records, &a.name)?;
    let mut options = archiver::PruneOptions {
        cap: a.cap,
        force: a.force,
        dry_run: true,
    };
    // Decide first, show, confirm, then delete.
    let plan = archiver::prune(&a.name, &options, &vault, &mut records, &SystemClock)?;
    let show = |o: &archiver::PruneOutcome| {
        for c in &o.deleted {
            out.info(format!(
                "cycle {}: {} stored, early-deletion charge ${:.4} (free from {})",
                c.cycle,
                human(c.stored_bytes),
                c.early_deletion_usd,
                catalog::format_time(c.free_deletion)
            ));
        }
        if let Some(k) = &o.kept_for_minimum {
            out.warn(format!(
                "cycle {} kept: inside its minimum storage duration until {} (deleting it now costs ${:.4}; --force to delete)",
                k.cycle,
                catalog::format_time(k.free_deletion),
                k.early_deletion_usd
            ));
        }
    };
    show(&plan);
    out.info(format!(
        "stored {} of cap {}; {} cycles to delete, leaving {}",
        human(plan.stored_before),
        human(plan.cap),
        plan.deleted.len(),
        human(plan.stored_after)
    ));
    if a.dry_run || plan.deleted.is_empty() {
        out.json(&serde_json::to_value(&plan)?);
        return Ok(Code::Success);
    }
    confirm_deletion(
        a.yes,
        "prune",
        &format!("delete {} cycles?", plan.deleted.len()),
        "nothing deleted",
    )?;
    options.dry_run = false;
    let done = archiver::prune(&a.name, &options, &vault, &mut records, &SystemClock)?;
    out.line(format!(
        "deleted {} cycles ({} archives); stored now {}",
        done.deleted.len(),
        done.archives_deleted,
        human(done.stored_after)
    ));
    out.json(&serde_json::to_value(&done)?);
    Ok(Code::Success)
}

fn reconcile(ctx: &Ctx<'_>, a: &ReconcileArgs) -> anyhow::Result<Code> {
    use archiver::{InventoryRequest, ReconcileOptions, ReconcileOutcome, Unknown};
    let out = ctx.out;
    let mut records = open_records(a.catalog.as_deref())?;
    let vault = set_vault(ctx, a.catalog.as_deref(), &records, &a.name)?;
    let inventory = match archiver::request_inventory(&vault, a.job.as_deref())? {
        InventoryRequest::Ready(inventory) => inventory,
        InventoryRequest::Pending(job) => {
            out.line(format!(
                "inventory job {job} of vault {} has not finished; run `backup reconcile {} --job {job}` later",
                vault.name, a.name
            ));
            out.json(&json!({ "pending_job": job }));
            return Ok(Code::Pending);
        }
    };
    let unknown = if a.adopt {
        Unknown::Adopt
    } else if a.delete {
        Unknown::Delete
    } else {
        Unknown::Report
    };
    let mut options = ReconcileOptions {
        unknown,
        dry_run: true,
    };
    let show = |o: &ReconcileOutcome| {
        let verb = if o.dry_run { "would be" } else { "now" };
        for m in &o.missing {
            out.warn(format!(
                "missing from the store: archive {} (cycle {} level {}, {} files); {verb} marked deleted, the next run stores its files again",
                m.archive_id, m.cycle, m.level, m.files
            ));
        }
        for u in &o.unknown {
            let what = match o.unknown_action {
                Unknown::Report => "--adopt records it, --delete deletes it",
                Unknown::Adopt if o.dry_run => "would be adopted",
                Unknown::Adopt => "adopted",
                Unknown::Delete if o.dry_run => "would be deleted",
                Unknown::Delete => "deleted",
            };
            out.warn(format!(
                "not in the catalog: archive {} ({}, \"{}\"): {what}",
                u.archive_id,
                human(u.size),
                u.description
            ));
        }
        out.info(format!(
            "inventory of {} ({} archives): {} of the set's archives present, {} missing, {} newer than the inventory (kept), {} unknown",
            catalog::format_time(o.inventory_date),
            o.inventory_archives,
            o.present,
            o.missing.len(),
            o.newer_than_inventory.len(),
            o.unknown.len()
        ));
    };
    let plan = archiver::reconcile(&a.name, &inventory, &options, &vault, &mut records)?;
    let changes =
        !plan.missing.is_empty() || (!plan.unknown.is_empty() && unknown != Unknown::Report);
    if a.dry_run || !changes {
        show(&plan);
        out.json(&serde_json::to_value(&plan)?);
        return Ok(Code::Success);
    }
    if unknown == Unknown::Delete && !plan.unknown.is_empty() && !a.yes {
        show(&plan);
        confirm_deletion(
            false,
            "reconcile --delete",
            &format!("delete {} archives from the store?", plan.unknown.len()),
            "nothing changed",
        )?;
    }
    options.dry_run = false;
    let done = archiver::reconcile(&a.name, &inventory, &options, &vault, &mut records)?;
    show(&done);
    out.json(&serde_json::to_value(&done)?);
    Ok(Code::Success)
}
