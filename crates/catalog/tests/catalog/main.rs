//! Integration tests of the catalog crate.

mod concurrency;
mod export;
mod records;
mod schema;
mod search;
mod support;
