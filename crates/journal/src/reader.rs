//! Streaming reading and replay of a journal.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{JournalError, LineError};
use crate::record::{ParseError, Record, Version};
use crate::state::State;

/// The longest line accepted (1 MiB). Real lines are a few hundred bytes; a
/// longer one means the file is not a journal, and reading it whole would
/// only waste memory.
pub const MAX_LINE_LEN: usize = 1 << 20;

/// One record read from a journal, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Line number, from 1.
    pub line: u64,
    /// Byte offset of the line's start.
    pub offset: u64,
    /// The version the line was written in.
    pub version: Version,
    /// The record.
    pub record: Record,
}

/// A last line without its line feed: the trace of an append cut short by a
/// crash. It is never trusted as a record (a cut name can still parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset where the torn line starts.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Where a writer set it aside before truncating the journal to
    /// `offset` (`None` when only read).
    pub sidecar: Option<PathBuf>,
}

/// Reads a journal line by line, in constant memory: an iterator of
/// [`Entry`] or [`JournalError::InvalidLine`] (iteration may go on past an
/// invalid line). A last line without LF ends the iteration and is reported
/// by [`JournalReader::torn_tail`].
#[derive(Debug)]
pub struct JournalReader<R> {
    inner: R,
    path: PathBuf,
    buf: Vec<u8>,
    offset: u64,
    line: u64,
    torn: Option<TornTail>,
    done: bool,
}

impl JournalReader<BufReader<File>> {
    /// Opens the journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| JournalError::io(path, "open journal", e))?;
        Ok(JournalReader::new(
            BufReader::with_capacity(256 << 10, file),
            path,
        ))
    }
}

impl<R: BufRead> JournalReader<R> {
    /// Reads from `inner`; `path` names the journal in errors.
    pub fn new(inner: R, path: impl Into<PathBuf>) -> Self {
        JournalReader {
            inner,
            path: path.into(),
            buf: Vec::with_capacity(512),
            offset: 0,
            line: 0,
            torn: None,
            done: false,
        }
    }

    /// The torn last line, once the iteration has reached it.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// Lines read so far (including invalid ones).
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn invalid(&self, line: u64, offset: u64, reason: LineError) -> JournalError {
        JournalError::InvalidLine {
            path: self.path.clone(),
            line,
            offset,
            reason,
        }
    }

    /// Reads the next line into `self.buf`, without its LF. `Ok(false)` at the
    /// end of the input (a torn tail is then recorded). `Err(Some(len))`: the
    /// line was too long and was skipped whole.
    fn next_line(&mut self) -> io::Result<Result<bool, u64>> {
        self.buf.clear();
        let mut skipped: u64 = 0;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                let len = self.buf.len() as u64 + skipped;
                if len > 0 {
                    self.torn = Some(TornTail {
                        offset: self.offset,
                        len,
                        sidecar: None,
                    });
                    self.offset += len;
                }
                return Ok(Ok(false));
            }
            let (piece, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i)),
                None => (available, None),
            };
            if skipped > 0 || self.buf.len() + piece.len() > MAX_LINE_LEN {
                skipped += (self.buf.len() + piece.len()) as u64;
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(piece);
            }
            let used = found.map_or(piece.len(), |i| i + 1);
            self.inner.consume(used);
            if found.is_some() {
                if skipped > 0 {
                    return Ok(Err(skipped + 1));
                }
                return Ok(Ok(true));
            }
        }
    }
}

impl<R: BufRead> Iterator for JournalReader<R> {
    type Item = Result<Entry, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.offset;
        match self.next_line() {
            Err(e) => {
                self.done = true;
                Some(Err(JournalError::io(&self.path, "read journal", e)))
            }
            Ok(Ok(false)) => {
                self.done = true;
                None
            }
            Ok(Err(len)) => {
                self.line += 1;
                self.offset += len;
                Some(Err(self.invalid(
                    self.line,
                    start,
                    LineError::TooLong { max: MAX_LINE_LEN },
                )))
            }
            Ok(Ok(true)) => {
                self.line += 1;
                self.offset += self.buf.len() as u64 + 1;
                let line = self.line;
                let parsed = match std::str::from_utf8(&self.buf) {
                    Ok(text) => Record::parse(text),
                    Err(e) => Err(ParseError::NotUtf8 {
                        valid_up_to: e.valid_up_to(),
                    }),
                };
                Some(match parsed {
                    Ok((version, record)) => Ok(Entry {
                        line,
                        offset: start,
                        version,
                        record,
                    }),
                    Err(e) => Err(self.invalid(line, start, e.into())),
                })
            }
        }
    }
}

