//! The error every tape operation returns.

use std::io;

/// A tape operation failed. Every variant names the device and, where it is
/// known, the position (file and block number) at which it happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TapeError {
    /// An operating-system call on the device or image failed.
    #[error("{device}: {op} failed: {source}")]
    Io {
        device: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The write did not fit: the tape is past its early-warning mark (st
    /// reports `ENOSPC` for every other write there) or at its physical end.
    #[error("{device}: end of medium at file {file}, block {block}: the block was not written")]
    EndOfMedium {
        device: String,
        file: Position,
        block: Position,
    },
    /// The tape is write-protected (st: `EROFS`).
    #[error("{device}: the tape is write-protected")]
    WriteProtected { device: String },
    /// The read buffer is smaller than the block on tape (st: `ENOMEM`); the
    /// tape has moved past the block.
    #[error(
        "{device}: the block at file {file}, block {block} ({block_len} bytes) does not fit the {buffer}-byte read buffer"
    )]
    BufferTooSmall {
        device: String,
        buffer: usize,
        /// The block's length, `?` when the driver does not say (st).
        block_len: Position,
        file: Position,
        block: Position,
    },
    /// The drive could not read a record (a bad record in a .tap image,
    /// st: `EIO`); the tape has moved past it.
    #[error("{device}: unreadable record at file {file}, block {block}")]
    BadRecord {
        device: String,
        file: Position,
        block: Position,
    },
    /// The drive refused a block of this size (st: `EINVAL`).
    #[error("{device}: a block of {size} bytes was refused (largest accepted: {max})")]
    BlockSizeRefused {
        device: String,
        size: usize,
        max: usize,
    },
    /// A read or space operation went past the end of recorded data.
    #[error("{device}: end of data reached at file {file}")]
    EndOfData { device: String, file: Position },
    /// Spacing backwards reached the beginning of the tape.
    #[error("{device}: beginning of tape reached")]
    BeginningOfTape { device: String },
    /// Spacing over records met a filemark; the tape is positioned past it
    /// (forward) or before it (backward), as st leaves it.
    #[error("{device}: filemark met while spacing over records (now at file {file})")]
    FilemarkMet { device: String, file: Position },
    /// The image is not a valid SIMH tape image at this byte offset.
    #[error("{device}: corrupt tape image at byte {offset}: {reason}")]
    Corrupt {
        device: String,
        offset: u64,
        reason: String,
    },
    /// No tape is loaded (after unload).
    #[error("{device}: no tape is loaded")]
    NotLoaded { device: String },
    /// The request itself is invalid (a zero-length block, a block size
    /// beyond what the format holds, a partial fixed block).
    #[error("{device}: invalid request: {reason}")]
    Invalid { device: String, reason: String },
}

impl TapeError {
    /// The error as an [`io::Error`] of a matching kind, for use inside
    /// [`std::io::Read`] implementations. The message keeps all context.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            TapeError::Io { source, .. } => source.kind(),
            TapeError::EndOfMedium { .. } => io::ErrorKind::StorageFull,
            TapeError::WriteProtected { .. } => io::ErrorKind::ReadOnlyFilesystem,
            TapeError::EndOfData { .. } => io::ErrorKind::UnexpectedEof,
            TapeError::Invalid { .. } | TapeError::BlockSizeRefused { .. } => {
                io::ErrorKind::InvalidInput
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// A file or block number, which st reports as unknown (-1) after some
/// operations (for example after spacing backwards over a filemark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position(pub Option<u64>);

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("?"),
        }
    }
}
