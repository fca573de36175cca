//! Durable, locked appends.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::JournalError;
use crate::reader::{ReadOptions, Replay, TornTail, read_journal};
use crate::record::Record;

/// The only writer of a journal, for as long as it lives.
///
/// [`JournalWriter::open`] takes an exclusive advisory lock on the journal
/// (`flock`; a second writer, in this process or another, gets
/// [`JournalError::Locked`] naming the holder) and writes who holds it to
/// `<journal>.lock`, removed again when the writer is dropped.
///
/// Every append writes whole version-B lines with one `write` and returns
/// only after `fsync` (`fdatasync`): [`JournalWriter::append`] syncs once per
/// record, [`JournalWriter::append_all`] once for the whole batch. If a
/// write fails, the partial line is cut off again; if that or the sync fails,
/// the writer refuses further appends ([`JournalError::WriterFailed`]).
///
/// On open, a torn last line (left by a crash in the middle of an append) is
/// copied to `<journal>.torn-<offset>`, synced, and cut from the journal, so
/// appending continues on a fresh line and every complete record is kept.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    path: PathBuf,
    lock_info: PathBuf,
    len: u64,
    buf: Vec<u8>,
    torn: Option<TornTail>,
    failed: bool,
}

impl JournalWriter {
    /// Opens (creating if needed) the journal at `path` for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref().to_path_buf();
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| JournalError::io(&path, "open journal for appending", e))?;
        let lock_info = sidecar(&path, ".lock");
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&lock_info)
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "another process (holder unknown)".to_owned());
                return Err(JournalError::Locked { path, holder });
            }
            Err(TryLockError::Error(e)) => return Err(JournalError::io(&path, "lock journal", e)),
        }
        if !existed {
            sync_parent(&path)?;
        }
        // Best effort: the lock itself is what protects the journal; this
        // file only lets a second writer say who holds it.
        let _ = fs::write(&lock_info, holder_description());
        let len = file
            .metadata()
            .map_err(|e| JournalError::io(&path, "stat journal", e))?
            .len();
        let mut writer = JournalWriter {
            file,
            path,
            lock_info,
            len,
            buf: Vec::with_capacity(4096),
            torn: None,
            failed: false,
        };
        writer.recover_torn_tail()?;
        Ok(writer)
    }

    /// Opens the journal for appending, then replays it: the usual start of
    /// a command that reads the journal and adds to it. The replay sees the
    /// journal after any torn tail was set aside (reported in both
    /// [`JournalWriter::torn_tail`] and [`Replay::torn_tail`]).
    pub fn open_and_read(
        path: impl AsRef<Path>,
        options: ReadOptions,
    ) -> Result<(Self, Replay), JournalError> {
        let writer = JournalWriter::open(path)?;
        let mut replay = read_journal(&writer.path, options)?;
        if replay.torn_tail.is_none() {
            replay.torn_tail.clone_from(&writer.torn);
        }
        Ok((writer, replay))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The torn last line set aside when the journal was opened.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The journal's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one record and syncs it to disk before returning.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        self.append_all(std::iter::once(record)).map(|_| ())
    }

    /// Appends records with one write and one sync; returns how many.
    pub fn append_all<'r, I>(&mut self, records: I) -> Result<usize, JournalError>
    where
        I: IntoIterator<Item = &'r Record>,
    {
        if self.failed {
            return Err(JournalError::WriterFailed {
                path: self.path.clone(),
            });
        }
        self.buf.clear();
        let mut n = 0;
        for r in records {
            r.write_line(&mut self.buf);
            n += 1;
        }
        if n == 0 {
            return Ok(0);
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            // Cut off whatever part of the batch reached the file, so that
            // the journal still ends on a complete line.
            if self.file.set_len(self.len).is_err() || self.file.sync_data().is_err() {
                self.failed = true;
            }
            return Err(JournalError::io(&self.path, "append to journal", e));
        }
        if let Err(e) = self.file.sync_data() {
            self.failed = true;
            return Err(JournalError::io(&self.path, "fsync journal", e));
        }
        self.len += self.buf.len() as u64;
        Ok(n)
    }

    fn recover_torn_tail(&mut self) -> Result<(), JournalError> {
        if self.len == 0 {
            return Ok(());
        }
        let path = &self.path;
        let read_err = |e| JournalError::io(path, "read journal end", e);
        // Scan backwards for the last LF.
        let mut end = self.len;
        let mut block = vec![0u8; 64 << 10];
        let mut start = None;
        let mut first = true;
        while end > 0 {
            let from = end.saturating_sub(block.len() as u64);
            let piece = &mut block[..(end - from) as usize];
            self.file.seek(SeekFrom::Start(from)).map_err(read_err)?;
            self.file.read_exact(piece).map_err(read_err)?;
            if first {
                if piece.last() == Some(&b'\n') {
                    return Ok(());
                }
                first = false;
            }
            if let Some(i) = piece.iter().rposition(|&b| b == b'\n') {
                start = Some(from + i as u64 + 1);
                break;
            }
            end = from;
        }
        let start = start.unwrap_or(0);
        let tail_len = self.len - start;
        let mut tail = vec![0u8; tail_len as usize];
        self.file.seek(SeekFrom::Start(start)).map_err(read_err)?;
        self.file.read_exact(&mut tail).map_err(read_err)?;

        let side = sidecar(&self.path, &format!(".torn-{start}"));
        let mut f = File::create(&side)
            .map_err(|e| JournalError::io(&side, "create torn-line sidecar", e))?;
        f.write_all(&tail)
            .and_then(|()| f.sync_all())
            .map_err(|e| JournalError::io(&side, "write torn-line sidecar", e))?;
        sync_parent(&side)?;
        self.file
            .set_len(start)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| JournalError::io(&self.path, "truncate torn last line of journal", e))?;
        self.len = start;
        self.torn = Some(TornTail {
            offset: start,
            len: tail_len,
            sidecar: Some(side),
        });
        Ok(())
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        // Still locked here: the lock goes with the file, after this.
        let _ = fs::remove_file(&self.lock_info);
    }
}

/// `<path><suffix>` in the same directory.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_parent(path: &Path) -> Result<(), JournalError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(parent, "fsync directory", e))
}

fn holder_description() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "an unknown host".to_owned());
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "pid {} on {host} since {since} (epoch seconds)\n",
        std::process::id()
    )
}
