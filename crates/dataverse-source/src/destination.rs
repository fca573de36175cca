//! The [`Destination`] seam: where backup copies go and how they are
//! checked.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::checksum::{Checksum, ChecksumType};
use crate::error::{Error, Result};

/// A place backup copies are written to, one file at a time, and read
/// back or checksummed to verify them.
///
/// `path` is relative and `/`-separated: `authority/identifier/storageid`
/// (with `.orig` for a preserved original). A copy must never be visible
/// under `path` half-written: write elsewhere and rename, so a run killed
/// mid-file leaves either the old copy or none.
pub trait Destination: Send + Sync + fmt::Debug {
    /// The method recorded in the status table (`lastbackupmethod`,
    /// at most 16 characters): `ssh`, `store`, `memory`, `directory`.
    fn method(&self) -> &str;

    /// Where `path` ends up, for messages.
    fn locate(&self, path: &str) -> String;

    /// Stores everything `content` yields under `path`, replacing any
    /// earlier copy. `size` is the expected length when known. Returns the
    /// bytes written.
    fn put(&self, path: &str, size: Option<u64>, content: &mut dyn Read) -> Result<u64>;

    /// Computes the checksum of type `kind` of the copy at `path`, at the
    /// destination (a remote `sha256sum`, or a read back), as hex.
    fn checksum(&self, path: &str, kind: &ChecksumType) -> Result<String>;
}

/// A local directory as destination (a mounted backup disk, an NFS share):
/// `<root>/<path>`, written to `<path>.part`, synced and renamed; verified
/// by reading the copy back.
#[derive(Debug, Clone)]
pub struct DirectoryDestination {
    root: PathBuf,
}

impl DirectoryDestination {
    /// Copies go below `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectoryDestination { root: root.into() }
    }

    fn full(&self, path: &str) -> Result<PathBuf> {
        let p = Path::new(path);
        if path.is_empty()
            || !p
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::UnsafePath {
                file_id: 0,
                path: path.to_owned(),
            });
        }
        Ok(self.root.join(p))
    }
}

impl Destination for DirectoryDestination {
    fn method(&self) -> &'static str {
        "directory"
    }

    fn locate(&self, path: &str) -> String {
        self.root.join(path).display().to_string()
    }

    fn put(&self, path: &str, _size: Option<u64>, content: &mut dyn Read) -> Result<u64> {
        let target = self.full(path)?;
        let dir = target.parent().unwrap_or(&self.root).to_owned();
        fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let mut part = target.clone().into_os_string();
        part.push(".part");
        let part = PathBuf::from(part);
        let mut f = File::create(&part).map_err(|e| Error::io("creating", &part, e))?;
        let n = copy_classified(content, &mut f, &part)?;
        f.sync_all().map_err(|e| Error::io("syncing", &part, e))?;
        drop(f);
        fs::rename(&part, &target).map_err(|e| Error::io("renaming into place", &target, e))?;
        Ok(n)
    }

    fn checksum(&self, path: &str, kind: &ChecksumType) -> Result<String> {
        let target = self.full(path)?;
        let mut f = File::open(&target).map_err(|e| Error::io("opening the copy", &target, e))?;
        Checksum::compute(kind, &mut f)
            .map_err(|e| Error::io("reading the copy", &target, e))?
            .ok_or_else(|| Error::Remote {
                action: "checksumming",
                path: path.to_owned(),
                message: format!("checksum type {kind} is not supported"),
                retryable: false,
            })
    }
}

/// Copies `content` into `out`, wrapping write errors with `path`. Read
/// errors pass through unchanged (as [`Error::Io`] with action `reading
/// the source`), so the caller can tell a failed read from a failed write.
pub fn copy_classified(content: &mut dyn Read, out: &mut dyn Write, path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the source", path, e)),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Error::io("writing", path, e))?;
        total += n as u64;
    }
    out.flush().map_err(|e| Error::io("writing", path, e))?;
    Ok(total)
}

/// A fault a [`MemoryDestination`] injects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestinationFault {
    /// Writing `path` fails with ENOSPC (disk full) after this many bytes.
    DiskFullAfter(u64),
    /// The connection drops after this many bytes of `path`.
    DropConnectionAfter(u64),
    /// The checksum computed at the destination is wrong (the copy was
    /// damaged on the way).
    WrongChecksum,
    /// Computing the checksum fails (the remote command is missing).
    ChecksumFails,
}

