//! Streaming and one-shot hashing of bytes in memory or from a reader.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use crate::{CHUNK_SIZE, TreeBuilder, TreeHash};

const CHUNK: usize = CHUNK_SIZE as usize;

/// Size of the buffer used when reading: small enough to stay in the L2
/// cache while SHA-256 reads it back, large enough to keep syscalls cheap.
/// Measured on a 2-core SHA-NI machine from the page cache: 16-128 KiB reads
/// hash at 1.33-1.37 GB/s, 256 KiB and 1 MiB reads at only 0.97 GB/s.
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// Computes a tree hash over bytes fed in any number of pieces of any size.
///
/// Memory is constant: one SHA-256 state and one digest per tree level.
/// It is also an [`io::Write`], so `io::copy` can feed it.
///
/// ```
/// use glacier_treehash::{TreeHasher, tree_hash};
///
/// let data = b"Hello, world! ".iter().chain(&[b'x'; 100]).copied().collect::<Vec<u8>>();
/// let mut h = TreeHasher::new();
/// h.update(&data[..10]);
/// h.update(&data[10..]);
/// assert_eq!(h.len(), 114);
/// assert_eq!(h.finish(), tree_hash(&data));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TreeHasher {
    chunk: Sha256,
    in_chunk: usize,
    total: u64,
    tree: TreeBuilder,
}

impl TreeHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let take = (CHUNK - self.in_chunk).min(data.len());
            self.chunk.update(&data[..take]);
            self.in_chunk += take;
            data = &data[take..];
            if self.in_chunk == CHUNK {
                let leaf = TreeHash::from_bytes(self.chunk.finalize_reset().into());
                self.tree.push_leaf(leaf);
                self.in_chunk = 0;
            }
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether no bytes were fed yet.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The tree hash of everything fed.
    pub fn finish(mut self) -> TreeHash {
        if self.in_chunk > 0 || self.total == 0 {
            let leaf = TreeHash::from_bytes(self.chunk.finalize().into());
            self.tree.push_leaf(leaf);
        }
        self.tree.finish()
    }
}

impl Write for TreeHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The tree hash of a byte slice.
///
/// ```
/// use glacier_treehash::tree_hash;
///
/// let mut data = b"Hello, world! ".to_vec();
/// data.extend([b'x'; 100]);
/// assert_eq!(
///     tree_hash(&data).to_string(),
///     "15aad04dbdebee9ad90ba889d8eb3b9045be355fed57c62894bc2b1ae259c8c8"
/// );
/// ```
pub fn tree_hash(data: &[u8]) -> TreeHash {
    if data.is_empty() {
        return TreeHash::EMPTY;
    }
    let mut tree = TreeBuilder::new();
    for chunk in data.chunks(CHUNK) {
        tree.push_leaf(TreeHash::leaf(chunk));
    }
    tree.finish()
}

/// Reads `reader` to its end and returns the tree hash and the byte count.
///
/// Works on pipes and other streams of unknown length. Interrupted reads are
/// retried; any other I/O error is returned as is, for the caller to put in
/// context.
pub fn tree_hash_reader<R: Read>(mut reader: R) -> io::Result<(TreeHash, u64)> {
    let mut hasher = TreeHasher::new();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = hasher.len();
    Ok((hasher.finish(), len))
}
