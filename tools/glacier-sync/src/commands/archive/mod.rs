//! The archive commands: `archive`, `find`, `where-is`, `retrieve`, `jobs`,
//! `watch`, one file each, and what they share here: the data directory,
//! the catalog, the default vault, the per-archive bundle indexes kept
//! beside the catalog, and the pipe that streams a bundle into the
//! uploader.
//!
//! Beside the catalog `FILE` live `FILE.indexes/ARCHIVE_ID.json` (the
//! bundle's own index, so a retrieval can ask for just the ranges of the
//! wanted members) and `FILE.jobs/JOB_ID.json` (what a pending retrieval
//! job is to extract, and where).

// One file per command; `archive` is the command of this family's name.
#[allow(clippy::module_inception)]
pub(crate) mod archive;
pub(crate) mod catalog_rebuild;
pub(crate) mod cli;
pub(crate) mod find;
pub(crate) mod jobs;
pub(crate) mod retrieve;
pub(crate) mod watch;
pub(crate) mod where_is;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::Context as _;
use catalog::Catalog;
use serde::{Deserialize, Serialize};

use crate::commands::Ctx;
use crate::store::{self, Target};

use cli::Place;

/// The description prefix of bundles.
pub(crate) const BUNDLE_PREFIX: &str = "permafrost-bundle v1";
/// The description prefix of catalog exports.
pub(crate) const CATALOG_PREFIX: &str = "permafrost-catalog v1";

/// The data directory: `$PERMAFROST_HOME`, else
/// `$XDG_DATA_HOME/permafrost`, else `$HOME/.local/share/permafrost`.
pub(crate) fn data_home() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("PERMAFROST_HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p).join("permafrost"));
    }
    let home = std::env::var_os("HOME")
        .filter(|p| !p.is_empty())
        .context("no data directory: set PERMAFROST_HOME (or HOME)")?;
    Ok(PathBuf::from(home).join(".local/share/permafrost"))
}

/// The catalog path: `--catalog`, else `catalog.sqlite` in the data
/// directory.
pub(crate) fn catalog_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p.to_owned()),
        None => Ok(data_home()?.join("catalog.sqlite")),
    }
}

/// Opens (creating) the catalog.
pub(crate) fn open_catalog(given: Option<&Path>) -> anyhow::Result<Catalog> {
    let path = catalog_path(given)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    Catalog::open(&path).with_context(|| format!("opening the catalog {}", path.display()))
}

/// Opens the vault of `place` (default: the embedded local store), creating
/// it in a local store when it does not exist yet.
pub(crate) fn open_target(ctx: &Ctx<'_>, place: &Place, create: bool) -> anyhow::Result<Target> {
    let target = if let Some(v) = place.vault.as_deref() {
        store::open_vault(v, &place.store, ctx.config)?
    } else {
        let root = data_home()?.join("store");
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the store {}", root.display()))?;
        let loc = format!("{}/default", root.display());
        store::open_vault(
            &loc,
            &crate::cli::StoreArgs {
                store: None,
                endpoint_url: None,
            },
            ctx.config,
        )?
    };
    if create {
        match target.store.describe_vault(&target.vault) {
            Ok(_) => {}
            Err(glacier_multipart::Error::VaultNotFound { .. }) => {
                target
                    .store
                    .create_vault(&target.vault)
                    .with_context(|| format!("creating vault {}", target.vault))?;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "vault {} in {}",
                    target.vault,
                    target.store.location()
                )));
            }
        }
    }
    Ok(target)
}

/// The directory of bundle indexes beside the catalog.
pub(crate) fn index_dir(catalog: &Path) -> PathBuf {
    side(catalog, ".indexes")
}

/// The directory of pending retrieval jobs beside the catalog.
pub(crate) fn jobs_dir(catalog: &Path) -> PathBuf {
    side(catalog, ".jobs")
}

fn side(catalog: &Path, suffix: &str) -> PathBuf {
    let mut name = catalog
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(suffix);
    catalog.with_file_name(name)
}

/// A file name for a store id (archive and job ids may hold `/`, `+`).
pub(crate) fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The bundle index kept for `archive_id`, if any.
pub(crate) fn load_index(catalog: &Path, archive_id: &str) -> Option<bundler::BundleIndex> {
    let p = index_dir(catalog).join(format!("{}.json", safe_name(archive_id)));
    let bytes = std::fs::read(p).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What a pending retrieval job is to do once its output is ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JobPlan {
    /// The store's archive id.
    pub(crate) archive_id: String,
    /// The byte range asked for (`None`: the whole archive).
    pub(crate) range: Option<(u64, u64)>,
    /// Member names to extract (`None`: all).
    pub(crate) members: Option<Vec<String>>,
    /// Where to.
    pub(crate) to: PathBuf,
}

/// The write end of a bounded in-memory pipe.
pub(crate) struct PipeWriter {
    tx: SyncSender<Option<Vec<u8>>>,
    buf: Vec<u8>,
}

/// The read end.
pub(crate) struct PipeReader {
    rx: Receiver<Option<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

const CHUNK: usize = 1 << 20;

/// A pipe holding at most `depth` chunks of 1 MiB in flight.
pub(crate) fn pipe(depth: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(depth);
    (
        PipeWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        },
    )
}

fn broken() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the uploader stopped reading",
    )
}

impl Write for PipeWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = b.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.tx.send(Some(full)).map_err(|_| broken())?;
        }
        Ok(())
    }
}

impl PipeWriter {
    /// Ends the stream cleanly. A writer dropped without this makes the
    /// reader fail, so a bundle that failed half-way is never stored.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.flush()?;
        self.tx.send(None).map_err(|_| broken())
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Some(v)) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Ok(None) => self.done = true,
                Err(_) => {
                    return Err(std::io::Error::other(
                        "the bundle writer failed before the end of the bundle",
                    ));
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A human size.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn human(bytes: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}
