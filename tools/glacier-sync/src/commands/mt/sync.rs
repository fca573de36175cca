//! `sync`: upload new files, replace modified ones, delete removed ones.

use std::collections::HashSet;

use anyhow::Context as _;
use glacier_multipart::{UploadOptions, Uploader, choose_part_size};
use journal::{Archive, ArchiveId, ArchiveMeta, Record, RelName, encode_description};
use serde_json::json;

use crate::cli::{Detect, SyncArgs};
use crate::commands::Ctx;
use crate::commands::common::{
    LocalFile, existing_dir, mib_power_of_two, now, open_journal, preflight, required, resume_dir,
    walk,
};
use crate::exit::Code;
use crate::progress::Bar;

#[allow(clippy::too_many_lines)] // one linear story: check, plan, act, report
pub(crate) fn run(ctx: &Ctx<'_>, args: &SyncArgs) -> anyhow::Result<Code> {
    let dir = existing_dir(required(args.dir.as_ref(), "--dir")?)?;
    let journal_path = required(args.journal.as_ref(), "--journal")?;
    let part_size = mib_power_of_two("--partsize", args.partsize)?;
    let filter = ctx.filter(&args.filter)?;
    let target = ctx.vault(&args.vault, args.transfer.max_rate)?;
    preflight(&target)?;
    let (mut writer, mut state) = open_journal(journal_path)?;
    let mut files = walk(
        ctx.out,
        &dir,
        &filter,
        args.follow,
        std::slice::from_ref(journal_path),
    )?;
    // Glacier refuses empty archives; mt-aws-glacier skips empty files too.
    files.retain(|f| {
        if f.size == 0 {
            ctx.out.info(format!(
                "skipping {}: empty files cannot be archived",
                f.relname
            ));
        }
        f.size > 0
    });

    let new = args.new || !(args.replace_modified || args.delete_removed);
    let mut uploads: Vec<(LocalFile, Option<Archive>)> = Vec::new();
    for f in &files {
        match state.latest(&f.relname) {
            None if new => uploads.push((f.clone(), None)),
            Some(a) if args.replace_modified && modified(args.detect, f, a)? => {
                uploads.push((f.clone(), Some(a.clone())));
            }
            None | Some(_) => {}
        }
    }
    if let Some(max) = args.max_number_of_files {
        uploads.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    let mut deletes: Vec<Archive> = Vec::new();
    if args.delete_removed {
        let local: HashSet<&str> = files.iter().map(|f| f.relname.as_str()).collect();
        for fv in state.files() {
            let rel = fv.relname().as_str();
            if !local.contains(rel) && filter.includes(rel) {
                deletes.extend(fv.iter().cloned());
            }
        }
        deletes.sort_by(|a, b| a.relname.cmp(&b.relname));
    }

    let limits = target.store.limits();
    if args.dry_run {
        for (f, old) in &uploads {
            note_part_size(ctx, f, part_size, &limits)?;
            let verb = if old.is_some() { "replace" } else { "upload" };
            ctx.out.line(format!("would {verb} {}", f.relname));
        }
        for a in &deletes {
            ctx.out.line(format!("would delete {}", a.relname.as_str()));
        }
        ctx.out.json(&json!({
            "dry_run": true,
            "upload": uploads.iter().filter(|u| u.1.is_none()).map(|u| &u.0.relname).collect::<Vec<_>>(),
            "replace": uploads.iter().filter(|u| u.1.is_some()).map(|u| &u.0.relname).collect::<Vec<_>>(),
            "delete": deletes.iter().map(|a| a.relname.as_str()).collect::<Vec<_>>(),
        }));
        return Ok(Code::Success);
    }

    let uploader = Uploader::new(
        target.store.clone(),
        UploadOptions {
            part_size,
            concurrency: usize::from(args.transfer.concurrency),
            state_dir: Some(resume_dir(journal_path)),
            ..UploadOptions::default()
        },
    );
    let (mut uploaded, mut replaced, mut bytes) = (0u64, 0u64, 0u64);
    for (f, old) in &uploads {
        note_part_size(ctx, f, part_size, &limits)?;
        let relname = RelName::new(&f.relname)?;
        let description = encode_description(&ArchiveMeta {
            relname: relname.clone(),
            mtime: f.mtime,
        })
        .with_context(|| format!("describing {}", f.relname))?;
        let bar = Bar::new(&f.relname, ctx.progress_visible());
        let archive = uploader
            .upload_file(&target.vault, &f.path, &description, &bar)
            .with_context(|| format!("uploading {}", f.path.display()))?;
        drop(bar);
        let record = Record::Created {
            time: now(),
            archive_id: ArchiveId::new(&archive.archive_id)?,
            size: archive.size,
            mtime: Some(f.mtime),
            treehash: archive.tree_hash,
            relname: relname.clone(),
        };
        writer.append(&record)?;
        state.apply(&record)?;
        bytes += archive.size;
        if let Some(old) = old {
            delete_archive(ctx, &target, &mut writer, &mut state, old)?;
            replaced += 1;
            ctx.out.info(format!("replaced {}", f.relname));
        } else {
            uploaded += 1;
            ctx.out.info(format!("uploaded {}", f.relname));
        }
    }
    let mut deleted = 0u64;
    for a in &deletes {
        delete_archive(ctx, &target, &mut writer, &mut state, a)?;
        deleted += 1;
        ctx.out.info(format!("deleted {}", a.relname.as_str()));
    }
    ctx.out.line(format!(
        "{uploaded} uploaded, {replaced} replaced, {deleted} deleted, {bytes} bytes sent"
    ));
    ctx.out.json(&json!({
        "uploaded": uploaded, "replaced": replaced, "deleted": deleted, "bytes": bytes,
    }));
    Ok(Code::Success)
}

/// Says so when `f` needs a larger part size than asked for.
fn note_part_size(
    ctx: &Ctx<'_>,
    f: &LocalFile,
    part_size: u64,
    limits: &glacier_multipart::StoreLimits,
) -> anyhow::Result<()> {
    let chosen = choose_part_size(part_size, Some(f.size), limits)
        .with_context(|| format!("{}: {} bytes", f.relname, f.size))?;
    if chosen > part_size && f.size > part_size {
        ctx.out.info(format!(
            "{}: part size raised from {} MiB to {} MiB (at most {} parts per archive)",
            f.relname,
            part_size >> 20,
            chosen >> 20,
            limits.max_parts
        ));
    }
    Ok(())
}

/// Deletes an archive from the vault and records it.
pub(crate) fn delete_archive(
    _ctx: &Ctx<'_>,
    target: &crate::store::Target,
    writer: &mut journal::JournalWriter,
    state: &mut journal::State,
    archive: &Archive,
) -> anyhow::Result<()> {
    match target
        .store
        .delete_archive(&target.vault, archive.archive_id.as_str())
    {
        Ok(()) | Err(glacier_multipart::Error::ArchiveNotFound { .. }) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "deleting archive {} ({})",
                archive.archive_id.as_str(),
                archive.relname.as_str()
            )));
        }
    }
    let record = Record::Deleted {
        time: now(),
        archive_id: archive.archive_id.clone(),
        relname: archive.relname.clone(),
    };
    writer.append(&record)?;
    state.apply(&record)?;
    Ok(())
}

/// Whether `f` differs from the archive `a`, the way `--detect` says.
fn modified(detect: Detect, f: &LocalFile, a: &Archive) -> anyhow::Result<bool> {
    if f.size != a.size {
        return Ok(true);
    }
    let mtime_differs = a.mtime != Some(f.mtime);
    let hash_differs = || -> anyhow::Result<bool> {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let h = glacier_treehash::tree_hash_file(&f.path, threads)
            .with_context(|| format!("hashing {}", f.path.display()))?;
        Ok(h != a.treehash)
    };
    Ok(match detect {
        Detect::AlwaysPositive => true,
        Detect::SizeOnly => false,
        Detect::Mtime => mtime_differs,
        Detect::Treehash => hash_differs()?,
        Detect::MtimeOrTreehash => mtime_differs || hash_differs()?,
        Detect::MtimeAndTreehash => mtime_differs && hash_differs()?,
    })
}
