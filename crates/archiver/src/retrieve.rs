//! Getting files back, step one: plan (which archives, which byte ranges,
//! bytes, requests, cost, wait) and request the retrieval jobs.
//!
//! When only some members of a bundle are wanted and the bundle's index is
//! kept beside the catalog (and the bundle is not encrypted), the job asks
//! for the megabyte-aligned byte range that covers just those members;
//! otherwise for the whole archive. [`crate::watch`] then downloads,
//! verifies and extracts.

use std::collections::BTreeMap;
use std::path::Path;

use catalog::{ArchiveKey, ArchiveState, FileHit, JobState, Page, Query, RetrievalJob};
use glacier_multipart::{JobRequest, Tier};
use serde::Serialize;

use crate::archive::now;
use crate::error::{Error, Result};
use crate::observer::{Notice, Observer, Warning, emit_notice, emit_warning};
use crate::options::Vault;
use crate::pricing::{PriceTable, RetrievalEstimate, US_EAST_1_2026};
use crate::side::{ArchiveCatalog, JobPlan, SideFiles};

const MIB: u64 = 1 << 20;

/// Which files to get back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Selection {
    /// The stored files a catalog query matches (see [`catalog::query`]).
    Query(Query),
    /// Every file of one archive (catalog number or store id).
    Archive(String),
    /// The newest stored version of one absolute path.
    Path(String),
    /// Exactly these stored versions (chosen by the caller, e.g. a backup
    /// set's tree as of a time).
    Hits(Vec<FileHit>),
}

/// How to retrieve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrieveOptions {
    /// The retrieval tier (default standard).
    pub tier: Tier,
    /// At most this many files (default 10 000).
    pub limit: u32,
    /// The prices the plan is estimated with.
    pub prices: PriceTable,
}

impl Default for RetrieveOptions {
    fn default() -> Self {
        RetrieveOptions {
            tier: Tier::Standard,
            limit: 10_000,
            prices: US_EAST_1_2026,
        }
    }
}

impl RetrieveOptions {
    /// Retrieves at `tier`.
    #[must_use]
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// At most `n` files.
    #[must_use]
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
}

/// One archive's part of a [`RetrievePlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedArchive {
    /// The vault.
    pub vault: String,
    /// The store's archive id.
    pub archive_id: String,
    /// The wanted files' paths.
    pub files: Vec<String>,
    /// The byte range asked for (`None`: the whole archive).
    pub range: Option<(u64, u64)>,
    /// The archive's stored size.
    pub size: u64,
    /// The bytes the job returns.
    pub bytes: u64,
    #[serde(skip)]
    key: ArchiveKey,
    #[serde(skip)]
    store: String,
}

/// A retrieval, planned: what a caller shows, prices, refuses or prints as
/// JSON before anything is requested.
///
/// `usd` and the waits are what this store charges (nothing, at once, for a
/// local store); the `glacier_*` figures are the vault class's estimate,
/// shown beside them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievePlan {
    /// Files wanted.
    pub files: usize,
    /// The archives to ask for.
    pub archives: Vec<PlannedArchive>,
    /// Bytes the jobs return.
    pub bytes: u64,
    /// Bytes the retrievals are billed for: `bytes`, or the whole archives
    /// when the class restores whole objects (S3: a file from a bundle pays
    /// the retrieval of the whole bundle, though only its range is
    /// downloaded).
    pub billed_bytes: u64,
    /// Whether the class bills whole objects for a ranged retrieval.
    pub whole_objects: bool,
    /// Retrieval requests (one job per archive).
    pub requests: u64,
    /// The tier.
    pub tier: Tier,
    /// Whether the store is a local one (free, jobs ready at once).
    pub local_store: bool,
    /// Estimated USD at this store.
    pub usd: f64,
    /// Shortest wait at this store, seconds.
    pub wait_min_s: u64,
    /// Longest wait at this store, seconds.
    pub wait_max_s: u64,
    /// Estimated USD for the vault's class.
    pub glacier_usd: f64,
    /// Its shortest wait, seconds.
    pub glacier_wait_min_s: u64,
    /// Its longest wait, seconds.
    pub glacier_wait_max_s: u64,
    /// Which prices.
    pub prices: &'static str,
    #[serde(skip)]
    estimate: RetrievalEstimate,
}

impl RetrievePlan {
    /// The class's estimate (its tier, USD and waits).
    pub fn estimate(&self) -> &RetrievalEstimate {
        &self.estimate
    }

    /// Whether the plan costs more than `max` USD at this store.
    pub fn exceeds(&self, max: f64) -> bool {
        self.usd > max
    }

