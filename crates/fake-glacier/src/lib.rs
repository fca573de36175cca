//! A fake of the Amazon Glacier vault API, over HTTP on 127.0.0.1, for
//! tests that drive the real `aws-sdk-glacier` client end to end.
//!
//! moto cannot stand in for Glacier (no multipart, no tree-hash checks, no
//! ranges), so this crate serves the REST API itself, on top of
//! [`glacier_multipart::MemoryStore`], which enforces Glacier's rules: part
//! alignment and sizes, the tree hash of every part and of the whole
//! archive, megabyte-aligned retrievals, ranged job output with the range's
//! tree hash. On the HTTP side it checks what a real endpoint checks first:
//! the `SigV4` signature of every request (verified for real, with the
//! secret key of the access key: a wrong one is refused with 403
//! `InvalidSignatureException`), `x-amz-date`, the
//! `x-amz-glacier-version` header, the `x-amz-content-sha256` of every body,
//! `Content-Range` on parts, and answers ranged reads with 206. Jobs can be
//! delayed, and the next requests of a kind can be made to fail with a 500,
//! be throttled, go unanswered, or stall half way through their body.
//!
//! ```no_run
//! let fake = fake_glacier::FakeGlacier::start(&fake_glacier::FakeOptions::default())?;
//! let endpoint = fake.endpoint(); // http://127.0.0.1:PORT
//! fake.fail_next(fake_glacier::Fault::Throttle, Some("UploadMultipartPart"), 2);
//! # Ok::<(), std::io::Error>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// The store's error type is large; it only travels on error paths here.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use glacier_multipart::{
    ArchiveStore, Error, InventoryFormat, JobInfo, JobRequest, JobStatus, MemoryStore, Tier,
};
use glacier_treehash::TreeHash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tiny_http::{Header, Method, Request, Response, Server};

mod sigv4;

/// How the fake behaves.
#[derive(Debug, Clone, Default)]
pub struct FakeOptions {
    /// How long jobs take before they succeed.
    pub job_delay: Duration,
    /// The credentials accepted, as (access key id, secret access key);
    /// empty: any access key id, whose requests must be signed with
    /// [`DEFAULT_SECRET`]. A request signed with another key id is refused
    /// with 403 `UnrecognizedClientException`, as AWS refuses unknown or
    /// revoked credentials; one whose signature is not that of its key's
    /// secret with 403 `InvalidSignatureException`.
    pub credentials: Vec<(String, String)>,
}

/// The secret key every access key id has when [`FakeOptions::credentials`]
/// is empty.
pub const DEFAULT_SECRET: &str = "secret";

/// A failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 `ServiceUnavailableException`.
    ServerError,
    /// HTTP 400 `ThrottlingException`.
    Throttle,
    /// No answer at all: the request is read and the connection held open
    /// in silence (for ten minutes), as by a hung server or a black hole.
    Silent,
    /// The real answer's status and headers, then the first half of its
    /// body, then nothing (the connection held open for ten minutes).
    StallBody,
}

/// How long a [`Fault::Silent`] or [`Fault::StallBody`] connection is
/// held open.
const HOLD: Duration = Duration::from_secs(600);

/// A running fake Glacier endpoint; stopped when dropped.
pub struct FakeGlacier {
    addr: SocketAddr,
    server: Arc<Server>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    store: Arc<MemoryStore>,
    credentials: Vec<(String, String)>,
    faults: Mutex<Vec<FaultRule>>,
    requests: AtomicU64,
    part_requests: AtomicU64,
    part_bytes: AtomicU64,
    output_requests: AtomicU64,
}

/// A fault to inject into the requests of an operation (any if `None`).
#[derive(Debug)]
struct FaultRule {
    fault: Fault,
    operation: Option<String>,
    /// Matching requests to let through first.
    skip: u32,
    /// Matching requests to fail after those.
    times: u32,
}

/// What the fake has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeStats {
    /// HTTP requests of any kind.
    pub requests: u64,
    /// `UploadMultipartPart` requests (failed ones included).
    pub part_requests: u64,
    /// Body bytes of those requests.
    pub part_bytes: u64,
    /// `GetJobOutput` requests.
    pub output_requests: u64,
}

