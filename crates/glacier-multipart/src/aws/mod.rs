//! What every AWS store of this crate shares: the HTTP client (rustls with
//! ring, no other TLS stack), the `aws-config` loader (region, endpoint,
//! profile and credentials from the standard chain or given explicitly),
//! the private tokio runtime a store blocks on, the SDK's retries turned off
//! (the engine retries, the same way for every store), and the mapping of
//! SDK failures onto [`Error`].
//!
//! One place on purpose: connection settings and error rendering change
//! here for every store at once.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::timeout::TimeoutConfig;
use std::time::Duration;

use crate::{Detail, Error, Result, TimeoutKind, Timeouts};

#[cfg(feature = "glacier")]
pub(crate) mod glacier;
#[cfg(feature = "s3")]
pub(crate) mod s3;

/// How to reach an AWS service: what the stores' option structs have in
/// common.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connect<'a> {
    /// The region; `None`: the standard chain (`AWS_REGION`, profile, IMDS).
    pub(crate) region: Option<&'a str>,
    /// Another endpoint (a test service, a VPC endpoint).
    pub(crate) endpoint_url: Option<&'a str>,
    /// A named profile of `~/.aws/config`.
    pub(crate) profile: Option<&'a str>,
    /// Fixed credentials (access key id, secret key) instead of the chain.
    pub(crate) static_credentials: Option<(&'a str, &'a str)>,
    /// How long to wait.
    pub(crate) timeouts: Timeouts,
}

/// The private runtime of one store: two worker threads named `thread_name`.
pub(crate) fn runtime(thread_name: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(thread_name)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the AWS runtime", "tokio runtime", e))
}

/// Loads the SDK configuration on `runtime`: our HTTP client, retries off,
/// the connect and first-byte timeouts, stalled-stream protection with
/// the stall timeout as its grace period, and whatever `connect` fixes; the standard chain for the rest. Nothing
/// is sent to the service yet.
pub(crate) fn load_config(runtime: &tokio::runtime::Runtime, connect: &Connect<'_>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(connect.timeouts.connect)
                .read_timeout(connect.timeouts.first_byte)
                .build(),
        )
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(connect.timeouts.stall)
                .build(),
        );
    if let Some(region) = connect.region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(url) = connect.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(profile) = connect.profile {
        loader = loader.profile_name(profile);
    }
    if let Some((key, secret)) = connect.static_credentials {
        loader = loader.credentials_provider(Credentials::new(
            key,
            secret,
            None,
            None,
            "permafrost-static",
        ));
    }
    runtime.block_on(loader.load())
}

/// The region a loaded configuration ended up with, `""` when none.
pub(crate) fn region_of(config: &SdkConfig) -> String {
    config
        .region()
        .map_or_else(String::new, ToString::to_string)
}

