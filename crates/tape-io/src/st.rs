//! The Linux SCSI tape driver (st) through its ioctls.
//!
//! This is the one module of the workspace that allows `unsafe` code: the
//! st driver is only reachable through `ioctl(2)` (`MTIOCTOP`, `MTIOCGET`,
//! `MTIOCPOS`), which takes raw pointers to C structures. Each `unsafe` block
//! below passes a pointer to a live, correctly sized `#[repr(C)]` value
//! owned by the calling function, on a file descriptor owned by [`StTape`];
//! nothing else here needs `unsafe`. The `libc` crate has no mtio
//! definitions, so the structures are declared here (their sizes are checked
//! at compile time) and the request numbers come from `nix`'s macros.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::device::{TapeDevice, TapeStatus};
use crate::error::{Position, TapeError};

/// `struct mtop` from `<linux/mtio.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct MtOp {
    mt_op: i16,
    mt_count: i32,
}

/// `struct mtget` from `<linux/mtio.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_field_names)] // the kernel's names
struct MtGet {
    mt_type: std::ffi::c_long,
    mt_resid: std::ffi::c_long,
    mt_dsreg: std::ffi::c_long,
    mt_gstat: std::ffi::c_long,
    mt_erreg: std::ffi::c_long,
    mt_fileno: i32,
    mt_blkno: i32,
}

/// `struct mtpos` from `<linux/mtio.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct MtPos {
    mt_blkno: std::ffi::c_long,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<MtOp>() == 8);
    assert!(size_of::<MtGet>() == 48);
    assert!(size_of::<MtPos>() == 8);
};

nix::ioctl_write_ptr!(mtioctop, b'm', 1, MtOp);
nix::ioctl_read!(mtiocget, b'm', 2, MtGet);
nix::ioctl_read!(mtiocpos, b'm', 3, MtPos);

// Operation codes.
const MTFSF: i16 = 1;
const MTBSF: i16 = 2;
const MTFSR: i16 = 3;
const MTBSR: i16 = 4;
const MTWEOF: i16 = 5;
const MTREW: i16 = 6;
const MTEOM: i16 = 12;
const MTSETBLK: i16 = 20;
const MTSEEK: i16 = 22;
const MTLOAD: i16 = 30;
const MTUNLOAD: i16 = 31;
const MTWEOFI: i16 = 35;

// `mt_gstat` bits.
const GMT_EOF: i64 = 0x8000_0000;
const GMT_BOT: i64 = 0x4000_0000;
const GMT_EOT: i64 = 0x2000_0000;
const GMT_EOD: i64 = 0x0800_0000;
const GMT_WR_PROT: i64 = 0x0400_0000;
const GMT_ONLINE: i64 = 0x0100_0000;
const GMT_DR_OPEN: i64 = 0x0004_0000;

/// A drive behind the Linux st driver; open the non-rewinding device
/// (`/dev/nstN`).
#[derive(Debug)]
pub struct StTape {
    name: String,
    file: Option<File>,
}

