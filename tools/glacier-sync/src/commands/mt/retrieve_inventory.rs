//! `retrieve-inventory`: start an inventory job.

use anyhow::Context as _;
use glacier_multipart::{InventoryFormat, JobRequest};
use serde_json::json;

use crate::cli::{InventoryFormatArg, RetrieveInventoryArgs};
use crate::commands::Ctx;
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &RetrieveInventoryArgs) -> anyhow::Result<Code> {
    let target = ctx.vault(&args.vault, None)?;
    let format = match args.format {
        InventoryFormatArg::Json => InventoryFormat::Json,
        InventoryFormatArg::Csv => InventoryFormat::Csv,
    };
    let job = target
        .store
        .initiate_job(&target.vault, &JobRequest::inventory(format))
        .with_context(|| format!("requesting an inventory of vault {:?}", target.vault))?;
    ctx.out.line(format!("inventory job {job}"));
    ctx.out
        .json(&json!({"job_id": job, "format": format.as_str()}));
    Ok(Code::Success)
}
