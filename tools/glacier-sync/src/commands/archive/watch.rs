//! `glacier-sync watch`: poll pending retrieval jobs; download completed
//! outputs (verified by tree hash, resumable), decrypt, extract just the
//! requested files with their metadata, and mark the jobs done.

use std::path::Path;

use anyhow::Context as _;
use bundler::{Decryption, ExtractOptions, FileSource, RangeSource, Selection};
use catalog::JobState;
use glacier_multipart::{DownloadOptions, Downloader, JobStatus};

use super::cli::{DecryptArgs, WatchArgs};
use super::{JobPlan, catalog_path, jobs_dir, load_index, open_catalog, open_target, safe_name};
use crate::commands::Ctx;
use crate::exit::Code;
use crate::store::Target;

pub(crate) fn run(ctx: &Ctx<'_>, args: &WatchArgs) -> anyhow::Result<Code> {
    let cat_path = catalog_path(args.place.catalog.as_deref())?;
    let target = open_target(ctx, &args.place, false)?;
    watch(
        ctx,
        &target,
        &cat_path,
        args.interval,
        args.once,
        &args.decrypt,
    )
}

/// Polls until no job is pending (or once).
pub(crate) fn watch(
    ctx: &Ctx<'_>,
    target: &Target,
    cat_path: &Path,
    interval: u64,
    once: bool,
    decrypt: &DecryptArgs,
) -> anyhow::Result<Code> {
    let dec = match &decrypt.identity {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading the identity file {}", p.display()))?;
            Some(Decryption::identity_file(&text).with_context(|| p.display().to_string())?)
        }
        None => None,
    };
    loop {
        let pending = poll(ctx, target, cat_path, dec.as_ref())?;
        if pending == 0 {
            return Ok(Code::Success);
        }
        if once {
            ctx.out.info(format!("{pending} jobs still pending"));
            return Ok(Code::Pending);
        }
        ctx.out
            .info(format!("{pending} jobs pending; next poll in {interval} s"));
        std::thread::sleep(std::time::Duration::from_secs(interval));
    }
}

/// One pass over the jobs; returns how many are still pending.
fn poll(
    ctx: &Ctx<'_>,
    target: &Target,
    cat_path: &Path,
    dec: Option<&Decryption>,
) -> anyhow::Result<usize> {
    let mut cat = open_catalog(Some(cat_path))?;
    let mut jobs = cat.retrieval_jobs(Some(JobState::Requested))?;
    jobs.extend(cat.retrieval_jobs(Some(JobState::Ready))?);
    let dir = jobs_dir(cat_path);
    let mut pending = 0;
    for (key, job) in jobs {
        let plan_path = dir.join(format!("{}.json", safe_name(&job.job_id)));
        let Ok(bytes) = std::fs::read(&plan_path) else {
            ctx.out.warn(format!(
                "job {}: no extraction plan here, skipped",
                job.job_id
            ));
            continue;
        };
        let plan: JobPlan = serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}", plan_path.display()))?;
        let dest = dir.join(format!("{}.out", safe_name(&job.job_id)));
        if !dest.exists() {
            let info = match target.store.describe_job(&target.vault, &job.job_id) {
                Ok(i) => i,
                Err(glacier_multipart::Error::JobNotFound { .. }) => {
                    ctx.out.warn(format!(
                        "job {}: its output expired before it was downloaded; \
                         request it again with `glacier-sync retrieve`",
                        job.job_id
                    ));
                    cat.set_job_state(key, JobState::Expired, None)?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match info.status {
                JobStatus::InProgress => {
                    pending += 1;
                    continue;
                }
                JobStatus::Failed => {
                    ctx.out
                        .warn(format!("job {} failed in the store", job.job_id));
                    cat.set_job_state(key, JobState::Failed, None)?;
                    continue;
                }
                JobStatus::Succeeded => {}
            }
            let bar = crate::progress::Bar::new(&job.job_id, ctx.progress_visible());
            Downloader::new(target.store.clone(), DownloadOptions::default())
                .download_job(&target.vault, &job.job_id, &dest, &bar)
                .with_context(|| format!("downloading the output of job {}", job.job_id))?;
            cat.set_job_state(key, JobState::Ready, None)?;
        }
        extract(&plan, &dest, cat_path, dec).with_context(|| {
            let hint = if dec.is_none() {
                " (an encrypted bundle needs --identity FILE)"
            } else {
                ""
            };
            format!(
                "extracting job {} (archive {}){hint}",
                job.job_id, plan.archive_id
            )
        })?;
        cat.set_job_state(
            key,
            JobState::Downloaded,
            Some(&plan.to.display().to_string()),
        )?;
        let _ = std::fs::remove_file(&dest);
        let _ = std::fs::remove_file(&plan_path);
        ctx.out.info(format!(
            "job {}: {} files extracted into {}",
            job.job_id,
            plan.members.as_ref().map_or(0, Vec::len),
            plan.to.display()
        ));
    }
    Ok(pending)
}

/// Serves a byte range of an archive from the downloaded output of a ranged
/// job, at the archive's offsets.
struct Offset {
    inner: FileSource,
    base: u64,
}

impl RangeSource for Offset {
    fn len(&self) -> u64 {
        self.base + self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let at = offset.checked_sub(self.base).ok_or_else(|| {
            std::io::Error::other(format!(
                "byte {offset} lies before the retrieved range starting at {}",
                self.base
            ))
        })?;
        self.inner.read_at(at, buf)
    }
}

fn extract(
    plan: &JobPlan,
    dest: &Path,
    cat_path: &Path,
    dec: Option<&Decryption>,
) -> anyhow::Result<()> {
    let selection = match &plan.members {
        Some(m) => Selection::paths(m.iter().map(String::as_bytes)),
        None => Selection::All,
    };
    let options = ExtractOptions {
        decryption: dec.cloned(),
        restore_owners: None,
    };
    std::fs::create_dir_all(&plan.to)?;
    if let (Some((start, _)), Some(index)) = (plan.range, load_index(cat_path, &plan.archive_id)) {
        let src = Offset {
            inner: FileSource::open(dest).with_context(|| format!("opening {}", dest.display()))?,
            base: start,
        };
        bundler::extract_ranges(&src, &index, &selection, &plan.to, &options)?;
    } else {
        let f = std::fs::File::open(dest).with_context(|| format!("opening {}", dest.display()))?;
        bundler::extract_stream(std::io::BufReader::new(f), &selection, &plan.to, &options)?;
    }
    Ok(())
}
