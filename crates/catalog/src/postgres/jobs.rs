//! Retrieval jobs, files' ACLs and access control entries, and principal
//! names on PostgreSQL, as the SQLite catalog records them.

use std::collections::HashSet;

use postgres::{GenericClient, Transaction};

use super::PgCatalog;
use crate::acl::{FileAcl, KnownPrincipal};
use crate::catalog::{to_i64, to_u64};
use crate::error::Result;
use crate::model::{
    AclEntry, ArchiveKey, FileEntry, FileId, JobKey, JobState, RetrievalJob, VaultId,
};

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

/// Seconds since the epoch, for `principals.seen`.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| to_i64(d.as_secs()))
}

/// Writes the ACLs of file `file` (whose row exists) inside `tx`; names
/// met are remembered in `principals` (unless already there), as on SQLite.
pub(super) fn insert_acls(
    tx: &mut Transaction<'_>,
    file: i64,
    acls: &[FileAcl],
    seen: &mut HashSet<String>,
) -> Result<(), postgres::Error> {
    let now = now();
    let mut remember = |tx: &mut Transaction<'_>,
                        key: &str,
                        name: Option<&String>|
     -> Result<(), postgres::Error> {
        if let Some(name) = name
            && key.contains(':')
            && !seen.contains(key)
        {
            tx.execute(
                "INSERT INTO principals(key, name, class, seen) VALUES ($1, $2, NULL, $3) ON CONFLICT DO NOTHING",
                &[&key, name, &now],
            )?;
            seen.insert(key.to_owned());
        }
        Ok(())
    };
    let mut seq: i64 = 0;
    for (i, a) in acls.iter().enumerate() {
        let i = to_i64(i as u64);
        tx.execute(
            "INSERT INTO file_acls(file_id, seq, format, value, dflt, owner, owner_name, grp, grp_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &file,
                &i,
                &a.format,
                &a.value,
                &a.default_value,
                &a.owner,
                &a.owner_name,
                &a.group,
                &a.group_name,
            ],
        )?;
        if let Some(o) = &a.owner {
            remember(tx, o, a.owner_name.as_ref())?;
        }
        if let Some(g) = &a.group {
            remember(tx, g, a.group_name.as_ref())?;
        }
        for e in &a.entries {
            tx.execute(
                "INSERT INTO acl_entries(file_id, seq, principal, allow, rights, acl, kind, flags, name, text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &file,
                    &seq,
                    &e.principal,
                    &e.allow,
                    &i64::from(e.rights),
                    &i,
                    &e.kind,
                    &i64::from(e.flags),
                    &e.name,
                    &e.text,
                ],
            )?;
            seq += 1;
            remember(tx, &e.principal, e.name.as_ref())?;
        }
    }
    Ok(())
}

/// The ACLs of file `id`, in order.
pub(super) fn load_acls(
    c: &mut impl GenericClient,
    id: i64,
) -> Result<Vec<FileAcl>, postgres::Error> {
    let mut acls: Vec<FileAcl> = c
        .query(
            "SELECT format, value, dflt, owner, owner_name, grp, grp_name FROM file_acls WHERE file_id = $1 ORDER BY seq",
            &[&id],
        )?
        .iter()
        .map(|r| FileAcl {
            format: r.get(0),
            value: r.get(1),
            default_value: r.get(2),
            owner: r.get(3),
            owner_name: r.get(4),
            group: r.get(5),
            group_name: r.get(6),
            entries: Vec::new(),
        })
        .collect();
    if acls.is_empty() {
        return Ok(acls);
    }
    for r in c.query(
        "SELECT acl, principal, allow, rights, kind, flags, name, text FROM acl_entries WHERE file_id = $1 ORDER BY seq",
        &[&id],
    )? {
        let e = AclEntry {
            principal: r.get(1),
            allow: r.get(2),
            rights: u32::try_from(r.get::<_, i64>(3)).unwrap_or(u32::MAX),
            kind: r.get(4),
            flags: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
            name: r.get(6),
            text: r.get(7),
        };
        if let Some(a) = usize::try_from(r.get::<_, i64>(0))
            .ok()
            .and_then(|i| acls.get_mut(i))
        {
            a.entries.push(e);
        }
    }
    Ok(acls)
}

