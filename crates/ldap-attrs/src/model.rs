//! One model of an ACL that POSIX ACLs, NFSv4 ACLs and NT security
//! descriptors all map into: ordered entries, each allowing, denying or
//! auditing a mask of rights to a principal. Entries keep their order and
//! their kind (a DENY stays a DENY), and each format's own details (mask
//! and flag bits, NT control flags and revisions) stay as they were read,
//! so an ACL can be written back in its own format.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::sid::Sid;

/// Where an ACL came from, and so how its masks and flags read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AclFormat {
    /// `system.posix_acl_access` / `system.posix_acl_default`; masks are
    /// `rwx` bits (4, 2, 1).
    Posix,
    /// `system.nfs4_acl` (RFC 7530 ACEs); masks are ACE4 access bits.
    Nfs4,
    /// An NT security descriptor (`system.cifs_acl`); masks are Windows
    /// access masks.
    Nt,
}

impl AclFormat {
    /// `posix`, `nfs4` or `nt`.
    pub fn as_str(self) -> &'static str {
        match self {
            AclFormat::Posix => "posix",
            AclFormat::Nfs4 => "nfs4",
            AclFormat::Nt => "nt",
        }
    }

    /// The inverse of [`AclFormat::as_str`] (`cifs` is accepted for `nt`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "posix" => Some(AclFormat::Posix),
            "nfs4" => Some(AclFormat::Nfs4),
            "nt" | "cifs" => Some(AclFormat::Nt),
            _ => None,
        }
    }
}

impl fmt::Display for AclFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who an entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    /// The file's owner (POSIX `user::`, NFSv4 `OWNER@`).
    Owner,
    /// The file's group (POSIX `group::`, NFSv4 `GROUP@`).
    OwningGroup,
    /// POSIX `other::`: everyone no other entry matched.
    Other,
    /// POSIX `mask::`: the most any named entry or the group may get.
    Mask,
    /// NFSv4 `EVERYONE@`.
    Everyone,
    /// A user by number (POSIX `user:N`).
    Uid(u32),
    /// A group by number (POSIX `group:N`).
    Gid(u32),
    /// A named NFSv4 user (`alice@example.com`, or a number when the
    /// server does not map ids).
    Nfs4User(String),
    /// A named NFSv4 group (an ACE with the `IDENTIFIER_GROUP` flag).
    Nfs4Group(String),
    /// Another NFSv4 special identifier (`INTERACTIVE@`, `NETWORK@`, ...).
    Special(String),
    /// A Windows security identifier.
    Sid(Sid),
    /// An NT ACE of a type this crate does not read (its body is kept).
    Unparsed,
}

impl Principal {
    /// A stable text key naming the principal across files and formats,
    /// for caches and catalogs: `uid:1000`, `gid:50`, `sid:S-1-5-...`,
    /// `nfs4:alice@example.com`, `nfs4g:staff@example.com`; `None` for
    /// principals that are relative to the file (owner, group, other,
    /// mask, everyone, specials).
    pub fn key(&self) -> Option<String> {
        match self {
            Principal::Uid(n) => Some(format!("uid:{n}")),
            Principal::Gid(n) => Some(format!("gid:{n}")),
            Principal::Sid(s) => Some(format!("sid:{s}")),
            Principal::Nfs4User(s) => Some(format!("nfs4:{s}")),
            Principal::Nfs4Group(s) => Some(format!("nfs4g:{s}")),
            _ => None,
        }
    }

    /// Whether the principal is a group (as far as the entry says).
    pub fn is_group(&self) -> bool {
        matches!(
            self,
            Principal::OwningGroup | Principal::Gid(_) | Principal::Nfs4Group(_)
        )
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Owner => f.write_str("OWNER@"),
            Principal::OwningGroup => f.write_str("GROUP@"),
            Principal::Other => f.write_str("OTHER"),
            Principal::Mask => f.write_str("MASK"),
            Principal::Everyone => f.write_str("EVERYONE@"),
            Principal::Uid(n) => write!(f, "uid:{n}"),
            Principal::Gid(n) => write!(f, "gid:{n}"),
            Principal::Nfs4User(s) | Principal::Special(s) => f.write_str(s),
            Principal::Nfs4Group(s) => write!(f, "group:{s}"),
            Principal::Sid(s) => s.fmt(f),
            Principal::Unparsed => f.write_str("?"),
        }
    }
}

