//! NT security descriptors in self-relative form ([MS-DTYP] 2.4.6), as
//! the Linux CIFS client shows them in `system.cifs_acl` and as Samba and
//! Windows store them.
//!
//! Layout, little-endian: `revision: u8` (1), `sbz1: u8`, `control: u16`,
//! then four `u32` offsets from the start (owner SID, group SID, SACL,
//! DACL; 0 for absent). An ACL is `revision: u8, sbz1: u8, size: u16,
//! count: u16, sbz2: u16` and its ACEs; an ACE is `type: u8, flags: u8,
//! size: u16` and a body: for the basic types `mask: u32` and a SID, for
//! object types `mask: u32, object flags: u32`, up to two GUIDs and a SID,
//! each possibly followed by application data (callback conditions).

use crate::error::{DecodeError, EncodeError};
use crate::model::{Ace, AceKind, Acl, AclFormat, NtInfo, ObjectAce, Principal, nt};
use crate::sid::Sid;

/// The xattr the Linux CIFS client exposes a file's descriptor as (owner,
/// group and DACL).
pub const XATTR: &str = "system.cifs_acl";

const HEADER: usize = 20;

fn rd16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn rd32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The kind of an NT ACE type number (0, 5, 9, 0xB: allow; 1, 6, 0xA,
/// 0xC: deny; 2, 7, 0xD, 0xF: audit; 3, 8, 0xE, 0x10: alarm; others:
/// [`AceKind::Other`]).
pub fn ace_kind(t: u8) -> AceKind {
    ace_type(t).0
}

/// What the ACE type number says: its kind, whether it is an object ACE,
/// and whether its body is `mask` + SID at all.
fn ace_type(t: u8) -> (AceKind, Layout) {
    use Layout::{Basic, Object, Unknown};
    match t {
        0 | 9 => (AceKind::Allow, Basic),
        1 | 0x0a => (AceKind::Deny, Basic),
        2 | 0x0d => (AceKind::Audit, Basic),
        3 | 0x0e => (AceKind::Alarm, Basic),
        5 | 0x0b => (AceKind::Allow, Object),
        6 | 0x0c => (AceKind::Deny, Object),
        7 | 0x0f => (AceKind::Audit, Object),
        8 | 0x10 => (AceKind::Alarm, Object),
        // Mandatory label, resource attribute, scoped policy id, process
        // trust label, access filter: mask + SID (+ data).
        0x11..=0x15 => (AceKind::Other(t), Basic),
        _ => (AceKind::Other(t), Unknown),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Basic,
    Object,
    Unknown,
}

fn decode_ace(blob: &[u8], at: usize, t: u8, flags: u8, body: &[u8]) -> Result<Ace, DecodeError> {
    const WHAT: &str = "NT ACE";
    let (kind, layout) = ace_type(t);
    let mut ace = Ace {
        kind,
        who: Principal::Unparsed,
        mask: 0,
        flags: u32::from(flags),
        default: false,
        nt_type: t,
        object: None,
        extra: Vec::new(),
    };
    let _ = blob;
    if layout == Layout::Unknown {
        ace.extra = body.to_vec();
        return Ok(ace);
    }
    if body.len() < 4 {
        return Err(DecodeError::new(
            WHAT,
            at,
            format!("type 0x{t:x} with a body of {} bytes", body.len()),
        ));
    }
    ace.mask = rd32(body, 0);
    let mut pos = 4;
    if layout == Layout::Object {
        if body.len() < 8 {
            return Err(DecodeError::new(WHAT, at, "object ACE without its flags"));
        }
        let oflags = rd32(body, 4);
        pos = 8;
        let mut guid = |present: bool| -> Result<Option<[u8; 16]>, DecodeError> {
            if !present {
                return Ok(None);
            }
            let g: [u8; 16] = body
                .get(pos..pos + 16)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| {
                    DecodeError::new(WHAT, at + 4 + pos, "object ACE ends inside a GUID")
                })?;
            pos += 16;
            Ok(Some(g))
        };
        let object_type = guid(oflags & 1 != 0)?;
        let inherited_type = guid(oflags & 2 != 0)?;
        ace.object = Some(ObjectAce {
            flags: oflags,
            object_type,
            inherited_type,
        });
    }
    let (sid, n) = Sid::decode(&body[pos..], at + 4 + pos)?;
    ace.who = Principal::Sid(sid);
    ace.extra = body[pos + n..].to_vec();
    Ok(ace)
}

/// Decodes the ACL at `off`; returns its revision and entries.
fn decode_acl(blob: &[u8], off: usize, what: &'static str) -> Result<(u8, Vec<Ace>), DecodeError> {
    if off < HEADER || off.checked_add(8).is_none_or(|e| e > blob.len()) {
        return Err(DecodeError::new(
            what,
            off,
            format!("offset {off} outside the {} bytes", blob.len()),
        ));
    }
    let revision = blob[off];
    let size = usize::from(rd16(blob, off + 2));
    let count = usize::from(rd16(blob, off + 4));
    if size < 8 || off + size > blob.len() {
        return Err(DecodeError::new(
            what,
            off + 2,
            format!("size {size} does not fit"),
        ));
    }
    let end = off + size;
    if count > (size - 8) / 4 {
        return Err(DecodeError::new(
            what,
            off + 4,
            format!("{count} ACEs cannot fit in {size} bytes"),
        ));
    }
    let mut entries = Vec::with_capacity(count);
    let mut at = off + 8;
    for _ in 0..count {
        if at + 4 > end {
            return Err(DecodeError::new(
                "NT ACE",
                at,
                "ACL ends before its ACEs do",
            ));
        }
        let t = blob[at];
        let flags = blob[at + 1];
        let asize = usize::from(rd16(blob, at + 2));
        if asize < 4 || at + asize > end {
            return Err(DecodeError::new(
                "NT ACE",
                at + 2,
                format!("size {asize} does not fit the ACL"),
            ));
        }
        entries.push(decode_ace(blob, at, t, flags, &blob[at + 4..at + asize])?);
        at += asize;
    }
    Ok((revision, entries))
}

fn decode_sid_at(blob: &[u8], off: usize, what: &'static str) -> Result<Sid, DecodeError> {
    if off < HEADER || off >= blob.len() {
        return Err(DecodeError::new(
            what,
            off,
            format!("offset {off} outside the {} bytes", blob.len()),
        ));
    }
    Sid::decode(&blob[off..], off).map(|(s, _)| s)
}

/// Decodes a self-relative security descriptor.
///
/// # Errors
/// A blob shorter than the header, a revision other than 1, a descriptor
/// not in self-relative form, or an owner, group, ACL or ACE that does not
/// fit inside the blob.
pub fn decode(blob: &[u8]) -> Result<Acl, DecodeError> {
    const WHAT: &str = "NT security descriptor";
    if blob.len() < HEADER {
        return Err(DecodeError::new(
            WHAT,
            0,
            format!("{} bytes, the header needs {HEADER}", blob.len()),
        ));
    }
    if blob[0] != 1 {
        return Err(DecodeError::new(
            WHAT,
            0,
            format!("revision {}, expected 1", blob[0]),
        ));
    }
    let control = rd16(blob, 2);
    if control & nt::SE_SELF_RELATIVE == 0 {
        return Err(DecodeError::new(WHAT, 2, "not in self-relative form"));
    }
    let offs = [4, 8, 12, 16].map(|i| rd32(blob, i) as usize);
    let mut acl = Acl::new(AclFormat::Nt);
    if offs[0] != 0 {
        acl.owner = Some(Principal::Sid(decode_sid_at(
            blob,
            offs[0],
            "NT owner SID",
        )?));
    }
    if offs[1] != 0 {
        acl.group = Some(Principal::Sid(decode_sid_at(
            blob,
            offs[1],
            "NT group SID",
        )?));
    }
    let mut info = NtInfo {
        control,
        rm_control: blob[1],
        dacl_revision: None,
        sacl_revision: None,
    };
    if offs[2] != 0 {
        let (rev, entries) = decode_acl(blob, offs[2], "NT SACL")?;
        info.sacl_revision = Some(rev);
        acl.audit = entries;
    }
    if offs[3] != 0 {
        let (rev, entries) = decode_acl(blob, offs[3], "NT DACL")?;
        info.dacl_revision = Some(rev);
        acl.entries = entries;
    }
    acl.nt = Some(info);
    Ok(acl)
}

fn sid_of<'a>(p: Option<&'a Principal>, what: &str) -> Result<Option<&'a Sid>, EncodeError> {
    match p {
        None => Ok(None),
        Some(Principal::Sid(s)) => Ok(Some(s)),
        Some(p) => Err(EncodeError::Principal {
            format: "NT",
            index: 0,
            principal: format!("{p} as the {what}"),
        }),
    }
}

