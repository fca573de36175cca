//! How the workspace's tests reach the servers `scripts/services/` starts
//! on 127.0.0.1. Each function panics (never skips) when its server's
//! variables are missing, naming the script that starts it.

use std::io::{Read as _, Write as _};

/// The S3 test server (moto) from `PERMAFROST_S3_ENDPOINT`, such as
/// `http://127.0.0.1:PORT`.
///
/// # Panics
/// When the variable is not set: the tests need the server.
#[must_use]
pub fn s3_endpoint() -> String {
    std::env::var("PERMAFROST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "PERMAFROST_S3_ENDPOINT is not set: these tests need the S3 test server; \
             run `eval \"$(scripts/services/moto start)\"` first (scripts/test does)"
        )
    })
}

/// Sends one unsigned HTTP request to the S3 test server, outside any SDK
/// (moto checks no signatures): creating buckets, putting objects as
/// another program would have, replacing bytes behind a store's back.
/// Returns the status code (0 when the answer has none).
///
/// # Panics
/// When the server cannot be reached.
#[must_use]
pub fn s3_request(method: &str, path: &str, body: &[u8]) -> u16 {
    let endpoint = s3_endpoint();
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut s = std::net::TcpStream::connect(&host)
        .unwrap_or_else(|e| panic!("connecting to the S3 test server {host}: {e}"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Creates a new, empty bucket on the S3 test server, named
/// `PREFIX-PID-N-NANOS` so that parallel tests and repeated runs against
/// one server never share one, and returns its name.
///
/// # Panics
/// When the server does not create it.
#[must_use]
pub fn s3_fresh_bucket(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let status = s3_request("PUT", &format!("/{name}"), b"");
    assert_eq!(status, 200, "creating bucket {name} on the S3 test server");
    name
}
