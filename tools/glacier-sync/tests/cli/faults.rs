//! Faulty servers on 127.0.0.1, started by the tests themselves: one that
//! accepts and never answers, one that sends headers and stalls in the
//! body, one that closes mid-response, one that answers garbage. Every
//! command ends in bounded time (a generous bound, not a benchmark) with
//! exit code 4 and one readable sentence naming the endpoint.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How a [`Faulty`] server misbehaves.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Reads the request, never answers.
    Silent,
    /// Sends the headers and part of a body, then nothing.
    StallBody,
    /// Sends half a status line and closes.
    CloseMidResponse,
    /// A well-formed HTTP 200 whose body is not the service's JSON.
    Garbage,
}

/// A server with one fault, on a port of its own; it lives as long as the
/// test process (its threads hold the sockets open).
fn faulty(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || serve(conn, fault));
        }
    });
    format!("http://{addr}")
}

fn serve(mut conn: TcpStream, fault: Fault) {
    let mut buf = vec![0u8; 65536];
    // The request head (and whatever body came along).
    let _ = conn.read(&mut buf);
    match fault {
        Fault::Silent => {}
        Fault::StallBody => {
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"VaultList\": [",
            );
        }
        Fault::CloseMidResponse => {
            let _ = conn.write_all(b"HTTP/1.1 2");
            return;
        }
        Fault::Garbage => {
            let body = b"<html><body>Welcome to the captive portal</body></html>";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
    }
    // Hold the connection open without a word.
    std::thread::sleep(Duration::from_secs(600));
}

/// Runs `list-vaults --timeout 2` against `endpoint`; the stderr and the
/// seconds it took.
fn list_vaults(endpoint: &str, extra: &[&str]) -> (i32, String, f64) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("glacier.cfg"),
        "key=AKIDTESTKEY\nsecret=testsecret\nregion=us-east-1\n",
    )
    .unwrap();
    let mut args = vec![
        "list-vaults",
        "--config",
        "glacier.cfg",
        "--endpoint-url",
        endpoint,
        "--timeout",
        "2",
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = crate::run(tmp.path(), &args, None);
    let secs = started.elapsed().as_secs_f64();
    (out.status.code().unwrap_or(-1), crate::stderr(&out), secs)
}

fn assert_readable(err: &str) {
    for debug in ["DispatchFailure", "Some(", "ConnectorError", "{ "] {
        assert!(!err.contains(debug), "debug text {debug:?} in: {err}");
    }
}

#[test]
fn a_server_that_never_answers_fails_in_bounded_time_naming_the_timeout() {
    let endpoint = faulty(Fault::Silent);
    let (code, err, secs) = list_vaults(&endpoint, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(secs < 60.0, "took {secs} s: {err}");
    assert!(
        err.contains(&format!(
            "ListVaults at {endpoint} timed out: no answer for 2 s (first byte timeout)"
        )),
        "{err}"
    );
    assert_readable(&err);
    // The client's own account only with -v.
    assert!(!err.contains("HTTP read timeout"), "{err}");
    let (code, err, _) = list_vaults(&endpoint, &["-v"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("timeout"), "{err}");
}

#[test]
fn a_body_that_stalls_is_a_stall_timeout() {
    let endpoint = faulty(Fault::StallBody);
    let (code, err, secs) = list_vaults(&endpoint, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(secs < 60.0, "took {secs} s: {err}");
    assert!(err.contains(&endpoint), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert_readable(&err);
}

#[test]
fn a_connection_closed_mid_response_is_a_network_error() {
    let endpoint = faulty(Fault::CloseMidResponse);
    let (code, err, secs) = list_vaults(&endpoint, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(secs < 60.0, "took {secs} s: {err}");
    assert!(err.contains(&endpoint), "{err}");
    assert!(err.contains("ListVaults"), "{err}");
    assert_readable(&err);
}

#[test]
fn garbage_is_an_unexpected_response_with_its_first_bytes_under_v() {
    let endpoint = faulty(Fault::Garbage);
    let (code, err, secs) = list_vaults(&endpoint, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(secs < 60.0, "took {secs} s: {err}");
    assert!(
        err.contains(&format!(
            "unexpected response from {endpoint} to ListVaults"
        )),
        "{err}"
    );
    assert!(!err.contains("captive portal"), "{err}");
    assert_readable(&err);
    let (_, err, _) = list_vaults(&endpoint, &["-v"]);
    assert!(err.contains("captive portal"), "{err}");
}