impl FakeGlacier {
    /// Starts a fake on a free port of 127.0.0.1, served by four threads.
    pub fn start(options: &FakeOptions) -> std::io::Result<FakeGlacier> {
        let server = Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("the server has no IP address"))?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            store: Arc::new(MemoryStore::new().with_job_delay(options.job_delay)),
            credentials: options.credentials.clone(),
            faults: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            part_requests: AtomicU64::new(0),
            part_bytes: AtomicU64::new(0),
            output_requests: AtomicU64::new(0),
        });
        let threads = (0..4)
            .map(|_| {
                let server = Arc::clone(&server);
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        shared.handle(request);
                    }
                })
            })
            .collect();
        Ok(FakeGlacier {
            addr,
            server,
            shared,
            threads,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store behind the HTTP API: for its counters and its own faults
    /// (`corrupt_output`, `fail_part`).
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.shared.store
    }

    /// Makes the next `times` requests of `operation` (an AWS operation
    /// name such as `UploadMultipartPart`; any if `None`) fail with `fault`.
    pub fn fail_next(&self, fault: Fault, operation: Option<&str>, times: u32) {
        self.fail_after(0, fault, operation, times);
    }

    /// Lets the next `skip` requests of `operation` through, then makes
    /// the `times` after them fail with `fault`.
    pub fn fail_after(&self, skip: u32, fault: Fault, operation: Option<&str>, times: u32) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(FaultRule {
                fault,
                operation: operation.map(str::to_owned),
                skip,
                times,
            });
    }

    /// What the fake has seen so far.
    pub fn stats(&self) -> FakeStats {
        let s = &self.shared;
        FakeStats {
            requests: s.requests.load(Ordering::SeqCst),
            part_requests: s.part_requests.load(Ordering::SeqCst),
            part_bytes: s.part_bytes.load(Ordering::SeqCst),
            output_requests: s.output_requests.load(Ordering::SeqCst),
        }
    }
}

impl std::fmt::Debug for FakeGlacier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGlacier")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeGlacier {
    fn drop(&mut self) {
        for _ in &self.threads {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// An HTTP answer before it becomes a `tiny_http` response.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Delivered badly ([`Fault::Silent`], [`Fault::StallBody`]).
    fault: Option<Fault>,
}

impl Answer {
    fn json(status: u16, v: &Value) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
            fault: None,
        }
    }

    fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            fault: None,
        }
    }

    fn header(mut self, k: &str, v: impl Into<String>) -> Answer {
        self.headers.push((k.to_owned(), v.into()));
        self
    }

    fn error(status: u16, code: &str, message: &str) -> Answer {
        let kind = if status >= 500 { "Server" } else { "Client" };
        Answer::json(
            status,
            &json!({"code": code, "message": message, "type": kind}),
        )
        .header("x-amzn-ErrorType", code)
    }
}

fn answer_for(err: &Error) -> Answer {
    let msg = err.to_string();
    match err {
        Error::VaultNotFound { .. }
        | Error::UploadNotFound { .. }
        | Error::ArchiveNotFound { .. }
        | Error::JobNotFound { .. } => Answer::error(404, "ResourceNotFoundException", &msg),
        Error::PartChecksumMismatch {
            expected, actual, ..
        }
        | Error::ArchiveChecksumMismatch {
            expected, actual, ..
        } => Answer::error(
            400,
            "InvalidParameterValueException",
            &format!("Checksum mismatch: expected {expected} but was {actual}"),
        ),
        Error::VaultNotEmpty { .. } => Answer::error(
            400,
            "InvalidParameterValueException",
            &format!("Vault not empty or recently written to: {msg}"),
        ),
        Error::JobNotReady { .. } => Answer::error(
            400,
            "InvalidParameterValueException",
            &format!("The job is not currently available for download: {msg}"),
        ),
        Error::Throttled { .. } => Answer::error(400, "ThrottlingException", &msg),
        Error::Server { .. } | Error::Connection { .. } | Error::Timeout { .. } => {
            Answer::error(500, "ServiceUnavailableException", &msg)
        }
        _ => Answer::error(400, "InvalidParameterValueException", &msg),
    }
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data).iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// `"S-E"` (inclusive) to `S..E+1`.
fn inclusive(s: &str) -> Option<Range<u64>> {
    let (a, b) = s.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = b.trim().parse().ok()?;
    (b >= a).then_some(a..b + 1)
}

