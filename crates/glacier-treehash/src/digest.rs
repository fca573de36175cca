//! The 32-byte digest type and its hex form.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A SHA-256 tree hash (or the SHA-256 of one 1 MiB chunk, which is a leaf of
/// the tree).
///
/// It prints as 64 lowercase hex digits, the form AWS uses in its
/// `x-amz-sha256-tree-hash` headers and mt-aws-glacier in its journal, and
/// parses back from the same form (upper-case digits are accepted too).
///
/// ```
/// use glacier_treehash::TreeHash;
///
/// let empty = TreeHash::EMPTY;
/// assert_eq!(
///     empty.to_string(),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// let parsed: TreeHash = empty.to_string().parse().unwrap();
/// assert_eq!(parsed, empty);
/// assert!("xyz".parse::<TreeHash>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeHash([u8; 32]);

impl TreeHash {
    /// The tree hash of empty input: the SHA-256 of the empty string, as AWS
    /// defines it for a zero-byte archive.
    pub const EMPTY: TreeHash = TreeHash([
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55,
    ]);

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        TreeHash(bytes)
    }

    /// The 32 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 32 raw bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The SHA-256 of `data`: the leaf hash of one chunk of at most 1 MiB.
    pub fn leaf(data: &[u8]) -> Self {
        TreeHash(Sha256::digest(data).into())
    }

    /// The parent of two nodes: SHA-256 of the two digests concatenated.
    pub fn parent(left: &TreeHash, right: &TreeHash) -> Self {
        let mut h = Sha256::new();
        h.update(left.0);
        h.update(right.0);
        TreeHash(h.finalize().into())
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, ParseTreeHashError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(ParseTreeHashError::WrongLength { length: s.len() });
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(|| invalid_char(s, 2 * i))?;
            let lo = hex_value(pair[1]).ok_or_else(|| invalid_char(s, 2 * i + 1))?;
            out[i] = (hi << 4) | lo;
        }
        Ok(TreeHash(out))
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn invalid_char(s: &str, position: usize) -> ParseTreeHashError {
    // `position` indexes bytes; the input is 64 bytes, but may hold multi-byte
    // characters, so report the character that starts at or covers it.
    let character = s
        .char_indices()
        .take_while(|(i, _)| *i <= position)
        .last()
        .map_or('\u{fffd}', |(_, c)| c);
    ParseTreeHashError::InvalidDigit {
        character,
        position,
    }
}

impl fmt::Display for TreeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = DIGITS[usize::from(b >> 4)];
            buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        // The buffer holds ASCII hex digits only.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TreeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreeHash({self})")
    }
}

impl FromStr for TreeHash {
    type Err = ParseTreeHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TreeHash::from_hex(s)
    }
}

impl AsRef<[u8]> for TreeHash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; 32]> for TreeHash {
    fn from(bytes: [u8; 32]) -> Self {
        TreeHash(bytes)
    }
}

impl From<TreeHash> for [u8; 32] {
    fn from(hash: TreeHash) -> Self {
        hash.0
    }
}

/// Why a string is not a tree hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseTreeHashError {
    /// A tree hash is exactly 64 hex digits.
    WrongLength {
        /// The length that was given, in bytes.
        length: usize,
    },
    /// A character that is not a hex digit.
    InvalidDigit {
        /// The offending character.
        character: char,
        /// Its byte offset in the input.
        position: usize,
    },
}

impl fmt::Display for ParseTreeHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseTreeHashError::WrongLength { length } => write!(
                f,
                "a tree hash is 64 hex digits, but {length} characters were given"
            ),
            ParseTreeHashError::InvalidDigit {
                character,
                position,
            } => write!(
                f,
                "invalid hex digit {character:?} at position {position} of a tree hash"
            ),
        }
    }
}

impl std::error::Error for ParseTreeHashError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_sha256_of_nothing() {
        assert_eq!(TreeHash::leaf(b""), TreeHash::EMPTY);
    }

    #[test]
    fn hex_round_trip_and_case() {
        let h = TreeHash::leaf(b"abc");
        let s = h.to_string();
        assert_eq!(s.len(), 64);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(s.parse::<TreeHash>().unwrap(), h);
        assert_eq!(s.to_uppercase().parse::<TreeHash>().unwrap(), h);
    }

    #[test]
    fn parse_errors_are_precise() {
        assert_eq!(
            "abc".parse::<TreeHash>(),
            Err(ParseTreeHashError::WrongLength { length: 3 })
        );
        let mut s = TreeHash::EMPTY.to_string();
        s.replace_range(10..11, "g");
        let err = s.parse::<TreeHash>().unwrap_err();
        assert_eq!(
            err,
            ParseTreeHashError::InvalidDigit {
                character: 'g',
                position: 10
            }
        );
        assert!(err.to_string().contains("position 10"));
        // 62 ASCII digits and one two-byte character: 64 bytes, still rejected.
        let mut s = "0".repeat(62);
        s.push('é');
        assert!(matches!(
            s.parse::<TreeHash>(),
            Err(ParseTreeHashError::InvalidDigit {
                character: 'é',
                position: 62
            })
        ));
    }
}
