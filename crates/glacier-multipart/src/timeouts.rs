//! How long a network store waits for an answer.

use std::fmt;
use std::time::Duration;

/// The timeouts of a network store (Glacier, S3). A request that runs
/// into one fails with [`Error::Timeout`](crate::Error::Timeout), which
/// is retryable: the engine's [`RetryPolicy`](crate::RetryPolicy) tries
/// it again, a bounded number of times.
///
/// ```
/// use std::time::Duration;
/// use glacier_multipart::Timeouts;
///
/// let t = Timeouts::default();
/// assert_eq!(t.first_byte, Duration::from_secs(60));
/// // Sending a 64 MiB part may take 1,024 s more at 64 KiB/s.
/// assert_eq!(t.first_byte_after_sending(64 << 20), Duration::from_secs(60 + 1024));
/// assert_eq!(Timeouts::uniform(2).connect, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// From the request sent to the first byte of the response.
    pub first_byte: Duration,
    /// While a body streams: no progress for this long.
    pub stall: Duration,
    /// The slowest upload rate, in bytes per second, still waited for: a
    /// request carrying `n` bytes gets `n / upload_rate` seconds more
    /// before its first answer byte.
    pub upload_rate: u64,
}

impl Default for Timeouts {
    /// Connect 10 s, first byte 60 s, stall 60 s, uploads at 64 KiB/s.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            stall: Duration::from_secs(60),
            upload_rate: 64 * 1024,
        }
    }
}

impl Timeouts {
    /// `seconds` for the first byte and for a stall, at most 10 s to
    /// connect (what a `--timeout SECONDS` option sets).
    pub fn uniform(seconds: u64) -> Self {
        let n = Duration::from_secs(seconds.max(1));
        Timeouts {
            connect: n.min(Duration::from_secs(10)),
            first_byte: n,
            stall: n,
            ..Timeouts::default()
        }
    }

    /// The first-byte timeout of a request that sends `bytes`.
    pub fn first_byte_after_sending(&self, bytes: u64) -> Duration {
        self.first_byte + Duration::from_secs(bytes / self.upload_rate.max(1))
    }
}

/// Which of the [`Timeouts`] ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// No connection.
    Connect,
    /// Connected, no answer.
    FirstByte,
    /// A body stopped coming (or going).
    Stall,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first byte",
            TimeoutKind::Stall => "stall",
        })
    }
}
