//! Integration tests of the catalog crate.

mod check;
mod concurrency;
mod export;
mod index;
mod records;
mod schema;
mod search;
mod support;
mod tape;
