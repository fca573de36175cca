//! The archive engine end to end, against the local directory store and
//! the in-memory store: archive, find, retrieve (whole and ranged),
//! incremental runs, rebuild from the vault, explicit entries, and the
//! faults the flow must survive (unreadable and changing files, symlink
//! loops, a full disk, a store refusing parts, kill -9 at any point).

// The store's errors are large (they carry hashes and context); so is
// every result of the wrapper store here.
#![allow(clippy::result_large_err)]

mod backup;
mod entries;
mod faults;
mod flow;
mod kill;

use std::collections::BTreeMap;
use std::ops::Range;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use archiver::glacier_multipart::{
    self, ArchiveInfo, ArchiveStore, JobInfo, JobOutput, JobRequest, LocalStore, MemoryStore,
    StoreLimits, UploadInfo, UploadParts, VaultInfo,
};
use archiver::{ArchiveCatalog, Notice, Observer, PlanSummary, Vault, Warning};
use glacier_multipart::Result as StoreResult;
use glacier_treehash::TreeHash;

pub(crate) const VAULT: &str = "v";

/// Deterministic bytes that do not compress.
pub(crate) fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// A tree of `n` small files in nested directories (non-ASCII names, empty
/// files), a few named ones, and, with `large`, a directory of three 5 MiB
/// files followed by a small one.
pub(crate) fn make_tree(root: &Path, n: usize, large: bool) {
    for i in 0..n {
        let dir = root.join(format!("d{:02}/sub{}/deep{}", i % 37, i % 5, i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let name = match i % 4 {
            0 => format!("file-{i}.txt"),
            1 => format!("résumé-{i}.txt"),
            2 => format!("日本語 {i}.dat"),
            _ => format!("notes_{i}.md"),
        };
        let body = if i % 97 == 0 {
            Vec::new()
        } else {
            format!("content of {i}\n").into_bytes()
        };
        std::fs::write(dir.join(name), body).unwrap();
    }
    let fin = root.join("finance");
    std::fs::create_dir_all(&fin).unwrap();
    std::fs::write(fin.join("Budget 2019 final.xlsx"), noise(1, 5000)).unwrap();
    std::fs::write(fin.join("Budget 2020.xlsx"), noise(2, 7000)).unwrap();
    std::fs::write(fin.join("quarterly report draft.txt"), b"draft\n").unwrap();
    if large {
        let big = root.join("zbig");
        std::fs::create_dir_all(&big).unwrap();
        for k in 0..3 {
            std::fs::write(big.join(format!("large-{k}.bin")), noise(10 + k, 5 << 20)).unwrap();
        }
        std::fs::write(big.join("zz-small-needle.txt"), b"the needle\n").unwrap();
    }
}

/// Regular files under `root`: relative path -> (content, mtime).
pub(crate) fn files(root: &Path) -> BTreeMap<String, (Vec<u8>, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, (std::fs::read(e.path()).unwrap(), m.mtime()));
            }
        }
    }
    out
}

/// Where a retrieval into `to` puts the file at absolute `path`.
pub(crate) fn under(to: &Path, path: &Path) -> PathBuf {
    to.join(path.strip_prefix("/").unwrap())
}

/// A temporary directory with a source tree `src`, a catalog and a vault.
pub(crate) struct Setup {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) store: Arc<dyn ArchiveStore>,
    pub(crate) vault: Vault,
}

impl Setup {
    /// With the local directory store under the temporary directory.
    pub(crate) fn local() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let store: Arc<dyn ArchiveStore> =
            Arc::new(LocalStore::open(tmp.path().join("store")).unwrap());
        Setup::with(tmp, store)
    }

    /// With `store`.
    pub(crate) fn with(tmp: tempfile::TempDir, store: Arc<dyn ArchiveStore>) -> Setup {
        std::fs::create_dir_all(tmp.path().join("src")).unwrap();
        let vault = Vault::new(store.clone(), VAULT);
        Setup { tmp, store, vault }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// The source tree, resolved (the catalog records resolved paths).
    pub(crate) fn src(&self) -> PathBuf {
        std::fs::canonicalize(self.path("src")).unwrap()
    }

    pub(crate) fn catalog_path(&self) -> PathBuf {
        self.path("catalog.sqlite")
    }

    pub(crate) fn catalog(&self) -> ArchiveCatalog {
        ArchiveCatalog::open(self.catalog_path()).unwrap()
    }

    /// Archives in the vault (bundles and exports).
    pub(crate) fn archive_count(&self) -> u64 {
        self.store.describe_vault(VAULT).map_or(0, |v| v.archives)
    }

    /// The descriptions of the archives in the vault, from an inventory.
    pub(crate) fn inventory(&self) -> Vec<(String, String)> {
        let job = self
            .store
            .initiate_job(
                VAULT,
                &JobRequest::inventory(glacier_multipart::InventoryFormat::Json),
            )
            .unwrap();
        let data = self.store.get_job_output(VAULT, &job, None).unwrap().data;
        glacier_multipart::Inventory::parse(&data)
            .unwrap()
            .archives
            .into_iter()
            .map(|a| (a.archive_id, a.description))
            .collect()
    }
}

