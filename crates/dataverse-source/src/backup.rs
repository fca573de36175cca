//! Backing up one file: read, copy, check what was read, verify at the
//! destination, and say which of the original script's statuses it earns.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use crate::checksum::HashingReader;
use crate::destination::Destination;
use crate::model::DataFile;
use crate::source::Source;

/// A file's backup status, as the original script's `datafilestatus.status`
/// spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Copied and verified at the destination.
    Ok,
    /// The file could not be read from its store (missing, unreadable, no
    /// storage identifier, no store configured for its driver).
    FailRead,
    /// The copy could not be written (disk full, connection dropped).
    FailWrite,
    /// The copy was written but could not be shown to be right: the
    /// checksum at the destination differs, the content read does not match
    /// Dataverse's checksum or size, or the checksum type is unknown.
    FailVerify,
}

impl Status {
    /// `OK`, `FAIL_READ`, `FAIL_WRITE`, `FAIL_VERIFY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::FailRead => "FAIL_READ",
            Status::FailWrite => "FAIL_WRITE",
            Status::FailVerify => "FAIL_VERIFY",
        }
    }

    /// Every status, in report order.
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::FailRead,
        Status::FailWrite,
        Status::FailVerify,
    ];
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "OK" => Ok(Status::Ok),
            "FAIL_READ" => Ok(Status::FailRead),
            "FAIL_WRITE" => Ok(Status::FailWrite),
            "FAIL_VERIFY" => Ok(Status::FailVerify),
            other => Err(format!("unknown backup status {other:?}")),
        }
    }
}

/// What backing up one file came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status to record.
    pub status: Status,
    /// Bytes read from the source.
    pub bytes: u64,
    /// Why it failed (`None` when OK).
    pub message: Option<String>,
}

impl Outcome {
    fn fail(status: Status, bytes: u64, message: impl Into<String>) -> Self {
        Outcome {
            status,
            bytes,
            message: Some(message.into()),
        }
    }
}

/// Records the first error the source's reader returned, so a failed copy
/// can be told apart: a read error is `FAIL_READ`, anything else
/// `FAIL_WRITE`, whatever the destination wraps it in.
struct WatchedReader<R> {
    inner: R,
    error: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for WatchedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                let mut slot = self
                    .error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                slot.get_or_insert_with(|| e.to_string());
            }
        })
    }
}

/// Backs up `file` from `source` to `destination`: opens it, streams it
/// into the destination while computing its checksum (one read), checks
/// size and checksum against what Dataverse recorded, then has the
/// destination compute the checksum of its copy. Never panics and never
/// returns an error: every failure is an [`Outcome`] with its status and
/// message.
pub fn back_up(source: &dyn Source, destination: &dyn Destination, file: &DataFile) -> Outcome {
    let Some(path) = file.backup_path() else {
        return Outcome::fail(
            Status::FailRead,
            0,
            format!(
                "file {} has no storage identifier (no physical copy)",
                file.id
            ),
        );
    };
    if file.dataset.authority.is_empty() || file.dataset.identifier.is_empty() {
        return Outcome::fail(
            Status::FailRead,
            0,
            format!(
                "file {}: its dataset {} has no authority/identifier",
                file.id, file.dataset_db_id
            ),
        );
    }
    let reader = match source.open(file) {
        Ok(r) => r,
        Err(e) => return Outcome::fail(Status::FailRead, 0, e.to_string()),
    };
    let kind = &file.checksum.kind;
    let read_error = Arc::new(Mutex::new(None));
    let mut hashing = HashingReader::new(
        WatchedReader {
            inner: reader,
            error: Arc::clone(&read_error),
        },
        kind,
    );
    let put = destination.put(&path, file.size, &mut hashing);
    let (bytes, local_hex) = hashing.finish();
    if let Err(e) = put {
        let read = read_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        return match read {
            Some(msg) => Outcome::fail(
                Status::FailRead,
                bytes,
                format!("reading {}: {msg}", source.locate(file)),
            ),
            None => Outcome::fail(Status::FailWrite, bytes, e.to_string()),
        };
    }
    check_copy(source, destination, file, &path, bytes, local_hex)
}

/// After a successful put: size and checksum of what was read, then the
/// destination's checksum of its copy.
fn check_copy(
    source: &dyn Source,
    destination: &dyn Destination,
    file: &DataFile,
    path: &str,
    bytes: u64,
    local_hex: Option<String>,
) -> Outcome {
    let kind = &file.checksum.kind;
    if let Some(size) = file.size
        && size != bytes
    {
        return Outcome::fail(
            Status::FailVerify,
            bytes,
            format!(
                "read {bytes} bytes from {}, Dataverse records {size}",
                source.locate(file)
            ),
        );
    }
    let Some(local_hex) = local_hex else {
        return Outcome::fail(
            Status::FailVerify,
            bytes,
            format!(
                "unknown checksum type {:?} (MD5, SHA1, SHA256 and SHA512 are known): copied to {}, not verified",
                kind.name(),
                destination.locate(path)
            ),
        );
    };
    if !file.checksum.matches(&local_hex) {
        return Outcome::fail(
            Status::FailVerify,
            bytes,
            format!(
                "the content read from {} has {kind} {local_hex}, Dataverse records {}",
                source.locate(file),
                file.checksum.value
            ),
        );
    }
    match destination.checksum(path, kind) {
        Ok(remote) if file.checksum.matches(&remote) => Outcome {
            status: Status::Ok,
            bytes,
            message: None,
        },
        Ok(remote) => Outcome::fail(
            Status::FailVerify,
            bytes,
            format!(
                "the copy at {} has {kind} {remote}, expected {}",
                destination.locate(path),
                file.checksum.value
            ),
        ),
        Err(e) => Outcome::fail(
            Status::FailVerify,
            bytes,
            format!("verifying {}: {e}", destination.locate(path)),
        ),
    }
}