impl StTape {
    /// Opens the device read-write, or read-only when the tape is
    /// write-protected (writes then fail with [`TapeError::WriteProtected`]).
    pub fn open(path: &Path) -> Result<Self, TapeError> {
        let name = path.display().to_string();
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Err(e)
                if e.raw_os_error() == Some(nix::libc::EROFS)
                    || e.raw_os_error() == Some(nix::libc::EACCES) =>
            {
                File::open(path)
            }
            other => other,
        }
        .map_err(|source| TapeError::Io {
            device: name.clone(),
            op: "open",
            source,
        })?;
        Ok(Self {
            name,
            file: Some(file),
        })
    }

    fn file(&self) -> Result<&File, TapeError> {
        self.file.as_ref().ok_or_else(|| TapeError::NotLoaded {
            device: self.name.clone(),
        })
    }

    fn here(&self) -> (Position, Position) {
        self.get().map_or((Position(None), Position(None)), |g| {
            (pos(g.mt_fileno), pos(g.mt_blkno))
        })
    }

    fn get(&self) -> Result<MtGet, TapeError> {
        let fd = self.file()?.as_raw_fd();
        let mut g = MtGet::default();
        // SAFETY: `fd` is open for as long as `self`; `g` is a live MtGet of
        // the size the request encodes.
        unsafe { mtiocget(fd, &raw mut g) }
            .map_err(|e| self.err("MTIOCGET", io::Error::from(e)))?;
        Ok(g)
    }

    fn op(&self, what: &'static str, mt_op: i16, count: i32) -> Result<(), TapeError> {
        let fd = self.file()?.as_raw_fd();
        let op = MtOp {
            mt_op,
            mt_count: count,
        };
        // SAFETY: as in `get`; `op` outlives the call.
        unsafe { mtioctop(fd, &raw const op) }.map_err(|e| self.err(what, io::Error::from(e)))?;
        Ok(())
    }

    fn err(&self, op: &'static str, source: io::Error) -> TapeError {
        let device = self.name.clone();
        match source.raw_os_error() {
            Some(nix::libc::ENOSPC) => {
                let (file, block) = self.here();
                TapeError::EndOfMedium {
                    device,
                    file,
                    block,
                }
            }
            Some(nix::libc::EROFS | nix::libc::EACCES) => TapeError::WriteProtected { device },
            Some(nix::libc::ENOMEDIUM) => TapeError::NotLoaded { device },
            _ => TapeError::Io { device, op, source },
        }
    }
}

fn pos(v: i32) -> Position {
    Position(u64::try_from(v).ok())
}

impl TapeDevice for StTape {
    fn name(&self) -> &str {
        &self.name
    }