/// Every path the catalog holds under `root`, with duplicates.
pub(crate) fn catalog_paths(cat: &ArchiveCatalog, root: &Path) -> Vec<String> {
    let q = archiver::catalog::query::parse(&format!("under:{}", root.display())).unwrap();
    let mut out = Vec::new();
    let mut page = archiver::catalog::Page::first(10_000);
    loop {
        let p = cat.catalog().search(&q, page).unwrap();
        out.extend(p.hits.into_iter().map(|h| h.path));
        match p.next {
            Some(n) => page.after = Some(n),
            None => return out,
        }
    }
}

/// Checks what a finished (possibly interrupted, then resumed) history
/// left: every file under `root` in the catalog (`once`: exactly once,
/// when nothing changed between the runs), every run ended and exported,
/// every archive in the vault a stored bundle or an export.
pub(crate) fn check_consistent(s: &Setup, root: &Path, once: bool) {
    let cat = s.catalog();
    let paths = catalog_paths(&cat, root);
    let unique: std::collections::BTreeSet<&String> = paths.iter().collect();
    if once {
        assert_eq!(unique.len(), paths.len(), "no path twice");
    }
    let on_disk = files(root);
    for rel in on_disk.keys() {
        let p = root.join(rel).display().to_string();
        assert!(unique.contains(&p), "{p} is not in the catalog");
    }
    let c = cat.catalog();
    let runs = c.runs().unwrap();
    let mut stored = std::collections::BTreeSet::new();
    for r in &runs {
        assert!(r.ended.is_some(), "run {} closed", r.uid);
        for a in c.archives_of_run(r.id).unwrap() {
            if a.info.state == archiver::catalog::ArchiveState::Stored {
                stored.insert(a.info.remote_id.clone().unwrap());
            }
        }
    }
    let inventory = s.inventory();
    for r in &runs {
        let d = format!("{} run={}", archiver::CATALOG_PREFIX, r.uid);
        assert!(
            inventory.iter().any(|(_, desc)| *desc == d),
            "run {} has its export in the vault",
            r.uid
        );
    }
    for (id, desc) in &inventory {
        assert!(
            stored.contains(id) || desc.starts_with(archiver::CATALOG_PREFIX),
            "archive {id} ({desc}) is neither a stored bundle nor an export"
        );
    }
    assert!(
        s.store.list_multipart_uploads(VAULT).unwrap().is_empty(),
        "no upload left half-done"
    );
}

/// An observer that records what it is told and can act when a plan is
/// made (to change files between the walk and the bundling).
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) notices: Mutex<Vec<Notice>>,
    pub(crate) warnings: Mutex<Vec<Warning>>,
    pub(crate) plans: Mutex<Vec<PlanSummary>>,
    pub(crate) stored: Mutex<Vec<(usize, String)>>,
    #[allow(clippy::type_complexity)]
    pub(crate) on_planned: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Recorder {
    pub(crate) fn warnings(&self) -> Vec<Warning> {
        self.warnings.lock().unwrap().clone()
    }
    pub(crate) fn notices(&self) -> Vec<Notice> {
        self.notices.lock().unwrap().clone()
    }
}

impl Observer for Recorder {
    fn planned(&self, plan: &PlanSummary) {
        self.plans.lock().unwrap().push(plan.clone());
        if let Some(f) = self.on_planned.lock().unwrap().take() {
            f();
        }
    }
    fn bundle_stored(&self, b: &archiver::BundleEvent, archive_id: &str, _: u64) {
        self.stored
            .lock()
            .unwrap()
            .push((b.seq, archive_id.to_owned()));
    }
    fn notice(&self, n: &Notice) {
        self.notices.lock().unwrap().push(n.clone());
    }
    fn warning(&self, w: &Warning) {
        self.warnings.lock().unwrap().push(w.clone());
    }
}

/// A store in front of another that can pretend to be remote, run out of
/// space, or SIGKILL its own process at the Nth request.
#[derive(Debug)]
pub(crate) struct Wrapped {
    pub(crate) inner: Arc<dyn ArchiveStore>,
    /// Reported as the location (e.g. `glacier://test` to price as remote).
    pub(crate) location: Option<String>,
    /// While set, every upload request fails as a full disk does.
    pub(crate) full: AtomicBool,
    /// Requests so far.
    pub(crate) calls: AtomicU64,
    /// SIGKILL this process at request number N (from 1): before it is
    /// carried out, or (`true`) after.
    pub(crate) kill_at: Option<(u64, bool)>,
}

impl Wrapped {
    pub(crate) fn new(inner: Arc<dyn ArchiveStore>) -> Wrapped {
        Wrapped {
            inner,
            location: None,
            full: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            kill_at: None,
        }
    }

