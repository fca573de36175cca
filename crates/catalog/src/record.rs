//! The compact encoding of a file's less-queried fields (one BLOB column).
//!
//! Searched fields (path, size, mtime) are plain columns; the rest is one
//! blob, which keeps rows short and inserts fast:
//!
//! ```text
//! flags: u8        bit 0 atime, 1 ctime, 2 uid, 3 gid, 4 sha256, 5 symlink,
//!                  6 member, 7 member's packed range
//! mode             varint
//! atime - mtime    zigzag varint      (if bit 0)
//! ctime - mtime    zigzag varint      (if bit 1)
//! uid, gid         varint             (if bits 2, 3)
//! sha256           32 bytes           (if bit 4)
//! symlink          varint length, UTF-8 bytes (if bit 5)
//! member           index varint, offset varint (if bit 6)
//! packed           start varint, end - start varint, offset - origin varint (if bit 7)
//! ```
//!
//! Varints are LEB128. A future layout takes a new flags byte value space
//! only through a schema migration.

use crate::model::{FileEntry, MemberLocation, PackedRange};

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[allow(clippy::cast_sign_loss)] // zigzag is a bit-level mapping
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[allow(clippy::cast_possible_wrap)] // zigzag is a bit-level mapping
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes the blob fields of `f` into `out` (cleared first).
pub(crate) fn encode(f: &FileEntry, out: &mut Vec<u8>) {
    out.clear();
    let mut flags = 0u8;
    for (bit, present) in [
        f.atime.is_some(),
        f.ctime.is_some(),
        f.uid.is_some(),
        f.gid.is_some(),
        f.sha256.is_some(),
        f.symlink.is_some(),
        f.member.is_some(),
        f.member.is_some_and(|m| m.packed.is_some()),
    ]
    .into_iter()
    .enumerate()
    {
        if present {
            flags |= 1 << bit;
        }
    }
    out.push(flags);
    put(out, u64::from(f.mode));
    if let Some(a) = f.atime {
        put(out, zigzag(a.wrapping_sub(f.mtime)));
    }
    if let Some(c) = f.ctime {
        put(out, zigzag(c.wrapping_sub(f.mtime)));
    }
    if let Some(u) = f.uid {
        put(out, u64::from(u));
    }
    if let Some(g) = f.gid {
        put(out, u64::from(g));
    }
    if let Some(h) = &f.sha256 {
        out.extend_from_slice(h);
    }
    if let Some(l) = &f.symlink {
        put(out, l.len() as u64);
        out.extend_from_slice(l.as_bytes());
    }
    if let Some(m) = f.member {
        put(out, m.index);
        put(out, m.offset);
        if let Some(p) = m.packed {
            put(out, p.start);
            put(out, p.end.wrapping_sub(p.start));
            put(out, m.offset.wrapping_sub(p.origin));
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn var(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
}

/// Decodes a blob into the fields of `f` (whose `mtime` must be set);
/// `None` when the blob is malformed.
pub(crate) fn decode(blob: &[u8], f: &mut FileEntry) -> Option<()> {
    let mut r = Reader(blob);
    let flags = *r.bytes(1)?.first()?;
    let has = |bit: u8| flags & (1 << bit) != 0;
    f.mode = u32::try_from(r.var()?).ok()?;
    if has(0) {
        f.atime = Some(f.mtime.wrapping_add(unzigzag(r.var()?)));
    }
    if has(1) {
        f.ctime = Some(f.mtime.wrapping_add(unzigzag(r.var()?)));
    }
    if has(2) {
        f.uid = Some(u32::try_from(r.var()?).ok()?);
    }
    if has(3) {
        f.gid = Some(u32::try_from(r.var()?).ok()?);
    }
    if has(4) {
        f.sha256 = Some(r.bytes(32)?.try_into().ok()?);
    }
    if has(5) {
        let n = usize::try_from(r.var()?).ok()?;
        f.symlink = Some(String::from_utf8(r.bytes(n)?.to_vec()).ok()?);
    }
    if has(6) {
        let index = r.var()?;
        let offset = r.var()?;
        let packed = if has(7) {
            let start = r.var()?;
            let end = start.wrapping_add(r.var()?);
            let origin = offset.wrapping_sub(r.var()?);
            Some(PackedRange { start, end, origin })
        } else {
            None
        };
        f.member = Some(MemberLocation {
            index,
            offset,
            packed,
        });
    }
    r.0.is_empty().then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(
            mtime in any::<i64>(), atime in any::<Option<i64>>(), ctime in any::<Option<i64>>(),
            mode in any::<u32>(), uid in any::<Option<u32>>(), gid in any::<Option<u32>>(),
            sha in any::<Option<[u8; 32]>>(), link in any::<Option<String>>(),
            member in any::<Option<(u64, u64, Option<(u64, u64, u64)>)>>(),
        ) {
            let f = FileEntry {
                path: "/x".into(), size: 1, mtime, atime, ctime, mode, uid, gid, owner: None, group: None, acls: Vec::new(),
                sha256: sha, symlink: link,
                member: member.map(|(index, offset, p)| MemberLocation {
                    index, offset, packed: p.map(|(start, end, origin)| PackedRange { start, end, origin }),
                }),
            };
            let mut blob = Vec::new();
            encode(&f, &mut blob);
            let mut g = FileEntry { path: "/x".into(), size: 1, mtime, ..FileEntry::default() };
            prop_assert_eq!(decode(&blob, &mut g), Some(()));
            prop_assert_eq!(g, f);
            // Truncation is detected, never misread.
            for n in 0..blob.len() {
                let mut h = FileEntry { mtime, ..FileEntry::default() };
                prop_assert_eq!(decode(&blob[..n], &mut h), None);
            }
        }
    }
}
