//! Asking a vault's store for its inventory without waiting for it: a
//! local store answers at once, a Glacier inventory job takes hours, so a
//! caller keeps the job id and asks again on a later run.

use glacier_multipart::{Inventory, InventoryFormat, JobRequest, JobStatus};

use crate::error::{Error, Result};
use crate::options::Vault;

/// An inventory asked of the store: ready, or a job still running.
#[derive(Debug)]
pub enum InventoryRequest {
    /// The store answered.
    Ready(Inventory),
    /// The inventory job has not finished (hours on Glacier): ask again
    /// with this job id.
    Pending(String),
}

/// Asks `vault`'s store for an inventory, or reads job `pending` (from an
/// earlier call) when it has finished. A local store answers at once.
pub fn request_inventory(vault: &Vault, pending: Option<&str>) -> Result<InventoryRequest> {
    let v = &vault.name;
    let job = match pending {
        Some(j) => j.to_owned(),
        None => vault
            .store
            .initiate_job(v, &JobRequest::inventory(InventoryFormat::Json))
            .map_err(Error::store(format!(
                "requesting the inventory of vault {v}"
            )))?,
    };
    let status = match vault.store.describe_job(v, &job) {
        Ok(info) => info.status,
        // The job expired or never was: start again.
        Err(glacier_multipart::Error::JobNotFound { .. }) if pending.is_some() => {
            return request_inventory(vault, None);
        }
        Err(e) => {
            return Err(Error::Store {
                action: format!("describing inventory job {job} of vault {v}"),
                source: e,
            });
        }
    };
    match status {
        JobStatus::Succeeded => {}
        JobStatus::InProgress => return Ok(InventoryRequest::Pending(job)),
        // A failed job (rare): ask for a new one.
        JobStatus::Failed if pending.is_some() => return request_inventory(vault, None),
        JobStatus::Failed => {
            return Ok(InventoryRequest::Pending(job));
        }
    }
    let data = vault
        .store
        .get_job_output(v, &job, None)
        .map_err(Error::store(format!(
            "reading inventory job {job} of vault {v}"
        )))?
        .data;
    let inventory = Inventory::parse(&data).map_err(|source| Error::Inventory { job, source })?;
    Ok(InventoryRequest::Ready(inventory))
}
