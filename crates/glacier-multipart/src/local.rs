//! The local directory store: Permafrost's embedded default.
//!
//! Layout under the root (one directory per vault):
//!
//! ```text
//! ROOT/VAULT/vault.json                      name and creation date
//! ROOT/VAULT/.lock                           flock: shared for writes, exclusive for delete-vault
//! ROOT/VAULT/archives/ID.data                the archive's bytes
//! ROOT/VAULT/archives/ID.json                its metadata; written last: the archive exists once this does
//! ROOT/VAULT/uploads/UPLOAD/upload.json      a multipart upload
//! ROOT/VAULT/uploads/UPLOAD/data             its bytes, written in place at each part's offset
//! ROOT/VAULT/uploads/UPLOAD/parts/START-END-TREEHASH   one empty file per received part
//! ROOT/VAULT/jobs/JOB.json, JOB.out          a job and its output (a hard link to the archive data, or the inventory)
//! ROOT/VAULT/tmp/                            files being written, renamed into place when whole
//! ```
//!
//! Every file becomes visible by an atomic rename of a complete temporary
//! file, so a process killed at any moment leaves either the old state or
//! the new one, never half an archive. Several processes may use one vault
//! at once: parts go to distinct ranges of the upload's data file, part
//! records and archive metadata appear by rename, completing an upload
//! first claims it with a rename, and deleting a vault holds an exclusive
//! lock that every writer takes shared.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use glacier_treehash::{TreeHash, is_tree_hash_aligned, tree_hash, tree_hash_file_range};
use serde::{Deserialize, Serialize};

use crate::common::{
    check_complete, check_description, check_id, check_part, check_part_size,
    check_retrieval_range, check_single_upload, check_vault_name, new_id, output_range,
};
use crate::inventory::Inventory;
use crate::store::{
    ArchiveInfo, ArchiveStore, JobInfo, JobOutput, JobRequest, JobStatus, PartInfo, StoreLimits,
    UploadInfo, UploadParts, VaultInfo,
};
use crate::{Error, Result};

/// A store in a local directory. See the [module docs](self) for the layout.
///
/// ```
/// use glacier_multipart::{ArchiveStore, JobRequest, LocalStore};
/// use glacier_treehash::tree_hash;
///
/// let dir = tempfile::tempdir()?;
/// let store = LocalStore::open(dir.path())?;
/// store.create_vault("photos")?;
/// let data = b"hello";
/// let archive = store.upload_archive("photos", "greeting", data, tree_hash(data))?;
/// let job = store.initiate_job("photos", &JobRequest::archive(&archive.archive_id))?;
/// let out = store.get_job_output("photos", &job, None)?; // jobs complete at once by default
/// assert_eq!(out.data, data);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    job_delay: Duration,
    sync: bool,
}

#[derive(Serialize, Deserialize)]
struct VaultRecord {
    name: String,
    #[serde(with = "crate::serde_util::time")]
    created: SystemTime,
}

#[derive(Serialize, Deserialize)]
struct JobRecord {
    info: JobInfo,
    #[serde(with = "crate::serde_util::time")]
    ready_at: SystemTime,
    /// Where the output starts in the `.out` file (ranged retrievals share
    /// the archive's data file).
    offset: u64,
}

/// Holds a vault's lock until dropped.
struct VaultLock {
    _file: File,
}