impl PgCatalog {
    /// The ACLs recorded with a file, in order.
    pub(crate) fn file_acls(&self, file: FileId) -> Result<Vec<FileAcl>> {
        load_acls(&mut *self.client(), file.0)
            .map_err(self.err(format!("reading the ACLs of file {file}")))
    }

    /// Every principal name the catalog remembers.
    pub(crate) fn principals(&self) -> Result<Vec<KnownPrincipal>> {
        Ok(self
            .client()
            .query(
                "SELECT key, name, class FROM principals ORDER BY key COLLATE \"C\"",
                &[],
            )
            .map_err(self.err("reading principal names"))?
            .iter()
            .map(|r| KnownPrincipal {
                key: r.get(0),
                name: r.get(1),
                class: r.get(2),
            })
            .collect())
    }

    /// The names recorded with files' owners and groups, as principals
    /// `uid:N` / `gid:N` of class `user` / `group`.
    pub(crate) fn account_names(&self) -> Result<Vec<KnownPrincipal>> {
        Ok(self
            .client()
            .query(
                "SELECT kind, num, name FROM accounts ORDER BY kind COLLATE \"C\", num",
                &[],
            )
            .map_err(self.err("reading owner and group names"))?
            .iter()
            .map(|r| {
                let (kind, num, name): (String, i64, String) = (r.get(0), r.get(1), r.get(2));
                let (prefix, class) = if kind == "u" {
                    ("uid", "user")
                } else {
                    ("gid", "group")
                };
                KnownPrincipal {
                    key: format!("{prefix}:{num}"),
                    name,
                    class: Some(class.to_owned()),
                }
            })
            .collect())
    }

    /// Remembers principal names (a newer answer replaces an older one).
    pub(crate) fn remember_principals(&mut self, known: &[KnownPrincipal]) -> Result<()> {
        let e = || self.err("remembering principal names");
        let now = now();
        let mut c = self.client();
        let mut tx = c.transaction().map_err(e())?;
        for k in known {
            tx.execute(
                "INSERT INTO principals(key, name, class, seen) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET name = excluded.name,
                    class = coalesce(excluded.class, principals.class), seen = excluded.seen",
                &[&k.key, &k.name, &k.class, &now],
            )
            .map_err(e())?;
        }
        tx.commit().map_err(e())
    }

    /// The files of the archive whose store id is `remote_id` that have
    /// ACLs, with them; only those named in `members` (catalog paths
    /// without the leading `/`) when given.
    pub(crate) fn acls_of_archive(
        &self,
        remote_id: &str,
        members: Option<&[String]>,
    ) -> Result<Vec<FileEntry>> {
        let e = || self.err(format!("reading the ACLs of archive {remote_id}"));
        let wanted: Option<HashSet<&str>> = members.map(|m| m.iter().map(String::as_str).collect());
        let ids: Vec<i64> = self
            .client()
            .query(
                "SELECT f.id FROM files f WHERE f.archive_id IN (SELECT id FROM archives WHERE remote_id = $1)
                   AND f.id IN (SELECT file_id FROM file_acls) ORDER BY f.id",
                &[&remote_id],
            )
            .map_err(e())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::new();
        for id in ids {
            if let Some((_, mut f)) = self.file(FileId(id))? {
                // As on SQLite, whose answer carries no owner or group names.
                (f.owner, f.group) = (None, None);
                if wanted
                    .as_ref()
                    .is_none_or(|w| w.contains(f.path.trim_start_matches('/')))
                {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }
}
