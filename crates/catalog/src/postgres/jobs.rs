//! Retrieval jobs and files' access control entries on PostgreSQL, as the
//! SQLite catalog records them.

use super::PgCatalog;
use crate::catalog::{to_i64, to_u64};
use crate::error::Result;
use crate::model::{AclEntry, ArchiveKey, FileId, JobKey, JobState, RetrievalJob, VaultId};

impl PgCatalog {
    /// Records a retrieval job (its id unique per vault).
    pub(crate) fn add_retrieval_job(&mut self, job: &RetrievalJob) -> Result<JobKey> {
        self.client()
            .query_one(
                "INSERT INTO retrieval_jobs(vault_id, job_id, archive_id, range_start, range_end, tier, requested, state, expires, downloaded_to)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                &[
                    &job.vault.0,
                    &job.job_id,
                    &job.archive.map(|a| a.0),
                    &job.range.map(|r| to_i64(r.0)),
                    &job.range.map(|r| to_i64(r.1)),
                    &job.tier,
                    &job.requested,
                    &job.state.as_str(),
                    &job.expires,
                    &job.downloaded_to,
                ],
            )
            .map(|r| JobKey(r.get(0)))
            .map_err(self.err(format!("recording retrieval job {}", job.job_id)))
    }

    /// Updates a retrieval job's state (and where its output went).
    pub(crate) fn set_job_state(
        &mut self,
        job: JobKey,
        state: JobState,
        downloaded_to: Option<&str>,
    ) -> Result<()> {
        let n = self
            .client()
            .execute(
                "UPDATE retrieval_jobs SET state = $2, downloaded_to = coalesce($3, downloaded_to) WHERE id = $1",
                &[&job.0, &state.as_str(), &downloaded_to],
            )
            .map_err(self.err(format!("updating retrieval job {job}")))?;
        if n == 0 {
            return Err(self.not_found("retrieval job", &job));
        }
        Ok(())
    }

    /// Retrieval jobs, optionally only those in one state, oldest first.
    pub(crate) fn retrieval_jobs(
        &self,
        state: Option<JobState>,
    ) -> Result<Vec<(JobKey, RetrievalJob)>> {
        let rows = self
            .client()
            .query(
                "SELECT id, vault_id, job_id, archive_id, range_start, range_end, tier, requested, state, expires, downloaded_to
                 FROM retrieval_jobs WHERE $1::text IS NULL OR state = $1 ORDER BY id",
                &[&state.map(JobState::as_str)],
            )
            .map_err(self.err("listing retrieval jobs"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let start: Option<i64> = r.get(4);
                let end: Option<i64> = r.get(5);
                (
                    JobKey(r.get(0)),
                    RetrievalJob {
                        vault: VaultId(r.get(1)),
                        job_id: r.get(2),
                        archive: r.get::<_, Option<i64>>(3).map(ArchiveKey),
                        range: start.zip(end).map(|(a, b)| (to_u64(a), to_u64(b))),
                        tier: r.get(6),
                        requested: r.get(7),
                        state: JobState::parse(r.get(8)),
                        expires: r.get(9),
                        downloaded_to: r.get(10),
                    },
                )
            })
            .collect())
    }

    /// Replaces the access control entries of a file.
    pub(crate) fn set_acl(&mut self, file: FileId, entries: &[AclEntry]) -> Result<()> {
        let e = || self.err(format!("setting the ACL of file {file}"));
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        tx.execute("DELETE FROM acl_entries WHERE file_id = $1", &[&file.0])
            .map_err(e())?;
        let st = tx
            .prepare(
                "INSERT INTO acl_entries(file_id, seq, principal, allow, rights, kind, flags, name, text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .map_err(e())?;
        for (i, entry) in entries.iter().enumerate() {
            let kind = match (entry.kind.as_str(), entry.allow) {
                ("", true) => "allow",
                ("", false) => "deny",
                (k, _) => k,
            };
            tx.execute(
                &st,
                &[
                    &file.0,
                    &to_i64(i as u64),
                    &entry.principal,
                    &entry.allow,
                    &i64::from(entry.rights),
                    &kind,
                    &i64::from(entry.flags),
                    &entry.name,
                    &entry.text,
                ],
            )
            .map_err(e())?;
        }
        tx.commit().map_err(e())
    }

    /// The access control entries of a file, in order.
    pub(crate) fn acl(&self, file: FileId) -> Result<Vec<AclEntry>> {
        let rows = self
            .client()
            .query(
                "SELECT principal, allow, rights, kind, flags, name, text FROM acl_entries WHERE file_id = $1 ORDER BY seq",
                &[&file.0],
            )
            .map_err(self.err(format!("reading the ACL of file {file}")))?;
        Ok(rows
            .iter()
            .map(|r| AclEntry {
                principal: r.get(0),
                allow: r.get(1),
                rights: u32::try_from(r.get::<_, i64>(2)).unwrap_or(u32::MAX),
                kind: r.get(3),
                flags: u32::try_from(r.get::<_, i64>(4)).unwrap_or(u32::MAX),
                name: r.get(5),
                text: r.get(6),
            })
            .collect())
    }
}
