//! `glacier-sync retrieve`: plan (`archiver::plan_retrieve`), show, refuse
//! above `--max-cost`, confirm, request the jobs (`archiver::retrieve`),
//! and with `--wait` watch them through.

use std::io::IsTerminal as _;

use archiver::{RetrieveOptions, Selection, human_bytes};
use glacier_multipart::Tier;
use serde_json::json;

use super::cli::RetrieveArgs;
use crate::cli::TierArg;
use crate::commands::Ctx;
use crate::commands::common::ask_yes;
use crate::commands::flow::{Shown, absolute, open_records, open_vault, refuse_over_cost};
use crate::exit::{Code, coded};

pub(crate) fn run(ctx: &Ctx<'_>, args: &RetrieveArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let mut cat = open_records(args.place.catalog.as_deref())?;
    let vault = open_vault(ctx, &args.place)?;
    let selection = if let Some(p) = &args.path {
        Selection::Path(absolute(p))
    } else {
        let text = match &args.archive {
            Some(a) => format!("archive:{a}"),
            None => args.query.join(" "),
        };
        let query =
            catalog::query::parse(&text).map_err(|e| coded(Code::Usage, format!("query: {e}")))?;
        Selection::Query(query)
    };
    let tier = match args.tier {
        TierArg::Expedited => Tier::Expedited,
        TierArg::Standard => Tier::Standard,
        TierArg::Bulk => Tier::Bulk,
    };
    let options = RetrieveOptions::default().tier(tier).limit(args.limit);
    let shown = Shown::new(ctx);
    let plan = archiver::plan_retrieve(&selection, &options, &vault, &cat, &shown)?;
    for w in &plan.archives {
        let what = match w.range {
            Some((a, b)) => format!("bytes {a}-{b} of {}", w.size),
            None => format!("whole archive, {} bytes", w.size),
        };
        out.info(format!(
            "archive {}: {} files, {what}",
            w.archive_id,
            w.files.len()
        ));
    }
    let est = plan.estimate();
    let glacier = format!(
        "tier {}, estimated ${:.4}, ready in {}-{} minutes ({})",
        tier.as_str(),
        est.usd,
        est.wait_min.as_secs() / 60,
        est.wait_max.as_secs() / 60,
        plan.prices
    );
    let cost_text = if plan.local_store {
        format!("local store: no charge, ready at once (on Glacier: {glacier})")
    } else {
        glacier
    };
    out.info(format!(
        "plan: {} files from {n} archives, {} ({} bytes) in {n} requests, {cost_text}",
        plan.files,
        human_bytes(plan.bytes),
        plan.bytes,
        n = plan.requests,
    ));
    if plan.whole_objects && plan.billed_bytes > plan.bytes {
        out.info(format!(
            "note: S3 restores whole objects, so the retrieval is billed for the whole \
             archives, {} ({} bytes); only the ranges holding the files are downloaded",
            human_bytes(plan.billed_bytes),
            plan.billed_bytes
        ));
    }
    refuse_over_cost(&plan, args.max_cost)?;
    if args.dry_run {
        for w in &plan.archives {
            out.line(format!("{},{}", w.vault, w.archive_id));
        }
        out.json(&json!({"dry_run": true, "plan": plan}));
        return Ok(Code::Success);
    }
    if !args.yes && std::io::stdin().is_terminal() && !ask_yes("request these retrievals?")? {
        return Err(coded(Code::Failure, "cancelled; nothing requested"));
    }
    let jobs = archiver::retrieve(&plan, &args.to, &vault, &mut cat, &shown)?;
    out.json(&json!({"plan": plan, "jobs": jobs}));
    if args.wait {
        return super::watch::watch(ctx, &vault, &mut cat, args.interval, false, &args.decrypt);
    }
    out.info("run `glacier-sync watch` to download and extract when the jobs are done");
    Ok(Code::Success)
}
