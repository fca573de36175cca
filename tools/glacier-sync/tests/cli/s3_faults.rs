//! Faults of an S3 location through the binary: a missing bucket, an
//! endpoint nobody listens on, an unknown access key and denied access (the
//! authenticating moto of `scripts/services/moto`), and a bucket in another
//! region (a stand-in server answering what S3 answers then, since moto
//! does not check regions). Each exits 4 with one message naming the bucket
//! and the endpoint, and records nothing as stored in the journal or the
//! catalog. The wording is the error module's; the tests assert the exit
//! code and the names only.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use glacier_multipart::ArchiveStore as _;

use crate::mt::VAULT;
use crate::s3::endpoint;
use crate::{run, stderr};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the authenticating S3 test server; \
             run `eval \"$(scripts/services/moto start)\"` first (scripts/test does)"
        )
    })
}

/// A port nobody listens on (bound, then closed).
fn closed_port() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// What S3 answers for a bucket of another region than the request's: 301
/// `PermanentRedirect` with the bucket's region, to every request.
fn wrong_region_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || answer_301(conn));
        }
    });
    format!("http://{addr}")
}

fn answer_301(conn: TcpStream) {
    let mut reader = BufReader::new(conn);
    loop {
        // One request: the request line, headers, then the body (read and
        // dropped, so the client sees our answer and not a reset).
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let head = line.starts_with("HEAD ");
        let mut length = 0u64;
        let mut chunked = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if h == "\r\n" {
                break;
            }
        }
        if chunked {
            // Not sent by the store's first requests; close instead.
            return;
        }
        let _ = std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink());
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code>\
            <Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message>\
            <Endpoint>s3.eu-west-1.amazonaws.com</Endpoint><Bucket>gs-elsewhere</Bucket></Error>";
        let answer = format!(
            "HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: eu-west-1\r\n\
             Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            if head { "" } else { body }
        );
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// One fault: where, with which credentials.
struct Case {
    what: &'static str,
    bucket: String,
    endpoint: String,
    key: String,
    secret: String,
}

fn cases() -> Vec<Case> {
    let auth = var("PERMAFROST_S3_AUTH_ENDPOINT");
    let auth_bucket = var("PERMAFROST_S3_AUTH_BUCKET");
    vec![
        Case {
            what: "missing bucket",
            bucket: "gs-no-such-bucket".into(),
            endpoint: endpoint(),
            key: "testing".into(),
            secret: "testing".into(),
        },
        Case {
            what: "unreachable endpoint",
            bucket: "gs-any".into(),
            endpoint: closed_port(),
            key: "testing".into(),
            secret: "testing".into(),
        },
        Case {
            what: "unknown access key",
            bucket: auth_bucket.clone(),
            endpoint: auth.clone(),
            key: "AKIANOSUCHKEY0000000".into(),
            secret: "no-such-secret".into(),
        },
        Case {
            what: "access denied",
            bucket: auth_bucket,
            endpoint: auth,
            key: var("PERMAFROST_S3_DENIED_KEY"),
            secret: var("PERMAFROST_S3_DENIED_SECRET"),
        },
        Case {
            what: "wrong region",
            bucket: "gs-elsewhere".into(),
            endpoint: wrong_region_server(),
            key: "testing".into(),
            secret: "testing".into(),
        },
    ]
}

fn setup(dir: &Path, case: &Case) -> String {
    std::fs::create_dir_all(dir.join("src/sub")).unwrap();
    std::fs::write(dir.join("src/a.txt"), b"a").unwrap();
    std::fs::write(dir.join("src/sub/b.txt"), b"bb").unwrap();
    let cfg = dir.join("s3.cfg");
    std::fs::write(
        &cfg,
        format!(
            "key={}\nsecret={}\nregion=us-east-1\n",
            case.key, case.secret
        ),
    )
    .unwrap();
    cfg.display().to_string()
}