/// What an entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AceKind {
    /// Grants the rights.
    Allow,
    /// Refuses the rights (checked in order with the allows: a DENY before
    /// an ALLOW wins).
    Deny,
    /// Logs uses of the rights.
    Audit,
    /// Raises an alarm on uses of the rights.
    Alarm,
    /// Another type, by its number in the format (an NT mandatory label
    /// 0x11, an NFSv4 type above 3, ...).
    Other(u8),
}

impl AceKind {
    /// `ALLOW`, `DENY`, `AUDIT`, `ALARM` or `TYPE<n>`.
    pub fn label(self) -> String {
        match self {
            AceKind::Allow => "ALLOW".into(),
            AceKind::Deny => "DENY".into(),
            AceKind::Audit => "AUDIT".into(),
            AceKind::Alarm => "ALARM".into(),
            AceKind::Other(n) => format!("TYPE{n}"),
        }
    }
}

/// The object part of an NT object ACE (directory-service objects; never
/// seen on files, kept for completeness).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectAce {
    /// Which GUIDs follow (bit 0: object type, bit 1: inherited type).
    pub flags: u32,
    /// The object type GUID, as stored.
    pub object_type: Option<[u8; 16]>,
    /// The inherited object type GUID, as stored.
    pub inherited_type: Option<[u8; 16]>,
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ace {
    /// Allow, deny, audit...
    pub kind: AceKind,
    /// Who.
    pub who: Principal,
    /// The rights, in the format's own bits (see [`rights_text`]).
    pub mask: u32,
    /// The format's flag bits (inheritance, audit success/failure); see
    /// [`flags_text`].
    #[serde(default)]
    pub flags: u32,
    /// A POSIX default ACL entry (what new entries of a directory inherit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// NT: the ACE type number as stored (0 allow, 1 deny, 2 audit, 9
    /// callback allow, 0x11 mandatory label...); 0 for other formats.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nt_type: u8,
    /// NT object ACEs: their object part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectAce>,
    /// NT: bytes after the SID within the ACE (callback conditions,
    /// padding), or the whole body of an ACE type not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<u8>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl Ace {
    /// A POSIX entry.
    pub fn posix(who: Principal, perm: u32, default: bool) -> Self {
        Ace {
            kind: AceKind::Allow,
            who,
            mask: perm,
            flags: 0,
            default,
            nt_type: 0,
            object: None,
            extra: Vec::new(),
        }
    }

    /// An NT ACE of one of the four basic types (allow 0, deny 1, audit 2,
    /// alarm 3).
    pub fn nt(kind: AceKind, sid: Sid, mask: u32, flags: u8) -> Self {
        let nt_type = match kind {
            AceKind::Allow => 0,
            AceKind::Deny => 1,
            AceKind::Audit => 2,
            AceKind::Alarm => 3,
            AceKind::Other(n) => n,
        };
        Ace {
            kind,
            who: Principal::Sid(sid),
            mask,
            flags: u32::from(flags),
            default: false,
            nt_type,
            object: None,
            extra: Vec::new(),
        }
    }

    /// An NFSv4 ACE.
    pub fn nfs4(kind: AceKind, who: Principal, mask: u32, flags: u32) -> Self {
        Ace {
            kind,
            who,
            mask,
            flags,
            default: false,
            nt_type: 0,
            object: None,
            extra: Vec::new(),
        }
    }

    /// Whether the entry was inherited from a parent directory (NT
    /// `INHERITED_ACE`, NFSv4 `ACE4_INHERITED_ACE`).
    pub fn is_inherited(&self, format: AclFormat) -> bool {
        match format {
            AclFormat::Nt => self.flags & u32::from(nt::INHERITED_ACE) != 0,
            AclFormat::Nfs4 => self.flags & nfs4::INHERITED_ACE != 0,
            AclFormat::Posix => false,
        }
    }

    /// The entry as one line: `DENY alice READ` (names from `name`, which
    /// returns `None` for principals it does not know; those print as
    /// their key), then flags in brackets when there are any.
    pub fn text(&self, format: AclFormat, name: &dyn Fn(&Principal) -> Option<String>) -> String {
        let who = name(&self.who).unwrap_or_else(|| self.who.to_string());
        let mut s = format!(
            "{} {} {}",
            self.kind.label(),
            who,
            rights_text(format, self.mask)
        );
        let mut flags = flags_text(format, self.flags);
        if self.default {
            flags.insert(0, "DEFAULT");
        }
        if !flags.is_empty() {
            s.push_str(" [");
            s.push_str(&flags.join(","));
            s.push(']');
        }
        s
    }
}

