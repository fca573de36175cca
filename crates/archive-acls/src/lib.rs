//! Who may read each archived file: the bridge between the archive engine
//! ([`archiver`]), its [`catalog`] and [`ldap_attrs`].
//!
//! - [`Capture`] is an [`archiver::EntryHook`]: for every file a run
//!   records it reads the ACLs `--acls` asks for ([`AclSelection`]),
//!   names the owner, group and every principal through a
//!   [`ldap_attrs::Cache`] (NSS, well-known SIDs, LDAP / Active Directory;
//!   one lookup per principal, seeded from and saved to the catalog's
//!   principal cache), and puts them on the file's catalog row as
//!   [`catalog::FileAcl`]s: the xattr values as read, and the entries as
//!   text (`DENY alice READ`), DENY entries in their place.
//! - [`Restore`] is an [`archiver::ExtractHook`]: after a retrieval job's
//!   files are extracted it writes their ACLs back from the catalog; an
//!   ACL the target filesystem cannot hold (NFSv4 or CIFS on ext4) goes to
//!   a sidecar file, [`SIDECAR`], in the extraction directory, with one
//!   warning.
//! - [`display`]: a catalog row's owner and ACLs as JSON and text lines.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use archive_acls::Capture;
//! use ldap_attrs::{AclSelection, Cache, Chain, MemoryXattrs, posix};
//!
//! let x = MemoryXattrs::new();
//! // user::rw- user:1001:r-- group::r-- mask::r-- other::---
//! let blob = [
//!     2, 0, 0, 0, 1, 0, 6, 0, 255, 255, 255, 255, 2, 0, 4, 0, 0xe9, 3, 0, 0,
//!     4, 0, 4, 0, 255, 255, 255, 255, 16, 0, 4, 0, 255, 255, 255, 255, 32, 0, 0, 0, 255, 255, 255, 255,
//! ];
//! x.put("/share/report.txt", posix::ACCESS_XATTR, blob.to_vec());
//! let capture = Capture::with_xattrs(AclSelection::Auto, Cache::new(Chain::local()), Arc::new(x));
//! let acls = capture.acls_of("/share/report.txt".as_ref()).unwrap();
//! assert_eq!(acls[0].entries[1].principal, "uid:1001");
//! assert!(acls[0].entries[1].text.starts_with("ALLOW "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use archiver::{EntryHook, ExtractHook, JobPlan};
use catalog::{AclEntry, Catalog, FileAcl, FileEntry, KnownPrincipal};
use ldap_attrs::{
    Account, AccountClass, Acl, AclFormat, AclSelection, AclValues, Cache, CacheStats,
    CaptureError, Chain, Principal, Resolver, Sid, SystemXattrs, XattrError, Xattrs,
};

pub use ldap_attrs;

pub mod display;

/// Flag bit of [`AclEntry::flags`] marking a POSIX default entry.
pub const DEFAULT_ENTRY: u32 = 1 << 31;

/// The sidecar file, in a retrieval's target directory, listing ACLs the
/// target filesystem could not take (JSON lines).
pub const SIDECAR: &str = "permafrost-acls.jsonl";

/// What a [`Capture`] did in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    /// Files looked at.
    pub files: u64,
    /// Files with at least one ACL.
    pub with_acls: u64,
    /// Files whose ACL could not be read (logged each).
    pub failures: u64,
    /// The name cache's figures: lookups (one per distinct principal),
    /// hits, failures.
    pub names: CacheStats,
}

/// Captures owners and ACLs of files as a run records them (see the crate
/// docs).
pub struct Capture<R = Chain> {
    which: AclSelection,
    names: Cache<R>,
    xattrs: Arc<dyn Xattrs>,
    files: AtomicU64,
    with_acls: AtomicU64,
    failures: AtomicU64,
    /// Formats asked for explicitly that a filesystem lacked (warned once).
    unsupported: Mutex<Vec<AclFormat>>,
}

impl<R> std::fmt::Debug for Capture<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("which", &self.which)
            .finish_non_exhaustive()
    }
}

/// A principal's catalog key: `uid:1000`, `sid:S-1-...`, or for entries
/// relative to the file `OWNER@`, `GROUP@`, `OTHER`, `MASK`, `EVERYONE@`.
pub fn principal_key(p: &Principal) -> String {
    p.key().unwrap_or_else(|| p.to_string())
}

