//! Who may read each file (schema 5): the ACLs captured with a file, each
//! kept as the xattr value(s) read (so a restore writes back exactly what
//! was there) and as readable, searchable entries (`acl_entries`, DENY
//! entries in their place); and the names of the principals they name, a
//! cache that lets later runs skip the directory.
//!
//! The catalog does not decode ACLs: callers (glacier-sync through the
//! `archive-acls` crate) hand in [`FileAcl`]s with their entries already
//! read and named.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::catalog::{SqliteCatalog, to_i64};
use crate::error::{CatalogError, Result};
use crate::model::{AclEntry, FileEntry, FileId};

/// One ACL of a file, as captured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAcl {
    /// `posix`, `nfs4` or `nt`.
    pub format: String,
    /// The xattr value as read: `system.posix_acl_access`,
    /// `system.nfs4_acl` or `system.cifs_acl` (hex in JSON).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hexbytes")]
    pub value: Option<Vec<u8>>,
    /// POSIX: `system.posix_acl_default` of a directory.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hexbytes")]
    pub default_value: Option<Vec<u8>>,
    /// NT: the descriptor's owner (a principal key, `sid:S-1-5-...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The owner's name, when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// NT: the descriptor's primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The group's name, when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// The entries, in order.
    #[serde(default)]
    pub entries: Vec<AclEntry>,
}

impl FileAcl {
    /// Whether an entry denies something.
    pub fn has_deny(&self) -> bool {
        self.entries.iter().any(|e| e.kind == "deny")
    }
}

/// A principal's name as last resolved (the `principals` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPrincipal {
    /// The key: `sid:S-1-5-21-...`, `uid:1000`, `gid:50`, `nfs4:alice@x`.
    pub key: String,
    /// Its name.
    pub name: String,
    /// `user`, `group` or `well_known`, when known.
    pub class: Option<String>,
}

/// Writes the ACLs of `file` (whose row exists) inside a transaction;
/// names met are remembered in `principals` (unless already there).
pub(crate) fn insert(
    tx: &Transaction<'_>,
    file: i64,
    acls: &[FileAcl],
    seen: &mut HashSet<String>,
    now: i64,
) -> rusqlite::Result<()> {
    let mut acl_ins = tx.prepare_cached(
        "INSERT INTO file_acls(file_id, seq, format, value, dflt, owner, owner_name, grp, grp_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut ent_ins = tx.prepare_cached(
        "INSERT INTO acl_entries(file_id, seq, principal, allow, rights, acl, kind, flags, name, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut known = tx.prepare_cached(
        "INSERT INTO principals(key, name, class, seen) VALUES (?1, ?2, NULL, ?3) ON CONFLICT DO NOTHING",
    )?;
    let mut remember = |key: &str, name: Option<&String>| -> rusqlite::Result<()> {
        if let Some(name) = name
            && key.contains(':')
            && !seen.contains(key)
        {
            known.execute(params![key, name, now])?;
            seen.insert(key.to_owned());
        }
        Ok(())
    };
    let mut seq: i64 = 0;
    for (i, a) in acls.iter().enumerate() {
        acl_ins.execute(params![
            file,
            to_i64(i as u64),
            a.format,
            a.value,
            a.default_value,
            a.owner,
            a.owner_name,
            a.group,
            a.group_name
        ])?;
        if let Some(o) = &a.owner {
            remember(o, a.owner_name.as_ref())?;
        }
        if let Some(g) = &a.group {
            remember(g, a.group_name.as_ref())?;
        }
        for e in &a.entries {
            ent_ins.execute(params![
                file,
                seq,
                e.principal,
                e.allow,
                e.rights,
                to_i64(i as u64),
                e.kind,
                e.flags,
                e.name,
                e.text
            ])?;
            seq += 1;
            remember(&e.principal, e.name.as_ref())?;
        }
    }
    Ok(())
}

