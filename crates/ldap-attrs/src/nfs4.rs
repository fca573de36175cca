//! NFSv4 ACLs as the Linux NFS client shows them in `system.nfs4_acl`:
//! the XDR of `fattr4_acl` (RFC 7530), all big-endian: a `u32` count,
//! then per ACE `type: u32, flag: u32, access_mask: u32, who: string`
//! (a `u32` length and the bytes, padded with zeros to a multiple of 4).
//!
//! Types: ALLOWED 0, DENIED 1, AUDIT 2, ALARM 3. `who` is `OWNER@`,
//! `GROUP@`, `EVERYONE@`, another special name (`INTERACTIVE@`, ...), or a
//! user or group (with the `IDENTIFIER_GROUP` flag) as `name@domain` or a
//! number.

use crate::error::{DecodeError, EncodeError};
use crate::model::{Ace, AceKind, Acl, AclFormat, Principal, nfs4};

/// The xattr holding an NFSv4 ACL.
pub const XATTR: &str = "system.nfs4_acl";

/// Longest `who` accepted (the kernel's limit for names is far below).
const MAX_WHO: usize = 1 << 16;

const SPECIALS: &[&str] = &[
    "INTERACTIVE@",
    "NETWORK@",
    "DIALUP@",
    "BATCH@",
    "ANONYMOUS@",
    "AUTHENTICATED@",
    "SERVICE@",
];

struct Xdr<'a> {
    blob: &'a [u8],
    at: usize,
}

impl Xdr<'_> {
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self
            .blob
            .get(self.at..self.at + 4)
            .ok_or_else(|| DecodeError::new(what, self.at, "ends inside a 4-byte field"))?;
        self.at += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<&str, DecodeError> {
        let start = self.at;
        let len = self.u32("NFSv4 who")? as usize;
        if len > MAX_WHO {
            return Err(DecodeError::new(
                "NFSv4 who",
                start,
                format!("length {len}"),
            ));
        }
        let padded = len.div_ceil(4) * 4;
        let bytes = self.blob.get(self.at..self.at + padded).ok_or_else(|| {
            DecodeError::new(
                "NFSv4 who",
                start,
                format!("length {len} runs past the end"),
            )
        })?;
        let s = std::str::from_utf8(&bytes[..len])
            .map_err(|e| DecodeError::new("NFSv4 who", self.at + e.valid_up_to(), "not UTF-8"))?;
        self.at += padded;
        Ok(s)
    }
}

fn who(s: &str, flags: u32) -> Principal {
    match s {
        "OWNER@" => Principal::Owner,
        "GROUP@" => Principal::OwningGroup,
        "EVERYONE@" => Principal::Everyone,
        s if SPECIALS.contains(&s) => Principal::Special(s.to_owned()),
        s if flags & nfs4::IDENTIFIER_GROUP != 0 => Principal::Nfs4Group(s.to_owned()),
        s => Principal::Nfs4User(s.to_owned()),
    }
}

/// Decodes a `system.nfs4_acl` value.
///
/// # Errors
/// A blob that ends early, has bytes after the last ACE, or a `who` that
/// is not UTF-8.
pub fn decode(blob: &[u8]) -> Result<Acl, DecodeError> {
    let mut x = Xdr { blob, at: 0 };
    let count = x.u32("NFSv4 ACL")? as usize;
    // Each ACE takes at least 16 bytes: a count beyond that is a lie.
    if count > blob.len().saturating_sub(4) / 16 {
        return Err(DecodeError::new(
            "NFSv4 ACL",
            0,
            format!("{count} ACEs cannot fit in {} bytes", blob.len()),
        ));
    }
    let mut acl = Acl::new(AclFormat::Nfs4);
    acl.entries.reserve(count);
    for _ in 0..count {
        let ace_at = x.at;
        let t = x.u32("NFSv4 ACE")?;
        let flags = x.u32("NFSv4 ACE")?;
        let mask = x.u32("NFSv4 ACE")?;
        let name = x.string()?.to_owned();
        let kind = match t {
            0 => AceKind::Allow,
            1 => AceKind::Deny,
            2 => AceKind::Audit,
            3 => AceKind::Alarm,
            n => AceKind::Other(
                u8::try_from(n)
                    .map_err(|_| DecodeError::new("NFSv4 ACE", ace_at, format!("type {n}")))?,
            ),
        };
        acl.entries
            .push(Ace::nfs4(kind, who(&name, flags), mask, flags));
    }
    if x.at != blob.len() {
        return Err(DecodeError::new(
            "NFSv4 ACL",
            x.at,
            format!("{} bytes after the last ACE", blob.len() - x.at),
        ));
    }
    Ok(acl)
}