/// The inverse of [`principal_key`] for keys that name an account.
pub fn principal_of_key(key: &str) -> Option<Principal> {
    let (kind, rest) = key.split_once(':')?;
    match kind {
        "uid" => rest.parse().ok().map(Principal::Uid),
        "gid" => rest.parse().ok().map(Principal::Gid),
        "sid" => rest.parse::<Sid>().ok().map(Principal::Sid),
        "nfs4" => Some(Principal::Nfs4User(rest.to_owned())),
        "nfs4g" => Some(Principal::Nfs4Group(rest.to_owned())),
        _ => None,
    }
}

/// An ACL as the catalog records it, names from `name`, its xattr
/// value(s) encoded from the model; `None` when it cannot be encoded back
/// into its format's xattr value(s). [`Capture`] records the values as
/// read instead ([`file_acl_as_read`]).
pub fn to_file_acl(acl: &Acl, name: &dyn Fn(&Principal) -> Option<String>) -> Option<FileAcl> {
    let (value, default_value) = match acl.format {
        AclFormat::Posix => ldap_attrs::posix::encode(acl).ok()?,
        AclFormat::Nfs4 => (Some(ldap_attrs::nfs4::encode(acl).ok()?), None),
        AclFormat::Nt => (Some(ldap_attrs::nt::encode(acl).ok()?), None),
    };
    Some(file_acl_as_read(
        acl,
        AclValues {
            value,
            default_value,
        },
        name,
    ))
}

/// An ACL as the catalog records it, names from `name`, with the xattr
/// `values` it was read from (so a restore writes back exactly those
/// bytes: encoding the model again keeps the meaning, not always the
/// layout, e.g. a descriptor whose DACL precedes its owner).
pub fn file_acl_as_read(
    acl: &Acl,
    values: AclValues,
    name: &dyn Fn(&Principal) -> Option<String>,
) -> FileAcl {
    let AclValues {
        value,
        default_value,
    } = values;
    // A POSIX entry that leaves a named principal nothing is recorded as
    // the denial it is (`acl:deny` finds it); its xattr value is kept as
    // read.
    let entry = |e: &ldap_attrs::Ace, kind: ldap_attrs::AceKind, text: String| AclEntry {
        principal: principal_key(&e.who),
        allow: kind == ldap_attrs::AceKind::Allow,
        rights: e.mask,
        kind: kind.label().to_ascii_lowercase(),
        flags: e.flags | if e.default { DEFAULT_ENTRY } else { 0 },
        name: name(&e.who),
        text,
    };
    let entries = acl
        .entries
        .iter()
        .map(|e| entry(e, acl.effective_kind(e), acl.entry_text(e, name)))
        .chain(
            acl.audit
                .iter()
                .map(|e| entry(e, e.kind, e.text(acl.format, name))),
        )
        .collect();
    FileAcl {
        format: acl.format.as_str().to_owned(),
        value,
        default_value,
        owner: acl.owner.as_ref().map(principal_key),
        owner_name: acl.owner.as_ref().and_then(name),
        group: acl.group.as_ref().map(principal_key),
        group_name: acl.group.as_ref().and_then(name),
        entries,
    }
}

/// Decodes a recorded ACL back into the model (from its xattr values).
pub fn from_file_acl(a: &FileAcl) -> Option<Acl> {
    match AclFormat::parse(&a.format)? {
        AclFormat::Posix => {
            ldap_attrs::posix::decode(a.value.as_deref(), a.default_value.as_deref()).ok()
        }
        f => ldap_attrs::decode(f, a.value.as_deref()?).ok(),
    }
}

impl Capture<Chain> {
    /// Captures `which` from the running system's files, naming through
    /// `names`.
    pub fn new(which: AclSelection, names: Cache<Chain>) -> Self {
        Self::with_xattrs(which, names, Arc::new(SystemXattrs))
    }
}

impl<R: Resolver> Capture<R> {
    /// Captures through `xattrs` (tests hand in blobs).
    pub fn with_xattrs(which: AclSelection, names: Cache<R>, xattrs: Arc<dyn Xattrs>) -> Self {
        Capture {
            which,
            names,
            xattrs,
            files: AtomicU64::new(0),
            with_acls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            unsupported: Mutex::new(Vec::new()),
        }
    }

    /// The name cache.
    pub fn names(&self) -> &Cache<R> {
        &self.names
    }

