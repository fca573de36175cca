//! The Amazon Glacier SHA-256 tree hash.
//!
//! Glacier checks every upload, and signs every download, with a *tree hash*:
//! the data is cut into 1 MiB chunks, each chunk is hashed with SHA-256, and
//! the digests are then hashed in pairs, level by level, an odd last node
//! being carried up unchanged, until one digest is left. A multipart part of
//! `2^k` MiB is a perfect subtree, so the archive's hash can be assembled from
//! part hashes without reading the data again, and a downloaded range that
//! matches a node of the tree can be verified on its own.
//!
//! This crate computes it every way an uploader or downloader needs:
//!
//! - [`tree_hash`]: one shot over a byte slice;
//! - [`TreeHasher`]: streaming, fed in pieces of any size, also an
//!   [`std::io::Write`]; [`tree_hash_reader`] for any [`std::io::Read`];
//! - [`tree_hash_file`] / [`tree_hash_file_range`]: a file or a byte range of
//!   it, hashed by several threads in bounded memory;
//! - [`combine_leaves`], [`combine_parts`], [`TreeBuilder`]: the archive's
//!   hash from already computed chunk or part hashes;
//! - [`is_tree_hash_aligned`], [`split_tree_hash_aligned`],
//!   [`range_tree_hash_from_leaves`]: ranged downloads.
//!
//! It depends on [`sha2`] only, which uses the CPU's SHA instructions when
//! it has them.
//!
//! # Example
//!
//! ```
//! use glacier_treehash::{TreeHash, TreeHasher, combine_parts, tree_hash};
//!
//! // The known vector: "Hello, world! " followed by 100 'x'.
//! let mut data = b"Hello, world! ".to_vec();
//! data.extend([b'x'; 100]);
//! let expected: TreeHash =
//!     "15aad04dbdebee9ad90ba889d8eb3b9045be355fed57c62894bc2b1ae259c8c8".parse()?;
//! assert_eq!(tree_hash(&data), expected);
//!
//! // Streaming, in pieces of any size.
//! let mut h = TreeHasher::new();
//! for piece in data.chunks(7) {
//!     h.update(piece);
//! }
//! assert_eq!(h.finish(), expected);
//!
//! // A 5 MiB + 1 archive uploaded in 2 MiB parts: combine the part hashes.
//! let big = vec![0xabu8; (5 << 20) + 1];
//! let parts: Vec<TreeHash> = big.chunks(2 << 20).map(tree_hash).collect();
//! assert_eq!(combine_parts(2 << 20, big.len() as u64, &parts)?, tree_hash(&big));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod builder;
mod digest;
mod file;
mod hasher;
mod range;

pub use builder::{
    CombineError, MisalignedNode, TreeBuilder, combine_leaves, combine_parts, is_valid_part_size,
};
pub use digest::{ParseTreeHashError, TreeHash};
pub use file::{tree_hash_file, tree_hash_file_range};
pub use hasher::{TreeHasher, tree_hash, tree_hash_reader};
pub use range::{
    is_megabyte_aligned, is_tree_hash_aligned, range_tree_hash_from_leaves,
    split_tree_hash_aligned, tree_hash_aligned_cover,
};

/// The size of a leaf chunk: 1 MiB.
pub const CHUNK_SIZE: u64 = 1 << 20;

/// The largest multipart part Glacier accepts: 4 GiB.
pub const MAX_PART_SIZE: u64 = 4 << 30;

/// The most parts one multipart upload may have.
pub const MAX_PARTS: u64 = 10_000;
