//! `glacier-sync catalog check [--repair]`: the catalog's health
//! (`catalog::Catalog::check`), and a rebuilt search index on request.

use serde_json::json;

use super::cli::CheckArgs;
use crate::commands::Ctx;
use crate::commands::flow::{catalog_path, open_catalog};
use crate::exit::{Code, coded};

fn show(ctx: &Ctx<'_>, path: &std::path::Path, r: &catalog::CheckReport) {
    let fts = format!("{}-fts", path.display());
    let problems = |p: &[String]| {
        if p.is_empty() {
            "ok".to_owned()
        } else {
            p.join("; ")
        }
    };
    ctx.out.line(format!(
        "catalog {}: {}",
        path.display(),
        problems(&r.catalog_problems)
    ));
    ctx.out.line(format!(
        "search index {fts}: {}",
        problems(&r.index_problems)
    ));
    ctx.out.line(format!(
        "{} files, indexed up to file {}, {} not indexed yet",
        r.files, r.indexed_upto, r.tail
    ));
    if r.missing == 0 {
        ctx.out.line("the search index and the files agree");
    } else {
        ctx.out.line(format!(
            "{} files are not in the search index under their names (an index file from another backup?), for example:",
            r.missing
        ));
        for p in &r.missing_examples {
            ctx.out.line(format!("  {p}"));
        }
    }
}

fn as_json(r: &catalog::CheckReport) -> serde_json::Value {
    json!({
        "sound": r.is_sound(),
        "catalog_problems": r.catalog_problems,
        "index_problems": r.index_problems,
        "files": r.files,
        "indexed_upto": r.indexed_upto,
        "tail": r.tail,
        "missing": r.missing,
        "missing_examples": r.missing_examples,
    })
}

pub(crate) fn run(ctx: &Ctx<'_>, args: &CheckArgs) -> anyhow::Result<Code> {
    let path = catalog_path(args.catalog.as_deref())?;
    if !path.exists() {
        return Err(coded(
            Code::Usage,
            format!("no catalog at {} (pass --catalog FILE)", path.display()),
        ));
    }
    let mut cat = open_catalog(Some(&path))?;
    let report = cat.check()?;
    show(ctx, &path, &report);
    if report.is_sound() {
        ctx.out.json(&json!({"check": as_json(&report)}));
        return Ok(Code::Success);
    }
    let index_only = report.catalog_problems.is_empty();
    if !args.repair || !index_only {
        ctx.out.json(&json!({"check": as_json(&report)}));
        return Err(coded(
            Code::Verification,
            if index_only {
                format!(
                    "the search index of {} disagrees with the catalog; `glacier-sync catalog check --repair` rebuilds it",
                    path.display()
                )
            } else {
                format!(
                    "the catalog {} is damaged; restore it from a backup, or rebuild it from the vault with `glacier-sync catalog rebuild --catalog NEW_FILE`",
                    path.display()
                )
            },
        ));
    }
    let n = cat.rebuild_index()?;
    ctx.out
        .info(format!("rebuilt the search index: {n} files indexed"));
    let after = cat.check()?;
    show(ctx, &path, &after);
    ctx.out.json(&json!({
        "check": as_json(&report), "rebuilt_files": n, "after": as_json(&after),
    }));
    if after.is_sound() {
        Ok(Code::Success)
    } else {
        Err(coded(
            Code::Verification,
            format!(
                "{} is still unsound after the index rebuild",
                path.display()
            ),
        ))
    }
}