/// An ACL of a file: in order, with the owner and group an NT security
/// descriptor names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Acl {
    /// The format it was read from (and is written back in).
    pub format: AclFormat,
    /// NT: the descriptor's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Principal>,
    /// NT: the descriptor's primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Principal>,
    /// The access entries, in order: POSIX access entries then default
    /// entries ([`Ace::default`]), NFSv4 ACEs, the NT DACL.
    pub entries: Vec<Ace>,
    /// NT: the SACL's entries (audit, alarm, labels), when there is one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<Ace>,
    /// NT: the descriptor's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nt: Option<NtInfo>,
}

/// What an NT security descriptor says beside its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NtInfo {
    /// Control flags (`SE_DACL_PRESENT`, `SE_DACL_PROTECTED`, ...; see
    /// [`nt::control_text`]).
    pub control: u16,
    /// The resource manager control byte (`Sbz1`).
    #[serde(default)]
    pub rm_control: u8,
    /// The DACL's revision, `None` when the descriptor has no DACL
    /// (a NULL DACL when `SE_DACL_PRESENT` is set: everyone may do
    /// anything).
    pub dacl_revision: Option<u8>,
    /// The SACL's revision, `None` when it has none.
    pub sacl_revision: Option<u8>,
}

impl Acl {
    /// An empty ACL of `format` (for NT: a descriptor with an empty DACL,
    /// which refuses everyone).
    pub fn new(format: AclFormat) -> Self {
        Acl {
            format,
            owner: None,
            group: None,
            entries: Vec::new(),
            audit: Vec::new(),
            nt: (format == AclFormat::Nt).then_some(NtInfo {
                control: nt::SE_SELF_RELATIVE | nt::SE_DACL_PRESENT,
                rm_control: 0,
                dacl_revision: Some(2),
                sacl_revision: None,
            }),
        }
    }

    /// Whether any access entry denies something ([`Acl::denies`]).
    pub fn has_deny(&self) -> bool {
        self.entries.iter().any(|e| self.denies(e))
    }

    /// Whether `e`, one of [`Acl::entries`], refuses its principal access:
    /// an NFSv4 or NT DENY entry, or a POSIX entry that names a user or a
    /// group and leaves it no permission, as written (`user:mallory:---`)
    /// or once the mask of its ACL is applied (`user:bob:rw-` under
    /// `mask::---`).
    ///
    /// POSIX ACLs have no DENY entries, but such an entry is how they
    /// refuse someone: a process whose uid matches a named user entry gets
    /// that entry's permissions (masked) and is never checked against the
    /// owning group's or other's entries; one whose groups match only
    /// named group entries that grant nothing gets nothing either. The
    /// entry stays an allow of nothing in the model (it is written back as
    /// it was read); only its meaning is a denial. Entries of the owner,
    /// the owning group, the mask and other are never denials (`other::---`
    /// is the ordinary "nobody else").
    pub fn denies(&self, e: &Ace) -> bool {
        match self.format {
            AclFormat::Posix => {
                matches!(e.who, Principal::Uid(_) | Principal::Gid(_))
                    && e.kind == AceKind::Allow
                    && e.mask & self.posix_mask(e.default) == 0
            }
            _ => e.kind == AceKind::Deny,
        }
    }

    /// What `e` does: its kind, except that a POSIX entry that refuses its
    /// principal ([`Acl::denies`]) is a [`AceKind::Deny`].
    pub fn effective_kind(&self, e: &Ace) -> AceKind {
        if self.format == AclFormat::Posix && self.denies(e) {
            AceKind::Deny
        } else {
            e.kind
        }
    }

    /// The permission bits of the POSIX `mask::` entry of the access
    /// (`default` false) or default ACL; `rwx` when there is none.
    fn posix_mask(&self, default: bool) -> u32 {
        self.entries
            .iter()
            .find(|m| m.who == Principal::Mask && m.default == default)
            .map_or(7, |m| m.mask)
    }

