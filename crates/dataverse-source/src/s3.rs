//! Dataverse's S3 store (feature `s3`): storage identifier
//! `<driverId>://<bucket>:<storageid>`, object key
//! `<authority>/<identifier>/<storageid>`.
//!
//! The client is glacier-multipart's [`S3Client`] (its HTTP client,
//! credentials chain, endpoint and path-style setup), made on the first
//! read, so configuring an S3 store an installation does not use costs
//! nothing. An object is streamed as it is read: the caller's checksum is
//! computed on the way, never by a second read.

use std::fmt;
use std::io::{self, Cursor, Read};
use std::sync::{Arc, OnceLock};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use glacier_multipart::{S3Client, S3Connect};

use crate::error::{Error, Result};
use crate::model::DataFile;
use crate::store::{FileStore, safe_relative};

/// An S3 store of an installation (Dataverse's `dataverse.files.<id>.type
/// = s3`), by driver id.
///
/// The bucket is the one configured with [`bucket`](Self::bucket)
/// (Dataverse's `dataverse.files.<id>.bucket-name`, which is what Dataverse
/// itself reads from), else the one named in each file's storage
/// identifier. Region, endpoint, path-style addressing, profile and
/// credentials come from the builder methods, the rest from the standard
/// AWS chain (`AWS_REGION`, `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, ...).
///
/// ```
/// use dataverse_source::{FileStore, S3FileStore};
///
/// let store = S3FileStore::new("s3-east")
///     .bucket("dataverse-files")
///     .endpoint_url("http://127.0.0.1:9000")
///     .path_style(true)
///     .region("us-east-1");
/// assert_eq!(store.kind(), "s3");
/// assert_eq!(store.driver(), "s3-east");
/// ```
pub struct S3FileStore {
    driver: String,
    bucket: Option<String>,
    connect: S3Connect,
    client: OnceLock<std::result::Result<Arc<S3Client>, String>>,
}

