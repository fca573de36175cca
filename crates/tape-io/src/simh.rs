//! A tape in a SIMH `.tap` image file that behaves like the st driver.
//!
//! The image is a sequence of objects from offset 0 (the beginning of
//! tape): a record is a 4-byte little-endian length `n`, `n` data bytes
//! padded to an even count, and the same length again (so the tape can be
//! spaced backwards); a zero word is a filemark; `0xFFFF_FFFF` marks the end
//! of medium and `0xFFFF_FFFE` an erase gap; bit 31 of a length flags a bad
//! record. End of data is the end of the file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::device::{TapeDevice, TapeStatus};
use crate::error::{Position, TapeError};

const TAPE_MARK: u32 = 0;
const END_OF_MEDIUM: u32 = 0xFFFF_FFFF;
const ERASE_GAP: u32 = 0xFFFF_FFFE;
const BAD_FLAG: u32 = 0x8000_0000;
/// The largest record a .tap image holds (24-bit lengths).
pub const MAX_RECORD: usize = (1 << 24) - 1;

/// How a [`FileTape`] behaves beyond the format.
#[derive(Debug, Clone)]
pub struct FileTapeOptions {
    /// Size of the medium in bytes of image (records with their length
    /// words, and filemarks). `None`: unlimited.
    pub capacity: Option<u64>,
    /// The early-warning mark sits this many bytes before `capacity`. Past
    /// it a write completes, the next fails with end of medium, the one after
    /// succeeds, alternating until the physical end, as st does.
    pub early_warning: u64,
    /// The tape is write-protected (also set when the image cannot be opened
    /// for writing).
    pub write_protected: bool,
    /// Largest block the "drive" accepts; larger writes fail with
    /// [`TapeError::BlockSizeRefused`] (st: `EINVAL`).
    pub max_block_size: usize,
}

