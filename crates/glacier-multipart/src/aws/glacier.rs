//! The Amazon Glacier vault API store, over `aws-sdk-glacier` (feature
//! `glacier`).
//!
//! The SDK is async; this store owns a private multi-thread tokio runtime
//! (set up with the HTTP client and configuration by the shared
//! [`aws`](super) module) and blocks on it, so callers see the same blocking [`ArchiveStore`] as
//! for every other store. Several threads may call it at once.

use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use aws_sdk_glacier::Client;
use aws_sdk_glacier::primitives::ByteStream;
use aws_sdk_glacier::types::{GlacierJobDescription, InventoryRetrievalJobInput, JobParameters};
use glacier_treehash::TreeHash;

use super::{Site, map_err};
use crate::serde_util::parse_time;
use crate::store::{
    ArchiveInfo, ArchiveStore, InventoryFormat, JobInfo, JobOutput, JobRequest, JobStatus,
    PartInfo, StoreLimits, Tier, UploadInfo, UploadParts, VaultInfo,
};
use crate::{Error, Result, Timeouts};

/// How to reach Glacier.
#[derive(Debug, Clone, Default)]
pub struct GlacierOptions {
    /// The region; `None`: the standard chain (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// Another endpoint (a test service, a VPC endpoint), e.g.
    /// `http://127.0.0.1:9000`.
    pub endpoint_url: Option<String>,
    /// A named profile of `~/.aws/config`.
    pub profile: Option<String>,
    /// Fixed credentials (access key id, secret key), instead of the
    /// standard chain (environment, profiles, SSO, IMDS).
    pub static_credentials: Option<(String, String)>,
    /// The account id; `None`: `-`, the account of the credentials.
    pub account_id: Option<String>,
    /// How long to wait for the service.
    pub timeouts: Timeouts,
}

/// A store of Amazon Glacier vaults.
///
/// The SDK's own retries are turned off: the engine retries what
/// [`Error::is_retryable`] allows, with its own backoff, so every store
/// behaves the same. Part and archive tree hashes (and the archive size)
/// are always sent explicitly.
pub struct GlacierStore {
    client: Client,
    runtime: tokio::runtime::Runtime,
    account_id: String,
    location: String,
    site: Site,
}

impl fmt::Debug for GlacierStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlacierStore")
            .field("location", &self.location)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

fn bad(operation: &'static str, vault: &str, message: impl Into<String>) -> Error {
    Error::Rejected {
        operation,
        vault: vault.to_owned(),
        message: message.into(),
    }
}

fn parse_hash(operation: &'static str, vault: &str, s: Option<&str>) -> Result<TreeHash> {
    let s = s.ok_or_else(|| bad(operation, vault, "the answer has no tree hash"))?;
    TreeHash::from_hex(s).map_err(|e| bad(operation, vault, format!("bad tree hash {s:?}: {e}")))
}

fn date(s: Option<&str>) -> SystemTime {
    s.and_then(parse_time).unwrap_or(SystemTime::UNIX_EPOCH)
}

fn size_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `"0-1048575"` to `0..1048576`.
fn parse_inclusive(s: &str) -> Option<Range<u64>> {
    let (a, b) = s.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = b.trim().parse().ok()?;
    (b >= a).then_some(a..b + 1)
}

impl GlacierStore {
    /// Connects (loading configuration and credentials the standard way,
    /// unless `options` says otherwise). Nothing is sent yet.
    pub fn connect(options: &GlacierOptions) -> Result<GlacierStore> {
        let runtime = super::runtime("glacier-store")?;
        let connect = super::Connect {
            region: options.region.as_deref(),
            endpoint_url: options.endpoint_url.as_deref(),
            profile: options.profile.as_deref(),
            static_credentials: options
                .static_credentials
                .as_ref()
                .map(|(k, s)| (k.as_str(), s.as_str())),
            timeouts: options.timeouts,
        };
        let config = super::load_config(&runtime, &connect);
        let region = super::region_of(&config);
        // The endpoint given, else the one the environment or the profile
        // set (AWS_ENDPOINT_URL), else AWS's own.
        let endpoint_set = options
            .endpoint_url
            .clone()
            .or_else(|| config.endpoint_url().map(str::to_owned));
        let location = match &endpoint_set {
            Some(url) => format!("glacier://{region}?endpoint={url}"),
            None => format!("glacier://{region}"),
        };
        let endpoint =
            endpoint_set.unwrap_or_else(|| format!("https://glacier.{region}.amazonaws.com"));
        Ok(GlacierStore {
            site: Site::new(endpoint, options.timeouts),
            client: Client::new(&config),
            runtime,
            account_id: options.account_id.clone().unwrap_or_else(|| "-".into()),
            location,
        })
    }

