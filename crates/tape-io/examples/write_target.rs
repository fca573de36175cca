//! Writes a directory as one target to a file-backed tape and prints the
//! throughput (tar stream, MD5 and SHA-256 of every file included):
//! `cargo run --release -p tape-io --example write_target -- DIR TAPE.tap`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use tape_io::target::{LocalDir, WriteOptions, write_target};
use tape_io::{FileTape, FileTapeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, tape] = &args[..] else {
        return Err("usage: write_target DIR TAPE.tap".into());
    };
    let mut t = FileTape::create(tape.as_ref(), FileTapeOptions::default())?;
    let start = Instant::now();
    let w = write_target(
        &mut t,
        dir,
        &mut LocalDir::new(dir),
        None,
        &WriteOptions::default(),
    )?;
    drop(t);
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = w.files.iter().map(|f| f.size).sum();
    #[allow(clippy::cast_precision_loss)]
    let mbs = bytes as f64 / 1e6 / secs;
    println!(
        "{} files, {bytes} bytes in {secs:.2} s: {mbs:.0} MB/s ({:.2}x LTO-9's 400 MB/s); {} blocks of {} bytes",
        w.files.len(),
        mbs / 400.0,
        w.blocks,
        w.block_size
    );
    Ok(())
}
