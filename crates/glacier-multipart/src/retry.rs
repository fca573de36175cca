//! Retrying retryable errors with growing pauses.

use std::time::Duration;

use crate::{Error, Progress, Result};

/// How often and how patiently a failed request is tried again.
///
/// Only errors whose [`Error::is_retryable`] is true are retried. The pause
/// before try `n + 1` is `initial_delay * 2^(n-1)`, at most `max_delay`.
///
/// A server that does not answer at all (a timeout, a broken connection, a
/// garbled answer) is given at most [`NO_ANSWER_ATTEMPTS`] tries, whatever
/// `max_attempts` says: each try already waited a full timeout, so a dead
/// server fails in a few minutes (3 x 60 s plus 3 s of pauses with the
/// default [`Timeouts`](crate::Timeouts)) instead of ten.
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

/// Tries in all for a request the server does not answer (see
/// [`RetryPolicy`]).
pub const NO_ANSWER_ATTEMPTS: u32 = 3;

/// Whether the server gave no usable answer.
fn no_answer(e: &Error) -> bool {
    matches!(
        e,
        Error::Timeout { .. } | Error::Connection { .. } | Error::Unexpected { .. }
    )
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
        f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        self.run_also(what, progress, |_| false, f)
    }

    /// Whether failure number `attempt` of `e` gets another try.
    fn again(&self, e: &Error, attempt: u32, no_answers: &mut u32) -> bool {
        if no_answer(e) {
            *no_answers += 1;
            if *no_answers >= NO_ANSWER_ATTEMPTS {
                return false;
            }
        }
        attempt < self.max_attempts
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
        let mut no_answers = 0;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e)
                    if (e.is_retryable() || also(&e))
                        && self.again(&e, attempt, &mut no_answers) =>
                {
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

    #[test]
    fn a_server_that_never_answers_gets_three_tries() {
        let mut tries = 0;
        let err = RetryPolicy::quick(8)
            .run("listing", &crate::NoProgress, || -> Result<()> {
                tries += 1;
                Err(Error::Timeout {
                    operation: "list_vaults",
                    vault: String::new(),
                    endpoint: "http://127.0.0.1:9".into(),
                    seconds: 1,
                    kind: crate::TimeoutKind::FirstByte,
                    detail: crate::Detail(String::new()),
                })
            })
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }));
        assert_eq!(tries, NO_ANSWER_ATTEMPTS);
        let mut tries = 0;
        let _ = RetryPolicy::quick(8).run("listing", &crate::NoProgress, || -> Result<()> {
            tries += 1;
            Err(Error::Server {
                operation: "list_vaults",
                vault: String::new(),
                status: 500,
                message: String::new(),
            })
        });
        assert_eq!(tries, 8);
    }
}
