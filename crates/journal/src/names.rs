//! Validated strings: relative file names, archive ids and job ids.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Why a string is not a valid relative name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("relative name is empty")]
    Empty,
    /// The name starts with `/`.
    #[error("relative name {name:?} starts with '/'")]
    LeadingSlash {
        /// The rejected name.
        name: String,
    },
    /// The name has an empty component (`a//b`).
    #[error("relative name {name:?} has an empty component ('//')")]
    EmptyComponent {
        /// The rejected name.
        name: String,
    },
    /// The name has a `.` or `..` component.
    #[error("relative name {name:?} has a '{component}' component")]
    DotComponent {
        /// The rejected name.
        name: String,
        /// `.` or `..`.
        component: &'static str,
    },
    /// The name holds a TAB, CR or LF.
    #[error(
        "relative name {name:?} holds a forbidden character {character:?} (TAB, CR and LF are not allowed)"
    )]
    ForbiddenChar {
        /// The rejected name.
        name: String,
        /// The TAB, CR or LF found.
        character: char,
    },
}

/// A relative file name as the journal stores it: UTF-8, `/`-separated.
///
/// The rules are mt-aws-glacier's: not empty, no leading `/`, no empty
/// component (`a//b`), no `.` or `..` component, no TAB, CR or LF. Every
/// other character is allowed, spaces and non-ASCII included. Cloning is
/// cheap (the text is shared).
///
/// ```
/// use journal::RelName;
///
/// let name = RelName::new("photos/2024/été 1.jpg")?;
/// assert_eq!(name.as_str(), "photos/2024/été 1.jpg");
/// assert!(RelName::new("/etc/passwd").is_err());
/// assert!(RelName::new("a/../b").is_err());
/// assert!(RelName::new("a\tb").is_err());
/// # Ok::<(), journal::NameError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelName(Arc<str>);

impl RelName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, NameError> {
        validate_relname(name)?;
        Ok(RelName(Arc::from(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks `name` against the rules of [`RelName`] without building one.
pub fn validate_relname(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(character) = name.chars().find(|c| matches!(c, '\t' | '\r' | '\n')) {
        return Err(NameError::ForbiddenChar {
            name: name.to_owned(),
            character,
        });
    }
    if name.starts_with('/') {
        return Err(NameError::LeadingSlash {
            name: name.to_owned(),
        });
    }
    for component in name.split('/') {
        match component {
            // A trailing '/' leaves one empty last component; mt-aws-glacier
            // only rejects '//' inside, so allow that one.
            "" if !name.contains("//") => {}
            "" => {
                return Err(NameError::EmptyComponent {
                    name: name.to_owned(),
                });
            }
            "." | ".." => {
                return Err(NameError::DotComponent {
                    name: name.to_owned(),
                    component: if component == "." { "." } else { ".." },
                });
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for RelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Deref for RelName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for RelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for RelName {
    type Error = NameError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        RelName::new(value)
    }
}

impl std::str::FromStr for RelName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RelName::new(s)
    }
}

/// Why a string is not a valid archive id or job id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id is empty.
    #[error("{kind} is empty")]
    Empty {
        /// `archive id` or `job id`.
        kind: &'static str,
    },
    /// The id holds a character the journal cannot store there.
    #[error("{kind} {id:?} holds {character:?}, which is not allowed in it")]
    ForbiddenChar {
        /// `archive id` or `job id`.
        kind: &'static str,
        /// The rejected id.
        id: String,
        /// The offending character.
        character: char,
    },
}

/// A Glacier archive id, as the journal keys its records.
///
/// Any non-empty string without whitespace (Glacier's ids are 138
/// characters of base64url). Cloning is cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArchiveId(Arc<str>);

impl ArchiveId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<Self, IdError> {
        const KIND: &str = "archive id";
        if id.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        // Fast path: real ids are printable ASCII.
        if id.bytes().all(|b| b.is_ascii_graphic()) {
            return Ok(ArchiveId(Arc::from(id)));
        }
        if let Some(character) = id.chars().find(|c| c.is_whitespace()) {
            return Err(IdError::ForbiddenChar {
                kind: KIND,
                id: id.to_owned(),
                character,
            });
        }
        Ok(ArchiveId(Arc::from(id)))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Glacier job id (of an archive-retrieval job).
///
/// Any non-empty string without TAB, CR or LF.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(Arc<str>);

impl JobId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<Self, IdError> {
        const KIND: &str = "job id";
        if id.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        if let Some(character) = id.chars().find(|c| matches!(c, '\t' | '\r' | '\n')) {
            return Err(IdError::ForbiddenChar {
                kind: KIND,
                id: id.to_owned(),
                character,
            });
        }
        Ok(JobId(Arc::from(id)))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_like {
    ($t:ident, $err:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }
        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<&str> for $t {
            type Error = $err;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                $t::new(value)
            }
        }
        impl std::str::FromStr for $t {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::new(s)
            }
        }
    };
}

string_like!(ArchiveId, IdError);
string_like!(JobId, IdError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relname_rules() {
        for ok in [
            "a",
            "a/b",
            "dir/file name.txt",
            " lead",
            "trail ",
            "…/ünï/日本",
            "a/.hidden",
            "a/..b",
            "...",
            "a/",
        ] {
            assert!(RelName::new(ok).is_ok(), "{ok:?} should be valid");
        }
        assert_eq!(RelName::new(""), Err(NameError::Empty));
        assert!(matches!(
            RelName::new("/a"),
            Err(NameError::LeadingSlash { .. })
        ));
        assert!(matches!(
            RelName::new("a//b"),
            Err(NameError::EmptyComponent { .. })
        ));
        for bad in [".", "..", "./a", "a/.", "a/../b", "../a"] {
            assert!(
                matches!(RelName::new(bad), Err(NameError::DotComponent { .. })),
                "{bad:?}"
            );
        }
        for (bad, c) in [("a\tb", '\t'), ("a\rb", '\r'), ("a\n", '\n')] {
            assert_eq!(
                RelName::new(bad),
                Err(NameError::ForbiddenChar {
                    name: bad.to_owned(),
                    character: c
                })
            );
        }
    }

    #[test]
    fn ids() {
        assert!(ArchiveId::new("abc-_DEF").is_ok());
        assert!(ArchiveId::new("").is_err());
        assert!(ArchiveId::new("a b").is_err());
        assert!(ArchiveId::new("a\u{a0}b").is_err());
        assert!(JobId::new("job id with spaces").is_ok());
        assert!(JobId::new("a\tb").is_err());
        assert!(JobId::new("").is_err());
    }
}
