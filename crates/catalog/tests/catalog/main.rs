//! Integration tests of the catalog crate.

#[macro_use]
mod support;

mod check;
mod concurrency;
mod export;
mod index;
mod postgres;
mod records;
mod schema;
mod search;
mod tape;