/// What to do with an invalid line in the middle of a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Stop with [`JournalError::InvalidLine`] (the default).
    #[default]
    Fail,
    /// Skip the line and list it in [`Replay::skipped`], for recovery.
    Skip,
}

/// How to read a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// What to do with invalid lines.
    pub on_invalid: OnInvalid,
    /// Keep the list of deleted archives ([`State::deleted`]); without it
    /// memory depends on the live archives only.
    pub keep_deleted: bool,
    /// Treat a missing journal as an empty one instead of an error.
    pub allow_missing: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            on_invalid: OnInvalid::Fail,
            keep_deleted: true,
            allow_missing: false,
        }
    }
}

impl ReadOptions {
    /// Skips invalid lines and reports them instead of failing.
    #[must_use]
    pub fn skip_invalid(mut self) -> Self {
        self.on_invalid = OnInvalid::Skip;
        self
    }

    /// Sets whether deleted archives are kept.
    #[must_use]
    pub fn keep_deleted(mut self, keep: bool) -> Self {
        self.keep_deleted = keep;
        self
    }

    /// Treats a missing journal as empty.
    #[must_use]
    pub fn allow_missing(mut self) -> Self {
        self.allow_missing = true;
        self
    }
}

/// A line skipped under [`OnInvalid::Skip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// Line number, from 1.
    pub line: u64,
    /// Byte offset of its start.
    pub offset: u64,
    /// Why it was skipped.
    pub reason: LineError,
}

/// The outcome of replaying a journal.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The state the journal describes.
    pub state: State,
    /// Records applied.
    pub records: u64,
    /// Lines read, including skipped ones (not the torn tail).
    pub lines: u64,
    /// Records applied per version: `[0, A, B]`.
    pub versions: [u64; 3],
    /// Lines skipped under [`OnInvalid::Skip`].
    pub skipped: Vec<SkippedLine>,
    /// A torn last line, not applied.
    pub torn_tail: Option<TornTail>,
}

/// Replays the journal at `path` into a [`State`], streaming: the file is
/// read once and never held in memory.
///
/// A torn last line (no LF) is not applied and is reported in
/// [`Replay::torn_tail`]; only a writer ([`crate::JournalWriter`]) moves it
/// aside.
pub fn read_journal(path: impl AsRef<Path>, options: ReadOptions) -> Result<Replay, JournalError> {
    let path = path.as_ref();
    let state = if options.keep_deleted {
        State::new()
    } else {
        State::without_deleted()
    };
    let replay = Replay {
        state,
        records: 0,
        lines: 0,
        versions: [0; 3],
        skipped: Vec::new(),
        torn_tail: None,
    };
    let reader = match JournalReader::open(path) {
        Ok(r) => r,
        Err(JournalError::Io { source, .. })
            if options.allow_missing && source.kind() == io::ErrorKind::NotFound =>
        {
            return Ok(replay);
        }
        Err(e) => return Err(e),
    };
    replay_from(reader, options, replay)
}

/// Replays records from any reader (see [`read_journal`]).
pub fn replay_reader<R: BufRead>(
    reader: JournalReader<R>,
    options: ReadOptions,
) -> Result<Replay, JournalError> {
    let state = if options.keep_deleted {
        State::new()
    } else {
        State::without_deleted()
    };
    let replay = Replay {
        state,
        records: 0,
        lines: 0,
        versions: [0; 3],
        skipped: Vec::new(),
        torn_tail: None,
    };
    replay_from(reader, options, replay)
}

fn replay_from<R: BufRead>(
    mut reader: JournalReader<R>,
    options: ReadOptions,
    mut replay: Replay,
) -> Result<Replay, JournalError> {
    for item in reader.by_ref() {
        let outcome = match item {
            Ok(entry) => match replay.state.apply(&entry.record) {
                Ok(()) => {
                    replay.records += 1;
                    replay.versions[match entry.version {
                        Version::V0 => 0,
                        Version::A => 1,
                        Version::B => 2,
                    }] += 1;
                    Ok(())
                }
                Err(e) => Err((entry.line, entry.offset, LineError::from(e))),
            },
            Err(JournalError::InvalidLine {
                line,
                offset,
                reason,
                ..
            }) => Err((line, offset, reason)),
            Err(e) => return Err(e),
        };
        if let Err((line, offset, reason)) = outcome {
            match options.on_invalid {
                OnInvalid::Fail => {
                    return Err(JournalError::InvalidLine {
                        path: reader.path.clone(),
                        line,
                        offset,
                        reason,
                    });
                }
                OnInvalid::Skip => replay.skipped.push(SkippedLine {
                    line,
                    offset,
                    reason,
                }),
            }
        }
    }
    replay.lines = reader.lines_read();
    replay.torn_tail = reader.torn.take();
    Ok(replay)
}
