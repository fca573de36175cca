//! POSIX ACLs as Linux stores them in `system.posix_acl_access` and
//! `system.posix_acl_default`: a little-endian `u32` version (2), then
//! 8-byte entries `tag: u16, perm: u16, id: u32`.
//!
//! Tags: `USER_OBJ` 0x01, `USER` 0x02, `GROUP_OBJ` 0x04, `GROUP` 0x08,
//! `MASK` 0x10, `OTHER` 0x20; the id of the unnamed entries is
//! `0xffffffff`. Permissions are `r` 4, `w` 2, `x` 1.

use crate::error::{DecodeError, EncodeError};
use crate::model::{Ace, AceKind, Acl, AclFormat, Principal};

/// The xattr holding a file's access ACL.
pub const ACCESS_XATTR: &str = "system.posix_acl_access";
/// The xattr holding a directory's default ACL.
pub const DEFAULT_XATTR: &str = "system.posix_acl_default";

/// The only version Linux writes and reads.
pub const VERSION: u32 = 2;

const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// Decodes one xattr value into entries (`default` marks those of the
/// default ACL).
///
/// # Errors
/// A wrong version, a length that is not a whole number of entries, an
/// unknown tag or permission bits above `rwx`.
pub fn decode_entries(blob: &[u8], default: bool) -> Result<Vec<Ace>, DecodeError> {
    const WHAT: &str = "POSIX ACL";
    if blob.len() < 4 {
        return Err(DecodeError::new(
            WHAT,
            0,
            format!("{} bytes, no version", blob.len()),
        ));
    }
    let version = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]);
    if version != VERSION {
        return Err(DecodeError::new(
            WHAT,
            0,
            format!("version {version}, expected {VERSION}"),
        ));
    }
    let body = &blob[4..];
    if !body.len().is_multiple_of(8) {
        return Err(DecodeError::new(
            WHAT,
            4 + body.len() / 8 * 8,
            format!(
                "{} bytes after the version: not a whole number of 8-byte entries",
                body.len()
            ),
        ));
    }
    body.chunks_exact(8)
        .enumerate()
        .map(|(i, e)| {
            let at = 4 + 8 * i;
            let tag = u16::from_le_bytes([e[0], e[1]]);
            let perm = u16::from_le_bytes([e[2], e[3]]);
            let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            if perm & !7 != 0 {
                return Err(DecodeError::new(
                    WHAT,
                    at + 2,
                    format!("permission bits 0x{perm:x}"),
                ));
            }
            let who = match tag {
                USER_OBJ => Principal::Owner,
                USER => Principal::Uid(id),
                GROUP_OBJ => Principal::OwningGroup,
                GROUP => Principal::Gid(id),
                MASK => Principal::Mask,
                OTHER => Principal::Other,
                t => return Err(DecodeError::new(WHAT, at, format!("unknown tag 0x{t:x}"))),
            };
            Ok(Ace::posix(who, u32::from(perm), default))
        })
        .collect()
}

/// Decodes a file's access ACL and, for a directory, its default ACL into
/// one [`Acl`] (default entries after the access ones).
pub fn decode(access: Option<&[u8]>, default: Option<&[u8]>) -> Result<Acl, DecodeError> {
    let mut acl = Acl::new(AclFormat::Posix);
    if let Some(a) = access {
        acl.entries = decode_entries(a, false)?;
    }
    if let Some(d) = default {
        acl.entries.extend(decode_entries(d, true)?);
    }
    Ok(acl)
}

