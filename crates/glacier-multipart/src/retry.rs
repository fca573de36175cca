//! Retrying retryable errors with growing pauses.

use std::time::Duration;

use crate::{Error, Progress, Result};

/// How often and how patiently a failed request is tried again.
///
/// Only errors whose [`Error::is_retryable`] is true are retried. The pause
/// before try `n + 1` is `initial_delay * 2^(n-1)`, at most `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// The pause after the first failure.
    pub initial_delay: Duration,
    /// The longest pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Eight tries, pauses from 1 s doubling up to 3 minutes (about 6
    /// minutes in all, like mt-aws-glacier's 1, 5, 15, 60, 180 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NEVER: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Quick retries for tests: `attempts` tries, 1 ms apart.
    pub fn quick(attempts: u32) -> Self {
        RetryPolicy {
            max_attempts: attempts,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        }
    }

    /// The pause after failure number `attempt` (from 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }

    /// Runs `f` until it succeeds, fails for good, or tries run out.
    pub fn run<T>(
        &self,
        what: &str,
        progress: &dyn Progress,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.max_attempts => {
                    progress.retrying(what, attempt, &e);
                    std::thread::sleep(self.delay(attempt));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Like [`run`](Self::run), but also retries errors `also` accepts
    /// (the downloader retries a corrupted range a few times).
    pub(crate) fn run_also<T>(
        &self,
        what: &str,
        progress: &dyn Progress,
        also: impl Fn(&Error) -> bool,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if (e.is_retryable() || also(&e)) && attempt < self.max_attempts => {
                    progress.retrying(what, attempt, &e);
                    std::thread::sleep(self.delay(attempt));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(3), Duration::from_secs(4));
        assert_eq!(p.delay(20), Duration::from_secs(180));
        assert_eq!(p.delay(200), Duration::from_secs(180));
    }
}