impl fmt::Debug for S3FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3FileStore")
            .field("driver", &self.driver)
            .field("bucket", &self.bucket)
            .field("region", &self.connect.region)
            .field("endpoint_url", &self.connect.endpoint_url)
            .field("path_style", &self.connect.path_style)
            .field("profile", &self.connect.profile)
            .field(
                "static_credentials",
                &self.connect.static_credentials.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

impl S3FileStore {
    /// The S3 store of driver id `driver` (for messages), everything else
    /// from the AWS chain and the storage identifiers.
    pub fn new(driver: impl Into<String>) -> Self {
        S3FileStore {
            driver: driver.into(),
            bucket: None,
            connect: S3Connect::default(),
            client: OnceLock::new(),
        }
    }

    /// Reads every object from `bucket`, whatever bucket a storage
    /// identifier names.
    #[must_use]
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// The region (default: the AWS chain, else `us-east-1`).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.connect.region = Some(region.into());
        self
    }

    /// Another endpoint: an S3-compatible service or a test server
    /// (Dataverse's `custom-endpoint-url`).
    #[must_use]
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.connect.endpoint_url = Some(url.into());
        self
    }

    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`), Dataverse's
    /// `path-style-access`; default: on exactly when an endpoint is given.
    #[must_use]
    pub fn path_style(mut self, on: bool) -> Self {
        self.connect.path_style = Some(on);
        self
    }

    /// A named profile of `~/.aws/config` and `~/.aws/credentials`.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.connect.profile = Some(profile.into());
        self
    }

    /// Fixed credentials instead of the chain (never printed).
    #[must_use]
    pub fn static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.connect.static_credentials = Some((access_key_id.into(), secret_access_key.into()));
        self
    }

    /// The driver id.
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// The bucket and key of `file`'s object `object_name`.
    pub fn object_of(&self, file: &DataFile, object_name: &str) -> Result<(String, String)> {
        let key = format!("{}/{}", file.dataset_dir(), object_name);
        safe_relative(file, &key)?;
        let bucket = self
            .bucket
            .clone()
            .or_else(|| {
                file.storage
                    .as_ref()
                    .and_then(|s| s.bucket())
                    .filter(|b| !b.is_empty())
                    .map(str::to_owned)
            })
            .ok_or_else(|| Error::S3 {
                action: "opening",
                driver: self.driver.clone(),
                bucket: String::new(),
                key: key.clone(),
                message: format!(
                    "file {}: its storage identifier {:?} names no bucket and the store has none configured",
                    file.id,
                    file.storage.as_ref().map_or("", |s| s.raw.as_str())
                ),
                retryable: false,
            })?;
        Ok((bucket, key))
    }

    fn client(&self) -> std::result::Result<Arc<S3Client>, String> {
        self.client
            .get_or_init(|| {
                S3Client::connect(&self.connect, "dataverse-s3")
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

impl FileStore for S3FileStore {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn open(&self, file: &DataFile, object_name: &str) -> Result<Box<dyn Read + Send>> {
        let (bucket, key) = self.object_of(file, object_name)?;
        let fail = |message: String, retryable: bool| Error::S3 {
            action: "opening",
            driver: self.driver.clone(),
            bucket: bucket.clone(),
            key: key.clone(),
            message,
            retryable,
        };
        let client = self
            .client()
            .map_err(|e| fail(format!("setting up the S3 client: {e}"), false))?;
        let request = client.client().get_object().bucket(&bucket).key(&key);
        let output = client.block_on(request.send()).map_err(|e| {
            let (message, retryable) = describe(&e);
            fail(message, retryable)
        })?;
        tracing::debug!(driver = %self.driver, %bucket, %key, size = ?output.content_length(), "opened S3 object");
        Ok(Box::new(ObjectReader {
            client,
            body: output.body,
            chunk: Cursor::new(Vec::new()),
            driver: self.driver.clone(),
            bucket,
            key,
        }))
    }

    fn locate(&self, file: &DataFile, object_name: &str) -> String {
        match self.object_of(file, object_name) {
            Ok((bucket, key)) => format!("s3://{bucket}/{key}"),
            Err(e) => e.to_string(),
        }
    }
}

/// What went wrong with a request, and whether trying again may help.
fn describe(err: &SdkError<GetObjectError>) -> (String, bool) {
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let status = ctx.raw().status().as_u16();
            let code = e.code().map_or_else(
                || match status {
                    404 => "NotFound".to_owned(),
                    403 => "AccessDenied".to_owned(),
                    s => format!("HTTP {s}"),
                },
                str::to_owned,
            );
            let what = match code.as_str() {
                "NoSuchKey" | "NotFound" => "no such object",
                "NoSuchBucket" => "no such bucket",
                "AccessDenied"
                | "AllAccessDisabled"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch" => "access denied",
                "InvalidObjectState" => "the object is archived and must be restored first",
                _ => "",
            };
            let mut message = code.clone();
            if let Some(m) = e.message().filter(|m| !m.is_empty()) {
                message.push_str(": ");
                message.push_str(m);
            }
            if !what.is_empty() {
                message = format!("{what} ({message})");
            }
            let retryable = status >= 500
                || status == 429
                || matches!(code.as_str(), "SlowDown" | "RequestTimeout");
            (message, retryable)
        }
        SdkError::TimeoutError(_) => ("the request timed out".to_owned(), true),
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (causes(err), true),
        _ => (causes(err), false),
    }
}

/// An error and its causes, `: `-separated (each said once), without the
/// SDK's debug dump.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

/// An object's body, read as it arrives.
struct ObjectReader {
    client: Arc<S3Client>,
    body: ByteStream,
    chunk: Cursor<Vec<u8>>,
    driver: String,
    bucket: String,
    key: String,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.chunk.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.client.block_on(self.body.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => self.chunk = Cursor::new(Vec::from(bytes)),
                Some(Err(e)) => {
                    let error = Error::S3 {
                        action: "reading",
                        driver: self.driver.clone(),
                        bucket: self.bucket.clone(),
                        key: self.key.clone(),
                        message: causes(&e),
                        retryable: true,
                    };
                    return Err(io::Error::other(error));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::primitives::SdkBody;

    use super::*;

    /// What a service answer becomes. (Missing keys and buckets are tested
    /// against the S3 server; it grants every request, so a refusal is
    /// built here.)
    fn answer(status: u16, code: Option<&str>, message: &str) -> (String, bool) {
        let mut meta = ErrorMetadata::builder().message(message);
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let err = GetObjectError::generic(meta.build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        describe(&SdkError::service_error(err, raw))
    }

    #[test]
    fn refusals_say_what_they_are() {
        assert_eq!(
            answer(403, Some("AccessDenied"), "Access Denied"),
            (
                "access denied (AccessDenied: Access Denied)".to_owned(),
                false
            )
        );
        assert_eq!(
            answer(403, None, ""),
            ("access denied (AccessDenied)".to_owned(), false)
        );
        assert_eq!(
            answer(404, None, ""),
            ("no such object (NotFound)".to_owned(), false)
        );
        let (m, retry) = answer(403, Some("InvalidObjectState"), "archived");
        assert!(m.starts_with("the object is archived") && !retry, "{m}");
        assert_eq!(
            answer(503, Some("SlowDown"), "Reduce your request rate"),
            ("SlowDown: Reduce your request rate".to_owned(), true)
        );
        assert!(answer(500, Some("InternalError"), "x").1);
    }

    #[test]
    fn the_bucket_comes_from_the_config_then_the_identifier() {
        use crate::{Checksum, ChecksumType, DatasetId};
        let f = DataFile::new(
            9,
            DatasetId::new("doi", "10.5072", "FK2/X"),
            "s3-east://in-id:abc",
            Checksum::new(ChecksumType::Md5, "0"),
        );
        let store = S3FileStore::new("s3-east");
        assert_eq!(
            store.object_of(&f, "abc").unwrap(),
            ("in-id".to_owned(), "10.5072/FK2/X/abc".to_owned())
        );
        assert_eq!(store.locate(&f, "abc"), "s3://in-id/10.5072/FK2/X/abc");
        let store = store.bucket("configured");
        assert_eq!(store.object_of(&f, "abc.orig").unwrap().0, "configured");
        assert!(
            !format!("{:?}", store.static_credentials("AKID", "s3cr3t")).contains("s3cr3t"),
            "credentials are never printed"
        );
    }
}