fn encode_acl(out: &mut Vec<u8>, revision: u8, entries: &[Ace]) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[revision, 0, 0, 0]);
    let count = u16::try_from(entries.len()).map_err(|_| EncodeError::Field {
        index: entries.len(),
        why: "more than 65535 ACEs".into(),
    })?;
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    for (index, e) in entries.iter().enumerate() {
        let ace_start = out.len();
        let flags = u8::try_from(e.flags).map_err(|_| EncodeError::Field {
            index,
            why: format!("NT ACE flags 0x{:x} wider than 8 bits", e.flags),
        })?;
        out.extend_from_slice(&[e.nt_type, flags, 0, 0]);
        let (_, layout) = ace_type(e.nt_type);
        if layout != Layout::Unknown {
            let Principal::Sid(sid) = &e.who else {
                return Err(EncodeError::Principal {
                    format: "NT",
                    index,
                    principal: e.who.to_string(),
                });
            };
            out.extend_from_slice(&e.mask.to_le_bytes());
            if layout == Layout::Object {
                let o = e.object.clone().unwrap_or(ObjectAce {
                    flags: 0,
                    object_type: None,
                    inherited_type: None,
                });
                let oflags = (o.flags & !3)
                    | u32::from(o.object_type.is_some())
                    | (u32::from(o.inherited_type.is_some()) << 1);
                out.extend_from_slice(&oflags.to_le_bytes());
                for g in [o.object_type, o.inherited_type].into_iter().flatten() {
                    out.extend_from_slice(&g);
                }
            }
            sid.encode_into(out);
        }
        out.extend_from_slice(&e.extra);
        let size = u16::try_from(out.len() - ace_start).map_err(|_| EncodeError::Field {
            index,
            why: "an ACE of more than 65535 bytes".into(),
        })?;
        out[ace_start + 2..ace_start + 4].copy_from_slice(&size.to_le_bytes());
    }
    let size = u16::try_from(out.len() - start).map_err(|_| EncodeError::Field {
        index: entries.len(),
        why: "an ACL of more than 65535 bytes".into(),
    })?;
    out[start + 2..start + 4].copy_from_slice(&size.to_le_bytes());
    Ok(())
}

