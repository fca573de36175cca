//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading a Dataverse installation or
/// writing a backup copy. Each variant names what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be reached or refused the login.
    #[error("connecting to the Dataverse database {target}: {source}")]
    Connect {
        /// `host:port/dbname` (never the password).
        target: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A query failed.
    #[error("{action}: {source}")]
    Query {
        /// What was being asked.
        action: &'static str,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The database lacks a table or column the listing needs.
    #[error("the database does not look like a Dataverse 4.10+ database: {message}")]
    Schema {
        /// What is missing.
        message: String,
    },
    /// A file's storage identifier names a driver with no configured store.
    #[error(
        "file {file_id}: no store is configured for driver id '{driver}' (storage identifier {storage_identifier})"
    )]
    UnknownDriver {
        /// The driver id.
        driver: String,
        /// The data file.
        file_id: i64,
        /// The full storage identifier.
        storage_identifier: String,
    },
    /// A file has no storage identifier: there is nothing to read.
    #[error("file {file_id} has no storage identifier (no physical copy)")]
    NoStorage {
        /// The data file.
        file_id: i64,
    },
    /// A name from the database would leave the store's directory.
    #[error("file {file_id}: refusing the unsafe path {path:?}")]
    UnsafePath {
        /// The data file.
        file_id: i64,
        /// The path built from the database's values.
        path: String,
    },
    /// A file could not be opened or read in its store.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`opening`, `reading`, `writing`, ...).
        action: &'static str,
        /// The file, object or remote path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A store other than the file system failed (S3, SFTP, ...).
    #[error("{action} {path}: {message}")]
    Remote {
        /// What was being done.
        action: &'static str,
        /// The object or remote path.
        path: String,
        /// The service's message.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// An object of an S3 store could not be read: missing, its bucket
    /// missing, access denied, archived, or the service unreachable.
    #[error("{action} s3://{bucket}/{key} (store '{driver}'): {message}")]
    S3 {
        /// What was being done (`opening`, `reading`).
        action: &'static str,
        /// The store's driver id (`s3`, `s3-east`, ...).
        driver: String,
        /// The bucket.
        bucket: String,
        /// The object key (`authority/identifier/storageid`).
        key: String,
        /// The service's code and message (`NoSuchKey: ...`), or why the
        /// service could not be reached.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// A fault injected by an in-memory implementation.
    #[error("{what} (injected fault)")]
    Injected {
        /// The fault.
        what: String,
    },
}

impl Error {
    /// Wraps an I/O error with what was being done and where.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether trying the same operation again may succeed (a dropped
    /// connection, a timeout, a busy server).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Query { source, .. } => source.is_closed() || source.as_db_error().is_none(),
            Error::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::WouldBlock
            ),
            Error::Remote { retryable, .. } | Error::S3 { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
