//! A bounded in-memory pipe from the bundle writer or the catalog export (on
//! a thread of its own) into
//! the uploader: no temporary copy of a bundle, at most `depth` MiB in
//! flight. The writer must be finished explicitly, so a bundle that fails
//! half-way makes the upload fail instead of storing a truncated archive.

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The write end.
pub(crate) struct PipeWriter {
    tx: SyncSender<Option<Vec<u8>>>,
    buf: Vec<u8>,
}

/// The read end.
pub(crate) struct PipeReader {
    rx: Receiver<Option<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

const CHUNK: usize = 1 << 20;

/// A pipe holding at most `depth` chunks of 1 MiB in flight.
pub(crate) fn pipe(depth: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(depth);
    (
        PipeWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        },
    )
}

fn broken() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the uploader stopped reading",
    )
}

impl Write for PipeWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = b.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.tx.send(Some(full)).map_err(|_| broken())?;
        }
        Ok(())
    }
}

impl PipeWriter {
    /// Ends the stream cleanly. A writer dropped without this makes the
    /// reader fail, so a bundle that failed half-way is never stored.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.flush()?;
        self.tx.send(None).map_err(|_| broken())
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Some(v)) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Ok(None) => self.done = true,
                Err(_) => {
                    return Err(std::io::Error::other(
                        "the writer (bundle or catalog export) failed before the end of its stream",
                    ));
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_and_an_unfinished_writer_fails_the_reader() {
        let (mut w, mut r) = pipe(2);
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let t = std::thread::spawn(move || {
            w.write_all(&sent).unwrap();
            w.finish().unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        t.join().unwrap();
        assert_eq!(got, data);

        let (mut w, mut r) = pipe(2);
        w.write_all(b"partial").unwrap();
        drop(w); // never finished
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert!(err.to_string().contains("failed before the end"), "{err}");
    }
}