/// How to reach an S3 endpoint, for crates that read or write S3 objects
/// outside an [`S3Store`](crate::S3Store) (dataverse-source's S3 file
/// store), and the connection part of [`S3Options`](crate::S3Options).
/// Anything left `None` comes from the standard chain (`AWS_REGION`,
/// `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, `~/.aws/config`, IMDS).
#[cfg(feature = "s3")]
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct S3Connect {
    /// The region; `None`: the standard chain, else `us-east-1`.
    pub region: Option<String>,
    /// Another endpoint (an S3-compatible service, a test server).
    pub endpoint_url: Option<String>,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`); `None`: on exactly
    /// when an endpoint is given.
    pub path_style: Option<bool>,
    /// A named profile of `~/.aws/config`.
    pub profile: Option<String>,
    /// Fixed credentials (access key id, secret key) instead of the chain.
    pub static_credentials: Option<(String, String)>,
    /// How long to wait for a connection, a first byte and a stalled body.
    pub timeouts: Timeouts,
}

/// An `aws-sdk-s3` client set up as [`S3Store`](crate::S3Store)'s is (the
/// rustls/ring HTTP client, the SDK's retries off, path-style addressing
/// and region defaults, checksums only where S3 requires them), on a
/// private tokio runtime that blocking callers drive with
/// [`block_on`](S3Client::block_on).
#[cfg(feature = "s3")]
#[derive(Debug)]
pub struct S3Client {
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
    endpoint: String,
}

#[cfg(feature = "s3")]
impl S3Client {
    /// Sets the client up; the runtime's threads are named `thread_name`.
    /// Nothing is sent to the service yet (a wrong endpoint or missing
    /// credentials show at the first request).
    pub fn connect(connect: &S3Connect, thread_name: &str) -> Result<S3Client> {
        let runtime = runtime(thread_name)?;
        let sdk = s3_config(&runtime, connect);
        Ok(S3Client {
            client: aws_sdk_s3::Client::from_conf(sdk.builder.build()),
            runtime,
            endpoint: sdk.endpoint,
        })
    }
}

/// An S3 client configuration made from an [`S3Connect`], the one
/// [`S3Client`] and [`S3Store`](crate::S3Store) share.
#[cfg(feature = "s3")]
pub(crate) struct S3Config {
    /// The SDK's configuration: the rustls/ring HTTP client, the SDK's
    /// retries off, the timeouts, path-style addressing when an endpoint
    /// is set, `us-east-1` when no region is, checksums only where S3
    /// requires them (the store asks for CRC64NVME on every PUT itself).
    pub(crate) builder: aws_sdk_s3::config::Builder,
    /// The endpoint given, or the one the environment or the profile sets
    /// (`AWS_ENDPOINT_URL`).
    pub(crate) endpoint_set: Option<String>,
    /// Where requests go, for messages: `endpoint_set` or AWS's own.
    pub(crate) endpoint: String,
}

#[cfg(feature = "s3")]
pub(crate) fn s3_config(runtime: &tokio::runtime::Runtime, connect: &S3Connect) -> S3Config {
    let shared = Connect {
        region: connect.region.as_deref(),
        endpoint_url: connect.endpoint_url.as_deref(),
        profile: connect.profile.as_deref(),
        static_credentials: connect
            .static_credentials
            .as_ref()
            .map(|(k, s)| (k.as_str(), s.as_str())),
        timeouts: connect.timeouts,
    };
    let config = load_config(runtime, &shared);
    let endpoint_set = connect
        .endpoint_url
        .clone()
        .or_else(|| config.endpoint_url().map(str::to_owned));
    let mut builder = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(connect.path_style.unwrap_or(endpoint_set.is_some()))
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired);
    let mut region = region_of(&config);
    if region.is_empty() {
        "us-east-1".clone_into(&mut region);
        builder = builder.region(aws_config::Region::new(region.clone()));
    }
    let endpoint = endpoint_set
        .clone()
        .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
    S3Config {
        builder,
        endpoint_set,
        endpoint,
    }
}

#[cfg(feature = "s3")]
impl S3Client {
    /// The SDK client; its futures run under [`block_on`](Self::block_on).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// Runs `future` to completion on the private runtime. Any number of
    /// threads may block on it at once; never call it from async code.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The endpoint requests go to (for messages).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// Where a request went and how long it waited: what a network error
/// names.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// The endpoint URL.
    pub(crate) endpoint: String,
    /// The store's timeouts.
    pub(crate) timeouts: Timeouts,
    /// The first-byte timeout of this request (longer for uploads).
    pub(crate) first_byte: Duration,
}

impl Site {
    pub(crate) fn new(endpoint: String, timeouts: Timeouts) -> Self {
        Site {
            endpoint,
            first_byte: timeouts.first_byte,
            timeouts,
        }
    }

    /// The same site for a request that sends `bytes`.
    pub(crate) fn sending(&self, bytes: u64) -> Site {
        Site {
            first_byte: self.timeouts.first_byte_after_sending(bytes),
            ..self.clone()
        }
    }

    /// The timeout configuration of a request of this site.
    pub(crate) fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.timeouts.connect)
            .read_timeout(self.first_byte)
            .build()
    }

    fn timeout(
        &self,
        operation: &'static str,
        vault: &str,
        kind: TimeoutKind,
        detail: String,
    ) -> Error {
        let waited = match kind {
            TimeoutKind::Connect => self.timeouts.connect,
            TimeoutKind::Stall => self.timeouts.stall,
            _ => self.first_byte,
        };
        Error::Timeout {
            operation,
            vault: vault.to_owned(),
            endpoint: self.endpoint.clone(),
            seconds: waited.as_secs(),
            kind,
            detail: Detail(detail),
        }
    }

    fn unexpected(
        &self,
        operation: &'static str,
        vault: &str,
        what: String,
        detail: String,
    ) -> Error {
        Error::Unexpected {
            operation,
            vault: vault.to_owned(),
            endpoint: self.endpoint.clone(),
            what,
            detail: Detail(detail),
        }
    }

    /// A body that stopped or broke while streaming (`e` from the SDK's
    /// byte stream).
    pub(crate) fn body_error(
        &self,
        operation: &'static str,
        vault: &str,
        what: &str,
        e: &(dyn std::error::Error + 'static),
    ) -> Error {
        let chain = chain_of(e);
        if chain.contains("minimum throughput") {
            return self.timeout(operation, vault, TimeoutKind::Stall, chain);
        }
        Error::Connection {
            operation,
            vault: vault.to_owned(),
            message: format!("{what} from {}: {}", self.endpoint, innermost(e)),
        }
    }

    /// Reads a streaming body to its end, failing with a stall timeout
    /// when no byte comes for [`Timeouts::stall`].
    pub(crate) async fn read_body(
        &self,
        operation: &'static str,
        vault: &str,
        what: &str,
        mut body: ByteStream,
    ) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        loop {
            match tokio::time::timeout(self.timeouts.stall, body.next()).await {
                Err(_) => {
                    return Err(self.timeout(
                        operation,
                        vault,
                        TimeoutKind::Stall,
                        format!(
                            "{what}: no byte for {:?} after {} bytes",
                            self.timeouts.stall,
                            data.len()
                        ),
                    ));
                }
                Ok(None) => return Ok(data),
                Ok(Some(Ok(bytes))) => data.extend_from_slice(&bytes),
                Ok(Some(Err(e))) => return Err(self.body_error(operation, vault, what, &e)),
            }
        }
    }
}

/// An error and its causes, `: `-joined (their `Display`, never `Debug`).
fn chain_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !out.ends_with(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = c.source();
    }
    out
}

/// The deepest cause's text: the one that says what happened
/// ("Connection refused (os error 111)", "connection closed before
/// message completed").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(c) = cur.source() {
        cur = c;
    }
    cur.to_string()
}

/// The first bytes of a body, printable.
fn body_start(body: &[u8]) -> String {
    let n = body.len().min(200);
    let mut s: String = String::from_utf8_lossy(&body[..n])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > n {
        s.push_str("...");
    }
    s
}

/// Maps an SDK failure to our error; `not_found` names what a 404 means
/// for this operation. Messages carry no `Debug` text of SDK types: the
/// cause's `Display` chain goes into [`Detail`] (shown with `-v`).
pub(crate) fn map_err<E>(
    operation: &'static str,
    vault: &str,
    site: &Site,
    not_found: impl FnOnce() -> Error,
    err: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let vault_s = vault.to_owned();
    let chain = chain_of(&err);
    match err {
        SdkError::TimeoutError(_) => site.timeout(operation, vault, TimeoutKind::FirstByte, chain),
        SdkError::DispatchFailure(e) => {
            if e.is_timeout() {
                let kind = if chain.contains("HTTP connect") {
                    TimeoutKind::Connect
                } else {
                    TimeoutKind::FirstByte
                };
                site.timeout(operation, vault, kind, chain)
            } else if chain.contains("minimum throughput") {
                site.timeout(operation, vault, TimeoutKind::Stall, chain)
            } else if chain.contains("invalid HTTP") || chain.contains("parse") {
                site.unexpected(operation, vault, "not an HTTP response".into(), chain)
            } else {
                let why = e
                    .as_connector_error()
                    .map_or_else(|| chain.clone(), |c| innermost(c));
                Error::Connection {
                    operation,
                    vault: vault_s,
                    message: format!("{}: {why}", site.endpoint),
                }
            }
        }
        SdkError::ResponseError(e) => {
            if chain.contains("minimum throughput") {
                return site.timeout(operation, vault, TimeoutKind::Stall, chain);
            }
            let status = e.raw().status().as_u16();
            let body = e.raw().body().bytes().map(body_start).unwrap_or_default();
            site.unexpected(
                operation,
                vault,
                format!("HTTP {status}, a response that could not be read"),
                format!("{chain}; body starts: {body:?}"),
            )
        }
        SdkError::ServiceError(ctx) => {
            let err = ctx.err();
            let code = err.code().unwrap_or("").to_owned();
            let text = err.message().unwrap_or("").to_owned();
            let status = ctx.raw().status().as_u16();
            if code.is_empty() && text.is_empty() && status != 404 && status < 500 {
                let body = ctx.raw().body().bytes().map(body_start).unwrap_or_default();
                return site.unexpected(
                    operation,
                    vault,
                    format!("HTTP {status} without an error code or a readable body"),
                    format!("body starts: {body:?}"),
                );
            }
            let message = if code.is_empty() && text.is_empty() {
                format!("HTTP {status}")
            } else if text.is_empty() {
                code.clone()
            } else {
                format!("{code}: {text}")
            };
            match (code.as_str(), status) {
                ("ResourceNotFoundException", _) | (_, 404) => not_found(),
                ("ThrottlingException" | "SlowDown" | "LimitExceededException", _) | (_, 429) => {
                    Error::Throttled {
                        operation,
                        vault: vault_s,
                        message,
                    }
                }
                ("RequestTimeoutException", _) | (_, 408) => {
                    site.timeout(operation, vault, TimeoutKind::Stall, message)
                }
                (_, s) if s >= 500 => Error::Server {
                    operation,
                    vault: vault_s,
                    status: s,
                    message: format!("{message} ({})", site.endpoint),
                },
                _ => Error::Rejected {
                    operation,
                    vault: vault_s,
                    message,
                },
            }
        }
        _ => Error::Connection {
            operation,
            vault: vault_s,
            message: format!("{}: {chain}", site.endpoint),
        },
    }
}
