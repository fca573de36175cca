//! `glacier-sync catalog rebuild`: a catalog from the vault alone.
//!
//! Asks for the vault's inventory, picks the archives whose description
//! marks them as catalog exports, retrieves each and imports it (runs
//! already present are left alone). Bundle indexes are not rebuilt:
//! retrievals through a rebuilt catalog fetch whole bundles.

use std::time::Duration;

use anyhow::Context as _;
use glacier_multipart::{Inventory, InventoryFormat, JobRequest, JobStatus};
use serde_json::json;

use super::cli::RebuildArgs;
use super::{CATALOG_PREFIX, open_catalog, open_target};
use crate::commands::Ctx;
use crate::exit::Code;
use crate::store::Target;

pub(crate) fn run(ctx: &Ctx<'_>, args: &RebuildArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let target = open_target(ctx, &args.place, false)?;
    let mut cat = open_catalog(args.place.catalog.as_deref())?;
    out.info(format!(
        "requesting the inventory of vault {}",
        target.vault
    ));
    let job = target
        .store
        .initiate_job(&target.vault, &JobRequest::inventory(InventoryFormat::Json))?;
    let data = wait_output(ctx, &target, &job, args.interval)?;
    let inventory =
        Inventory::parse(&data).with_context(|| format!("the inventory of job {job}"))?;
    let mut exports: Vec<_> = inventory
        .archives
        .iter()
        .filter(|a| a.description.starts_with(CATALOG_PREFIX))
        .collect();
    exports.sort_by_key(|a| a.created);
    out.info(format!(
        "{} archives in the inventory, {} catalog exports",
        inventory.archives.len(),
        exports.len()
    ));
    let mut imported = 0u64;
    let mut files = 0u64;
    for a in &exports {
        let job = target
            .store
            .initiate_job(&target.vault, &JobRequest::archive(a.archive_id.clone()))?;
        let bytes = wait_output(ctx, &target, &job, args.interval)?;
        let outcome = cat
            .import_run(&bytes[..], &a.description)
            .with_context(|| format!("importing {} ({})", a.description, a.archive_id))?;
        if outcome.imported {
            imported += 1;
        }
        files += outcome.summary.files;
    }
    out.info(format!(
        "imported {imported} runs ({files} files) of {} exports",
        exports.len()
    ));
    out.json(&json!({"exports": exports.len(), "imported_runs": imported, "files": files}));
    Ok(Code::Success)
}

/// Waits for job `job` and returns its whole output, verified.
fn wait_output(ctx: &Ctx<'_>, t: &Target, job: &str, interval: u64) -> anyhow::Result<Vec<u8>> {
    loop {
        let info = t.store.describe_job(&t.vault, job)?;
        match info.status {
            JobStatus::Succeeded => break,
            JobStatus::Failed => anyhow::bail!("job {job} failed in the store"),
            JobStatus::InProgress => {
                ctx.out
                    .info(format!("job {job} in progress; next poll in {interval} s"));
                std::thread::sleep(Duration::from_secs(interval));
            }
        }
    }
    let dir = tempfile_dir()?;
    let dest = dir.join("output");
    glacier_multipart::Downloader::new(
        t.store.clone(),
        glacier_multipart::DownloadOptions::default(),
    )
    .download_job(&t.vault, job, &dest, &glacier_multipart::NoProgress)
    .with_context(|| format!("downloading the output of job {job}"))?;
    let data = std::fs::read(&dest).with_context(|| format!("reading {}", dest.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(data)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "glacier-sync-rebuild-{}-{}",
        std::process::id(),
        crate::commands::common::now()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
