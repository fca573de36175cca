//! `glacier-sync jobs`: the retrieval jobs recorded in the catalog.

use serde_json::json;

use super::cli::JobsArgs;
use crate::commands::Ctx;
use crate::commands::flow::open_catalog;
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &JobsArgs) -> anyhow::Result<Code> {
    let cat = open_catalog(args.catalog.as_deref())?;
    let jobs = cat.retrieval_jobs(None)?;
    let mut rows = Vec::new();
    for (key, j) in &jobs {
        let archive = match j.archive {
            Some(a) => cat.archive(a)?.and_then(|a| a.info.remote_id),
            None => None,
        };
        let range = j
            .range
            .map_or_else(|| "whole".to_owned(), |(a, b)| format!("{a}-{b}"));
        ctx.out.line(format!(
            "{key}\t{}\t{:?}\t{}\t{}\t{range}\t{}",
            j.job_id,
            j.state,
            j.tier,
            archive.as_deref().unwrap_or("-"),
            j.downloaded_to.as_deref().unwrap_or("-")
        ));
        rows.push(json!({"key": key.to_string(), "job": j, "archive_id": archive}));
    }
    if jobs.is_empty() {
        ctx.out.info("no retrieval jobs");
    }
    ctx.out.json(&json!({ "jobs": rows }));
    Ok(Code::Success)
}
