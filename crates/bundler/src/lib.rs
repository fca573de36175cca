//! Walk file trees and pack them into compressed, seekable, optionally
//! encrypted tar bundles; list and safely extract them, also from byte
//! ranges of a stored bundle.
//!
//! Millions of small files become a few thousand large objects in cold
//! storage, while every file stays findable and retrievable on its own:
//!
//! - [`Walker`] walks roots with parallel `stat`, selects by glob and by a
//!   time window on an explicitly named [`TimeField`], records symlinks
//!   (not followed), stores hard links once, skips and counts sockets,
//!   FIFOs and devices, reports unreadable entries, and sorts the result so
//!   two runs give the same bundles.
//! - [`BundlePlan`] cuts the entries into bundles of at most N members and
//!   S bytes (default 1000 and 500 MiB); a larger file gets its own bundle.
//! - [`BundleWriter`] streams one bundle into any [`std::io::Write`]: a
//!   standard POSIX tar (PAX headers for long and non-UTF-8 names, large
//!   sizes, sub-second times, big ids) compressed as independent zstd
//!   frames (or gzip members, or plain), cut at member boundaries and at
//!   least every [`BundleOptions::frame_size`] bytes, optionally encrypted
//!   with age. Reading, tarring, hashing and compressing run on all cores.
//!   It returns the [`BundleIndex`] (per member: path, metadata, SHA-256,
//!   tar offset, compressed byte range), which is also the bundle's last
//!   member, and a zstd bundle ends with a skippable frame pointing at it.
//!   Inside a frame, random-looking files follow the others of their run
//!   ([`BundleOptions::group_incompressible`]), and random-looking content
//!   gets frames of its own ([`BundleOptions::raw_frames`]): stored in
//!   raw zstd blocks when the content dominates (the random stretches of
//!   large files, members of about 100 KiB and more), otherwise compressed
//!   at zstd's fast level -4, so zstd's match finder never works through
//!   it at the level asked. Raw frames are standard zstd frames with the
//!   usual XXH64 content checksum. A 512-byte sample decides: content
//!   whose sample looks random but whose rest compresses is stored larger
//!   than zstd would have made it.
//! - [`extract_stream`] and [`extract_ranges`] unpack all or selected
//!   members, from a whole bundle or from just the byte ranges the index
//!   names, verifying every hash and refusing hostile input; [`list`] and
//!   [`read_index`] read a bundle's own index.
//!
//! Stock tools read the bundles: `zstd -dc B | tar -tvf -`, `age -d -i KEY
//! B | zstd -dc | tar -x`.
//!
//! # Example
//!
//! ```
//! use bundler::{
//!     BundleLimits, BundleOptions, BundlePlan, BundleWriter, ExtractOptions, NameStyle,
//!     Selection, WalkOptions, Walker, extract_ranges,
//! };
//!
//! let src = tempfile::tempdir()?;
//! std::fs::create_dir(src.path().join("docs"))?;
//! std::fs::write(src.path().join("docs/a.txt"), b"hello")?;
//! std::fs::write(src.path().join("b.bin"), vec![7u8; 100_000])?;
//!
//! let walk = Walker::new(WalkOptions {
//!     roots: vec![src.path().to_path_buf()],
//!     name_style: NameStyle::RelativeToRoot,
//!     ..WalkOptions::default()
//! })?
//! .walk()?;
//! let plan = BundlePlan::new(&walk.entries, BundleLimits::default())?;
//! assert_eq!(plan.len(), 1);
//!
//! let written = BundleWriter::new(Vec::new(), BundleOptions::default())
//!     .write(plan.bundle(&walk.entries, 0))?;
//! let index = written.index;
//! assert_eq!(index.members.len(), 3); // b.bin, docs, docs/a.txt
//!
//! // Get one file back from its byte range only.
//! let out = tempfile::tempdir()?;
//! extract_ranges(
//!     &written.sink,
//!     &index,
//!     &Selection::paths(["docs/a.txt"]),
//!     out.path(),
//!     &ExtractOptions::default(),
//! )?;
//! assert_eq!(std::fs::read(out.path().join("docs/a.txt"))?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod crypt;
mod error;
mod extract;
mod index;
mod list;
mod plan;
mod read;
mod source;
mod tar;
mod walk;
mod write;

pub use crypt::{Decryption, Encryption, generate_x25519};
pub use error::{BundleError, Result};
pub use extract::{
    ExtractOptions, ExtractReport, Selection, extract_ranges, extract_stream, list,
    read_index_stream, safe_components,
};
pub use index::{
    AgeScheme, BundleIndex, ByteRange, Compression, EncryptionInfo, FORMAT, Frame, INDEX_MEMBER,
    MemberIndex, MemberKind, MemberPath, Skipped,
};
pub use list::{EntryList, EntryMeta, EntryType};
pub use plan::{BundleLimits, BundlePlan};
pub use read::read_index;
pub use source::{CountingSource, FileSource, RangeSource};
pub use walk::{
    Entry, EntryKind, NameStyle, TimeField, TimeWindow, Timestamp, Walk, WalkIssue, WalkOptions,
    WalkReport, Walker,
};
pub use write::{
    BundleOptions, BundleWriter, WrittenBundle, release_buffers, write_bundles_to_dir,
};

/// Fuzzing entry point: parse a tar stream's headers strictly, as the
/// extractor does, and return how many members were found. Not part of the
/// stable API.
#[doc(hidden)]
pub fn fuzz_tar_headers(data: &[u8]) -> Result<usize> {
    let mut t = read::TarReader::new(data, 0);
    let mut n = 0;
    while let Some(f) = t.next()? {
        let _ = safe_components(&f.header.path);
        t.skip_data(f.header.size)?;
        n += 1;
    }
    Ok(n)
}
