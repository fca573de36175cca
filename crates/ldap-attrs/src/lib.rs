//! Who may read each file: the ACLs of POSIX, NFSv4 and CIFS/NT
//! filesystems decoded into one model, and the owners and principals they
//! name resolved to account names through NSS and LDAP / Active Directory.
//!
//! - Codecs, each total (any bytes give a value or a [`DecodeError`],
//!   never a panic) and each with an encoder for writing ACLs back:
//!   [`posix`] (`system.posix_acl_access` / `system.posix_acl_default`),
//!   [`nfs4`] (`system.nfs4_acl`, XDR), [`nt`] (self-relative NT security
//!   descriptors as in `system.cifs_acl`: owner, group, DACL, SACL, control
//!   flags). All map into one [`Acl`]: ordered [`Ace`]s that allow, deny or
//!   audit a mask of rights for a [`Principal`]; DENY entries stay DENY
//!   entries, in their place.
//! - Reading: the [`Xattrs`] trait ([`SystemXattrs`] on Linux through
//!   `lgetxattr`, [`MemoryXattrs`] for tests) and [`capture`], which tells
//!   "no ACL" from "not supported by this filesystem"; [`apply`] writes an
//!   ACL back.
//! - Names: [`Resolver`]s for well-known SIDs ([`WellKnown`]), uids and
//!   gids ([`Nss`]), and SIDs, uids and gids in a directory ([`Ldap`]:
//!   simple bind, LDAPS or StartTLS, paged preload), tried in order by a
//!   [`Chain`]; a [`Cache`] in front asks each principal once and turns an
//!   unreachable directory into unresolved names and one warning.
//!
//! Blocking API; the LDAP client's runtime stays inside it.
//!
//! # Example
//!
//! Decode a security descriptor (as Samba writes it for the SDDL
//! `O:S-1-5-21-1-2-3-1001D:(D;;FA;;;S-1-5-21-1-2-3-1002)(A;;0x1200a9;;;WD)`)
//! and print its entries with names from the well-known table:
//!
//! ```
//! use ldap_attrs::{Cache, Chain, nt};
//!
//! let sd = [
//!     "01000480", "14000000", "00000000", "00000000", "30000000",
//!     "010500000000000515000000010000000200000003000000e9030000",
//!     "040040000200000001002400ff011f00010500000000000515000000010000000200000003000000ea030000",
//!     "00001400a9001200010100000000000100000000",
//! ].concat();
//! let blob: Vec<u8> = (0..sd.len()).step_by(2).map(|i| u8::from_str_radix(&sd[i..i + 2], 16).unwrap()).collect();
//! let acl = nt::decode(&blob)?;
//! assert!(acl.has_deny());
//!
//! let names = Cache::new(Chain::local());
//! let lines = acl.lines(&|p| names.lookup(p).map(|a| a.name));
//! assert_eq!(lines, [
//!     "OWNER S-1-5-21-1-2-3-1001",
//!     "DENY S-1-5-21-1-2-3-1002 FULL",
//!     "ALLOW Everyone READ",
//! ]);
//! assert_eq!(nt::encode(&acl)?, blob);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod error;
mod model;
pub mod nfs4;
pub mod nt;
pub mod posix;
mod resolve;
mod sid;
mod xattr;

pub use error::{CaptureError, DecodeError, EncodeError, ResolveError, XattrError};
/// Bits and names of NFSv4 access masks and ACE flags.
pub use model::nfs4 as nfs4_bits;
/// Bits and names of NT access masks, ACE flags and control flags.
pub use model::nt as nt_bits;
pub use model::{
    Ace, AceKind, Acl, AclFormat, NtInfo, ObjectAce, Principal, flags_text, rights_text,
};
pub use resolve::{
    Account, AccountClass, Cache, CacheStats, Chain, Ldap, LdapConfig, Nss, Resolver, Secret,
    WellKnown,
};
pub use sid::{MAX_SUB_AUTHORITIES, Sid, SidParseError, WellKnownKind};
pub use xattr::{
    AclSelection, AclValues, ApplyError, Captured, MemoryXattrs, SystemXattrs, Xattrs, apply,
    capture,
};

/// Decodes a blob of `format` (for POSIX: one xattr value, access entries).
pub fn decode(format: AclFormat, blob: &[u8]) -> Result<Acl, DecodeError> {
    match format {
        AclFormat::Posix => posix::decode(Some(blob), None),
        AclFormat::Nfs4 => nfs4::decode(blob),
        AclFormat::Nt => nt::decode(blob),
    }
}
