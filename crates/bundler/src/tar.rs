//! Writing and reading POSIX tar headers (ustar with PAX extended headers).
//!
//! Written by hand: the layout is fixed, a header is built in a few hundred
//! nanoseconds, and reading needs strict checks (hostile input) that a
//! general-purpose tar reader does not make for us.

use crate::error::{BundleError, Result};
use crate::walk::Timestamp;

/// The tar block size.
pub(crate) const BLOCK: usize = 512;

/// Member type, as written in the header's type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeFlag {
    File,
    HardLink,
    Symlink,
    Dir,
}

impl TypeFlag {
    fn byte(self) -> u8 {
        match self {
            Self::File => b'0',
            Self::HardLink => b'1',
            Self::Symlink => b'2',
            Self::Dir => b'5',
        }
    }
}

/// What a header describes (after PAX records were applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) path: Vec<u8>,
    pub(crate) kind: TypeFlag,
    pub(crate) size: u64,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: Timestamp,
    pub(crate) link: Vec<u8>,
}

/// Bytes of content padding after `size` bytes.
pub(crate) fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

fn octal(field: &mut [u8], v: u64) -> bool {
    // `len - 1` digits and a NUL.
    let digits = field.len() - 1;
    if digits < 22 && v >= 1u64 << (3 * digits) {
        return false;
    }
    let mut v = v;
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (v & 7) as u8;
        v >>= 3;
    }
    field[digits] = 0;
    true
}

fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    // "<len> <key>=<value>\n", where len counts itself.
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = len.to_string().len() + rest;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[allow(clippy::too_many_arguments)] // the ustar fields, in order
fn ustar_block(
    name: &[u8],
    kind: u8,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    link: &[u8],
) -> ([u8; BLOCK], bool) {
    let mut b = [0u8; BLOCK];
    let mut fits = true;
    let n = name.len().min(100);
    b[..n].copy_from_slice(&name[..n]);
    fits &= name.len() <= 100;
    fits &= octal(&mut b[100..108], u64::from(mode));
    fits &= octal(&mut b[108..116], u64::from(uid));
    fits &= octal(&mut b[116..124], u64::from(gid));
    fits &= octal(&mut b[124..136], size);
    fits &= octal(&mut b[136..148], u64::try_from(mtime).unwrap_or(0));
    fits &= mtime >= 0;
    b[156] = kind;
    let l = link.len().min(100);
    b[157..157 + l].copy_from_slice(&link[..l]);
    fits &= link.len() <= 100;
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    octal(&mut b[329..337], 0);
    octal(&mut b[337..345], 0);
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    octal(&mut b[148..155], u64::from(sum));
    b[155] = b' ';
    (b, fits)
}

