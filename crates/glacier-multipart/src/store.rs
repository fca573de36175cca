//! The [`ArchiveStore`] trait and the values that cross it.

use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use glacier_treehash::{MAX_PART_SIZE, MAX_PARTS, TreeHash};
use serde::{Deserialize, Serialize};

use crate::Result;

/// A cold archive store: Glacier vaults, S3 archive storage classes, a local
/// directory, memory.
///
/// The model is Glacier's vault API, the more constrained of the two cloud
/// services: archives are immutable blobs with opaque ids inside named
/// vaults; large archives are uploaded in parts of 1 MiB x 2^k, each with
/// its tree hash; reading is asynchronous: request a retrieval job, wait
/// until it succeeds, then read its output by byte range. docs/ARCHITECTURE.md
/// shows how S3 `GLACIER` / `DEEP_ARCHIVE` objects map onto it.
///
/// Every method blocks. Implementations are `Send + Sync` and are called
/// from several threads at once (one per part in flight). Errors that may go
/// away on their own say so with [`Error::is_retryable`](crate::Error::is_retryable);
/// retrying is the caller's job (the engine does it), not the store's.
pub trait ArchiveStore: Send + Sync + fmt::Debug {
    /// Where this store is: for persistent stores a string
    /// [`open_store`](crate::open_store) understands (`file:///srv/vaults`,
    /// `glacier://us-east-1`); a [`MemoryStore`](crate::MemoryStore) names
    /// itself `memory:ADDRESS`, unique within the process. Resume state
    /// records it so that a resumed upload goes to the same store.
    fn location(&self) -> String;

    /// The size rules of this store.
    fn limits(&self) -> StoreLimits {
        StoreLimits::GLACIER
    }

    /// Creates a vault; creating one that exists is not an error.
    fn create_vault(&self, vault: &str) -> Result<()>;
    /// Describes a vault.
    fn describe_vault(&self, vault: &str) -> Result<VaultInfo>;
    /// Lists all vaults, by name.
    fn list_vaults(&self) -> Result<Vec<VaultInfo>>;
    /// Deletes an empty vault.
    fn delete_vault(&self, vault: &str) -> Result<()>;

    /// Uploads a whole archive in one request. `tree_hash` is the tree hash
    /// of `data`; the store checks it.
    fn upload_archive(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo>;

    /// Starts a multipart upload with parts of `part_size` bytes.
    fn initiate_multipart_upload(
        &self,
        vault: &str,
        description: &str,
        part_size: u64,
    ) -> Result<String>;
    /// Uploads one part: `data` are the bytes `range` of the archive
    /// (`range.start` a multiple of the part size; every part but the last
    /// exactly the part size) and `tree_hash` their tree hash, which the
    /// store checks. Uploading a range again replaces it.
    fn upload_part(
        &self,
        vault: &str,
        upload_id: &str,
        range: Range<u64>,
        tree_hash: TreeHash,
        data: &[u8],
    ) -> Result<()>;
    /// The upload and the parts the store holds, by offset.
    fn list_parts(&self, vault: &str, upload_id: &str) -> Result<UploadParts>;
    /// Completes an upload: the parts must cover `0..total_size` and combine
    /// to `tree_hash`.
    fn complete_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo>;
    /// Completes an upload as [`complete_multipart_upload`](Self::complete_multipart_upload)
    /// does, handing over the tree hash of every part in order, as the
    /// engine computed them (its resume state keeps them across processes).
    /// Stores that keep part hashes themselves (Glacier, local, memory)
    /// ignore them; S3, which keeps none, checks them against the total
    /// and records them so that every later read can be verified. The
    /// engine always completes through this method; wrappers must forward
    /// it.
    fn complete_multipart_upload_with_part_hashes(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
        part_hashes: &[TreeHash],
    ) -> Result<ArchiveInfo> {
        let _ = part_hashes;
        self.complete_multipart_upload(vault, upload_id, total_size, tree_hash)
    }
    /// Abandons an upload and frees its parts.
    fn abort_multipart_upload(&self, vault: &str, upload_id: &str) -> Result<()>;
    /// The uploads in progress in a vault.
    fn list_multipart_uploads(&self, vault: &str) -> Result<Vec<UploadInfo>>;

    /// Deletes an archive. Jobs already started on it keep their output.
    fn delete_archive(&self, vault: &str, archive_id: &str) -> Result<()>;

    /// Starts a retrieval or inventory job; returns its id.
    fn initiate_job(&self, vault: &str, request: &JobRequest) -> Result<String>;
    /// The state of a job.
    fn describe_job(&self, vault: &str, job_id: &str) -> Result<JobInfo>;
    /// The jobs of a vault (recent and running).
    fn list_jobs(&self, vault: &str) -> Result<Vec<JobInfo>>;
    /// Reads a succeeded job's output: all of it, or `range` of it.
    /// When the range is tree-hash aligned (see
    /// [`glacier_treehash::is_tree_hash_aligned`]) and the job is an archive
    /// retrieval, the answer carries the range's tree hash.
    fn get_job_output(
        &self,
        vault: &str,
        job_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<JobOutput>;
}

/// The size rules of a store, which the engine's part-size choice follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// The smallest part size (a power of two times 1 MiB).
    pub min_part_size: u64,
    /// The largest part size.
    pub max_part_size: u64,
    /// The most parts one upload may have.
    pub max_parts: u64,
    /// The largest archive one single request may carry.
    pub max_single_upload: u64,
}

impl StoreLimits {
    /// Glacier's vault API: parts of 1 MiB to 4 GiB, 10,000 parts, single
    /// uploads up to 4 GiB.
    pub const GLACIER: StoreLimits = StoreLimits {
        min_part_size: 1 << 20,
        max_part_size: MAX_PART_SIZE,
        max_parts: MAX_PARTS,
        max_single_upload: 4 << 30,
    };
    /// S3: parts of at least 5 MiB (so 8 MiB as a power of two) up to 5 GiB
    /// (so 4 GiB), 10,000 parts, single PUTs up to 5 GiB.
    pub const S3: StoreLimits = StoreLimits {
        min_part_size: 8 << 20,
        max_part_size: MAX_PART_SIZE,
        max_parts: MAX_PARTS,
        max_single_upload: 5 << 30,
    };
}

/// A vault and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultInfo {
    /// The vault's name.
    pub name: String,
    /// When it was created.
    #[serde(with = "crate::serde_util::time")]
    pub created: SystemTime,
    /// Archives in it (as of now for local stores, as of the last inventory
    /// for Glacier).
    pub archives: u64,
    /// Their total size in bytes.
    pub size: u64,
}

