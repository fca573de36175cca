//! The upload engine: part size, parallel parts in bounded memory, retries,
//! resume.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use glacier_treehash::{TreeHash, combine_parts, tree_hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoreLimits;
use crate::{ArchiveInfo, ArchiveStore, Error, Progress, Result, RetryPolicy};

/// The default requested part size: 16 MiB, mt-aws-glacier's default.
const DEFAULT_PART_SIZE: u64 = 16 << 20;

/// How an [`Uploader`] works.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The part size asked for; the one used is the smallest 1 MiB x 2^k at
    /// least this large (and at least the store's minimum) that keeps the
    /// archive within the store's part count (see [`choose_part_size`]).
    /// Archives no larger than one part go in a single request.
    pub part_size: u64,
    /// Parts in flight at once. Memory use is about
    /// `(concurrency + 2) x part size`.
    pub concurrency: usize,
    /// Retries of each request.
    pub retry: RetryPolicy,
    /// Where resume state of file uploads is kept; `None`: uploads are not
    /// resumable. One small file per upload in progress, removed when the
    /// upload completes.
    pub state_dir: Option<PathBuf>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: DEFAULT_PART_SIZE,
            concurrency: 4,
            retry: RetryPolicy::default(),
            state_dir: None,
        }
    }
}

/// The part size for an archive of `size` bytes (unknown for a pipe): the
/// smallest 1 MiB x 2^k that is at least `requested` and the store's
/// minimum and keeps the archive within the store's part count.
///
/// ```
/// use glacier_multipart::{StoreLimits, choose_part_size};
/// const MIB: u64 = 1 << 20;
/// let g = StoreLimits::GLACIER;
/// assert_eq!(choose_part_size(16 * MIB, Some(100 * MIB), &g)?, 16 * MIB);
/// assert_eq!(choose_part_size(3 * MIB, None, &g)?, 4 * MIB);
/// // 10,000 parts of 16 MiB is the most a 16 MiB part size can carry.
/// assert_eq!(choose_part_size(16 * MIB, Some(10_000 * 16 * MIB), &g)?, 16 * MIB);
/// assert_eq!(choose_part_size(16 * MIB, Some(10_000 * 16 * MIB + 1), &g)?, 32 * MIB);
/// # Ok::<(), glacier_multipart::Error>(())
/// ```
pub fn choose_part_size(requested: u64, size: Option<u64>, limits: &StoreLimits) -> Result<u64> {
    let mut part = requested
        .max(limits.min_part_size)
        .max(1 << 20)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX);
    if part > limits.max_part_size {
        return Err(Error::InvalidPartSize {
            part_size: requested,
            reason: format!(
                "larger than the store's largest part, {} bytes",
                limits.max_part_size
            ),
        });
    }
    if let Some(size) = size {
        while size.div_ceil(part) > limits.max_parts {
            if part >= limits.max_part_size {
                return Err(Error::ArchiveTooLarge {
                    size,
                    reason: format!(
                        "more than {} parts of {} bytes",
                        limits.max_parts, limits.max_part_size
                    ),
                });
            }
            part *= 2;
        }
    }
    Ok(part)
}

/// Uploads files and streams to an [`ArchiveStore`].
///
/// See the [crate example](crate) for a round trip.
#[derive(Debug, Clone)]
pub struct Uploader {
    store: Arc<dyn ArchiveStore>,
    options: UploadOptions,
}

/// What identifies the source file of a resumable upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SourceIdentity {
    path: PathBuf,
    size: u64,
    mtime_ns: i128,
}

/// The first line of a resume-state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StateHeader {
    version: u32,
    store: String,
    vault: String,
    upload_id: String,
    part_size: u64,
    description: String,
    source: SourceIdentity,
}