impl Default for FileTapeOptions {
    fn default() -> Self {
        Self {
            capacity: None,
            early_warning: 0,
            write_protected: false,
            max_block_size: MAX_RECORD,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastOp {
    None,
    Read,
    Write,
    Filemark,
}

/// A tape in a SIMH `.tap` image file, with st's semantics: writing
/// truncates everything after the head, closing after a write writes a
/// filemark, end of data reads as one zero read and then an error, short read
/// buffers are rejected, a configured capacity gives early warning then
/// alternating end-of-medium errors, and write protection is honoured.
#[derive(Debug)]
pub struct FileTape {
    path: PathBuf,
    name: String,
    file: File,
    opts: FileTapeOptions,
    pos: u64,
    lba: Option<u64>,
    file_no: Option<u64>,
    block_no: Option<u64>,
    last: LastOp,
    at_filemark: bool,
    eod_reads: u8,
    ew_fail_next: Option<bool>,
    block_size: u32,
    loaded: bool,
    closed: bool,
}

impl FileTape {
    /// Creates a blank tape image at `path`, replacing any file there.
    pub fn create(path: &Path, opts: FileTapeOptions) -> Result<Self, TapeError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|source| TapeError::Io {
                device: path.display().to_string(),
                op: "create image",
                source,
            })?;
        Ok(Self::new(path, file, opts))
    }

    /// Opens an existing image; read-only (and so write-protected) when it
    /// cannot be opened for writing.
    pub fn open(path: &Path, mut opts: FileTapeOptions) -> Result<Self, TapeError> {
        let device = path.display().to_string();
        let file = if opts.write_protected {
            File::open(path)
        } else {
            match OpenOptions::new().read(true).write(true).open(path) {
                Err(e)
                    if e.kind() == io::ErrorKind::PermissionDenied
                        || e.kind() == io::ErrorKind::ReadOnlyFilesystem =>
                {
                    opts.write_protected = true;
                    File::open(path)
                }
                other => other,
            }
        }
        .map_err(|source| TapeError::Io {
            device,
            op: "open image",
            source,
        })?;
        Ok(Self::new(path, file, opts))
    }

    /// Opens the image, creating a blank one when there is none.
    pub fn open_or_create(path: &Path, opts: FileTapeOptions) -> Result<Self, TapeError> {
        if path.exists() {
            Self::open(path, opts)
        } else {
            Self::create(path, opts)
        }
    }

    fn new(path: &Path, file: File, opts: FileTapeOptions) -> Self {
        Self {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            file,
            opts,
            pos: 0,
            lba: Some(0),
            file_no: Some(0),
            block_no: Some(0),
            last: LastOp::None,
            at_filemark: false,
            eod_reads: 0,
            ew_fail_next: None,
            block_size: 0,
            loaded: true,
            closed: false,
        }
    }

    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, op: &'static str, source: io::Error) -> TapeError {
        TapeError::Io {
            device: self.name.clone(),
            op,
            source,
        }
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> TapeError {
        TapeError::Corrupt {
            device: self.name.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn ensure_loaded(&self) -> Result<(), TapeError> {
        if self.loaded {
            Ok(())
        } else {
            Err(TapeError::NotLoaded {
                device: self.name.clone(),
            })
        }
    }

    fn len(&self) -> Result<u64, TapeError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| self.io("stat image", e))
    }

    fn word_at(&self, offset: u64) -> Result<Option<u32>, TapeError> {
        let mut w = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = self
                .file
                .read_at(&mut w[got..], offset + got as u64)
                .map_err(|e| self.io("read image", e))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        match got {
            0 => Ok(None),
            4 => Ok(Some(u32::from_le_bytes(w))),
            _ => Err(self.corrupt(offset, "truncated length word")),
        }
    }

    fn here_file(&self) -> Position {
        Position(self.file_no)
    }
    fn here_block(&self) -> Position {
        Position(self.block_no)
    }

    /// Before a repositioning, st writes a filemark when the last operation
    /// was a write.
    fn finish_writing(&mut self) -> Result<(), TapeError> {
        if self.last == LastOp::Write {
            self.put_filemark()?;
        }
        Ok(())
    }

    fn reset_flags(&mut self) {
        self.at_filemark = false;
        self.eod_reads = 0;
        self.ew_fail_next = None;
    }

    fn ew_threshold(&self) -> Option<u64> {
        self.opts
            .capacity
            .map(|c| c.saturating_sub(self.opts.early_warning))
    }

    fn truncate_here(&mut self) -> Result<(), TapeError> {
        if !matches!(self.last, LastOp::Write | LastOp::Filemark) {
            self.file
                .set_len(self.pos)
                .map_err(|e| self.io("truncate image", e))?;
        }
        Ok(())
    }

    fn put_filemark(&mut self) -> Result<(), TapeError> {
        if let Some(cap) = self.opts.capacity
            && self.pos + 4 > cap
        {
            return Err(TapeError::EndOfMedium {
                device: self.name.clone(),
                file: self.here_file(),
                block: self.here_block(),
            });
        }
        self.truncate_here()?;
        self.file
            .write_all_at(&TAPE_MARK.to_le_bytes(), self.pos)
            .map_err(|e| self.io("write filemark", e))?;
        self.pos += 4;
        self.lba = self.lba.map(|l| l + 1);
        self.file_no = self.file_no.map(|f| f + 1);
        self.block_no = Some(0);
        self.last = LastOp::Filemark;
        self.at_filemark = true;
        self.eod_reads = 0;
        Ok(())
    }

    /// Reads the object at the head without interpreting position counters:
    /// returns (word, offset after the object).
    fn step_forward(&self, at: u64) -> Result<Option<(u32, u64)>, TapeError> {
        let mut at = at;
        loop {
            let Some(w) = self.word_at(at)? else {
                return Ok(None);
            };
            match w {
                ERASE_GAP => at += 4,
                TAPE_MARK | END_OF_MEDIUM => return Ok(Some((w, at + 4))),
                _ => {
                    let n = u64::from(w & !BAD_FLAG);
                    if n > MAX_RECORD as u64 {
                        return Err(self.corrupt(at, format!("record length {n} exceeds 2^24-1")));
                    }
                    let end = at + 4 + n + (n & 1);
                    match self.word_at(end)? {
                        Some(t) if t == w => return Ok(Some((w, end + 4))),
                        Some(t) => {
                            return Err(self.corrupt(
                                end,
                                format!("trailing length {t:#x} differs from leading {w:#x}"),
                            ));
                        }
                        None => return Err(self.corrupt(end, "record cut short")),
                    }
                }
            }
        }
    }

    /// The object before `at`: (word, offset where it starts).
    fn step_backward(&self, at: u64) -> Result<Option<(u32, u64)>, TapeError> {
        let mut at = at;
        loop {
            if at == 0 {
                return Ok(None);
            }
            if at < 4 {
                return Err(self.corrupt(at, "misaligned position"));
            }
            let w = self
                .word_at(at - 4)?
                .ok_or_else(|| self.corrupt(at - 4, "image shorter than position"))?;
            match w {
                ERASE_GAP => at -= 4,
                TAPE_MARK | END_OF_MEDIUM => return Ok(Some((w, at - 4))),
                _ => {
                    let n = u64::from(w & !BAD_FLAG);
                    let size = 8 + n + (n & 1);
                    if size > at {
                        return Err(self.corrupt(at - 4, "record runs past beginning of tape"));
                    }
                    return Ok(Some((w, at - size)));
                }
            }
        }
    }

    fn at_eod_read(&mut self) -> Result<usize, TapeError> {
        if self.eod_reads == 0 {
            self.eod_reads = 1;
            Ok(0)
        } else {
            Err(TapeError::EndOfData {
                device: self.name.clone(),
                file: self.here_file(),
            })
        }
    }
}

impl TapeDevice for FileTape {
    fn name(&self) -> &str {
        &self.name
    }

