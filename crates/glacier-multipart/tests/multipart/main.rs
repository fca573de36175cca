//! Integration tests of glacier-multipart: the store contract on the local
//! and in-memory stores, the upload engine (part sizes, faults, pipes,
//! resume, a killed process), the download engine (ranges, corruption,
//! resume) and concurrent processes on one local vault.

mod child;
mod conformance;
mod download;
mod local;
mod upload;
mod util;