fn assert_fault(case: &Case, command: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}: {command}: {err}",
        case.what
    );
    assert!(
        err.contains(&case.bucket) && err.contains(&case.endpoint),
        "{}: {command} does not name bucket {} and endpoint {}: {err}",
        case.what,
        case.bucket,
        case.endpoint
    );
    // One message, not a cascade.
    let errors = err.lines().filter(|l| l.contains("error")).count();
    assert!(errors <= 1, "{}: {command}: {err}", case.what);
}

#[test]
fn s3_faults_exit_4_naming_bucket_and_endpoint_and_store_nothing() {
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let cfg = setup(dir, &case);
        let store = format!("s3://{}/site?class=DEEP_ARCHIVE", case.bucket);
        let common = [
            "--store",
            &store,
            "--endpoint-url",
            &case.endpoint,
            "--config",
            &cfg,
        ];

        // mt-aws-glacier sync: the journal records nothing as created.
        let mut args = vec![
            "sync",
            "--dir",
            "src",
            "--vault",
            VAULT,
            "--journal",
            "j.log",
        ];
        args.extend(common);
        let out = run(dir, &args, None);
        assert_fault(&case, "sync", &out);
        let journal = std::fs::read_to_string(dir.join("j.log")).unwrap_or_default();
        assert!(
            !journal.contains("CREATED"),
            "{}: sync recorded {journal}",
            case.what
        );

        // archive: the catalog holds no stored archive.
        let mut args = vec![
            "archive",
            "src",
            "--vault",
            VAULT,
            "--catalog",
            "cat.sqlite",
        ];
        args.extend(common);
        let out = run(dir, &args, None);
        assert_fault(&case, "archive", &out);
        if dir.join("cat.sqlite").exists() {
            let c = catalog::Catalog::open(dir.join("cat.sqlite")).unwrap();
            for r in c.runs().unwrap() {
                for a in c.archives_of_run(r.id).unwrap() {
                    assert_ne!(
                        a.info.state,
                        catalog::ArchiveState::Stored,
                        "{}: archive recorded {a:?}",
                        case.what
                    );
                }
            }
        }

        // upload-file, list-vaults, create-vault: the same answer.
        let mut args = vec![
            "upload-file",
            "--vault",
            VAULT,
            "--journal",
            "u.log",
            "--dir",
            "src",
            "--filename",
            "src/a.txt",
        ];
        args.extend(common);
        assert_fault(&case, "upload-file", &run(dir, &args, None));
        let journal = std::fs::read_to_string(dir.join("u.log")).unwrap_or_default();
        assert!(!journal.contains("CREATED"), "{}: {journal}", case.what);
        let root = format!("s3://{}", case.bucket);
        let args = [
            "list-vaults",
            "--store",
            &root,
            "--endpoint-url",
            &case.endpoint,
            "--config",
            &cfg,
        ];
        assert_fault(&case, "list-vaults", &run(dir, &args, None));
        let spec = format!("s3://{}/site/{VAULT}", case.bucket);
        let args = [
            "create-vault",
            &spec,
            "--endpoint-url",
            &case.endpoint,
            "--config",
            &cfg,
        ];
        assert_fault(&case, "create-vault", &run(dir, &args, None));
    }
}

/// The allowed user of the same server gets through: the denials above are
/// the server's authorization, not a request the tool gets wrong.
#[test]
fn the_allowed_user_of_the_authenticating_server_can_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bucket = var("PERMAFROST_S3_AUTH_BUCKET");
    let case = Case {
        what: "allowed",
        bucket: bucket.clone(),
        endpoint: var("PERMAFROST_S3_AUTH_ENDPOINT"),
        key: var("PERMAFROST_S3_AUTH_KEY"),
        secret: var("PERMAFROST_S3_AUTH_SECRET"),
    };
    let cfg = setup(dir, &case);
    // A prefix of its own: tests share the bucket.
    let prefix = format!("allowed-{}", std::process::id());
    let store = format!("s3://{bucket}/{prefix}?class=DEEP_ARCHIVE");
    let spec = format!("s3://{bucket}/{prefix}/{VAULT}?class=DEEP_ARCHIVE");
    let common = ["--endpoint-url", &case.endpoint, "--config", &cfg];
    let mut args = vec!["create-vault", &spec];
    args.extend(common);
    crate::mt::ok(&run(dir, &args, None));
    let mut args = vec![
        "sync",
        "--dir",
        "src",
        "--vault",
        VAULT,
        "--journal",
        "j.log",
        "--store",
        &store,
    ];
    args.extend(common);
    crate::mt::ok(&run(dir, &args, None));
    let journal = std::fs::read_to_string(dir.join("j.log")).unwrap();
    assert_eq!(journal.matches("CREATED").count(), 2, "{journal}");
}