/// Where parts come from.
trait PartSource: Send {
    /// Fills `buf` (cleared, with capacity of a part) with part `index`;
    /// returns its range, or `None` at the end of a stream.
    fn read_part(
        &mut self,
        index: u64,
        part_size: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Option<Range<u64>>>;
}

struct FileSource {
    file: File,
    path: PathBuf,
    size: u64,
}

impl PartSource for FileSource {
    fn read_part(
        &mut self,
        index: u64,
        part_size: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Option<Range<u64>>> {
        let start = index * part_size;
        if start >= self.size {
            return Ok(None);
        }
        let end = (start + part_size).min(self.size);
        buf.resize((end - start) as usize, 0);
        self.file
            .read_exact_at(buf, start)
            .map_err(|e| Error::SourceRead {
                source_name: self.path.display().to_string(),
                offset: start,
                source: e,
            })?;
        Ok(Some(start..end))
    }
}

struct StreamSource<'r> {
    reader: &'r mut (dyn Read + Send),
    pos: u64,
    /// Bytes read ahead to decide between a single request and multipart.
    ahead: Vec<u8>,
}

impl StreamSource<'_> {
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> Result<()> {
        while buf.len() < want {
            let old = buf.len();
            buf.resize(want, 0);
            match self.reader.read(&mut buf[old..]) {
                Ok(0) => {
                    buf.truncate(old);
                    return Ok(());
                }
                Ok(n) => buf.truncate(old + n),
                Err(e) if e.kind() == ErrorKind::Interrupted => buf.truncate(old),
                Err(e) => {
                    return Err(Error::SourceRead {
                        source_name: "the input stream".into(),
                        offset: self.pos + old as u64,
                        source: e,
                    });
                }
            }
        }
        Ok(())
    }
}

impl PartSource for StreamSource<'_> {
    fn read_part(
        &mut self,
        _index: u64,
        part_size: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Option<Range<u64>>> {
        buf.clear();
        if !self.ahead.is_empty() {
            let take = self.ahead.len().min(part_size as usize);
            buf.extend(self.ahead.drain(..take));
            // Give back the read-ahead buffer: memory stays at the pool's.
            self.ahead.shrink_to_fit();
        }
        self.fill(buf, part_size as usize)?;
        if buf.is_empty() {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += buf.len() as u64;
        Ok(Some(start..self.pos))
    }
}

/// An open resume-state file.
struct StateFile {
    path: PathBuf,
    file: File,
}

impl StateFile {
    fn append_part(&mut self, index: u64, hash: TreeHash) -> Result<()> {
        writeln!(self.file, "part {index} {hash}")
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io("appending to resume state", &self.path, e))
    }
}

/// A job for a worker: part index, its range, its bytes.
type Work = (u64, Range<u64>, Vec<u8>);