    /// Seeds the name cache with what `catalog` remembers from earlier
    /// runs: the names of owners and groups recorded with files, then the
    /// principal names (the newer answers, when both know one).
    pub fn seed_from(&self, catalog: &Catalog) -> catalog::Result<usize> {
        let mut known = catalog.account_names()?;
        known.extend(catalog.principals()?);
        let n = known.len();
        self.names.seed(known.into_iter().filter_map(|k| {
            let p = principal_of_key(&k.key)?;
            let class =
                k.class
                    .as_deref()
                    .and_then(AccountClass::parse)
                    .unwrap_or(if p.is_group() {
                        AccountClass::Group
                    } else {
                        AccountClass::User
                    });
            Some((
                p,
                Account {
                    name: k.name,
                    class,
                },
            ))
        }));
        Ok(n)
    }

    /// Saves every name resolved in this run to `catalog`.
    pub fn save_to(&self, catalog: &mut Catalog) -> catalog::Result<()> {
        let known: Vec<KnownPrincipal> = self
            .names
            .resolved()
            .into_iter()
            .filter_map(|(p, a)| {
                Some(KnownPrincipal {
                    key: p.key()?,
                    name: a.name,
                    class: Some(a.class.as_str().to_owned()),
                })
            })
            .collect();
        catalog.remember_principals(&known)
    }

    /// What the capture did so far.
    pub fn stats(&self) -> CaptureStats {
        CaptureStats {
            files: self.files.load(Ordering::Relaxed),
            with_acls: self.with_acls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            names: self.names.stats(),
        }
    }

    fn name(&self, p: &Principal) -> Option<String> {
        self.names.lookup(p).map(|a| a.name)
    }

    /// The ACLs of the file at `path`, as the catalog records them.
    ///
    /// # Errors
    /// An ACL attribute that cannot be read or does not decode.
    pub fn acls_of(&self, path: &Path) -> Result<Vec<FileAcl>, CaptureError> {
        let found = ldap_attrs::capture(&*self.xattrs, path, self.which)?;
        if !found.unsupported.is_empty() {
            let mut warned = self
                .unsupported
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for f in found.unsupported {
                if !warned.contains(&f) {
                    tracing::warn!(path = %path.display(), format = %f, "the filesystem has no {f} ACLs: none captured there (further files are not reported)");
                    warned.push(f);
                }
            }
        }
        let name = |p: &Principal| self.name(p);
        // The values as read; encoded from the model only should a reader
        // not have said what it read.
        Ok(found
            .acls
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match found.values.get(i) {
                Some(v) => Some(file_acl_as_read(a, v.clone(), &name)),
                None => to_file_acl(a, &name),
            })
            .collect())
    }
}

impl<R: Resolver> EntryHook for Capture<R> {
    fn before_record(&self, source: &Path, row: &mut FileEntry) {
        self.files.fetch_add(1, Ordering::Relaxed);
        if let Some(u) = row.uid
            && row.owner.is_none()
        {
            row.owner = self.name(&Principal::Uid(u));
        }
        if let Some(g) = row.gid
            && row.group.is_none()
        {
            row.group = self.name(&Principal::Gid(g));
        }
        if self.which == AclSelection::None || row.symlink.is_some() {
            return;
        }
        match self.acls_of(source) {
            Ok(acls) => {
                if !acls.is_empty() {
                    self.with_acls.fetch_add(1, Ordering::Relaxed);
                }
                row.acls = acls;
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %source.display(), error = %e, "ACL not captured");
            }
        }
    }
}

/// What [`Restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestoreStats {
    /// ACLs written back.
    pub applied: u64,
    /// ACLs listed in the sidecar instead.
    pub sidecar: u64,
    /// ACLs that failed for another reason (logged each).
    pub failed: u64,
    /// The sidecar files written.
    pub sidecars: Vec<PathBuf>,
}

/// Writes recorded ACLs back after extraction (see the crate docs).
pub struct Restore {
    xattrs: Arc<dyn Xattrs>,
    stats: Mutex<RestoreStats>,
}

impl std::fmt::Debug for Restore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restore")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Restore {
    fn default() -> Self {
        Self::new(Arc::new(SystemXattrs))
    }
}

#[derive(serde::Serialize)]
struct SidecarLine<'a> {
    path: &'a str,
    format: &'a str,
    xattr: &'a str,
    reason: String,
    owner: Option<&'a str>,
    group: Option<&'a str>,
    entries: Vec<&'a str>,
    acl: &'a FileAcl,
}

