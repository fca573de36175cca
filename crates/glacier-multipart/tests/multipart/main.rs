//! Integration tests of glacier-multipart: the store contract on the local
//! and in-memory stores, the upload engine (part sizes, faults, pipes,
//! resume, a killed process), the download engine (ranges, corruption,
//! resume), concurrent processes on one local vault, and what is particular
//! to S3 (restores, classes, verification, faults) against the S3 test
//! server.

mod child;
mod conformance;
mod download;
mod local;
mod s3;
mod upload;
mod util;
