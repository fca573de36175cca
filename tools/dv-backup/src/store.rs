//! The `StorageType store` destination: a Permafrost store and catalog.
//!
//! Each file is read once from its Dataverse store into a staging
//! directory, its Dataverse checksum verified and its SHA-256 computed
//! while it is copied. Staged files are archived in batches (`BatchFiles`
//! files or `BatchMiB` MiB, whichever comes first) by one `archiver` run
//! each, over explicit entries: bundled by `bundler` into any
//! glacier-multipart store (a local directory, a Glacier vault, an S3
//! archive class) and recorded in the catalog under
//! `/<authority>/<identifier>/<storageid>` (`.orig` for a preserved
//! original), so `glacier-sync find` and `retrieve --path` work on the
//! same catalog.
//!
//! A file is `OK` only when the catalog holds it from that batch's run, in
//! a stored archive, with the size and SHA-256 staged; otherwise
//! `FAIL_WRITE` (the run failed or left it out) or `FAIL_VERIFY` (the
//! catalog holds other content). Staged files are deleted once their batch
//! is settled. A lock file in the staging directory keeps two runs apart.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result, bail};
use archiver::{
    ArchiveCatalog, ArchiveOptions, Observer, RunStarted, SourceEntry, Sources, Vault, Warning,
};
use dataverse_source::{ChecksumType, DataFile, HashingReader, Outcome, Source, Status};

use crate::config::StoreDestConfig;
use crate::run::Backend;

/// The lock file's name in the staging directory.
pub(crate) const LOCK_FILE: &str = "dv-backup.lock";

/// One staged file.
#[derive(Debug, Clone)]
struct Staged {
    /// Where it is on disk.
    path: PathBuf,
    /// The catalog path it is recorded under.
    catalog_path: String,
    size: u64,
    sha256: String,
}

/// Outcomes waiting for their batch to be archived, in listing order.
#[derive(Default)]
struct Batch {
    items: Vec<(DataFile, Outcome)>,
    files: usize,
    bytes: u64,
}

