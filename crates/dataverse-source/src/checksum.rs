//! Dataverse's checksum types and hashing while streaming.

use std::fmt;
use std::io::{self, Read};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// The checksum algorithm Dataverse recorded for a file
/// (`datafile.checksumtype`).
///
/// Dataverse stores the Java enum's name (`MD5`, `SHA1`, `SHA256`,
/// `SHA512`); the display names (`SHA-1`, ...) and any letter case are
/// read too. Anything else is [`ChecksumType::Unknown`], kept by name so a
/// report can say which type it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// MD5 (Dataverse's default).
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
    /// A type this crate cannot compute, as the database spells it.
    Unknown(String),
}

impl ChecksumType {
    /// Reads a `datafile.checksumtype` value.
    pub fn parse(name: &str) -> Self {
        let norm: String = name
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        match norm.as_str() {
            "MD5" => ChecksumType::Md5,
            "SHA1" => ChecksumType::Sha1,
            "SHA256" => ChecksumType::Sha256,
            "SHA512" => ChecksumType::Sha512,
            _ => ChecksumType::Unknown(name.to_owned()),
        }
    }

    /// The name Dataverse stores for this type (`MD5`, `SHA1`, `SHA256`,
    /// `SHA512`, or the unknown name as read).
    pub fn name(&self) -> &str {
        match self {
            ChecksumType::Md5 => "MD5",
            ChecksumType::Sha1 => "SHA1",
            ChecksumType::Sha256 => "SHA256",
            ChecksumType::Sha512 => "SHA512",
            ChecksumType::Unknown(name) => name,
        }
    }

    /// The coreutils command that prints this checksum (`md5sum`, ...),
    /// `None` for an unknown type.
    pub fn sum_command(&self) -> Option<&'static str> {
        match self {
            ChecksumType::Md5 => Some("md5sum"),
            ChecksumType::Sha1 => Some("sha1sum"),
            ChecksumType::Sha256 => Some("sha256sum"),
            ChecksumType::Sha512 => Some("sha512sum"),
            ChecksumType::Unknown(_) => None,
        }
    }

    /// A hasher for this type, `None` for an unknown type.
    pub fn hasher(&self) -> Option<Hasher> {
        Some(match self {
            ChecksumType::Md5 => Hasher::Md5(Md5::new()),
            ChecksumType::Sha1 => Hasher::Sha1(Sha1::new()),
            ChecksumType::Sha256 => Hasher::Sha256(Sha256::new()),
            ChecksumType::Sha512 => Hasher::Sha512(Box::new(Sha512::new())),
            ChecksumType::Unknown(_) => return None,
        })
    }

    /// Whether this crate can compute it.
    pub fn is_known(&self) -> bool {
        !matches!(self, ChecksumType::Unknown(_))
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum as Dataverse records it: a type and a hex value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The algorithm.
    pub kind: ChecksumType,
    /// The value, lowercase hex as Dataverse writes it (compared without
    /// regard to case).
    pub value: String,
}

impl Checksum {
    /// A checksum of `kind` with `value`.
    pub fn new(kind: ChecksumType, value: impl Into<String>) -> Self {
        Checksum {
            kind,
            value: value.into(),
        }
    }

    /// Whether `hex` (another computation of the same type) matches.
    pub fn matches(&self, hex: &str) -> bool {
        self.value.trim().eq_ignore_ascii_case(hex.trim())
    }

    /// Computes the checksum of type `kind` over `content`, reading it to
    /// the end. `None` for an unknown type.
    pub fn compute(kind: &ChecksumType, content: &mut dyn Read) -> io::Result<Option<String>> {
        let Some(mut hasher) = kind.hasher() else {
            return Ok(None);
        };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
        }
        Ok(Some(hasher.finish_hex()))
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// One running digest of a known [`ChecksumType`].
#[derive(Clone)]
pub enum Hasher {
    /// MD5.
    Md5(Md5),
    /// SHA-1.
    Sha1(Sha1),
    /// SHA-256.
    Sha256(Sha256),
    /// SHA-512 (boxed: its state is the largest).
    Sha512(Box<Sha512>),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Hasher::Md5(_) => "MD5",
            Hasher::Sha1(_) => "SHA1",
            Hasher::Sha256(_) => "SHA256",
            Hasher::Sha512(_) => "SHA512",
        };
        f.debug_tuple("Hasher").field(&name).finish()
    }
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest as lowercase hex.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Md5(h) => hex(&h.finalize()),
            Hasher::Sha1(h) => hex(&h.finalize()),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// A reader that hashes and counts what passes through it, so the
/// checksum of a file is known the moment it has been copied (never a
/// second read).
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`, hashing with `kind` (only counting for an unknown
    /// type).
    pub fn new(inner: R, kind: &ChecksumType) -> Self {
        HashingReader {
            inner,
            hasher: kind.hasher(),
            bytes: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The byte count and the hex digest of everything read (`None` for an
    /// unknown type).
    pub fn finish(self) -> (u64, Option<String>) {
        (self.bytes, self.hasher.map(Hasher::finish_hex))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dataverse_names_and_display_names() {
        assert_eq!(ChecksumType::parse("MD5"), ChecksumType::Md5);
        assert_eq!(ChecksumType::parse("SHA1"), ChecksumType::Sha1);
        assert_eq!(ChecksumType::parse("SHA-1"), ChecksumType::Sha1);
        assert_eq!(ChecksumType::parse("sha-256"), ChecksumType::Sha256);
        assert_eq!(ChecksumType::parse("SHA512"), ChecksumType::Sha512);
        assert_eq!(
            ChecksumType::parse("BLAKE3"),
            ChecksumType::Unknown("BLAKE3".into())
        );
        assert_eq!(ChecksumType::parse("BLAKE3").name(), "BLAKE3");
    }

    #[test]
    fn known_digests() {
        let cases = [
            (ChecksumType::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (
                ChecksumType::Sha1,
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                ChecksumType::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                ChecksumType::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (kind, want) in cases {
            let got = Checksum::compute(&kind, &mut &b"abc"[..]).unwrap();
            assert_eq!(got.as_deref(), Some(want), "{kind}");
            let mut r = HashingReader::new(&b"abc"[..], &kind);
            io::copy(&mut r, &mut io::sink()).unwrap();
            assert_eq!(r.finish(), (3, Some(want.to_owned())));
            assert!(Checksum::new(kind, want.to_uppercase()).matches(want));
        }
    }

    #[test]
    fn unknown_type_only_counts() {
        let kind = ChecksumType::parse("CRC32");
        let mut r = HashingReader::new(&b"hello"[..], &kind);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.finish(), (5, None));
        assert_eq!(Checksum::compute(&kind, &mut &b"x"[..]).unwrap(), None);
    }
}
