//! The download engine: a job's output in verified, tree-hash aligned
//! segments, several at once, resumable, renamed into place when whole.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use glacier_treehash::{TreeHash, split_tree_hash_aligned, tree_hash, tree_hash_file};
use serde::{Deserialize, Serialize};

use crate::{ArchiveStore, Error, JobStatus, Progress, Result, RetryPolicy};

/// How a [`Downloader`] works.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// The largest segment fetched in one request (rounded down to 1 MiB x
    /// 2^k so each segment is a node of the tree hash). Memory use is about
    /// `concurrency x segment size`.
    pub segment_size: u64,
    /// Segments in flight at once.
    pub concurrency: usize,
    /// Retries of each request. A segment whose bytes do not match the
    /// tree hash the store sent is fetched again too, within the same
    /// number of tries.
    pub retry: RetryPolicy,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            segment_size: 32 << 20,
            concurrency: 4,
            retry: RetryPolicy::default(),
        }
    }
}

/// What a download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadInfo {
    /// Bytes in the file.
    pub size: u64,
    /// The tree hash of the whole output, when the job announced one (then
    /// the file was checked against it).
    pub tree_hash: Option<TreeHash>,
    /// Segments fetched by this call.
    pub segments_fetched: u64,
    /// Segments an earlier, interrupted call had already fetched.
    pub segments_resumed: u64,
}

/// Downloads job outputs from an [`ArchiveStore`].
#[derive(Debug, Clone)]
pub struct Downloader {
    store: Arc<dyn ArchiveStore>,
    options: DownloadOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DownloadHeader {
    version: u32,
    store: String,
    vault: String,
    job_id: String,
    size: u64,
    #[serde(with = "crate::serde_util::hash_opt")]
    tree_hash: Option<TreeHash>,
}

impl Downloader {
    /// A downloader from `store`.
    pub fn new(store: Arc<dyn ArchiveStore>, options: DownloadOptions) -> Self {
        Downloader { store, options }
    }

    /// Downloads the output of the succeeded job `job_id` to `dest`.
    ///
    /// Bytes go to `DEST.partial` (progress to `DEST.partial.state`); the
    /// file is renamed to `dest` only once every segment has been verified
    /// and the whole matches the job's tree hash. Calling again after an
    /// interruption fetches only the segments that are missing.
    #[allow(clippy::too_many_lines)]
    pub fn download_job(
        &self,
        vault: &str,
        job_id: &str,
        dest: &Path,
        progress: &dyn Progress,
    ) -> Result<DownloadInfo> {
        let retry = self.options.retry;
        let job = retry.run("describe job", progress, || {
            self.store.describe_job(vault, job_id)
        })?;
        if job.status != JobStatus::Succeeded {
            return Err(Error::JobNotReady {
                vault: vault.to_owned(),
                job_id: job_id.to_owned(),
            });
        }
        let size = match job.output_size {
            Some(s) => s,
            None => {
                retry
                    .run("read job output", progress, || {
                        self.store.get_job_output(vault, job_id, None)
                    })?
                    .total_size
            }
        };
        let header = DownloadHeader {
            version: 1,
            store: self.store.location(),
            vault: vault.to_owned(),
            job_id: job_id.to_owned(),
            size,
            tree_hash: job.output_tree_hash,
        };
        let partial = suffixed(dest, ".partial");
        let state_path = suffixed(dest, ".partial.state");
        let done = load_state(&state_path, &partial, &header)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .open(&partial)
            .map_err(|e| Error::io("creating", &partial, e))?;
        if done.is_empty() {
            file.set_len(size)
                .map_err(|e| Error::io("sizing", &partial, e))?;
            write_header(&state_path, &header)?;
        }
        let state = Mutex::new(
            OpenOptions::new()
                .append(true)
                .open(&state_path)
                .map_err(|e| Error::io("opening download state", &state_path, e))?,
        );

        let segments: Vec<Range<u64>> = if size == 0 {
            Vec::new()
        } else {
            split_tree_hash_aligned(&(0..size), size, self.options.segment_size.max(1 << 20))
                .unwrap_or_else(|| std::iter::once(0..size).collect())
        };
        let todo: Vec<(u64, Range<u64>)> = segments
            .iter()
            .enumerate()
            .filter(|(_, r)| !covered(&done, r))
            .map(|(i, r)| (i as u64, r.clone()))
            .collect();
        let resumed = (segments.len() - todo.len()) as u64;
        let resumed_bytes: u64 = segments
            .iter()
            .filter(|r| covered(&done, r))
            .map(|r| r.end - r.start)
            .sum();
        progress.start(Some(size), Some(segments.len() as u64), resumed_bytes);
        let fetched = todo.len() as u64;
        let queue = Mutex::new(todo.into_iter());
        let stop = AtomicBool::new(false);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);

