//! An in-memory store with fault injection, for tests.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use glacier_treehash::{TreeHash, is_tree_hash_aligned, tree_hash};

use crate::common::{
    check_complete, check_description, check_part, check_part_size, check_retrieval_range,
    check_single_upload, check_vault_name, new_id, output_range,
};
use crate::inventory::Inventory;
use crate::store::{
    ArchiveInfo, ArchiveStore, JobInfo, JobOutput, JobRequest, JobStatus, PartInfo, StoreLimits,
    UploadInfo, UploadParts, VaultInfo,
};
use crate::{Error, Result};

/// A store that keeps everything in memory and can be told to fail.
///
/// It enforces the same rules as [`LocalStore`](crate::LocalStore) (part
/// alignment, tree hashes of parts and archives, megabyte-aligned
/// retrievals) and counts what it receives, so tests can check that a
/// resumed upload sent only the missing parts. Faults are injected with
/// [`fail_part`](Self::fail_part), [`throttle`](Self::throttle),
/// [`drop_connection_mid_part`](Self::drop_connection_mid_part) and
/// [`corrupt_output`](Self::corrupt_output).
///
/// ```
/// use glacier_multipart::{ArchiveStore, MemoryStore};
/// use glacier_treehash::tree_hash;
///
/// let store = MemoryStore::new();
/// store.create_vault("v")?;
/// let upload = store.initiate_multipart_upload("v", "", 1 << 20)?;
/// let part = vec![1u8; 1 << 20];
/// store.fail_part(0, 1); // the first try of part 0 fails with a 500
/// let err = store.upload_part("v", &upload, 0..1 << 20, tree_hash(&part), &part).unwrap_err();
/// assert!(err.is_retryable());
/// store.upload_part("v", &upload, 0..1 << 20, tree_hash(&part), &part)?;
/// assert_eq!(store.stats().parts_stored, 1);
/// # Ok::<(), glacier_multipart::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    faults: Mutex<Faults>,
}

#[derive(Debug, Default)]
struct State {
    vaults: BTreeMap<String, Vault>,
    job_delay: Duration,
    limits: Option<StoreLimits>,
    stats: MemoryStats,
}

#[derive(Debug)]
struct Vault {
    created: SystemTime,
    archives: BTreeMap<String, (ArchiveInfo, Arc<Vec<u8>>)>,
    uploads: HashMap<String, Upload>,
    jobs: HashMap<String, Job>,
}

#[derive(Debug)]
struct Upload {
    info: UploadInfo,
    parts: BTreeMap<u64, (PartInfo, Vec<u8>)>,
}

#[derive(Debug)]
struct Job {
    info: JobInfo,
    ready_at: SystemTime,
    output: Arc<Vec<u8>>,
    offset: u64,
}

#[derive(Debug, Default)]
struct Faults {
    fail_part: HashMap<u64, u32>,
    drop_part: HashMap<u64, u32>,
    throttle: u32,
    corrupt: Vec<(Option<u64>, u32)>,
}

/// What a [`MemoryStore`] has received.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStats {
    /// Parts accepted and stored.
    pub parts_stored: u64,
    /// Bytes of the parts stored.
    pub part_bytes_stored: u64,
    /// `upload_part` calls, failed ones included.
    pub part_requests: u64,
    /// Single-request uploads accepted.
    pub single_uploads: u64,
    /// `get_job_output` calls.
    pub output_requests: u64,
    /// Faults injected so far.
    pub faults_injected: u64,
}

impl MemoryStore {
    /// An empty store whose jobs complete at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes jobs succeed only `delay` after they start.
    #[must_use]
    pub fn with_job_delay(self, delay: Duration) -> Self {
        self.state().job_delay = delay;
        self
    }

    /// Enforces other size rules than Glacier's (to test S3's, or a tiny
    /// part count).
    #[must_use]
    pub fn with_limits(self, limits: StoreLimits) -> Self {
        self.state().limits = Some(limits);
        self
    }

    /// Counters of what the store received.
    pub fn stats(&self) -> MemoryStats {
        self.state().stats
    }

    /// The next `times` uploads of part `index` (counted from 0 by offset /
    /// part size) fail with a server error (HTTP 500), storing nothing.
    pub fn fail_part(&self, index: u64, times: u32) {
        *self.faults().fail_part.entry(index).or_default() += times;
    }

    /// The next `times` uploads of part `index` lose the connection half way
    /// through the body: a retryable connection error, nothing stored.
    pub fn drop_connection_mid_part(&self, index: u64, times: u32) {
        *self.faults().drop_part.entry(index).or_default() += times;
    }

