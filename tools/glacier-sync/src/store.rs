//! Opening the store and vault a command names, and the `--max-rate`
//! wrapper store.
//!
//! The forms of `--vault` (see the README):
//! - `NAME`: an Amazon Glacier vault; the region is the config file's
//!   `region=` or the AWS chain's, credentials the config's `key=`/`secret=`
//!   or the AWS chain's; `--endpoint-url` sends requests elsewhere.
//! - `file:///DIR/NAME` or a path `DIR/NAME`: vault NAME of the local
//!   directory store at DIR.
//! - `s3://BUCKET[/PREFIX]/NAME[?class=..&restore-days=N]`: vault NAME
//!   (the key prefix `PREFIX/NAME/`) of that S3 bucket; region and
//!   credentials as for Glacier, `--endpoint-url` for S3-compatible
//!   services.
//! - with `--store LOCATION` (`file:///DIR`, a path, `glacier://REGION`,
//!   `s3://BUCKET[/PREFIX]`), `--vault` is a plain name in that store.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use glacier_multipart::{
    ArchiveInfo, ArchiveStore, JobInfo, JobOutput, JobRequest, StoreLimits, UploadInfo,
    UploadParts, VaultInfo,
};
use glacier_sync::mtcompat::config::Config;
use glacier_treehash::TreeHash;

use crate::cli::StoreArgs;
use crate::exit::{Code, coded};

/// A store and the vault in it a command works on.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) store: Arc<dyn ArchiveStore>,
    pub(crate) vault: String,
    /// Whether it is Amazon Glacier (or a fake of it) rather than a local
    /// store.
    pub(crate) remote: bool,
}

/// Opens the store of `store_args` alone (for list-vaults).
pub(crate) fn open_store_only(
    store_args: &StoreArgs,
    config: Option<&Config>,
) -> anyhow::Result<(Arc<dyn ArchiveStore>, bool)> {
    match store_args.store.as_deref() {
        Some(loc) => open_location(loc, store_args, config),
        None => Ok((open_glacier(None, store_args, config)?, true)),
    }
}

/// Opens the vault `vault` names, in the store `store_args` names.
pub(crate) fn open_vault(
    vault: &str,
    store_args: &StoreArgs,
    config: Option<&Config>,
) -> anyhow::Result<Target> {
    if let Some(loc) = store_args.store.as_deref() {
        if vault.contains('/') {
            return Err(coded(
                Code::Usage,
                format!("with --store, --vault is a plain vault name, not {vault:?}"),
            ));
        }
        let (store, remote) = open_location(loc, store_args, config)?;
        return Ok(Target {
            store,
            vault: vault.to_owned(),
            remote,
        });
    }
    if let Some(rest) = vault.strip_prefix("s3://") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (root, name) = path
            .trim_end_matches('/')
            .rsplit_once('/')
            .filter(|(_, n)| !n.is_empty())
            .ok_or_else(|| {
                coded(
                    Code::Usage,
                    format!("--vault {vault:?}: expected s3://BUCKET[/PREFIX]/NAME"),
                )
            })?;
        let loc = if query.is_empty() {
            format!("s3://{root}")
        } else {
            format!("s3://{root}?{query}")
        };
        let (store, remote) = open_location(&loc, store_args, config)?;
        return Ok(Target {
            store,
            vault: name.to_owned(),
            remote,
        });
    }
    if vault.starts_with("file://") || vault.contains('/') {
        let trimmed = vault.trim_end_matches('/');
        let (root, name) = trimmed.rsplit_once('/').ok_or_else(|| {
            coded(
                Code::Usage,
                format!("--vault {vault:?}: expected file:///DIR/NAME or DIR/NAME"),
            )
        })?;
        let root = if root.is_empty() || root == "file://" {
            format!("{root}/")
        } else {
            root.to_owned()
        };
        if name.is_empty() {
            return Err(coded(
                Code::Usage,
                format!("--vault {vault:?} names no vault"),
            ));
        }
        let store = glacier_multipart::open_store(&root)
            .with_context(|| format!("opening the local store {root}"))?;
        return Ok(Target {
            store,
            vault: name.to_owned(),
            remote: false,
        });
    }
    Ok(Target {
        store: open_glacier(None, store_args, config)?,
        vault: vault.to_owned(),
        remote: true,
    })
}

