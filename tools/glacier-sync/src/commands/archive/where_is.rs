//! `glacier-sync where-is PATH`: every archived version of one path.

use serde_json::json;

use super::cli::WhereIsArgs;
use super::find::hit_line;
use crate::commands::Ctx;
use crate::commands::flow::{absolute, open_catalog};
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &WhereIsArgs) -> anyhow::Result<Code> {
    let cat = open_catalog(args.catalog.as_deref())?;
    let path = absolute(&args.path);
    let hits = cat.where_is(&path)?;
    let mut versions = Vec::with_capacity(hits.len());
    for h in &hits {
        ctx.out.line(hit_line(h));
        if let Some((_, f)) = cat.file(h.id)? {
            for l in archive_acls::display::access_lines(&f) {
                ctx.out.line(l);
            }
        }
        versions.push(crate::commands::acl::hit_json(&cat, h)?);
    }
    if hits.is_empty() {
        ctx.out.warn(format!("{path}: not in the catalog"));
    }
    ctx.out.json(&json!({"path": path, "versions": versions}));
    Ok(if hits.is_empty() {
        Code::Failure
    } else {
        Code::Success
    })
}
