//! Integration tests of tape-io against the file-backed tape.
#![allow(clippy::missing_panics_doc, clippy::many_single_char_names)] // test helpers

mod conformance;
mod label;
mod layout;
mod props;
mod simh;
mod target;

use std::path::Path;

use tape_io::{FileTape, FileTapeOptions};

pub fn tape(path: &Path) -> FileTape {
    FileTape::create(path, FileTapeOptions::default()).expect("create tape image")
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed ^ 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
