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
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::{Error, Result};

#[cfg(feature = "glacier")]
pub(crate) mod glacier;
#[cfg(feature = "s3")]
pub(crate) mod s3;

/// How to reach an AWS service: what the stores' option structs have in
/// common.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Connect<'a> {
    /// The region; `None`: the standard chain (`AWS_REGION`, profile, IMDS).
    pub(crate) region: Option<&'a str>,
    /// Another endpoint (a test service, a VPC endpoint).
    pub(crate) endpoint_url: Option<&'a str>,
    /// A named profile of `~/.aws/config`.
    pub(crate) profile: Option<&'a str>,
    /// Fixed credentials (access key id, secret key) instead of the chain.
    pub(crate) static_credentials: Option<(&'a str, &'a str)>,
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
/// and whatever `connect` fixes; the standard chain for the rest. Nothing
/// is sent to the service yet.
pub(crate) fn load_config(runtime: &tokio::runtime::Runtime, connect: &Connect<'_>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::disabled());
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
/// store): the connection part of [`S3Options`](crate::S3Options).
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
        // Settings `Connect` gains later keep their defaults here.
        #[allow(clippy::needless_update)]
        let shared = Connect {
            region: connect.region.as_deref(),
            endpoint_url: connect.endpoint_url.as_deref(),
            profile: connect.profile.as_deref(),
            static_credentials: connect
                .static_credentials
                .as_ref()
                .map(|(k, s)| (k.as_str(), s.as_str())),
            ..Connect::default()
        };
        let config = load_config(&runtime, &shared);
        let mut builder = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(connect.path_style.unwrap_or(connect.endpoint_url.is_some()))
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            );
        let mut region = region_of(&config);
        if region.is_empty() {
            "us-east-1".clone_into(&mut region);
            builder = builder.region(aws_config::Region::new(region.clone()));
        }
        let endpoint = connect
            .endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        Ok(S3Client {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            runtime,
            endpoint,
        })
    }

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

/// Maps an SDK failure to our error; `not_found` names what a 404 means
/// for this operation.
pub(crate) fn map_err<E>(
    operation: &'static str,
    vault: &str,
    not_found: impl FnOnce() -> Error,
    err: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let vault_s = vault.to_owned();
    match err {
        SdkError::TimeoutError(_) => Error::Timeout {
            operation,
            vault: vault_s,
        },
        SdkError::DispatchFailure(e) => {
            if e.is_timeout() {
                Error::Timeout {
                    operation,
                    vault: vault_s,
                }
            } else {
                Error::Connection {
                    operation,
                    vault: vault_s,
                    message: format!("{e:?}"),
                }
            }
        }
        SdkError::ResponseError(e) => Error::Connection {
            operation,
            vault: vault_s,
            message: format!("unreadable response: {e:?}"),
        },
        SdkError::ServiceError(ctx) => {
            let err = ctx.err();
            let code = err.code().unwrap_or("").to_owned();
            let message = format!("{code}: {}", err.message().unwrap_or(""));
            let status = ctx.raw().status().as_u16();
            match (code.as_str(), status) {
                ("ResourceNotFoundException", _) | (_, 404) => not_found(),
                ("ThrottlingException" | "SlowDown" | "LimitExceededException", _) | (_, 429) => {
                    Error::Throttled {
                        operation,
                        vault: vault_s,
                        message,
                    }
                }
                ("RequestTimeoutException", _) | (_, 408) => Error::Timeout {
                    operation,
                    vault: vault_s,
                },
                (_, s) if s >= 500 => Error::Server {
                    operation,
                    vault: vault_s,
                    status: s,
                    message,
                },
                _ => Error::Rejected {
                    operation,
                    vault: vault_s,
                    message,
                },
            }
        }
        other => Error::Rejected {
            operation,
            vault: vault_s,
            message: format!("{other:?}"),
        },
    }
}
