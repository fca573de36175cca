//! Integration tests of dataverse-source against a real PostgreSQL
//! (`scripts/services/postgres`) and, for the S3 store, a real S3 server
//! (`scripts/services/moto`), both started by `scripts/test`.

mod fixture;
mod listing;
mod memory;
#[cfg(feature = "s3")]
mod s3;
