//! Differential: the streaming hasher fed in fuzzer-chosen pieces must agree
//! with the one-shot hash of the same bytes.
//!
//! Input layout: byte 0 picks how many times the payload is repeated (so that
//! inputs cross the 1 MiB chunk boundaries), bytes 1..=8 seed the cut points,
//! the rest is the payload.
#![no_main]

use glacier_treehash::{TreeHasher, tree_hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 9 {
        return;
    }
    let repeat = usize::from(input[0]);
    let mut seed = u64::from_le_bytes(input[1..9].try_into().expect("8 bytes"));
    let payload = &input[9..];
    let mut data = Vec::new();
    if !payload.is_empty() {
        // Up to about 3 MiB, enough to cross two chunk boundaries.
        let target = (repeat * 12 * 1024).min(3 << 20).max(payload.len());
        while data.len() < target {
            data.extend_from_slice(payload);
        }
    }

    let mut h = TreeHasher::new();
    let mut at = 0;
    while at < data.len() {
        // xorshift: cheap, deterministic piece lengths from the seed.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let piece = (seed % 1_500_000) as usize + 1;
        let end = (at + piece).min(data.len());
        h.update(&data[at..end]);
        at = end;
    }
    assert_eq!(h.len(), data.len() as u64);
    assert_eq!(h.finish(), tree_hash(&data));
});
