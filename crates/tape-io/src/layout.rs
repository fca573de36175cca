//! Where a target's tar stream lies on tape: which tape file and block
//! hold a given stream offset, and the offset of every member's header.
//!
//! A part (one tape file) holds its block 0, the part header, then the
//! stream from its `stream_start` in blocks of one size, the last block
//! shorter. When the drive refused a size mid-part, the writer went on
//! with a smaller one: a [`PartLayout`] lists each such change as a
//! [`BlockRun`], so a position computed from it is exact.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// From block `block` of a tape file on, which begins at stream offset
/// `stream_offset`, blocks are `block_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRun {
    /// Block number within the tape file (the part header is block 0).
    pub block: u64,
    /// Stream offset of that block's first byte.
    pub stream_offset: u64,
    /// Bytes per block from there on.
    pub block_size: usize,
}

/// How one part's blocks hold the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartLayout {
    /// Tape file number of the part.
    pub file_number: u64,
    /// Stream offset of its first data byte (in block 1).
    pub stream_start: u64,
    /// Stream offset just past its last byte.
    pub stream_end: u64,
    /// The block sizes, in order; the first run starts at block 1 and
    /// `stream_start`.
    pub runs: Vec<BlockRun>,
}

/// Where a stream offset lies: a tape file, a block in it and the stream
/// offset of that block's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPosition {
    /// Index of the part in the slice given to [`locate`].
    pub part: usize,
    /// Tape file number.
    pub file_number: u64,
    /// Block within the tape file.
    pub block: u64,
    /// Stream offset of the block's first byte (at most the offset asked for).
    pub block_start: u64,
}

impl PartLayout {
    /// A part written in blocks of one size throughout.
    pub fn uniform(
        file_number: u64,
        stream_start: u64,
        stream_end: u64,
        block_size: usize,
    ) -> Self {
        PartLayout {
            file_number,
            stream_start,
            stream_end,
            runs: vec![BlockRun {
                block: 1,
                stream_offset: stream_start,
                block_size,
            }],
        }
    }

    /// The block holding stream offset `offset` and that block's first
    /// stream offset; `None` when the part does not hold it.
    pub fn block_of(&self, offset: u64) -> Option<(u64, u64)> {
        if offset < self.stream_start || offset >= self.stream_end {
            return None;
        }
        let run = self.runs.iter().rev().find(|r| r.stream_offset <= offset)?;
        let size = run.block_size.max(1) as u64;
        let n = (offset - run.stream_offset) / size;
        Some((run.block + n, run.stream_offset + n * size))
    }
}

/// Where stream offset `offset` lies among a target's parts (in order).
pub fn locate(parts: &[PartLayout], offset: u64) -> Option<BlockPosition> {
    parts.iter().enumerate().find_map(|(i, p)| {
        p.block_of(offset)
            .map(|(block, block_start)| BlockPosition {
                part: i,
                file_number: p.file_number,
                block,
                block_start,
            })
    })
}

/// Counts bytes.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The stream offset of each member's header (its GNU long-name header
/// when it has one) in the tar stream [`write_target`](crate::target::write_target)
/// writes for files of these names and sizes, in this order; and the
/// stream's length. Computed from the headers alone, without the data: it
/// rebuilds positions for a target whose files are known but whose offsets
/// were not recorded.
pub fn member_offsets<'a>(
    files: impl IntoIterator<Item = (&'a [u8], u64)>,
) -> io::Result<(Vec<u64>, u64)> {
    let mut builder = tar::Builder::new(Count(0));
    let mut out = Vec::new();
    for (name, size) in files {
        out.push(builder.get_ref().0);
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        builder.append_data(
            &mut h,
            Path::new(std::ffi::OsStr::from_bytes(name)),
            io::empty(),
        )?;
        builder.get_mut().0 += size.div_ceil(512) * 512;
    }
    let end = builder.into_inner()?.0;
    Ok((out, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_a_uniform_part() {
        let p = PartLayout::uniform(3, 1000, 5000, 1024);
        assert_eq!(p.block_of(999), None);
        assert_eq!(p.block_of(1000), Some((1, 1000)));
        assert_eq!(p.block_of(2023), Some((1, 1000)));
        assert_eq!(p.block_of(2024), Some((2, 2024)));
        assert_eq!(p.block_of(4999), Some((4, 4072)));
        assert_eq!(p.block_of(5000), None);
    }

    #[test]
    fn blocks_after_a_change_of_size() {
        let p = PartLayout {
            file_number: 1,
            stream_start: 0,
            stream_end: 10_000,
            runs: vec![
                BlockRun {
                    block: 1,
                    stream_offset: 0,
                    block_size: 2048,
                },
                BlockRun {
                    block: 3,
                    stream_offset: 4096,
                    block_size: 1024,
                },
            ],
        };
        assert_eq!(p.block_of(4095), Some((2, 2048)));
        assert_eq!(p.block_of(4096), Some((3, 4096)));
        assert_eq!(p.block_of(6000), Some((4, 5120)));
        let parts = [p, PartLayout::uniform(1, 10_000, 20_000, 2048)];
        let at = locate(&parts, 10_000).unwrap();
        assert_eq!((at.part, at.file_number, at.block), (1, 1, 1));
        assert_eq!(locate(&parts, 20_000), None);
    }

    #[test]
    fn long_names_take_a_header_of_their_own() {
        let long = [b'l'; 150];
        let (offsets, end) =
            member_offsets([(&b"a"[..], 1u64), (&long[..], 600), (&b"b"[..], 0)]).unwrap();
        // a: header + 1 block; long: LongLink header + name block, header,
        // 2 data blocks; b: header; then two zero blocks.
        assert_eq!(offsets, vec![0, 1024, 1024 + 2560]);
        assert_eq!(end, 1024 + 2560 + 512 + 1024);
    }
}