/// An archive in a vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveInfo {
    /// The archive id the store gave it.
    pub archive_id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its tree hash.
    #[serde(with = "crate::serde_util::hash")]
    pub tree_hash: TreeHash,
    /// Its description.
    pub description: String,
    /// When it was created.
    #[serde(with = "crate::serde_util::time")]
    pub created: SystemTime,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    /// Its id.
    pub upload_id: String,
    /// The archive description it was started with.
    pub description: String,
    /// Its part size.
    pub part_size: u64,
    /// When it was started.
    #[serde(with = "crate::serde_util::time")]
    pub created: SystemTime,
}

/// An upload and the parts a store holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadParts {
    /// The upload.
    pub upload: UploadInfo,
    /// The parts received, in order of offset.
    pub parts: Vec<PartInfo>,
}

/// One received part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Its byte range in the archive, end exclusive.
    pub range: Range<u64>,
    /// Its tree hash, when the store keeps one (Glacier does; S3 keeps
    /// SHA-256 checksums only, and the engine then relies on its resume
    /// state or sends the part again).
    #[serde(with = "crate::serde_util::hash_opt")]
    pub tree_hash: Option<TreeHash>,
}

/// How fast (and how dear) a retrieval is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Tier {
    /// Minutes, the most expensive.
    Expedited,
    /// Hours.
    #[default]
    Standard,
    /// Up to half a day (two for Deep Archive), the cheapest.
    Bulk,
}

impl Tier {
    /// The name AWS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Expedited => "Expedited",
            Tier::Standard => "Standard",
            Tier::Bulk => "Bulk",
        }
    }
}

/// The two forms of a vault inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum InventoryFormat {
    /// `{"VaultARN":..,"InventoryDate":..,"ArchiveList":[..]}`.
    #[default]
    Json,
    /// A header line `ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash`
    /// and one line per archive.
    Csv,
}

impl InventoryFormat {
    /// The name AWS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryFormat::Json => "JSON",
            InventoryFormat::Csv => "CSV",
        }
    }
}

/// What a job is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JobRequest {
    /// Make an archive (or a megabyte-aligned byte range of it) readable.
    ArchiveRetrieval {
        /// The archive.
        archive_id: String,
        /// The tier.
        tier: Tier,
        /// Only these bytes, end exclusive.
        range: Option<Range<u64>>,
        /// A free-form description.
        description: Option<String>,
    },
    /// List the vault's archives.
    InventoryRetrieval {
        /// JSON or CSV.
        format: InventoryFormat,
        /// A free-form description.
        description: Option<String>,
    },
}

impl JobRequest {
    /// Retrieval of a whole archive at the standard tier.
    pub fn archive(archive_id: impl Into<String>) -> Self {
        JobRequest::ArchiveRetrieval {
            archive_id: archive_id.into(),
            tier: Tier::Standard,
            range: None,
            description: None,
        }
    }

    /// An inventory in `format`.
    pub fn inventory(format: InventoryFormat) -> Self {
        JobRequest::InventoryRetrieval {
            format,
            description: None,
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobStatus {
    /// Running.
    InProgress,
    /// Done; the output can be read.
    Succeeded,
    /// Failed.
    Failed,
}

/// A job and, once it succeeded, what its output is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Its id.
    pub job_id: String,
    /// What was asked.
    pub request: JobRequest,
    /// Where it is.
    pub status: JobStatus,
    /// When it was started.
    #[serde(with = "crate::serde_util::time")]
    pub created: SystemTime,
    /// When it completed.
    #[serde(with = "crate::serde_util::time_opt")]
    pub completed: Option<SystemTime>,
    /// The size of the output (the archive, the range, the inventory), when
    /// known.
    pub output_size: Option<u64>,
    /// The tree hash of the whole output, when the store gives one (archive
    /// retrievals of a tree-hash aligned range).
    #[serde(with = "crate::serde_util::hash_opt")]
    pub output_tree_hash: Option<TreeHash>,
    /// The retrieved archive's size, for archive retrievals.
    pub archive_size: Option<u64>,
    /// The retrieved archive's tree hash, for archive retrievals.
    #[serde(with = "crate::serde_util::hash_opt")]
    pub archive_tree_hash: Option<TreeHash>,
}

/// Bytes of a job's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    /// Which bytes these are, end exclusive.
    pub range: Range<u64>,
    /// The size of the whole output.
    pub total_size: u64,
    /// The tree hash of these bytes as computed by the store, when the range
    /// is tree-hash aligned and the job an archive retrieval.
    pub tree_hash: Option<TreeHash>,
    /// The bytes.
    pub data: Vec<u8>,
}