/// Append the header block(s) of a member to `out`: a PAX extended header
/// first when the name, link, size, owner or sub-second mtime does not fit
/// the plain ustar fields.
pub(crate) fn write_header(out: &mut Vec<u8>, h: &Header) {
    let mut pax = Vec::new();
    let ascii_ok = |b: &[u8]| b.len() <= 100 && b.iter().all(|&c| c.is_ascii() && c != 0);
    let binary = std::str::from_utf8(&h.path).is_err() || std::str::from_utf8(&h.link).is_err();
    if binary {
        pax_record(&mut pax, "hdrcharset", b"BINARY");
    }
    if !ascii_ok(&h.path) {
        pax_record(&mut pax, "path", &h.path);
    }
    if !h.link.is_empty() && !ascii_ok(&h.link) {
        pax_record(&mut pax, "linkpath", &h.link);
    }
    if h.size >= 1 << 33 {
        pax_record(&mut pax, "size", h.size.to_string().as_bytes());
    }
    if h.uid >= 1 << 21 {
        pax_record(&mut pax, "uid", h.uid.to_string().as_bytes());
    }
    if h.gid >= 1 << 21 {
        pax_record(&mut pax, "gid", h.gid.to_string().as_bytes());
    }
    if h.mtime.nanos != 0 || h.mtime.secs < 0 || h.mtime.secs >= 1 << 33 {
        let v = if h.mtime.nanos == 0 {
            h.mtime.secs.to_string()
        } else if h.mtime.secs >= 0 {
            format!("{}.{:09}", h.mtime.secs, h.mtime.nanos)
        } else {
            // -1.25 s is secs = -2, nanos = 750_000_000.
            let total = i128::from(h.mtime.secs) * 1_000_000_000 + i128::from(h.mtime.nanos);
            let a = total.unsigned_abs();
            format!("-{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
        };
        pax_record(&mut pax, "mtime", v.as_bytes());
    }
    if !pax.is_empty() {
        let (b, _) = ustar_block(
            b"././@PaxHeader",
            b'x',
            pax.len() as u64,
            0o644,
            0,
            0,
            0,
            b"",
        );
        out.extend_from_slice(&b);
        let plen = pax.len() as u64;
        out.extend_from_slice(&pax);
        out.resize(out.len() + padding(plen), 0);
    }
    let clamp = |v: u32| if v >= 1 << 21 { 0 } else { v };
    let mtime = if (0..1 << 33).contains(&h.mtime.secs) {
        h.mtime.secs
    } else {
        0
    };
    let size = if h.size >= 1 << 33 { 0 } else { h.size };
    let (b, _) = ustar_block(
        &h.path,
        h.kind.byte(),
        size,
        h.mode,
        clamp(h.uid),
        clamp(h.gid),
        mtime,
        &h.link,
    );
    out.extend_from_slice(&b);
}

/// Size of what [`write_header`] writes for `h`.
#[cfg(test)]
pub(crate) fn header_len(h: &Header) -> usize {
    let mut v = Vec::new();
    write_header(&mut v, h);
    v.len()
}

fn parse_octal(field: &[u8], offset: u64, what: &str) -> Result<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        // GNU base-256.
        if field[0] & 0x40 != 0 {
            return Err(BundleError::corrupt(offset, format!("negative {what}")));
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(b)))
                .ok_or_else(|| BundleError::corrupt(offset, format!("{what} overflows")))?;
        }
        return Ok(v);
    }
    let mut v: u64 = 0;
    let mut seen = false;
    for &b in field {
        match b {
            b'0'..=b'7' => {
                seen = true;
                v = v
                    .checked_mul(8)
                    .map(|v| v + u64::from(b - b'0'))
                    .ok_or_else(|| BundleError::corrupt(offset, format!("{what} overflows")))?;
            }
            b' ' if !seen => {}
            0 | b' ' => break,
            _ => {
                return Err(BundleError::corrupt(
                    offset,
                    format!("{what} field is not an octal number"),
                ));
            }
        }
    }
    Ok(v)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// The outcome of looking at one 512-byte block.
#[derive(Debug)]
pub(crate) enum Block {
    /// An all-zero block: the end of the archive.
    End,
    /// A PAX extended header (`x`) with this many bytes of records.
    Pax(u64),
    /// A PAX global header (`g`) with this many bytes (ignored).
    GlobalPax(u64),
    /// A GNU long name (`L`) or long link (`K`) of this many bytes.
    GnuLong { link: bool, len: u64 },
    /// A member header.
    Member(Header),
}

/// Parse one header block at tar offset `offset`.
pub(crate) fn parse_block(b: &[u8; BLOCK], offset: u64) -> Result<Block> {
    if b.iter().all(|&x| x == 0) {
        return Ok(Block::End);
    }
    let stored = parse_octal(&b[148..156], offset, "checksum")?;
    let unsigned: u64 = b
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(x)
            }
        })
        .sum();
    let signed: i64 = b
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(x.cast_signed())
            }
        })
        .sum();
    if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
        return Err(BundleError::corrupt(offset, "header checksum mismatch"));
    }
    let size = parse_octal(&b[124..136], offset, "size")?;
    let flag = b[156];
    match flag {
        b'x' => return Ok(Block::Pax(size)),
        b'g' => return Ok(Block::GlobalPax(size)),
        b'L' => {
            return Ok(Block::GnuLong {
                link: false,
                len: size,
            });
        }
        b'K' => {
            return Ok(Block::GnuLong {
                link: true,
                len: size,
            });
        }
        _ => {}
    }
    let kind = match flag {
        b'0' | 0 | b'7' => TypeFlag::File,
        b'1' => TypeFlag::HardLink,
        b'2' => TypeFlag::Symlink,
        b'5' => TypeFlag::Dir,
        other => {
            return Err(BundleError::corrupt(
                offset,
                format!("unsupported member type {:?}", char::from(other)),
            ));
        }
    };
    let mut path = cstr(&b[..100]).to_vec();
    if &b[257..262] == b"ustar" {
        let prefix = cstr(&b[345..500]);
        if !prefix.is_empty() {
            let mut p = prefix.to_vec();
            p.push(b'/');
            p.extend_from_slice(&path);
            path = p;
        }
    }
    Ok(Block::Member(Header {
        path,
        kind,
        size: if matches!(kind, TypeFlag::File) {
            size
        } else {
            0
        },
        mode: parse_octal(&b[100..108], offset, "mode")? as u32 & 0o7777,
        uid: parse_octal(&b[108..116], offset, "uid")? as u32,
        gid: parse_octal(&b[116..124], offset, "gid")? as u32,
        mtime: Timestamp {
            secs: i64::try_from(parse_octal(&b[136..148], offset, "mtime")?).unwrap_or(0),
            nanos: 0,
        },
        link: cstr(&b[157..257]).to_vec(),
    }))
}