    /// The configuration of a request that sends `bytes`: a first-byte
    /// timeout that leaves time to send them.
    fn sending(&self, bytes: usize) -> aws_sdk_glacier::config::Builder {
        aws_sdk_glacier::config::Builder::default()
            .timeout_config(self.site.sending(bytes as u64).timeout_config())
    }

    fn vault_not_found(vault: &str) -> impl FnOnce() -> Error + '_ {
        move || Error::VaultNotFound {
            vault: vault.to_owned(),
        }
    }

    fn job_info(vault: &str, j: &GlacierJobDescription) -> Result<JobInfo> {
        let op = "describe_job";
        let action = j
            .action()
            .map_or("", aws_sdk_glacier::types::ActionCode::as_str);
        let range = j.retrieval_byte_range().and_then(parse_inclusive);
        let request = if action == "InventoryRetrieval" {
            let format = match j.inventory_retrieval_parameters().and_then(|p| p.format()) {
                Some("CSV") => InventoryFormat::Csv,
                _ => InventoryFormat::Json,
            };
            JobRequest::InventoryRetrieval {
                format,
                description: j.job_description().map(str::to_owned),
            }
        } else {
            let tier = match j.tier() {
                Some("Expedited") => Tier::Expedited,
                Some("Bulk") => Tier::Bulk,
                _ => Tier::Standard,
            };
            JobRequest::ArchiveRetrieval {
                archive_id: j.archive_id().unwrap_or("").to_owned(),
                tier,
                range: range.clone(),
                description: j.job_description().map(str::to_owned),
            }
        };
        let status = match j
            .status_code()
            .map(aws_sdk_glacier::types::StatusCode::as_str)
        {
            Some("Succeeded") => JobStatus::Succeeded,
            Some("Failed") => JobStatus::Failed,
            _ => JobStatus::InProgress,
        };
        let archive_size = j.archive_size_in_bytes().map(size_of);
        let output_size = if action == "InventoryRetrieval" {
            j.inventory_size_in_bytes().map(size_of)
        } else {
            range.as_ref().map(|r| r.end - r.start).or(archive_size)
        };
        let opt_hash = |s: Option<&str>| s.map(|s| parse_hash(op, vault, Some(s))).transpose();
        Ok(JobInfo {
            job_id: j.job_id().unwrap_or("").to_owned(),
            request,
            status,
            created: date(j.creation_date()),
            completed: j.completion_date().and_then(parse_time),
            output_size,
            output_tree_hash: opt_hash(j.sha256_tree_hash())?,
            archive_size,
            archive_tree_hash: opt_hash(j.archive_sha256_tree_hash())?,
        })
    }
}