        std::thread::scope(|s| {
            for _ in 0..self.options.concurrency.max(1) {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .next();
                        let Some((index, range)) = next else { break };
                        let r = self
                            .fetch_segment(
                                vault,
                                job_id,
                                &range,
                                size,
                                job.output_tree_hash,
                                progress,
                            )
                            .and_then(|(data, hash)| {
                                file.write_all_at(&data, range.start)
                                    .and_then(|()| file.sync_data())
                                    .map_err(|e| Error::io("writing", &partial, e))?;
                                let mut st = state
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                writeln!(st, "seg {} {} {hash}", range.start, range.end)
                                    .and_then(|()| st.sync_data())
                                    .map_err(|e| Error::io("appending to", &state_path, e))
                            });
                        match r {
                            Ok(()) => {
                                progress.advance(range.end - range.start);
                                progress.part_done(index);
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                first_error
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                                    .get_or_insert(e);
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        file.sync_all()
            .map_err(|e| Error::io("syncing", &partial, e))?;
        drop(file);
        if let Some(expected) = job.output_tree_hash {
            let actual = tree_hash_file(&partial, self.options.concurrency.max(1))
                .map_err(|e| Error::io("hashing", &partial, e))?;
            if actual != expected {
                // Whatever is on disk is wrong somewhere: start over next time.
                let _ = fs::remove_file(&state_path);
                return Err(Error::RangeChecksumMismatch {
                    vault: vault.to_owned(),
                    job_id: job_id.to_owned(),
                    range: 0..size,
                    expected,
                    actual,
                });
            }
        }
        fs::rename(&partial, dest).map_err(|e| Error::io("renaming into place", dest, e))?;
        let _ = fs::remove_file(&state_path);
        Ok(DownloadInfo {
            size,
            tree_hash: job.output_tree_hash,
            segments_fetched: fetched,
            segments_resumed: resumed,
        })
    }

    /// Fetches and verifies one segment, with retries (a corrupted segment
    /// is fetched again).
    fn fetch_segment(
        &self,
        vault: &str,
        job_id: &str,
        range: &Range<u64>,
        size: u64,
        whole: Option<TreeHash>,
        progress: &dyn Progress,
    ) -> Result<(Vec<u8>, TreeHash)> {
        let what = format!("read bytes {}-{} of job output", range.start, range.end);
        self.options.retry.run_also(
            &what,
            progress,
            |e| matches!(e, Error::RangeChecksumMismatch { .. }),
            || {
                let out = self
                    .store
                    .get_job_output(vault, job_id, Some(range.clone()))?;
                if out.range != *range || out.data.len() as u64 != range.end - range.start {
                    return Err(Error::Connection {
                        operation: "get_job_output",
                        vault: vault.to_owned(),
                        message: format!(
                            "asked for bytes {}-{}, got {} bytes for {}-{}",
                            range.start,
                            range.end,
                            out.data.len(),
                            out.range.start,
                            out.range.end
                        ),
                    });
                }
                let actual = tree_hash(&out.data);
                let expected = out
                    .tree_hash
                    .or_else(|| (*range == (0..size)).then_some(whole).flatten());
                if let Some(expected) = expected
                    && expected != actual
                {
                    return Err(Error::RangeChecksumMismatch {
                        vault: vault.to_owned(),
                        job_id: job_id.to_owned(),
                        range: range.clone(),
                        expected,
                        actual,
                    });
                }
                Ok((out.data, actual))
            },
        )
    }
}

/// Whether the finished ranges (start -> end) cover all of `r`; an earlier
/// run may have used another segment size.
fn covered(done: &BTreeMap<u64, u64>, r: &Range<u64>) -> bool {
    let mut pos = r.start;
    for (&start, &end) in done.range(..r.end) {
        if start > pos {
            return false;
        }
        pos = pos.max(end);
        if pos >= r.end {
            return true;
        }
    }
    pos >= r.end
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write_header(state_path: &Path, header: &DownloadHeader) -> Result<()> {
    let mut line = serde_json::to_string(header).expect("a download header always serializes");
    line.push('\n');
    let tmp = suffixed(state_path, ".tmp");
    (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, state_path)
    })()
    .map_err(|e| Error::io("writing download state", state_path, e))
}

/// The segments (start -> end) an earlier run finished, if its state
/// belongs to this job; otherwise forgets it.
fn load_state(
    state_path: &Path,
    partial: &Path,
    header: &DownloadHeader,
) -> Result<BTreeMap<u64, u64>> {
    let text = match fs::read_to_string(state_path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let _ = fs::remove_file(partial);
            return Ok(BTreeMap::new());
        }
        Err(e) => return Err(Error::io("reading download state", state_path, e)),
    };
    let mut lines = text.lines();
    let same = lines
        .next()
        .and_then(|l| serde_json::from_str::<DownloadHeader>(l).ok())
        .is_some_and(|h| h == *header);
    let partial_ok = fs::metadata(partial).is_ok_and(|m| m.len() == header.size);
    if !same || !partial_ok {
        let _ = fs::remove_file(partial);
        let _ = fs::remove_file(state_path);
        return Ok(BTreeMap::new());
    }
    let mut done = BTreeMap::new();
    for line in lines {
        // A torn last line (killed mid-write) is simply not counted.
        let mut it = line.split(' ');
        if it.next() != Some("seg") {
            continue;
        }
        let start = it.next().and_then(|v| v.parse::<u64>().ok());
        let end = it.next().and_then(|v| v.parse::<u64>().ok());
        let hash = it.next().and_then(|v| TreeHash::from_hex(v).ok());
        if let (Some(start), Some(end), Some(_)) = (start, end, hash) {
            done.insert(start, end);
        }
    }
    // An empty map would mean "fresh": keep the header by marking nothing
    // done but the state present.
    if done.is_empty() {
        let _ = fs::remove_file(partial);
        let _ = fs::remove_file(state_path);
    }
    Ok(done)
}