    /// `e` as one line ([`Ace::text`]); a POSIX entry that refuses its
    /// principal ([`Acl::denies`]) reads `DENY mallory rwx
    /// (user:10003:---)`, or `DENY bob rwx (user:10002:rw-, masked by
    /// mask::---)`: what it refuses, then the entry as `getfacl -n`
    /// prints it.
    pub fn entry_text(&self, e: &Ace, name: &dyn Fn(&Principal) -> Option<String>) -> String {
        if self.format != AclFormat::Posix || !self.denies(e) {
            return e.text(self.format, name);
        }
        let who = name(&e.who).unwrap_or_else(|| e.who.to_string());
        let prefix = if e.default { "default:" } else { "" };
        let entry = match &e.who {
            Principal::Uid(u) => format!("{prefix}user:{u}:"),
            Principal::Gid(g) => format!("{prefix}group:{g}:"),
            p => format!("{prefix}{p}:"),
        };
        let perm = rights_text(AclFormat::Posix, e.mask);
        let mask = self.posix_mask(e.default);
        let flags = if e.default { " [DEFAULT]" } else { "" };
        if e.mask == 0 {
            format!("DENY {who} rwx{flags} ({entry}{perm})")
        } else {
            format!(
                "DENY {who} rwx{flags} ({entry}{perm}, masked by {prefix}mask::{})",
                rights_text(AclFormat::Posix, mask)
            )
        }
    }

    /// NT: a NULL DACL, which lets everyone do anything.
    pub fn is_null_dacl(&self) -> bool {
        self.nt
            .is_some_and(|n| n.dacl_revision.is_none() && n.control & nt::SE_DACL_PRESENT != 0)
    }

    /// Every principal the ACL names: owner, group, then each entry's
    /// (in order, repeats included).
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.owner
            .iter()
            .chain(self.group.iter())
            .chain(self.entries.iter().map(|e| &e.who))
            .chain(self.audit.iter().map(|e| &e.who))
    }

    /// Each entry as a line of text ([`Ace::text`]), audit entries last.
    pub fn lines(&self, name: &dyn Fn(&Principal) -> Option<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(self.entries.len() + 2);
        if let Some(o) = &self.owner {
            out.push(format!(
                "OWNER {}",
                name(o).unwrap_or_else(|| o.to_string())
            ));
        }
        if let Some(g) = &self.group {
            out.push(format!(
                "GROUP {}",
                name(g).unwrap_or_else(|| g.to_string())
            ));
        }
        if self.is_null_dacl() {
            out.push("NULL DACL (everyone: full control)".into());
        }
        out.extend(self.entries.iter().map(|e| self.entry_text(e, name)));
        out.extend(self.audit.iter().map(|e| e.text(self.format, name)));
        out
    }
}

/// Bits and names of NT access masks, ACE flags and control flags.
pub mod nt {
    /// `FILE_READ_DATA` / `FILE_LIST_DIRECTORY`.
    pub const READ_DATA: u32 = 0x0000_0001;
    /// `FILE_WRITE_DATA` / `FILE_ADD_FILE`.
    pub const WRITE_DATA: u32 = 0x0000_0002;
    /// `FILE_APPEND_DATA` / `FILE_ADD_SUBDIRECTORY`.
    pub const APPEND_DATA: u32 = 0x0000_0004;
    /// `FILE_READ_EA`.
    pub const READ_EA: u32 = 0x0000_0008;
    /// `FILE_WRITE_EA`.
    pub const WRITE_EA: u32 = 0x0000_0010;
    /// `FILE_EXECUTE` / `FILE_TRAVERSE`.
    pub const EXECUTE: u32 = 0x0000_0020;
    /// `FILE_DELETE_CHILD`.
    pub const DELETE_CHILD: u32 = 0x0000_0040;
    /// `FILE_READ_ATTRIBUTES`.
    pub const READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// `FILE_WRITE_ATTRIBUTES`.
    pub const WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// `DELETE`.
    pub const DELETE: u32 = 0x0001_0000;
    /// `READ_CONTROL`.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// `WRITE_DAC`.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// `WRITE_OWNER`.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// `SYNCHRONIZE`.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// `ACCESS_SYSTEM_SECURITY`.
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    /// `MAXIMUM_ALLOWED`.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// `GENERIC_ALL`.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// `GENERIC_EXECUTE`.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// `GENERIC_WRITE`.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// `GENERIC_READ`.
    pub const GENERIC_READ: u32 = 0x8000_0000;

    /// Full control (`FILE_ALL_ACCESS`, what Windows shows as "Full control").
    pub const FULL: u32 = 0x001f_01ff;
    /// Modify ("Change": read, write, execute, delete).
    pub const CHANGE: u32 = 0x0013_01bf;
    /// Read and execute.
    pub const READ: u32 = 0x0012_00a9;

