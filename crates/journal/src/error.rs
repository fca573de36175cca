//! The crate's error type.

use std::io;
use std::path::PathBuf;

use crate::record::ParseError;
use crate::state::ApplyError;

/// Why a line of a journal was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is not a valid record.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The record contradicts the records before it.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The line is longer than [`crate::MAX_LINE_LEN`].
    #[error("line is longer than {max} bytes (is this a journal?)")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

/// Errors of reading and writing journals.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// An I/O operation on a journal (or its sidecar files) failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. "open journal", "fsync journal".
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another writer holds the journal.
    #[error("journal {path} locked by {holder}")]
    Locked {
        /// The journal.
        path: PathBuf,
        /// Who holds it, as far as known ("pid 123 on host h since ...").
        holder: String,
    },
    /// A line in the middle of the journal is invalid.
    #[error("journal {path}, line {line} (byte offset {offset}): {reason}")]
    InvalidLine {
        /// The journal.
        path: PathBuf,
        /// Its line number, from 1.
        line: u64,
        /// The byte offset where the line starts.
        offset: u64,
        /// What is wrong with it.
        reason: LineError,
    },
    /// An earlier write or fsync failed, so what is on disk is uncertain;
    /// the writer refuses to go on. Reopen the journal to recover.
    #[error("journal {path}: an earlier write failed; reopen the journal before appending again")]
    WriterFailed {
        /// The journal.
        path: PathBuf,
    },
}

impl JournalError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
