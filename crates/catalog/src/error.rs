use std::path::PathBuf;

use crate::query::QueryError;

/// Everything that can go wrong with a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file could not be opened or created as an SQLite database.
    #[error("cannot open catalog {path}: {source}")]
    Open {
        /// The catalog file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file exists but is not a Permafrost catalog (not SQLite at all, or
    /// another application's SQLite database).
    #[error("{path} is not a Permafrost catalog: {reason}")]
    NotACatalog {
        /// The file.
        path: PathBuf,
        /// Why we think so.
        reason: String,
    },
    /// The catalog was written by a newer Permafrost.
    #[error(
        "catalog {path} has schema version {found}, newer than the {supported} this version understands: upgrade Permafrost"
    )]
    TooNew {
        /// The catalog file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version we know.
        supported: u32,
    },
    /// SQLite found the file damaged.
    #[error("catalog {path} is corrupt while {action}: {source}")]
    Corrupt {
        /// The catalog file.
        path: PathBuf,
        /// What we were doing.
        action: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Another process held the catalog locked for longer than the busy timeout.
    #[error("catalog {path} stayed locked by another writer while {action}")]
    Busy {
        /// The catalog file.
        path: PathBuf,
        /// What we were doing.
        action: String,
    },
    /// Any other SQLite failure.
    #[error("catalog {path}: {action}: {source}")]
    Sqlite {
        /// The catalog file.
        path: PathBuf,
        /// What we were doing.
        action: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The query text does not parse.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A path given to the catalog is not absolute.
    #[error("path {path:?} is not absolute: catalog paths start with '/'")]
    RelativePath {
        /// The path.
        path: String,
    },
    /// A run, archive, vault, file or job that the catalog does not hold.
    #[error("catalog {path} has no {what} {id}")]
    NotFound {
        /// The catalog file.
        path: PathBuf,
        /// "run", "archive", ...
        what: &'static str,
        /// The number or uid asked for.
        id: String,
    },
    /// A tape volume or target of that name is already recorded.
    #[error("catalog {path} already has a {what} {id}")]
    Exists {
        /// The catalog file.
        path: PathBuf,
        /// "tape volume", "tape target".
        what: &'static str,
        /// The name.
        id: String,
    },
    /// Reading or writing an export file failed.
    #[error("{action} {file}: {source}")]
    Io {
        /// "reading export", "writing export"...
        action: &'static str,
        /// The export file or stream.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The search index beside the catalog (`<catalog>-fts`) could not be
    /// maintained: a file operation or the indexing thread failed.
    #[error("search index {path}: {action}: {source}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What we were doing.
        action: &'static str,
        /// What went wrong.
        source: std::io::Error,
    },
    /// An export file is malformed, truncated or of an unknown version.
    #[error("export {file} is invalid at record {record}: {reason}")]
    BadExport {
        /// The export file or stream.
        file: String,
        /// 1-based record number (0: the header).
        record: u64,
        /// What is wrong.
        reason: String,
    },
    /// The catalog's backend cannot do this (yet): the operation is named,
    /// and so is the backend.
    #[error("{operation} is not supported on the {backend} catalog backend yet")]
    Unsupported {
        /// The operation, as the API names it (`Catalog::export_run`).
        operation: &'static str,
        /// "PostgreSQL".
        backend: &'static str,
    },
    /// Files recorded under a work unit's claim that is no longer the
    /// holder's: its lease ran out and another worker claimed the unit
    /// (nothing was recorded).
    #[error("{claim}: the claim of {} was lost (its lease ran out and the unit was claimed again); nothing recorded", claim.holder)]
    ClaimLost {
        /// The unit and its former holder.
        claim: crate::model::UnitClaim,
    },
    /// A catalog location (`--catalog`) that cannot be used as given.
    #[error("catalog location {location}: {reason}")]
    Location {
        /// The location as given (any password in it replaced by `***`).
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A PostgreSQL failure (connecting, migrating, reading, writing).
    #[cfg(feature = "postgres")]
    #[error("catalog {location}: {action}: {source}")]
    Postgres {
        /// The catalog's location, `postgres://USER@HOST:PORT/DB`.
        location: String,
        /// What we were doing.
        action: String,
        /// What PostgreSQL or the connection said.
        source: postgres::Error,
    },
}

impl CatalogError {
    /// Wraps an SQLite error with the catalog path and what we were doing,
    /// sorting out corruption, foreign files and lock timeouts.
    pub(crate) fn sqlite(
        path: &std::path::Path,
        action: impl Into<String>,
        e: rusqlite::Error,
    ) -> Self {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        let action = action.into();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => CatalogError::NotACatalog {
                path,
                reason: format!("not an SQLite database ({action})"),
            },
            Some(ErrorCode::DatabaseCorrupt) => CatalogError::Corrupt {
                path,
                action,
                source: e,
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                CatalogError::Busy { path, action }
            }
            _ => CatalogError::Sqlite {
                path,
                action,
                source: e,
            },
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