    /// ACE flag `OBJECT_INHERIT_ACE` (files inherit it).
    pub const OBJECT_INHERIT_ACE: u8 = 0x01;
    /// ACE flag `CONTAINER_INHERIT_ACE` (directories inherit it).
    pub const CONTAINER_INHERIT_ACE: u8 = 0x02;
    /// ACE flag `NO_PROPAGATE_INHERIT_ACE`.
    pub const NO_PROPAGATE_INHERIT_ACE: u8 = 0x04;
    /// ACE flag `INHERIT_ONLY_ACE`.
    pub const INHERIT_ONLY_ACE: u8 = 0x08;
    /// ACE flag `INHERITED_ACE`.
    pub const INHERITED_ACE: u8 = 0x10;
    /// ACE flag `SUCCESSFUL_ACCESS_ACE_FLAG` (audit).
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    /// ACE flag `FAILED_ACCESS_ACE_FLAG` (audit).
    pub const FAILED_ACCESS: u8 = 0x80;

    /// Control `SE_OWNER_DEFAULTED`.
    pub const SE_OWNER_DEFAULTED: u16 = 0x0001;
    /// Control `SE_GROUP_DEFAULTED`.
    pub const SE_GROUP_DEFAULTED: u16 = 0x0002;
    /// Control `SE_DACL_PRESENT`.
    pub const SE_DACL_PRESENT: u16 = 0x0004;
    /// Control `SE_DACL_DEFAULTED`.
    pub const SE_DACL_DEFAULTED: u16 = 0x0008;
    /// Control `SE_SACL_PRESENT`.
    pub const SE_SACL_PRESENT: u16 = 0x0010;
    /// Control `SE_SACL_DEFAULTED`.
    pub const SE_SACL_DEFAULTED: u16 = 0x0020;
    /// Control `SE_DACL_AUTO_INHERIT_REQ`.
    pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    /// Control `SE_SACL_AUTO_INHERIT_REQ`.
    pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    /// Control `SE_DACL_AUTO_INHERITED`.
    pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
    /// Control `SE_SACL_AUTO_INHERITED`.
    pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
    /// Control `SE_DACL_PROTECTED` (does not inherit from the parent).
    pub const SE_DACL_PROTECTED: u16 = 0x1000;
    /// Control `SE_SACL_PROTECTED`.
    pub const SE_SACL_PROTECTED: u16 = 0x2000;
    /// Control `SE_RM_CONTROL_VALID`.
    pub const SE_RM_CONTROL_VALID: u16 = 0x4000;
    /// Control `SE_SELF_RELATIVE` (always set in a stored descriptor).
    pub const SE_SELF_RELATIVE: u16 = 0x8000;

    pub(crate) const MASK_NAMES: &[(u32, &str)] = &[
        (READ_DATA, "READ_DATA"),
        (WRITE_DATA, "WRITE_DATA"),
        (APPEND_DATA, "APPEND_DATA"),
        (READ_EA, "READ_EA"),
        (WRITE_EA, "WRITE_EA"),
        (EXECUTE, "EXECUTE"),
        (DELETE_CHILD, "DELETE_CHILD"),
        (READ_ATTRIBUTES, "READ_ATTRIBUTES"),
        (WRITE_ATTRIBUTES, "WRITE_ATTRIBUTES"),
        (DELETE, "DELETE"),
        (READ_CONTROL, "READ_CONTROL"),
        (WRITE_DAC, "WRITE_DAC"),
        (WRITE_OWNER, "WRITE_OWNER"),
        (SYNCHRONIZE, "SYNCHRONIZE"),
        (ACCESS_SYSTEM_SECURITY, "ACCESS_SYSTEM_SECURITY"),
        (MAXIMUM_ALLOWED, "MAXIMUM_ALLOWED"),
        (GENERIC_ALL, "GENERIC_ALL"),
        (GENERIC_EXECUTE, "GENERIC_EXECUTE"),
        (GENERIC_WRITE, "GENERIC_WRITE"),
        (GENERIC_READ, "GENERIC_READ"),
    ];

    pub(crate) const FLAG_NAMES: &[(u32, &str)] = &[
        (OBJECT_INHERIT_ACE as u32, "OBJECT_INHERIT"),
        (CONTAINER_INHERIT_ACE as u32, "CONTAINER_INHERIT"),
        (NO_PROPAGATE_INHERIT_ACE as u32, "NO_PROPAGATE"),
        (INHERIT_ONLY_ACE as u32, "INHERIT_ONLY"),
        (INHERITED_ACE as u32, "INHERITED"),
        (SUCCESSFUL_ACCESS as u32, "SUCCESSFUL_ACCESS"),
        (FAILED_ACCESS as u32, "FAILED_ACCESS"),
    ];

