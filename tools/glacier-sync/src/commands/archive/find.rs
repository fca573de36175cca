//! `glacier-sync find QUERY`: search the catalog.

use catalog::{ArchiveState, FileHit, Page};
use serde_json::json;

use super::cli::FindArgs;
use crate::commands::Ctx;
use crate::commands::flow::open_catalog;
use crate::exit::{Code, coded};

/// One human line of a hit: the full original path first; for a file on
/// tape, where it starts (`tape T2 file 1 block 29`); last, for a file
/// whose archive the store no longer holds, why (`(pruned)`, `(missing)`,
/// `(deleted)`).
pub(crate) fn hit_line(h: &FileHit) -> String {
    let mut line = format!(
        "{}\t{} bytes\tmtime {}\tarchive {}\t{}/{}",
        h.path,
        h.size,
        catalog::format_time(h.mtime),
        h.archive_id.as_deref().unwrap_or("(uploading)"),
        h.store,
        h.vault
    );
    if let Some(t) = &h.tape {
        line.push('\t');
        line.push_str(&t.to_string());
    }
    if let ArchiveState::Deleted | ArchiveState::Pruned | ArchiveState::Missing = h.state {
        line.push_str("\t(");
        line.push_str(h.state.as_str());
        line.push(')');
    }
    line
}

pub(crate) fn run(ctx: &Ctx<'_>, args: &FindArgs) -> anyhow::Result<Code> {
    let cat = open_catalog(args.catalog.as_deref())?;
    let text = args.query.join(" ");
    let query =
        catalog::query::parse(&text).map_err(|e| coded(Code::Usage, format!("query: {e}")))?;
    let mut hits = Vec::new();
    let mut page = Page::first(args.limit.clamp(1, catalog::MAX_PAGE));
    while hits.len() < args.limit as usize {
        let p = cat.search(&query, page)?;
        hits.extend(p.hits);
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    hits.truncate(args.limit as usize);
    for h in &hits {
        ctx.out.line(hit_line(h));
    }
    if ctx.out.json {
        let with_access = hits
            .iter()
            .map(|h| crate::commands::acl::hit_json(&cat, h))
            .collect::<anyhow::Result<Vec<_>>>()?;
        ctx.out
            .json(&json!({"query": query.to_string(), "hits": with_access}));
    }
    Ok(if hits.is_empty() {
        Code::Failure
    } else {
        Code::Success
    })
}