    fn read_block(&mut self, buf: &mut [u8]) -> Result<usize, TapeError> {
        self.ensure_loaded()?;
        if self.last == LastOp::Write {
            // st: reading right after writing first ends the file.
            self.put_filemark()?;
        }
        self.last = LastOp::Read;
        self.ew_fail_next = None;
        let Some((w, next)) = self.step_forward(self.pos)? else {
            self.at_filemark = false;
            return self.at_eod_read();
        };
        match w {
            END_OF_MEDIUM => {
                self.at_filemark = false;
                self.at_eod_read()
            }
            TAPE_MARK => {
                self.pos = next;
                self.lba = self.lba.map(|l| l + 1);
                self.file_no = self.file_no.map(|f| f + 1);
                self.block_no = Some(0);
                self.at_filemark = true;
                // The filemark is the first of the "two zero reads" if end of
                // data follows it.
                self.eod_reads = 0;
                Ok(0)
            }
            _ => {
                self.at_filemark = false;
                let start = next - 4 - u64::from(w & !BAD_FLAG) - u64::from(w & 1) - 4;
                let n = (w & !BAD_FLAG) as usize;
                let (file, block) = (self.here_file(), self.here_block());
                self.pos = next;
                self.lba = self.lba.map(|l| l + 1);
                self.block_no = self.block_no.map(|b| b + 1);
                if w & BAD_FLAG != 0 {
                    return Err(TapeError::BadRecord {
                        device: self.name.clone(),
                        file,
                        block,
                    });
                }
                if n > buf.len() {
                    return Err(TapeError::BufferTooSmall {
                        device: self.name.clone(),
                        buffer: buf.len(),
                        block_len: Position(Some(n as u64)),
                        file,
                        block,
                    });
                }
                self.file
                    .read_exact_at(&mut buf[..n], start + 4)
                    .map_err(|e| self.io("read image", e))?;
                Ok(n)
            }
        }
    }