fn open_location(
    loc: &str,
    store_args: &StoreArgs,
    config: Option<&Config>,
) -> anyhow::Result<(Arc<dyn ArchiveStore>, bool)> {
    if loc == "glacier" || loc == "glacier://" {
        return Ok((open_glacier(None, store_args, config)?, true));
    }
    if let Some(rest) = loc.strip_prefix("glacier://") {
        let region = rest.split('?').next().filter(|r| !r.is_empty());
        return Ok((open_glacier(region, store_args, config)?, true));
    }
    if loc.starts_with("s3://") {
        return Ok((open_s3(loc, store_args, config)?, true));
    }
    let store =
        glacier_multipart::open_store(loc).with_context(|| format!("opening store {loc}"))?;
    Ok((store, false))
}

#[cfg(not(feature = "s3"))]
fn open_s3(
    _loc: &str,
    _store_args: &StoreArgs,
    _config: Option<&Config>,
) -> anyhow::Result<Arc<dyn ArchiveStore>> {
    Err(coded(
        Code::Usage,
        "this glacier-sync was built without the `s3` feature: no s3:// stores",
    ))
}

/// An S3 store: the location's options, then `--endpoint-url` and the
/// config file's `region=`, `key=`, `secret=` where the location says
/// nothing, then the AWS chain.
#[cfg(feature = "s3")]
fn open_s3(
    loc: &str,
    store_args: &StoreArgs,
    config: Option<&Config>,
) -> anyhow::Result<Arc<dyn ArchiveStore>> {
    let get = |k: &str| config.and_then(|c| c.get(k)).map(str::to_owned);
    let mut options = glacier_multipart::S3Options::from_location(loc)?;
    let connect = &mut options.connect;
    if connect.endpoint_url.is_none() {
        connect.endpoint_url.clone_from(&store_args.endpoint_url);
    }
    if connect.region.is_none() {
        connect.region = get("region");
    }
    connect.static_credentials = static_credentials(config)?;
    connect.timeouts = timeouts();
    let store = glacier_multipart::S3Store::connect(&options)
        .with_context(|| format!("connecting to S3 ({loc})"))?;
    Ok(Arc::new(store))
}

/// `--timeout SECONDS`, for every network
/// store this process opens.
static TIMEOUT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Sets the timeout of every network store opened from now on; `None`:
/// the defaults of [`glacier_multipart::Timeouts`].
pub(crate) fn set_timeout(seconds: Option<u64>) {
    if let Some(s) = seconds {
        let _ = TIMEOUT.set(s);
    }
}

/// The timeouts of a network store.
#[cfg(any(feature = "glacier", feature = "s3"))]
fn timeouts() -> glacier_multipart::Timeouts {
    TIMEOUT
        .get()
        .map_or_else(glacier_multipart::Timeouts::default, |s| {
            glacier_multipart::Timeouts::uniform(*s)
        })
}

/// The config file's `key=` and `secret=`, both or neither.
#[cfg(any(feature = "glacier", feature = "s3"))]
fn static_credentials(config: Option<&Config>) -> anyhow::Result<Option<(String, String)>> {
    let get = |k: &str| config.and_then(|c| c.get(k)).map(str::to_owned);
    match (get("key"), get("secret")) {
        (Some(k), Some(s)) => Ok(Some((k, s))),
        (None, None) => Ok(None),
        _ => Err(coded(
            Code::Config,
            "the config file sets only one of key= and secret=; set both or neither",
        )),
    }
}

#[cfg(not(feature = "glacier"))]
fn open_glacier(
    _region: Option<&str>,
    _store_args: &StoreArgs,
    _config: Option<&Config>,
) -> anyhow::Result<Arc<dyn ArchiveStore>> {
    Err(coded(
        Code::Usage,
        "this glacier-sync was built without the `glacier` feature: only local stores (--vault file:///DIR/NAME)",
    ))
}

#[cfg(feature = "glacier")]
fn open_glacier(
    region: Option<&str>,
    store_args: &StoreArgs,
    config: Option<&Config>,
) -> anyhow::Result<Arc<dyn ArchiveStore>> {
    use glacier_multipart::{GlacierOptions, GlacierStore};
    let get = |k: &str| config.and_then(|c| c.get(k)).map(str::to_owned);
    let mut options = GlacierOptions {
        region: region.map(str::to_owned).or_else(|| get("region")),
        endpoint_url: store_args.endpoint_url.clone(),
        ..GlacierOptions::default()
    };
    if options.region.is_none()
        && options.endpoint_url.is_some()
        && std::env::var_os("AWS_REGION").is_none()
        && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        // A test endpoint does not care; the SDK wants one to sign.
        options.region = Some("us-east-1".to_owned());
    }
    options.static_credentials = static_credentials(config)?;
    options.timeouts = timeouts();
    let store = GlacierStore::connect(&options).context("connecting to Amazon Glacier")?;
    Ok(Arc::new(store))
}