/// The ACLs of file `id`, in order.
pub(crate) fn load(conn: &Connection, id: i64) -> rusqlite::Result<Vec<FileAcl>> {
    let mut acls: Vec<FileAcl> = conn
        .prepare_cached(
            "SELECT format, value, dflt, owner, owner_name, grp, grp_name FROM file_acls
             WHERE file_id = ?1 ORDER BY seq",
        )?
        .query_map([id], |r| {
            Ok(FileAcl {
                format: r.get(0)?,
                value: r.get(1)?,
                default_value: r.get(2)?,
                owner: r.get(3)?,
                owner_name: r.get(4)?,
                group: r.get(5)?,
                group_name: r.get(6)?,
                entries: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    if acls.is_empty() {
        return Ok(acls);
    }
    let mut st = conn.prepare_cached(
        "SELECT acl, principal, allow, rights, kind, flags, name, text FROM acl_entries
         WHERE file_id = ?1 ORDER BY seq",
    )?;
    let mut rows = st.query([id])?;
    while let Some(r) = rows.next()? {
        let acl: i64 = r.get(0)?;
        let e = AclEntry {
            principal: r.get(1)?,
            allow: r.get(2)?,
            rights: r.get(3)?,
            kind: r.get(4)?,
            flags: r.get(5)?,
            name: r.get(6)?,
            text: r.get(7)?,
        };
        if let Some(a) = usize::try_from(acl).ok().and_then(|i| acls.get_mut(i)) {
            a.entries.push(e);
        }
    }
    Ok(acls)
}

/// The files of run `run` that have ACLs.
pub(crate) fn files_of_run(conn: &Connection, run: i64) -> rusqlite::Result<HashSet<i64>> {
    conn.prepare(
        "SELECT DISTINCT file_id FROM file_acls WHERE file_id IN
           (SELECT f.id FROM files f JOIN archives a ON a.id = f.archive_id WHERE a.run_id = ?1)",
    )?
    .query_map([run], |r| r.get(0))?
    .collect()
}

/// Whether file `id` has any ACL row (cheap).
fn has_acls(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM file_acls WHERE file_id = ?1 LIMIT 1")?
        .query_row([id], |_| Ok(()))
        .optional()
        .map(|o| o.is_some())
}

impl SqliteCatalog {
    /// The ACLs recorded with a file, in order (none when it was archived
    /// without `--acls`, or had only mode bits).
    pub(crate) fn file_acls(&self, file: FileId) -> Result<Vec<FileAcl>> {
        load(&self.conn, file.0).map_err(self.err(format!("reading the ACLs of file {file}")))
    }

    /// Every principal name the catalog remembers.
    pub(crate) fn principals(&self) -> Result<Vec<KnownPrincipal>> {
        let mut st = self
            .conn
            .prepare("SELECT key, name, class FROM principals ORDER BY key")
            .map_err(self.err("reading principal names"))?;
        st.query_map([], |r| {
            Ok(KnownPrincipal {
                key: r.get(0)?,
                name: r.get(1)?,
                class: r.get(2)?,
            })
        })
        .map_err(self.err("reading principal names"))?
        .collect::<rusqlite::Result<_>>()
        .map_err(self.err("reading principal names"))
    }

    /// The names recorded with files' owners and groups (the `accounts`
    /// table), as principals `uid:N` / `gid:N` of class `user` / `group`.
    /// A rebuilt catalog has them from the exports' file rows, while
    /// [`Catalog::principals`] holds only the names ACL entries carried.
    pub(crate) fn account_names(&self) -> Result<Vec<KnownPrincipal>> {
        let act = "reading owner and group names";
        let mut st = self
            .conn
            .prepare("SELECT kind, num, name FROM accounts ORDER BY kind, num")
            .map_err(self.err(act))?;
        st.query_map([], |r| {
            let (kind, num, name): (String, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let (prefix, class) = if kind == "u" {
                ("uid", "user")
            } else {
                ("gid", "group")
            };
            Ok(KnownPrincipal {
                key: format!("{prefix}:{num}"),
                name,
                class: Some(class.to_owned()),
            })
        })
        .map_err(self.err(act))?
        .collect::<rusqlite::Result<_>>()
        .map_err(self.err(act))
    }

    /// Remembers principal names (a newer answer replaces an older one).
    pub(crate) fn remember_principals(&mut self, known: &[KnownPrincipal]) -> Result<()> {
        let path = self.path.clone();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| to_i64(d.as_secs()));
        let tx = self.write_tx("remembering principal names")?;
        let sq = |e| CatalogError::sqlite(&path, "remembering principal names", e);
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO principals(key, name, class, seen) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(key) DO UPDATE SET name = excluded.name,
                        class = coalesce(excluded.class, class), seen = excluded.seen",
                )
                .map_err(sq)?;
            for k in known {
                st.execute(params![k.key, k.name, k.class, now])
                    .map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)
    }

    /// The files of the archive whose store id is `remote_id` that have
    /// ACLs, with them (for writing them back after extraction); only
    /// those named in `members` (catalog paths without the leading `/`)
    /// when given.
    pub(crate) fn acls_of_archive(
        &self,
        remote_id: &str,
        members: Option<&[String]>,
    ) -> Result<Vec<FileEntry>> {
        let act = || format!("reading the ACLs of archive {remote_id}");
        let wanted: Option<HashSet<&str>> = members.map(|m| m.iter().map(String::as_str).collect());
        let sql = format!(
            "{} WHERE f.archive_id IN (SELECT id FROM archives WHERE remote_id = ?1)
               AND f.id IN (SELECT file_id FROM file_acls) ORDER BY f.id",
            crate::catalog::FILE_ENTRY_SELECT.replacen(" FROM", ", f.id FROM", 1)
        );
        let mut st = self.conn.prepare(&sql).map_err(self.err(act()))?;
        let mut rows = st.query([remote_id]).map_err(self.err(act()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(self.err(act()))? {
            let mut f = crate::catalog::file_entry(r).map_err(self.err(act()))?;
            if let Some(w) = &wanted
                && !w.contains(f.path.trim_start_matches('/'))
            {
                continue;
            }
            let id: i64 = r.get(6).map_err(self.err(act()))?;
            if has_acls(&self.conn, id).map_err(self.err(act()))? {
                f.acls = load(&self.conn, id).map_err(self.err(act()))?;
                out.push(f);
            }
        }
        Ok(out)
    }
}

/// Bytes as lowercase hex in JSON.
mod hexbytes {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // the signature serde's `with` requires
    pub(super) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => {
                use std::fmt::Write;
                let mut out = String::with_capacity(b.len() * 2);
                for x in b {
                    let _ = write!(out, "{x:02x}");
                }
                s.serialize_some(&out)
            }
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        if s.len() % 2 != 0 || !s.is_ascii() {
            return Err(serde::de::Error::custom(
                "expected an even number of hex digits",
            ));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected hex digits"))
    }
}