/// Overrides read from a PAX extended header.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pax {
    pub(crate) path: Option<Vec<u8>>,
    pub(crate) link: Option<Vec<u8>>,
    pub(crate) size: Option<u64>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) mtime: Option<Timestamp>,
}

fn parse_time(v: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = whole.parse().ok()?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut f = frac
        .as_bytes()
        .iter()
        .take(9)
        .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    for _ in frac.len().min(9)..9 {
        f *= 10;
    }
    let total = i128::from(secs) * 1_000_000_000 + i128::from(f);
    let total = if neg { -total } else { total };
    Some(Timestamp {
        secs: i64::try_from(total.div_euclid(1_000_000_000)).ok()?,
        nanos: total.rem_euclid(1_000_000_000) as u32,
    })
}

/// Parse PAX records (`<len> <key>=<value>\n`...).
pub(crate) fn parse_pax(mut data: &[u8], offset: u64) -> Result<Pax> {
    let bad = |m: &str| BundleError::corrupt(offset, format!("bad PAX record: {m}"));
    let mut pax = Pax::default();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let sp = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("no length"))?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("length is not a number"))?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad("length out of range"));
        }
        let rec = &data[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("no '='"))?;
        let (k, v) = (&rec[..eq], &rec[eq + 1..]);
        let num = |v: &[u8]| -> Result<u64> {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("value is not a number"))
        };
        match k {
            b"path" => pax.path = Some(v.to_vec()),
            b"linkpath" => pax.link = Some(v.to_vec()),
            b"size" => pax.size = Some(num(v)?),
            b"uid" => pax.uid = Some(u32::try_from(num(v)?).map_err(|_| bad("uid too large"))?),
            b"gid" => pax.gid = Some(u32::try_from(num(v)?).map_err(|_| bad("gid too large"))?),
            b"mtime" => pax.mtime = Some(parse_time(v).ok_or_else(|| bad("mtime"))?),
            _ => {}
        }
        data = &data[len..];
    }
    Ok(pax)
}

impl Header {
    pub(crate) fn apply(&mut self, pax: Pax) {
        if let Some(p) = pax.path {
            self.path = p;
        }
        if let Some(l) = pax.link {
            self.link = l;
        }
        if let Some(s) = pax.size
            && matches!(self.kind, TypeFlag::File)
        {
            self.size = s;
        }
        if let Some(u) = pax.uid {
            self.uid = u;
        }
        if let Some(g) = pax.gid {
            self.gid = g;
        }
        if let Some(t) = pax.mtime {
            self.mtime = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(h: &Header) -> Header {
        let mut v = Vec::new();
        write_header(&mut v, h);
        let mut pax = Pax::default();
        let mut off = 0;
        loop {
            let b: &[u8; BLOCK] = v[off..off + BLOCK].try_into().unwrap();
            match parse_block(b, off as u64).unwrap() {
                Block::Pax(n) => {
                    pax = parse_pax(&v[off + BLOCK..off + BLOCK + n as usize], 0).unwrap();
                    off += BLOCK + n as usize + padding(n);
                }
                Block::Member(mut m) => {
                    m.apply(pax);
                    assert_eq!(off + BLOCK, v.len());
                    return m;
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn plain_and_pax_headers_round_trip() {
        let mut h = Header {
            path: b"a/b.txt".to_vec(),
            kind: TypeFlag::File,
            size: 12345,
            mode: 0o640,
            uid: 1000,
            gid: 100,
            mtime: Timestamp {
                secs: 1_700_000_000,
                nanos: 0,
            },
            link: Vec::new(),
        };
        assert_eq!(header_len(&h), BLOCK);
        assert_eq!(roundtrip(&h), h);
        h.path = vec![b'x'; 300];
        h.path.push(0xff);
        h.size = 10 << 30;
        h.uid = 5_000_000;
        h.mtime = Timestamp {
            secs: -5,
            nanos: 250_000_000,
        };
        assert!(header_len(&h) > BLOCK);
        assert_eq!(roundtrip(&h), h);
        h.kind = TypeFlag::Symlink;
        h.size = 0;
        h.link = "ünïcødé/".repeat(30).into_bytes();
        assert_eq!(roundtrip(&h), h);
    }

    #[test]
    fn pax_length_counts_itself() {
        let mut v = Vec::new();
        pax_record(&mut v, "path", &[b'a'; 92]);
        assert_eq!(v.len(), 102);
        assert!(v.starts_with(b"102 path="));
    }
}