fn time(t: std::time::SystemTime) -> String {
    // The same form AWS uses: 2012-05-15T17:19:46.700Z.
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// A body that gives its bytes up to `stop`, then blocks for [`HOLD`].
struct Stalling {
    body: Vec<u8>,
    at: usize,
    stop: usize,
}

impl std::io::Read for Stalling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.stop {
            std::thread::sleep(HOLD);
            return Err(std::io::Error::other("stalled (injected)"));
        }
        let n = buf.len().min(self.stop - self.at);
        buf[..n].copy_from_slice(&self.body[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Shared {
    fn handle(&self, mut req: Request) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mut body = Vec::new();
        let answer = match req.as_reader().read_to_end(&mut body) {
            Ok(_) => self.route(&req, &body),
            Err(e) => Answer::error(
                400,
                "RequestTimeoutException",
                &format!("reading body: {e}"),
            ),
        };
        let headers: Vec<Header> = answer
            .headers
            .iter()
            .filter_map(|(k, v)| Header::from_bytes(k.as_bytes(), v.as_bytes()).ok())
            .collect();
        match answer.fault {
            Some(Fault::Silent) => {
                // Held by a thread of its own, so the workers go on.
                std::thread::spawn(move || {
                    std::thread::sleep(HOLD);
                    drop(req);
                });
            }
            Some(Fault::StallBody) => {
                let len = answer.body.len();
                let reader = Stalling {
                    body: answer.body,
                    at: 0,
                    stop: len / 2,
                };
                let response =
                    Response::new(answer.status.into(), headers, reader, Some(len), None);
                std::thread::spawn(move || {
                    let _ = req.respond(response);
                });
            }
            _ => {
                let mut response = Response::from_data(answer.body).with_status_code(answer.status);
                for h in headers {
                    response.add_header(h);
                }
                let _ = req.respond(response);
            }
        }
    }

    fn take_fault(&self, operation: &str) -> Option<Fault> {
        let mut faults = self
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let hit = faults
            .iter_mut()
            .find(|r| r.times > 0 && r.operation.as_deref().is_none_or(|o| o == operation))?;
        if hit.skip > 0 {
            hit.skip -= 1;
            return None;
        }
        hit.times -= 1;
        Some(hit.fault)
    }

    /// The checks a real endpoint makes before looking at the operation.
    fn check_request(&self, req: &Request, body: &[u8]) -> Result<(), Answer> {
        let missing = || {
            Answer::error(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token: a SigV4 Authorization header and x-amz-date are required",
            )
        };
        let (Some(auth), Some(amz_date)) = (
            header(req, "Authorization").and_then(sigv4::parse_authorization),
            header(req, "x-amz-date"),
        ) else {
            return Err(missing());
        };
        let secret = if self.credentials.is_empty() {
            DEFAULT_SECRET
        } else if let Some((_, secret)) =
            self.credentials.iter().find(|(k, _)| *k == auth.access_key)
        {
            secret.as_str()
        } else {
            return Err(Answer::error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        };
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_owned(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect();
        let body_hash = hex_sha256(body);
        let url = req.url();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let method = req.method().as_str().to_owned();
        let signed = sigv4::Request {
            method: &method,
            path,
            query,
            headers: &headers,
            payload_hash: header(req, "x-amz-content-sha256").unwrap_or(&body_hash),
        };
        if !amz_date.starts_with(&auth.date)
            || auth.service != "glacier"
            || !sigv4::verify(secret, &auth, amz_date, &signed)
        {
            return Err(Answer::error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        if header(req, "x-amz-glacier-version") != Some("2012-06-01") {
            return Err(Answer::error(
                400,
                "MissingParameterValueException",
                "Required header x-amz-glacier-version: 2012-06-01 is missing",
            ));
        }
        if let Some(declared) = header(req, "x-amz-content-sha256")
            && declared != "UNSIGNED-PAYLOAD"
        {
            let actual = hex_sha256(body);
            if !declared.eq_ignore_ascii_case(&actual) {
                return Err(Answer::error(
                    400,
                    "InvalidSignatureException",
                    "x-amz-content-sha256 does not match the body",
                ));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)] // one match over the API's routes
    fn route(&self, req: &Request, body: &[u8]) -> Answer {
        if let Err(a) = self.check_request(req, body) {
            return a;
        }
        let url = req.url().to_owned();
        let path = url.split('?').next().unwrap_or("");
        let seg: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = req.method().clone();
        // /ACCOUNT/vaults/...
        if seg.len() < 2 || seg[1] != "vaults" {
            return Answer::error(
                400,
                "InvalidParameterValueException",
                &format!("unknown path {path}"),
            );
        }
        let rest = &seg[2..];
        let operation = match (&method, rest) {
            (Method::Get, []) => "ListVaults",
            (Method::Put, [_]) => "CreateVault",
            (Method::Get, [_]) => "DescribeVault",
            (Method::Delete, [_]) => "DeleteVault",
            (Method::Post, [_, "archives"]) => "UploadArchive",
            (Method::Delete, [_, "archives", _]) => "DeleteArchive",
            (Method::Post, [_, "multipart-uploads"]) => "InitiateMultipartUpload",
            (Method::Get, [_, "multipart-uploads"]) => "ListMultipartUploads",
            (Method::Put, [_, "multipart-uploads", _]) => "UploadMultipartPart",
            (Method::Get, [_, "multipart-uploads", _]) => "ListParts",
            (Method::Post, [_, "multipart-uploads", _]) => "CompleteMultipartUpload",
            (Method::Delete, [_, "multipart-uploads", _]) => "AbortMultipartUpload",
            (Method::Post, [_, "jobs"]) => "InitiateJob",
            (Method::Get, [_, "jobs"]) => "ListJobs",
            (Method::Get, [_, "jobs", _]) => "DescribeJob",
            (Method::Get, [_, "jobs", _, "output"]) => "GetJobOutput",
            _ => {
                return Answer::error(
                    400,
                    "InvalidParameterValueException",
                    &format!("unsupported {method} {path}"),
                );
            }
        };
        if matches!(operation, "UploadMultipartPart" | "UploadArchive")
            && header(req, "x-amz-content-sha256").is_none()
        {
            return Answer::error(
                400,
                "MissingParameterValueException",
                "Required header x-amz-content-sha256 is missing",
            );
        }
        if operation == "UploadMultipartPart" {
            self.part_requests.fetch_add(1, Ordering::SeqCst);
            self.part_bytes
                .fetch_add(body.len() as u64, Ordering::SeqCst);
        }
        if operation == "GetJobOutput" {
            self.output_requests.fetch_add(1, Ordering::SeqCst);
        }
        let fault = self.take_fault(operation);
        match fault {
            Some(Fault::ServerError) => {
                return Answer::error(500, "ServiceUnavailableException", "injected server error");
            }
            Some(Fault::Throttle) => {
                return Answer::error(400, "ThrottlingException", "Rate exceeded (injected)");
            }
            Some(Fault::Silent) => {
                return Answer {
                    fault: Some(Fault::Silent),
                    ..Answer::empty(200)
                };
            }
            Some(Fault::StallBody) | None => {}
        }
        let vault = rest.first().copied().unwrap_or("");
        let account = seg[0];
        let arn = format!("arn:aws:glacier:us-east-1:{account}:vaults/{vault}");
        let mut answer = match self.operation(operation, req, rest, vault, &arn, body) {
            Ok(a) => a,
            Err(e) => answer_for(&e),
        };
        answer.fault = fault;
        answer
    }

    #[allow(clippy::too_many_lines)]
    fn operation(
        &self,
        operation: &str,
        req: &Request,
        rest: &[&str],
        vault: &str,
        arn: &str,
        body: &[u8],
    ) -> Result<Answer, Error> {
        let s = &*self.store;
        let missing = |what: &str| Error::Rejected {
            operation: "fake",
            vault: vault.to_owned(),
            message: format!("missing or bad {what}"),
        };
        let tree_hash_header = |name: &str| -> Result<TreeHash, Error> {
            header(req, name)
                .and_then(|h| TreeHash::from_hex(h).ok())
                .ok_or_else(|| missing(name))
        };
        Ok(match operation {
            "ListVaults" => {
                let list: Vec<Value> = s
                    .list_vaults()?
                    .into_iter()
                    .map(|v| {
                        json!({"VaultName": v.name, "VaultARN": format!("{arn}{}", v.name), "CreationDate": time(v.created),
                               "NumberOfArchives": v.archives, "SizeInBytes": v.size})
                    })
                    .collect();
                Answer::json(200, &json!({"VaultList": list, "Marker": null}))
            }
            "CreateVault" => {
                s.create_vault(vault)?;
                Answer::empty(201).header("Location", format!("/-/vaults/{vault}"))
            }
            "DescribeVault" => {
                let v = s.describe_vault(vault)?;
                Answer::json(
                    200,
                    &json!({"VaultName": v.name, "VaultARN": arn, "CreationDate": time(v.created),
                            "NumberOfArchives": v.archives, "SizeInBytes": v.size}),
                )
            }
            "DeleteVault" => {
                s.delete_vault(vault)?;
                Answer::empty(204)
            }
            "UploadArchive" => {
                let hash = tree_hash_header("x-amz-sha256-tree-hash")?;
                let desc = header(req, "x-amz-archive-description").unwrap_or("");
                let a = s.upload_archive(vault, desc, body, hash)?;
                Answer::empty(201)
                    .header(
                        "Location",
                        format!("/-/vaults/{vault}/archives/{}", a.archive_id),
                    )
                    .header("x-amz-archive-id", a.archive_id)
                    .header("x-amz-sha256-tree-hash", a.tree_hash.to_hex())
            }
            "DeleteArchive" => {
                s.delete_archive(vault, rest[2])?;
                Answer::empty(204)
            }
            "InitiateMultipartUpload" => {
                let part_size: u64 = header(req, "x-amz-part-size")
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| missing("x-amz-part-size"))?;
                let desc = header(req, "x-amz-archive-description").unwrap_or("");
                let id = s.initiate_multipart_upload(vault, desc, part_size)?;
                Answer::empty(201)
                    .header(
                        "Location",
                        format!("/-/vaults/{vault}/multipart-uploads/{id}"),
                    )
                    .header("x-amz-multipart-upload-id", id)
            }
            "ListMultipartUploads" => {
                let list: Vec<Value> = s
                    .list_multipart_uploads(vault)?
                    .into_iter()
                    .map(|u| {
                        json!({"MultipartUploadId": u.upload_id, "VaultARN": arn, "ArchiveDescription": u.description,
                               "PartSizeInBytes": u.part_size, "CreationDate": time(u.created)})
                    })
                    .collect();
                Answer::json(200, &json!({"UploadsList": list, "Marker": null}))
            }
            "UploadMultipartPart" => {
                let hash = tree_hash_header("x-amz-sha256-tree-hash")?;
                // Content-Range: bytes START-END/*
                let range = header(req, "Content-Range")
                    .and_then(|v| v.trim().strip_prefix("bytes "))
                    .and_then(|v| v.strip_suffix("/*"))
                    .and_then(inclusive)
                    .ok_or_else(|| missing("Content-Range (bytes START-END/*)"))?;
                s.upload_part(vault, rest[2], range, hash, body)?;
                Answer::empty(204).header("x-amz-sha256-tree-hash", hash.to_hex())
            }
            "ListParts" => {
                let p = s.list_parts(vault, rest[2])?;
                let parts: Vec<Value> = p
                    .parts
                    .iter()
                    .map(|x| {
                        json!({"RangeInBytes": format!("{}-{}", x.range.start, x.range.end - 1),
                               "SHA256TreeHash": x.tree_hash.map(|h| h.to_hex())})
                    })
                    .collect();
                Answer::json(
                    200,
                    &json!({"MultipartUploadId": p.upload.upload_id, "VaultARN": arn,
                            "ArchiveDescription": p.upload.description, "PartSizeInBytes": p.upload.part_size,
                            "CreationDate": time(p.upload.created), "Parts": parts, "Marker": null}),
                )
            }
            "CompleteMultipartUpload" => {
                let hash = tree_hash_header("x-amz-sha256-tree-hash")?;
                let size: u64 = header(req, "x-amz-archive-size")
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| missing("x-amz-archive-size"))?;
                let a = s.complete_multipart_upload(vault, rest[2], size, hash)?;
                Answer::empty(201)
                    .header(
                        "Location",
                        format!("/-/vaults/{vault}/archives/{}", a.archive_id),
                    )
                    .header("x-amz-archive-id", a.archive_id)
                    .header("x-amz-sha256-tree-hash", a.tree_hash.to_hex())
            }
            "AbortMultipartUpload" => {
                s.abort_multipart_upload(vault, rest[2])?;
                Answer::empty(204)
            }
            "InitiateJob" => {
                let p: Value =
                    serde_json::from_slice(body).map_err(|_| missing("job parameters"))?;
                let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
                let request = match text("Type").as_deref() {
                    Some("archive-retrieval") => JobRequest::ArchiveRetrieval {
                        archive_id: text("ArchiveId").ok_or_else(|| missing("ArchiveId"))?,
                        tier: match text("Tier").as_deref() {
                            Some("Expedited") => Tier::Expedited,
                            Some("Bulk") => Tier::Bulk,
                            _ => Tier::Standard,
                        },
                        range: match text("RetrievalByteRange") {
                            Some(r) => {
                                Some(inclusive(&r).ok_or_else(|| missing("RetrievalByteRange"))?)
                            }
                            None => None,
                        },
                        description: text("Description"),
                    },
                    Some("inventory-retrieval") => JobRequest::InventoryRetrieval {
                        format: if text("Format").as_deref() == Some("CSV") {
                            InventoryFormat::Csv
                        } else {
                            InventoryFormat::Json
                        },
                        description: text("Description"),
                    },
                    _ => return Err(missing("Type")),
                };
                let id = s.initiate_job(vault, &request)?;
                Answer::empty(202)
                    .header("Location", format!("/-/vaults/{vault}/jobs/{id}"))
                    .header("x-amz-job-id", id)
            }
            "ListJobs" => {
                let list: Vec<Value> = s
                    .list_jobs(vault)?
                    .iter()
                    .map(|j| job_json(j, arn))
                    .collect();
                Answer::json(200, &json!({"JobList": list, "Marker": null}))
            }
            "DescribeJob" => Answer::json(200, &job_json(&s.describe_job(vault, rest[2])?, arn)),
            "GetJobOutput" => {
                let job = s.describe_job(vault, rest[2])?;
                let range = match header(req, "Range") {
                    Some(r) => Some(
                        r.trim()
                            .strip_prefix("bytes=")
                            .and_then(inclusive)
                            .ok_or_else(|| missing("Range (bytes=START-END)"))?,
                    ),
                    None => None,
                };
                let out = s.get_job_output(vault, rest[2], range.clone())?;
                let inventory = matches!(job.request, JobRequest::InventoryRetrieval { .. });
                let content_type = match job.request {
                    JobRequest::InventoryRetrieval {
                        format: InventoryFormat::Csv,
                        ..
                    } => "text/csv",
                    JobRequest::InventoryRetrieval { .. } => "application/json",
                    _ => "application/octet-stream",
                };
                let status = if range.is_some() { 206 } else { 200 };
                let mut a = Answer {
                    status,
                    headers: vec![
                        ("Content-Type".into(), content_type.into()),
                        ("Accept-Ranges".into(), "bytes".into()),
                    ],
                    body: out.data,
                    fault: None,
                };
                if range.is_some() {
                    a = a.header(
                        "Content-Range",
                        format!(
                            "bytes {}-{}/{}",
                            out.range.start,
                            out.range.end - 1,
                            out.total_size
                        ),
                    );
                }
                if let (Some(h), false) = (out.tree_hash, inventory) {
                    a = a.header("x-amz-sha256-tree-hash", h.to_hex());
                }
                a
            }
            _ => unreachable!("routed above"),
        })
    }
}

fn job_json(j: &JobInfo, arn: &str) -> Value {
    let done = j.status == JobStatus::Succeeded;
    let mut v = json!({
        "JobId": j.job_id,
        "VaultARN": arn,
        "CreationDate": time(j.created),
        "Completed": done,
        "StatusCode": match j.status { JobStatus::InProgress => "InProgress", JobStatus::Succeeded => "Succeeded", JobStatus::Failed => "Failed" },
        "CompletionDate": j.completed.map(time),
        "SHA256TreeHash": j.output_tree_hash.map(|h| h.to_hex()),
    });
    match &j.request {
        JobRequest::ArchiveRetrieval {
            archive_id,
            tier,
            range,
            description,
        } => {
            let size = j.archive_size.unwrap_or(0);
            let r = range.clone().unwrap_or(0..size);
            v["Action"] = json!("ArchiveRetrieval");
            v["ArchiveId"] = json!(archive_id);
            v["Tier"] = json!(tier.as_str());
            v["JobDescription"] = json!(description);
            v["ArchiveSizeInBytes"] = json!(size);
            v["ArchiveSHA256TreeHash"] = json!(j.archive_tree_hash.map(|h| h.to_hex()));
            v["RetrievalByteRange"] = json!(format!("{}-{}", r.start, r.end.saturating_sub(1)));
        }
        JobRequest::InventoryRetrieval {
            format,
            description,
        } => {
            v["Action"] = json!("InventoryRetrieval");
            v["JobDescription"] = json!(description);
            v["InventorySizeInBytes"] = json!(j.output_size);
            v["InventoryRetrievalParameters"] = json!({"Format": format.as_str()});
        }
        _ => {}
    }
    v
}