    /// Refuses a plan above `max` USD ([`Error::CostLimit`]); `None`: no
    /// limit.
    pub fn check_max_cost(&self, max: Option<f64>) -> Result<()> {
        match max {
            Some(max) if self.exceeds(max) => Err(Error::CostLimit {
                estimate: self.usd,
                max,
            }),
            _ => Ok(()),
        }
    }
}

/// Plans getting `selection` back from `vault`: groups the stored files by
/// archive, narrows each job to the byte range of the wanted members where
/// it can, and estimates cost and wait. Files in other vaults are left out
/// with a warning. Requests nothing.
pub fn plan_retrieve(
    selection: &Selection,
    options: &RetrieveOptions,
    vault: &Vault,
    catalog: &ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<RetrievePlan> {
    let cat = catalog.catalog();
    let hits: Vec<FileHit> = match selection {
        Selection::Path(path) => {
            let (mut v, gone): (Vec<FileHit>, Vec<FileHit>) = cat
                .where_is(path)?
                .into_iter()
                .filter(|h| h.state != ArchiveState::Uploading)
                .partition(|h| h.state == ArchiveState::Stored);
            match (v.pop(), gone.last()) {
                (Some(h), _) => vec![h],
                (None, Some(g)) => return Err(not_in_store(g, 0)),
                (None, None) => return Err(Error::NotInCatalog { path: path.clone() }),
            }
        }
        Selection::Query(q) => search(cat, q, options.limit, observer)?,
        Selection::Hits(h) => h.clone(),
        Selection::Archive(a) => {
            let q = catalog::query::parse(&format!("archive:{a}"))?;
            search(cat, &q, options.limit, observer)?
        }
    };
    if hits.is_empty() {
        return Err(Error::NothingMatches);
    }
    let mut groups: BTreeMap<ArchiveKey, PlannedArchive> = BTreeMap::new();
    for h in hits {
        let Some(id) = h.archive_id.clone() else {
            continue;
        };
        if h.vault != vault.name {
            emit_warning(
                observer,
                &Warning::OtherVault {
                    path: h.path.clone(),
                    vault: h.vault.clone(),
                    wanted: vault.name.clone(),
                },
            );
            continue;
        }
        groups
            .entry(h.archive)
            .or_insert_with(|| PlannedArchive {
                vault: h.vault.clone(),
                archive_id: id,
                files: Vec::new(),
                range: None,
                size: 0,
                bytes: 0,
                key: h.archive,
                store: h.store.clone(),
            })
            .files
            .push(h.path);
    }
    for w in groups.values_mut() {
        let archive = cat
            .archive(w.key)?
            .ok_or(Error::ArchiveVanished { key: w.key })?;
        w.size = archive.info.stored_size.unwrap_or(archive.info.size);
        w.range = ranged(catalog.side(), w, archive.files);
        w.bytes = w.range.map_or(w.size, |(a, b)| b - a);
    }
    let archives: Vec<PlannedArchive> = groups.into_values().collect();
    let requests = archives.len() as u64;
    let bytes: u64 = archives.iter().map(|w| w.bytes).sum();
    let files: usize = archives.iter().map(|w| w.files.len()).sum();
    let whole_objects = options.prices.class(vault.class)?.whole_object_retrieval;
    let billed_bytes = if whole_objects {
        archives.iter().map(|w| w.size).sum()
    } else {
        bytes
    };
    let est = options
        .prices
        .retrieval(vault.class, options.tier.into(), requests, billed_bytes)?;
    // A local directory (or in-memory) store answers jobs at once and free;
    // the class's figures are then only what the same plan would cost there.
    let local = vault.is_local();
    let (usd, wait) = if local {
        (0.0, (0, 0))
    } else {
        (est.usd, (est.wait_min.as_secs(), est.wait_max.as_secs()))
    };
    Ok(RetrievePlan {
        files,
        archives,
        bytes,
        billed_bytes,
        whole_objects,
        requests,
        tier: options.tier,
        local_store: local,
        usd,
        wait_min_s: wait.0,
        wait_max_s: wait.1,
        glacier_usd: est.usd,
        glacier_wait_min_s: est.wait_min.as_secs(),
        glacier_wait_max_s: est.wait_max.as_secs(),
        prices: options.prices.as_of,
        estimate: est,
    })
}

/// The refusal for `hit`, whose archive the store no longer holds.
fn not_in_store(hit: &FileHit, more: usize) -> Error {
    Error::NotInStore {
        path: hit.path.clone(),
        state: hit.state,
        archive_id: hit.archive_id.clone().unwrap_or_default(),
        more,
    }
}

/// Up to `limit` stored files matching `query`. Matches whose archives the
/// store no longer holds are left out with a warning; when they are all
/// there is, an [`Error::NotInStore`] names them.
fn search(
    cat: &catalog::Catalog,
    query: &Query,
    limit: u32,
    observer: &dyn Observer,
) -> Result<Vec<FileHit>> {
    let mut hits = Vec::new();
    let mut page = Page::first(limit.clamp(1, catalog::MAX_PAGE));
    while hits.len() < limit as usize {
        let p = cat.search(query, page)?;
        hits.extend(p.hits);
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    hits.truncate(limit as usize);
    let gone: Vec<FileHit> = hits
        .iter()
        .filter(|h| !matches!(h.state, ArchiveState::Stored | ArchiveState::Uploading))
        .cloned()
        .collect();
    hits.retain(|h| h.state == ArchiveState::Stored);
    // A path with a stored version too is not gone.
    let stored: std::collections::HashSet<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    let gone: Vec<FileHit> = gone
        .into_iter()
        .filter(|g| !stored.contains(g.path.as_str()))
        .collect();
    let mut gone = gone;
    gone.dedup_by(|a, b| a.path == b.path);
    if let Some(first) = gone.first() {
        if hits.is_empty() {
            return Err(not_in_store(first, gone.len() - 1));
        }
        emit_warning(
            observer,
            &Warning::NotInStore {
                path: first.path.clone(),
                state: first.state,
                files: gone.len(),
            },
        );
    }
    Ok(hits)
}

/// The megabyte-aligned range covering just the wanted members, when that
/// is less than the whole archive and the bundle's index is at hand.
fn ranged(side: &SideFiles, w: &PlannedArchive, archive_files: u64) -> Option<(u64, u64)> {
    if w.files.len() as u64 >= archive_files {
        return None;
    }
    let index = side.load_index(&w.archive_id)?;
    if index.encryption.is_some() {
        return None;
    }
    let mut start = u64::MAX;
    let mut end = 0;
    for path in &w.files {
        let m = index.member(path.trim_start_matches('/').as_bytes())?;
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

/// Requests the plan's jobs, one per archive: each is recorded in the
/// catalog with what it is to extract into `to` (created if missing), for
/// [`crate::watch`] to finish. Returns the job ids.
pub fn retrieve(
    plan: &RetrievePlan,
    to: &Path,
    vault: &Vault,
    catalog: &mut ArchiveCatalog,
    observer: &dyn Observer,
) -> Result<Vec<String>> {
    std::fs::create_dir_all(to).map_err(Error::io("creating the directory", to))?;
    let to = std::fs::canonicalize(to).map_err(Error::io("resolving", to))?;
    let side = catalog.side().clone();
    let cat = catalog.catalog_mut();
    let mut job_ids = Vec::new();
    for w in &plan.archives {
        let store_id = cat.store(&w.store, "", None)?;
        let vault_id = cat.vault(store_id, &w.vault)?;
        let job_plan = JobPlan {
            archive_id: w.archive_id.clone(),
            range: w.range,
            members: Some(
                w.files
                    .iter()
                    .map(|p| p.trim_start_matches('/').to_owned())
                    .collect(),
            ),
            to: to.clone(),
        };
        let initiate = || -> Result<String> {
            let job_id = vault
                .store
                .initiate_job(
                    &vault.name,
                    &JobRequest::ArchiveRetrieval {
                        archive_id: w.archive_id.clone(),
                        tier: plan.tier,
                        range: w.range.map(|(a, b)| a..b),
                        description: Some(format!(
                            "permafrost retrieve of {} files",
                            w.files.len()
                        )),
                    },
                )
                .map_err(Error::store(format!(
                    "requesting archive {} from vault {}",
                    w.archive_id, vault.name
                )))?;
            cat.add_retrieval_job(&RetrievalJob {
                vault: vault_id,
                job_id: job_id.clone(),
                archive: Some(w.key),
                range: w.range,
                tier: plan.tier.as_str().to_owned(),
                requested: now(),
                state: JobState::Requested,
                expires: None,
                downloaded_to: Some(to.display().to_string()),
            })?;
            Ok(job_id)
        };
        let (job_id, new) = side.request_job(&job_plan, initiate)?;
        emit_notice(
            observer,
            &if new {
                Notice::JobRequested {
                    job: job_id.clone(),
                    archive_id: w.archive_id.clone(),
                }
            } else {
                Notice::JobJoined {
                    job: job_id.clone(),
                    archive_id: w.archive_id.clone(),
                }
            },
        );
        job_ids.push(job_id);
    }
    Ok(job_ids)
}