    fn write_block(&mut self, buf: &[u8]) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        if self.opts.write_protected {
            return Err(TapeError::WriteProtected {
                device: self.name.clone(),
            });
        }
        if buf.is_empty() {
            return Err(TapeError::Invalid {
                device: self.name.clone(),
                reason: "zero-length block".into(),
            });
        }
        let max = self.opts.max_block_size.min(MAX_RECORD);
        if buf.len() > max {
            return Err(TapeError::BlockSizeRefused {
                device: self.name.clone(),
                size: buf.len(),
                max,
            });
        }
        if self.block_size != 0 && !buf.len().is_multiple_of(self.block_size as usize) {
            return Err(TapeError::Invalid {
                device: self.name.clone(),
                reason: format!(
                    "{} bytes is not a multiple of the fixed block size {}",
                    buf.len(),
                    self.block_size
                ),
            });
        }
        let n = buf.len() as u64;
        let size = 8 + n + (n & 1);
        let end_of_medium = TapeError::EndOfMedium {
            device: self.name.clone(),
            file: self.here_file(),
            block: self.here_block(),
        };
        let threshold = self.ew_threshold();
        let past_ew = threshold.is_some_and(|t| self.pos >= t);
        if past_ew {
            if self.ew_fail_next != Some(false) {
                self.ew_fail_next = Some(false);
                return Err(end_of_medium);
            }
            self.ew_fail_next = Some(true);
        }
        if let Some(cap) = self.opts.capacity
            && self.pos + size > cap
        {
            return Err(end_of_medium);
        }
        self.truncate_here()?;
        let len = (n as u32).to_le_bytes();
        let mut head = Vec::with_capacity(4);
        head.extend_from_slice(&len);
        self.file
            .write_all_at(&head, self.pos)
            .map_err(|e| self.io("write image", e))?;
        self.file
            .write_all_at(buf, self.pos + 4)
            .map_err(|e| self.io("write image", e))?;
        let mut tail = Vec::with_capacity(5);
        if n & 1 == 1 {
            tail.push(0);
        }
        tail.extend_from_slice(&len);
        self.file
            .write_all_at(&tail, self.pos + 4 + n)
            .map_err(|e| self.io("write image", e))?;
        self.pos += size;
        self.lba = self.lba.map(|l| l + 1);
        self.block_no = self.block_no.map(|b| b + 1);
        self.last = LastOp::Write;
        self.at_filemark = false;
        self.eod_reads = 0;
        if !past_ew && threshold.is_some_and(|t| self.pos >= t) {
            self.ew_fail_next = Some(true);
        }
        Ok(())
    }