    const CONTROL_NAMES: &[(u16, &str)] = &[
        (SE_OWNER_DEFAULTED, "OWNER_DEFAULTED"),
        (SE_GROUP_DEFAULTED, "GROUP_DEFAULTED"),
        (SE_DACL_PRESENT, "DACL_PRESENT"),
        (SE_DACL_DEFAULTED, "DACL_DEFAULTED"),
        (SE_SACL_PRESENT, "SACL_PRESENT"),
        (SE_SACL_DEFAULTED, "SACL_DEFAULTED"),
        (0x0040, "DACL_TRUSTED"),
        (0x0080, "SERVER_SECURITY"),
        (SE_DACL_AUTO_INHERIT_REQ, "DACL_AUTO_INHERIT_REQ"),
        (SE_SACL_AUTO_INHERIT_REQ, "SACL_AUTO_INHERIT_REQ"),
        (SE_DACL_AUTO_INHERITED, "DACL_AUTO_INHERITED"),
        (SE_SACL_AUTO_INHERITED, "SACL_AUTO_INHERITED"),
        (SE_DACL_PROTECTED, "DACL_PROTECTED"),
        (SE_SACL_PROTECTED, "SACL_PROTECTED"),
        (SE_RM_CONTROL_VALID, "RM_CONTROL_VALID"),
        (SE_SELF_RELATIVE, "SELF_RELATIVE"),
    ];

    /// The names of the control flags set in `control`.
    pub fn control_text(control: u16) -> Vec<&'static str> {
        CONTROL_NAMES
            .iter()
            .filter(|(bit, _)| control & bit != 0)
            .map(|&(_, n)| n)
            .collect()
    }
}

/// Bits and names of NFSv4 access masks and ACE flags (RFC 7530 6.2.1).
pub mod nfs4 {
    /// `ACE4_READ_DATA` / `ACE4_LIST_DIRECTORY`.
    pub const READ_DATA: u32 = 0x0000_0001;
    /// `ACE4_WRITE_DATA` / `ACE4_ADD_FILE`.
    pub const WRITE_DATA: u32 = 0x0000_0002;
    /// `ACE4_APPEND_DATA` / `ACE4_ADD_SUBDIRECTORY`.
    pub const APPEND_DATA: u32 = 0x0000_0004;
    /// `ACE4_READ_NAMED_ATTRS`.
    pub const READ_NAMED_ATTRS: u32 = 0x0000_0008;
    /// `ACE4_WRITE_NAMED_ATTRS`.
    pub const WRITE_NAMED_ATTRS: u32 = 0x0000_0010;
    /// `ACE4_EXECUTE`.
    pub const EXECUTE: u32 = 0x0000_0020;
    /// `ACE4_DELETE_CHILD`.
    pub const DELETE_CHILD: u32 = 0x0000_0040;
    /// `ACE4_READ_ATTRIBUTES`.
    pub const READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// `ACE4_WRITE_ATTRIBUTES`.
    pub const WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// `ACE4_WRITE_RETENTION`.
    pub const WRITE_RETENTION: u32 = 0x0000_0200;
    /// `ACE4_WRITE_RETENTION_HOLD`.
    pub const WRITE_RETENTION_HOLD: u32 = 0x0000_0400;
    /// `ACE4_DELETE`.
    pub const DELETE: u32 = 0x0001_0000;
    /// `ACE4_READ_ACL`.
    pub const READ_ACL: u32 = 0x0002_0000;
    /// `ACE4_WRITE_ACL`.
    pub const WRITE_ACL: u32 = 0x0004_0000;
    /// `ACE4_WRITE_OWNER`.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// `ACE4_SYNCHRONIZE`.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;

    /// `ACE4_FILE_INHERIT_ACE`.
    pub const FILE_INHERIT_ACE: u32 = 0x01;
    /// `ACE4_DIRECTORY_INHERIT_ACE`.
    pub const DIRECTORY_INHERIT_ACE: u32 = 0x02;
    /// `ACE4_NO_PROPAGATE_INHERIT_ACE`.
    pub const NO_PROPAGATE_INHERIT_ACE: u32 = 0x04;
    /// `ACE4_INHERIT_ONLY_ACE`.
    pub const INHERIT_ONLY_ACE: u32 = 0x08;
    /// `ACE4_SUCCESSFUL_ACCESS_ACE_FLAG`.
    pub const SUCCESSFUL_ACCESS: u32 = 0x10;
    /// `ACE4_FAILED_ACCESS_ACE_FLAG`.
    pub const FAILED_ACCESS: u32 = 0x20;
    /// `ACE4_IDENTIFIER_GROUP`: the who is a group.
    pub const IDENTIFIER_GROUP: u32 = 0x40;
    /// `ACE4_INHERITED_ACE`.
    pub const INHERITED_ACE: u32 = 0x80;

