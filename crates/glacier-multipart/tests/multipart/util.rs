//! Helpers shared by the test modules.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use glacier_multipart::{
    ArchiveInfo, ArchiveStore, JobInfo, JobOutput, JobRequest, Result, RetryPolicy, S3Class,
    S3Options, S3Store, StoreLimits, UploadInfo, UploadParts, VaultInfo,
};
use glacier_treehash::TreeHash;

pub(crate) use test_services::s3_endpoint;

pub(crate) const MIB: u64 = 1 << 20;

/// Deterministic bytes that differ per `seed`, fast to make.
pub(crate) fn data(len: u64, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

pub(crate) fn quick() -> RetryPolicy {
    RetryPolicy::quick(4)
}

/// Wraps a store, counts part uploads and job-output reads and can slow
/// both down.
#[derive(Debug)]
pub(crate) struct Counting {
    pub(crate) inner: Arc<dyn ArchiveStore>,
    pub(crate) parts: AtomicU64,
    pub(crate) part_bytes: AtomicU64,
    pub(crate) outputs: AtomicU64,
    pub(crate) delay: Duration,
}

impl Counting {
    pub(crate) fn new(inner: Arc<dyn ArchiveStore>) -> Arc<Self> {
        Self::slow(inner, Duration::ZERO)
    }

    pub(crate) fn slow(inner: Arc<dyn ArchiveStore>, delay: Duration) -> Arc<Self> {
        Arc::new(Counting {
            inner,
            parts: AtomicU64::new(0),
            part_bytes: AtomicU64::new(0),
            outputs: AtomicU64::new(0),
            delay,
        })
    }

    pub(crate) fn parts(&self) -> u64 {
        self.parts.load(Ordering::SeqCst)
    }
}

impl ArchiveStore for Counting {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn limits(&self) -> StoreLimits {
        self.inner.limits()
    }
    fn create_vault(&self, vault: &str) -> Result<()> {
        self.inner.create_vault(vault)
    }
    fn describe_vault(&self, vault: &str) -> Result<VaultInfo> {
        self.inner.describe_vault(vault)
    }
    fn list_vaults(&self) -> Result<Vec<VaultInfo>> {
        self.inner.list_vaults()
    }
    fn delete_vault(&self, vault: &str) -> Result<()> {
        self.inner.delete_vault(vault)
    }
    fn upload_archive(
        &self,
        vault: &str,
        d: &str,
        data: &[u8],
        h: TreeHash,
    ) -> Result<ArchiveInfo> {
        self.inner.upload_archive(vault, d, data, h)
    }
    fn initiate_multipart_upload(&self, vault: &str, d: &str, part_size: u64) -> Result<String> {
        self.inner.initiate_multipart_upload(vault, d, part_size)
    }
    fn upload_part(
        &self,
        vault: &str,
        id: &str,
        range: Range<u64>,
        h: TreeHash,
        data: &[u8],
    ) -> Result<()> {
        std::thread::sleep(self.delay);
        self.parts.fetch_add(1, Ordering::SeqCst);
        self.part_bytes
            .fetch_add(data.len() as u64, Ordering::SeqCst);
        self.inner.upload_part(vault, id, range, h, data)
    }
    fn list_parts(&self, vault: &str, id: &str) -> Result<UploadParts> {
        self.inner.list_parts(vault, id)
    }
    fn complete_multipart_upload(
        &self,
        vault: &str,
        id: &str,
        size: u64,
        h: TreeHash,
    ) -> Result<ArchiveInfo> {
        self.inner.complete_multipart_upload(vault, id, size, h)
    }
    fn complete_multipart_upload_with_part_hashes(
        &self,
        vault: &str,
        id: &str,
        size: u64,
        h: TreeHash,
        parts: &[TreeHash],
    ) -> Result<ArchiveInfo> {
        self.inner
            .complete_multipart_upload_with_part_hashes(vault, id, size, h, parts)
    }
    fn abort_multipart_upload(&self, vault: &str, id: &str) -> Result<()> {
        self.inner.abort_multipart_upload(vault, id)
    }
    fn list_multipart_uploads(&self, vault: &str) -> Result<Vec<UploadInfo>> {
        self.inner.list_multipart_uploads(vault)
    }
    fn delete_archive(&self, vault: &str, id: &str) -> Result<()> {
        self.inner.delete_archive(vault, id)
    }
    fn initiate_job(&self, vault: &str, r: &JobRequest) -> Result<String> {
        self.inner.initiate_job(vault, r)
    }
    fn describe_job(&self, vault: &str, id: &str) -> Result<JobInfo> {
        self.inner.describe_job(vault, id)
    }
    fn list_jobs(&self, vault: &str) -> Result<Vec<JobInfo>> {
        self.inner.list_jobs(vault)
    }
    fn get_job_output(
        &self,
        vault: &str,
        id: &str,
        range: Option<Range<u64>>,
    ) -> Result<JobOutput> {
        std::thread::sleep(self.delay);
        self.outputs.fetch_add(1, Ordering::SeqCst);
        self.inner.get_job_output(vault, id, range)
    }
}

/// Reads an archive back through a retrieval job.
pub(crate) fn read_back(store: &dyn ArchiveStore, vault: &str, archive_id: &str) -> Vec<u8> {
    let job = store
        .initiate_job(vault, &JobRequest::archive(archive_id))
        .unwrap();
    store.get_job_output(vault, &job, None).unwrap().data
}

/// Options for `bucket` on the S3 test server.
pub(crate) fn s3_options(bucket: &str, class: S3Class) -> S3Options {
    let mut o = S3Options::new(bucket);
    o.class = class;
    o.connect.endpoint_url = Some(s3_endpoint());
    o.connect.region = Some("us-east-1".into());
    o.connect.static_credentials = Some(("testing".into(), "testing".into()));
    o
}

/// An S3 store on a fresh bucket of the test server.
pub(crate) fn s3_store(class: S3Class) -> S3Store {
    S3Store::connect(&s3_options(&fresh_bucket(), class)).unwrap()
}

/// Whether `s` is an S3 store (whose contract differs where S3 does: a
/// deleted object takes its restored copy with it).
pub(crate) fn is_s3(s: &dyn ArchiveStore) -> bool {
    s.location().starts_with("s3://")
}

/// A new, empty bucket on the S3 test server.
pub(crate) fn fresh_bucket() -> String {
    test_services::s3_fresh_bucket("pf")
}
