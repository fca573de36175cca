//! `upload-file`: one file, or standard input, as one archive.

use anyhow::Context as _;
use glacier_multipart::{UploadOptions, Uploader};
use journal::{ArchiveId, ArchiveMeta, Record, RelName, encode_description};
use serde_json::json;

use crate::cli::UploadFileArgs;
use crate::commands::Ctx;
use crate::commands::common::{
    mib_power_of_two, mtime_of, now, open_journal, preflight, required, resume_dir,
};
use crate::exit::{Code, coded};
use crate::progress::Bar;

#[allow(clippy::too_many_lines)] // one linear story: check, plan, act, report
#[allow(clippy::single_match_else)] // the two sources read better side by side
pub(crate) fn run(ctx: &Ctx<'_>, args: &UploadFileArgs) -> anyhow::Result<Code> {
    let journal_path = required(args.journal.as_ref(), "--journal")?;
    let part_size = mib_power_of_two("--partsize", args.partsize)?;
    let relname = match (&args.set_rel_filename, &args.filename, &args.dir) {
        (Some(rel), _, _) => rel.clone(),
        (None, Some(file), Some(dir)) => {
            let file_abs = std::path::absolute(file)?;
            let dir_abs = std::path::absolute(dir)?;
            let rel = file_abs.strip_prefix(&dir_abs).map_err(|_| {
                coded(
                    Code::Usage,
                    format!(
                        "--filename {} is not inside --dir {}",
                        file.display(),
                        dir.display()
                    ),
                )
            })?;
            rel.to_str()
                .ok_or_else(|| {
                    coded(
                        Code::Usage,
                        format!("{}: name is not UTF-8", file.display()),
                    )
                })?
                .to_owned()
        }
        _ => {
            return Err(coded(
                Code::Usage,
                "give --filename with --dir or --set-rel-filename, or --stdin with --set-rel-filename",
            ));
        }
    };
    let relname =
        RelName::new(&relname).map_err(|e| coded(Code::Usage, format!("{relname:?}: {e}")))?;
    let (mtime, file) = match &args.filename {
        Some(file) if !args.stdin => {
            let meta = std::fs::metadata(file)
                .map_err(|e| coded(Code::Usage, format!("--filename {}: {e}", file.display())))?;
            if !meta.is_file() {
                return Err(coded(
                    Code::Usage,
                    format!("{} is not a file", file.display()),
                ));
            }
            (mtime_of(&meta), Some(file.clone()))
        }
        _ => (i64::try_from(now()).unwrap_or(i64::MAX), None),
    };
    let target = ctx.vault(&args.vault, args.transfer.max_rate)?;
    preflight(&target)?;
    let (mut writer, mut state) = open_journal(journal_path)?;
    if state.latest(relname.as_str()).is_some() {
        return Err(coded(
            Code::Failure,
            format!(
                "{} is already in journal {}",
                relname.as_str(),
                journal_path.display()
            ),
        ));
    }
    if args.dry_run {
        ctx.out.line(format!("would upload {}", relname.as_str()));
        ctx.out
            .json(&json!({"dry_run": true, "upload": [relname.as_str()]}));
        return Ok(Code::Success);
    }
    let description = encode_description(&ArchiveMeta {
        relname: relname.clone(),
        mtime,
    })?;
    let uploader = Uploader::new(
        target.store.clone(),
        UploadOptions {
            part_size,
            concurrency: usize::from(args.transfer.concurrency),
            state_dir: Some(resume_dir(journal_path)),
            ..UploadOptions::default()
        },
    );
    let bar = Bar::new(relname.as_str(), ctx.progress_visible());
    let archive = match &file {
        Some(path) => uploader
            .upload_file(&target.vault, path, &description, &bar)
            .with_context(|| format!("uploading {}", path.display()))?,
        None => {
            let max = args.check_max_file_size.map(|m| m << 20);
            let mut stdin = std::io::stdin();
            uploader
                .upload_reader(&target.vault, &mut stdin, &description, max, &bar)
                .context("uploading standard input")?
        }
    };
    drop(bar);
    let record = Record::Created {
        time: now(),
        archive_id: ArchiveId::new(&archive.archive_id)?,
        size: archive.size,
        mtime: Some(mtime),
        treehash: archive.tree_hash,
        relname: relname.clone(),
    };
    writer.append(&record)?;
    state.apply(&record)?;
    ctx.out.line(format!(
        "uploaded {} ({} bytes) as {}",
        relname.as_str(),
        archive.size,
        archive.archive_id
    ));
    ctx.out.json(&json!({
        "relname": relname.as_str(), "archive_id": archive.archive_id, "size": archive.size,
        "treehash": archive.tree_hash.to_string(),
    }));
    Ok(Code::Success)
}
