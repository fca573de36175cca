//! Compatibility with mt-aws-glacier's user-facing formats: its
//! configuration file and its `--filter` / `--include` / `--exclude` rules.

pub mod config;
pub mod filter;