    pub(crate) const MASK_NAMES: &[(u32, &str)] = &[
        (READ_DATA, "READ_DATA"),
        (WRITE_DATA, "WRITE_DATA"),
        (APPEND_DATA, "APPEND_DATA"),
        (READ_NAMED_ATTRS, "READ_NAMED_ATTRS"),
        (WRITE_NAMED_ATTRS, "WRITE_NAMED_ATTRS"),
        (EXECUTE, "EXECUTE"),
        (DELETE_CHILD, "DELETE_CHILD"),
        (READ_ATTRIBUTES, "READ_ATTRIBUTES"),
        (WRITE_ATTRIBUTES, "WRITE_ATTRIBUTES"),
        (WRITE_RETENTION, "WRITE_RETENTION"),
        (WRITE_RETENTION_HOLD, "WRITE_RETENTION_HOLD"),
        (DELETE, "DELETE"),
        (READ_ACL, "READ_ACL"),
        (WRITE_ACL, "WRITE_ACL"),
        (WRITE_OWNER, "WRITE_OWNER"),
        (SYNCHRONIZE, "SYNCHRONIZE"),
    ];

    pub(crate) const FLAG_NAMES: &[(u32, &str)] = &[
        (FILE_INHERIT_ACE, "FILE_INHERIT"),
        (DIRECTORY_INHERIT_ACE, "DIRECTORY_INHERIT"),
        (NO_PROPAGATE_INHERIT_ACE, "NO_PROPAGATE"),
        (INHERIT_ONLY_ACE, "INHERIT_ONLY"),
        (SUCCESSFUL_ACCESS, "SUCCESSFUL_ACCESS"),
        (FAILED_ACCESS, "FAILED_ACCESS"),
        (INHERITED_ACE, "INHERITED"),
    ];
}

