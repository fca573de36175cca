//! The [`TapeDevice`] trait, the status it reports, and [`open_device`].

use std::fmt;
use std::path::Path;

use crate::error::TapeError;
use crate::simh::{FileTape, FileTapeOptions};

/// What the drive says about the tape and the head's position, as st's
/// `MTIOCGET` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)] // these are the drive's status bits
pub struct TapeStatus {
    /// Tape file number (0 is the first file), `None` when unknown.
    pub file_number: Option<u64>,
    /// Block number within the file, `None` when unknown.
    pub block_number: Option<u64>,
    /// Block size; 0 means variable-block mode.
    pub block_size: u32,
    /// Density code.
    pub density: u8,
    /// At the beginning of the tape.
    pub bot: bool,
    /// Just past a filemark.
    pub eof: bool,
    /// Past the early-warning mark near the end of the medium.
    pub eot: bool,
    /// At the end of recorded data.
    pub eod: bool,
    /// The tape is write-protected.
    pub write_protected: bool,
    /// A tape is loaded and ready.
    pub online: bool,
    /// The drive door is open (no tape).
    pub door_open: bool,
}

/// A tape drive with a tape in it, in variable-block mode unless
/// [`set_block_size`](TapeDevice::set_block_size) says otherwise.
///
/// The semantics are those of the Linux st driver on a non-rewinding device
/// (`/dev/nstN`): one [`write_block`](TapeDevice::write_block) is one block,
/// one [`read_block`](TapeDevice::read_block) returns one block, a read at a
/// filemark returns 0 once, and [`close`](TapeDevice::close) after writing
/// writes a filemark. Implementations: [`FileTape`](crate::FileTape) (a SIMH
/// `.tap` image) and, on Linux, [`StTape`](crate::StTape).
pub trait TapeDevice: Send + Sync + fmt::Debug {
    /// The device or image path, for messages.
    fn name(&self) -> &str;
    /// Reads the next block into `buf` and returns its length; 0 means a
    /// filemark was passed (or, the first time, end of data).
    fn read_block(&mut self, buf: &mut [u8]) -> Result<usize, TapeError>;
    /// Writes `buf` as one block, discarding everything after it on the tape.
    fn write_block(&mut self, buf: &[u8]) -> Result<(), TapeError>;
    /// Writes `count` filemarks. `flush` makes the drive write its buffer to
    /// the medium first (st `MTWEOF`), so write errors surface here; without
    /// it (st `MTWEOFI`) the tape keeps streaming.
    fn write_filemarks(&mut self, count: u32, flush: bool) -> Result<(), TapeError>;
    /// Spaces over `count` filemarks: forward (st `MTFSF`, the head ends
    /// after the filemark) for positive counts, backward (st `MTBSF`, the
    /// head ends before the filemark) for negative ones.
    fn space_files(&mut self, count: i32) -> Result<(), TapeError>;
    /// Spaces over `count` records: forward (`MTFSR`) or backward (`MTBSR`).
    fn space_records(&mut self, count: i32) -> Result<(), TapeError>;
    /// Rewinds to the beginning of the tape.
    fn rewind(&mut self) -> Result<(), TapeError>;
    /// Spaces to the end of recorded data (st `MTEOM`), ready to append.
    fn end_of_data(&mut self) -> Result<(), TapeError>;
    /// The logical block address of the head (st `MTIOCPOS`): blocks and
    /// filemarks from the beginning of the tape.
    fn tell(&mut self) -> Result<u64, TapeError>;
    /// Positions the head at a logical block address from
    /// [`tell`](TapeDevice::tell) (st `MTSEEK`).
    fn seek(&mut self, block: u64) -> Result<(), TapeError>;
    /// The drive's status.
    fn status(&mut self) -> Result<TapeStatus, TapeError>;
    /// Sets a fixed block size, or variable-block mode with 0 (st `MTSETBLK`).
    fn set_block_size(&mut self, size: u32) -> Result<(), TapeError>;
    /// Loads the tape (st `MTLOAD`).
    fn load(&mut self) -> Result<(), TapeError>;
    /// Rewinds and unloads the tape (st `MTUNLOAD`).
    fn unload(&mut self) -> Result<(), TapeError>;
    /// Finishes: writes a filemark if the last operation was a write, as
    /// closing the st device does. Further calls do nothing.
    fn close(&mut self) -> Result<(), TapeError>;
}

/// Opens a tape: a character device through the st driver, anything else
/// as a SIMH `.tap` image (created blank when missing) with `options`.
pub fn open_device(
    path: &Path,
    options: &FileTapeOptions,
) -> Result<Box<dyn TapeDevice>, TapeError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.file_type().is_char_device()
        {
            return Ok(Box::new(crate::st::StTape::open(path)?));
        }
    }
    Ok(Box::new(FileTape::open_or_create(path, options.clone())?))
}
