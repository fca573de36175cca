//! Reading bundles: sniffing the layers, the tar member reader, the index.

use std::io::{self, BufRead, BufReader, Read, Seek as _, SeekFrom};

use crate::crypt::Decryption;
use crate::error::{BundleError, Result};
use crate::index::{BundleIndex, ByteRange, Compression, INDEX_MEMBER, TRAILER_LEN, parse_trailer};
use crate::source::{RangeReader, RangeSource};
use crate::tar::{self, BLOCK, Block, Header, Pax};

/// The most bytes a PAX header or GNU long name may take.
const MAX_META: u64 = 1 << 20;
/// The most bytes the index member may take.
const MAX_INDEX: u64 = 1 << 30;

const AGE_MAGIC: &[u8] = b"age-encryption.org/";

pub(crate) fn sniff(head: &[u8]) -> (bool, Compression) {
    if head.starts_with(AGE_MAGIC) {
        return (true, Compression::None);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        (false, Compression::Zstd)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        (false, Compression::Gzip)
    } else {
        (false, Compression::None)
    }
}

pub(crate) fn decoder<'a>(c: Compression, r: impl BufRead + 'a) -> Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(
            |source| BundleError::Codec {
                what: "set up decompressor",
                start: 0,
                end: 0,
                source,
            },
        )?),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::None => Box::new(r),
    })
}

/// Peel encryption (when present) and compression off a whole bundle
/// stream, detecting both from the first bytes.
pub(crate) fn plain_stream<'a, R: Read + 'a>(
    r: R,
    decryption: Option<&Decryption>,
) -> Result<(Box<dyn Read + 'a>, Compression, bool)> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let head = r
        .fill_buf()
        .map_err(|source| BundleError::Source {
            start: 0,
            end: 0,
            source,
        })?
        .to_vec();
    let (encrypted, compression) = sniff(&head);
    if !encrypted {
        return Ok((decoder(compression, r)?, compression, false));
    }
    let dec = decryption.ok_or_else(|| BundleError::Crypto {
        what: "decrypt",
        message: "the bundle is age-encrypted and no identity or passphrase was given".into(),
    })?;
    let plain = dec.decrypt(r)?;
    let mut plain = BufReader::with_capacity(1 << 20, plain);
    let head = plain.fill_buf().map_err(|e| BundleError::Crypto {
        what: "decrypt",
        message: e.to_string(),
    })?;
    let (_, compression) = sniff(head);
    Ok((decoder(compression, plain)?, compression, true))
}

/// A member as found in the tar stream.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) header: Header,
    pub(crate) tar_offset: u64,
    pub(crate) data_offset: u64,
}

/// Sequential reader of tar members with strict checks.
pub(crate) struct TarReader<R> {
    r: R,
    pos: u64,
}

fn read_err(e: &io::Error, pos: u64, what: &str) -> BundleError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        BundleError::Truncated(format!("the stream ends inside {what} at tar offset {pos}"))
    } else {
        BundleError::corrupt(pos, format!("cannot read {what}: {e}"))
    }
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(r: R, pos: u64) -> Self {
        Self { r, pos }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.r
            .read_exact(buf)
            .map_err(|e| read_err(&e, self.pos, what))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn meta(&mut self, len: u64, what: &str) -> Result<Vec<u8>> {
        if len > MAX_META {
            return Err(BundleError::corrupt(
                self.pos,
                format!("{what} of {len} bytes is too large"),
            ));
        }
        let mut v = vec![0u8; len as usize];
        self.exact(&mut v, what)?;
        self.skip(tar::padding(len) as u64, what)?;
        Ok(v)
    }

    pub(crate) fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        let got = io::copy(&mut (&mut self.r).take(n), &mut io::sink())
            .map_err(|e| read_err(&e, self.pos, what))?;
        self.pos += got;
        if got < n {
            return Err(BundleError::Truncated(format!(
                "the stream ends inside {what} at tar offset {}",
                self.pos
            )));
        }
        Ok(())
    }

    /// The next member header, or `None` at the end-of-archive block.
    pub(crate) fn next(&mut self) -> Result<Option<Found>> {
        let mut pax = Pax::default();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let tar_offset = self.pos;
        loop {
            let at = self.pos;
            let mut b = [0u8; BLOCK];
            self.exact(&mut b, "a header")?;
            match tar::parse_block(&b, at)? {
                Block::End => return Ok(None),
                Block::Pax(n) => {
                    let data = self.meta(n, "a PAX header")?;
                    pax = tar::parse_pax(&data, at)?;
                }
                Block::GlobalPax(n) => {
                    self.meta(n, "a PAX global header")?;
                }
                Block::GnuLong { link, len } => {
                    let mut v = self.meta(len, "a GNU long name")?;
                    while v.last() == Some(&0) {
                        v.pop();
                    }
                    if link {
                        long_link = Some(v);
                    } else {
                        long_name = Some(v);
                    }
                }
                Block::Member(mut h) => {
                    if let Some(n) = long_name {
                        h.path = n;
                    }
                    if let Some(l) = long_link {
                        h.link = l;
                    }
                    h.apply(pax);
                    return Ok(Some(Found {
                        header: h,
                        tar_offset,
                        data_offset: self.pos,
                    }));
                }
            }
        }
    }

    /// Copy the member's content (`size` bytes) to `w`, then skip padding.
    pub(crate) fn copy_data(&mut self, size: u64, w: &mut dyn io::Write) -> Result<()> {
        let start = self.pos;
        let mut left = size;
        let mut buf = vec![0u8; (size.min(1 << 20) as usize).max(1)];
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.exact(&mut buf[..n], "member content")?;
            w.write_all(&buf[..n]).map_err(|e| BundleError::Extract {
                action: "write member content from tar offset",
                path: start.to_string().into(),
                source: e,
            })?;
            left -= n as u64;
        }
        self.skip(tar::padding(size) as u64, "padding")
    }

    /// Skip the member's content and padding.
    pub(crate) fn skip_data(&mut self, size: u64) -> Result<()> {
        self.skip(size + tar::padding(size) as u64, "member content")
    }
}