fn bit_names(mask: u32, names: &[(u32, &'static str)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = mask;
    for &(bit, name) in names {
        if mask & bit != 0 {
            out.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("0x{rest:x}"));
    }
    out
}

/// A mask as text: POSIX `rwx` (`-` for a missing right); NT and NFSv4
/// masks as `FULL`, `CHANGE` or `READ` when they are exactly one of those,
/// otherwise their bits' names joined by `|` (`NONE` for 0).
pub fn rights_text(format: AclFormat, mask: u32) -> String {
    match format {
        AclFormat::Posix => {
            let mut s = String::with_capacity(3);
            s.push(if mask & 4 != 0 { 'r' } else { '-' });
            s.push(if mask & 2 != 0 { 'w' } else { '-' });
            s.push(if mask & 1 != 0 { 'x' } else { '-' });
            if mask & !7 != 0 {
                use std::fmt::Write;
                let _ = write!(s, "+0x{:x}", mask & !7);
            }
            s
        }
        AclFormat::Nt | AclFormat::Nfs4 => {
            // The named sets are NT's; NFSv4's bits have the same values.
            let named = match mask {
                nt::FULL => Some("FULL"),
                nt::CHANGE => Some("CHANGE"),
                nt::READ => Some("READ"),
                0 => Some("NONE"),
                _ => None,
            };
            if let Some(n) = named {
                return n.to_owned();
            }
            let names = if format == AclFormat::Nt {
                nt::MASK_NAMES
            } else {
                nfs4::MASK_NAMES
            };
            bit_names(mask, names).join("|")
        }
    }
}

/// The names of the flags set in an entry's `flags`.
pub fn flags_text(format: AclFormat, flags: u32) -> Vec<&'static str> {
    let names = match format {
        AclFormat::Posix => return Vec::new(),
        AclFormat::Nt => nt::FLAG_NAMES,
        AclFormat::Nfs4 => nfs4::FLAG_NAMES,
    };
    // IDENTIFIER_GROUP is said by the principal (`group:...`).
    names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|&(_, n)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_read_as_the_seed_named_them() {
        assert_eq!(rights_text(AclFormat::Nt, 0x001f_01ff), "FULL");
        assert_eq!(rights_text(AclFormat::Nt, 0x0013_01bf), "CHANGE");
        assert_eq!(rights_text(AclFormat::Nt, 0x0012_00a9), "READ");
        assert_eq!(
            rights_text(AclFormat::Nt, nt::READ_DATA | nt::DELETE | 0x800),
            "READ_DATA|DELETE|0x800"
        );
        assert_eq!(rights_text(AclFormat::Posix, 6), "rw-");
        assert_eq!(rights_text(AclFormat::Posix, 0), "---");
    }

    #[test]
    fn an_entry_reads_as_one_line() {
        let sid: Sid = "S-1-5-21-1-2-3-1002".parse().unwrap();
        let ace = Ace::nt(
            AceKind::Deny,
            sid,
            nt::READ,
            nt::OBJECT_INHERIT_ACE | nt::INHERITED_ACE,
        );
        let names = |p: &Principal| (p == &ace.who).then(|| "EXAMPLE\\alice".to_owned());
        assert_eq!(
            ace.text(AclFormat::Nt, &names),
            "DENY EXAMPLE\\alice READ [OBJECT_INHERIT,INHERITED]"
        );
        assert!(ace.is_inherited(AclFormat::Nt));
        let posix = Ace::posix(Principal::Uid(1000), 4, true);
        assert_eq!(
            posix.text(AclFormat::Posix, &|_| None),
            "ALLOW uid:1000 r-- [DEFAULT]"
        );
    }

    /// `setfacl -m u:10003:---,u:10002:rw-,g:20002:---,u:10001:r--,m::r--`
    /// and `-d -m u:10003:---,m::rwx`, as the entries read back.
    fn posix_with_denials(mask: u32) -> Acl {
        use Principal::{Gid, Mask, Other, Owner, OwningGroup, Uid};
        let mut acl = Acl::new(AclFormat::Posix);
        acl.entries = [
            (Owner, 6, false),
            (Uid(10001), 4, false),
            (Uid(10002), 2, false),
            (Uid(10003), 0, false),
            (OwningGroup, 0, false),
            (Gid(20002), 0, false),
            (Mask, mask, false),
            (Other, 0, false),
            (Owner, 7, true),
            (Uid(10003), 0, true),
            (OwningGroup, 5, true),
            (Mask, 7, true),
            (Other, 0, true),
        ]
        .into_iter()
        .map(|(w, p, d)| Ace::posix(w, p, d))
        .collect();
        acl
    }

    #[test]
    fn posix_entries_that_leave_a_named_principal_nothing_are_denials() {
        let acl = posix_with_denials(4);
        let names = |p: &Principal| (p == &Principal::Uid(10003)).then(|| "mallory".to_owned());
        let denied: Vec<bool> = acl.entries.iter().map(|e| acl.denies(e)).collect();
        // user:10002:rw- under mask::r-- is left nothing; the owner, the
        // owning group and other (---) are never denials.
        assert_eq!(
            denied,
            [
                false, false, true, true, false, true, false, false, false, true, false, false,
                false
            ]
        );
        assert!(acl.has_deny());
        let lines = acl.lines(&names);
        assert_eq!(lines[1], "ALLOW uid:10001 r--");
        assert_eq!(
            lines[2],
            "DENY uid:10002 rwx (user:10002:-w-, masked by mask::r--)"
        );
        assert_eq!(lines[3], "DENY mallory rwx (user:10003:---)");
        assert_eq!(lines[5], "DENY gid:20002 rwx (group:20002:---)");
        assert_eq!(
            lines[9],
            "DENY mallory rwx [DEFAULT] (default:user:10003:---)"
        );
        assert_eq!(acl.effective_kind(&acl.entries[3]), AceKind::Deny);
        assert_eq!(
            acl.entries[3].kind,
            AceKind::Allow,
            "the model keeps what is stored"
        );
        // A wider mask gives bob his write back.
        let acl = posix_with_denials(7);
        assert!(!acl.denies(&acl.entries[2]));
        // Without named entries nothing is denied, even with other::---.
        let mut plain = Acl::new(AclFormat::Posix);
        plain.entries = vec![
            Ace::posix(Principal::Owner, 6, false),
            Ace::posix(Principal::OwningGroup, 0, false),
            Ace::posix(Principal::Other, 0, false),
        ];
        assert!(!plain.has_deny());
        // An NT or NFSv4 ACL: exactly its DENY entries.
        let mut nfs = Acl::new(AclFormat::Nfs4);
        nfs.entries = vec![
            Ace::nfs4(AceKind::Allow, Principal::Uid(1), 0, 0),
            Ace::nfs4(AceKind::Deny, Principal::Uid(2), 1, 0),
        ];
        let denied: Vec<bool> = nfs.entries.iter().map(|e| nfs.denies(e)).collect();
        assert_eq!(denied, [false, true]);
    }
}
