//! A conformance suite for tape devices, modelled on Bacula's `btape test`.
//!
//! [`run`] writes files of patterned blocks, rewinds and verifies them,
//! repositions to given `file:block` positions, appends at end of data after
//! reopening the device, spaces forward and back over files and records,
//! checks the end-of-data sequence, and optionally fills the tape to its end.
//! It is destructive: everything on the tape is overwritten.

use crate::device::TapeDevice;
use crate::error::TapeError;

/// What [`run`] does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files written in the first pass.
    pub files: u32,
    /// Blocks in each file.
    pub blocks_per_file: u32,
    /// Size of each block.
    pub block_size: usize,
    /// Also write until end of medium (hours on a real LTO tape).
    pub fill: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            files: 4,
            blocks_per_file: 50,
            block_size: 64 * 1024,
            fill: false,
        }
    }
}

/// The suite failed at a step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// The device returned an error the step did not expect.
    #[error("conformance step '{step}': {source}")]
    Tape {
        step: &'static str,
        #[source]
        source: TapeError,
    },
    /// The device behaved differently from st.
    #[error("conformance step '{step}': {detail}")]
    Failed { step: &'static str, detail: String },
}

/// What passed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Names of the steps that passed, in order.
    pub passed: Vec<&'static str>,
    /// Blocks written before end of medium in the fill step.
    pub fill_blocks: Option<u64>,
}

/// Opens (or reopens) the device under test.
pub type Opener<'a> = dyn FnMut() -> Result<Box<dyn TapeDevice>, TapeError> + 'a;

