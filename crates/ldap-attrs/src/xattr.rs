//! Reading and writing the ACL xattrs of files, through a small trait so
//! that tests (and callers with other sources) can hand in blobs.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{CaptureError, EncodeError, XattrError};
use crate::model::{Acl, AclFormat};
use crate::{nfs4, nt, posix};

/// Extended attributes of files, by path (symbolic links are not
/// followed).
pub trait Xattrs: Send + Sync {
    /// The value of attribute `name` of `path`: `Ok(None)` when the file
    /// has no such attribute (no ACL), [`XattrError::NotSupported`] when
    /// its filesystem cannot have it.
    fn get(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, XattrError>;

    /// Sets attribute `name` of `path` to `value`.
    fn set(&self, path: &Path, name: &str, value: &[u8]) -> Result<(), XattrError>;
}

/// The running system's xattrs (`lgetxattr` / `lsetxattr`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemXattrs;

fn is_unsupported(e: rustix::io::Errno) -> bool {
    // EOPNOTSUPP and ENOTSUP are one value on Linux.
    e == rustix::io::Errno::OPNOTSUPP
}

impl Xattrs for SystemXattrs {
    fn get(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, XattrError> {
        let fail = |action, e: rustix::io::Errno| {
            if is_unsupported(e) {
                XattrError::NotSupported {
                    path: path.to_owned(),
                    name: name.to_owned(),
                }
            } else {
                XattrError::Io {
                    path: path.to_owned(),
                    name: name.to_owned(),
                    action,
                    source: io::Error::from(e),
                }
            }
        };
        // The value may change between asking its size and reading it:
        // try again when it grew.
        for _ in 0..4 {
            let size = match rustix::fs::lgetxattr_query(path, name) {
                Ok(n) => n,
                Err(rustix::io::Errno::NODATA) => return Ok(None),
                Err(e) => return Err(fail("reading", e)),
            };
            let mut buf = Vec::with_capacity(size.max(1));
            match rustix::fs::lgetxattr(path, name, rustix::buffer::spare_capacity(&mut buf)) {
                Ok(_) => return Ok(Some(buf)),
                Err(rustix::io::Errno::NODATA) => return Ok(None),
                Err(rustix::io::Errno::RANGE) => {}
                Err(e) => return Err(fail("reading", e)),
            }
        }
        Err(fail("reading", rustix::io::Errno::RANGE))
    }

    fn set(&self, path: &Path, name: &str, value: &[u8]) -> Result<(), XattrError> {
        rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()).map_err(|e| {
            if is_unsupported(e) {
                XattrError::NotSupported {
                    path: path.to_owned(),
                    name: name.to_owned(),
                }
            } else {
                XattrError::Io {
                    path: path.to_owned(),
                    name: name.to_owned(),
                    action: "writing",
                    source: io::Error::from(e),
                }
            }
        })
    }
}

/// Xattrs held in memory, for tests: set blobs with [`MemoryXattrs::put`];
/// names listed with [`MemoryXattrs::unsupported`] fail as a filesystem
/// without them would.
#[derive(Debug, Default)]
pub struct MemoryXattrs {
    values: Mutex<HashMap<(PathBuf, String), Vec<u8>>>,
    unsupported: Vec<String>,
}

impl MemoryXattrs {
    /// No attributes; every name supported.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attributes named `names` are not supported.
    #[must_use]
    pub fn unsupported(mut self, names: &[&str]) -> Self {
        self.unsupported = names.iter().map(|&n| n.to_owned()).collect();
        self
    }

    /// Sets a value.
    pub fn put(&self, path: impl Into<PathBuf>, name: &str, value: impl Into<Vec<u8>>) {
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((path.into(), name.to_owned()), value.into());
    }
}

impl Xattrs for MemoryXattrs {
    fn get(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, XattrError> {
        if self.unsupported.iter().any(|n| n == name) {
            return Err(XattrError::NotSupported {
                path: path.to_owned(),
                name: name.to_owned(),
            });
        }
        Ok(self
            .values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(path.to_owned(), name.to_owned()))
            .cloned())
    }

    fn set(&self, path: &Path, name: &str, value: &[u8]) -> Result<(), XattrError> {
        if self.unsupported.iter().any(|n| n == name) {
            return Err(XattrError::NotSupported {
                path: path.to_owned(),
                name: name.to_owned(),
            });
        }
        self.put(path, name, value);
        Ok(())
    }
}

/// Which ACLs to capture (the tool's `--acls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AclSelection {
    /// Whatever the file's filesystem has: POSIX, NFSv4 and CIFS, each
    /// tried, those not supported skipped silently.
    Auto,
    /// POSIX ACLs only.
    Posix,
    /// NFSv4 ACLs only.
    Nfs4,
    /// CIFS / NT security descriptors only.
    Cifs,
    /// None.
    #[default]
    None,
}

impl AclSelection {
    /// `auto`, `posix`, `nfs4`, `cifs` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            AclSelection::Auto => "auto",
            AclSelection::Posix => "posix",
            AclSelection::Nfs4 => "nfs4",
            AclSelection::Cifs => "cifs",
            AclSelection::None => "none",
        }
    }

    fn wants(self, f: AclFormat) -> bool {
        matches!(
            (self, f),
            (AclSelection::Auto, _)
                | (AclSelection::Posix, AclFormat::Posix)
                | (AclSelection::Nfs4, AclFormat::Nfs4)
                | (AclSelection::Cifs, AclFormat::Nt)
        )
    }
}