    /// The next `times` requests of any kind are throttled.
    pub fn throttle(&self, times: u32) {
        self.faults().throttle += times;
    }

    /// The next `times` job outputs starting at `range_start` (any range if
    /// `None`) come back with one byte flipped, with the tree hash of the
    /// correct bytes, as if corrupted on the way.
    pub fn corrupt_output(&self, range_start: Option<u64>, times: u32) {
        self.faults().corrupt.push((range_start, times));
    }

    /// The stored bytes of an archive, for tests.
    pub fn archive_data(&self, vault: &str, archive_id: &str) -> Option<Arc<Vec<u8>>> {
        let state = self.state();
        let (_, data) = state.vaults.get(vault)?.archives.get(archive_id)?;
        Some(Arc::clone(data))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn maybe_throttle(&self, operation: &'static str, vault: &str) -> Result<()> {
        let mut f = self.faults();
        if f.throttle > 0 {
            f.throttle -= 1;
            drop(f);
            self.state().stats.faults_injected += 1;
            return Err(Error::Throttled {
                operation,
                vault: vault.to_owned(),
                message: "ThrottlingException: rate exceeded (injected)".into(),
            });
        }
        Ok(())
    }

    fn take(map: &mut HashMap<u64, u32>, key: u64) -> bool {
        match map.get_mut(&key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

fn vault_mut<'a>(state: &'a mut State, vault: &str) -> Result<&'a mut Vault> {
    state
        .vaults
        .get_mut(vault)
        .ok_or_else(|| Error::VaultNotFound {
            vault: vault.to_owned(),
        })
}

fn upload_mut<'a>(v: &'a mut Vault, vault: &str, upload_id: &str) -> Result<&'a mut Upload> {
    v.uploads
        .get_mut(upload_id)
        .ok_or_else(|| Error::UploadNotFound {
            vault: vault.to_owned(),
            upload_id: upload_id.to_owned(),
        })
}

fn job_view(job: &Job) -> JobInfo {
    let mut info = job.info.clone();
    if SystemTime::now() >= job.ready_at {
        info.status = JobStatus::Succeeded;
        info.completed = Some(job.ready_at);
    }
    info
}

impl ArchiveStore for MemoryStore {
    fn location(&self) -> String {
        format!("memory:{:p}", std::ptr::from_ref(self))
    }

    fn limits(&self) -> StoreLimits {
        self.state().limits.unwrap_or(StoreLimits::GLACIER)
    }

    fn create_vault(&self, vault: &str) -> Result<()> {
        check_vault_name(vault)?;
        self.maybe_throttle("create_vault", vault)?;
        self.state()
            .vaults
            .entry(vault.to_owned())
            .or_insert_with(|| Vault {
                created: SystemTime::now(),
                archives: BTreeMap::new(),
                uploads: HashMap::new(),
                jobs: HashMap::new(),
            });
        Ok(())
    }

