//! `check-local-hash`: the directory against the journal.

use serde_json::json;

use crate::cli::CheckLocalHashArgs;
use crate::commands::Ctx;
use crate::commands::common::{existing_dir, mtime_of, read_journal, required};
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &CheckLocalHashArgs) -> anyhow::Result<Code> {
    let dir = existing_dir(required(args.dir.as_ref(), "--dir")?)?;
    let journal_path = required(args.journal.as_ref(), "--journal")?;
    let filter = ctx.filter(&args.filter)?;
    let state = read_journal(journal_path)?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut files: Vec<_> = state
        .files()
        .filter(|fv| filter.includes(fv.relname().as_str()))
        .map(|fv| fv.latest().clone())
        .collect();
    files.sort_by(|a, b| a.relname.cmp(&b.relname));
    let (mut ok, mut problems) = (0u64, Vec::new());
    for a in &files {
        let rel = a.relname.as_str();
        let path = dir.join(rel);
        let problem = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("missing".to_owned()),
            Err(e) => Some(format!("cannot read: {e}")),
            Ok(m) if m.len() != a.size => Some(format!(
                "size mismatch: {} bytes, journal says {}",
                m.len(),
                a.size
            )),
            Ok(m) => match glacier_treehash::tree_hash_file(&path, threads) {
                Err(e) => Some(format!("cannot read: {e}")),
                Ok(h) if h != a.treehash => Some(format!(
                    "treehash mismatch: {h}, journal says {}",
                    a.treehash
                )),
                Ok(_) => {
                    if a.mtime.is_some_and(|t| t != mtime_of(&m)) {
                        ctx.out.line(format!("OK (mtime differs) {rel}"));
                    } else {
                        ctx.out.line(format!("OK {rel}"));
                    }
                    None
                }
            },
        };
        match problem {
            None => ok += 1,
            Some(p) => {
                ctx.out.warn(format!("{rel}: {p}"));
                ctx.out.line(format!("FAILED {rel}: {p}"));
                problems.push(json!({"relname": rel, "problem": p}));
            }
        }
    }
    ctx.out.info(format!("{ok} ok, {} failed", problems.len()));
    ctx.out
        .json(&json!({"ok": ok, "failed": problems.len(), "problems": problems}));
    Ok(if problems.is_empty() {
        Code::Success
    } else {
        Code::Verification
    })
}