impl ArchiveStore for GlacierStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn limits(&self) -> StoreLimits {
        StoreLimits::GLACIER
    }

    fn create_vault(&self, vault: &str) -> Result<()> {
        crate::common::check_vault_name(vault)?;
        let op = "create_vault";
        self.runtime
            .block_on(
                self.client
                    .create_vault()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .send(),
            )
            .map_err(|e| map_err(op, vault, &self.site, Self::vault_not_found(vault), e))?;
        Ok(())
    }

    fn describe_vault(&self, vault: &str) -> Result<VaultInfo> {
        let op = "describe_vault";
        let out = self
            .runtime
            .block_on(
                self.client
                    .describe_vault()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .send(),
            )
            .map_err(|e| map_err(op, vault, &self.site, Self::vault_not_found(vault), e))?;
        Ok(VaultInfo {
            name: out.vault_name().unwrap_or(vault).to_owned(),
            created: date(out.creation_date()),
            archives: size_of(out.number_of_archives()),
            size: size_of(out.size_in_bytes()),
        })
    }

    fn list_vaults(&self) -> Result<Vec<VaultInfo>> {
        let op = "list_vaults";
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .runtime
                .block_on(
                    self.client
                        .list_vaults()
                        .account_id(&self.account_id)
                        .set_marker(marker.clone())
                        .send(),
                )
                .map_err(|e| map_err(op, "", &self.site, Self::vault_not_found(""), e))?;
            for v in page.vault_list() {
                out.push(VaultInfo {
                    name: v.vault_name().unwrap_or("").to_owned(),
                    created: date(v.creation_date()),
                    archives: size_of(v.number_of_archives()),
                    size: size_of(v.size_in_bytes()),
                });
            }
            marker = page.marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    fn delete_vault(&self, vault: &str) -> Result<()> {
        let op = "delete_vault";
        self.runtime
            .block_on(
                self.client
                    .delete_vault()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .send(),
            )
            .map_err(
                |e| match map_err(op, vault, &self.site, Self::vault_not_found(vault), e) {
                    Error::Rejected { message, .. } if message.contains("not empty") => {
                        Error::VaultNotEmpty {
                            vault: vault.to_owned(),
                            reason: message,
                        }
                    }
                    other => other,
                },
            )?;
        Ok(())
    }

    fn upload_archive(
        &self,
        vault: &str,
        description: &str,
        data: &[u8],
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo> {
        let op = "upload_archive";
        let out = self
            .runtime
            .block_on(
                self.client
                    .upload_archive()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .archive_description(description)
                    .checksum(tree_hash.to_hex())
                    .body(ByteStream::from(data.to_vec()))
                    .customize()
                    .config_override(self.sending(data.len()))
                    .send(),
            )
            .map_err(|e| {
                map_err(
                    op,
                    vault,
                    &self.site.sending(data.len() as u64),
                    Self::vault_not_found(vault),
                    e,
                )
            })?;
        let returned = parse_hash(op, vault, out.checksum())?;
        if returned != tree_hash {
            return Err(Error::ArchiveChecksumMismatch {
                vault: vault.to_owned(),
                upload_id: "single request".into(),
                expected: tree_hash,
                actual: returned,
            });
        }
        Ok(ArchiveInfo {
            archive_id: out
                .archive_id()
                .ok_or_else(|| bad(op, vault, "no archive id in the answer"))?
                .to_owned(),
            size: data.len() as u64,
            tree_hash,
            description: description.to_owned(),
            created: SystemTime::now(),
        })
    }

    fn initiate_multipart_upload(
        &self,
        vault: &str,
        description: &str,
        part_size: u64,
    ) -> Result<String> {
        let op = "initiate_multipart_upload";
        crate::common::check_part_size(part_size, &self.limits())?;
        let out = self
            .runtime
            .block_on(
                self.client
                    .initiate_multipart_upload()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .archive_description(description)
                    .part_size(part_size.to_string())
                    .send(),
            )
            .map_err(|e| map_err(op, vault, &self.site, Self::vault_not_found(vault), e))?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| bad(op, vault, "no upload id in the answer"))
    }

    fn upload_part(
        &self,
        vault: &str,
        upload_id: &str,
        range: Range<u64>,
        tree_hash: TreeHash,
        data: &[u8],
    ) -> Result<()> {
        let op = "upload_part";
        if range.start >= range.end || range.end - range.start != data.len() as u64 {
            return Err(Error::InvalidRange {
                vault: vault.to_owned(),
                what: format!("part of upload {upload_id}"),
                range,
                reason: format!("{} bytes of data were given", data.len()),
            });
        }
        let not_found = || Error::UploadNotFound {
            vault: vault.to_owned(),
            upload_id: upload_id.to_owned(),
        };
        let out = self
            .runtime
            .block_on(
                self.client
                    .upload_multipart_part()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .upload_id(upload_id)
                    .range(format!("bytes {}-{}/*", range.start, range.end - 1))
                    .checksum(tree_hash.to_hex())
                    .body(ByteStream::from(data.to_vec()))
                    .customize()
                    .config_override(self.sending(data.len()))
                    .send(),
            )
            .map_err(|e| {
                match map_err(
                    op,
                    vault,
                    &self.site.sending(data.len() as u64),
                    not_found,
                    e,
                ) {
                    Error::Rejected { message, .. } if message.contains("Checksum mismatch") => {
                        Error::PartChecksumMismatch {
                            vault: vault.to_owned(),
                            upload_id: upload_id.to_owned(),
                            range: range.clone(),
                            expected: tree_hash,
                            actual: glacier_treehash::tree_hash(data),
                        }
                    }
                    other => other,
                }
            })?;
        if let Some(h) = out.checksum() {
            let returned = parse_hash(op, vault, Some(h))?;
            if returned != tree_hash {
                return Err(Error::PartChecksumMismatch {
                    vault: vault.to_owned(),
                    upload_id: upload_id.to_owned(),
                    range,
                    expected: tree_hash,
                    actual: returned,
                });
            }
        }
        Ok(())
    }

    fn list_parts(&self, vault: &str, upload_id: &str) -> Result<UploadParts> {
        let op = "list_parts";
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .runtime
                .block_on(
                    self.client
                        .list_parts()
                        .account_id(&self.account_id)
                        .vault_name(vault)
                        .upload_id(upload_id)
                        .set_marker(marker.clone())
                        .send(),
                )
                .map_err(|e| {
                    map_err(
                        op,
                        vault,
                        &self.site,
                        || Error::UploadNotFound {
                            vault: vault.to_owned(),
                            upload_id: upload_id.to_owned(),
                        },
                        e,
                    )
                })?;
            for p in page.parts() {
                let range = p
                    .range_in_bytes()
                    .and_then(parse_inclusive)
                    .ok_or_else(|| bad(op, vault, "a part without a valid RangeInBytes"))?;
                let tree_hash = p
                    .sha256_tree_hash()
                    .map(|h| parse_hash(op, vault, Some(h)))
                    .transpose()?;
                parts.push(PartInfo { range, tree_hash });
            }
            marker = page.marker().map(str::to_owned);
            if marker.is_none() {
                parts.sort_by_key(|p| p.range.start);
                return Ok(UploadParts {
                    upload: UploadInfo {
                        upload_id: upload_id.to_owned(),
                        description: page.archive_description().unwrap_or("").to_owned(),
                        part_size: size_of(page.part_size_in_bytes()),
                        created: date(page.creation_date()),
                    },
                    parts,
                });
            }
        }
    }

    fn complete_multipart_upload(
        &self,
        vault: &str,
        upload_id: &str,
        total_size: u64,
        tree_hash: TreeHash,
    ) -> Result<ArchiveInfo> {
        let op = "complete_multipart_upload";
        let out = self
            .runtime
            .block_on(
                self.client
                    .complete_multipart_upload()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .upload_id(upload_id)
                    .archive_size(total_size.to_string())
                    .checksum(tree_hash.to_hex())
                    .send(),
            )
            .map_err(|e| {
                map_err(
                    op,
                    vault,
                    &self.site,
                    || Error::UploadNotFound {
                        vault: vault.to_owned(),
                        upload_id: upload_id.to_owned(),
                    },
                    e,
                )
            })?;
        Ok(ArchiveInfo {
            archive_id: out
                .archive_id()
                .ok_or_else(|| bad(op, vault, "no archive id in the answer"))?
                .to_owned(),
            size: total_size,
            tree_hash,
            description: String::new(),
            created: SystemTime::now(),
        })
    }

    fn abort_multipart_upload(&self, vault: &str, upload_id: &str) -> Result<()> {
        let op = "abort_multipart_upload";
        self.runtime
            .block_on(
                self.client
                    .abort_multipart_upload()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .upload_id(upload_id)
                    .send(),
            )
            .map_err(|e| {
                map_err(
                    op,
                    vault,
                    &self.site,
                    || Error::UploadNotFound {
                        vault: vault.to_owned(),
                        upload_id: upload_id.to_owned(),
                    },
                    e,
                )
            })?;
        Ok(())
    }

    fn list_multipart_uploads(&self, vault: &str) -> Result<Vec<UploadInfo>> {
        let op = "list_multipart_uploads";
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .runtime
                .block_on(
                    self.client
                        .list_multipart_uploads()
                        .account_id(&self.account_id)
                        .vault_name(vault)
                        .set_marker(marker.clone())
                        .send(),
                )
                .map_err(|e| map_err(op, vault, &self.site, Self::vault_not_found(vault), e))?;
            for u in page.uploads_list() {
                out.push(UploadInfo {
                    upload_id: u.multipart_upload_id().unwrap_or("").to_owned(),
                    description: u.archive_description().unwrap_or("").to_owned(),
                    part_size: size_of(u.part_size_in_bytes()),
                    created: date(u.creation_date()),
                });
            }
            marker = page.marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    fn delete_archive(&self, vault: &str, archive_id: &str) -> Result<()> {
        let op = "delete_archive";
        self.runtime
            .block_on(
                self.client
                    .delete_archive()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .archive_id(archive_id)
                    .send(),
            )
            .map_err(|e| {
                map_err(
                    op,
                    vault,
                    &self.site,
                    || Error::ArchiveNotFound {
                        vault: vault.to_owned(),
                        archive_id: archive_id.to_owned(),
                    },
                    e,
                )
            })?;
        Ok(())
    }

    fn initiate_job(&self, vault: &str, request: &JobRequest) -> Result<String> {
        let op = "initiate_job";
        let params = match request {
            JobRequest::ArchiveRetrieval {
                archive_id,
                tier,
                range,
                description,
            } => JobParameters::builder()
                .r#type("archive-retrieval")
                .archive_id(archive_id)
                .tier(tier.as_str())
                .set_retrieval_byte_range(
                    range
                        .as_ref()
                        .map(|r| format!("{}-{}", r.start, r.end.saturating_sub(1))),
                )
                .set_description(description.clone())
                .build(),
            JobRequest::InventoryRetrieval {
                format,
                description,
            } => JobParameters::builder()
                .r#type("inventory-retrieval")
                .format(format.as_str())
                .set_inventory_retrieval_parameters(Some(
                    InventoryRetrievalJobInput::builder().build(),
                ))
                .set_description(description.clone())
                .build(),
        };
        let archive = match request {
            JobRequest::ArchiveRetrieval { archive_id, .. } => Some(archive_id.clone()),
            JobRequest::InventoryRetrieval { .. } => None,
        };
        let out = self
            .runtime
            .block_on(
                self.client
                    .initiate_job()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .job_parameters(params)
                    .send(),
            )
            .map_err(|e| {
                map_err(
                    op,
                    vault,
                    &self.site,
                    || match archive {
                        Some(archive_id) => Error::ArchiveNotFound {
                            vault: vault.to_owned(),
                            archive_id,
                        },
                        None => Error::VaultNotFound {
                            vault: vault.to_owned(),
                        },
                    },
                    e,
                )
            })?;
        out.job_id()
            .map(str::to_owned)
            .ok_or_else(|| bad(op, vault, "no job id in the answer"))
    }

    fn describe_job(&self, vault: &str, job_id: &str) -> Result<JobInfo> {
        let op = "describe_job";
        let out = self
            .runtime
            .block_on(
                self.client
                    .describe_job()
                    .account_id(&self.account_id)
                    .vault_name(vault)
                    .job_id(job_id)
                    .send(),
            )
            .map_err(|e| {
                map_err(
                    op,
                    vault,
                    &self.site,
                    || Error::JobNotFound {
                        vault: vault.to_owned(),
                        job_id: job_id.to_owned(),
                    },
                    e,
                )
            })?;
        let desc = GlacierJobDescription::builder()
            .set_job_id(out.job_id().map(str::to_owned))
            .set_job_description(out.job_description().map(str::to_owned))
            .set_action(out.action().cloned())
            .set_archive_id(out.archive_id().map(str::to_owned))
            .set_creation_date(out.creation_date().map(str::to_owned))
            .set_status_code(out.status_code().cloned())
            .set_archive_size_in_bytes(out.archive_size_in_bytes())
            .set_inventory_size_in_bytes(out.inventory_size_in_bytes())
            .set_completion_date(out.completion_date().map(str::to_owned))
            .set_sha256_tree_hash(out.sha256_tree_hash().map(str::to_owned))
            .set_archive_sha256_tree_hash(out.archive_sha256_tree_hash().map(str::to_owned))
            .set_retrieval_byte_range(out.retrieval_byte_range().map(str::to_owned))
            .set_tier(out.tier().map(str::to_owned))
            .set_inventory_retrieval_parameters(out.inventory_retrieval_parameters().cloned())
            .build();
        Self::job_info(vault, &desc)
    }

    fn list_jobs(&self, vault: &str) -> Result<Vec<JobInfo>> {
        let op = "list_jobs";
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .runtime
                .block_on(
                    self.client
                        .list_jobs()
                        .account_id(&self.account_id)
                        .vault_name(vault)
                        .set_marker(marker.clone())
                        .send(),
                )
                .map_err(|e| map_err(op, vault, &self.site, Self::vault_not_found(vault), e))?;
            for j in page.job_list() {
                out.push(Self::job_info(vault, j)?);
            }
            marker = page.marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    fn get_job_output(
        &self,
        vault: &str,
        job_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<JobOutput> {
        let op = "get_job_output";
        let not_found = || Error::JobNotFound {
            vault: vault.to_owned(),
            job_id: job_id.to_owned(),
        };
        let (head, data) = self.runtime.block_on(async {
            let out = self
                .client
                .get_job_output()
                .account_id(&self.account_id)
                .vault_name(vault)
                .job_id(job_id)
                .set_range(
                    range
                        .as_ref()
                        .map(|r| format!("bytes={}-{}", r.start, r.end.saturating_sub(1))),
                )
                .send()
                .await
                .map_err(|e| match map_err(op, vault, &self.site, not_found, e) {
                    Error::Rejected { message, .. }
                        if message.contains("not currently available") =>
                    {
                        Error::JobNotReady {
                            vault: vault.to_owned(),
                            job_id: job_id.to_owned(),
                        }
                    }
                    other => other,
                })?;
            let head = (
                out.content_range().map(str::to_owned),
                out.checksum().map(str::to_owned),
            );
            let body = self
                .site
                .read_body(op, vault, "the job output", out.body)
                .await?;
            Ok::<_, Error>((head, body))
        })?;
        let (content_range, checksum) = head;
        let (got, total) = match content_range {
            // "bytes START-END/TOTAL"
            Some(cr) => {
                let spec = cr.trim().strip_prefix("bytes ").unwrap_or(cr.trim());
                let (r, total) = spec
                    .split_once('/')
                    .ok_or_else(|| bad(op, vault, format!("bad Content-Range {cr:?}")))?;
                let r = parse_inclusive(r)
                    .ok_or_else(|| bad(op, vault, format!("bad Content-Range {cr:?}")))?;
                let total: u64 = total
                    .parse()
                    .map_err(|_| bad(op, vault, format!("bad Content-Range {cr:?}")))?;
                (r, total)
            }
            None => (0..data.len() as u64, data.len() as u64),
        };
        if got.end - got.start != data.len() as u64 {
            return Err(Error::Connection {
                operation: op,
                vault: vault.to_owned(),
                message: format!(
                    "Content-Range says {} bytes, {} came",
                    got.end - got.start,
                    data.len()
                ),
            });
        }
        let tree_hash = checksum
            .map(|h| parse_hash(op, vault, Some(&h)))
            .transpose()?;
        Ok(JobOutput {
            range: got,
            total_size: total,
            tree_hash,
            data,
        })
    }
}
