//! Tree hash of a file (or a range of it) with several threads.
//!
//! The range is cut into segments of `2^k` MiB. Worker threads claim segments
//! in order, read them with positioned reads into a small private buffer and
//! hash them into a segment root; the calling thread puts the roots back in
//! order and folds them into the tree. Workers never run more than a fixed
//! window of segments ahead of the fold, so memory is bounded by the number of
//! threads, not by the file size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use sha2::{Digest as _, Sha256};

use crate::hasher::READ_BUFFER;
use crate::{CHUNK_SIZE, TreeBuilder, TreeHash};

/// Largest segment a worker claims at once.
const MAX_SEGMENT: u64 = 16 * CHUNK_SIZE;
/// How many segments each worker may run ahead of the in-order fold.
const WINDOW_PER_THREAD: u64 = 4;

/// The tree hash of a whole file, using up to `threads` threads.
///
/// `threads` of 0 or 1 hashes on the calling thread. Memory stays under
/// `threads x 64 KiB` plus a few digests whatever the file size. Something
/// that is not a regular file (a pipe, a character device) is read as a
/// stream on the calling thread.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use glacier_treehash::{tree_hash, tree_hash_file};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("data.bin");
/// let data = vec![42u8; 3 << 20];
/// std::fs::write(&path, &data)?;
/// assert_eq!(tree_hash_file(&path, 2)?, tree_hash(&data));
/// # Ok(())
/// # }
/// ```
pub fn tree_hash_file(path: &Path, threads: usize) -> io::Result<TreeHash> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return crate::tree_hash_reader(file).map(|(hash, _)| hash);
    }
    tree_hash_file_range(&file, 0, meta.len(), threads)
}

/// The tree hash of `len` bytes of `file` starting at `offset`.
///
/// This is the hash of one multipart part, or of one downloaded range. The
/// file's own cursor is not used or moved. If the file ends before
/// `offset + len`, the error is [`io::ErrorKind::UnexpectedEof`].
pub fn tree_hash_file_range(
    file: &File,
    offset: u64,
    len: u64,
    threads: usize,
) -> io::Result<TreeHash> {
    if threads <= 1 || len <= CHUNK_SIZE {
        return hash_range_sequential(file, offset, len);
    }
    let threads = threads as u64;
    // Segments small enough that every thread gets several, within 1..=16 MiB,
    // and always a power of two of chunks so each is a perfect subtree.
    let per_thread = len / (threads * 4);
    let segment = per_thread
        .clamp(CHUNK_SIZE, MAX_SEGMENT)
        .next_power_of_two()
        .min(MAX_SEGMENT);
    let height = (segment / CHUNK_SIZE).trailing_zeros();
    let segments = len.div_ceil(segment);
    let window = threads * WINDOW_PER_THREAD;

    let claims = Claims {
        state: Mutex::new(ClaimState {
            next: 0,
            folded: 0,
            abort: false,
        }),
        wake: Condvar::new(),
    };
    let (tx, rx) = mpsc::channel::<(u64, io::Result<TreeHash>)>();

    std::thread::scope(|scope| {
        for _ in 0..threads.min(segments) {
            let tx = tx.clone();
            let claims = &claims;
            scope.spawn(move || {
                let mut buf = vec![0u8; READ_BUFFER];
                while let Some(index) = claims.claim(segments, window) {
                    let start = index * segment;
                    let seg_len = segment.min(len - start);
                    let result = hash_segment(file, offset + start, seg_len, &mut buf);
                    if tx.send((index, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);

        let mut tree = TreeBuilder::new();
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        let mut first_error = None;
        for (index, result) in rx {
            match result {
                Ok(root) => {
                    pending.insert(index, root);
                    while let Some(root) = pending.remove(&next) {
                        // Segments of one size are always aligned.
                        tree.push_unchecked(height, root);
                        next += 1;
                    }
                    claims.folded(next);
                }
                Err(e) => {
                    claims.abort();
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(tree.finish()),
        }
    })
}

struct Claims {
    state: Mutex<ClaimState>,
    wake: Condvar,
}

struct ClaimState {
    next: u64,
    folded: u64,
    abort: bool,
}

impl Claims {
    /// The next segment to hash, waiting while the window is full; `None`
    /// when all are claimed or the work was aborted.
    fn claim(&self, segments: u64, window: u64) -> Option<u64> {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if s.abort || s.next >= segments {
                return None;
            }
            if s.next < s.folded + window {
                s.next += 1;
                return Some(s.next - 1);
            }
            s = self
                .wake
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn folded(&self, folded: u64) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.folded != folded {
            s.folded = folded;
            self.wake.notify_all();
        }
    }

    fn abort(&self) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.abort = true;
        self.wake.notify_all();
    }
}

/// Hashes one segment (a whole number of chunks, or the file's tail) into
/// its subtree root.
fn hash_segment(file: &File, offset: u64, len: u64, buf: &mut [u8]) -> io::Result<TreeHash> {
    let mut tree = TreeBuilder::new();
    let mut done = 0;
    while done < len {
        let chunk_len = CHUNK_SIZE.min(len - done);
        let leaf = hash_chunk(file, offset + done, chunk_len, buf)?;
        tree.push_leaf(leaf);
        done += chunk_len;
    }
    Ok(tree.finish())
}

fn hash_chunk(file: &File, offset: u64, len: u64, buf: &mut [u8]) -> io::Result<TreeHash> {
    let mut sha = Sha256::new();
    let mut done = 0;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        read_exact_at(file, &mut buf[..want], offset + done).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file ends before byte {}, inside the range being hashed \
                         (did it shrink while being read?)",
                        offset + done + want as u64
                    ),
                )
            } else {
                e
            }
        })?;
        sha.update(&buf[..want]);
        done += want as u64;
    }
    Ok(TreeHash::from_bytes(sha.finalize().into()))
}

fn hash_range_sequential(file: &File, offset: u64, len: u64) -> io::Result<TreeHash> {
    if len == 0 {
        return Ok(TreeHash::EMPTY);
    }
    let mut buf = vec![0u8; READ_BUFFER];
    hash_segment(file, offset, len, &mut buf)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt as _;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file ended before the range being hashed",
                ));
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::tree_hash;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn parallel_equals_one_shot_for_many_sizes_and_threads() {
        let mib = CHUNK_SIZE as usize;
        for len in [
            0,
            1,
            mib - 1,
            mib,
            mib + 1,
            7 * mib + 5,
            33 * mib,
            70 * mib + 1,
        ] {
            let data = pattern(len);
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&data).unwrap();
            let want = tree_hash(&data);
            for threads in [1, 2, 3, 8] {
                assert_eq!(
                    tree_hash_file_range(&f, 0, len as u64, threads).unwrap(),
                    want,
                    "len {len}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn range_of_a_file() {
        let data = pattern(9 << 20);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let (start, len) = (3 << 20, (4 << 20) + 17);
        assert_eq!(
            tree_hash_file_range(&f, start as u64, len as u64, 2).unwrap(),
            tree_hash(&data[start..start + len])
        );
    }

    #[test]
    fn a_file_shorter_than_the_range_is_an_error() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&pattern(3 << 20)).unwrap();
        for threads in [1, 2] {
            let err = tree_hash_file_range(&f, 0, 40 << 20, threads).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            assert!(err.to_string().contains("did it shrink"), "{err}");
        }
    }
}
