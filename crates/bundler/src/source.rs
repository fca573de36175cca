//! Random access to stored bundle bytes, for ranged reads.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of a stored bundle, readable at any offset: a local file, memory,
/// or (later) ranged GETs against cold storage. Implementations count on
/// callers reading only the ranges the index names.
pub trait RangeSource: Send + Sync {
    /// Total length of the stored bundle.
    fn len(&self) -> u64;

    /// Whether the bundle is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `buf` with the bytes at `offset..offset + buf.len()`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl RangeSource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "range past the end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl RangeSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.as_slice().read_at(offset, buf)
    }
}

/// A file as a range source (positioned reads; shareable between threads).
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Open `path`.
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }
}

impl RangeSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// Wraps a source and counts the bytes read through it: shows what a ranged
/// retrieval would have fetched.
#[derive(Debug)]
pub struct CountingSource<S> {
    inner: S,
    fetched: AtomicU64,
    requests: AtomicU64,
}

impl<S: RangeSource> CountingSource<S> {
    /// Count reads of `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            fetched: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Bytes read so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Read calls so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl<S: RangeSource> RangeSource for CountingSource<S> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.fetched.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.read_at(offset, buf)
    }
}

/// `Read + Seek` over `start..end` of a source, fetching in blocks of at
/// most `block` bytes and never outside the window.
pub(crate) struct RangeReader<'a> {
    src: &'a dyn RangeSource,
    start: u64,
    end: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_at: u64,
    block: usize,
}

impl<'a> RangeReader<'a> {
    pub(crate) fn new(src: &'a dyn RangeSource, start: u64, end: u64, block: usize) -> Self {
        Self {
            src,
            start,
            end: end.min(src.len()),
            pos: start,
            buf: Vec::new(),
            buf_at: start,
            block,
        }
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.end || out.is_empty() {
            return Ok(0);
        }
        let in_buf = self.pos >= self.buf_at && self.pos < self.buf_at + self.buf.len() as u64;
        if !in_buf {
            let n = (self.end - self.pos).min(self.block as u64) as usize;
            self.buf.resize(n, 0);
            self.src.read_at(self.pos, &mut self.buf)?;
            self.buf_at = self.pos;
        }
        let off = (self.pos - self.buf_at) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let rel = self.pos - self.start;
        let len = self.end - self.start;
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => rel.checked_add_signed(d),
            SeekFrom::End(d) => len.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = self.start + new;
        Ok(new)
    }
}
