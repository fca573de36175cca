//! Magnetic tape I/O for archiving.
//!
//! - [`TapeDevice`]: a tape drive as the Linux st driver presents one
//!   (variable blocks, filemarks, spacing, positions, status), with two
//!   implementations chosen by [`open_device`]: [`StTape`] for a character
//!   device (the only module of the workspace with `unsafe`, for the
//!   ioctls) and [`FileTape`], a SIMH `.tap` image with st's semantics, for
//!   testing without a drive;
//! - [`conformance`]: a suite modelled on Bacula's `btape test`;
//! - [`label`]: the tape label in file 0, checked before every write;
//! - [`layout`]: which tape file and block hold a stream offset, and where
//!   each member's header starts, so a file can be read by seeking to it;
//! - [`target`]: a directory written as a plain tar stream in large blocks
//!   through a RAM buffer, MD5 and SHA-256 of every file computed on other
//!   threads, continued on the next tape at end of medium, and read back,
//!   verified and extracted (format: `docs/tape-format.md`).
//!
//! # Example
//!
//! ```
//! use tape_io::{FileTape, FileTapeOptions, TapeDevice};
//!
//! let dir = tempfile::tempdir()?;
//! let mut tape = FileTape::create(&dir.path().join("t.tap"), FileTapeOptions::default())?;
//! tape.write_block(b"hello")?;
//! tape.write_filemarks(1, true)?;
//! tape.rewind()?;
//! let mut buf = vec![0; 1 << 20];
//! assert_eq!(tape.read_block(&mut buf)?, 5);
//! assert_eq!(tape.read_block(&mut buf)?, 0); // the filemark
//! assert_eq!(tape.status()?.file_number, Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod conformance;
mod device;
mod error;
pub mod label;
pub mod layout;
pub mod simh;
#[cfg(target_os = "linux")]
mod st;
pub mod target;

pub use device::{TapeDevice, TapeStatus, open_device};
pub use error::{Position, TapeError};
pub use simh::{FileTape, FileTapeOptions};
#[cfg(target_os = "linux")]
pub use st::StTape;