/// An in-memory destination for tests, with faults by path. A failed put
/// leaves no copy (as a rename that never happened).
#[derive(Default)]
pub struct MemoryDestination {
    copies: Mutex<HashMap<String, Vec<u8>>>,
    faults: Mutex<HashMap<String, DestinationFault>>,
    all_full_after: Mutex<Option<u64>>,
    puts: Mutex<u64>,
}

impl fmt::Debug for MemoryDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDestination")
            .field("copies", &lock(&self.copies).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryDestination {
    /// Empty, no faults.
    pub fn new() -> Self {
        MemoryDestination::default()
    }

    /// Injects `fault` for `path`.
    pub fn inject(&self, path: impl Into<String>, fault: DestinationFault) {
        lock(&self.faults).insert(path.into(), fault);
    }

    /// Removes the fault of `path`.
    pub fn heal(&self, path: &str) {
        lock(&self.faults).remove(path);
    }

    /// The whole destination is full once it holds `bytes` bytes (`None`:
    /// unlimited).
    pub fn capacity(&self, bytes: Option<u64>) {
        *lock(&self.all_full_after) = bytes;
    }

    /// The copy at `path`.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.copies).get(path).cloned()
    }

    /// The paths held, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.copies).keys().cloned().collect();
        v.sort();
        v
    }

    /// How many puts were attempted.
    pub fn puts(&self) -> u64 {
        *lock(&self.puts)
    }
}

impl Destination for MemoryDestination {
    fn method(&self) -> &'static str {
        "memory"
    }

    fn locate(&self, path: &str) -> String {
        format!("memory:{path}")
    }

    fn put(&self, path: &str, _size: Option<u64>, content: &mut dyn Read) -> Result<u64> {
        *lock(&self.puts) += 1;
        let fault = lock(&self.faults).get(path).cloned();
        let used: u64 = lock(&self.copies)
            .iter()
            .filter(|(p, _)| p.as_str() != path)
            .map(|(_, v)| v.len() as u64)
            .sum();
        let room = lock(&self.all_full_after).map(|cap| cap.saturating_sub(used));
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading the source", path, e)),
            };
            data.extend_from_slice(&buf[..n]);
            let len = data.len() as u64;
            match fault {
                Some(DestinationFault::DiskFullAfter(limit)) if len > limit => {
                    return Err(Error::io(
                        "writing",
                        path,
                        io::Error::new(
                            io::ErrorKind::StorageFull,
                            "No space left on device (injected)",
                        ),
                    ));
                }
                Some(DestinationFault::DropConnectionAfter(limit)) if len > limit => {
                    return Err(Error::io(
                        "writing",
                        path,
                        io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "connection reset (injected)",
                        ),
                    ));
                }
                _ => {}
            }
            if room.is_some_and(|r| len > r) {
                return Err(Error::io(
                    "writing",
                    path,
                    io::Error::new(
                        io::ErrorKind::StorageFull,
                        "No space left on device (injected)",
                    ),
                ));
            }
        }
        let n = data.len() as u64;
        lock(&self.copies).insert(path.to_owned(), data);
        Ok(n)
    }

    fn checksum(&self, path: &str, kind: &ChecksumType) -> Result<String> {
        let fault = lock(&self.faults).get(path).cloned();
        if fault == Some(DestinationFault::ChecksumFails) {
            return Err(Error::Injected {
                what: format!("checksum command failed for {path}"),
            });
        }
        let data = self.get(path).ok_or_else(|| Error::Remote {
            action: "checksumming",
            path: path.to_owned(),
            message: "no such copy".into(),
            retryable: false,
        })?;
        let mut hex = Checksum::compute(kind, &mut &data[..])
            .map_err(|e| Error::io("reading the copy", path, e))?
            .ok_or_else(|| Error::Remote {
                action: "checksumming",
                path: path.to_owned(),
                message: format!("checksum type {kind} is not supported"),
                retryable: false,
            })?;
        if fault == Some(DestinationFault::WrongChecksum) {
            // Flip the first digit.
            let first = if hex.starts_with('0') { "1" } else { "0" };
            hex.replace_range(0..1, first);
        }
        Ok(hex)
    }
}