impl LocalStore {
    /// Opens (creating it if needed) a store rooted at `root`. Jobs complete
    /// at once and data is flushed to disk before each part and archive is
    /// acknowledged.
    pub fn open(root: impl AsRef<Path>) -> Result<LocalStore> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| Error::io("creating store directory", root, e))?;
        let root = fs::canonicalize(root).map_err(|e| Error::io("resolving", root, e))?;
        Ok(LocalStore {
            root,
            job_delay: Duration::ZERO,
            sync: true,
        })
    }

    /// Makes jobs succeed only `delay` after they are started, like the
    /// hours Glacier takes (use seconds in tests).
    #[must_use]
    pub fn with_job_delay(mut self, delay: Duration) -> Self {
        self.job_delay = delay;
        self
    }

    /// Whether to `fsync` part data and archives before acknowledging them
    /// (default true). Turning it off is for throwaway stores.
    #[must_use]
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn vault_dir(&self, vault: &str) -> Result<PathBuf> {
        check_vault_name(vault)?;
        let dir = self.root.join(vault);
        if !dir.join("vault.json").is_file() {
            return Err(Error::VaultNotFound {
                vault: vault.to_owned(),
            });
        }
        Ok(dir)
    }

    fn lock(dir: &Path, vault: &str, exclusive: bool) -> Result<VaultLock> {
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    Error::VaultNotFound {
                        vault: vault.to_owned(),
                    }
                } else {
                    Error::io("opening lock file", &path, e)
                }
            })?;
        let op = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(&file, op).map_err(|e| Error::io("locking", &path, e.into()))?;
        // The vault may have been deleted while we waited.
        if !dir.join("vault.json").is_file() {
            return Err(Error::VaultNotFound {
                vault: vault.to_owned(),
            });
        }
        Ok(VaultLock { _file: file })
    }

    /// Writes `bytes` to a temporary file in the vault and renames it to
    /// `dest`.
    fn write_atomic(&self, vault_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = vault_dir.join("tmp").join(format!(".{}", new_id("tmp")));
        let result = (|| {
            let mut f = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
            f.write_all(bytes)
                .map_err(|e| Error::io("writing", &tmp, e))?;
            if self.sync {
                f.sync_all().map_err(|e| Error::io("syncing", &tmp, e))?;
            }
            fs::rename(&tmp, dest).map_err(|e| Error::io("renaming into place", dest, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
        let bytes = fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::corrupt(path, e.to_string()))
    }

    fn upload_dir(vault_dir: &Path, vault: &str, upload_id: &str) -> Result<PathBuf> {
        let dir = vault_dir.join("uploads").join(upload_id);
        if !check_id(upload_id) || !dir.join("upload.json").is_file() {
            return Err(Error::UploadNotFound {
                vault: vault.to_owned(),
                upload_id: upload_id.to_owned(),
            });
        }
        Ok(dir)
    }

    fn read_parts(dir: &Path) -> Result<Vec<PartInfo>> {
        let parts_dir = dir.join("parts");
        let mut parts: Vec<PartInfo> = Vec::new();
        let entries = fs::read_dir(&parts_dir).map_err(|e| Error::io("listing", &parts_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &parts_dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let parsed = (|| {
                let mut it = name.splitn(3, '-');
                let start: u64 = it.next()?.parse().ok()?;
                let end: u64 = it.next()?.parse().ok()?;
                let hash = TreeHash::from_hex(it.next()?).ok()?;
                Some(PartInfo {
                    range: start..end,
                    tree_hash: Some(hash),
                })
            })();
            match parsed {
                Some(p) => parts.push(p),
                None => {
                    return Err(Error::corrupt(
                        entry.path(),
                        "a part record must be named START-END-TREEHASH",
                    ));
                }
            }
        }
        parts.sort_by_key(|p| (p.range.start, p.range.end));
        // A part sent twice with different lengths: keep the latest record
        // only (the replaced one is removed right after the rename).
        parts.dedup_by_key(|p| p.range.start);
        Ok(parts)
    }

    fn archive_paths(vault_dir: &Path, archive_id: &str) -> (PathBuf, PathBuf) {
        let dir = vault_dir.join("archives");
        (
            dir.join(format!("{archive_id}.json")),
            dir.join(format!("{archive_id}.data")),
        )
    }

    fn read_archive(vault_dir: &Path, vault: &str, archive_id: &str) -> Result<ArchiveInfo> {
        let not_found = || Error::ArchiveNotFound {
            vault: vault.to_owned(),
            archive_id: archive_id.to_owned(),
        };
        if !check_id(archive_id) {
            return Err(not_found());
        }
        let (meta, _) = Self::archive_paths(vault_dir, archive_id);
        match fs::read(&meta) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| Error::corrupt(&meta, e.to_string()))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Err(not_found()),
            Err(e) => Err(Error::io("reading", &meta, e)),
        }
    }

    fn list_archives(vault_dir: &Path) -> Result<Vec<ArchiveInfo>> {
        let dir = vault_dir.join("archives");
        let mut out: Vec<ArchiveInfo> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io("listing", &dir, e))? {
            let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                match fs::read(&path) {
                    Ok(bytes) => out.push(
                        serde_json::from_slice(&bytes)
                            .map_err(|e| Error::corrupt(&path, e.to_string()))?,
                    ),
                    // Deleted while we listed.
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("reading", &path, e)),
                }
            }
        }
        out.sort_by(|a, b| {
            a.created
                .cmp(&b.created)
                .then(a.archive_id.cmp(&b.archive_id))
        });
        Ok(out)
    }

    fn job_paths(vault_dir: &Path, job_id: &str) -> (PathBuf, PathBuf) {
        let dir = vault_dir.join("jobs");
        (
            dir.join(format!("{job_id}.json")),
            dir.join(format!("{job_id}.out")),
        )
    }

    fn read_job(vault_dir: &Path, vault: &str, job_id: &str) -> Result<JobRecord> {
        let (meta, _) = Self::job_paths(vault_dir, job_id);
        if !check_id(job_id) || !meta.is_file() {
            return Err(Error::JobNotFound {
                vault: vault.to_owned(),
                job_id: job_id.to_owned(),
            });
        }
        let mut rec: JobRecord = Self::read_json(&meta)?;
        if SystemTime::now() >= rec.ready_at {
            rec.info.status = JobStatus::Succeeded;
            rec.info.completed = Some(rec.ready_at);
        }
        Ok(rec)
    }

    /// Makes `link` another name of `data`, or a copy where hard links fail.
    fn link_or_copy(data: &Path, link: &Path) -> Result<()> {
        if fs::hard_link(data, link).is_ok() {
            return Ok(());
        }
        fs::copy(data, link)
            .map(|_| ())
            .map_err(|e| Error::io("copying archive to job output", link, e))
    }
}