/// Encodes an NT ACL as a self-relative security descriptor: header,
/// owner, group, SACL, DACL, in that order (as Samba writes them).
/// `SE_SELF_RELATIVE` is always set.
///
/// # Errors
/// An entry or owner that is not a SID, flags wider than 8 bits, an ACL
/// larger than 64 KiB, or an ACL of another format.
pub fn encode(acl: &Acl) -> Result<Vec<u8>, EncodeError> {
    if acl.format != AclFormat::Nt {
        return Err(EncodeError::Format {
            expected: "nt",
            found: acl.format.as_str(),
        });
    }
    let info = acl.nt.unwrap_or(NtInfo {
        control: nt::SE_SELF_RELATIVE | nt::SE_DACL_PRESENT,
        rm_control: 0,
        dacl_revision: Some(2),
        sacl_revision: None,
    });
    let owner = sid_of(acl.owner.as_ref(), "owner")?;
    let group = sid_of(acl.group.as_ref(), "group")?;
    let mut out = vec![0u8; HEADER];
    out[0] = 1;
    out[1] = info.rm_control;
    out[2..4].copy_from_slice(&(info.control | nt::SE_SELF_RELATIVE).to_le_bytes());
    let mut offsets = [0u32; 4];
    if let Some(s) = owner {
        offsets[0] = out.len() as u32;
        s.encode_into(&mut out);
    }
    if let Some(s) = group {
        offsets[1] = out.len() as u32;
        s.encode_into(&mut out);
    }
    if let Some(rev) = info.sacl_revision {
        offsets[2] = out.len() as u32;
        encode_acl(&mut out, rev, &acl.audit)?;
    } else if !acl.audit.is_empty() {
        return Err(EncodeError::Field {
            index: 0,
            why: "audit entries without a SACL revision".into(),
        });
    }
    if let Some(rev) = info.dacl_revision {
        offsets[3] = out.len() as u32;
        encode_acl(&mut out, rev, &acl.entries)?;
    } else if !acl.entries.is_empty() {
        return Err(EncodeError::Field {
            index: 0,
            why: "entries without a DACL revision (a NULL DACL has none)".into(),
        });
    }
    for (i, o) in offsets.iter().enumerate() {
        out[4 + 4 * i..8 + 4 * i].copy_from_slice(&o.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Samba's `ndr_pack(security.descriptor.from_sddl(
    //   "O:S-1-5-21-1-2-3-1001G:S-1-5-21-1-2-3-513D:P(D;OICI;FA;;;S-1-5-21-1-2-3-1002)(A;;0x1200a9;;;WD)(A;ID;FA;;;BA)"))`.
    const SAMBA: &str = "010004901400000030000000000000004c000000010500000000000515000000010000000200000003000000e903000001050000000000051500000001000000020000000300000001020000040058000300000001032400ff010000010500000000000515000000010000000200000003000000ea03000000001400a900120001010000000000010000000000101800ff01000001020000000000052000000020020000";

    #[test]
    fn reads_a_samba_descriptor_and_writes_it_back_byte_for_byte() {
        let blob = hex(SAMBA);
        let acl = decode(&blob).unwrap();
        assert_eq!(
            acl.owner,
            Some(Principal::Sid("S-1-5-21-1-2-3-1001".parse().unwrap()))
        );
        assert_eq!(
            acl.group,
            Some(Principal::Sid("S-1-5-21-1-2-3-513".parse().unwrap()))
        );
        let info = acl.nt.unwrap();
        assert_ne!(info.control & nt::SE_DACL_PROTECTED, 0);
        let lines = acl.lines(&|_| None);
        assert_eq!(
            lines,
            [
                "OWNER S-1-5-21-1-2-3-1001",
                "GROUP S-1-5-21-1-2-3-513",
                // Samba 4.17's SDDL "FA" is 0x1ff, without the standard rights.
                "DENY S-1-5-21-1-2-3-1002 READ_DATA|WRITE_DATA|APPEND_DATA|READ_EA|WRITE_EA|EXECUTE|DELETE_CHILD|READ_ATTRIBUTES|WRITE_ATTRIBUTES [OBJECT_INHERIT,CONTAINER_INHERIT]",
                "ALLOW S-1-1-0 READ",
                "ALLOW S-1-5-32-544 READ_DATA|WRITE_DATA|APPEND_DATA|READ_EA|WRITE_EA|EXECUTE|DELETE_CHILD|READ_ATTRIBUTES|WRITE_ATTRIBUTES [INHERITED]",
            ]
        );
        assert!(acl.has_deny());
        assert_eq!(encode(&acl).unwrap(), blob);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let blob = hex(SAMBA);
        for n in 0..blob.len() {
            assert!(decode(&blob[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn a_null_dacl_is_not_an_empty_one() {
        let mut acl = Acl::new(AclFormat::Nt);
        acl.nt.as_mut().unwrap().dacl_revision = None;
        assert!(acl.is_null_dacl());
        let blob = encode(&acl).unwrap();
        assert_eq!(rd32(&blob, 16), 0);
        assert!(decode(&blob).unwrap().is_null_dacl());
        let empty = decode(&encode(&Acl::new(AclFormat::Nt)).unwrap()).unwrap();
        assert!(!empty.is_null_dacl());
        assert!(empty.entries.is_empty());
    }
}
