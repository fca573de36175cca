//! `restore-completed`: download what the retrievals made ready, with
//! mtimes; `--wait` polls until every requested retrieval finished.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use glacier_multipart::{DownloadOptions, Downloader, JobRequest, JobStatus};
use serde_json::json;

use crate::cli::RestoreCompletedArgs;
use crate::commands::Ctx;
use crate::commands::common::{mib_power_of_two, preflight, read_journal, required, restore_dir};
use crate::exit::Code;
use crate::progress::Bar;

#[allow(clippy::too_many_lines)] // one linear story: check, plan, act, report
pub(crate) fn run(ctx: &Ctx<'_>, args: &RestoreCompletedArgs) -> anyhow::Result<Code> {
    let dir = restore_dir(ctx.out, required(args.dir.as_ref(), "--dir")?, false)?;
    let journal_path = required(args.journal.as_ref(), "--journal")?;
    let segment = mib_power_of_two("--segment-size", args.segment_size)?;
    let filter = ctx.filter(&args.filter)?;
    let target = ctx.vault(&args.vault, args.transfer.max_rate)?;
    preflight(&target)?;
    let state = read_journal(journal_path)?;
    let downloader = Downloader::new(
        target.store.clone(),
        DownloadOptions {
            segment_size: segment,
            concurrency: usize::from(args.transfer.concurrency),
            ..DownloadOptions::default()
        },
    );
    let mut wanted: Vec<journal::Archive> = state
        .files()
        .filter(|fv| filter.includes(fv.relname().as_str()))
        .map(|fv| fv.latest().clone())
        .collect();
    wanted.sort_by(|a, b| a.relname.cmp(&b.relname));
    let (mut downloaded, mut bytes) = (0u64, 0u64);
    let mut failed = 0u64;
    // The exit code of the downloads that failed: theirs when they agree.
    let mut failed_code: Option<Code> = None;
    let mut polls = archiver::PollFailures::default();
    let pending = loop {
        let jobs = match target.store.list_jobs(&target.vault) {
            Ok(jobs) => {
                polls.succeeded();
                jobs
            }
            Err(e) => {
                let failure = if args.wait {
                    polls.failed(e.is_retryable())
                } else {
                    None
                };
                let Some(failure) = failure else {
                    return Err(anyhow::Error::new(e)
                        .context(format!("listing the jobs of vault {:?}", target.vault)));
                };
                ctx.out.warn(format!(
                    "waiting for the retrievals of vault {:?}: {e}; polling again in {} s (failure {failure} of {} in a row)",
                    target.vault,
                    args.poll_interval,
                    polls.limit()
                ));
                std::thread::sleep(Duration::from_secs_f64(args.poll_interval.max(0.0)));
                continue;
            }
        };
        let mut ready: HashMap<&str, &glacier_multipart::JobInfo> = HashMap::new();
        let mut running: HashSet<&str> = HashSet::new();
        for j in &jobs {
            if let JobRequest::ArchiveRetrieval {
                archive_id, range, ..
            } = &j.request
                // Whole-archive retrievals only (a store may state the range).
                && range
                    .as_ref()
                    .is_none_or(|r| r.start == 0 && j.archive_size.is_none_or(|s| r.end >= s))
            {
                match j.status {
                    JobStatus::Succeeded => {
                        let newer = ready.get(archive_id.as_str()).is_none_or(|o| {
                            o.completed.unwrap_or(o.created) < j.completed.unwrap_or(j.created)
                        });
                        if newer {
                            ready.insert(archive_id.as_str(), j);
                        }
                    }
                    JobStatus::InProgress => {
                        running.insert(archive_id.as_str());
                    }
                    JobStatus::Failed => {}
                }
            }
        }
        let mut pending = 0u64;
        for a in &wanted {
            let rel = a.relname.as_str();
            let dest = dir.join(rel);
            if dest.exists() {
                continue;
            }
            let id = a.archive_id.as_str();
            if let Some(job) = ready.get(id) {
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                let bar = Bar::new(rel, ctx.progress_visible());
                match downloader.download_job(&target.vault, &job.job_id, &dest, &bar) {
                    Ok(info) => {
                        drop(bar);
                        if let Some(m) = a.mtime {
                            set_mtime(&dest, m)?;
                        }
                        downloaded += 1;
                        bytes += info.size;
                        ctx.out.info(format!("restored {rel}"));
                    }
                    Err(e) => {
                        drop(bar);
                        failed += 1;
                        ctx.out.warn(format!("{rel}: {e}"));
                        let code = crate::exit::code_of(&anyhow::Error::new(e));
                        failed_code = Some(match failed_code {
                            Some(c) if c != code => Code::Failure,
                            _ => code,
                        });
                    }
                }
            } else if running.contains(id) {
                pending += 1;
            }
        }
        if pending == 0 || !args.wait {
            break pending;
        }
        ctx.out.info(format!(
            "{pending} retrievals still running; checking again in {} s",
            args.poll_interval
        ));
        std::thread::sleep(Duration::from_secs_f64(args.poll_interval.max(0.0)));
    };
    ctx.out.line(format!(
        "{downloaded} files restored ({bytes} bytes), {pending} retrievals still running, {failed} failed"
    ));
    ctx.out.json(
        &json!({"restored": downloaded, "bytes": bytes, "pending": pending, "failed": failed}),
    );
    Ok(failed_code.unwrap_or(Code::Success))
}

fn set_mtime(path: &std::path::Path, mtime: i64) -> anyhow::Result<()> {
    let t = if mtime >= 0 {
        UNIX_EPOCH + Duration::from_secs(mtime.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(mtime.unsigned_abs())
    };
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .with_context(|| format!("opening {} to set its mtime", path.display()))?;
    f.set_modified(t)
        .with_context(|| format!("setting the mtime of {}", path.display()))?;
    Ok(())
}