/// The store destination (see the module docs).
pub(crate) struct StoreBackend {
    config: StoreDestConfig,
    vault: Vault,
    catalog: Mutex<ArchiveCatalog>,
    options: ArchiveOptions,
    /// `<StagingDirectory>/files`.
    files: PathBuf,
    staged: Mutex<HashMap<i64, Staged>>,
    batch: Mutex<Batch>,
    /// Held (locked) as long as the backend lives.
    _lock: File,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the staging directory's lock, or says who holds it.
fn take_lock(staging: &Path) -> Result<File> {
    fs::create_dir_all(staging)
        .with_context(|| format!("creating the staging directory {}", staging.display()))?;
    let path = staging.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => bail!(
            "another dv-backup run is using the staging directory: {} is locked (wait for it to finish, or set [Backup] StagingDirectory)",
            path.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    let mut f = &file;
    let _ = f.set_len(0);
    let _ = writeln!(f, "{}", std::process::id());
    Ok(file)
}

/// The page cache of each of the catalog's SQLite connections, in KiB.
const CATALOG_PAGE_CACHE_KIB: u32 = 2048;

impl StoreBackend {
    /// Takes the staging lock, clears what an interrupted run staged,
    /// opens the store (creating the vault when missing) and the catalog.
    pub(crate) fn open(config: &StoreDestConfig) -> Result<StoreBackend> {
        let lock_file = take_lock(&config.staging)?;
        let files = config.staging.join("files");
        if files.exists() {
            tracing::info!(dir = %files.display(), "removing files an interrupted run staged");
            fs::remove_dir_all(&files)
                .with_context(|| format!("clearing the staging directory {}", files.display()))?;
        }
        let store = archiver::glacier_multipart::open_store(&config.location)
            .with_context(|| format!("opening the store {}", config.location))?;
        let remote = config.location.starts_with("glacier://");
        let vault = Vault::new(store, &config.vault).of_location(remote);
        vault
            .create_if_missing()
            .with_context(|| format!("vault {} of the store {}", config.vault, config.location))?;
        let mut catalog = ArchiveCatalog::open(&config.catalog)
            .with_context(|| format!("opening the catalog {}", config.catalog.display()))?;
        // A run of millions of files keeps its memory flat: the catalog's
        // page caches stay small (they fill and stop, instead of growing
        // towards the default's 16 MiB per connection).
        catalog
            .catalog_mut()
            .set_page_cache(CATALOG_PAGE_CACHE_KIB)
            .with_context(|| format!("opening the catalog {}", config.catalog.display()))?;
        let options = ArchiveOptions::default()
            .all()
            .max_files(config.max_files)
            .max_bundle_size(config.max_bundle_size)
            .keep_buffers(true)
            .description("dv-backup: Dataverse data files")
            .tags(["dataverse", "dv-backup"]);
        Ok(StoreBackend {
            config: config.clone(),
            vault,
            catalog: Mutex::new(catalog),
            options,
            files,
            staged: Mutex::new(HashMap::new()),
            batch: Mutex::new(Batch::default()),
            _lock: lock_file,
        })
    }

    /// Where the store is, for messages.
    fn describe(&self) -> String {
        format!(
            "vault {} of {}",
            self.config.vault,
            self.vault.store.location()
        )
    }

    /// Copies `file` into the staging directory: one read, Dataverse's
    /// checksum and SHA-256 while copying, size and checksum checked.
    #[allow(clippy::too_many_lines)] // one file's way in order: check, read and copy, verify
    fn stage(&self, source: &dyn Source, file: &DataFile) -> Outcome {
        let fail = |status, bytes, message: String| Outcome {
            status,
            bytes,
            message: Some(message),
        };
        let Some(rel) = file.backup_path() else {
            return fail(
                Status::FailRead,
                0,
                format!(
                    "file {} has no storage identifier (no physical copy)",
                    file.id
                ),
            );
        };
        if file.dataset.authority.is_empty()
            || file.dataset.identifier.is_empty()
            || !rel
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
        {
            return fail(
                Status::FailRead,
                0,
                format!(
                    "file {}: refusing the path {rel:?} (its dataset {} lacks authority/identifier, or a name is unsafe)",
                    file.id, file.dataset_db_id
                ),
            );
        }
        let mut reader = match source.open(file) {
            Ok(r) => HashingReader::new(r, &file.checksum.kind),
            Err(e) => return fail(Status::FailRead, 0, e.to_string()),
        };
        let target = self.files.join(&rel);
        let copied = (|| -> Result<(u64, String), (Status, String)> {
            let write_err = |what: &str, e: io::Error| {
                (
                    Status::FailWrite,
                    format!("{what} the staged copy {}: {e}", target.display()),
                )
            };
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir).map_err(|e| write_err("creating the directory of", e))?;
            }
            let mut out = File::create(&target).map_err(|e| write_err("creating", e))?;
            let mut sha = ChecksumType::Sha256
                .hasher()
                .expect("SHA-256 is a known type");
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err((
                            Status::FailRead,
                            format!("reading {}: {e}", source.locate(file)),
                        ));
                    }
                };
                sha.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| write_err("writing", e))?;
            }
            out.flush().map_err(|e| write_err("writing", e))?;
            // The catalog records the createdate as the file's mtime.
            let _ = out.set_modified(file.created.to_system_time());
            Ok((HashingReader::bytes(&reader), sha.finish_hex()))
        })();
        let (bytes, sha256) = match copied {
            Ok(v) => v,
            Err((status, message)) => {
                let _ = fs::remove_file(&target);
                return fail(status, HashingReader::bytes(&reader), message);
            }
        };
        let (_, local_hex) = reader.finish();
        let kind = &file.checksum.kind;
        let problem = if file.size.is_some_and(|s| s != bytes) {
            Some(format!(
                "read {bytes} bytes from {}, Dataverse records {}",
                source.locate(file),
                file.size.unwrap_or_default()
            ))
        } else {
            match &local_hex {
                None => Some(format!(
                    "unknown checksum type {:?} (MD5, SHA1, SHA256 and SHA512 are known): not verified, not archived",
                    kind.name()
                )),
                Some(hex) if !file.checksum.matches(hex) => Some(format!(
                    "the content read from {} has {kind} {hex}, Dataverse records {}",
                    source.locate(file),
                    file.checksum.value
                )),
                Some(_) => None,
            }
        };
        if let Some(message) = problem {
            let _ = fs::remove_file(&target);
            return fail(Status::FailVerify, bytes, message);
        }
        lock(&self.staged).insert(
            file.id,
            Staged {
                path: target,
                catalog_path: format!("/{rel}"),
                size: bytes,
                sha256,
            },
        );
        Outcome {
            status: Status::Ok,
            bytes,
            message: None,
        }
    }

    /// Archives the staged files of `items` in one archiver run, then
    /// settles each by what the catalog holds.
    fn archive_batch(&self, items: &mut [(DataFile, Outcome)]) -> Result<()> {
        let staged: Vec<(usize, Staged)> = {
            let mut map = lock(&self.staged);
            items
                .iter()
                .enumerate()
                .filter(|(_, (_, o))| o.status == Status::Ok)
                .filter_map(|(i, (f, _))| map.remove(&f.id).map(|s| (i, s)))
                .collect()
        };
        if staged.is_empty() {
            return Ok(());
        }
        let entries: Vec<SourceEntry> = staged
            .iter()
            .map(|(_, s)| SourceEntry::new(&s.path, &s.catalog_path))
            .collect();
        let observer = Watch::default();
        let mut catalog = lock(&self.catalog);
        tracing::info!(files = entries.len(), store = %self.describe(), "archiving a batch");
        let result = archiver::archive(
            &Sources::Entries(entries),
            &self.options,
            &self.vault,
            &mut catalog,
            &observer,
        );
        let failure = result
            .as_ref()
            .err()
            .map(|e| format!("archiving into {}: {}", self.describe(), error_chain(e)));
        if let Some(f) = &failure {
            tracing::error!("{f}");
        }
        let run = match lock(&observer.run).clone() {
            Some(uid) => catalog
                .catalog()
                .run_by_uid(&uid)
                .context("reading the catalog")?
                .map(|r| r.id),
            None => None,
        };
        let warnings = lock(&observer.warnings).clone();
        for (i, s) in &staged {
            let outcome = &mut items[*i].1;
            let hits = match run {
                Some(_) => catalog
                    .catalog()
                    .where_is(&s.catalog_path)
                    .with_context(|| format!("looking up {} in the catalog", s.catalog_path))?,
                None => Vec::new(),
            };
            let ours: Vec<_> = hits
                .iter()
                .filter(|h| {
                    Some(h.run) == run && h.state == archiver::catalog::ArchiveState::Stored
                })
                .collect();
            let good = ours.iter().any(|h| {
                h.size == s.size
                    && h.sha256
                        .is_some_and(|d| dataverse_source::hex(&d) == s.sha256)
            });
            if good {
                continue;
            }
            outcome.status = Status::FailWrite;
            outcome.message = Some(if let Some(h) = ours.first() {
                outcome.status = Status::FailVerify;
                format!(
                    "the catalog {} holds {} with {} bytes, SHA-256 {}; staged {} bytes, SHA-256 {}",
                    self.config.catalog.display(),
                    s.catalog_path,
                    h.size,
                    h.sha256
                        .map_or_else(|| "none".to_owned(), |d| dataverse_source::hex(&d)),
                    s.size,
                    s.sha256
                )
            } else if let Some(f) = &failure {
                f.clone()
            } else if let Some(w) = warnings.iter().find(|(k, _)| {
                *k == s.path.display().to_string() || *k == s.catalog_path.trim_start_matches('/')
            }) {
                format!("archiving {}: {}", s.catalog_path, w.1)
            } else {
                format!(
                    "{} is not recorded as stored in the catalog {} after the archive run",
                    s.catalog_path,
                    self.config.catalog.display()
                )
            });
        }
        drop(catalog);
        for (_, s) in &staged {
            let _ = fs::remove_file(&s.path);
        }
        Ok(())
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// What the archiver tells about a batch: its run and the files it left
/// out.
#[derive(Default)]
struct Watch {
    run: Mutex<Option<String>>,
    warnings: Mutex<Vec<(String, String)>>,
}

impl Observer for Watch {
    fn run_started(&self, run: &RunStarted) {
        *lock(&self.run) = Some(run.uid.clone());
    }

    fn warning(&self, warning: &Warning) {
        let w = match warning {
            Warning::Unreadable { path, message } => (path.display().to_string(), message.clone()),
            Warning::LeftOut { name, message } | Warning::Changed { name, message } => {
                (name.clone(), message.clone())
            }
            _ => return,
        };
        tracing::warn!(file = %w.0, "{}", w.1);
        lock(&self.warnings).push(w);
    }
}

impl Backend for StoreBackend {
    fn copy(&self, source: &dyn Source, file: &DataFile) -> Outcome {
        self.stage(source, file)
    }

    fn settle(
        &self,
        done: Vec<(DataFile, Outcome)>,
        last: bool,
    ) -> Result<Vec<(DataFile, Outcome)>> {
        let mut batch = lock(&self.batch);
        for (file, outcome) in done {
            if outcome.status == Status::Ok {
                batch.files += 1;
                batch.bytes += outcome.bytes;
            }
            batch.items.push((file, outcome));
        }
        let full = batch.files >= self.config.batch_files || batch.bytes >= self.config.batch_bytes;
        if !(last || full) {
            return Ok(Vec::new());
        }
        let mut items = std::mem::take(&mut batch.items);
        *batch = Batch::default();
        drop(batch);
        self.archive_batch(&mut items)?;
        Ok(items)
    }
}

impl Drop for StoreBackend {
    fn drop(&mut self) {
        // Whatever is left was never archived; the next run stages it again.
        let _ = fs::remove_dir_all(&self.files);
    }
}
