//! The bundle index: what a catalog stores, and what each bundle carries as
//! its last member.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::walk::Timestamp;

/// Name of the tar member that holds the index, the last one of a bundle.
pub const INDEX_MEMBER: &str = ".permafrost/index.json";

/// Version tag written in every index.
pub const FORMAT: &str = "permafrost-bundle/1";

/// How the tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Independent zstd frames (the default), readable by `zstd -d`.
    #[default]
    Zstd,
    /// Independent gzip members, readable by `gzip -d`.
    Gzip,
    /// Plain tar.
    None,
}

impl Compression {
    /// The usual file name suffix (`.tar.zst`, `.tar.gz`, `.tar`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Zstd => ".tar.zst",
            Self::Gzip => ".tar.gz",
            Self::None => ".tar",
        }
    }
}

/// A half-open byte range `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// One independently decompressible frame of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Where its content starts in the tar stream.
    pub tar_offset: u64,
    /// How many tar bytes it holds.
    pub tar_len: u64,
    /// Its compressed bytes in the (unencrypted) bundle stream.
    pub compressed: ByteRange,
}

/// A member name: bytes, shown as a string when they are UTF-8 and as
/// `{"hex": "..."}` otherwise, so JSON keeps any name exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MemberPath(pub Vec<u8>);

impl MemberPath {
    /// Lossy text for display.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl From<&str> for MemberPath {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum PathRepr {
    Text(String),
    Hex { hex: String },
}

impl Serialize for MemberPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(t) => s.serialize_str(t),
            Err(_) => PathRepr::Hex { hex: hex(&self.0) }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MemberPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match PathRepr::deserialize(d)? {
            PathRepr::Text(t) => Ok(Self(t.into_bytes())),
            PathRepr::Hex { hex: h } => unhex(&h)
                .map(Self)
                .ok_or_else(|| serde::de::Error::custom("bad hex in member path")),
        }
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What kind of member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Hard link to an earlier member (`link`), possibly in an earlier
    /// bundle of the same run.
    HardLink,
}

/// Everything the index knows about one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberIndex {
    /// The member name.
    pub path: MemberPath,
    /// File, directory, symlink or hard link.
    pub kind: MemberKind,
    /// Link target for symlinks and hard links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<MemberPath>,
    /// Content size.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Modification time.
    pub mtime: Timestamp,
    /// SHA-256 of the content, hex (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Offset of the member's first header block (PAX header included) in
    /// the tar stream.
    pub tar_offset: u64,
    /// Offset of its content in the tar stream.
    pub data_offset: u64,
    /// The frames holding it, `first..=last` indexes into
    /// [`BundleIndex::frames`].
    pub frames: (u32, u32),
    /// The compressed (unencrypted) byte range of those frames: all a
    /// reader needs to get this member.
    pub range: ByteRange,
    /// Set when the file changed size or could not be read part-way while it
    /// was bundled: the member holds what was read, zero-padded to `size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A walked entry that could not be bundled (it vanished or could not be
/// opened); the bundle was made without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The member name it would have had.
    pub path: MemberPath,
    /// Why.
    pub message: String,
}

/// How the bundle is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionInfo {
    /// Always `age`.
    pub scheme: AgeScheme,
    /// Bytes of the age header (and payload nonce) before the first chunk.
    pub header_len: u64,
    /// Plaintext bytes per age STREAM chunk (65536); each chunk adds a
    /// 16-byte tag.
    pub chunk_size: u64,
    /// Whether one member can be read from byte ranges of the encrypted
    /// bundle (see [`BundleIndex::encrypted_range`]).
    pub ranged_reads: bool,
}

/// Encryption scheme tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgeScheme {
    /// age v1 (`age-encryption.org/v1`).
    Age,
}

/// The index of one bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleIndex {
    /// [`FORMAT`].
    pub format: String,
    /// The compression of the tar stream.
    pub compression: Compression,
    /// Present when the bundle is age-encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionInfo>,
    /// The frames of the members, in order (the index's own frame is not
    /// listed).
    pub frames: Vec<Frame>,
    /// The members, in tar order.
    pub members: Vec<MemberIndex>,
    /// Entries left out because they could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Tar offset of the index member (the end of the members).
    pub tar_len: u64,
    /// Compressed offset where the index member's frame starts.
    pub compressed_len: u64,
}

impl BundleIndex {
    /// The member named `path`.
    pub fn member(&self, path: &[u8]) -> Option<&MemberIndex> {
        self.members.iter().find(|m| m.path.0 == path)
    }

    /// Total content bytes.
    pub fn content_bytes(&self) -> u64 {
        self.members.iter().map(|m| m.size).sum()
    }

    /// The byte range of the stored bundle (encrypted when the bundle is)
    /// that holds the compressed range `r`: for age, the whole 64 KiB
    /// chunks (plus tags) covering it. A ranged reader also needs the age
    /// header, `0..header_len`.
    pub fn encrypted_range(&self, r: ByteRange) -> ByteRange {
        match self.encryption {
            None => r,
            Some(e) => {
                let enc = e.chunk_size + 16;
                let first = r.start / e.chunk_size;
                let last = r.end.div_ceil(e.chunk_size);
                ByteRange {
                    start: e.header_len + first * enc,
                    end: e.header_len + last * enc,
                }
            }
        }
    }
}

/// The bytes of the zstd skippable frame that ends a zstd bundle and points
/// at the index frame: magic `0x184D2A5E`, length 24, `PFIX`, version 1,
/// offset and length of the index frame (little endian).
pub(crate) const TRAILER_LEN: usize = 32;

pub(crate) fn trailer(index_frame: ByteRange) -> [u8; TRAILER_LEN] {
    let mut t = [0u8; TRAILER_LEN];
    t[0..4].copy_from_slice(&0x184D_2A5E_u32.to_le_bytes());
    t[4..8].copy_from_slice(&24u32.to_le_bytes());
    t[8..12].copy_from_slice(b"PFIX");
    t[12..16].copy_from_slice(&1u32.to_le_bytes());
    t[16..24].copy_from_slice(&index_frame.start.to_le_bytes());
    t[24..32].copy_from_slice(&index_frame.len().to_le_bytes());
    t
}

pub(crate) fn parse_trailer(t: &[u8]) -> Option<ByteRange> {
    if t.len() != TRAILER_LEN
        || t[0..4] != 0x184D_2A5E_u32.to_le_bytes()
        || t[4..8] != 24u32.to_le_bytes()
        || &t[8..12] != b"PFIX"
        || t[12..16] != 1u32.to_le_bytes()
    {
        return None;
    }
    let start = u64::from_le_bytes(t[16..24].try_into().ok()?);
    let len = u64::from_le_bytes(t[24..32].try_into().ok()?);
    Some(ByteRange {
        start,
        end: start.checked_add(len)?,
    })
}