/// A store that holds transfers to `rate` bytes per second, summed over
/// all threads: each request waits until the bytes sent and received so far
/// fit the rate since the first one.
#[derive(Debug)]
pub(crate) struct RateLimited {
    inner: Arc<dyn ArchiveStore>,
    rate: u64,
    clock: Mutex<Option<(Instant, u64)>>,
}

impl RateLimited {
    /// `inner`, limited to `rate` bytes per second.
    pub(crate) fn wrap(inner: Arc<dyn ArchiveStore>, rate: Option<u64>) -> Arc<dyn ArchiveStore> {
        match rate {
            Some(rate) => Arc::new(RateLimited {
                inner,
                rate,
                clock: Mutex::new(None),
            }),
            None => inner,
        }
    }

    fn account(&self, bytes: u64) {
        let wait = {
            let mut clock = self
                .clock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (start, total) = clock.get_or_insert_with(|| (Instant::now(), 0));
            *total += bytes;
            #[allow(clippy::cast_precision_loss)] // a pacing delay, not an account
            let due = Duration::from_secs_f64(*total as f64 / self.rate as f64);
            due.saturating_sub(start.elapsed())
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

impl ArchiveStore for RateLimited {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn limits(&self) -> StoreLimits {
        self.inner.limits()
    }
    fn create_vault(&self, vault: &str) -> glacier_multipart::Result<()> {
        self.inner.create_vault(vault)
    }
    fn describe_vault(&self, vault: &str) -> glacier_multipart::Result<VaultInfo> {
        self.inner.describe_vault(vault)
    }
    fn list_vaults(&self) -> glacier_multipart::Result<Vec<VaultInfo>> {
        self.inner.list_vaults()
    }
    fn delete_vault(&self, vault: &str) -> glacier_multipart::Result<()> {
        self.inner.delete_vault(vault)
    }
    fn upload_archive(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        tree_hash: TreeHash,
    ) -> glacier_multipart::Result<ArchiveInfo> {
        self.account(data.len() as u64);
        self.inner
            .upload_archive(vault, description, data, tree_hash)
    }
    fn initiate_multipart_upload(
        &self,
        vault: &str,
        description: &str,
        part_size: u64,
    ) -> glacier_multipart::Result<String> {
        self.inner
            .initiate_multipart_upload(vault, description, part_size)
    }
    fn upload_part(
        &self,
        vault: &str,
        upload_id: &str,
        range: Range<u64>,
        tree_hash: TreeHash,
        data: &[u8],
    ) -> glacier_multipart::Result<()> {
        self.account(data.len() as u64);
        self.inner
            .upload_part(vault, upload_id, range, tree_hash, data)
    }
    fn list_parts(&self, vault: &str, upload_id: &str) -> glacier_multipart::Result<UploadParts> {
        self.inner.list_parts(vault, upload_id)
    }
    fn complete_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
    ) -> glacier_multipart::Result<ArchiveInfo> {
        self.inner
            .complete_multipart_upload(vault, upload_id, total_size, tree_hash)
    }
    fn complete_multipart_upload_with_part_hashes(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
        part_hashes: &[TreeHash],
    ) -> glacier_multipart::Result<ArchiveInfo> {
        self.inner.complete_multipart_upload_with_part_hashes(
            vault,
            upload_id,
            total_size,
            tree_hash,
            part_hashes,
        )
    }
    fn abort_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
    ) -> glacier_multipart::Result<()> {
        self.inner.abort_multipart_upload(vault, upload_id)
    }
    fn list_multipart_uploads(&self, vault: &str) -> glacier_multipart::Result<Vec<UploadInfo>> {
        self.inner.list_multipart_uploads(vault)
    }
    fn delete_archive(&self, vault: &str, archive_id: &str) -> glacier_multipart::Result<()> {
        self.inner.delete_archive(vault, archive_id)
    }
    fn initiate_job(&self, vault: &str, request: &JobRequest) -> glacier_multipart::Result<String> {
        self.inner.initiate_job(vault, request)
    }
    fn describe_job(&self, vault: &str, job_id: &str) -> glacier_multipart::Result<JobInfo> {
        self.inner.describe_job(vault, job_id)
    }
    fn list_jobs(&self, vault: &str) -> glacier_multipart::Result<Vec<JobInfo>> {
        self.inner.list_jobs(vault)
    }
    fn get_job_output(
        &self,
        vault: &str,
        job_id: &str,
        range: Option<Range<u64>>,
    ) -> glacier_multipart::Result<JobOutput> {
        let out = self.inner.get_job_output(vault, job_id, range)?;
        self.account(out.data.len() as u64);
        Ok(out)
    }
}
