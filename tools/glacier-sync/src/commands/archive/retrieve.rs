//! `glacier-sync retrieve`: plan, confirm, request retrieval jobs (and with
//! `--wait`, watch them through).
//!
//! When only some members of a bundle are wanted and the catalog's copy of
//! the bundle's index is at hand (and the bundle is not encrypted), the job
//! asks for the megabyte-aligned byte range that covers just those members;
//! otherwise for the whole archive.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

use catalog::{ArchiveKey, ArchiveState, FileHit, JobState, Page, RetrievalJob};
use glacier_multipart::{JobRequest, Tier};
use glacier_sync::cost::{self, StorageClass, US_EAST_1_2026};
use serde_json::json;

use super::cli::RetrieveArgs;
use super::where_is::absolute;
use super::{
    JobPlan, catalog_path, human, jobs_dir, load_index, open_catalog, open_target, safe_name,
    write_atomic,
};
use crate::cli::TierArg;
use crate::commands::Ctx;
use crate::commands::common::now;
use crate::exit::{Code, coded};

const MIB: u64 = 1 << 20;

/// One archive's part of a plan.
#[derive(Debug)]
struct Want {
    key: ArchiveKey,
    archive_id: String,
    store: String,
    vault: String,
    hits: Vec<FileHit>,
    range: Option<(u64, u64)>,
    size: u64,
}

impl Want {
    fn bytes(&self) -> u64 {
        self.range.map_or(self.size, |(a, b)| b - a)
    }
}