/// Deterministic bytes that do not compress.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The server goes away in the middle of a multipart upload (a proxy in
/// front of moto cuts every connection and refuses new ones; moto itself
/// would lose its state), the sync is killed while it retries, the server
/// comes back: the rerun sends only the parts S3 does not have, and the
/// object is complete and verified.
#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn a_server_gone_mid_upload_and_back_lets_a_rerun_resume() {
    const MIB: usize = 1 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bucket = crate::s3::fresh_bucket();
    let moto = endpoint();
    let proxy = crate::proxy::Proxy::start(moto.trim_start_matches("http://"));
    let case = Case {
        what: "server gone",
        bucket: bucket.clone(),
        endpoint: proxy.endpoint(),
        key: "testing".into(),
        secret: "testing".into(),
    };
    let cfg = setup(dir, &case);
    let big = noise(7, 40 * MIB + 12_345);
    std::fs::write(dir.join("src/big.bin"), &big).unwrap();
    let location = format!("s3://{bucket}/site?class=GLACIER_IR");
    let ep = proxy.endpoint();
    let spec = format!("s3://{bucket}/site/{VAULT}?class=GLACIER_IR");
    crate::mt::ok(&run(
        dir,
        &[
            "create-vault",
            &spec,
            "--endpoint-url",
            &ep,
            "--config",
            &cfg,
        ],
        None,
    ));
    let args = [
        "sync",
        "--dir",
        "src",
        "--vault",
        VAULT,
        "--journal",
        "j.log",
        "--partsize",
        "8",
        "--concurrency",
        "1",
        "--store",
        &location,
        "--endpoint-url",
        &ep,
        "--config",
        &cfg,
    ];
    // Gone after 20 MiB: two parts of 8 MiB stored, the third cut.
    proxy.cut_after(20 * MIB as u64);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join(".no-config"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !proxy.is_down() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(120),
            "the upload never got to 20 MiB"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before the server went away"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // It retries against a dead port; the operator gives up on it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sync gave up at once"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let journal = std::fs::read_to_string(dir.join("j.log")).unwrap_or_default();
    assert!(!journal.contains("big.bin"), "{journal}");
    // What S3 holds: an unfinished upload (asked of moto directly).
    let store = crate::s3::store(&location);
    assert_eq!(store.list_multipart_uploads(VAULT).unwrap().len(), 1);

    // The server is back; the rerun resumes.
    proxy.restart();
    crate::mt::ok(&run(dir, &args, None));
    let sent = proxy.sent();
    assert!(
        sent < (big.len() - 16 * MIB + MIB) as u64,
        "the rerun sent {sent} bytes of a {} byte file: the stored parts again",
        big.len()
    );
    assert!(sent > (big.len() - 24 * MIB) as u64, "{sent}");
    assert!(store.list_multipart_uploads(VAULT).unwrap().is_empty());
    let state = journal::read_journal(dir.join("j.log"), journal::ReadOptions::default())
        .unwrap()
        .state;
    assert_eq!(state.archive_count(), 3, "a.txt, sub/b.txt, big.bin");
    assert_eq!(store.describe_vault(VAULT).unwrap().archives, 3);
    let archive = state.latest("big.bin").unwrap();
    assert_eq!(archive.size, big.len() as u64);
    assert_eq!(archive.treehash, glacier_treehash::tree_hash(&big));
    // Complete and verified: the store checks every byte it returns.
    let job = store
        .initiate_job(
            VAULT,
            &glacier_multipart::JobRequest::archive(archive.archive_id.as_str()),
        )
        .unwrap();
    let out = store.get_job_output(VAULT, &job, None).unwrap();
    assert!(out.data == big, "the object differs from the file");
}
