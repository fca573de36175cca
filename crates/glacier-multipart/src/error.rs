//! The one error type of this crate.

use std::ops::Range;
use std::path::PathBuf;

use glacier_treehash::TreeHash;

pub(crate) use crate::timeouts::TimeoutKind;

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong talking to an archive store or moving an
/// archive in or out of one.
///
/// Each variant carries what a user needs to act on it: the vault, the
/// archive, upload or job id, the byte range, the local path.
/// [`Error::is_retryable`] tells transient failures (throttling, server
/// errors, timeouts, dropped connections) from permanent ones.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The vault does not exist.
    #[error("vault {vault:?} does not exist")]
    VaultNotFound {
        /// The vault.
        vault: String,
    },
    /// A vault cannot be deleted while it holds archives or uploads.
    #[error("vault {vault:?} is not empty: {reason}")]
    VaultNotEmpty {
        /// The vault.
        vault: String,
        /// What it still holds.
        reason: String,
    },
    /// A vault name the store does not accept.
    #[error("invalid vault name {vault:?}: {reason}")]
    InvalidVaultName {
        /// The name.
        vault: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The archive does not exist in the vault.
    #[error("archive {archive_id} not found in vault {vault:?}")]
    ArchiveNotFound {
        /// The vault.
        vault: String,
        /// The archive id.
        archive_id: String,
    },
    /// The multipart upload does not exist (never started, completed or
    /// aborted).
    #[error("multipart upload {upload_id} not found in vault {vault:?}")]
    UploadNotFound {
        /// The vault.
        vault: String,
        /// The upload id.
        upload_id: String,
    },
    /// The job does not exist (or its output expired).
    #[error("job {job_id} not found in vault {vault:?}")]
    JobNotFound {
        /// The vault.
        vault: String,
        /// The job id.
        job_id: String,
    },
    /// The job's output was asked for before the job succeeded.
    #[error("job {job_id} in vault {vault:?} has not completed yet")]
    JobNotReady {
        /// The vault.
        vault: String,
        /// The job id.
        job_id: String,
    },
    /// A part size that is not 1 MiB times a power of two within the
    /// store's limits.
    #[error("invalid part size {part_size} bytes: {reason}")]
    InvalidPartSize {
        /// The size.
        part_size: u64,
        /// Which rule it breaks.
        reason: String,
    },
    /// An archive too large for the store, or for the part size when the
    /// size is only known while reading.
    #[error("archive of {size} bytes is too large: {reason}")]
    ArchiveTooLarge {
        /// Bytes read or announced.
        size: u64,
        /// Which limit it exceeds.
        reason: String,
    },
    /// A byte range the store refuses (misaligned part, range past the end,
    /// range not megabyte aligned for a retrieval).
    #[error("invalid byte range {}-{} in vault {vault:?} ({what}): {reason}", range.start, range.end)]
    InvalidRange {
        /// The vault.
        vault: String,
        /// The upload, archive or job the range belongs to.
        what: String,
        /// The range, end exclusive.
        range: Range<u64>,
        /// Which rule it breaks.
        reason: String,
    },
    /// A part's data does not have the tree hash sent with it.
    #[error(
        "tree hash mismatch for part {}-{} of upload {upload_id} in vault {vault:?}: sent {expected}, data hashes to {actual}",
        range.start, range.end
    )]
    PartChecksumMismatch {
        /// The vault.
        vault: String,
        /// The upload id.
        upload_id: String,
        /// The part's range, end exclusive.
        range: Range<u64>,
        /// The hash that came with the part.
        expected: TreeHash,
        /// The hash of the bytes that arrived.
        actual: TreeHash,
    },
    /// Completing an upload whose parts do not cover the announced size.
    #[error("upload {upload_id} in vault {vault:?} cannot complete: {reason}")]
    IncompleteUpload {
        /// The vault.
        vault: String,
        /// The upload id.
        upload_id: String,
        /// Which bytes are missing or extra.
        reason: String,
    },
    /// Completing an upload with a tree hash its parts do not combine to.
    #[error(
        "archive tree hash mismatch completing upload {upload_id} in vault {vault:?}: sent {expected}, parts combine to {actual}"
    )]
    ArchiveChecksumMismatch {
        /// The vault.
        vault: String,
        /// The upload id (or `single request`).
        upload_id: String,
        /// The hash that was sent.
        expected: TreeHash,
        /// The hash of what the store holds.
        actual: TreeHash,
    },
    /// Downloaded bytes do not have the tree hash the store announced.
    #[error(
        "tree hash mismatch for bytes {}-{} of job {job_id} output in vault {vault:?}: expected {expected}, got {actual}",
        range.start, range.end
    )]
    RangeChecksumMismatch {
        /// The vault.
        vault: String,
        /// The job id.
        job_id: String,
        /// The range, end exclusive.
        range: Range<u64>,
        /// The hash announced by the store (or the job).
        expected: TreeHash,
        /// The hash of the bytes received.
        actual: TreeHash,
    },
    /// Bytes read from a store that keeps no tree hashes of its own (S3) do
    /// not match the tree hash recorded when the archive was stored: the
    /// object was replaced or damaged behind the store's back. Nothing of
    /// the read is returned.
    #[error(
        "verification failed for bytes {}-{} of {object} (archive {archive_id} in vault {vault:?}): recorded tree hash {expected}, the bytes read hash to {actual}",
        range.start, range.end
    )]
    StoredChecksumMismatch {
        /// The vault.
        vault: String,
        /// The archive id.
        archive_id: String,
        /// Where the bytes live (`s3://BUCKET/KEY`).
        object: String,
        /// The range that failed, end exclusive.
        range: Range<u64>,
        /// The hash recorded at upload.
        expected: TreeHash,
        /// The hash of the bytes read.
        actual: TreeHash,
    },
    /// The store is throttling requests (AWS `ThrottlingException`, 429).
    #[error("{} {}was throttled: {message}", op_name(operation), in_vault(vault))]
    Throttled {
        /// The operation.
        operation: &'static str,
        /// The vault.
        vault: String,
        /// What the store said.
        message: String,
    },
    /// The store failed on its side (HTTP 5xx).
    #[error(
        "{} {}failed with server error {status}: {message}",
        op_name(operation),
        in_vault(vault)
    )]
    Server {
        /// The operation.
        operation: &'static str,
        /// The vault.
        vault: String,
        /// The HTTP status, or 0 when there is none.
        status: u16,
        /// What the store said.
        message: String,
    },
    /// The connection failed, was reset or the body was cut short.
    #[error(
        "{} {}failed: the connection broke ({message})",
        op_name(operation),
        in_vault(vault)
    )]
    Connection {
        /// The operation.
        operation: &'static str,
        /// The vault.
        vault: String,
        /// What happened.
        message: String,
    },
    /// The store did not answer in time: no connection, no first byte of
    /// the response, or no progress of a body (see [`Timeouts`]).
    #[error(
        "{} {}at {endpoint} timed out: no answer for {seconds} s ({kind} timeout); the server may be down or the network blocked",
        op_name(operation),
        in_vault(vault)
    )]
    Timeout {
        /// The operation.
        operation: &'static str,
        /// The vault (or `""` for store-wide operations).
        vault: String,
        /// The endpoint (URL) asked.
        endpoint: String,
        /// How long it waited.
        seconds: u64,
        /// Which timeout ran out.
        kind: TimeoutKind,
        /// The client's own account of it (shown with `-v`).
        #[source]
        detail: Detail,
    },
    /// A response that cannot be understood: not HTTP, not the
    /// service's format, or an error without a code.
    #[error(
        "unexpected response from {endpoint} to {} {}({what}); is the endpoint a Glacier or S3 service?",
        op_name(operation),
        in_vault(vault)
    )]
    Unexpected {
        /// The operation.
        operation: &'static str,
        /// The vault (or `""`).
        vault: String,
        /// The endpoint (URL) asked.
        endpoint: String,
        /// What was wrong with it (status, unparsable body).
        what: String,
        /// The first bytes of the body, and the client's error (shown
        /// with `-v`).
        #[source]
        detail: Detail,
    },
    /// The store refused the request as invalid (HTTP 4xx other than
    /// throttling and not-found).
    #[error("{} {}was refused: {message}", op_name(operation), in_vault(vault))]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// The vault.
        vault: String,
        /// What the store said.
        message: String,
    },
    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "creating", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The data to upload could not be read.
    #[error("reading the upload source {source_name} at byte {offset}: {source}")]
    SourceRead {
        /// The path, or `standard input` / `reader`.
        source_name: String,
        /// Where reading failed.
        offset: u64,
        /// The cause.
        source: std::io::Error,
    },
    /// The file being uploaded changed (size or modification time) while it
    /// was read; the upload was not completed.
    #[error("{} changed while it was being uploaded (upload {upload_id} in vault {vault:?} left unfinished)", path.display())]
    SourceChanged {
        /// The file.
        path: PathBuf,
        /// The vault.
        vault: String,
        /// The upload.
        upload_id: String,
    },
    /// A resume-state, metadata or inventory file is damaged.
    #[error("{} is damaged: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A store location string that cannot be understood.
    #[error("cannot open store {location:?}: {reason}")]
    InvalidLocation {
        /// The string.
        location: String,
        /// Why.
        reason: String,
    },
    /// A worker thread of the engine panicked.
    #[error("an engine worker thread panicked while {while_doing}")]
    WorkerPanicked {
        /// What the thread was doing.
        while_doing: &'static str,
    },
}

