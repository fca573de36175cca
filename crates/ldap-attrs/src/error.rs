//! The errors of this crate, one enum per concern, each carrying what a
//! user needs to act on it.

use std::path::PathBuf;

/// A blob that is not a valid ACL of the format it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what} at byte {offset}: {why}")]
pub struct DecodeError {
    /// What was being read ("NT security descriptor", "NFSv4 ACE", ...).
    pub what: &'static str,
    /// Offset in the blob where it went wrong.
    pub offset: usize,
    /// What is wrong.
    pub why: String,
}

impl DecodeError {
    pub(crate) fn new(what: &'static str, offset: usize, why: impl Into<String>) -> Self {
        DecodeError {
            what,
            offset,
            why: why.into(),
        }
    }
}

/// An ACL that cannot be written in the format asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// An entry names a principal the format has no way to say.
    #[error("entry {index}: a {format} ACL cannot name {principal}")]
    Principal {
        /// The format being written.
        format: &'static str,
        /// Position of the entry.
        index: usize,
        /// The principal, as text.
        principal: String,
    },
    /// A value does not fit the format's field.
    #[error("entry {index}: {why}")]
    Field {
        /// Position of the entry.
        index: usize,
        /// What does not fit.
        why: String,
    },
    /// The ACL is of another format.
    #[error("a {found} ACL given to the {expected} encoder")]
    Format {
        /// The encoder's format.
        expected: &'static str,
        /// The ACL's format.
        found: &'static str,
    },
}

/// Why an extended attribute could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XattrError {
    /// The filesystem (or the kernel) does not support this attribute.
    #[error("{}: the filesystem does not support {name}", path.display())]
    NotSupported {
        /// The file.
        path: PathBuf,
        /// The attribute.
        name: String,
    },
    /// Any other failure (permission, missing file, I/O).
    #[error("{}: {action} {name}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The attribute.
        name: String,
        /// "reading" or "writing".
        action: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
}

/// An ACL attribute that was read but does not decode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading failed (other than "no such attribute").
    #[error(transparent)]
    Xattr(#[from] XattrError),
    /// The attribute holds something else than an ACL of its format.
    #[error("{}: {name}: {source}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The attribute.
        name: &'static str,
        /// What is wrong with its value.
        source: DecodeError,
    },
}

/// A directory lookup that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The directory server could not be reached, or the connection broke.
    #[error("LDAP server {url}: {action}: {source}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// What was being done ("connecting", "binding as ...", "searching ...").
        action: String,
        /// The LDAP client's error.
        source: Box<ldap3::LdapError>,
    },
    /// The server answered with an error result (bad credentials, bad base...).
    #[error("LDAP server {url}: {action}: result code {code}: {message}")]
    Refused {
        /// The server's URL.
        url: String,
        /// What was being done.
        action: String,
        /// The LDAP result code (49: invalid credentials, 32: no such object...).
        code: u32,
        /// The server's diagnostic text.
        message: String,
    },
    /// The server failed a moment ago; not tried again yet.
    #[error("LDAP server {url} is down ({since})")]
    Down {
        /// The server's URL.
        url: String,
        /// The failure that marked it down.
        since: String,
    },
    /// The settings are unusable (a CA file that does not load, a bad URL).
    #[error("LDAP settings: {0}")]
    Config(String),
}

impl ResolveError {
    /// Whether trying again later may succeed (the server was unreachable
    /// or busy), as opposed to a refusal that will repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            ResolveError::Unreachable { .. } | ResolveError::Down { .. } => true,
            // busy (51), unavailable (52), unwilling to perform (53) and
            // time limit exceeded (3) may pass.
            ResolveError::Refused { code, .. } => matches!(code, 3 | 51 | 52),
            ResolveError::Config(_) => false,
        }
    }
}
