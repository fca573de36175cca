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

/// A command's exit code, standard error, and seconds taken.
type Outcome = (i32, String, f64);

/// A fake Glacier behind a proxy that can fall silent, and a directory to
/// run in; credentials and the endpoint come from the environment, so
/// every command (the backup ones too) reaches it the same way.
struct Silenced {
    fake: fake_glacier::FakeGlacier,
    proxy: crate::proxy::Proxy,
    tmp: tempfile::TempDir,
}

impl Silenced {
    fn start(job_delay: Duration) -> Silenced {
        let fake = fake_glacier::FakeGlacier::start(&fake_glacier::FakeOptions {
            job_delay,
            ..fake_glacier::FakeOptions::default()
        })
        .unwrap();
        let proxy = crate::proxy::Proxy::start(&fake.addr().to_string());
        let tmp = tempfile::tempdir().unwrap();
        for (rel, data) in [
            ("src/a.txt", b"alpha\n".to_vec()),
            (
                "src/sub/b.bin",
                (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect(),
            ),
            ("src2/c.txt", b"gamma\n".to_vec()),
        ] {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        Silenced { fake, proxy, tmp }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_glacier-sync"));
        c.args(args)
            .current_dir(self.tmp.path())
            .env("XDG_CONFIG_HOME", self.tmp.path().join(".no-config"))
            .env("XDG_DATA_HOME", self.tmp.path().join(".data"))
            .env_remove("PERMAFROST_CONFIG")
            .env("AWS_ACCESS_KEY_ID", "AKIDTESTKEY")
            .env("AWS_SECRET_ACCESS_KEY", fake_glacier::DEFAULT_SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", self.proxy.endpoint())
            .stdin(std::process::Stdio::null());
        c
    }

    /// Runs `args`; its exit code, stderr, and seconds taken.
    fn run(&self, args: &[&str]) -> Outcome {
        let started = Instant::now();
        let out = self.command(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            crate::stderr(&out),
            started.elapsed().as_secs_f64(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, err, _) = self.run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        err
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.tmp.path().join(rel)
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one story: healthy, silent, healthy again
fn every_store_command_against_a_server_that_stops_answering() {
    let s = Silenced::start(Duration::ZERO);
    let endpoint = s.proxy.endpoint();
    // Healthy first: a vault, a journal, a catalog with a job pending, a
    // backup set.
    s.ok(&["create-vault", "v"]);
    s.ok(&["sync", "--dir", "src", "--vault", "v", "--journal", "j.log"]);
    s.ok(&["archive", "src", "--vault", "v", "--catalog", "cat.sqlite"]);
    let err = s.ok(&[
        "retrieve",
        "b.bin",
        "--to",
        "out",
        "--vault",
        "v",
        "--catalog",
        "cat.sqlite",
        "--yes",
    ]);
    assert!(err.contains("1 files from 1 archives"), "{err}");
    std::fs::write(
        s.path("spec.json"),
        format!(
            "{{\"includes\": [\"{}\"], \"excludes\": []}}",
            s.path("src").display()
        ),
    )
    .unwrap();
    let bcat = ["--catalog", "bcat.sqlite"];
    s.ok(&[
        &[
            "backup",
            "init",
            "b",
            "--vault",
            "bv",
            "--spec",
            "spec.json",
        ][..],
        &bcat,
    ]
    .concat());
    s.ok(&["create-vault", "bv"]);
    s.ok(&[&["backup", "run", "b"][..], &bcat].concat());
    std::fs::write(s.path("src/new.txt"), b"new since the last run\n").unwrap();
    let archive_bytes = s.fake.store().stats().part_bytes_stored;

    s.proxy.silence();
    let t = ["--timeout", "1"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["list-vaults"],
        vec!["create-vault", "v2"],
        vec!["delete-vault", "v"],
        vec![
            "sync",
            "--dir",
            "src2",
            "--vault",
            "v",
            "--journal",
            "j2.log",
        ],
        vec![
            "upload-file",
            "--vault",
            "v",
            "--journal",
            "j3.log",
            "--dir",
            "src2",
            "--filename",
            "src2/c.txt",
        ],
        vec!["purge-vault", "--vault", "v", "--journal", "j.log"],
        vec!["retrieve-inventory", "--vault", "v"],
        vec![
            "download-inventory",
            "--vault",
            "v",
            "--new-journal",
            "inv.log",
        ],
        vec![
            "restore",
            "--dir",
            "r",
            "--vault",
            "v",
            "--journal",
            "j.log",
            "--max-number-of-files",
            "9",
        ],
        vec![
            "restore-completed",
            "--dir",
            "r",
            "--vault",
            "v",
            "--journal",
            "j.log",
        ],
        vec!["archive", "src2", "--vault", "v", "--catalog", "cat.sqlite"],
        vec![
            "retrieve",
            "a.txt",
            "--to",
            "out2",
            "--vault",
            "v",
            "--catalog",
            "cat.sqlite",
            "--yes",
        ],
        vec![
            "watch",
            "--vault",
            "v",
            "--catalog",
            "cat.sqlite",
            "--interval",
            "1",
        ],
        vec![
            "catalog",
            "rebuild",
            "--vault",
            "v",
            "--catalog",
            "rebuilt.sqlite",
        ],
        vec!["backup", "run", "b", "--catalog", "bcat.sqlite"],
        vec![
            "backup",
            "restore",
            "b",
            "--to",
            "bout",
            "--yes",
            "--catalog",
            "bcat.sqlite",
        ],
        vec!["backup", "reconcile", "b", "--catalog", "bcat.sqlite"],
    ];
    let results: Vec<(Vec<&str>, Outcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|args| {
                let s = &s;
                scope.spawn(move || {
                    let full = [&args[..], &t].concat();
                    (args.clone(), s.run(&full))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut wrong = Vec::new();
    for (args, (code, err, secs)) in &results {
        let debug = ["DispatchFailure", "Some(", "ConnectorError", "{ ", " WARN "]
            .iter()
            .any(|d| err.contains(d));
        if *code != 4
            || *secs >= 120.0
            || !err.contains(&endpoint)
            || !(err.contains("timed out") && err.contains("1 s"))
            || debug
        {
            wrong.push(format!("{args:?}: exit {code} after {secs:.1} s: {err}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));

    // Nothing was lost: once the server answers again the pending job
    // completes, and the vault holds what it held.
    s.proxy.speak();
    assert_eq!(s.fake.store().stats().part_bytes_stored, archive_bytes);
    s.ok(&[
        "watch",
        "--vault",
        "v",
        "--catalog",
        "cat.sqlite",
        "--interval",
        "1",
    ]);
    let got = walk_files(&s.path("out"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        std::fs::read(&got[0]).unwrap(),
        std::fs::read(s.path("src/sub/b.bin")).unwrap()
    );
    s.ok(&[
        "sync",
        "--dir",
        "src2",
        "--vault",
        "v",
        "--journal",
        "j2.log",
    ]);
    s.ok(&[&["backup", "run", "b"][..], &bcat].concat());
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
#[allow(clippy::too_many_lines)] // each place the timeout can be set, in turn
fn config_files_set_the_timeout_and_the_command_line_wins() {
    let endpoint = faulty(Fault::Silent);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("src.txt"), b"x").unwrap();
    std::fs::write(
        tmp.path().join("config.toml"),
        "timeout = 3\nkey = \"AKIDTESTKEY\"\nsecret = \"testsecret\"\nregion = \"us-east-1\"\n\n[catalog]\ntimeout = 2\n",
    )
    .unwrap();
    let archive = |extra: &[&str]| {
        let mut args = vec![
            "archive",
            "src.txt",
            "--vault",
            "v",
            "--endpoint-url",
            &endpoint,
            "--catalog",
            "cat.sqlite",
            "--config",
            "config.toml",
        ];
        args.extend_from_slice(extra);
        let out = crate::run(tmp.path(), &args, None);
        (out.status.code(), crate::stderr(&out))
    };
    let (code, err) = archive(&[]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("no answer for 3 s"), "{err}");
    let (code, err) = archive(&["--timeout", "1"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("no answer for 1 s"), "{err}");
    // A command's table wins over the top level.
    let out = crate::run(
        tmp.path(),
        &[
            "catalog",
            "rebuild",
            "--vault",
            "v",
            "--endpoint-url",
            &endpoint,
            "--catalog",
            "rebuilt.sqlite",
            "--config",
            "config.toml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("no answer for 2 s"),
        "{}",
        crate::stderr(&out)
    );
    // `config show` says where it came from.
    let out = crate::run(
        tmp.path(),
        &[
            "config",
            "show",
            "archive",
            "src.txt",
            "--config",
            "config.toml",
        ],
        None,
    );
    let text = crate::stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("timeout"))
        .unwrap_or_default();
    assert!(line.contains('3') && line.contains("config.toml"), "{text}");
    let out = crate::run(
        tmp.path(),
        &[
            "config",
            "show",
            "archive",
            "src.txt",
            "--timeout",
            "9",
            "--config",
            "config.toml",
        ],
        None,
    );
    let text = crate::stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("timeout"))
        .unwrap_or_default();
    assert!(line.contains('9') && line.contains("flag"), "{text}");
    // A value that is not a number of seconds is refused, quoted.
    std::fs::write(tmp.path().join("bad.toml"), "timeout = \"soon\"\n").unwrap();
    let out = crate::run(
        tmp.path(),
        &["archive", "src.txt", "--vault", "v", "--config", "bad.toml"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("soon"),
        "{}",
        crate::stderr(&out)
    );
    // mt-aws-glacier's file takes `timeout=` as well.
    std::fs::write(
        tmp.path().join("glacier.cfg"),
        "key=AKIDTESTKEY\nsecret=testsecret\nregion=us-east-1\ntimeout=1\n",
    )
    .unwrap();
    let out = crate::run(
        tmp.path(),
        &[
            "list-vaults",
            "--config",
            "glacier.cfg",
            "--endpoint-url",
            &endpoint,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("no answer for 1 s"),
        "{}",
        crate::stderr(&out)
    );
}

#[test]
fn a_wait_loop_reports_a_server_that_falls_silent_and_goes_on() {
    let s = Silenced::start(Duration::from_secs(8));
    s.ok(&["create-vault", "v"]);
    s.ok(&["sync", "--dir", "src", "--vault", "v", "--journal", "j.log"]);
    s.ok(&[
        "restore",
        "--dir",
        "r",
        "--vault",
        "v",
        "--journal",
        "j.log",
        "--max-number-of-files",
        "9",
    ]);
    let child = s
        .command(&[
            "restore-completed",
            "--dir",
            "r",
            "--vault",
            "v",
            "--journal",
            "j.log",
            "--wait",
            "--poll-interval",
            "1",
            "--timeout",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    s.proxy.silence();
    std::thread::sleep(Duration::from_secs(8));
    s.proxy.speak();
    let out = child.wait_with_output().unwrap();
    let err = crate::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("waiting for the retrievals of vault \"v\": ")
            && err.contains("timed out")
            && err.contains("(failure 1 of 5 in a row)"),
        "{err}"
    );
    assert_readable(&err);
    for rel in ["a.txt", "sub/b.bin"] {
        assert_eq!(
            std::fs::read(s.path("r").join(rel)).unwrap(),
            std::fs::read(s.path("src").join(rel)).unwrap(),
            "{rel}"
        );
    }
}

#[test]
fn a_download_that_stalls_fails_in_bounded_time_and_resumes_on_rerun() {
    let s = Silenced::start(Duration::ZERO);
    let big: Vec<u8> = (0..(5u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(s.path("src/sub/b.bin"), &big).unwrap();
    s.ok(&["create-vault", "v"]);
    s.ok(&["sync", "--dir", "src", "--vault", "v", "--journal", "j.log"]);
    s.ok(&[
        "restore",
        "--dir",
        "r",
        "--vault",
        "v",
        "--journal",
        "j.log",
        "--max-number-of-files",
        "9",
    ]);
    // 1 MiB segments one at a time: the third segment of the big file
    // stalls half way, on every try.
    let before = s.fake.stats().output_requests;
    s.fake
        .fail_after(2, fake_glacier::Fault::StallBody, Some("GetJobOutput"), 3);
    let restore = [
        "restore-completed",
        "--dir",
        "r",
        "--vault",
        "v",
        "--journal",
        "j.log",
        "--timeout",
        "1",
        "--segment-size",
        "1",
        "--concurrency",
        "1",
    ];
    let (code, err, secs) = s.run(&restore);
    assert_eq!(code, 4, "{err}");
    assert!(secs < 120.0, "took {secs} s: {err}");
    assert!(
        err.contains("sub/b.bin") && err.contains("timed out"),
        "{err}"
    );
    assert_readable(&err);
    assert!(
        !s.path("r/sub/b.bin").exists(),
        "a partial file is never the file"
    );
    let first = s.fake.stats().output_requests - before;
    // The rerun fetches only the segments not yet verified.
    let (code, err, _) = s.run(&restore);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(s.path("r/sub/b.bin")).unwrap(), big);
    assert_eq!(std::fs::read(s.path("r/a.txt")).unwrap(), b"alpha\n");
    let second = s.fake.stats().output_requests - before - first;
    assert!(
        second <= 4,
        "the rerun fetched {second} segments again (first run: {first})"
    );
}

#[test]
fn s3_commands_against_a_server_that_never_answers() {
    let endpoint = faulty(Fault::Silent);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("src")).unwrap();
    std::fs::write(tmp.path().join("src/a.txt"), b"alpha\n").unwrap();
    std::fs::write(
        tmp.path().join("s3.cfg"),
        "key=AKIDTESTKEY\nsecret=testsecret\nregion=us-east-1\n",
    )
    .unwrap();
    let mt = [
        "--config",
        "s3.cfg",
        "--endpoint-url",
        &endpoint,
        "--timeout",
        "1",
    ];
    let cases: Vec<Vec<&str>> = vec![
        vec!["list-vaults", "--store", "s3://bucket"],
        vec!["create-vault", "s3://bucket/v"],
        vec![
            "sync",
            "--dir",
            "src",
            "--vault",
            "s3://bucket/v?class=DEEP_ARCHIVE",
            "--journal",
            "j.log",
        ],
        vec!["retrieve-inventory", "--vault", "s3://bucket/v"],
    ];
    let mut wrong = Vec::new();
    for args in &cases {
        let full = [&args[..], &mt].concat();
        let started = Instant::now();
        let out = crate::run(tmp.path(), &full, None);
        let secs = started.elapsed().as_secs_f64();
        let err = crate::stderr(&out);
        if out.status.code() != Some(4)
            || secs >= 120.0
            || !err.contains(&endpoint)
            || !err.contains("bucket")
            || !(err.contains("timed out") && err.contains("1 s"))
            || ["DispatchFailure", "Some(", "ConnectorError", "{ ", " WARN "]
                .iter()
                .any(|d| err.contains(d))
        {
            wrong.push(format!(
                "{args:?}: exit {:?} after {secs:.1} s: {err}",
                out.status.code()
            ));
        }
    }
    // The archive flow, with config.toml's credentials.
    std::fs::write(
        tmp.path().join("config.toml"),
        "key = \"AKIDTESTKEY\"\nsecret = \"testsecret\"\nregion = \"us-east-1\"\ntimeout = 1\n",
    )
    .unwrap();
    let out = crate::run(
        tmp.path(),
        &[
            "archive",
            "src",
            "--vault",
            "s3://bucket/v",
            "--endpoint-url",
            &endpoint,
            "--catalog",
            "cat.sqlite",
            "--config",
            "config.toml",
        ],
        None,
    );
    let err = crate::stderr(&out);
    if out.status.code() != Some(4) || !err.contains(&endpoint) || !err.contains("timed out") {
        wrong.push(format!("archive: exit {:?}: {err}", out.status.code()));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
    assert!(
        !tmp.path().join("j.log").exists()
            || std::fs::read(tmp.path().join("j.log")).unwrap().is_empty()
    );
}