    fn read_block(&mut self, buf: &mut [u8]) -> Result<usize, TapeError> {
        let mut f = self.file()?;
        match f.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOMEM) => {
                let (file, block) = self.here();
                Err(TapeError::BufferTooSmall {
                    device: self.name.clone(),
                    buffer: buf.len(),
                    block_len: Position(None),
                    file,
                    block,
                })
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => {
                let g = self.get()?;
                if g.mt_gstat & GMT_EOD != 0 {
                    Err(TapeError::EndOfData {
                        device: self.name.clone(),
                        file: pos(g.mt_fileno),
                    })
                } else {
                    Err(TapeError::BadRecord {
                        device: self.name.clone(),
                        file: pos(g.mt_fileno),
                        block: pos(g.mt_blkno),
                    })
                }
            }
            Err(e) => Err(self.err("read", e)),
        }
    }

    fn write_block(&mut self, buf: &[u8]) -> Result<(), TapeError> {
        let mut f = self.file()?;
        match f.write(buf) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(n) => Err(TapeError::Io {
                device: self.name.clone(),
                op: "write",
                source: io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes", buf.len()),
                ),
            }),
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {
                Err(TapeError::BlockSizeRefused {
                    device: self.name.clone(),
                    size: buf.len(),
                    max: 0,
                })
            }
            Err(e) => Err(self.err("write", e)),
        }
    }

    fn write_filemarks(&mut self, count: u32, flush: bool) -> Result<(), TapeError> {
        let count = i32::try_from(count).map_err(|_| TapeError::Invalid {
            device: self.name.clone(),
            reason: "too many filemarks".into(),
        })?;
        if flush {
            self.op("MTWEOF", MTWEOF, count)
        } else {
            self.op("MTWEOFI", MTWEOFI, count)
        }
    }

    fn space_files(&mut self, count: i32) -> Result<(), TapeError> {
        match count {
            0 => Ok(()),
            n if n > 0 => self.op("MTFSF", MTFSF, n),
            n => self.op("MTBSF", MTBSF, -n),
        }
    }

    fn space_records(&mut self, count: i32) -> Result<(), TapeError> {
        match count {
            0 => Ok(()),
            n if n > 0 => self.op("MTFSR", MTFSR, n),
            n => self.op("MTBSR", MTBSR, -n),
        }
    }

    fn rewind(&mut self) -> Result<(), TapeError> {
        self.op("MTREW", MTREW, 1)
    }

    fn end_of_data(&mut self) -> Result<(), TapeError> {
        self.op("MTEOM", MTEOM, 1)
    }

    fn tell(&mut self) -> Result<u64, TapeError> {
        let fd = self.file()?.as_raw_fd();
        let mut p = MtPos::default();
        // SAFETY: as in `get`.
        unsafe { mtiocpos(fd, &raw mut p) }
            .map_err(|e| self.err("MTIOCPOS", io::Error::from(e)))?;
        u64::try_from(p.mt_blkno).map_err(|_| TapeError::Invalid {
            device: self.name.clone(),
            reason: format!("drive reported block address {}", p.mt_blkno),
        })
    }

    fn seek(&mut self, block: u64) -> Result<(), TapeError> {
        let count = i32::try_from(block).map_err(|_| TapeError::Invalid {
            device: self.name.clone(),
            reason: format!("block address {block} beyond what MTSEEK takes"),
        })?;
        self.op("MTSEEK", MTSEEK, count)
    }

    fn status(&mut self) -> Result<TapeStatus, TapeError> {
        let g = self.get()?;
        #[allow(clippy::useless_conversion)] // c_long is i32 on 32-bit targets
        let s = i64::from(g.mt_gstat);
        #[allow(clippy::useless_conversion)]
        let dsreg = i64::from(g.mt_dsreg);
        Ok(TapeStatus {
            file_number: pos(g.mt_fileno).0,
            block_number: pos(g.mt_blkno).0,
            block_size: u32::try_from(dsreg & 0x00FF_FFFF).unwrap_or(0),
            density: u8::try_from((dsreg >> 24) & 0xFF).unwrap_or(0),
            bot: s & GMT_BOT != 0,
            eof: s & GMT_EOF != 0,
            eot: s & GMT_EOT != 0,
            eod: s & GMT_EOD != 0,
            write_protected: s & GMT_WR_PROT != 0,
            online: s & GMT_ONLINE != 0,
            door_open: s & GMT_DR_OPEN != 0,
        })
    }

    fn set_block_size(&mut self, size: u32) -> Result<(), TapeError> {
        let count = i32::try_from(size).map_err(|_| TapeError::Invalid {
            device: self.name.clone(),
            reason: format!("block size {size}"),
        })?;
        self.op("MTSETBLK", MTSETBLK, count)
    }

    fn load(&mut self) -> Result<(), TapeError> {
        self.op("MTLOAD", MTLOAD, 1)
    }

    fn unload(&mut self) -> Result<(), TapeError> {
        self.op("MTUNLOAD", MTUNLOAD, 1)
    }

    fn close(&mut self) -> Result<(), TapeError> {
        // The driver writes the filemark itself when the descriptor closes
        // after a write.
        self.file = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_match_the_kernel_headers() {
        assert_eq!(
            nix::request_code_write!(b'm', 1, size_of::<MtOp>()) as u64,
            0x4008_6d01
        );
        assert_eq!(
            nix::request_code_read!(b'm', 2, size_of::<MtGet>()) as u64,
            0x8030_6d02
        );
        assert_eq!(
            nix::request_code_read!(b'm', 3, size_of::<MtPos>()) as u64,
            0x8008_6d03
        );
        assert_eq!(std::mem::offset_of!(MtGet, mt_fileno), 40);
        assert_eq!(std::mem::offset_of!(MtGet, mt_blkno), 44);
    }

    #[test]
    fn a_regular_file_is_not_a_tape_drive() {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        let mut t = StTape::open(f.path()).expect("open");
        let e = t.status().expect_err("no ioctls on a regular file");
        assert!(e.to_string().contains("MTIOCGET"), "{e}");
    }
}
