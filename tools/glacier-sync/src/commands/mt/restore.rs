//! `restore`: request retrieval of missing files (or of one file by name),
//! after a summary of what it costs.

use anyhow::Context as _;
use glacier_multipart::{JobRequest, Tier};
use glacier_sync::cost::{self, StorageClass};
use journal::{JobId, Record};
use serde_json::json;

use crate::cli::{RestoreArgs, TierArg};
use crate::commands::Ctx;
use crate::commands::common::{now, open_journal, preflight, required, restore_dir};
use crate::exit::{Code, coded};

/// A retrieval job younger than this is not requested again.
const RECENT_JOB_SECS: u64 = 24 * 3600;

#[allow(clippy::too_many_lines)] // one linear story: check, plan, act, report
pub(crate) fn run(ctx: &Ctx<'_>, args: &RestoreArgs) -> anyhow::Result<Code> {
    let dir = restore_dir(ctx.out, required(args.dir.as_ref(), "--dir")?, args.dry_run)?;
    let journal_path = required(args.journal.as_ref(), "--journal")?;
    let filter = ctx.filter(&args.filter)?;
    let target = ctx.vault(&args.vault, None)?;
    preflight(&target)?;
    let (mut writer, mut state) = open_journal(journal_path)?;
    let now_s = now();
    let chosen: Vec<journal::Archive> = if let Some(name) = &args.filename {
        let a = state.latest(name).ok_or_else(|| {
            coded(
                Code::Failure,
                format!("{name} is not in journal {}", journal_path.display()),
            )
        })?;
        vec![a.clone()]
    } else {
        let mut v: Vec<journal::Archive> = state
            .files()
            .filter(|fv| filter.includes(fv.relname().as_str()))
            .map(|fv| fv.latest().clone())
            .filter(|a| !dir.join(a.relname.as_str()).exists())
            .filter(|a| {
                state
                    .latest_retrieval(a.archive_id.as_str())
                    .is_none_or(|r| now_s.saturating_sub(r.time) >= RECENT_JOB_SECS)
            })
            .collect();
        v.sort_by(|a, b| a.relname.cmp(&b.relname));
        if let Some(max) = args.max_number_of_files {
            v.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        }
        v
    };
    let bytes: u64 = chosen.iter().map(|a| a.size).sum();
    let (tier, cost_tier) = match args.retrieval.tier {
        TierArg::Expedited => (Tier::Expedited, cost::Tier::Expedited),
        TierArg::Standard => (Tier::Standard, cost::Tier::Standard),
        TierArg::Bulk => (Tier::Bulk, cost::Tier::Bulk),
    };
    let estimate = cost::US_EAST_1_2026
        .retrieval(
            StorageClass::of_location(&target.store.location()),
            cost_tier,
            chosen.len() as u64,
            bytes,
        )
        .map_err(|e| coded(Code::Usage, e.to_string()))?;
    let hours = |d: std::time::Duration| d.as_secs_f64() / 3600.0;
    let summary = format!(
        "restore: {} files, {bytes} bytes, {} requests, tier {}, estimated cost ${:.4} ({}{}), ready in {:.1}-{:.1} h",
        chosen.len(),
        estimate.requests,
        cost_tier,
        estimate.usd,
        cost::US_EAST_1_2026.as_of,
        if target.remote {
            ""
        } else {
            "; the local store itself is free"
        },
        hours(estimate.wait_min),
        hours(estimate.wait_max),
    );
    ctx.out.info(&summary);
    let json_summary = json!({
        "files": chosen.len(), "bytes": bytes, "requests": estimate.requests,
        "tier": cost_tier.to_string(), "estimated_cost_usd": estimate.usd,
        "wait_min_secs": estimate.wait_min.as_secs(), "wait_max_secs": estimate.wait_max.as_secs(),
        "dry_run": args.dry_run,
        "files_list": chosen.iter().map(|a| a.relname.as_str()).collect::<Vec<_>>(),
    });
    if let Some(max) = args.retrieval.max_cost
        && estimate.usd > max
    {
        ctx.out.json(&json_summary);
        return Err(coded(
            Code::CostLimit,
            format!(
                "estimated cost ${:.4} exceeds --max-cost {max}; nothing was requested",
                estimate.usd
            ),
        ));
    }
    if args.dry_run {
        ctx.out.json(&json_summary);
        return Ok(Code::Success);
    }
    let mut jobs = Vec::new();
    for a in &chosen {
        let job = target
            .store
            .initiate_job(
                &target.vault,
                &JobRequest::ArchiveRetrieval {
                    archive_id: a.archive_id.as_str().to_owned(),
                    tier,
                    range: None,
                    description: None,
                },
            )
            .with_context(|| format!("requesting retrieval of {}", a.relname.as_str()))?;
        let record = Record::RetrieveJob {
            time: now(),
            archive_id: a.archive_id.clone(),
            job_id: Some(JobId::new(&job)?),
        };
        writer.append(&record)?;
        state.apply(&record)?;
        ctx.out
            .line(format!("requested {} (job {job})", a.relname.as_str()));
        jobs.push(json!({"relname": a.relname.as_str(), "job_id": job}));
    }
    let mut s = json_summary;
    s["jobs"] = json!(jobs);
    ctx.out.json(&s);
    Ok(Code::Success)
}
