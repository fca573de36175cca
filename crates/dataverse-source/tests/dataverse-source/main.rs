//! Integration tests of dataverse-source against a real PostgreSQL
//! (`scripts/services/postgres`, started by `scripts/test`).

mod fixture;
mod listing;
mod memory;