    fn write_filemarks(&mut self, count: u32, flush: bool) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        if self.opts.write_protected {
            return Err(TapeError::WriteProtected {
                device: self.name.clone(),
            });
        }
        for _ in 0..count {
            self.put_filemark()?;
        }
        if flush {
            self.file
                .sync_data()
                .map_err(|e| self.io("flush image", e))?;
        }
        Ok(())
    }

    fn space_files(&mut self, count: i32) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        if count < 0 {
            self.finish_writing()?;
        }
        self.last = LastOp::None;
        self.reset_flags();
        if count > 0 {
            let mut left = count;
            while left > 0 {
                match self.step_forward(self.pos)? {
                    None | Some((END_OF_MEDIUM, _)) => {
                        self.block_no = None;
                        return Err(TapeError::EndOfData {
                            device: self.name.clone(),
                            file: self.here_file(),
                        });
                    }
                    Some((TAPE_MARK, next)) => {
                        self.pos = next;
                        self.lba = self.lba.map(|l| l + 1);
                        self.file_no = self.file_no.map(|f| f + 1);
                        self.block_no = Some(0);
                        left -= 1;
                    }
                    Some((_, next)) => {
                        self.pos = next;
                        self.lba = self.lba.map(|l| l + 1);
                    }
                }
            }
            self.at_filemark = true;
        } else if count < 0 {
            let mut left = -count;
            while left > 0 {
                match self.step_backward(self.pos)? {
                    None => {
                        self.lba = Some(0);
                        self.file_no = Some(0);
                        self.block_no = Some(0);
                        return Err(TapeError::BeginningOfTape {
                            device: self.name.clone(),
                        });
                    }
                    Some((TAPE_MARK, start)) => {
                        self.pos = start;
                        self.lba = self.lba.map(|l| l - 1);
                        self.file_no = self.file_no.map(|f| f.saturating_sub(1));
                        left -= 1;
                    }
                    Some((_, start)) => {
                        self.pos = start;
                        self.lba = self.lba.map(|l| l - 1);
                    }
                }
            }
            // st does not know the block number after spacing backwards.
            self.block_no = None;
        }
        Ok(())
    }

    fn space_records(&mut self, count: i32) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        if count < 0 {
            self.finish_writing()?;
        }
        self.last = LastOp::None;
        self.reset_flags();
        if count > 0 {
            for _ in 0..count {
                match self.step_forward(self.pos)? {
                    None | Some((END_OF_MEDIUM, _)) => {
                        return Err(TapeError::EndOfData {
                            device: self.name.clone(),
                            file: self.here_file(),
                        });
                    }
                    Some((TAPE_MARK, next)) => {
                        self.pos = next;
                        self.lba = self.lba.map(|l| l + 1);
                        self.file_no = self.file_no.map(|f| f + 1);
                        self.block_no = Some(0);
                        self.at_filemark = true;
                        return Err(TapeError::FilemarkMet {
                            device: self.name.clone(),
                            file: self.here_file(),
                        });
                    }
                    Some((_, next)) => {
                        self.pos = next;
                        self.lba = self.lba.map(|l| l + 1);
                        self.block_no = self.block_no.map(|b| b + 1);
                    }
                }
            }
        } else {
            for _ in 0..(-count) {
                match self.step_backward(self.pos)? {
                    None => {
                        return Err(TapeError::BeginningOfTape {
                            device: self.name.clone(),
                        });
                    }
                    Some((TAPE_MARK, _)) => {
                        // st stops before (on the beginning side of) the mark.
                        return Err(TapeError::FilemarkMet {
                            device: self.name.clone(),
                            file: self.here_file(),
                        });
                    }
                    Some((_, start)) => {
                        self.pos = start;
                        self.lba = self.lba.map(|l| l - 1);
                        self.block_no = self.block_no.map(|b| b.saturating_sub(1));
                    }
                }
            }
        }
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        self.finish_writing()?;
        self.last = LastOp::None;
        self.reset_flags();
        self.pos = 0;
        self.lba = Some(0);
        self.file_no = Some(0);
        self.block_no = Some(0);
        Ok(())
    }

    fn end_of_data(&mut self) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        self.finish_writing()?;
        self.last = LastOp::None;
        self.reset_flags();
        loop {
            match self.step_forward(self.pos)? {
                None | Some((END_OF_MEDIUM, _)) => break,
                Some((TAPE_MARK, next)) => {
                    self.pos = next;
                    self.lba = self.lba.map(|l| l + 1);
                    self.file_no = self.file_no.map(|f| f + 1);
                    self.block_no = Some(0);
                }
                Some((_, next)) => {
                    self.pos = next;
                    self.lba = self.lba.map(|l| l + 1);
                    self.block_no = self.block_no.map(|b| b + 1);
                }
            }
        }
        Ok(())
    }

    fn tell(&mut self) -> Result<u64, TapeError> {
        self.ensure_loaded()?;
        if let Some(l) = self.lba {
            return Ok(l);
        }
        // Count objects from the beginning of the tape.
        let mut at = 0;
        let mut n = 0;
        while at < self.pos {
            match self.step_forward(at)? {
                Some((_, next)) => {
                    at = next;
                    n += 1;
                }
                None => break,
            }
        }
        self.lba = Some(n);
        Ok(n)
    }

    fn seek(&mut self, block: u64) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        self.finish_writing()?;
        self.last = LastOp::None;
        self.reset_flags();
        let mut at = 0;
        for _ in 0..block {
            match self.step_forward(at)? {
                Some((END_OF_MEDIUM, _)) | None => {
                    return Err(TapeError::EndOfData {
                        device: self.name.clone(),
                        file: Position(None),
                    });
                }
                Some((_, next)) => at = next,
            }
        }
        self.pos = at;
        self.lba = Some(block);
        // st forgets file and block numbers after MTSEEK, except at BOT.
        if block == 0 {
            self.file_no = Some(0);
            self.block_no = Some(0);
        } else {
            self.file_no = None;
            self.block_no = None;
        }
        Ok(())
    }

    fn status(&mut self) -> Result<TapeStatus, TapeError> {
        if !self.loaded {
            return Ok(TapeStatus {
                door_open: true,
                file_number: None,
                block_number: None,
                ..TapeStatus::default()
            });
        }
        let len = self.len()?;
        Ok(TapeStatus {
            file_number: self.file_no,
            block_number: self.block_no,
            block_size: self.block_size,
            density: 0,
            bot: self.pos == 0,
            eof: self.at_filemark,
            eot: self.ew_threshold().is_some_and(|t| self.pos >= t),
            eod: self.pos >= len,
            write_protected: self.opts.write_protected,
            online: true,
            door_open: false,
        })
    }

    fn set_block_size(&mut self, size: u32) -> Result<(), TapeError> {
        self.ensure_loaded()?;
        if size as usize > self.opts.max_block_size.min(MAX_RECORD) {
            return Err(TapeError::BlockSizeRefused {
                device: self.name.clone(),
                size: size as usize,
                max: self.opts.max_block_size.min(MAX_RECORD),
            });
        }
        self.block_size = size;
        Ok(())
    }

    fn load(&mut self) -> Result<(), TapeError> {
        self.loaded = true;
        self.closed = false;
        self.last = LastOp::None;
        self.reset_flags();
        self.pos = 0;
        self.lba = Some(0);
        self.file_no = Some(0);
        self.block_no = Some(0);
        Ok(())
    }

    fn unload(&mut self) -> Result<(), TapeError> {
        if self.loaded {
            self.rewind()?;
        }
        self.loaded = false;
        Ok(())
    }

    fn close(&mut self) -> Result<(), TapeError> {
        if !self.closed && self.loaded {
            self.finish_writing()?;
            self.last = LastOp::None;
        }
        self.closed = true;
        Ok(())
    }
}