#[allow(clippy::too_many_lines)]
pub(crate) fn run(ctx: &Ctx<'_>, args: &RetrieveArgs) -> anyhow::Result<Code> {
    let out = ctx.out;
    let cat_path = catalog_path(args.place.catalog.as_deref())?;
    let mut cat = open_catalog(Some(&cat_path))?;
    let target = open_target(ctx, &args.place, false)?;
    let hits: Vec<FileHit> = if let Some(p) = &args.path {
        let path = absolute(p);
        let mut v: Vec<FileHit> = cat
            .where_is(&path)?
            .into_iter()
            .filter(|h| h.state == ArchiveState::Stored)
            .collect();
        match v.pop() {
            Some(h) => vec![h],
            None => return Err(coded(Code::Failure, format!("{path}: not in the catalog"))),
        }
    } else {
        let text = match &args.archive {
            Some(a) => format!("archive:{a}"),
            None => args.query.join(" "),
        };
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
        hits.retain(|h| h.state == ArchiveState::Stored);
        hits
    };
    if hits.is_empty() {
        return Err(coded(Code::Failure, "no archived file matches"));
    }
    let mut groups: BTreeMap<ArchiveKey, Want> = BTreeMap::new();
    for h in hits {
        let Some(id) = h.archive_id.clone() else {
            continue;
        };
        if h.vault != target.vault {
            out.warn(format!(
                "{}: in vault {}, not {}; skipped (pass --vault)",
                h.path, h.vault, target.vault
            ));
            continue;
        }
        let a = groups.entry(h.archive).or_insert_with(|| Want {
            key: h.archive,
            archive_id: id,
            store: h.store.clone(),
            vault: h.vault.clone(),
            hits: Vec::new(),
            range: None,
            size: 0,
        });
        a.hits.push(h);
    }
    for w in groups.values_mut() {
        let archive = cat
            .archive(w.key)?
            .ok_or_else(|| coded(Code::Failure, format!("archive {} vanished", w.key)))?;
        w.size = archive.info.stored_size.unwrap_or(archive.info.size);
        w.range = ranged(&cat_path, w, archive.files);
    }
    let requests = groups.len() as u64;
    let bytes: u64 = groups.values().map(Want::bytes).sum();
    let files: usize = groups.values().map(|w| w.hits.len()).sum();
    let tier = match args.tier {
        TierArg::Expedited => Tier::Expedited,
        TierArg::Standard => Tier::Standard,
        TierArg::Bulk => Tier::Bulk,
    };
    let ctier = match args.tier {
        TierArg::Expedited => cost::Tier::Expedited,
        TierArg::Standard => cost::Tier::Standard,
        TierArg::Bulk => cost::Tier::Bulk,
    };
    let est = US_EAST_1_2026.retrieval(StorageClass::GlacierVault, ctier, requests, bytes)?;
    for w in groups.values() {
        let what = match w.range {
            Some((a, b)) => format!("bytes {a}-{b} of {}", w.size),
            None => format!("whole archive, {} bytes", w.size),
        };
        out.info(format!(
            "archive {}: {} files, {what}",
            w.archive_id,
            w.hits.len()
        ));
    }
    // A local directory (or in-memory) store answers jobs at once and free;
    // the Glacier figures are then only what the same plan would cost there.
    let location = target.store.location();
    let local = location.starts_with("file://") || location.starts_with("memory:");
    let (charge, wait_s) = if local {
        (0.0, (0, 0))
    } else {
        (est.usd, (est.wait_min.as_secs(), est.wait_max.as_secs()))
    };
    let glacier = format!(
        "tier {}, estimated ${:.4}, ready in {}-{} minutes ({})",
        tier.as_str(),
        est.usd,
        est.wait_min.as_secs() / 60,
        est.wait_max.as_secs() / 60,
        US_EAST_1_2026.as_of
    );
    let cost_text = if local {
        format!("local store: no charge, ready at once (on Glacier: {glacier})")
    } else {
        glacier
    };
    out.info(format!(
        "plan: {files} files from {requests} archives, {} ({bytes} bytes) in {requests} requests, {cost_text}",
        human(bytes),
    ));
    let plan_json = json!({
        "files": files,
        "archives": groups.values().map(|w| json!({
            "vault": w.vault,
            "archive_id": w.archive_id,
            "files": w.hits.iter().map(|h| &h.path).collect::<Vec<_>>(),
            "range": w.range,
            "size": w.size,
            "bytes": w.bytes(),
        })).collect::<Vec<_>>(),
        "bytes": bytes,
        "requests": requests,
        "tier": tier.as_str(),
        "local_store": local,
        "usd": charge,
        "wait_min_s": wait_s.0,
        "wait_max_s": wait_s.1,
        "glacier_usd": est.usd,
        "glacier_wait_min_s": est.wait_min.as_secs(),
        "glacier_wait_max_s": est.wait_max.as_secs(),
        "prices": US_EAST_1_2026.as_of,
    });
    if let Some(max) = args.max_cost
        && charge > max
    {
        return Err(coded(
            Code::CostLimit,
            format!("the estimated cost ${charge:.4} exceeds --max-cost {max}; nothing requested"),
        ));
    }
    if args.dry_run {
        for w in groups.values() {
            out.line(format!("{},{}", w.vault, w.archive_id));
        }
        out.json(&json!({"dry_run": true, "plan": plan_json}));
        return Ok(Code::Success);
    }
    if !args.yes && std::io::stdin().is_terminal() {
        eprint!("request these retrievals? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Err(coded(Code::Failure, "cancelled; nothing requested"));
        }
    }
    std::fs::create_dir_all(&args.to)?;
    let to = std::fs::canonicalize(&args.to)?;
    let mut job_ids = Vec::new();
    for w in groups.values() {
        let store_id = cat.store(&w.store, "", None)?;
        let vault_id = cat.vault(store_id, &w.vault)?;
        let job_id = target.store.initiate_job(
            &target.vault,
            &JobRequest::ArchiveRetrieval {
                archive_id: w.archive_id.clone(),
                tier,
                range: w.range.map(|(a, b)| a..b),
                description: Some(format!("permafrost retrieve of {} files", w.hits.len())),
            },
        )?;
        let plan = JobPlan {
            archive_id: w.archive_id.clone(),
            range: w.range,
            members: Some(
                w.hits
                    .iter()
                    .map(|h| h.path.trim_start_matches('/').to_owned())
                    .collect(),
            ),
            to: to.clone(),
        };
        write_atomic(
            &jobs_dir(&cat_path).join(format!("{}.json", safe_name(&job_id))),
            &serde_json::to_vec(&plan)?,
        )?;
        cat.add_retrieval_job(&RetrievalJob {
            vault: vault_id,
            job_id: job_id.clone(),
            archive: Some(w.key),
            range: w.range,
            tier: tier.as_str().to_owned(),
            requested: i64::try_from(now()).unwrap_or(i64::MAX),
            state: JobState::Requested,
            expires: None,
            downloaded_to: Some(to.display().to_string()),
        })?;
        out.info(format!(
            "requested job {job_id} for archive {}",
            w.archive_id
        ));
        job_ids.push(job_id);
    }
    drop(cat);
    out.json(&json!({"plan": plan_json, "jobs": job_ids}));
    if args.wait {
        return super::watch::watch(ctx, &target, &cat_path, args.interval, false, &args.decrypt);
    }
    out.info("run `glacier-sync watch` to download and extract when the jobs are done");
    Ok(Code::Success)
}

/// The megabyte-aligned range covering just the wanted members, when that
/// is less than the whole archive and the bundle's index is at hand.
fn ranged(cat_path: &std::path::Path, w: &Want, archive_files: u64) -> Option<(u64, u64)> {
    if w.hits.len() as u64 >= archive_files {
        return None;
    }
    let index = load_index(cat_path, &w.archive_id)?;
    if index.encryption.is_some() {
        return None;
    }
    let mut start = u64::MAX;
    let mut end = 0;
    for h in &w.hits {
        let name = h.path.trim_start_matches('/').as_bytes();
        let m = index.member(name)?;
        if m.kind == bundler::MemberKind::HardLink {
            return None;
        }
        start = start.min(m.range.start);
        end = end.max(m.range.end);
    }
    let a = start / MIB * MIB;
    let b = end.div_ceil(MIB).saturating_mul(MIB).min(w.size);
    (a > 0 || b < w.size).then_some((a, b))
}
