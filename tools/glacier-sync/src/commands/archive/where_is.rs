//! `glacier-sync where-is PATH`: every archived version of one path.

use serde_json::json;

use super::cli::WhereIsArgs;
use super::find::hit_line;
use super::open_catalog;
use crate::commands::Ctx;
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &WhereIsArgs) -> anyhow::Result<Code> {
    let cat = open_catalog(args.catalog.as_deref())?;
    let path = absolute(&args.path);
    let hits = cat.where_is(&path)?;
    let mut versions = Vec::with_capacity(hits.len());
    for h in &hits {
        ctx.out.line(hit_line(h));
        if let Some((_, f)) = cat.file(h.id)? {
            for l in super::acl::access_lines(&f) {
                ctx.out.line(l);
            }
        }
        versions.push(super::acl::hit_json(&cat, h)?);
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

/// `p` as an absolute path string (relative to the current directory),
/// without resolving links: the file may no longer exist.
pub(crate) fn absolute(p: &std::path::Path) -> String {
    let abs = if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_owned(), |d| d.join(p))
    };
    let s = abs.display().to_string();
    if s.len() > 1 {
        s.trim_end_matches('/').to_owned()
    } else {
        s
    }
}
