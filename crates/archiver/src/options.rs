//! What to archive and how: [`Sources`], [`ArchiveOptions`] and the
//! [`Vault`] the bundles go to.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bundler::{Compression, TimeWindow};
use catalog::FileEntry;
use glacier_multipart::{ArchiveStore, RetryPolicy};

use crate::pricing::StorageClass;

/// What a run archives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sources {
    /// Walk these files and directories (depth first, symlinks recorded,
    /// not followed); every entry is recorded under its absolute path.
    Roots(Vec<PathBuf>),
    /// Exactly these entries, each a file (or directory, or symlink) on
    /// disk and the catalog path it is recorded under: for sources whose
    /// names are not their paths on disk.
    Entries(Vec<SourceEntry>),
}

impl Sources {
    /// Walk `roots`.
    pub fn roots<P: AsRef<Path>>(roots: impl IntoIterator<Item = P>) -> Self {
        Sources::Roots(roots.into_iter().map(|p| p.as_ref().to_owned()).collect())
    }
}

/// One entry of [`Sources::Entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Where the data is on disk.
    pub source: PathBuf,
    /// The absolute path the catalog records it under (`/` separated, at
    /// least one component; the bundle member is the same without the
    /// leading `/`).
    pub path: String,
}

impl SourceEntry {
    /// `source` on disk, recorded as `path`.
    pub fn new(source: impl Into<PathBuf>, path: impl Into<String>) -> Self {
        SourceEntry {
            source: source.into(),
            path: path.into(),
        }
    }
}

/// Called for every file recorded, just before its catalog row is written:
/// a place to add metadata read during the run (owner and group names,
/// for instance). Runs on the bundling lanes, once per file; keep it quick.
pub trait EntryHook: Send + Sync {
    /// `row` is about to be recorded for the file at `source` on disk.
    fn before_record(&self, source: &Path, row: &mut FileEntry);
}

/// Which files a run archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChangeDetection {
    /// Only entries new or changed since they were last stored (size, mtime
    /// or ctime differ; directories when new or their mtime changed).
    #[default]
    Changed,
    /// Every selected entry.
    All,
}

/// How a run archives. `ArchiveOptions::default()` gives the tool's
/// defaults; the builder methods change one thing each.
#[derive(Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct ArchiveOptions {
    /// A description of the run (searchable).
    pub description: String,
    /// Tags of the run (searchable with `tag:`).
    pub tags: Vec<String>,
    /// More options to record with the run, beside the bundle limits and
    /// compression (which are always recorded).
    pub run_options: BTreeMap<String, String>,
    /// Keep only entries whose time lies in this window.
    pub time: Option<TimeWindow>,
    /// Which entries to archive.
    pub changes: ChangeDetection,
    /// At most this many members per bundle (default 1000).
    pub max_files: u64,
    /// At most this many content bytes per bundle (default 500 MiB); a
    /// larger file gets a bundle of its own.
    pub max_bundle_size: u64,
    /// Compression of the bundles (default zstd).
    pub compression: Compression,
    /// age recipients (`age1...` or SSH public keys); none: not encrypted.
    pub encrypt_to: Vec<String>,
    /// Bundles in flight at once (default: one more than the cores, so
    /// that while one bundle is being stored the cores still compress).
    pub jobs: usize,
    /// Part size of uploads (default 16 MiB).
    pub part_size: u64,
    /// Parts in flight per upload (default 4).
    pub upload_concurrency: usize,
    /// How failed store requests are retried (default: eight tries over
    /// about six minutes).
    pub retry: RetryPolicy,
    /// Called for each recorded file.
    pub entry_hook: Option<Arc<dyn EntryHook>>,
    /// Keep the bundler's frame buffers for the next run instead of
    /// freeing them when bundling ends (default false). For a process that
    /// archives batch after batch (dv-backup): allocating and freeing
    /// buffers of a few MiB per run fragments the C allocator's heap, and
    /// the process's memory then grows run after run.
    pub keep_buffers: bool,
}

impl fmt::Debug for ArchiveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveOptions")
            .field("description", &self.description)
            .field("tags", &self.tags)
            .field("run_options", &self.run_options)
            .field("time", &self.time)
            .field("changes", &self.changes)
            .field("max_files", &self.max_files)
            .field("max_bundle_size", &self.max_bundle_size)
            .field("compression", &self.compression)
            .field("encrypt_to", &self.encrypt_to)
            .field("jobs", &self.jobs)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("retry", &self.retry)
            .field("entry_hook", &self.entry_hook.is_some())
            .field("keep_buffers", &self.keep_buffers)
            .finish()
    }
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            description: String::new(),
            tags: Vec::new(),
            run_options: BTreeMap::new(),
            time: None,
            changes: ChangeDetection::Changed,
            max_files: 1000,
            max_bundle_size: 500 << 20,
            compression: Compression::Zstd,
            encrypt_to: Vec::new(),
            jobs: std::thread::available_parallelism().map_or(2, std::num::NonZero::get) + 1,
            part_size: 16 << 20,
            upload_concurrency: 4,
            retry: RetryPolicy::default(),
            entry_hook: None,
            keep_buffers: false,
        }
    }
}