    fn describe_vault(&self, vault: &str) -> Result<VaultInfo> {
        self.maybe_throttle("describe_vault", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        Ok(VaultInfo {
            name: vault.to_owned(),
            created: v.created,
            archives: v.archives.len() as u64,
            size: v.archives.values().map(|(a, _)| a.size).sum(),
        })
    }

    fn list_vaults(&self) -> Result<Vec<VaultInfo>> {
        self.maybe_throttle("list_vaults", "")?;
        let names: Vec<String> = self.state().vaults.keys().cloned().collect();
        names.iter().map(|n| self.describe_vault(n)).collect()
    }

    fn delete_vault(&self, vault: &str) -> Result<()> {
        self.maybe_throttle("delete_vault", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        if !v.archives.is_empty() || !v.uploads.is_empty() {
            return Err(Error::VaultNotEmpty {
                vault: vault.to_owned(),
                reason: format!(
                    "{} archives, {} uploads in progress",
                    v.archives.len(),
                    v.uploads.len()
                ),
            });
        }
        state.vaults.remove(vault);
        Ok(())
    }

    fn upload_archive(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo> {
        self.maybe_throttle("upload_archive", vault)?;
        check_single_upload(vault, description, data, tree_hash)?;
        let mut state = self.state();
        let info = ArchiveInfo {
            archive_id: new_id("archive"),
            size: data.len() as u64,
            tree_hash,
            description: description.to_owned(),
            created: SystemTime::now(),
        };
        let v = vault_mut(&mut state, vault)?;
        v.archives.insert(
            info.archive_id.clone(),
            (info.clone(), Arc::new(data.to_vec())),
        );
        state.stats.single_uploads += 1;
        Ok(info)
    }

    fn initiate_multipart_upload(
        &self,
        vault: &str,
        description: &str,
        part_size: u64,
    ) -> Result<String> {
        self.maybe_throttle("initiate_multipart_upload", vault)?;
        check_description(vault, description)?;
        check_part_size(part_size, &self.limits())?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        let upload_id = new_id("upload");
        v.uploads.insert(
            upload_id.clone(),
            Upload {
                info: UploadInfo {
                    upload_id: upload_id.clone(),
                    description: description.to_owned(),
                    part_size,
                    created: SystemTime::now(),
                },
                parts: BTreeMap::new(),
            },
        );
        Ok(upload_id)
    }

    fn upload_part(
        &self,
        vault: &str,
        upload_id: &str,
        range: Range<u64>,
        tree_hash: TreeHash,
        data: &[u8],
    ) -> Result<()> {
        let part_size = {
            let mut state = self.state();
            state.stats.part_requests += 1;
            let v = vault_mut(&mut state, vault)?;
            upload_mut(v, vault, upload_id)?.info.part_size
        };
        self.maybe_throttle("upload_part", vault)?;
        let index = range.start / part_size;
        {
            let mut f = self.faults();
            let fail = Self::take(&mut f.fail_part, index);
            let dropped = !fail && Self::take(&mut f.drop_part, index);
            drop(f);
            if fail || dropped {
                self.state().stats.faults_injected += 1;
            }
            if fail {
                return Err(Error::Server {
                    operation: "upload_part",
                    vault: vault.to_owned(),
                    status: 500,
                    message: format!("InternalError on part {index} (injected)"),
                });
            }
            if dropped {
                return Err(Error::Connection {
                    operation: "upload_part",
                    vault: vault.to_owned(),
                    message: format!(
                        "connection reset after {} of {} bytes of part {index} (injected)",
                        data.len() / 2,
                        data.len()
                    ),
                });
            }
        }
        check_part(vault, upload_id, part_size, &range, tree_hash, data)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        let up = upload_mut(v, vault, upload_id)?;
        up.parts.insert(
            range.start,
            (
                PartInfo {
                    range: range.clone(),
                    tree_hash: Some(tree_hash),
                },
                data.to_vec(),
            ),
        );
        state.stats.parts_stored += 1;
        state.stats.part_bytes_stored += data.len() as u64;
        Ok(())
    }

    fn list_parts(&self, vault: &str, upload_id: &str) -> Result<UploadParts> {
        self.maybe_throttle("list_parts", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        let up = upload_mut(v, vault, upload_id)?;
        Ok(UploadParts {
            upload: up.info.clone(),
            parts: up.parts.values().map(|(p, _)| p.clone()).collect(),
        })
    }

    fn complete_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo> {
        self.maybe_throttle("complete_multipart_upload", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        let up = upload_mut(v, vault, upload_id)?;
        let parts: Vec<PartInfo> = up.parts.values().map(|(p, _)| p.clone()).collect();
        check_complete(
            vault,
            upload_id,
            up.info.part_size,
            &parts,
            total_size,
            tree_hash,
        )?;
        let up = v.uploads.remove(upload_id).expect("checked above");
        let mut data = Vec::with_capacity(total_size as usize);
        for (_, bytes) in up.parts.into_values() {
            data.extend_from_slice(&bytes);
        }
        let info = ArchiveInfo {
            archive_id: new_id("archive"),
            size: total_size,
            tree_hash,
            description: up.info.description,
            created: SystemTime::now(),
        };
        v.archives
            .insert(info.archive_id.clone(), (info.clone(), Arc::new(data)));
        Ok(info)
    }

    fn abort_multipart_upload(&self, vault: &str, upload_id: &str) -> Result<()> {
        self.maybe_throttle("abort_multipart_upload", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        upload_mut(v, vault, upload_id)?;
        v.uploads.remove(upload_id);
        Ok(())
    }

    fn list_multipart_uploads(&self, vault: &str) -> Result<Vec<UploadInfo>> {
        self.maybe_throttle("list_multipart_uploads", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        let mut out: Vec<UploadInfo> = v.uploads.values().map(|u| u.info.clone()).collect();
        out.sort_by_key(|a| a.created);
        Ok(out)
    }

    fn delete_archive(&self, vault: &str, archive_id: &str) -> Result<()> {
        self.maybe_throttle("delete_archive", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        v.archives
            .remove(archive_id)
            .map(|_| ())
            .ok_or_else(|| Error::ArchiveNotFound {
                vault: vault.to_owned(),
                archive_id: archive_id.to_owned(),
            })
    }

    fn initiate_job(&self, vault: &str, request: &JobRequest) -> Result<String> {
        self.maybe_throttle("initiate_job", vault)?;
        let mut state = self.state();
        let delay = state.job_delay;
        let v = vault_mut(&mut state, vault)?;
        let now = SystemTime::now();
        let job_id = new_id("job");
        let mut info = JobInfo {
            job_id: job_id.clone(),
            request: request.clone(),
            status: JobStatus::InProgress,
            created: now,
            completed: None,
            output_size: None,
            output_tree_hash: None,
            archive_size: None,
            archive_tree_hash: None,
        };
        let (output, offset) = match request {
            JobRequest::ArchiveRetrieval {
                archive_id, range, ..
            } => {
                let (archive, data) =
                    v.archives
                        .get(archive_id)
                        .ok_or_else(|| Error::ArchiveNotFound {
                            vault: vault.to_owned(),
                            archive_id: archive_id.clone(),
                        })?;
                let range = range.clone().unwrap_or(0..archive.size);
                check_retrieval_range(vault, archive_id, &range, archive.size)?;
                info.output_size = Some(range.end - range.start);
                info.output_tree_hash = is_tree_hash_aligned(&range, archive.size)
                    .then(|| tree_hash(&data[range.start as usize..range.end as usize]));
                info.archive_size = Some(archive.size);
                info.archive_tree_hash = Some(archive.tree_hash);
                (Arc::clone(data), range.start)
            }
            JobRequest::InventoryRetrieval { format, .. } => {
                let inventory = Inventory {
                    vault_arn: format!("arn:aws:glacier:memory:000000000000:vaults/{vault}"),
                    inventory_date: now,
                    archives: v.archives.values().map(|(a, _)| a.clone()).collect(),
                };
                let bytes = inventory.to_bytes(*format);
                info.output_size = Some(bytes.len() as u64);
                (Arc::new(bytes), 0)
            }
        };
        v.jobs.insert(
            job_id.clone(),
            Job {
                info,
                ready_at: now + delay,
                output,
                offset,
            },
        );
        Ok(job_id)
    }

    fn describe_job(&self, vault: &str, job_id: &str) -> Result<JobInfo> {
        self.maybe_throttle("describe_job", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        v.jobs
            .get(job_id)
            .map(job_view)
            .ok_or_else(|| Error::JobNotFound {
                vault: vault.to_owned(),
                job_id: job_id.to_owned(),
            })
    }

    fn list_jobs(&self, vault: &str) -> Result<Vec<JobInfo>> {
        self.maybe_throttle("list_jobs", vault)?;
        let mut state = self.state();
        let v = vault_mut(&mut state, vault)?;
        let mut out: Vec<JobInfo> = v.jobs.values().map(job_view).collect();
        out.sort_by_key(|a| a.created);
        Ok(out)
    }

    fn get_job_output(
        &self,
        vault: &str,
        job_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<JobOutput> {
        self.state().stats.output_requests += 1;
        self.maybe_throttle("get_job_output", vault)?;
        let (info, output, offset) = {
            let mut state = self.state();
            let v = vault_mut(&mut state, vault)?;
            let job = v.jobs.get(job_id).ok_or_else(|| Error::JobNotFound {
                vault: vault.to_owned(),
                job_id: job_id.to_owned(),
            })?;
            (job_view(job), Arc::clone(&job.output), job.offset)
        };
        if info.status != JobStatus::Succeeded {
            return Err(Error::JobNotReady {
                vault: vault.to_owned(),
                job_id: job_id.to_owned(),
            });
        }
        let total = info.output_size.unwrap_or(0);
        let range = output_range(vault, job_id, range, total)?;
        let start = (offset + range.start) as usize;
        let end = (offset + range.end) as usize;
        let mut data = output[start..end].to_vec();
        let archive = matches!(info.request, JobRequest::ArchiveRetrieval { .. });
        let tree_hash = (archive && is_tree_hash_aligned(&range, total)).then(|| tree_hash(&data));
        let corrupt = {
            let mut f = self.faults();
            let hit = f
                .corrupt
                .iter_mut()
                .find(|(at, n)| *n > 0 && at.is_none_or(|s| s == range.start));
            match hit {
                Some((_, n)) => {
                    *n -= 1;
                    true
                }
                None => false,
            }
        };
        if corrupt && !data.is_empty() {
            let mid = data.len() / 2;
            data[mid] ^= 0x5a;
            self.state().stats.faults_injected += 1;
        }
        Ok(JobOutput {
            range,
            total_size: total,
            tree_hash,
            data,
        })
    }
}