    fn call<T>(&self, upload: bool, f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.kill_at == Some((n, false)) {
            kill_self();
        }
        if upload && self.full.load(Ordering::SeqCst) {
            return Err(glacier_multipart::Error::Io {
                action: "writing",
                path: PathBuf::from("/store/upload"),
                source: std::io::Error::from_raw_os_error(28), // ENOSPC
            });
        }
        let r = f();
        if self.kill_at == Some((n, true)) {
            kill_self();
        }
        r
    }
}

/// SIGKILL to this very process, as `kill -9` from outside would send.
pub(crate) fn kill_self() -> ! {
    let _ = std::process::Command::new("kill")
        .args(["-9", &std::process::id().to_string()])
        .status();
    // The signal is delivered before `kill` returns; never reached.
    std::process::abort();
}

impl ArchiveStore for Wrapped {
    fn location(&self) -> String {
        self.location
            .clone()
            .unwrap_or_else(|| self.inner.location())
    }
    fn limits(&self) -> StoreLimits {
        self.inner.limits()
    }
    fn create_vault(&self, vault: &str) -> StoreResult<()> {
        self.call(false, || self.inner.create_vault(vault))
    }
    fn describe_vault(&self, vault: &str) -> StoreResult<VaultInfo> {
        self.call(false, || self.inner.describe_vault(vault))
    }
    fn list_vaults(&self) -> StoreResult<Vec<VaultInfo>> {
        self.call(false, || self.inner.list_vaults())
    }
    fn delete_vault(&self, vault: &str) -> StoreResult<()> {
        self.call(false, || self.inner.delete_vault(vault))
    }
    fn upload_archive(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        tree_hash: TreeHash,
    ) -> StoreResult<ArchiveInfo> {
        self.call(true, || {
            self.inner
                .upload_archive(vault, description, data, tree_hash)
        })
    }
    fn initiate_multipart_upload(
        &self,
        vault: &str,
        description: &str,
        part_size: u64,
    ) -> StoreResult<String> {
        self.call(true, || {
            self.inner
                .initiate_multipart_upload(vault, description, part_size)
        })
    }
    fn upload_part(
        &self,
        vault: &str,
        upload_id: &str,
        range: Range<u64>,
        tree_hash: TreeHash,
        data: &[u8],
    ) -> StoreResult<()> {
        self.call(true, || {
            self.inner
                .upload_part(vault, upload_id, range, tree_hash, data)
        })
    }
    fn list_parts(&self, vault: &str, upload_id: &str) -> StoreResult<UploadParts> {
        self.call(false, || self.inner.list_parts(vault, upload_id))
    }
    fn complete_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
        archive_size: u64,
        tree_hash: TreeHash,
    ) -> StoreResult<ArchiveInfo> {
        self.call(true, || {
            self.inner
                .complete_multipart_upload(vault, upload_id, archive_size, tree_hash)
        })
    }
    fn complete_multipart_upload_with_part_hashes(
        &self,
        vault: &str,
        upload_id: &str,
        archive_size: u64,
        tree_hash: TreeHash,
        part_hashes: &[TreeHash],
    ) -> StoreResult<ArchiveInfo> {
        self.call(true, || {
            self.inner.complete_multipart_upload_with_part_hashes(
                vault,
                upload_id,
                archive_size,
                tree_hash,
                part_hashes,
            )
        })
    }
    fn abort_multipart_upload(&self, vault: &str, upload_id: &str) -> StoreResult<()> {
        self.call(false, || {
            self.inner.abort_multipart_upload(vault, upload_id)
        })
    }
    fn list_multipart_uploads(&self, vault: &str) -> StoreResult<Vec<UploadInfo>> {
        self.call(false, || self.inner.list_multipart_uploads(vault))
    }
    fn delete_archive(&self, vault: &str, archive_id: &str) -> StoreResult<()> {
        self.call(false, || self.inner.delete_archive(vault, archive_id))
    }
    fn initiate_job(&self, vault: &str, request: &JobRequest) -> StoreResult<String> {
        self.call(false, || self.inner.initiate_job(vault, request))
    }
    fn describe_job(&self, vault: &str, job_id: &str) -> StoreResult<JobInfo> {
        self.call(false, || self.inner.describe_job(vault, job_id))
    }
    fn list_jobs(&self, vault: &str) -> StoreResult<Vec<JobInfo>> {
        self.call(false, || self.inner.list_jobs(vault))
    }
    fn get_job_output(
        &self,
        vault: &str,
        job_id: &str,
        range: Option<Range<u64>>,
    ) -> StoreResult<JobOutput> {
        self.call(false, || self.inner.get_job_output(vault, job_id, range))
    }
}

/// A memory store behind `Wrapped`, and both.
pub(crate) fn memory_setup(
    wrap: impl FnOnce(&mut Wrapped),
) -> (Setup, Arc<MemoryStore>, Arc<Wrapped>) {
    let mem = Arc::new(MemoryStore::new());
    let mut w = Wrapped::new(mem.clone());
    wrap(&mut w);
    let w = Arc::new(w);
    let s = Setup::with(tempfile::tempdir().unwrap(), w.clone());
    (s, mem, w)
}
