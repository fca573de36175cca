//! Windows security identifiers (SIDs): the binary form found in security
//! descriptors and in Active Directory's `objectSid`, and the `S-1-5-...`
//! text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// At most this many sub-authorities (the binary form's limit).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// A security identifier: revision, a 48-bit identifier authority and up
/// to 15 sub-authorities (the last one of a domain account is its RID).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sid {
    /// Revision (1 for every SID in use).
    pub revision: u8,
    /// Identifier authority (48 bits; 5 is `NT AUTHORITY`).
    pub authority: u64,
    /// Sub-authorities, at most [`MAX_SUB_AUTHORITIES`].
    pub sub_authorities: Vec<u32>,
}

/// How a well-known principal is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WellKnownKind {
    /// A group of principals (Everyone, Authenticated Users, ...).
    Group,
    /// A single account (SYSTEM).
    Account,
    /// A placeholder replaced when an ACE is inherited (CREATOR OWNER).
    Placeholder,
}

/// SIDs that mean the same in every Windows domain, with their names:
/// resolved without asking a directory.
const WELL_KNOWN: &[(&str, &str, WellKnownKind)] = &[
    ("S-1-0-0", "NULL SID", WellKnownKind::Placeholder),
    ("S-1-1-0", "Everyone", WellKnownKind::Group),
    ("S-1-2-0", "LOCAL", WellKnownKind::Group),
    ("S-1-3-0", "CREATOR OWNER", WellKnownKind::Placeholder),
    ("S-1-3-1", "CREATOR GROUP", WellKnownKind::Placeholder),
    ("S-1-3-4", "OWNER RIGHTS", WellKnownKind::Placeholder),
    ("S-1-5-2", "NT AUTHORITY\\NETWORK", WellKnownKind::Group),
    ("S-1-5-4", "NT AUTHORITY\\INTERACTIVE", WellKnownKind::Group),
    ("S-1-5-6", "NT AUTHORITY\\SERVICE", WellKnownKind::Group),
    (
        "S-1-5-7",
        "NT AUTHORITY\\ANONYMOUS LOGON",
        WellKnownKind::Group,
    ),
    (
        "S-1-5-9",
        "NT AUTHORITY\\ENTERPRISE DOMAIN CONTROLLERS",
        WellKnownKind::Group,
    ),
    ("S-1-5-10", "NT AUTHORITY\\SELF", WellKnownKind::Placeholder),
    (
        "S-1-5-11",
        "NT AUTHORITY\\Authenticated Users",
        WellKnownKind::Group,
    ),
    ("S-1-5-18", "NT AUTHORITY\\SYSTEM", WellKnownKind::Account),
    (
        "S-1-5-19",
        "NT AUTHORITY\\LOCAL SERVICE",
        WellKnownKind::Account,
    ),
    (
        "S-1-5-20",
        "NT AUTHORITY\\NETWORK SERVICE",
        WellKnownKind::Account,
    ),
    (
        "S-1-5-32-544",
        "BUILTIN\\Administrators",
        WellKnownKind::Group,
    ),
    ("S-1-5-32-545", "BUILTIN\\Users", WellKnownKind::Group),
    ("S-1-5-32-546", "BUILTIN\\Guests", WellKnownKind::Group),
    ("S-1-5-32-547", "BUILTIN\\Power Users", WellKnownKind::Group),
    (
        "S-1-5-32-551",
        "BUILTIN\\Backup Operators",
        WellKnownKind::Group,
    ),
    (
        "S-1-16-4096",
        "Mandatory Label\\Low Mandatory Level",
        WellKnownKind::Placeholder,
    ),
    (
        "S-1-16-8192",
        "Mandatory Label\\Medium Mandatory Level",
        WellKnownKind::Placeholder,
    ),
    (
        "S-1-16-12288",
        "Mandatory Label\\High Mandatory Level",
        WellKnownKind::Placeholder,
    ),
    (
        "S-1-16-16384",
        "Mandatory Label\\System Mandatory Level",
        WellKnownKind::Placeholder,
    ),
];

impl Sid {
    /// A revision-1 SID.
    pub fn new(authority: u64, sub_authorities: impl Into<Vec<u32>>) -> Self {
        Sid {
            revision: 1,
            authority: authority & 0xffff_ffff_ffff,
            sub_authorities: sub_authorities.into(),
        }
    }

    /// Everyone (`S-1-1-0`).
    pub fn everyone() -> Self {
        Sid::new(1, [0])
    }

    /// Reads a binary SID at the start of `bytes`; returns it and the bytes
    /// it took (8 + 4 per sub-authority). `at` is the offset of `bytes` in
    /// the whole blob, for error messages.
    pub fn decode(bytes: &[u8], at: usize) -> Result<(Sid, usize), DecodeError> {
        let bad = |what: String| DecodeError::new("SID", at, what);
        if bytes.len() < 8 {
            return Err(bad(format!("needs at least 8 bytes, {} left", bytes.len())));
        }
        let revision = bytes[0];
        let count = usize::from(bytes[1]);
        if count > MAX_SUB_AUTHORITIES {
            return Err(bad(format!(
                "{count} sub-authorities (at most {MAX_SUB_AUTHORITIES})"
            )));
        }
        let len = 8 + 4 * count;
        if bytes.len() < len {
            return Err(bad(format!(
                "{count} sub-authorities need {len} bytes, {} left",
                bytes.len()
            )));
        }
        let authority = bytes[2..8]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let sub_authorities = bytes[8..len]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((
            Sid {
                revision,
                authority,
                sub_authorities,
            },
            len,
        ))
    }