impl Uploader {
    /// An uploader to `store`.
    pub fn new(store: Arc<dyn ArchiveStore>, options: UploadOptions) -> Self {
        Uploader { store, options }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ArchiveStore> {
        &self.store
    }

    /// Uploads the file at `path` as one archive and returns it.
    ///
    /// With [`UploadOptions::state_dir`] set, the upload is resumable: run
    /// the same call again after a crash or a kill and only the parts the
    /// store does not hold travel. If the file changed in between (size or
    /// modification time), the stale upload is aborted and a fresh one
    /// started.
    #[allow(clippy::too_many_lines)] // one linear story: plan, resume, run, complete
    pub fn upload_file(
        &self,
        vault: &str,
        path: &Path,
        description: &str,
        progress: &dyn Progress,
    ) -> Result<ArchiveInfo> {
        let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let identity = identity_of(&file, path)?;
        let size = identity.size;
        let limits = self.store.limits();
        let part_size = choose_part_size(self.options.part_size, Some(size), &limits)?;
        if size <= part_size && size <= limits.max_single_upload {
            let mut data = Vec::with_capacity(size as usize);
            (&file)
                .take(size)
                .read_to_end(&mut data)
                .map_err(|e| Error::SourceRead {
                    source_name: path.display().to_string(),
                    offset: data.len() as u64,
                    source: e,
                })?;
            return self.single(vault, description, &data, progress);
        }

        let state_path = self.options.state_dir.as_ref().map(|dir| {
            dir.join(state_file_name(
                &self.store.location(),
                vault,
                &identity.path,
            ))
        });
        let resumed = match &state_path {
            Some(sp) => self.try_resume(sp, vault, &identity, size)?,
            None => None,
        };
        let (header, mut hashes) = if let Some(r) = resumed {
            r
        } else {
            let upload_id = self.options.retry.run("initiate upload", progress, || {
                self.store
                    .initiate_multipart_upload(vault, description, part_size)
            })?;
            let header = StateHeader {
                version: 1,
                store: self.store.location(),
                vault: vault.to_owned(),
                upload_id,
                part_size,
                description: description.to_owned(),
                source: identity.clone(),
            };
            if let Some(sp) = &state_path {
                write_state_header(sp, &header)?;
            }
            (header, vec![None; size.div_ceil(part_size) as usize])
        };
        let mut state = match &state_path {
            Some(sp) => Some(StateFile {
                path: sp.clone(),
                file: OpenOptions::new()
                    .append(true)
                    .open(sp)
                    .map_err(|e| Error::io("opening resume state", sp, e))?,
            }),
            None => None,
        };
        let part_size = header.part_size;
        let todo: Vec<u64> = (0..hashes.len() as u64)
            .filter(|&i| hashes[i as usize].is_none())
            .collect();
        let done_bytes: u64 = (0..hashes.len() as u64)
            .filter(|&i| hashes[i as usize].is_some())
            .map(|i| (size - i * part_size).min(part_size))
            .sum();
        progress.start(Some(size), Some(hashes.len() as u64), done_bytes);

        let mut source = FileSource {
            file,
            path: path.to_owned(),
            size,
        };
        let mut todo_iter = todo.into_iter();
        self.run_parts(
            vault,
            &header.upload_id,
            part_size,
            &mut source,
            &mut || todo_iter.next(),
            progress,
            &mut |index, _range, hash| {
                hashes[index as usize] = Some(hash);
                if let Some(st) = state.as_mut() {
                    st.append_part(index, hash)?;
                }
                Ok(())
            },
        )?;

        let now = identity_of(&source.file, path)?;
        if now != identity {
            return Err(Error::SourceChanged {
                path: path.to_owned(),
                vault: vault.to_owned(),
                upload_id: header.upload_id,
            });
        }
        let hashes: Vec<TreeHash> =
            hashes
                .into_iter()
                .collect::<Option<_>>()
                .ok_or_else(|| Error::IncompleteUpload {
                    vault: vault.to_owned(),
                    upload_id: header.upload_id.clone(),
                    reason: "a part was not uploaded".into(),
                })?;
        let total_hash =
            combine_parts(part_size, size, &hashes).map_err(|e| Error::IncompleteUpload {
                vault: vault.to_owned(),
                upload_id: header.upload_id.clone(),
                reason: e.to_string(),
            })?;
        let mut archive = self.options.retry.run("complete upload", progress, || {
            self.store.complete_multipart_upload_with_part_hashes(
                vault,
                &header.upload_id,
                size,
                total_hash,
                &hashes,
            )
        })?;
        // Not every store repeats the description when completing.
        archive.description.clone_from(&header.description);
        if let Some(sp) = &state_path {
            drop(state);
            let _ = fs::remove_file(sp);
        }
        Ok(archive)
    }

    /// Uploads everything `reader` yields as one archive (a pipe, standard
    /// input): one request if it ends within a part, multipart otherwise.
    /// `size_hint` (if known) lets the part size grow for large inputs;
    /// without it the requested part size must carry the whole stream
    /// within the store's part count. Streams are not resumable; a failed
    /// multipart upload is aborted.
    pub fn upload_reader(
        &self,
        vault: &str,
        reader: &mut (dyn Read + Send),
        description: &str,
        size_hint: Option<u64>,
        progress: &dyn Progress,
    ) -> Result<ArchiveInfo> {
        let limits = self.store.limits();
        let part_size = choose_part_size(self.options.part_size, size_hint, &limits)?;
        let mut source = StreamSource {
            reader,
            pos: 0,
            ahead: Vec::new(),
        };
        // Read one byte more than a part to know whether one request will do.
        let mut first = Vec::new();
        source.fill(&mut first, part_size as usize + 1)?;
        if first.len() as u64 <= part_size.min(limits.max_single_upload) {
            return self.single(vault, description, &first, progress);
        }
        source.ahead = first;
        progress.start(size_hint, size_hint.map(|s| s.div_ceil(part_size)), 0);
        let upload_id = self.options.retry.run("initiate upload", progress, || {
            self.store
                .initiate_multipart_upload(vault, description, part_size)
        })?;
        let mut hashes: Vec<Option<TreeHash>> = Vec::new();
        let mut total = 0u64;
        let mut next = 0u64;
        let max_parts = limits.max_parts;
        let result = self.run_parts(
            vault,
            &upload_id,
            part_size,
            &mut source,
            &mut || {
                let i = next;
                next += 1;
                Some(i)
            },
            progress,
            &mut |index, range, hash| {
                if index >= max_parts {
                    return Err(Error::ArchiveTooLarge {
                        size: range.end,
                        reason: format!(
                            "the stream needs more than {max_parts} parts of {part_size} bytes: give a larger part size or a size hint"
                        ),
                    });
                }
                if hashes.len() <= index as usize {
                    hashes.resize(index as usize + 1, None);
                }
                hashes[index as usize] = Some(hash);
                total = total.max(range.end);
                Ok(())
            },
        );
        let finish = result.and_then(|()| {
            let hashes: Vec<TreeHash> =
                hashes
                    .iter()
                    .copied()
                    .collect::<Option<_>>()
                    .ok_or_else(|| Error::IncompleteUpload {
                        vault: vault.to_owned(),
                        upload_id: upload_id.clone(),
                        reason: "a part of the stream was not uploaded".into(),
                    })?;
            let total_hash =
                combine_parts(part_size, total, &hashes).map_err(|e| Error::IncompleteUpload {
                    vault: vault.to_owned(),
                    upload_id: upload_id.clone(),
                    reason: e.to_string(),
                })?;
            let mut archive = self.options.retry.run("complete upload", progress, || {
                self.store.complete_multipart_upload_with_part_hashes(
                    vault, &upload_id, total, total_hash, &hashes,
                )
            })?;
            description.clone_into(&mut archive.description);
            Ok(archive)
        });
        if finish.is_err() {
            let _ = self.store.abort_multipart_upload(vault, &upload_id);
        }
        finish
    }

    fn single(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        progress: &dyn Progress,
    ) -> Result<ArchiveInfo> {
        progress.start(Some(data.len() as u64), Some(1), 0);
        let hash = tree_hash(data);
        let archive = self.options.retry.run("upload archive", progress, || {
            self.store.upload_archive(vault, description, data, hash)
        })?;
        progress.advance(data.len() as u64);
        progress.part_done(0);
        Ok(archive)
    }

    /// Reads the resume state at `sp`; returns the header and the part
    /// hashes the store already holds, or `None` to start afresh (after
    /// aborting a stale upload).
    fn try_resume(
        &self,
        sp: &Path,
        vault: &str,
        identity: &SourceIdentity,
        size: u64,
    ) -> Result<Option<(StateHeader, Vec<Option<TreeHash>>)>> {
        let text = match fs::read_to_string(sp) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading resume state", sp, e)),
        };
        let header: Option<StateHeader> = text
            .lines()
            .next()
            .and_then(|l| serde_json::from_str(l).ok());
        let Some(header) = header else {
            // A state file whose header never made it whole: nothing to
            // resume (the header is written by rename, so this is damage).
            let _ = fs::remove_file(sp);
            return Ok(None);
        };
        let same_target = header.store == self.store.location() && header.vault == vault;
        if !same_target || header.source != *identity {
            if same_target {
                match self.store.abort_multipart_upload(vault, &header.upload_id) {
                    Ok(()) | Err(Error::UploadNotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let _ = fs::remove_file(sp);
            return Ok(None);
        }
        let listed = match self.store.list_parts(vault, &header.upload_id) {
            Ok(l) => l,
            Err(Error::UploadNotFound { .. }) => {
                let _ = fs::remove_file(sp);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let part_size = header.part_size;
        let count = size.div_ceil(part_size);
        // Hashes this process recorded; a torn last line is ignored.
        let mut recorded: HashMap<u64, TreeHash> = HashMap::new();
        for line in text.lines().skip(1) {
            let mut it = line.split(' ');
            if it.next() != Some("part") {
                continue;
            }
            let index = it.next().and_then(|v| v.parse::<u64>().ok());
            let hash = it.next().and_then(|v| TreeHash::from_hex(v).ok());
            if let (Some(index), Some(hash)) = (index, hash) {
                recorded.insert(index, hash);
            }
        }
        let mut hashes = vec![None; count as usize];
        for p in listed.parts {
            let index = p.range.start / part_size;
            let expected = index * part_size..((index + 1) * part_size).min(size);
            if p.range == expected && index < count {
                // The store's hash if it keeps one, else ours; a part whose
                // hash neither knows is sent again.
                hashes[index as usize] = p.tree_hash.or_else(|| recorded.get(&index).copied());
            }
        }
        Ok(Some((header, hashes)))
    }

    /// Uploads parts: a reader thread fills buffers from `source` for the
    /// indices `next_index` yields, `concurrency` workers hash and upload
    /// them (with retries), and this thread hands each success to
    /// `on_done`. Buffers are recycled, at most `concurrency + 2` exist.
    #[allow(clippy::too_many_arguments, clippy::too_many_lines)]
    fn run_parts(
        &self,
        vault: &str,
        upload_id: &str,
        part_size: u64,
        source: &mut dyn PartSource,
        next_index: &mut (dyn FnMut() -> Option<u64> + Send),
        progress: &dyn Progress,
        on_done: &mut dyn FnMut(u64, Range<u64>, TreeHash) -> Result<()>,
    ) -> Result<()> {
        let workers = self.options.concurrency.max(1);
        let max_buffers = workers + 2;
        let stop = AtomicBool::new(false);
        let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(max_buffers);
        let (work_tx, work_rx) = mpsc::sync_channel::<Work>(1);
        let work_rx = Mutex::new(work_rx);
        let (done_tx, done_rx) = mpsc::channel::<Result<(u64, Range<u64>, TreeHash)>>();
        let store = &*self.store;
        let retry = self.options.retry;

        std::thread::scope(|s| -> Result<()> {
            let stop = &stop;
            let work_rx = &work_rx;
            let mut handles = Vec::new();
            for _ in 0..workers {
                let pool_tx: SyncSender<Vec<u8>> = pool_tx.clone();
                let done_tx = done_tx.clone();
                handles.push(s.spawn(move || {
                    loop {
                        let job = {
                            let rx = work_rx
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            rx.recv()
                        };
                        let Ok((index, range, buf)) = job else { break };
                        if stop.load(Ordering::Relaxed) {
                            let _ = pool_tx.try_send(buf);
                            continue;
                        }
                        let hash = tree_hash(&buf);
                        let what = format!("upload part {index}");
                        let r = retry.run(&what, progress, || {
                            store.upload_part(vault, upload_id, range.clone(), hash, &buf)
                        });
                        let len = buf.len() as u64;
                        let _ = pool_tx.try_send(buf);
                        if r.is_ok() {
                            progress.advance(len);
                            progress.part_done(index);
                        } else {
                            stop.store(true, Ordering::Relaxed);
                        }
                        if done_tx.send(r.map(|()| (index, range, hash))).is_err() {
                            break;
                        }
                    }
                }));
            }
            drop(pool_tx);
            drop(done_tx);

            let reader = s.spawn(move || -> Result<()> {
                let work_tx: SyncSender<Work> = work_tx;
                let pool_rx: Receiver<Vec<u8>> = pool_rx;
                let mut allocated = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Some(index) = next_index() else { break };
                    let mut buf = if allocated < max_buffers {
                        if let Ok(b) = pool_rx.try_recv() {
                            b
                        } else {
                            allocated += 1;
                            Vec::with_capacity(part_size as usize)
                        }
                    } else {
                        match pool_rx.recv() {
                            Ok(b) => b,
                            Err(_) => break, // every worker is gone
                        }
                    };
                    buf.clear();
                    match source.read_part(index, part_size, &mut buf)? {
                        Some(range) => {
                            if work_tx.send((index, range, buf)).is_err() {
                                break;
                            }
                        }
                        None => break,
                    }
                }
                Ok(())
            });

            let mut first_error = None;
            for r in done_rx {
                match r.and_then(|(index, range, hash)| on_done(index, range, hash)) {
                    Ok(()) => {}
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        if first_error.is_none() {
                            first_error = Some(e);
                        }
                    }
                }
            }
            let read = reader.join().map_err(|_| Error::WorkerPanicked {
                while_doing: "reading parts",
            })?;
            for h in handles {
                h.join().map_err(|_| Error::WorkerPanicked {
                    while_doing: "uploading parts",
                })?;
            }
            // A read error stops the reader, then the workers; it is the
            // cause of whatever else failed.
            read?;
            first_error.map_or(Ok(()), Err)
        })
    }
}

fn identity_of(file: &File, path: &Path) -> Result<SourceIdentity> {
    let meta = file
        .metadata()
        .map_err(|e| Error::io("reading metadata of", path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            "uploading",
            path,
            std::io::Error::new(
                ErrorKind::InvalidInput,
                "not a regular file: use upload_reader",
            ),
        ));
    }
    let mtime_ns = meta
        .modified()
        .ok()
        .map_or(0, |t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
            Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
        });
    let path = fs::canonicalize(path).map_err(|e| Error::io("resolving", path, e))?;
    Ok(SourceIdentity {
        path,
        size: meta.len(),
        mtime_ns,
    })
}

fn state_file_name(store: &str, vault: &str, path: &Path) -> String {
    let mut h = Sha256::new();
    h.update(store.as_bytes());
    h.update([0]);
    h.update(vault.as_bytes());
    h.update([0]);
    h.update(path.as_os_str().as_encoded_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    format!("upload-{hex}.state")
}

fn write_state_header(sp: &Path, header: &StateHeader) -> Result<()> {
    let dir = sp.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io("creating state directory", dir, e))?;
    let tmp = sp.with_extension("state.tmp");
    let mut line = serde_json::to_string(header).expect("a state header always serializes");
    line.push('\n');
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, sp)
    })();
    result.map_err(|e| Error::io("writing resume state", sp, e))
}
