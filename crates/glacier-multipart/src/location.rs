//! Choosing a store from a location string.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::{ArchiveStore, Error, LocalStore, MemoryStore, Result};

/// Opens the store a location string names:
///
/// - `file:///srv/vaults` or a plain path (`/srv/vaults`, `./vaults`): a
///   [`LocalStore`] there; `?job_delay=SECONDS` makes its jobs take that
///   long, like Glacier's hours;
/// - `memory:`: a fresh, empty [`MemoryStore`].
///
/// - `glacier://REGION` (feature `glacier`): Amazon Glacier vaults, with
///   `?endpoint=URL` (another endpoint), `&profile=NAME`, `&account=ID`;
///   `glacier://` alone takes the region from the standard chain.
/// - `s3://BUCKET[/PREFIX]` (feature `s3`): vaults as key prefixes of one
///   existing bucket ([`S3Store`](crate::S3Store)), with
///   `?class=DEEP_ARCHIVE|GLACIER|GLACIER_IR|STANDARD` (default
///   `DEEP_ARCHIVE`), `&restore-days=N` (default 1), `&endpoint=URL` (an
///   S3-compatible service; path-style addressing then), `&path-style=true|false`,
///   `&region=NAME`, `&profile=NAME`.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let store = glacier_multipart::open_store(&format!("file://{}?job_delay=0", dir.path().display()))?;
/// assert!(store.location().starts_with("file:///"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_store(location: &str) -> Result<Arc<dyn ArchiveStore>> {
    let invalid = |reason: String| Error::InvalidLocation {
        location: location.to_owned(),
        reason,
    };
    if location == "memory:" || location == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    #[cfg(feature = "glacier")]
    if let Some(rest) = location.strip_prefix("glacier://") {
        return open_glacier(location, rest);
    }
    #[cfg(feature = "s3")]
    if location.starts_with("s3://") {
        return Ok(Arc::new(crate::S3Store::connect(
            &crate::S3Options::from_location(location)?,
        )?));
    }
    let (path, query) = if let Some(rest) = location.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(invalid(
                "a file:// location needs an absolute path: file:///DIR".into(),
            ));
        }
        match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        }
    } else if let Some((scheme, _)) = location.split_once("://") {
        return Err(invalid(format!(
            "unknown or not compiled-in store kind {scheme:?} (known: file://, a path, memory:, and with their features glacier:// and s3://)"
        )));
    } else {
        (location, None)
    };
    if path.is_empty() {
        return Err(invalid("empty path".into()));
    }
    let mut store = LocalStore::open(Path::new(path))?;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("job_delay", v)) => {
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| invalid(format!("job_delay={v} is not a number of seconds")))?;
                store = store.with_job_delay(Duration::from_secs_f64(secs));
            }
            Some(("sync", "0" | "false")) => store = store.with_sync(false),
            Some(("sync", "1" | "true")) => store = store.with_sync(true),
            _ => {
                return Err(invalid(format!(
                    "unknown option {pair:?} (known: job_delay, sync)"
                )));
            }
        }
    }
    Ok(Arc::new(store))
}

#[cfg(feature = "glacier")]
fn open_glacier(location: &str, rest: &str) -> Result<Arc<dyn ArchiveStore>> {
    let (region, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut options = crate::GlacierOptions {
        region: (!region.is_empty()).then(|| region.to_owned()),
        ..crate::GlacierOptions::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("endpoint", v)) => options.endpoint_url = Some(v.to_owned()),
            Some(("profile", v)) => options.profile = Some(v.to_owned()),
            Some(("account", v)) => options.account_id = Some(v.to_owned()),
            _ => {
                return Err(Error::InvalidLocation {
                    location: location.to_owned(),
                    reason: format!("unknown option {pair:?} (known: endpoint, profile, account)"),
                });
            }
        }
    }
    Ok(Arc::new(crate::GlacierStore::connect(&options)?))
}

#[cfg(feature = "s3")]
impl crate::S3Options {
    /// The options an `s3://BUCKET[/PREFIX][?OPTIONS]` location names (see
    /// [`open_store`]); what it leaves out keeps its default.
    ///
    /// ```
    /// let o = glacier_multipart::S3Options::from_location("s3://archive/site-1?class=GLACIER&restore-days=7")?;
    /// assert_eq!((o.bucket.as_str(), o.prefix.as_str(), o.class, o.restore_days),
    ///            ("archive", "site-1", glacier_multipart::S3Class::Glacier, 7));
    /// # Ok::<(), glacier_multipart::Error>(())
    /// ```
    pub fn from_location(location: &str) -> Result<crate::S3Options> {
        s3_options(location)
    }
}

/// The options an `s3://` location names.
#[cfg(feature = "s3")]
fn s3_options(location: &str) -> Result<crate::S3Options> {
    let rest = location.strip_prefix("s3://").unwrap_or(location);
    let invalid = |reason: String| Error::InvalidLocation {
        location: location.to_owned(),
        reason,
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Err(invalid("no bucket: s3://BUCKET[/PREFIX]".into()));
    }
    let mut options = crate::S3Options::new(bucket);
    prefix.trim_matches('/').clone_into(&mut options.prefix);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("class", v)) => {
                options.class = crate::S3Class::parse(v).ok_or_else(|| {
                    invalid(format!(
                        "unknown storage class {v:?} (known: DEEP_ARCHIVE, GLACIER, GLACIER_IR, STANDARD)"
                    ))
                })?;
            }
            Some(("restore-days" | "restore_days", v)) => {
                options.restore_days = v.parse().ok().filter(|d| *d >= 1).ok_or_else(|| {
                    invalid(format!("restore-days={v} is not a number of days >= 1"))
                })?;
            }
            Some(("endpoint" | "endpoint-url", v)) => {
                options.connect.endpoint_url = Some(v.to_owned());
            }
            Some(("region", v)) => options.connect.region = Some(v.to_owned()),
            Some(("profile", v)) => options.connect.profile = Some(v.to_owned()),
            Some(("path-style", "true" | "1")) => options.connect.path_style = Some(true),
            Some(("path-style", "false" | "0")) => options.connect.path_style = Some(false),
            _ => {
                return Err(invalid(format!(
                    "unknown option {pair:?} (known: class, restore-days, endpoint, path-style, region, profile)"
                )));
            }
        }
    }
    Ok(options)
}
