//! Integration tests of glacier-treehash: known vectors, hand-checked
//! boundary cases, and properties over arbitrary inputs.

mod props;
mod vectors;

/// A deterministic test pattern: byte `i` is `(7i + 3) mod 256`.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}
