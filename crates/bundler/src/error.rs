//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while walking, bundling, listing or
/// extracting. Each variant names what a user needs to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A walk root could not be read at all.
    #[error("cannot walk root {path}: {source}")]
    Root {
        /// The root given to the walker.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// An include or exclude pattern is not a valid glob.
    #[error("invalid glob pattern {pattern:?}: {message}")]
    Glob {
        /// The pattern as given.
        pattern: String,
        /// Why it is invalid.
        message: String,
    },
    /// A bundle limit is zero or otherwise unusable.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Reading a source file failed while bundling.
    #[error("cannot read {path}: {source}")]
    ReadSource {
        /// The file on disk.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Writing to the bundle sink failed.
    #[error("cannot write the bundle ({what}): {source}")]
    Sink {
        /// What was being written.
        what: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Compressing or decompressing failed.
    #[error("{what} failed at compressed bytes {start}..{end}: {source}")]
    Codec {
        /// `compress`, `decompress`, ...
        what: &'static str,
        /// Start of the compressed range concerned.
        start: u64,
        /// End (exclusive) of the compressed range concerned.
        end: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// Encrypting or decrypting with age failed (wrong key, corrupt header).
    #[error("age {what}: {message}")]
    Crypto {
        /// `encrypt` or `decrypt`.
        what: &'static str,
        /// The error age reported.
        message: String,
    },
    /// The bundle stream ended before its end (no index, cut member).
    #[error("truncated bundle: {0}")]
    Truncated(String),
    /// A tar header or the index is malformed.
    #[error("corrupt bundle at tar offset {offset}: {message}")]
    Corrupt {
        /// Offset in the (uncompressed) tar stream.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A member's path would leave the target directory or is not a plain
    /// relative path.
    #[error("unsafe member path {path:?}: {reason}")]
    UnsafePath {
        /// The member path as stored in the bundle (lossy).
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A member's content does not have the SHA-256 the index records.
    #[error("hash mismatch for member {path:?}: index says {expected}, content hashes to {actual}")]
    HashMismatch {
        /// The member path (lossy).
        path: String,
        /// The hex digest in the index.
        expected: String,
        /// The hex digest of what was read.
        actual: String,
    },
    /// The index and the tar stream disagree about a member.
    #[error("member {path:?} at tar offset {offset} does not match the index: {message}")]
    IndexMismatch {
        /// The member path (lossy).
        path: String,
        /// Offset of the member's header in the tar stream.
        offset: u64,
        /// What differs.
        message: String,
    },
    /// Writing into the extraction target failed.
    #[error("cannot {action} {path}: {source}")]
    Extract {
        /// What was being done (`create`, `write`, `set times on`, ...).
        action: &'static str,
        /// The path in the target directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A selected member is not in the bundle.
    #[error("member {0:?} is not in the bundle")]
    NoSuchMember(String),
    /// Reading bundle bytes from a range source failed.
    #[error("cannot read bundle bytes {start}..{end}: {source}")]
    Source {
        /// Start of the range.
        start: u64,
        /// End (exclusive) of the range.
        end: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// A worker thread panicked.
    #[error("a bundling thread panicked")]
    ThreadPanicked,
}

impl BundleError {
    pub(crate) fn corrupt(offset: u64, message: impl Into<String>) -> Self {
        Self::Corrupt {
            offset,
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = BundleError> = std::result::Result<T, E>;