/// Encodes entries (all of them, whatever their `default`) as one xattr
/// value, in their order. The kernel refuses values whose entries are out
/// of order or incomplete (no `user::`, `group::` or `other::`, named
/// entries without `mask::`); this encoder writes what it is given.
///
/// # Errors
/// An entry that is not an allow, or names a principal POSIX cannot say,
/// or has permission bits above `rwx`.
pub fn encode_entries<'a>(
    entries: impl IntoIterator<Item = &'a Ace>,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = VERSION.to_le_bytes().to_vec();
    for (index, e) in entries.into_iter().enumerate() {
        if e.kind != AceKind::Allow {
            return Err(EncodeError::Field {
                index,
                why: format!("POSIX ACLs have no {} entries", e.kind.label()),
            });
        }
        let perm = u16::try_from(e.mask)
            .ok()
            .filter(|p| p & !7 == 0)
            .ok_or_else(|| EncodeError::Field {
                index,
                why: format!("POSIX permission bits 0x{:x}", e.mask),
            })?;
        let (tag, id) = match e.who {
            Principal::Owner => (USER_OBJ, UNDEFINED_ID),
            Principal::Uid(u) => (USER, u),
            Principal::OwningGroup => (GROUP_OBJ, UNDEFINED_ID),
            Principal::Gid(g) => (GROUP, g),
            Principal::Mask => (MASK, UNDEFINED_ID),
            Principal::Other => (OTHER, UNDEFINED_ID),
            ref p => {
                return Err(EncodeError::Principal {
                    format: "POSIX",
                    index,
                    principal: p.to_string(),
                });
            }
        };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}

/// One xattr value.
pub type Blob = Vec<u8>;

/// Encodes an ACL as its two xattr values: the access ACL (when it has
/// access entries) and the default ACL (when it has default entries).
pub fn encode(acl: &Acl) -> Result<(Option<Blob>, Option<Blob>), EncodeError> {
    if acl.format != AclFormat::Posix {
        return Err(EncodeError::Format {
            expected: "posix",
            found: acl.format.as_str(),
        });
    }
    let access: Vec<&Ace> = acl.entries.iter().filter(|e| !e.default).collect();
    let default: Vec<&Ace> = acl.entries.iter().filter(|e| e.default).collect();
    let a = if access.is_empty() {
        None
    } else {
        Some(encode_entries(access)?)
    };
    let d = if default.is_empty() {
        None
    } else {
        Some(encode_entries(default)?)
    };
    Ok((a, d))
}

/// The text `getfacl -n` prints for the entries (without its header
/// comments): `user::rw-`, `user:1000:r--`, `default:mask::rwx`, ...
pub fn getfacl_text(acl: &Acl) -> String {
    let mut out = String::new();
    for e in &acl.entries {
        if e.default {
            out.push_str("default:");
        }
        let head = match &e.who {
            Principal::Owner => "user::".to_owned(),
            Principal::Uid(u) => format!("user:{u}:"),
            Principal::OwningGroup => "group::".to_owned(),
            Principal::Gid(g) => format!("group:{g}:"),
            Principal::Mask => "mask::".to_owned(),
            Principal::Other => "other::".to_owned(),
            p => format!("{p}:"),
        };
        out.push_str(&head);
        out.push_str(&crate::model::rights_text(AclFormat::Posix, e.mask));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // `setfacl -m u:1234:rw-,g:55:r-- f` on a file of mode 0644, read with
    // `getfattr -e hex -n system.posix_acl_access f`.
    const SETFACL: &str = "0200000001000600ffffffff02000600d204000004000400ffffffff080004003700000010000600ffffffff20000400ffffffff";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_what_setfacl_wrote() {
        let blob = hex(SETFACL);
        let acl = decode(Some(&blob), None).unwrap();
        assert_eq!(
            getfacl_text(&acl),
            "user::rw-\nuser:1234:rw-\ngroup::r--\ngroup:55:r--\nmask::rw-\nother::r--\n"
        );
        assert_eq!(encode(&acl).unwrap(), (Some(blob), None));
    }

    #[test]
    fn rejects_what_is_not_an_acl() {
        let blob = hex(SETFACL);
        assert!(decode_entries(&blob[..3], false).is_err());
        assert!(decode_entries(&blob[..11], false).is_err());
        let mut v1 = blob.clone();
        v1[0] = 1;
        assert!(decode_entries(&v1, false).is_err());
        let mut tag = blob.clone();
        tag[4] = 0x40;
        assert_eq!(decode_entries(&tag, false).unwrap_err().offset, 4);
    }
}
