//! Integration tests of the bundler: walking, limits, round trips, stock
//! tools reading our output, ranged extraction, hostile input, age.

mod common;
mod crypt;
mod hostile;
mod limits;
mod ranged;
mod roundtrip;
mod stock_tools;
mod walk;
