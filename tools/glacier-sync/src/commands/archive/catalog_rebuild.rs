//! `glacier-sync catalog rebuild`: a catalog from the vault alone
//! (`archiver::rebuild_catalog`).

use std::time::Duration;

use serde_json::json;

use super::cli::RebuildArgs;
use crate::commands::Ctx;
use crate::commands::flow::{Shown, open_records, open_vault};
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &RebuildArgs) -> anyhow::Result<Code> {
    let vault = open_vault(ctx, &args.place)?;
    let mut cat = open_records(args.place.catalog.as_deref())?;
    let interval = Duration::from_secs(args.interval);
    let s = archiver::rebuild_catalog(&vault, &mut cat, interval, &Shown::new(ctx))?;
    ctx.out.info(format!(
        "imported {} runs ({} files) of {} exports",
        s.imported_runs, s.files, s.exports
    ));
    ctx.out
        .json(&json!({"exports": s.exports, "imported_runs": s.imported_runs, "files": s.files}));
    Ok(Code::Success)
}