/// Encodes an NFSv4 ACL as its `system.nfs4_acl` value. A named group is
/// written with the `IDENTIFIER_GROUP` flag, a named user without.
///
/// # Errors
/// A principal NFSv4 cannot name (a SID, a POSIX mask or `other::`), an
/// entry type above 255, or an ACL of another format.
pub fn encode(acl: &Acl) -> Result<Vec<u8>, EncodeError> {
    if acl.format != AclFormat::Nfs4 {
        return Err(EncodeError::Format {
            expected: "nfs4",
            found: acl.format.as_str(),
        });
    }
    let mut out = Vec::with_capacity(4 + 32 * acl.entries.len());
    out.extend_from_slice(&(acl.entries.len() as u32).to_be_bytes());
    for (index, e) in acl.entries.iter().enumerate() {
        let t: u32 = match e.kind {
            AceKind::Allow => 0,
            AceKind::Deny => 1,
            AceKind::Audit => 2,
            AceKind::Alarm => 3,
            AceKind::Other(n) => u32::from(n),
        };
        let mut flags = e.flags;
        let name: &str = match &e.who {
            Principal::Owner => "OWNER@",
            Principal::OwningGroup => "GROUP@",
            Principal::Everyone => "EVERYONE@",
            Principal::Special(s) => s,
            Principal::Nfs4User(s) => {
                flags &= !nfs4::IDENTIFIER_GROUP;
                s
            }
            Principal::Nfs4Group(s) => {
                flags |= nfs4::IDENTIFIER_GROUP;
                s
            }
            Principal::Uid(u) => return Err(numeric(index, *u, "uid")),
            Principal::Gid(g) => return Err(numeric(index, *g, "gid")),
            p => {
                return Err(EncodeError::Principal {
                    format: "NFSv4",
                    index,
                    principal: p.to_string(),
                });
            }
        };
        if name.len() > MAX_WHO {
            return Err(EncodeError::Field {
                index,
                why: format!("a who of {} bytes", name.len()),
            });
        }
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&e.mask.to_be_bytes());
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len() + (4 - name.len() % 4) % 4, 0);
    }
    Ok(out)
}

fn numeric(index: usize, n: u32, what: &str) -> EncodeError {
    EncodeError::Principal {
        format: "NFSv4",
        index,
        principal: format!("{what} {n} (write it as the name string \"{n}\")"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_acl_round_trips() {
        let mut acl = Acl::new(AclFormat::Nfs4);
        acl.entries = vec![
            Ace::nfs4(
                AceKind::Deny,
                Principal::Nfs4User("mallory@example.com".into()),
                nfs4::READ_DATA,
                0,
            ),
            Ace::nfs4(AceKind::Allow, Principal::Owner, 0x001f_01ff, 0),
            Ace::nfs4(
                AceKind::Allow,
                Principal::Nfs4Group("staff@example.com".into()),
                nfs4::READ_DATA | nfs4::EXECUTE,
                nfs4::IDENTIFIER_GROUP | nfs4::FILE_INHERIT_ACE,
            ),
            Ace::nfs4(
                AceKind::Allow,
                Principal::Everyone,
                nfs4::READ_ATTRIBUTES,
                0,
            ),
        ];
        let blob = encode(&acl).unwrap();
        assert_eq!(&blob[..4], &[0, 0, 0, 4]);
        assert_eq!(decode(&blob).unwrap(), acl);
        for n in 0..blob.len() {
            assert!(decode(&blob[..n]).is_err(), "{n}");
        }
        let mut long = blob.clone();
        long.push(0);
        assert!(decode(&long).is_err());
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        assert!(decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
