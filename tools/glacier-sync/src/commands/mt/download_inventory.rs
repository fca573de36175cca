//! `download-inventory --new-journal F`: a journal rebuilt from the vault.

use anyhow::Context as _;
use glacier_multipart::{Inventory, JobRequest, JobStatus};
use journal::{ArchiveId, JournalWriter, Record, RelName, decode_description};
use serde_json::json;

use crate::cli::DownloadInventoryArgs;
use crate::commands::Ctx;
use crate::commands::common::{epoch, required};
use crate::exit::{Code, coded};

#[allow(clippy::single_match_else)] // the two sources read better side by side
pub(crate) fn run(ctx: &Ctx<'_>, args: &DownloadInventoryArgs) -> anyhow::Result<Code> {
    let path = required(args.new_journal.as_ref(), "--new-journal")?;
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {
            return Err(coded(
                Code::Usage,
                format!("--new-journal {}: exists and is not empty", path.display()),
            ));
        }
        _ => {}
    }
    let target = ctx.vault(&args.vault, None)?;
    let jobs = target
        .store
        .list_jobs(&target.vault)
        .with_context(|| format!("listing the jobs of vault {:?}", target.vault))?;
    let job = jobs
        .iter()
        .filter(|j| {
            j.status == JobStatus::Succeeded
                && matches!(j.request, JobRequest::InventoryRetrieval { .. })
        })
        .max_by_key(|j| j.completed.unwrap_or(j.created))
        .ok_or_else(|| {
            coded(
                Code::Pending,
                format!(
                    "vault {:?} has no completed inventory job; run retrieve-inventory and try again when it finished",
                    target.vault
                ),
            )
        })?;
    let output = target
        .store
        .get_job_output(&target.vault, &job.job_id, None)
        .with_context(|| format!("reading inventory job {}", job.job_id))?;
    let inventory =
        Inventory::parse(&output.data).with_context(|| format!("inventory job {}", job.job_id))?;
    let mut records = Vec::with_capacity(inventory.archives.len());
    let mut unknown = 0u64;
    for a in &inventory.archives {
        let (relname, mtime) = match decode_description(&a.description).meta() {
            Some(m) => (m.relname.clone(), Some(m.mtime)),
            None => {
                unknown += 1;
                (RelName::new(&a.archive_id)?, None)
            }
        };
        records.push(Record::Created {
            time: epoch(a.created),
            archive_id: ArchiveId::new(&a.archive_id)?,
            size: a.size,
            mtime,
            treehash: a.tree_hash,
            relname,
        });
    }
    let mut writer = JournalWriter::open(path)?;
    writer.append_all(&records)?;
    ctx.out.line(format!(
        "{} archives written to {} ({unknown} without mt2 metadata, named by archive id)",
        records.len(),
        path.display()
    ));
    ctx.out.json(
        &json!({"archives": records.len(), "without_metadata": unknown,
        "journal": path.display().to_string(), "job_id": job.job_id}),
    );
    Ok(Code::Success)
}
