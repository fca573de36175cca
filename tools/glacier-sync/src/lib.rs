//! Internals of the `glacier-sync` tool that are worth testing on their own.
//!
//! This is not a general-purpose library: the reusable pieces live in the
//! workspace's crates. What is here is glue specific to the tool, such as
//! compatibility with mt-aws-glacier's command line and configuration file.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

/// Prices and estimates: the `archiver` crate's, under their old name.
pub use archiver::pricing as cost;
pub mod mtcompat;
pub mod settings;
