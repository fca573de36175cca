//! Integration tests of the bundler: walking, limits, round trips, stock
//! tools reading our output, ranged extraction, hostile input, age, the
//! layout of frames.

// Test code: short names and panics on failure are the point here.
#![allow(
    clippy::many_single_char_names,
    clippy::unnecessary_debug_formatting,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;
mod crypt;
mod hostile;
mod layout;
mod limits;
mod ranged;
mod raw_frames;
mod roundtrip;
mod stock_tools;
mod walk;