impl Drop for FileTape {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing tape image");
        }
    }
}

/// Where one record lies in an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLocation {
    /// Offset of the leading length word.
    pub header_offset: u64,
    /// Offset of the first data byte.
    pub data_offset: u64,
    /// Data length.
    pub len: u64,
}

/// Finds record `block` of tape file `file` in the image at `path`.
pub fn locate_record(path: &Path, file: u64, block: u64) -> Result<RecordLocation, TapeError> {
    let tape = FileTape::open(
        path,
        FileTapeOptions {
            write_protected: true,
            ..FileTapeOptions::default()
        },
    )?;
    let (mut at, mut f, mut b) = (0u64, 0u64, 0u64);
    loop {
        match tape.step_forward(at)? {
            None | Some((END_OF_MEDIUM, _)) => {
                return Err(TapeError::EndOfData {
                    device: tape.name.clone(),
                    file: Position(Some(f)),
                });
            }
            Some((TAPE_MARK, next)) => {
                at = next;
                f += 1;
                b = 0;
            }
            Some((w, next)) => {
                let len = u64::from(w & !BAD_FLAG);
                let header_offset = next - 8 - len - (len & 1);
                if f == file && b == block {
                    return Ok(RecordLocation {
                        header_offset,
                        data_offset: header_offset + 4,
                        len,
                    });
                }
                at = next;
                b += 1;
            }
        }
    }
}

/// Marks record `block` of tape file `file` as bad (sets bit 31 of both its
/// length words), so that reading it fails as an unreadable block would.
pub fn mark_bad_record(path: &Path, file: u64, block: u64) -> Result<RecordLocation, TapeError> {
    let loc = locate_record(path, file, block)?;
    let device = path.display().to_string();
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| TapeError::Io {
            device: device.clone(),
            op: "open image",
            source,
        })?;
    let word = ((loc.len as u32) | BAD_FLAG).to_le_bytes();
    for off in [loc.header_offset, loc.data_offset + loc.len + (loc.len & 1)] {
        f.write_all_at(&word, off).map_err(|source| TapeError::Io {
            device: device.clone(),
            op: "mark bad record",
            source,
        })?;
    }
    Ok(loc)
}
