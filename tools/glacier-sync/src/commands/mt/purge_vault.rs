//! `purge-vault`: delete every archive the journal lists.

use serde_json::json;

use crate::cli::PurgeVaultArgs;
use crate::commands::Ctx;
use crate::commands::common::{open_journal, preflight, required};
use crate::commands::mt::sync::delete_archive;
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &PurgeVaultArgs) -> anyhow::Result<Code> {
    let journal_path = required(args.journal.as_ref(), "--journal")?;
    let filter = ctx.filter(&args.filter)?;
    let target = ctx.vault(&args.vault, None)?;
    preflight(&target)?;
    let (mut writer, mut state) = open_journal(journal_path)?;
    let mut archives: Vec<_> = state
        .archives()
        .filter(|a| filter.includes(a.relname.as_str()))
        .cloned()
        .collect();
    archives.sort_by(|a, b| a.relname.cmp(&b.relname));
    if args.dry_run {
        for a in &archives {
            ctx.out.line(format!("would delete {}", a.relname.as_str()));
        }
        ctx.out.json(&json!({"dry_run": true,
            "delete": archives.iter().map(|a| a.relname.as_str()).collect::<Vec<_>>()}));
        return Ok(Code::Success);
    }
    for a in &archives {
        delete_archive(ctx, &target, &mut writer, &mut state, a)?;
        ctx.out.info(format!("deleted {}", a.relname.as_str()));
    }
    ctx.out.line(format!("{} archives deleted", archives.len()));
    ctx.out.json(&json!({"deleted": archives.len()}));
    Ok(Code::Success)
}