impl ArchiveOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the bundler's frame buffers for the next run (see
    /// [`ArchiveOptions::keep_buffers`](#structfield.keep_buffers)).
    #[must_use]
    pub fn keep_buffers(mut self, keep: bool) -> Self {
        self.keep_buffers = keep;
        self
    }

    /// Describes the run.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Tags the run.
    #[must_use]
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Records one more option with the run.
    #[must_use]
    pub fn run_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.run_options.insert(key.into(), value.into());
        self
    }

    /// Keeps only entries in a time window.
    #[must_use]
    pub fn time_window(mut self, window: TimeWindow) -> Self {
        self.time = Some(window);
        self
    }

    /// Archives every selected entry, changed or not.
    #[must_use]
    pub fn all(mut self) -> Self {
        self.changes = ChangeDetection::All;
        self
    }

    /// At most `n` members per bundle (at least 1).
    #[must_use]
    pub fn max_files(mut self, n: u64) -> Self {
        self.max_files = n.max(1);
        self
    }

    /// At most `bytes` content bytes per bundle.
    #[must_use]
    pub fn max_bundle_size(mut self, bytes: u64) -> Self {
        self.max_bundle_size = bytes;
        self
    }

    /// Compresses with `c`.
    #[must_use]
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Encrypts to one more age recipient.
    #[must_use]
    pub fn encrypt_to(mut self, recipient: impl Into<String>) -> Self {
        self.encrypt_to.push(recipient.into());
        self
    }

    /// `n` bundles in flight (at least 1).
    #[must_use]
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = n.max(1);
        self
    }

    /// Uploads in parts of `bytes` (1 MiB times a power of two).
    #[must_use]
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Retries failed store requests by `policy`.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Calls `hook` for every recorded file.
    #[must_use]
    pub fn entry_hook(mut self, hook: Arc<dyn EntryHook>) -> Self {
        self.entry_hook = Some(hook);
        self
    }

    /// Billed upload requests for a bundle of `bytes` bytes: one request up
    /// to a part, else initiate, parts and complete.
    pub(crate) fn requests_for(&self, bytes: u64) -> u64 {
        if bytes <= self.part_size {
            1
        } else {
            bytes.div_ceil(self.part_size) + 2
        }
    }
}

/// A vault of a store: where bundles and catalog exports go.
#[derive(Debug, Clone)]
pub struct Vault {
    /// The store.
    pub store: Arc<dyn ArchiveStore>,
    /// The vault's name in it.
    pub name: String,
    /// What kind of store the catalog records (`local`, `glacier`, ...).
    pub kind: String,
    /// The class its archives are priced as.
    pub class: StorageClass,
}

impl Vault {
    /// Vault `name` of `store`, priced as a Glacier vault; a `file://`
    /// store is recorded as kind `local`, a `memory:` one as `memory`,
    /// others as `glacier`.
    pub fn new(store: Arc<dyn ArchiveStore>, name: impl Into<String>) -> Self {
        let location = store.location();
        let kind = if location.starts_with("file://") {
            "local"
        } else if location.starts_with("memory:") {
            "memory"
        } else {
            "glacier"
        };
        Vault {
            store,
            name: name.into(),
            kind: kind.to_owned(),
            class: StorageClass::GlacierVault,
        }
    }

    /// Records the store as kind `kind`.
    #[must_use]
    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// Records the kind and class a store location names: `s3` and its
    /// `class=` for `s3://`, `glacier` for a `remote` store (a Glacier
    /// vault), `local` otherwise.
    #[must_use]
    pub fn of_location(self, remote: bool) -> Self {
        let location = self.store.location();
        let kind = if location.starts_with("s3://") {
            "s3"
        } else if remote {
            "glacier"
        } else {
            "local"
        };
        let class = StorageClass::of_location(&location);
        self.with_kind(kind).with_class(class)
    }

    /// Prices its archives as `class`.
    #[must_use]
    pub fn with_class(mut self, class: StorageClass) -> Self {
        self.class = class;
        self
    }

    /// Whether the store answers jobs at once and free (a local directory
    /// or in-memory store).
    pub fn is_local(&self) -> bool {
        let l = self.store.location();
        l.starts_with("file://") || l.starts_with("memory:")
    }

    /// Creates the vault if the store does not have it yet.
    pub fn create_if_missing(&self) -> crate::Result<()> {
        match self.store.describe_vault(&self.name) {
            Ok(_) => Ok(()),
            Err(glacier_multipart::Error::VaultNotFound { .. }) => self
                .store
                .create_vault(&self.name)
                .map_err(crate::Error::store(format!("creating vault {}", self.name))),
            Err(e) => Err(crate::Error::Store {
                action: format!("vault {} in {}", self.name, self.store.location()),
                source: e,
            }),
        }
    }
}