impl Restore {
    /// Writes through `xattrs`.
    pub fn new(xattrs: Arc<dyn Xattrs>) -> Self {
        Restore {
            xattrs,
            stats: Mutex::new(RestoreStats::default()),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> RestoreStats {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn write(&self, target: &Path, a: &FileAcl) -> Result<(), XattrError> {
        let name = match a.format.as_str() {
            "posix" => ldap_attrs::posix::ACCESS_XATTR,
            "nfs4" => ldap_attrs::nfs4::XATTR,
            _ => ldap_attrs::nt::XATTR,
        };
        if let Some(v) = &a.value {
            self.xattrs.set(target, name, v)?;
        }
        if let Some(d) = &a.default_value {
            self.xattrs
                .set(target, ldap_attrs::posix::DEFAULT_XATTR, d)?;
        }
        Ok(())
    }

    /// Writes the ACLs of `files` (catalog rows with their ACLs) under
    /// `to`; returns the lines for the sidecar.
    pub fn apply(&self, files: &[FileEntry], to: &Path) -> Vec<String> {
        let mut side = Vec::new();
        let mut st = RestoreStats::default();
        for f in files {
            let target = to.join(f.path.trim_start_matches('/'));
            for a in &f.acls {
                match self.write(&target, a) {
                    Ok(()) => st.applied += 1,
                    Err(e) => {
                        let unsupported = matches!(e, XattrError::NotSupported { .. });
                        if unsupported {
                            st.sidecar += 1;
                        } else {
                            st.failed += 1;
                            tracing::warn!(path = %target.display(), error = %e, "ACL not restored; listed in {SIDECAR}");
                        }
                        let xattr = match a.format.as_str() {
                            "posix" => ldap_attrs::posix::ACCESS_XATTR,
                            "nfs4" => ldap_attrs::nfs4::XATTR,
                            _ => ldap_attrs::nt::XATTR,
                        };
                        let line = SidecarLine {
                            path: &f.path,
                            format: &a.format,
                            xattr,
                            reason: e.to_string(),
                            owner: a.owner_name.as_deref().or(a.owner.as_deref()),
                            group: a.group_name.as_deref().or(a.group.as_deref()),
                            entries: a.entries.iter().map(|e| e.text.as_str()).collect(),
                            acl: a,
                        };
                        if let Ok(s) = serde_json::to_string(&line) {
                            side.push(s);
                        }
                    }
                }
            }
        }
        let mut total = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        total.applied += st.applied;
        total.sidecar += st.sidecar;
        total.failed += st.failed;
        side
    }

    /// Appends `lines` to the sidecar in `to`.
    fn sidecar(to: &Path, lines: &[String]) -> std::io::Result<PathBuf> {
        let path = to.join(SIDECAR);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        for l in lines {
            writeln!(f, "{l}")?;
        }
        Ok(path)
    }
}

impl ExtractHook for Restore {
    fn after_extract(&self, catalog: &Catalog, plan: &JobPlan) {
        let files = match catalog.acls_of_archive(&plan.archive_id, plan.members.as_deref()) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(archive = %plan.archive_id, error = %e, "ACLs not restored: the catalog could not be read");
                return;
            }
        };
        let lines = self.apply(&files, &plan.to);
        if lines.is_empty() {
            return;
        }
        match Self::sidecar(&plan.to, &lines) {
            Ok(path) => {
                let mut st = self
                    .stats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // One warning per sidecar however many jobs add to it
                // (a retrieval of many bundles is one job each).
                if st.sidecars.contains(&path) {
                    tracing::info!(
                        "{} more ACLs listed in {} (not supported by the target filesystem)",
                        lines.len(),
                        path.display()
                    );
                } else {
                    tracing::warn!(
                        "{} ACLs could not be written back (the target filesystem lacks their xattrs); listed in {} (with any more of this run, without another warning)",
                        lines.len(),
                        path.display()
                    );
                    st.sidecars.push(path);
                }
            }
            Err(e) => {
                tracing::warn!(dir = %plan.to.display(), error = %e, "ACLs not restored and the sidecar file could not be written");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap_attrs::{MemoryXattrs, nt};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `O:S-1-5-21-1-2-3-1001D:(D;;FA;;;S-1-5-21-1-2-3-1002)(A;;0x1200a9;;;WD)`
    fn descriptor() -> Vec<u8> {
        hex(&[
            "01000480",
            "14000000",
            "00000000",
            "00000000",
            "30000000",
            "010500000000000515000000010000000200000003000000e9030000",
            "040040000200000001002400ff011f00010500000000000515000000010000000200000003000000ea030000",
            "00001400a9001200010100000000000100000000",
        ]
        .concat())
    }

    #[test]
    fn deny_entries_stay_in_order_and_restore_falls_back_to_a_sidecar() {
        let x = Arc::new(MemoryXattrs::new());
        x.put("/s/f", nt::XATTR, descriptor());
        let cap = Capture::with_xattrs(AclSelection::Cifs, Cache::new(Chain::local()), x.clone());
        let mut row = FileEntry {
            path: "/s/f".into(),
            ..FileEntry::default()
        };
        cap.before_record(Path::new("/s/f"), &mut row);
        let a = &row.acls[0];
        assert_eq!(a.format, "nt");
        assert_eq!(a.owner.as_deref(), Some("sid:S-1-5-21-1-2-3-1001"));
        let texts: Vec<&str> = a.entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            ["DENY S-1-5-21-1-2-3-1002 FULL", "ALLOW Everyone READ"]
        );
        assert_eq!(a.entries[0].kind, "deny");
        assert_eq!(a.value.as_deref(), Some(&descriptor()[..]));
        assert_eq!(
            from_file_acl(a).unwrap(),
            nt::decode(&descriptor()).unwrap()
        );

        // A target without CIFS xattrs: listed in the sidecar.
        let dir = tempfile::tempdir().unwrap();
        let none = Arc::new(MemoryXattrs::new().unsupported(&[nt::XATTR]));
        let r = Restore::new(none);
        let lines = r.apply(std::slice::from_ref(&row), dir.path());
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("DENY S-1-5-21-1-2-3-1002 FULL"),
            "{}",
            lines[0]
        );
        assert_eq!(r.stats().sidecar, 1);
        // One that has them: written back as read.
        let yes = Arc::new(MemoryXattrs::new());
        let r = Restore::new(yes.clone());
        assert!(r.apply(std::slice::from_ref(&row), dir.path()).is_empty());
        assert_eq!(
            yes.get(&dir.path().join("s/f"), nt::XATTR).unwrap(),
            Some(descriptor())
        );
    }

    /// A descriptor laid out as Windows does (DACL before the owner): the
    /// catalog keeps and a restore writes back its own bytes, not our
    /// re-encoding (owner first), which means the same but differs.
    #[test]
    fn values_are_kept_as_read_not_re_encoded() {
        // 01 00 0480: revision 1, DACL_PRESENT | SELF_RELATIVE; owner at
        // 0x40, no group or SACL, DACL at 0x14: one ACCESS_DENIED FULL
        // ACE for S-1-5-21-1-2-3-1002; then the owner S-1-5-21-1-2-3-1001.
        let windows = hex(&[
            "01000480",
            "40000000",
            "00000000",
            "00000000",
            "14000000",
            "02002c0001000000",
            "01002400ff011f00010500000000000515000000010000000200000003000000ea030000",
            "010500000000000515000000010000000200000003000000e9030000",
        ]
        .concat());
        let decoded = nt::decode(&windows).unwrap();
        assert_ne!(nt::encode(&decoded).unwrap(), windows, "the layouts differ");
        let x = Arc::new(MemoryXattrs::new());
        x.put("/s/w", nt::XATTR, windows.clone());
        let cap = Capture::with_xattrs(AclSelection::Auto, Cache::new(Chain::local()), x);
        let acls = cap.acls_of(Path::new("/s/w")).unwrap();
        assert_eq!(acls[0].value.as_deref(), Some(&windows[..]));
        assert_eq!(acls[0].entries[0].text, "DENY S-1-5-21-1-2-3-1002 FULL");
        assert_eq!(from_file_acl(&acls[0]).unwrap(), decoded);
        let row = FileEntry {
            path: "/s/w".into(),
            acls,
            ..FileEntry::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let yes = Arc::new(MemoryXattrs::new());
        assert!(
            Restore::new(yes.clone())
                .apply(&[row], dir.path())
                .is_empty()
        );
        assert_eq!(
            yes.get(&dir.path().join("s/w"), nt::XATTR).unwrap(),
            Some(windows)
        );
    }
}
