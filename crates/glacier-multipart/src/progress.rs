//! Progress reporting: the engine calls it, tools draw it, libraries never
//! print.

use crate::Error;

/// Receives progress from an upload or a download. Every method has an
/// empty default, so an implementation overrides only what it draws.
/// Methods are called from worker threads, concurrently.
pub trait Progress: Send + Sync {
    /// The transfer starts: `total` bytes (unknown for a pipe) in `parts`
    /// parts or segments (unknown likewise); `already_done` bytes were done
    /// by an earlier, interrupted run and will not travel again.
    fn start(&self, total: Option<u64>, parts: Option<u64>, already_done: u64) {
        let _ = (total, parts, already_done);
    }
    /// `bytes` more bytes were sent or received and verified.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
    /// Part or segment `index` is done.
    fn part_done(&self, index: u64) {
        let _ = index;
    }
    /// A request failed with a retryable error and is tried again after a
    /// pause; `attempt` counts from 1.
    fn retrying(&self, what: &str, attempt: u32, error: &Error) {
        let _ = (what, attempt, error);
    }
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