/// The pattern of block `block` of file `file`: its coordinates, then
/// pseudo-random bytes derived from them.
pub fn pattern(file: u32, block: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut x = (u64::from(file) << 32 | u64::from(block)) ^ 0x9E37_79B9_7F4A_7C15;
    v.extend_from_slice(&file.to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

struct Ctx<'a, 'b> {
    step: &'static str,
    dev: Box<dyn TapeDevice>,
    open: &'a mut Opener<'b>,
    buf: Vec<u8>,
    bs: usize,
}

impl Ctx<'_, '_> {
    fn t<T>(&self, r: Result<T, TapeError>) -> Result<T, ConformanceError> {
        r.map_err(|source| ConformanceError::Tape {
            step: self.step,
            source,
        })
    }
    fn fail(&self, detail: impl Into<String>) -> ConformanceError {
        ConformanceError::Failed {
            step: self.step,
            detail: detail.into(),
        }
    }
    fn expect_block(&mut self, file: u32, block: u32) -> Result<(), ConformanceError> {
        let r = self.dev.read_block(&mut self.buf);
        let n = self.t(r)?;
        if self.buf[..n] != pattern(file, block, self.bs)[..] {
            let got = if n >= 8 {
                format!(
                    "file {} block {}",
                    u32::from_le_bytes(self.buf[0..4].try_into().expect("4 bytes")),
                    u32::from_le_bytes(self.buf[4..8].try_into().expect("4 bytes"))
                )
            } else {
                format!("{n} bytes")
            };
            return Err(self.fail(format!("expected file {file} block {block}, read {got}")));
        }
        Ok(())
    }
    fn expect_filemark(&mut self, what: &str) -> Result<(), ConformanceError> {
        let r = self.dev.read_block(&mut self.buf);
        match self.t(r)? {
            0 => Ok(()),
            n => Err(self.fail(format!("expected a zero read at {what}, got {n} bytes"))),
        }
    }
    fn expect_position(&mut self, file: u64, block: Option<u64>) -> Result<(), ConformanceError> {
        let r = self.dev.status();
        let s = self.t(r)?;
        if s.file_number != Some(file) || (block.is_some() && s.block_number != block) {
            return Err(self.fail(format!(
                "status says file {:?} block {:?}, expected file {file} block {block:?}",
                s.file_number, s.block_number
            )));
        }
        Ok(())
    }
    fn write_file(&mut self, file: u32, blocks: u32, flush: bool) -> Result<(), ConformanceError> {
        for b in 0..blocks {
            let data = pattern(file, b, self.bs);
            let r = self.dev.write_block(&data);
            self.t(r)?;
        }
        let r = self.dev.write_filemarks(1, flush);
        self.t(r)
    }
}

/// Runs the suite on the device `open` returns (called again to reopen).
#[allow(clippy::too_many_lines)] // one linear script of steps reads best as one function
pub fn run(open: &mut Opener<'_>, opts: &Options) -> Result<Report, ConformanceError> {
    let dev = open().map_err(|source| ConformanceError::Tape {
        step: "open",
        source,
    })?;
    let mut c = Ctx {
        step: "open",
        dev,
        open,
        buf: vec![0; opts.block_size.max(64 * 1024)],
        bs: opts.block_size,
    };
    let mut report = Report::default();
    let (files, blocks) = (opts.files.max(3), opts.blocks_per_file.max(4));

    c.step = "write-rewind-verify";
    let r = c.dev.set_block_size(0);
    c.t(r)?;
    let r = c.dev.rewind();
    c.t(r)?;
    for f in 0..files {
        c.write_file(f, blocks, f + 1 == files)?;
    }
    let r = c.dev.rewind();
    c.t(r)?;
    c.expect_position(0, Some(0))?;
    for f in 0..files {
        for b in 0..blocks {
            c.expect_block(f, b)?;
        }
        c.expect_filemark("end of file")?;
        c.expect_position(u64::from(f) + 1, Some(0))?;
    }
    report.passed.push(c.step);

    c.step = "end-of-data-sequence";
    c.expect_filemark("end of data")?;
    match c.dev.read_block(&mut c.buf) {
        Err(_) => {}
        Ok(n) => return Err(c.fail(format!("a read past end of data returned {n} bytes"))),
    }
    report.passed.push(c.step);

    c.step = "short-buffer-rejected";
    let r = c.dev.rewind();
    c.t(r)?;
    let mut small = vec![0u8; c.bs / 2];
    if let Ok(n) = c.dev.read_block(&mut small) {
        return Err(c.fail(format!(
            "a {}-byte buffer accepted a {}-byte block ({n})",
            small.len(),
            c.bs
        )));
    }
    report.passed.push(c.step);

    c.step = "reposition-file-block";
    let spots = [
        (0, 0),
        (1, blocks / 2),
        (files - 1, blocks - 1),
        (0, blocks - 1),
        (2, 1),
    ];
    for (f, b) in spots {
        let r = c.dev.rewind();
        c.t(r)?;
        if f > 0 {
            let r = c.dev.space_files(f.cast_signed());
            c.t(r)?;
        }
        if b > 0 {
            let r = c.dev.space_records(b.cast_signed());
            c.t(r)?;
        }
        c.expect_position(u64::from(f), Some(u64::from(b)))?;
        c.expect_block(f, b)?;
    }
    report.passed.push(c.step);

    c.step = "tell-seek";
    let r = c.dev.rewind();
    c.t(r)?;
    let r = c.dev.space_files(1);
    c.t(r)?;
    let r = c.dev.space_records(2);
    c.t(r)?;
    let r = c.dev.tell();
    let addr = c.t(r)?;
    let r = c.dev.rewind();
    c.t(r)?;
    let r = c.dev.seek(addr);
    c.t(r)?;
    c.expect_block(1, 2)?;
    report.passed.push(c.step);

    c.step = "append-after-reopen";
    let r = c.dev.close();
    c.t(r)?;
    drop(std::mem::replace(
        &mut c.dev,
        (c.open)().map_err(|source| ConformanceError::Tape {
            step: "append-after-reopen",
            source,
        })?,
    ));
    let r = c.dev.end_of_data();
    c.t(r)?;
    c.expect_position(u64::from(files), None)?;
    c.write_file(files, blocks, true)?;
    let r = c.dev.close();
    c.t(r)?;
    drop(std::mem::replace(
        &mut c.dev,
        (c.open)().map_err(|source| ConformanceError::Tape {
            step: "append-after-reopen",
            source,
        })?,
    ));
    let r = c.dev.rewind();
    c.t(r)?;
    let r = c.dev.space_files(files.cast_signed());
    c.t(r)?;
    for b in 0..blocks {
        c.expect_block(files, b)?;
    }
    c.expect_filemark("end of the appended file")?;
    report.passed.push(c.step);
    let files = files + 1;

    c.step = "space-forward-files";
    let r = c.dev.rewind();
    c.t(r)?;
    for f in 1..=files {
        let r = c.dev.space_files(1);
        c.t(r)?;
        c.expect_position(u64::from(f), Some(0))?;
    }
    if c.dev.space_files(1).is_ok() {
        return Err(c.fail("spacing forward past end of data succeeded"));
    }
    report.passed.push(c.step);

    c.step = "space-back-files-and-records";
    let r = c.dev.rewind();
    c.t(r)?;
    let r = c.dev.space_files(3);
    c.t(r)?;
    // Back over the filemark ending file 2: the head is before it.
    let r = c.dev.space_files(-1);
    c.t(r)?;
    c.expect_position(2, None)?;
    let r = c.dev.space_records(-1);
    c.t(r)?;
    c.expect_block(2, blocks - 1)?;
    c.expect_filemark("end of file 2 after back-spacing")?;
    c.expect_position(3, Some(0))?;
    let r = c.dev.space_records(2);
    c.t(r)?;
    let r = c.dev.space_records(-2);
    c.t(r)?;
    c.expect_block(3, 0)?;
    report.passed.push(c.step);

    c.step = "write-truncates";
    let r = c.dev.rewind();
    c.t(r)?;
    let r = c.dev.space_files(1);
    c.t(r)?;
    c.write_file(100, 2, true)?;
    let r = c.dev.rewind();
    c.t(r)?;
    let r = c.dev.space_files(1);
    c.t(r)?;
    c.expect_block(100, 0)?;
    c.expect_block(100, 1)?;
    c.expect_filemark("end of the rewritten file")?;
    c.expect_filemark("end of data after the rewritten file")?;
    report.passed.push(c.step);

    if opts.fill {
        c.step = "fill-to-end-of-medium";
        let r = c.dev.rewind();
        c.t(r)?;
        let mut n: u64 = 0;
        loop {
            let data = pattern(7, n as u32, c.bs);
            match c.dev.write_block(&data) {
                Ok(()) => n += 1,
                Err(TapeError::EndOfMedium { .. }) => break,
                Err(e) => return Err(c.t::<()>(Err(e)).expect_err("an error")),
            }
        }
        let r = c.dev.status();
        if !c.t(r)?.eot {
            return Err(c.fail("end of medium without the EOT status bit"));
        }
        // st lets the next write through so trailers fit.
        let data = pattern(7, n as u32, c.bs);
        let r = c.dev.write_block(&data);
        c.t(r)?;
        n += 1;
        let r = c.dev.write_filemarks(1, true);
        c.t(r)?;
        let r = c.dev.rewind();
        c.t(r)?;
        for b in 0..n {
            c.expect_block(7, b as u32)?;
        }
        c.expect_filemark("end of the filled file")?;
        report.fill_blocks = Some(n);
        report.passed.push(c.step);
    }
    let r = c.dev.close();
    c.t(r)?;
    Ok(report)
}
