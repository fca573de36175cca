//! `glacier-sync backup`: levelled backup sets; the work is
//! `archiver::backup`'s, each run an archive-flow run.

pub(crate) mod cli;

use std::path::Path;

use anyhow::Context as _;
use archiver::ArchiveOptions;
use archiver::backup::{self, RunOptions, SetConfig, Spec, SystemClock};
use serde_json::json;

use crate::commands::Ctx;
use crate::commands::archive::{Shown, human, open_records, open_vault};
use crate::exit::Code;
use cli::{BackupArgs, BackupCommand, InitArgs, ListArgs, RunArgs};

pub(crate) fn run(ctx: &Ctx<'_>, args: &BackupArgs) -> anyhow::Result<Code> {
    match &args.command {
        BackupCommand::Init(a) => init(ctx, a),
        BackupCommand::Run(a) => run_set(ctx, a),
        BackupCommand::List(a) => list(ctx, a),
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