    /// Reads a SID that must fill `bytes` exactly (an `objectSid` value).
    pub fn from_bytes(bytes: &[u8]) -> Result<Sid, DecodeError> {
        let (sid, n) = Sid::decode(bytes, 0)?;
        if n != bytes.len() {
            return Err(DecodeError::new(
                "SID",
                n,
                format!("{} bytes after the SID", bytes.len() - n),
            ));
        }
        Ok(sid)
    }

    /// Bytes of the binary form.
    pub fn encoded_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// Appends the binary form (at most [`MAX_SUB_AUTHORITIES`]
    /// sub-authorities are written; more cannot be represented).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let n = self.sub_authorities.len().min(MAX_SUB_AUTHORITIES);
        out.push(self.revision);
        out.push(n as u8);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..8]);
        for s in &self.sub_authorities[..n] {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut v);
        v
    }

    /// The last sub-authority (a domain account's relative id).
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// The name and kind of a SID that means the same everywhere
    /// (Everyone, SYSTEM, BUILTIN\Administrators, ...).
    pub fn well_known(&self) -> Option<(&'static str, WellKnownKind)> {
        let text = self.to_string();
        WELL_KNOWN
            .iter()
            .find(|(s, _, _)| *s == text)
            .map(|&(_, name, kind)| (name, kind))
    }

    /// The binary form escaped for an LDAP filter value (`\01\05\00...`,
    /// RFC 4515): `(objectSid=<this>)` finds the account.
    pub fn ldap_filter_value(&self) -> String {
        use fmt::Write;
        let mut s = String::with_capacity(3 * self.encoded_len());
        for b in self.to_bytes() {
            let _ = write!(s, "\\{b:02x}");
        }
        s
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Windows prints authorities of 2^32 and more in hex.
        if self.authority >= 1 << 32 {
            write!(f, "S-{}-0x{:012X}", self.revision, self.authority)?;
        } else {
            write!(f, "S-{}-{}", self.revision, self.authority)?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

/// A text SID that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SID: {text:?} ({why})")]
pub struct SidParseError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FromStr for Sid {
    type Err = SidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why| SidParseError {
            text: text.to_owned(),
            why,
        };
        let rest = text
            .strip_prefix("S-")
            .or_else(|| text.strip_prefix("s-"))
            .ok_or_else(|| err("does not start with S-"))?;
        let mut parts = rest.split('-');
        let revision = parts
            .next()
            .and_then(|p| p.parse::<u8>().ok())
            .ok_or_else(|| err("bad revision"))?;
        let auth = parts.next().ok_or_else(|| err("no authority"))?;
        let authority =
            if let Some(hex) = auth.strip_prefix("0x").or_else(|| auth.strip_prefix("0X")) {
                u64::from_str_radix(hex, 16).map_err(|_| err("bad authority"))?
            } else {
                auth.parse::<u64>().map_err(|_| err("bad authority"))?
            };
        if authority >= 1 << 48 {
            return Err(err("authority wider than 48 bits"));
        }
        let sub_authorities = parts
            .map(|p| p.parse::<u32>().map_err(|_| err("bad sub-authority")))
            .collect::<Result<Vec<_>, _>>()?;
        if sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(err("more than 15 sub-authorities"));
        }
        Ok(Sid {
            revision,
            authority,
            sub_authorities,
        })
    }
}

impl Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_agree() {
        let sid: Sid = "S-1-5-21-1004336348-1177238915-682003330-512"
            .parse()
            .unwrap();
        assert_eq!(sid.authority, 5);
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(
            sid.to_string(),
            "S-1-5-21-1004336348-1177238915-682003330-512"
        );
        let bytes = sid.to_bytes();
        assert_eq!(&bytes[..8], &[1, 5, 0, 0, 0, 0, 0, 5]);
        assert_eq!(Sid::from_bytes(&bytes).unwrap(), sid);
        assert!(
            sid.ldap_filter_value()
                .starts_with("\\01\\05\\00\\00\\00\\00\\00\\05\\15\\00")
        );
    }

    #[test]
    fn well_known_names() {
        assert_eq!(Sid::everyone().well_known().unwrap().0, "Everyone");
        let admins: Sid = "S-1-5-32-544".parse().unwrap();
        assert_eq!(admins.well_known().unwrap().0, "BUILTIN\\Administrators");
        let user: Sid = "S-1-5-21-1-2-3-1001".parse().unwrap();
        assert!(user.well_known().is_none());
    }

    #[test]
    fn bad_sids_are_errors() {
        for t in [
            "",
            "S-",
            "S-1",
            "X-1-5",
            "S-1-5-x",
            "S-1-281474976710656",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(t.parse::<Sid>().is_err(), "{t}");
        }
        assert!(Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0]).is_err());
        assert!(Sid::from_bytes(&[1, 16, 0, 0, 0, 0, 0, 5]).is_err());
        let big = Sid::new(0x1234_5678_9abc, [7]);
        assert_eq!(big.to_string(), "S-1-0x123456789ABC-7");
        assert_eq!(big.to_string().parse::<Sid>().unwrap(), big);
    }
}
