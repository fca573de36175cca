//! Targets on tape: a directory written as one plain tar stream, read back,
//! verified and extracted.
//!
//! Each tape file of a target (a *part*) starts with one block holding a tar
//! member `.permafrost-part.txt` (target name, part number, offset of the
//! part in the target's tar stream, block size), padded to the block size;
//! the following blocks carry the target's tar stream from that offset. The
//! first part is therefore a complete tar archive that GNU tar reads
//! (`tar -b 2048 -xf /dev/nst0`); a target cut by the end of a tape goes on
//! in part 1 on the next tape, and the parts' streams concatenated are the
//! whole archive. The format is described in `docs/tape-format.md`.
//!
//! Writing ([`write_target`]) reads files on the calling thread, computes
//! MD5 and SHA-256 on two other threads, and hands blocks to a tape thread
//! through a RAM buffer that starts draining when it is mostly full, so a
//! drive keeps streaming.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use crate::device::TapeDevice;
use crate::error::TapeError;
use crate::layout::{BlockRun, PartLayout};

/// Name of the tar member in the first block of every part.
pub const PART_MEMBER: &str = ".permafrost-part.txt";
const PART_MAGIC: &str = "permafrost-target-part=1";
const CHUNK: usize = 1 << 20;

// ---------------------------------------------------------------- helpers

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-22T03:30:00Z`).
pub fn format_time(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses what [`format_time`] writes.
#[allow(clippy::many_single_char_names)]
pub fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

pub(crate) fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(s, 8).ok()
}

/// One tar member (ustar header and data padded to 512 bytes), with the data
/// padded further with newlines so the whole is `pad_to` bytes when that is
/// larger.
pub(crate) fn tar_member(name: &[u8], data: &[u8], mtime: u64, pad_to: usize) -> Vec<u8> {
    let size = data.len().max(pad_to.saturating_sub(512));
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = Vec::with_capacity(512 + size.div_ceil(512) * 512);
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(512 + size, b'\n');
    out.resize(512 + size.div_ceil(512) * 512, 0);
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}
fn unescape(s: &str) -> String {
    s.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

// ---------------------------------------------------------------- sources

/// One file of a target as a source presents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// Path relative to the target, as bytes (any name a file system holds).
    pub name: Vec<u8>,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// Where a target's files come from: a local directory ([`LocalDir`]) or,
/// in `tape-op`, a tar stream pulled over SSH. Files are visited in a
/// stable order (sorted by name) so that a target cut at the end of a tape
/// can be regenerated and continued.
pub trait TargetSource {
    /// Calls `f` for every regular file with a reader of exactly `size`
    /// bytes.
    fn visit(
        &mut self,
        f: &mut dyn FnMut(&FileMeta, &mut dyn Read) -> io::Result<()>,
    ) -> io::Result<()>;
}

/// A local directory, walked in name order; only regular files are
/// archived (symbolic links and special files are skipped with a warning).
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// The directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn walk(
        &self,
        rel: &mut Vec<u8>,
        f: &mut dyn FnMut(&FileMeta, &mut dyn Read) -> io::Result<()>,
    ) -> io::Result<()> {
        let dir = self.root.join(std::ffi::OsStr::from_bytes(rel));
        let ctx =
            |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| ctx(e, &dir))?
            .collect::<Result<_, _>>()
            .map_err(|e| ctx(e, &dir))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let path = e.path();
            let ft = e.file_type().map_err(|er| ctx(er, &path))?;
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(e.file_name().as_bytes());
            if ft.is_dir() {
                self.walk(rel, f)?;
            } else if ft.is_file() {
                let mut file = File::open(&path).map_err(|er| ctx(er, &path))?;
                let md = file.metadata().map_err(|er| ctx(er, &path))?;
                let meta = FileMeta {
                    name: rel.clone(),
                    size: md.len(),
                    mode: std::os::unix::fs::PermissionsExt::mode(&md.permissions()) & 0o7777,
                    mtime: md
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs()),
                };
                f(&meta, &mut file)?;
            } else {
                tracing::warn!(path = %path.display(), "not a regular file: skipped");
            }
            rel.truncate(len);
        }
        Ok(())
    }
}

impl TargetSource for LocalDir {
    fn visit(
        &mut self,
        f: &mut dyn FnMut(&FileMeta, &mut dyn Read) -> io::Result<()>,
    ) -> io::Result<()> {
        self.walk(&mut Vec::new(), f)
    }
}

// ---------------------------------------------------------------- hashing

/// A file's catalogue record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Path relative to the target.
    pub name: Vec<u8>,
    /// Size in bytes.
    pub size: u64,
    /// MD5 (what the original tapeop database holds).
    pub md5: [u8; 16],
    /// SHA-256.
    pub sha256: [u8; 32],
}

impl FileRecord {
    /// The name for messages (lossy for names that are not UTF-8).
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

enum HashMsg {
    Data(Arc<Vec<u8>>),
    End,
}

/// MD5 and SHA-256 computed on two threads, file after file.
struct Hashers {
    /// Chunks handed to the hash threads, reused once both let go of them.
    in_flight: std::cell::RefCell<VecDeque<Arc<Vec<u8>>>>,
    md5_tx: SyncSender<HashMsg>,
    sha_tx: SyncSender<HashMsg>,
    md5: thread::JoinHandle<Vec<[u8; 16]>>,
    sha: thread::JoinHandle<Vec<[u8; 32]>>,
}

fn hash_thread<D: md5::Digest + Send + 'static, const N: usize>(
    rx: Receiver<HashMsg>,
) -> Vec<[u8; N]> {
    let mut out = Vec::new();
    let mut h = D::new();
    for msg in rx {
        match msg {
            HashMsg::Data(d) => h.update(&d[..]),
            HashMsg::End => {
                let digest = std::mem::replace(&mut h, D::new()).finalize();
                let mut a = [0u8; N];
                a.copy_from_slice(&digest);
                out.push(a);
            }
        }
    }
    out
}

impl Hashers {
    fn start() -> Self {
        let (md5_tx, md5_rx) = sync_channel(16);
        let (sha_tx, sha_rx) = sync_channel(16);
        Self {
            in_flight: std::cell::RefCell::new(VecDeque::new()),
            md5_tx,
            sha_tx,
            md5: thread::spawn(move || hash_thread::<md5::Md5, 16>(md5_rx)),
            sha: thread::spawn(move || hash_thread::<sha2::Sha256, 32>(sha_rx)),
        }
    }
    /// An empty buffer for the next chunk: a recycled one when the hash
    /// threads are done with the oldest chunk in flight.
    fn buffer(&self, want: usize) -> Vec<u8> {
        let mut q = self.in_flight.borrow_mut();
        if q.front().is_some_and(|a| Arc::strong_count(a) == 1)
            && let Some(a) = q.pop_front()
            && let Ok(mut v) = Arc::try_unwrap(a)
        {
            v.clear();
            v.reserve(want);
            return v;
        }
        Vec::with_capacity(want)
    }
    fn keep(&self, chunk: &Arc<Vec<u8>>) {
        let mut q = self.in_flight.borrow_mut();
        q.push_back(Arc::clone(chunk));
        if q.len() > 64 {
            q.pop_front();
        }
    }
    fn send(&self, m: impl Fn() -> HashMsg) {
        // A hashing thread only stops when its sender is dropped.
        let _ = self.md5_tx.send(m());
        let _ = self.sha_tx.send(m());
    }
    fn finish(self) -> (Vec<[u8; 16]>, Vec<[u8; 32]>) {
        drop(self.md5_tx);
        drop(self.sha_tx);
        let md5 = self.md5.join().unwrap_or_default();
        let sha = self.sha.join().unwrap_or_default();
        (md5, sha)
    }
}

/// Reads exactly `size` bytes of a file in 1 MiB chunks, passing each chunk
/// to the hashers; a file that shrinks or grows meanwhile is an error.
struct TeeReader<'a> {
    inner: &'a mut dyn Read,
    hashers: &'a Hashers,
    chunk: Arc<Vec<u8>>,
    at: usize,
    left: u64,
    name: &'a [u8],
}

impl TeeReader<'_> {
    fn changed(&self, how: &str) -> io::Error {
        io::Error::other(format!(
            "{}: file {how} while being read",
            String::from_utf8_lossy(self.name)
        ))
    }
    fn check_end(&mut self) -> io::Result<()> {
        let mut one = [0u8; 1];
        if self.inner.read(&mut one)? > 0 {
            return Err(self.changed("grew"));
        }
        Ok(())
    }
}

impl Read for TeeReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() {
            if self.left == 0 {
                return Ok(0);
            }
            let want = CHUNK.min(usize::try_from(self.left).unwrap_or(CHUNK));
            // read_to_end fills the spare capacity without zeroing it first.
            let mut v = self.hashers.buffer(want);
            (&mut self.inner).take(want as u64).read_to_end(&mut v)?;
            if v.len() < want {
                return Err(self.changed("shrank"));
            }
            self.left -= want as u64;
            self.chunk = Arc::new(v);
            self.at = 0;
            self.hashers.keep(&self.chunk);
            let c = &self.chunk;
            self.hashers.send(|| HashMsg::Data(Arc::clone(c)));
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Size, MD5 and SHA-256 of every file of `source` (hashes on two threads).
pub fn hash_source(source: &mut dyn TargetSource) -> io::Result<Vec<FileRecord>> {
    let hashers = Hashers::start();
    let mut metas = Vec::new();
    let r = source.visit(&mut |meta, reader| {
        let mut tee = TeeReader {
            inner: reader,
            hashers: &hashers,
            chunk: Arc::new(Vec::new()),
            at: 0,
            left: meta.size,
            name: &meta.name,
        };
        io::copy(&mut tee, &mut io::sink())?;
        tee.check_end()?;
        hashers.send(|| HashMsg::End);
        metas.push(meta.clone());
        Ok(())
    });
    let (md5, sha) = hashers.finish();
    r?;
    Ok(zip_records(metas, &md5, &sha))
}

fn zip_records(metas: Vec<FileMeta>, md5: &[[u8; 16]], sha: &[[u8; 32]]) -> Vec<FileRecord> {
    metas
        .into_iter()
        .zip(md5.iter().zip(sha))
        .map(|(m, (md5, sha256))| FileRecord {
            name: m.name,
            size: m.size,
            md5: *md5,
            sha256: *sha256,
        })
        .collect()
}

// ---------------------------------------------------------------- writing

/// How [`write_target`] writes.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Block size (default 1 MiB).
    pub block_size: usize,
    /// Smaller sizes tried, in order, when the drive refuses a block.
    pub fallback_block_sizes: Vec<usize>,
    /// RAM buffer between the tar stream and the tape (default 256 MiB).
    pub buffer_size: usize,
    /// The tape starts writing when the buffer is this full (default 0.8).
    pub start_fill: f64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            block_size: 1 << 20,
            fallback_block_sizes: vec![512 << 10, 256 << 10],
            buffer_size: 256 << 20,
            start_fill: 0.8,
        }
    }
}

/// Where a continued target resumes: the next part and the tar-stream
/// offset at which the previous part stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Index of the part to write (1 for the first continuation).
    pub part: u32,
    /// Bytes of the target's tar stream already on earlier tapes.
    pub stream_offset: u64,
}

/// What [`write_target`] did.
#[derive(Debug, Clone)]
pub struct PartWritten {
    /// Tape file number of this part.
    pub file_number: u64,
    /// Part index (0 for the first).
    pub part: u32,
    /// Offset of this part in the target's tar stream.
    pub stream_start: u64,
    /// Offset just past the last byte of this part.
    pub stream_end: u64,
    /// Block size finally used.
    pub block_size: usize,
    /// Blocks written, header block included.
    pub blocks: u64,
    /// The whole target is on tape; `false`: the tape reached end of medium
    /// and the target must go on at `stream_end` on the next tape.
    pub complete: bool,
    /// Every file of the target with its checksums (computed again, in
    /// full, on a continued part too).
    pub files: Vec<FileRecord>,
    /// Beside each of `files`: where its header starts in the stream, its
    /// mode and modification time. Empty, as `files`, when not `complete`.
    pub members: Vec<MemberInfo>,
    /// Where this part's blocks hold the stream (block sizes as written).
    pub layout: PartLayout,
}

/// Where a member of a target's stream starts, and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo {
    /// Stream offset of its first header (a GNU long-name header when its
    /// name needs one): where reading it can start.
    pub offset: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// A target could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("target {target}: {source}")]
    Tape {
        target: String,
        #[source]
        source: TapeError,
    },
    #[error("target {target}: reading the source: {source}")]
    Source {
        target: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "target {target}: part {part} would start at stream offset {offset}, beyond the stream's {len} bytes"
    )]
    ResumeBeyondEnd {
        target: String,
        part: u32,
        offset: u64,
        len: u64,
    },
    #[error("target {target}: {reason}")]
    Invalid { target: String, reason: String },
}

/// The first block of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHeader {
    /// Target name.
    pub target: String,
    /// Part index.
    pub part: u32,
    /// Offset of the part in the target's tar stream.
    pub stream_offset: u64,
    /// Block size of the part.
    pub block_size: usize,
    /// When the part was written.
    pub created: u64,
    /// The program that wrote it.
    pub tool: String,
}

impl PartHeader {
    fn to_block(&self) -> Vec<u8> {
        let text = format!(
            "{PART_MAGIC}\ntarget={}\npart={}\nstream_offset={}\nblock_size={}\ncreated={}\ntool={}\n",
            escape(&self.target),
            self.part,
            self.stream_offset,
            self.block_size,
            format_time(self.created),
            self.tool
        );
        tar_member(
            PART_MEMBER.as_bytes(),
            text.as_bytes(),
            self.created,
            self.block_size,
        )
    }

    /// Parses a part's first block; `None` when it is not one.
    pub fn from_block(block: &[u8]) -> Option<Self> {
        if block.len() < 1024 || !block.starts_with(PART_MEMBER.as_bytes()) {
            return None;
        }
        let size = parse_octal(&block[124..136])? as usize;
        let data = block.get(512..512 + size)?;
        let text = std::str::from_utf8(data).ok()?;
        let mut lines = text.lines();
        if lines.next()? != PART_MAGIC {
            return None;
        }
        let mut h = PartHeader {
            target: String::new(),
            part: 0,
            stream_offset: 0,
            block_size: block.len(),
            created: 0,
            tool: String::new(),
        };
        for line in lines {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "target" => h.target = unescape(v),
                "part" => h.part = v.parse().ok()?,
                "stream_offset" => h.stream_offset = v.parse().ok()?,
                "block_size" => h.block_size = v.parse().ok()?,
                "created" => h.created = parse_time(v).unwrap_or(0),
                "tool" => h.tool = v.into(),
                _ => {}
            }
        }
        (!h.target.is_empty()).then_some(h)
    }
}

struct RingState {
    q: VecDeque<Vec<u8>>,
    /// Written blocks, kept for reuse.
    free: Vec<Vec<u8>>,
    bytes: usize,
    done: bool,
    stopped: bool,
}

/// The RAM buffer between the tar stream and the tape thread.
struct Ring {
    s: Mutex<RingState>,
    cv: Condvar,
    capacity: usize,
    start: usize,
}

impl Ring {
    fn lock(&self) -> std::sync::MutexGuard<'_, RingState> {
        self.s
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn push(&self, block: Vec<u8>) -> io::Result<()> {
        let mut s = self.lock();
        while !s.stopped && !s.q.is_empty() && s.bytes + block.len() > self.capacity {
            s = self
                .cv
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if s.stopped {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the tape stopped taking data",
            ));
        }
        s.bytes += block.len();
        s.q.push_back(block);
        self.cv.notify_all();
        Ok(())
    }
    fn recycle(&self, mut block: Vec<u8>) {
        let mut s = self.lock();
        if s.free.len() < 8 {
            block.clear();
            s.free.push(block);
        }
    }
    fn fresh(&self, capacity: usize) -> Vec<u8> {
        self.lock()
            .free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(capacity))
    }
    fn finish(&self) {
        self.lock().done = true;
        self.cv.notify_all();
    }
    fn stop(&self) {
        self.lock().stopped = true;
        self.cv.notify_all();
    }
    /// The next block, waiting until the buffer is `start` full (or the
    /// stream is done) whenever it ran empty.
    fn pop(&self, draining: &mut bool) -> Option<Vec<u8>> {
        let mut s = self.lock();
        loop {
            if !*draining && (s.bytes >= self.start || s.done) {
                *draining = true;
            }
            if *draining && let Some(b) = s.q.pop_front() {
                s.bytes -= b.len();
                self.cv.notify_all();
                return Some(b);
            }
            if s.q.is_empty() {
                if s.done {
                    return None;
                }
                *draining = false;
            }
            s = self
                .cv
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// The tar stream's bytes cut into blocks for the ring, skipping the part
/// already on earlier tapes.
struct Sink<'a> {
    ring: &'a Ring,
    block: Vec<u8>,
    block_size: usize,
    skip: u64,
    offset: u64,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        self.offset += n as u64;
        let mut buf = buf;
        if self.skip > 0 {
            let s = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            self.skip -= s as u64;
            buf = &buf[s..];
        }
        while !buf.is_empty() {
            let take = (self.block_size - self.block.len()).min(buf.len());
            self.block.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.block.len() == self.block_size {
                let fresh = self.ring.fresh(self.block_size);
                let full = std::mem::replace(&mut self.block, fresh);
                self.ring.push(full)?;
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct TapeSide {
    blocks: u64,
    bytes: u64,
    full: bool,
    block_size: usize,
    /// The data blocks' sizes: one run per size, from block 1.
    runs: Vec<BlockRun>,
}

impl TapeSide {
    /// The layout of the part written, which starts at `stream_start`.
    fn layout(&self, file_number: u64, stream_start: u64) -> PartLayout {
        let mut layout = PartLayout::uniform(
            file_number,
            stream_start,
            stream_start + self.bytes,
            self.block_size,
        );
        if !self.runs.is_empty() {
            layout.runs.clone_from(&self.runs);
        }
        layout
    }
}

fn tape_thread(
    dev: &mut dyn TapeDevice,
    ring: &Ring,
    header: &PartHeader,
    opts: &WriteOptions,
) -> Result<TapeSide, TapeError> {
    let mut sizes =
        std::iter::once(opts.block_size).chain(opts.fallback_block_sizes.iter().copied());
    let mut bs = sizes.next().unwrap_or(1 << 20);
    let mut side = TapeSide {
        blocks: 0,
        bytes: 0,
        full: false,
        block_size: bs,
        runs: Vec::new(),
    };
    // The header block, at the largest size the drive takes.
    loop {
        let h = PartHeader {
            block_size: bs,
            ..header.clone()
        };
        match dev.write_block(&h.to_block()) {
            Ok(()) => break,
            Err(TapeError::BlockSizeRefused { .. }) => match sizes.next() {
                Some(next) => {
                    tracing::warn!(
                        from = bs,
                        to = next,
                        "drive refused the block size; falling back"
                    );
                    bs = next;
                }
                None => return Err(ring_stop(ring, dev.write_block(&h.to_block()).err())),
            },
            Err(TapeError::EndOfMedium { .. }) => {
                side.full = true;
                ring.stop();
                dev.write_filemarks(1, true)?;
                return Ok(side);
            }
            Err(e) => return Err(ring_stop(ring, Some(e))),
        }
    }
    side.blocks = 1;
    side.block_size = bs;
    side.runs.push(BlockRun {
        block: 1,
        stream_offset: header.stream_offset,
        block_size: bs,
    });
    let mut draining = false;
    'blocks: while let Some(block) = ring.pop(&mut draining) {
        let mut at = 0;
        while at < block.len() {
            let end = (at + bs).min(block.len());
            match dev.write_block(&block[at..end]) {
                Ok(()) => {
                    side.blocks += 1;
                    side.bytes += (end - at) as u64;
                    at = end;
                }
                Err(TapeError::BlockSizeRefused { .. })
                    if end - at > opts.fallback_block_sizes.last().copied().unwrap_or(0) =>
                {
                    match sizes.next() {
                        Some(next) if next < end - at => {
                            tracing::warn!(
                                from = bs,
                                to = next,
                                "drive refused the block size; falling back"
                            );
                            bs = next;
                            side.block_size = bs;
                            side.runs.push(BlockRun {
                                block: side.blocks,
                                stream_offset: header.stream_offset + side.bytes,
                                block_size: bs,
                            });
                        }
                        _ => return Err(ring_stop(ring, dev.write_block(&block[at..end]).err())),
                    }
                }
                Err(TapeError::EndOfMedium { .. }) => {
                    side.full = true;
                    ring.stop();
                    break 'blocks;
                }
                Err(e) => return Err(ring_stop(ring, Some(e))),
            }
        }
        ring.recycle(block);
    }
    // Past early warning st lets this through: there is room for trailers.
    dev.write_filemarks(1, true)
        .map_err(|e| ring_stop(ring, Some(e)))?;
    Ok(side)
}

fn ring_stop(ring: &Ring, e: Option<TapeError>) -> TapeError {
    ring.stop();
    e.unwrap_or_else(|| TapeError::Invalid {
        device: String::new(),
        reason: "block size refused".into(),
    })
}

/// Writes a target (or, with `resume`, its next part) at the head's
/// position, which must be where the new tape file starts (normally end of
/// data after [`crate::label::prepare_for_write`]). Ends the part with a
/// synchronous filemark. At end of medium the part is closed cleanly and
/// returned with `complete == false`; nothing is lost: call again with
/// [`Resume`] on the next tape.
pub fn write_target(
    dev: &mut dyn TapeDevice,
    target: &str,
    source: &mut dyn TargetSource,
    resume: Option<Resume>,
    opts: &WriteOptions,
) -> Result<PartWritten, WriteError> {
    let tape_err = |source| WriteError::Tape {
        target: target.to_owned(),
        source,
    };
    if opts.block_size < 1024 || !opts.block_size.is_multiple_of(512) {
        return Err(WriteError::Invalid {
            target: target.into(),
            reason: format!(
                "block size {} is not a multiple of 512 of at least 1024",
                opts.block_size
            ),
        });
    }
    let status = dev.status().map_err(tape_err)?;
    let file_number = status.file_number.ok_or_else(|| WriteError::Invalid {
        target: target.into(),
        reason: format!("{}: the drive does not know its file number", dev.name()),
    })?;
    let resume = resume.unwrap_or(Resume {
        part: 0,
        stream_offset: 0,
    });
    let header = PartHeader {
        target: target.into(),
        part: resume.part,
        stream_offset: resume.stream_offset,
        block_size: opts.block_size,
        created: now(),
        tool: concat!("tape-io ", env!("CARGO_PKG_VERSION")).into(),
    };
    let capacity = opts.buffer_size.max(2 * opts.block_size);
    let start_fill = opts.start_fill.clamp(0.0, 1.0);
    #[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
    let start = ((capacity as f64 * start_fill) as usize).min(capacity - opts.block_size);
    let ring = Ring {
        s: Mutex::new(RingState {
            q: VecDeque::new(),
            free: Vec::new(),
            bytes: 0,
            done: false,
            stopped: false,
        }),
        cv: Condvar::new(),
        capacity,
        start,
    };
    let (produced, side) = thread::scope(|scope| {
        let writer = scope.spawn(|| tape_thread(dev, &ring, &header, opts));
        let produced = produce(&ring, source, resume.stream_offset, opts.block_size);
        ring.finish();
        let side = writer.join().unwrap_or_else(|_| {
            Err(TapeError::Invalid {
                device: String::new(),
                reason: "the tape thread panicked".into(),
            })
        });
        (produced, side)
    });
    let side = side.map_err(tape_err)?;
    let layout = side.layout(file_number, resume.stream_offset);
    if side.full {
        return Ok(PartWritten {
            file_number,
            part: resume.part,
            stream_start: resume.stream_offset,
            stream_end: resume.stream_offset + side.bytes,
            block_size: side.block_size,
            blocks: side.blocks,
            complete: false,
            files: Vec::new(),
            members: Vec::new(),
            layout,
        });
    }
    let (files, members, stream_len) = produced.map_err(|source| WriteError::Source {
        target: target.into(),
        source,
    })?;
    if resume.stream_offset > stream_len {
        return Err(WriteError::ResumeBeyondEnd {
            target: target.into(),
            part: resume.part,
            offset: resume.stream_offset,
            len: stream_len,
        });
    }
    Ok(PartWritten {
        file_number,
        part: resume.part,
        stream_start: resume.stream_offset,
        stream_end: resume.stream_offset + side.bytes,
        block_size: side.block_size,
        blocks: side.blocks,
        complete: true,
        files,
        members,
        layout,
    })
}

/// Builds the tar stream into the ring; returns the files with checksums,
/// where each starts, and the stream length.
fn produce(
    ring: &Ring,
    source: &mut dyn TargetSource,
    skip: u64,
    block_size: usize,
) -> io::Result<(Vec<FileRecord>, Vec<MemberInfo>, u64)> {
    let hashers = Hashers::start();
    let mut metas = Vec::new();
    let sink = Sink {
        ring,
        block: Vec::with_capacity(block_size),
        block_size,
        skip,
        offset: 0,
    };
    let mut builder = tar::Builder::new(sink);
    let mut members = Vec::new();
    let r = source.visit(&mut |meta, reader| {
        members.push(MemberInfo {
            offset: builder.get_ref().offset,
            mode: meta.mode,
            mtime: meta.mtime,
        });
        let mut h = tar::Header::new_gnu();
        h.set_size(meta.size);
        h.set_mode(meta.mode);
        h.set_mtime(meta.mtime);
        h.set_entry_type(tar::EntryType::Regular);
        let mut tee = TeeReader {
            inner: reader,
            hashers: &hashers,
            chunk: Arc::new(Vec::new()),
            at: 0,
            left: meta.size,
            name: &meta.name,
        };
        builder.append_data(
            &mut h,
            Path::new(std::ffi::OsStr::from_bytes(&meta.name)),
            &mut tee,
        )?;
        tee.check_end()?;
        hashers.send(|| HashMsg::End);
        metas.push(meta.clone());
        Ok(())
    });
    let (md5, sha) = hashers.finish();
    r?;
    let mut sink = builder.into_inner()?;
    if !sink.block.is_empty() {
        let last = std::mem::take(&mut sink.block);
        ring.push(last)?;
    }
    Ok((zip_records(metas, &md5, &sha), members, sink.offset))
}

// ---------------------------------------------------------------- reading

/// A target could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error(transparent)]
    Tape(#[from] TapeError),
    /// The tape file does not start with a part header.
    #[error("{device}: tape file {file} is not a Permafrost target part")]
    NotAPart { device: String, file: String },
    /// The part found is not the one expected.
    #[error(
        "{device}: expected part {expected_part} of target '{expected}' at stream offset {offset}, found part {part} of '{found}' at offset {found_offset}"
    )]
    WrongPart {
        device: String,
        expected: String,
        expected_part: u32,
        offset: u64,
        found: String,
        part: u32,
        found_offset: u64,
    },
    /// Reading the tar stream failed (a bad block, a cut stream).
    #[error("target {target}: reading {at}: {source}")]
    Stream {
        target: String,
        at: String,
        #[source]
        source: io::Error,
    },
    /// A member name that would escape the destination.
    #[error("target {target}: unsafe member name {name:?}")]
    UnsafePath { target: String, name: String },
    /// Writing an extracted file failed.
    #[error("extracting to {path}: {source}")]
    Extract {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Positions `dev` at the start of tape file `file_number`.
pub fn position_to_file(dev: &mut dyn TapeDevice, file_number: u64) -> Result<(), TapeError> {
    dev.rewind()?;
    if file_number > 0 {
        let n = i32::try_from(file_number).map_err(|_| TapeError::Invalid {
            device: dev.name().into(),
            reason: format!("file number {file_number}"),
        })?;
        dev.space_files(n)?;
    }
    Ok(())
}

/// Reads the first block of the tape file at the head.
pub fn read_part_header(dev: &mut dyn TapeDevice) -> Result<PartHeader, ReadError> {
    let file = dev
        .status()
        .ok()
        .and_then(|s| s.file_number)
        .map_or_else(|| "?".into(), |f| f.to_string());
    let mut buf = vec![0u8; crate::simh::MAX_RECORD];
    let n = dev.read_block(&mut buf)?;
    PartHeader::from_block(&buf[..n]).ok_or_else(|| ReadError::NotAPart {
        device: dev.name().into(),
        file,
    })
}

/// Supplies the device holding part `n` of a target, positioned at the
/// start of that part's tape file, or `None` when there is no such part.
pub type PartOpener<'a> = dyn FnMut(u32) -> Result<Option<Box<dyn TapeDevice>>, TapeError> + 'a;

/// A target's tar stream read across its parts, checking that each part
/// is the expected one and continues where the previous ended.
pub struct TargetStream<'a> {
    target: String,
    open: Box<PartOpener<'a>>,
    dev: Option<Box<dyn TapeDevice>>,
    part: u32,
    offset: u64,
    buf: Vec<u8>,
    at: usize,
    len: usize,
}

impl std::fmt::Debug for TargetStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetStream")
            .field("target", &self.target)
            .field("part", &self.part)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<'a> TargetStream<'a> {
    /// Opens part 0 of `target` through `open`.
    pub fn new(target: &str, open: Box<PartOpener<'a>>) -> Result<Self, ReadError> {
        let mut s = Self {
            target: target.into(),
            open,
            dev: None,
            part: 0,
            offset: 0,
            buf: vec![0u8; crate::simh::MAX_RECORD],
            at: 0,
            len: 0,
        };
        if !s.open_part(0, None)? {
            return Err(ReadError::NotAPart {
                device: String::new(),
                file: format!("part 0 of {target}"),
            });
        }
        Ok(s)
    }

    /// Opens `target`'s stream at block `block` (1 or more) of part
    /// `part`, a block whose first byte is stream offset `block_start`
    /// (see [`crate::layout::locate`]): reading starts there, without
    /// reading what is before it on tape, and goes on into the following
    /// parts.
    pub fn starting_at(
        target: &str,
        part: u32,
        block: u64,
        block_start: u64,
        open: Box<PartOpener<'a>>,
    ) -> Result<Self, ReadError> {
        let mut s = Self {
            target: target.into(),
            open,
            dev: None,
            part,
            offset: block_start,
            buf: vec![0u8; crate::simh::MAX_RECORD],
            at: 0,
            len: 0,
        };
        if !s.open_part(part, Some(block))? {
            return Err(ReadError::NotAPart {
                device: String::new(),
                file: format!("part {part} of {target}"),
            });
        }
        Ok(s)
    }

    /// Opens part `part`; with `block`, spaces forward to that block of it
    /// (the stream offset is then the one given to [`Self::starting_at`]).
    fn open_part(&mut self, part: u32, block: Option<u64>) -> Result<bool, ReadError> {
        if let Some(mut d) = self.dev.take() {
            d.close()?;
        }
        let Some(mut dev) = (self.open)(part)? else {
            return Ok(false);
        };
        let h = read_part_header(dev.as_mut())?;
        let offset_ok = match block {
            Some(_) => h.stream_offset <= self.offset,
            None => h.stream_offset == self.offset,
        };
        if let Some(b) = block {
            if b == 0 {
                return Err(ReadError::Tape(TapeError::Invalid {
                    device: dev.name().into(),
                    reason: "block 0 of a part is its header, not data".into(),
                }));
            }
            if h.target == self.target && h.part == part && offset_ok {
                let mut left = b - 1;
                while left > 0 {
                    let n = i32::try_from(left).unwrap_or(i32::MAX);
                    dev.space_records(n)?;
                    left -= u64::try_from(n).unwrap_or(0);
                }
            }
        }
        if h.target != self.target || h.part != part || !offset_ok {
            return Err(ReadError::WrongPart {
                device: dev.name().into(),
                expected: self.target.clone(),
                expected_part: part,
                offset: self.offset,
                found: h.target,
                part: h.part,
                found_offset: h.stream_offset,
            });
        }
        self.part = part;
        self.dev = Some(dev);
        Ok(true)
    }

    /// Bytes of the stream read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl Read for TargetStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.len {
            let Some(dev) = self.dev.as_mut() else {
                return Ok(0);
            };
            let n = dev.read_block(&mut self.buf).map_err(TapeError::into_io)?;
            if n == 0 {
                let next = self.part + 1;
                if !self.open_part(next, None).map_err(io::Error::other)? {
                    return Ok(0);
                }
                continue;
            }
            self.at = 0;
            self.len = n;
        }
        let n = out.len().min(self.len - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Which files [`read_entries`] extracts, and where.
#[derive(Debug, Clone, Copy)]
pub struct Extract<'a> {
    /// Destination directory.
    pub to: &'a Path,
    /// Only these names (relative to the target); `None`: all.
    pub only: Option<&'a [Vec<u8>]>,
}

/// Reads a target's tar stream: every regular file's size, MD5 and SHA-256
/// (computed on two other threads), and with `extract` its files written
/// under a directory. Member names
/// that are absolute or contain `..` are refused. With [`Extract::only`],
/// reading stops once the last of those names is extracted.
pub fn read_entries(
    stream: &mut dyn Read,
    target: &str,
    extract: Option<Extract<'_>>,
) -> Result<Vec<FileRecord>, ReadError> {
    Ok(read_members(stream, target, extract, 0)?
        .into_iter()
        .map(|m| m.record)
        .collect())
}

/// A member read back by [`read_members`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMember {
    /// Its name, size and checksums as read.
    pub record: FileRecord,
    /// Where its header starts, as [`MemberInfo::offset`].
    pub offset: u64,
    /// Permission bits from its header.
    pub mode: u32,
    /// Modification time from its header.
    pub mtime: u64,
}

/// [`read_entries`], with each member's header offset, mode and mtime;
/// `from` is the stream offset of the first byte of `stream` (0 at the
/// start of the target; a member's offset when reading from there).
#[allow(clippy::too_many_lines)] // one loop over the members
pub fn read_members(
    stream: &mut dyn Read,
    target: &str,
    extract: Option<Extract<'_>>,
    from: u64,
) -> Result<Vec<ReadMember>, ReadError> {
    let mut archive = tar::Archive::new(stream);
    // MD5 and SHA-256 on two threads, as when writing, so that verifying
    // keeps up with the drive.
    let hashers = Hashers::start();
    let mut metas = Vec::new();
    let mut infos = Vec::new();
    let mut last = String::from("the start of the stream");
    let stream_err = |at: &str, source| ReadError::Stream {
        target: target.into(),
        at: at.into(),
        source,
    };
    let mut left = extract.and_then(|x| x.only).map(<[Vec<u8>]>::len);
    let mut next_start = 0u64;
    let entries = archive.entries().map_err(|e| stream_err(&last, e))?;
    for entry in entries {
        if left == Some(0) {
            break;
        }
        let mut entry = entry.map_err(|e| stream_err(&format!("the member after {last}"), e))?;
        let start = next_start;
        next_start = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
        let name = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&name).into_owned();
        let rel = Path::new(std::ffi::OsStr::from_bytes(&name));
        if rel.is_absolute()
            || rel.components().any(|c| {
                matches!(
                    c,
                    std::path::Component::ParentDir | std::path::Component::Prefix(_)
                )
            })
        {
            return Err(ReadError::UnsafePath {
                target: target.into(),
                name: shown,
            });
        }
        last.clone_from(&shown);
        let kind = entry.header().entry_type();
        let dest = extract.and_then(|x| {
            let wanted = x.only.is_none_or(|only| only.contains(&name));
            wanted.then(|| x.to.join(rel))
        });
        if kind.is_dir() {
            if let Some(d) = dest {
                std::fs::create_dir_all(&d)
                    .map_err(|source| ReadError::Extract { path: d, source })?;
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let mtime = entry.header().mtime().unwrap_or(0);
        let mut file = match &dest {
            Some(d) => {
                if let Some(parent) = d.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| ReadError::Extract {
                        path: parent.into(),
                        source,
                    })?;
                }
                Some(File::create(d).map_err(|source| ReadError::Extract {
                    path: d.clone(),
                    source,
                })?)
            }
            None => None,
        };
        let mut size = 0u64;
        loop {
            let mut chunk = hashers.buffer(CHUNK);
            (&mut entry)
                .take(CHUNK as u64)
                .read_to_end(&mut chunk)
                .map_err(|e| stream_err(&shown, e))?;
            if chunk.is_empty() {
                break;
            }
            size += chunk.len() as u64;
            let chunk = Arc::new(chunk);
            hashers.keep(&chunk);
            hashers.send(|| HashMsg::Data(Arc::clone(&chunk)));
            if let (Some(f), Some(d)) = (file.as_mut(), dest.as_ref()) {
                f.write_all(&chunk).map_err(|source| ReadError::Extract {
                    path: d.clone(),
                    source,
                })?;
            }
        }
        let extracted = file.is_some();
        if let (Some(f), Some(d)) = (file, dest) {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|source| ReadError::Extract { path: d, source })?;
        }
        if extracted && let Some(n) = left.as_mut() {
            *n = n.saturating_sub(1);
        }
        hashers.send(|| HashMsg::End);
        metas.push(FileMeta {
            name,
            size,
            mode: 0,
            mtime: 0,
        });
        infos.push(MemberInfo {
            offset: from + start,
            mode: mode & 0o7777,
            mtime,
        });
    }
    let (md5, sha) = hashers.finish();
    Ok(zip_records(metas, &md5, &sha)
        .into_iter()
        .zip(infos)
        .map(|(record, i)| ReadMember {
            record,
            offset: i.offset,
            mode: i.mode,
            mtime: i.mtime,
        })
        .collect())
}

/// A difference between the catalogue and what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// In the catalogue, not on tape.
    Missing(Vec<u8>),
    /// On tape, not in the catalogue.
    Unexpected(Vec<u8>),
    /// Size, MD5 or SHA-256 differ.
    Content { name: Vec<u8>, what: &'static str },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        match self {
            Mismatch::Missing(n) => write!(f, "{}: missing from tape", s(n)),
            Mismatch::Unexpected(n) => write!(f, "{}: on tape but not in the catalogue", s(n)),
            Mismatch::Content { name, what } => write!(f, "{}: {what} differs", s(name)),
        }
    }
}

/// Compares files read from tape with the catalogue's records.
pub fn compare(expected: &[FileRecord], found: &[FileRecord]) -> Vec<Mismatch> {
    use std::collections::HashMap;
    let got: HashMap<&[u8], &FileRecord> = found.iter().map(|r| (&r.name[..], r)).collect();
    let want: HashMap<&[u8], &FileRecord> = expected.iter().map(|r| (&r.name[..], r)).collect();
    let mut out = Vec::new();
    for e in expected {
        match got.get(&e.name[..]) {
            None => out.push(Mismatch::Missing(e.name.clone())),
            Some(g) => {
                let what = if g.size != e.size {
                    Some("size")
                } else if g.md5 != e.md5 {
                    Some("MD5")
                } else if g.sha256 != e.sha256 {
                    Some("SHA-256")
                } else {
                    None
                };
                if let Some(what) = what {
                    out.push(Mismatch::Content {
                        name: e.name.clone(),
                        what,
                    });
                }
            }
        }
    }
    for g in found {
        if !want.contains_key(&g.name[..]) {
            out.push(Mismatch::Unexpected(g.name.clone()));
        }
    }
    out
}

/// Copies the data of tape file `file_number` (every block, header block
/// included) to `out`, as `dd` from the no-rewind device would; returns the
/// bytes copied. The result is what GNU tar reads.
pub fn dump_tape_file(
    dev: &mut dyn TapeDevice,
    file_number: u64,
    out: &mut dyn Write,
) -> Result<u64, ReadError> {
    position_to_file(dev, file_number)?;
    let mut buf = vec![0u8; crate::simh::MAX_RECORD];
    let mut total = 0;
    loop {
        let n = dev.read_block(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        out.write_all(&buf[..n])
            .map_err(|source| ReadError::Extract {
                path: PathBuf::from("<dump output>"),
                source,
            })?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn ring_starts_draining_when_mostly_full_and_after_running_empty() {
        let ring = Ring {
            s: Mutex::new(RingState {
                q: VecDeque::new(),
                free: Vec::new(),
                bytes: 0,
                done: false,
                stopped: false,
            }),
            cv: Condvar::new(),
            capacity: 10,
            start: 8,
        };
        let pushed = AtomicUsize::new(0);
        let seen = thread::scope(|s| {
            let consumer = s.spawn(|| {
                let mut draining = false;
                let mut seen = Vec::new();
                while let Some(b) = ring.pop(&mut draining) {
                    seen.push((b[0], pushed.load(Ordering::SeqCst)));
                }
                seen
            });
            for i in 0..20u8 {
                pushed.fetch_add(1, Ordering::SeqCst);
                ring.push(vec![i]).unwrap();
                thread::sleep(std::time::Duration::from_millis(2));
            }
            ring.finish();
            consumer.join().unwrap()
        });
        assert_eq!(seen.len(), 20);
        assert!(seen.iter().map(|s| s.0).eq(0..20));
        // Nothing was written before 8 blocks (80 %) were buffered.
        assert!(seen[0].1 >= 8, "{seen:?}");
    }
}