/// The attribute values one ACL was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclValues {
    /// `system.posix_acl_access`, `system.nfs4_acl` or `system.cifs_acl`.
    pub value: Option<Vec<u8>>,
    /// POSIX: a directory's `system.posix_acl_default`.
    pub default_value: Option<Vec<u8>>,
}

/// What [`capture`] found on one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The ACLs read, POSIX first, then NFSv4, then NT.
    pub acls: Vec<Acl>,
    /// The attribute values each of `acls` was decoded from, in the same
    /// order: what a restore should write back byte for byte (encoding
    /// the model again gives the same meaning, not always the same
    /// bytes: a descriptor's parts may come in another order).
    pub values: Vec<AclValues>,
    /// Formats asked for explicitly (not by `auto`) that the file's
    /// filesystem does not support.
    pub unsupported: Vec<AclFormat>,
}

/// Reads the ACLs `which` asks for from `path` (a directory's POSIX
/// default ACL included). A file with no ACL attribute gives no ACL (for
/// POSIX: its mode bits say it all).
///
/// # Errors
/// An attribute that cannot be read for another reason than "absent" or
/// "not supported", or a value that does not decode.
pub fn capture(x: &dyn Xattrs, path: &Path, which: AclSelection) -> Result<Captured, CaptureError> {
    let mut out = Captured::default();
    if which == AclSelection::None {
        return Ok(out);
    }
    let auto = which == AclSelection::Auto;
    let get = |name: &'static str,
               format: AclFormat,
               out: &mut Captured|
     -> Result<Option<Vec<u8>>, CaptureError> {
        match x.get(path, name) {
            Ok(v) => Ok(v),
            Err(XattrError::NotSupported { .. }) => {
                if !auto && !out.unsupported.contains(&format) {
                    out.unsupported.push(format);
                }
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    };
    let decode_err = |name: &'static str| {
        move |source| CaptureError::Decode {
            path: path.to_owned(),
            name,
            source,
        }
    };
    if which.wants(AclFormat::Posix) {
        let access = get(posix::ACCESS_XATTR, AclFormat::Posix, &mut out)?;
        let default = get(posix::DEFAULT_XATTR, AclFormat::Posix, &mut out)?;
        if access.is_some() || default.is_some() {
            let mut acl = posix::decode(None, None).map_err(decode_err(posix::ACCESS_XATTR))?;
            if let Some(a) = &access {
                acl.entries =
                    posix::decode_entries(a, false).map_err(decode_err(posix::ACCESS_XATTR))?;
            }
            if let Some(d) = &default {
                acl.entries.extend(
                    posix::decode_entries(d, true).map_err(decode_err(posix::DEFAULT_XATTR))?,
                );
            }
            out.acls.push(acl);
            out.values.push(AclValues {
                value: access,
                default_value: default,
            });
        }
    }
    if which.wants(AclFormat::Nfs4)
        && let Some(v) = get(nfs4::XATTR, AclFormat::Nfs4, &mut out)?
    {
        out.acls
            .push(nfs4::decode(&v).map_err(decode_err(nfs4::XATTR))?);
        out.values.push(AclValues {
            value: Some(v),
            default_value: None,
        });
    }
    if which.wants(AclFormat::Nt)
        && let Some(v) = get(nt::XATTR, AclFormat::Nt, &mut out)?
    {
        out.acls
            .push(nt::decode(&v).map_err(decode_err(nt::XATTR))?);
        out.values.push(AclValues {
            value: Some(v),
            default_value: None,
        });
    }
    Ok(out)
}

/// Why [`apply`] could not write an ACL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The ACL does not encode in its format.
    #[error("{}: {source}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// Why.
        source: EncodeError,
    },
    /// Writing the attribute failed (see [`XattrError::NotSupported`]).
    #[error(transparent)]
    Xattr(#[from] XattrError),
}

/// Writes `acl` to `path` as its format's xattr(s).
pub fn apply(x: &dyn Xattrs, path: &Path, acl: &Acl) -> Result<(), ApplyError> {
    let enc = |source| ApplyError::Encode {
        path: path.to_owned(),
        source,
    };
    match acl.format {
        AclFormat::Posix => {
            let (access, default) = posix::encode(acl).map_err(enc)?;
            if let Some(a) = access {
                x.set(path, posix::ACCESS_XATTR, &a)?;
            }
            if let Some(d) = default {
                x.set(path, posix::DEFAULT_XATTR, &d)?;
            }
        }
        AclFormat::Nfs4 => x.set(path, nfs4::XATTR, &nfs4::encode(acl).map_err(enc)?)?,
        AclFormat::Nt => x.set(path, nt::XATTR, &nt::encode(acl).map_err(enc)?)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_xattrs_say_absent_and_unsupported_apart() {
        let x = MemoryXattrs::new().unsupported(&[nfs4::XATTR, nt::XATTR]);
        let p = Path::new("/f");
        assert_eq!(
            capture(&x, p, AclSelection::Auto).unwrap(),
            Captured::default()
        );
        let c = capture(&x, p, AclSelection::Nfs4).unwrap();
        assert_eq!(c.unsupported, vec![AclFormat::Nfs4]);
        x.put(p, posix::ACCESS_XATTR, vec![1, 2, 3]);
        let e = capture(&x, p, AclSelection::Posix).unwrap_err();
        assert!(e.to_string().contains("system.posix_acl_access"), "{e}");
    }
}