impl ArchiveStore for LocalStore {
    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn limits(&self) -> StoreLimits {
        StoreLimits::GLACIER
    }

    fn create_vault(&self, vault: &str) -> Result<()> {
        check_vault_name(vault)?;
        let dir = self.root.join(vault);
        for sub in ["archives", "uploads", "jobs", "tmp"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(|e| Error::io("creating vault directory", &d, e))?;
        }
        let meta = dir.join("vault.json");
        if meta.is_file() {
            return Ok(());
        }
        let rec = VaultRecord {
            name: vault.to_owned(),
            created: SystemTime::now(),
        };
        let bytes = serde_json::to_vec(&rec).expect("a vault record always serializes");
        self.write_atomic(&dir, &meta, &bytes)
    }

    fn describe_vault(&self, vault: &str) -> Result<VaultInfo> {
        let dir = self.vault_dir(vault)?;
        let rec: VaultRecord = Self::read_json(&dir.join("vault.json"))?;
        let archives = Self::list_archives(&dir)?;
        Ok(VaultInfo {
            name: rec.name,
            created: rec.created,
            archives: archives.len() as u64,
            size: archives.iter().map(|a| a.size).sum(),
        })
    }

    fn list_vaults(&self) -> Result<Vec<VaultInfo>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.root).map_err(|e| Error::io("listing", &self.root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &self.root, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if check_vault_name(&name).is_err() || !entry.path().join("vault.json").is_file() {
                continue;
            }
            match self.describe_vault(&name) {
                Ok(v) => out.push(v),
                Err(Error::VaultNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn delete_vault(&self, vault: &str) -> Result<()> {
        let dir = self.vault_dir(vault)?;
        let _lock = Self::lock(&dir, vault, true)?;
        let archives = Self::list_archives(&dir)?.len();
        let uploads_dir = dir.join("uploads");
        let uploads = fs::read_dir(&uploads_dir)
            .map_err(|e| Error::io("listing", &uploads_dir, e))?
            .count();
        if archives > 0 || uploads > 0 {
            return Err(Error::VaultNotEmpty {
                vault: vault.to_owned(),
                reason: format!("{archives} archives, {uploads} uploads in progress"),
            });
        }
        let meta = dir.join("vault.json");
        fs::remove_file(&meta).map_err(|e| Error::io("removing", &meta, e))?;
        let trash = self.root.join(format!(".deleted-{}", new_id("trash")));
        fs::rename(&dir, &trash).map_err(|e| Error::io("removing vault", &dir, e))?;
        fs::remove_dir_all(&trash).map_err(|e| Error::io("removing", &trash, e))
    }

    fn upload_archive(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo> {
        let dir = self.vault_dir(vault)?;
        check_single_upload(vault, description, data, tree_hash)?;
        let _lock = Self::lock(&dir, vault, false)?;
        let archive_id = new_id("archive");
        let (meta, data_path) = Self::archive_paths(&dir, &archive_id);
        self.write_atomic(&dir, &data_path, data)?;
        let info = ArchiveInfo {
            archive_id,
            size: data.len() as u64,
            tree_hash,
            description: description.to_owned(),
            created: SystemTime::now(),
        };
        let bytes = serde_json::to_vec(&info).expect("archive info always serializes");
        self.write_atomic(&dir, &meta, &bytes)?;
        Ok(info)
    }

    fn initiate_multipart_upload(
        &self,
        vault: &str,
        description: &str,
        part_size: u64,
    ) -> Result<String> {
        let dir = self.vault_dir(vault)?;
        check_description(vault, description)?;
        check_part_size(part_size, &self.limits())?;
        let _lock = Self::lock(&dir, vault, false)?;
        let upload_id = new_id("upload");
        // Build the upload in tmp/ and rename it in whole.
        let tmp = dir.join("tmp").join(format!(".{upload_id}"));
        let parts = tmp.join("parts");
        fs::create_dir_all(&parts).map_err(|e| Error::io("creating", &parts, e))?;
        let data = tmp.join("data");
        File::create(&data).map_err(|e| Error::io("creating", &data, e))?;
        let info = UploadInfo {
            upload_id: upload_id.clone(),
            description: description.to_owned(),
            part_size,
            created: SystemTime::now(),
        };
        let bytes = serde_json::to_vec(&info).expect("upload info always serializes");
        self.write_atomic(&dir, &tmp.join("upload.json"), &bytes)?;
        let dest = dir.join("uploads").join(&upload_id);
        fs::rename(&tmp, &dest).map_err(|e| Error::io("renaming into place", &dest, e))?;
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
        let dir = self.vault_dir(vault)?;
        let up = Self::upload_dir(&dir, vault, upload_id)?;
        let info: UploadInfo = Self::read_json(&up.join("upload.json"))?;
        check_part(vault, upload_id, info.part_size, &range, tree_hash, data)?;
        let _lock = Self::lock(&dir, vault, false)?;
        let data_path = up.join("data");
        let gone = || Error::UploadNotFound {
            vault: vault.to_owned(),
            upload_id: upload_id.to_owned(),
        };
        let file = OpenOptions::new()
            .write(true)
            .open(&data_path)
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    gone()
                } else {
                    Error::io("opening", &data_path, e)
                }
            })?;
        file.write_all_at(data, range.start)
            .map_err(|e| Error::io("writing part to", &data_path, e))?;
        if self.sync {
            file.sync_data()
                .map_err(|e| Error::io("syncing", &data_path, e))?;
        }
        let parts = up.join("parts");
        let name = format!("{}-{}-{}", range.start, range.end, tree_hash);
        let tmp = parts.join(format!(".{}", new_id("part")));
        File::create(&tmp).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                gone()
            } else {
                Error::io("creating", &tmp, e)
            }
        })?;
        fs::rename(&tmp, parts.join(&name))
            .map_err(|e| Error::io("recording part in", &parts, e))?;
        // A part sent again with another length or hash replaces the old one.
        if let Ok(entries) = fs::read_dir(&parts) {
            let prefix = format!("{}-", range.start);
            for entry in entries.flatten() {
                let other = entry.file_name();
                let other = other.to_string_lossy();
                if other.starts_with(&prefix) && other != name {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn list_parts(&self, vault: &str, upload_id: &str) -> Result<UploadParts> {
        let dir = self.vault_dir(vault)?;
        let up = Self::upload_dir(&dir, vault, upload_id)?;
        let upload: UploadInfo = Self::read_json(&up.join("upload.json"))?;
        let parts = Self::read_parts(&up)?;
        Ok(UploadParts { upload, parts })
    }

    fn complete_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo> {
        let dir = self.vault_dir(vault)?;
        let up = Self::upload_dir(&dir, vault, upload_id)?;
        let info: UploadInfo = Self::read_json(&up.join("upload.json"))?;
        let parts = Self::read_parts(&up)?;
        check_complete(
            vault,
            upload_id,
            info.part_size,
            &parts,
            total_size,
            tree_hash,
        )?;
        let _lock = Self::lock(&dir, vault, false)?;
        // Claim the upload: of two processes completing it, one wins.
        let claimed = dir.join("tmp").join(format!(".complete-{upload_id}"));
        fs::rename(&up, &claimed).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::UploadNotFound {
                    vault: vault.to_owned(),
                    upload_id: upload_id.to_owned(),
                }
            } else {
                Error::io("claiming upload", &up, e)
            }
        })?;
        // A part may have been replaced between the check and the claim.
        let parts = Self::read_parts(&claimed)?;
        if let Err(e) = check_complete(
            vault,
            upload_id,
            info.part_size,
            &parts,
            total_size,
            tree_hash,
        ) {
            let _ = fs::rename(&claimed, &up);
            return Err(e);
        }
        let data = claimed.join("data");
        let file = OpenOptions::new()
            .write(true)
            .open(&data)
            .map_err(|e| Error::io("opening", &data, e))?;
        file.set_len(total_size)
            .map_err(|e| Error::io("truncating", &data, e))?;
        if self.sync {
            file.sync_all()
                .map_err(|e| Error::io("syncing", &data, e))?;
        }
        drop(file);
        let archive_id = new_id("archive");
        let (meta, data_path) = Self::archive_paths(&dir, &archive_id);
        fs::rename(&data, &data_path)
            .map_err(|e| Error::io("renaming into place", &data_path, e))?;
        let archive = ArchiveInfo {
            archive_id,
            size: total_size,
            tree_hash,
            description: info.description,
            created: SystemTime::now(),
        };
        let bytes = serde_json::to_vec(&archive).expect("archive info always serializes");
        self.write_atomic(&dir, &meta, &bytes)?;
        let _ = fs::remove_dir_all(&claimed);
        Ok(archive)
    }

    fn abort_multipart_upload(&self, vault: &str, upload_id: &str) -> Result<()> {
        let dir = self.vault_dir(vault)?;
        let up = Self::upload_dir(&dir, vault, upload_id)?;
        let _lock = Self::lock(&dir, vault, false)?;
        let trash = dir.join("tmp").join(format!(".abort-{upload_id}"));
        fs::rename(&up, &trash).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::UploadNotFound {
                    vault: vault.to_owned(),
                    upload_id: upload_id.to_owned(),
                }
            } else {
                Error::io("removing upload", &up, e)
            }
        })?;
        fs::remove_dir_all(&trash).map_err(|e| Error::io("removing", &trash, e))
    }

    fn list_multipart_uploads(&self, vault: &str) -> Result<Vec<UploadInfo>> {
        let dir = self.vault_dir(vault)?.join("uploads");
        let mut out: Vec<UploadInfo> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io("listing", &dir, e))? {
            let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
            let meta = entry.path().join("upload.json");
            match fs::read(&meta) {
                Ok(bytes) => out.push(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| Error::corrupt(&meta, e.to_string()))?,
                ),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("reading", &meta, e)),
            }
        }
        out.sort_by_key(|a| a.created);
        Ok(out)
    }

    fn delete_archive(&self, vault: &str, archive_id: &str) -> Result<()> {
        let dir = self.vault_dir(vault)?;
        Self::read_archive(&dir, vault, archive_id)?;
        let _lock = Self::lock(&dir, vault, false)?;
        let (meta, data) = Self::archive_paths(&dir, archive_id);
        match fs::remove_file(&meta) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::ArchiveNotFound {
                    vault: vault.to_owned(),
                    archive_id: archive_id.to_owned(),
                });
            }
            Err(e) => return Err(Error::io("removing", &meta, e)),
        }
        fs::remove_file(&data).map_err(|e| Error::io("removing", &data, e))
    }

    fn initiate_job(&self, vault: &str, request: &JobRequest) -> Result<String> {
        let dir = self.vault_dir(vault)?;
        let _lock = Self::lock(&dir, vault, false)?;
        let job_id = new_id("job");
        let (meta, out) = Self::job_paths(&dir, &job_id);
        let now = SystemTime::now();
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
        let mut offset = 0;
        match request {
            JobRequest::ArchiveRetrieval {
                archive_id, range, ..
            } => {
                let archive = Self::read_archive(&dir, vault, archive_id)?;
                let (_, data) = Self::archive_paths(&dir, archive_id);
                let range = range.clone().unwrap_or(0..archive.size);
                check_retrieval_range(vault, archive_id, &range, archive.size)?;
                Self::link_or_copy(&data, &out)?;
                info.output_size = Some(range.end - range.start);
                info.output_tree_hash = if range == (0..archive.size) {
                    Some(archive.tree_hash)
                } else if is_tree_hash_aligned(&range, archive.size) {
                    let f = File::open(&out).map_err(|e| Error::io("opening", &out, e))?;
                    Some(
                        tree_hash_file_range(&f, range.start, range.end - range.start, 2)
                            .map_err(|e| Error::io("hashing", &out, e))?,
                    )
                } else {
                    None
                };
                info.archive_size = Some(archive.size);
                info.archive_tree_hash = Some(archive.tree_hash);
                offset = range.start;
            }
            JobRequest::InventoryRetrieval { format, .. } => {
                let inventory = Inventory {
                    vault_arn: format!("arn:aws:glacier:local:000000000000:vaults/{vault}"),
                    inventory_date: now,
                    archives: Self::list_archives(&dir)?,
                };
                let bytes = inventory.to_bytes(*format);
                info.output_size = Some(bytes.len() as u64);
                self.write_atomic(&dir, &out, &bytes)?;
            }
        }
        let rec = JobRecord {
            info,
            ready_at: now + self.job_delay,
            offset,
        };
        let bytes = serde_json::to_vec(&rec).expect("a job record always serializes");
        self.write_atomic(&dir, &meta, &bytes)?;
        Ok(job_id)
    }

    fn describe_job(&self, vault: &str, job_id: &str) -> Result<JobInfo> {
        let dir = self.vault_dir(vault)?;
        Ok(Self::read_job(&dir, vault, job_id)?.info)
    }

    fn list_jobs(&self, vault: &str) -> Result<Vec<JobInfo>> {
        let dir = self.vault_dir(vault)?;
        let jobs = dir.join("jobs");
        let mut out: Vec<JobInfo> = Vec::new();
        for entry in fs::read_dir(&jobs).map_err(|e| Error::io("listing", &jobs, e))? {
            let entry = entry.map_err(|e| Error::io("listing", &jobs, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            match Self::read_job(&dir, vault, id) {
                Ok(rec) => out.push(rec.info),
                Err(Error::JobNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|a| a.created);
        Ok(out)
    }

    fn get_job_output(
        &self,
        vault: &str,
        job_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<JobOutput> {
        let dir = self.vault_dir(vault)?;
        let rec = Self::read_job(&dir, vault, job_id)?;
        if rec.info.status != JobStatus::Succeeded {
            return Err(Error::JobNotReady {
                vault: vault.to_owned(),
                job_id: job_id.to_owned(),
            });
        }
        let total = rec.info.output_size.unwrap_or(0);
        let range = output_range(vault, job_id, range, total)?;
        let (_, out) = Self::job_paths(&dir, job_id);
        let mut file = File::open(&out).map_err(|e| Error::io("opening job output", &out, e))?;
        let len = (range.end - range.start) as usize;
        let mut data = vec![0u8; len];
        if rec.offset == 0 && range.start == 0 {
            file.read_exact(&mut data)
        } else {
            file.read_exact_at(&mut data, rec.offset + range.start)
        }
        .map_err(|e| Error::io("reading job output", &out, e))?;
        let archive = matches!(rec.info.request, JobRequest::ArchiveRetrieval { .. });
        let tree_hash = (archive && is_tree_hash_aligned(&range, total)).then(|| tree_hash(&data));
        Ok(JobOutput {
            range,
            total_size: total,
            tree_hash,
            data,
        })
    }
}
