//! mt-aws-glacier's journal, read and written compatibly and durably.
//!
//! mt-aws-glacier keeps, next to every vault it synchronises, a text
//! *journal*: one line per archive created, deleted or asked to be
//! retrieved. This crate reads every version it ever wrote and writes the
//! current one, so its users can switch tools and keep their journals:
//!
//! - [`Record`]: one line. [`Record::parse`] reads versions B, A and the
//!   space-separated version 0 (LF or CRLF); [`Record::to_line`] writes
//!   version B, byte for byte as mt-aws-glacier does.
//! - [`read_journal`]: replays a journal into a [`State`] in one streaming
//!   pass: live archives by id, files by relative name with all their
//!   versions and the latest one, deleted archives, retrieval jobs. Memory
//!   follows the live archives, not the journal's length. An invalid line in
//!   the middle is an error naming its line and reason, or, with
//!   [`ReadOptions::skip_invalid`], skipped and reported.
//! - [`JournalWriter`]: durable appends under an exclusive advisory lock
//!   (a second writer gets [`JournalError::Locked`] "journal ... locked by
//!   pid ..."); every append is `fsync`ed before it returns, batches with one
//!   `fsync`. A torn last line left by a crash is detected with its byte
//!   offset, set aside in a sidecar file, and appending continues on a fresh
//!   line.
//! - [`JournalWriter::open_and_read`]: the usual start of a command that
//!   reads and then appends (lock, set aside a torn tail, replay); keep the
//!   [`State`] current after each append with [`State::apply`].
//! - [`encode_description`] / [`decode_description`]: the `mt2` (and old
//!   `mt1`) archive description that carries a file's name and mtime inside
//!   Glacier.
//! - [`RelName`]: the rules for relative names.
//!
//! mt-aws-glacier itself neither locks nor syncs its journal; the format on
//! disk is the same, so either tool can read what the other wrote.
//!
//! # Example
//!
//! ```
//! use glacier_treehash::tree_hash;
//! use journal::{JournalWriter, ReadOptions, Record, RelName, read_journal};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("journal.log");
//!
//! // Append: each call returns once the record is on disk.
//! let mut writer = JournalWriter::open(&path)?;
//! let created = |time, id: &str, mtime| -> Result<Record, Box<dyn std::error::Error>> {
//!     Ok(Record::Created {
//!         time,
//!         archive_id: id.parse()?,
//!         size: 5,
//!         mtime: Some(mtime),
//!         treehash: tree_hash(b"hello"),
//!         relname: RelName::new("docs/hello world.txt")?,
//!     })
//! };
//! writer.append(&created(1_700_000_000, "ARCHIVE-1", 1_600_000_000)?)?;
//! // A batch: one write, one fsync.
//! writer.append_all(&[
//!     created(1_700_000_100, "ARCHIVE-2", 1_650_000_000)?,
//!     Record::RetrieveJob {
//!         time: 1_700_000_200,
//!         archive_id: "ARCHIVE-1".parse()?,
//!         job_id: Some("JOB-1".parse()?),
//!     },
//! ])?;
//!
//! // A second writer is refused while the first is open.
//! let err = JournalWriter::open(&path).unwrap_err();
//! assert!(err.to_string().contains("locked by pid"));
//! drop(writer);
//!
//! // Replay. The file holds version-B lines, as mt-aws-glacier writes them.
//! let text = std::fs::read_to_string(&path)?;
//! assert!(text.starts_with("B\t1700000000\tCREATED\tARCHIVE-1\t5\t1600000000\t"));
//! let replay = read_journal(&path, ReadOptions::default())?;
//! let file = replay.state.file("docs/hello world.txt").expect("file is live");
//! assert_eq!(file.len(), 2);
//! assert_eq!(file.latest().archive_id.as_str(), "ARCHIVE-2"); // newest mtime
//! assert_eq!(replay.state.retrievals("ARCHIVE-1")[0].time, 1_700_000_200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod description;
mod error;
mod names;
mod reader;
mod record;
mod state;
mod time;
mod writer;

pub use description::{
    ArchiveMeta, Description, DescriptionError, MAX_DESCRIPTION_LEN, decode_description,
    encode_description,
};
pub use error::{JournalError, LineError};
pub use names::{ArchiveId, IdError, JobId, NameError, RelName, validate_relname};
pub use reader::{
    Entry, JournalReader, MAX_LINE_LEN, OnInvalid, ReadOptions, Replay, SkippedLine, TornTail,
    read_journal, replay_reader,
};
pub use record::{ParseError, Record, Version};
pub use state::{ApplyError, Archive, DeletedArchive, FileVersions, Retrieval, State};
pub use writer::JournalWriter;