fn parse_index(json: &[u8], offset: u64) -> Result<BundleIndex> {
    serde_json::from_slice(json)
        .map_err(|e| BundleError::corrupt(offset, format!("the index does not parse: {e}")))
}

/// Read the index member at the current position of `t`.
pub(crate) fn read_index_member<R: Read>(t: &mut TarReader<R>) -> Result<BundleIndex> {
    let at = t.pos();
    let f = t.next()?.ok_or_else(|| {
        BundleError::Truncated("no index member before the end of the archive".into())
    })?;
    if f.header.path != INDEX_MEMBER.as_bytes() {
        return Err(BundleError::corrupt(at, "expected the index member here"));
    }
    if f.header.size > MAX_INDEX {
        return Err(BundleError::corrupt(at, "index member too large"));
    }
    let mut json = Vec::with_capacity(f.header.size as usize);
    t.copy_data(f.header.size, &mut json)?;
    parse_index(&json, at)
}

/// A reader of the plaintext (decrypted, still compressed) bundle bytes in
/// `range`, fetching only what it needs from `src`.
pub(crate) fn plain_range<'a>(
    src: &'a dyn RangeSource,
    decryption: Option<&Decryption>,
    encrypted: bool,
    range: ByteRange,
) -> Result<Box<dyn Read + 'a>> {
    if !encrypted {
        return Ok(Box::new(RangeReader::new(
            src,
            range.start,
            range.end,
            1 << 20,
        )));
    }
    let dec = decryption.ok_or_else(|| BundleError::Crypto {
        what: "decrypt",
        message: "the bundle is age-encrypted and no identity or passphrase was given".into(),
    })?;
    // Whole age chunks with their tags: 65552 bytes per fetch.
    let r = RangeReader::new(src, 0, src.len(), 64 * 1024 + 16);
    let mut s = dec.decrypt(r)?;
    s.seek(SeekFrom::Start(range.start))
        .map_err(|e| BundleError::Crypto {
            what: "decrypt",
            message: format!("cannot seek to compressed offset {}: {e}", range.start),
        })?;
    Ok(Box::new(s.take(range.len())))
}

fn head(src: &dyn RangeSource) -> Result<Vec<u8>> {
    let n = src.len().min(64);
    let mut h = vec![0u8; n as usize];
    src.read_at(0, &mut h)
        .map_err(|source| BundleError::Source {
            start: 0,
            end: n,
            source,
        })?;
    Ok(h)
}

/// Whether a stored bundle is encrypted, and its compression (for an
/// encrypted one, that needs the decryption).
pub(crate) fn layers(
    src: &dyn RangeSource,
    decryption: Option<&Decryption>,
) -> Result<(bool, Compression)> {
    let h = head(src)?;
    let (encrypted, c) = sniff(&h);
    if !encrypted {
        return Ok((false, c));
    }
    let mut r = plain_range(src, decryption, true, ByteRange { start: 0, end: 8 })?;
    let mut h = Vec::new();
    r.read_to_end(&mut h).map_err(|e| BundleError::Crypto {
        what: "decrypt",
        message: e.to_string(),
    })?;
    Ok((true, sniff(&h).1))
}

/// Read a stored bundle's own index. A zstd bundle ends with a small
/// skippable frame pointing at the index frame, so only its last bytes and
/// the index frame are read; gzip and plain bundles are read through.
pub fn read_index(src: &dyn RangeSource, decryption: Option<&Decryption>) -> Result<BundleIndex> {
    let (encrypted, compression) = layers(src, decryption)?;
    if compression == Compression::Zstd {
        let plain_len = if encrypted {
            // Plaintext length from the ciphertext length: it is unknown
            // without the header length, so let age seek from the end.
            None
        } else {
            Some(src.len())
        };
        let trailer_at = match plain_len {
            Some(l) if l >= TRAILER_LEN as u64 => Some(l - TRAILER_LEN as u64),
            Some(_) => {
                return Err(BundleError::Truncated(
                    "bundle shorter than its trailer".into(),
                ));
            }
            None => None,
        };
        let mut t = vec![0u8; TRAILER_LEN];
        if let Some(at) = trailer_at {
            src.read_at(at, &mut t)
                .map_err(|source| BundleError::Source {
                    start: at,
                    end: at + TRAILER_LEN as u64,
                    source,
                })?;
        } else {
            let dec = decryption.ok_or_else(|| BundleError::Crypto {
                what: "decrypt",
                message: "no identity".into(),
            })?;
            let r = RangeReader::new(src, 0, src.len(), 64 * 1024 + 16);
            let mut s = dec.decrypt(r)?;
            s.seek(SeekFrom::End(-32))
                .and_then(|_| s.read_exact(&mut t))
                .map_err(|e| BundleError::Truncated(format!("cannot read the trailer: {e}")))?;
        }
        let range = parse_trailer(&t).ok_or_else(|| {
            BundleError::Truncated("the bundle does not end with its index trailer".into())
        })?;
        let r = plain_range(src, decryption, encrypted, range)?;
        let d = decoder(Compression::Zstd, BufReader::new(r))?;
        let mut tr = TarReader::new(d, 0);
        return read_index_member(&mut tr);
    }
    let r = RangeReader::new(src, 0, src.len(), 1 << 20);
    crate::extract::list(r, decryption)
}
