//! `purge-vault`: delete every archive the journal lists, with the
//! early-deletion charge of the store's class said first.

use archiver::pricing::{StorageClass, US_EAST_1_2026};
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
    // Archives younger than their class's minimum storage duration are
    // billed for the rest of it when deleted (journal times are uploads).
    let class = StorageClass::of_location(&target.store.location());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (mut fee, mut young) = (0.0f64, 0usize);
    for a in &archives {
        let f = US_EAST_1_2026
            .early_deletion(class, 1, a.size, now.saturating_sub(a.time) / 86_400)
            .unwrap_or(0.0);
        if f > 0.0 {
            young += 1;
            fee += f;
        }
    }
    let minimum = US_EAST_1_2026.class(class).map_or(0, |c| c.minimum_days);
    if target.remote {
        ctx.out.info(format!(
            "early-deletion charge: about ${fee:.4} ({young} of {} archives are younger than the {minimum}-day minimum of {class}; {})",
            archives.len(),
            US_EAST_1_2026.as_of
        ));
    }
    let fee_json = if target.remote {
        json!(fee)
    } else {
        json!(0.0)
    };
    if args.dry_run {
        for a in &archives {
            ctx.out.line(format!("would delete {}", a.relname.as_str()));
        }
        ctx.out.json(&json!({"dry_run": true,
            "delete": archives.iter().map(|a| a.relname.as_str()).collect::<Vec<_>>(),
            "early_deletion_usd": fee_json, "class": class.to_string(), "minimum_days": minimum}));
        return Ok(Code::Success);
    }
    for a in &archives {
        delete_archive(ctx, &target, &mut writer, &mut state, a)?;
        ctx.out.info(format!("deleted {}", a.relname.as_str()));
    }
    ctx.out.line(format!("{} archives deleted", archives.len()));
    ctx.out
        .json(&json!({"deleted": archives.len(), "early_deletion_usd": fee_json}));
    Ok(Code::Success)
}