impl Error {
    /// Whether trying the same request again may succeed: throttling,
    /// server errors, timeouts, broken connections and garbled answers
    /// (a proxy in the way may answer properly next time). Bad requests,
    /// missing things and checksum mismatches are permanent.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. }
                | Error::Server { .. }
                | Error::Connection { .. }
                | Error::Timeout { .. }
                | Error::Unexpected { .. }
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// What an error's one sentence leaves out: the underlying client's
/// account, the first bytes of a response. Reached as the error's
/// [`source`](std::error::Error::source), so a tool shows it on request
/// (`-v`) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail(pub String);

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Detail {}

/// `list_jobs` as the API names it: `ListJobs`.
pub(crate) fn op_name(op: &str) -> String {
    op.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_uppercase().chain(c).collect::<String>()
            })
        })
        .collect()
}

/// `in vault "V" ` or nothing for store-wide operations.
fn in_vault(vault: &str) -> String {
    if vault.is_empty() {
        String::new()
    } else {
        format!("in vault {vault:?} ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_network_error_is_one_readable_sentence() {
        let t = Error::Timeout {
            operation: "list_vaults",
            vault: String::new(),
            endpoint: "http://127.0.0.1:9".into(),
            seconds: 2,
            kind: TimeoutKind::FirstByte,
            detail: Detail("HTTP read timeout occurred after 2s".into()),
        };
        assert_eq!(
            t.to_string(),
            "ListVaults at http://127.0.0.1:9 timed out: no answer for 2 s (first byte timeout); the server may be down or the network blocked"
        );
        let u = Error::Unexpected {
            operation: "list_jobs",
            vault: "v".into(),
            endpoint: "http://e".into(),
            what: "HTTP 200 with a body that is not JSON".into(),
            detail: Detail("body starts: <html>".into()),
        };
        assert_eq!(
            u.to_string(),
            "unexpected response from http://e to ListJobs in vault \"v\" (HTTP 200 with a body that is not JSON); is the endpoint a Glacier or S3 service?"
        );
        assert!(t.is_retryable() && u.is_retryable());
        assert!(!u.to_string().contains("<html>"));
        assert_eq!(op_name("get_job_output"), "GetJobOutput");
    }
}
