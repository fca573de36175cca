//! The rows a catalog holds, as plain values.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A store's number in this catalog.
    StoreId
);
id_type!(
    /// A vault's number in this catalog.
    VaultId
);
id_type!(
    /// A run's number in this catalog (its [`Run::uid`] is the same everywhere).
    RunId
);
id_type!(
    /// An archive's number in this catalog (not the store's archive id).
    ArchiveKey
);
id_type!(
    /// A file row's number in this catalog; search results are ordered by it.
    FileId
);
id_type!(
    /// A retrieval job's number in this catalog (not the store's job id).
    JobKey
);
id_type!(
    /// A tape volume's number in this catalog.
    VolumeId
);
id_type!(
    /// A tape target's number in this catalog.
    TargetId
);
id_type!(
    /// A tape backup's number in this catalog.
    BackupId
);

/// A run about to begin: one pass of archiving over some roots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// Stable identity across catalogs; generated when `None`.
    pub uid: Option<String>,
    /// The root directories walked.
    pub roots: Vec<String>,
    /// Free text, searchable.
    pub description: String,
    /// Tags, searchable with `tag:` and as words.
    pub tags: Vec<String>,
    /// The options the run was made with (selection, bundle limits...).
    pub options: BTreeMap<String, String>,
    /// Start time, seconds since the epoch.
    pub started: i64,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Number in this catalog.
    pub id: RunId,
    /// Stable identity across catalogs.
    pub uid: String,
    /// The root directories walked.
    pub roots: Vec<String>,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Options.
    pub options: BTreeMap<String, String>,
    /// Start time.
    pub started: i64,
    /// End time, once finished.
    pub ended: Option<i64>,
    /// Files recorded.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
}

/// Where an archive is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveState {
    /// Being uploaded: not yet safe.
    Uploading,
    /// In the store.
    Stored,
    /// Deleted from the store (kept for history).
    Deleted,
    /// Deleted from the store by `backup prune` (kept for history: `find`
    /// still says the file existed).
    Pruned,
    /// Recorded as stored but found absent from the store's inventory by
    /// `backup reconcile` (kept for history).
    Missing,
}

/// How the catalog keeps [`ArchiveState::Pruned`] and
/// [`ArchiveState::Missing`]: the archives table's `state` column is
/// `deleted` (its CHECK constraint knows no more), and the archive has the
/// tag of the state's name (so `find tag:pruned` finds such files too).
/// The SQL expression, over archive alias `a`, of the state read back (a
/// macro, for `concat!`).
macro_rules! state_sql {
    () => {
        "CASE WHEN a.state = 'deleted' THEN coalesce((SELECT t.name FROM archive_tags x CROSS JOIN tags t ON t.id = x.tag_id WHERE x.archive_id = a.id AND t.name IN ('missing', 'pruned') ORDER BY t.name LIMIT 1), 'deleted') ELSE a.state END"
    };
}
pub(crate) use state_sql;

impl ArchiveState {
    /// The state as the catalog stores it (`stored`, `pruned`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveState::Uploading => "uploading",
            ArchiveState::Stored => "stored",
            ArchiveState::Deleted => "deleted",
            ArchiveState::Pruned => "pruned",
            ArchiveState::Missing => "missing",
        }
    }

    /// The value of the archives table's `state` column for this state,
    /// and the tag that tells why, when one does (see `state_sql!`).
    pub(crate) fn column(self) -> (&'static str, Option<&'static str>) {
        match self {
            ArchiveState::Pruned | ArchiveState::Missing => ("deleted", Some(self.as_str())),
            _ => (self.as_str(), None),
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "stored" => ArchiveState::Stored,
            "deleted" => ArchiveState::Deleted,
            "pruned" => ArchiveState::Pruned,
            "missing" => ArchiveState::Missing,
            _ => ArchiveState::Uploading,
        }
    }
}

/// An archive about to be recorded: one bundle of a run in one vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewArchive {
    /// The run it belongs to.
    pub run: RunId,
    /// Where it goes.
    pub vault: VaultId,
    /// The store's archive id, when already known.
    pub remote_id: Option<String>,
    /// Plain (uncompressed) bytes.
    pub size: u64,
    /// Bytes in the store, once known.
    pub stored_size: Option<u64>,
    /// Tree hash (hex), once known.
    pub tree_hash: Option<String>,
    /// Free text, searchable.
    pub description: String,
    /// Tags, searchable.
    pub tags: Vec<String>,
    /// Creation time.
    pub created: i64,
    /// Life state.
    pub state: ArchiveState,
    /// Fingerprints of the encryption recipients (never keys).
    pub recipients: Vec<String>,
}

/// An archive as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archive {
    /// Number in this catalog.
    pub key: ArchiveKey,
    /// Position within its run (0, 1, ...).
    pub seq: u64,
    /// Store name.
    pub store: String,
    /// Vault name.
    pub vault: String,
    /// Everything else as recorded.
    #[serde(flatten)]
    pub info: NewArchive,
    /// Files recorded in it.
    pub files: u64,
}

/// A compressed byte range of a stored archive and the uncompressed offset
/// at which decoding it starts (a seekable-zstd frame boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedRange {
    /// First byte in the stored archive.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Offset in the uncompressed bundle stream where `start` decodes to.
    pub origin: u64,
}

/// Where a file's member sits inside its bundle, so that a retrieval can
/// fetch only the bytes that hold it. Files are never split across bundles,
/// and the frames that hold one member are contiguous, so one range suffices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLocation {
    /// Position of the member in the bundle (0-based).
    pub index: u64,
    /// Offset of the member's header in the uncompressed bundle stream.
    pub offset: u64,
    /// The compressed bytes that hold the member, for seekable bundles.
    pub packed: Option<PackedRange>,
}

/// One file to record, or as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Absolute path.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Access time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atime: Option<i64>,
    /// Change time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<i64>,
    /// Unix mode bits (type and permissions).
    #[serde(default)]
    pub mode: u32,
    /// Owner id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Owner name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// SHA-256 of the content, hex in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex32")]
    pub sha256: Option<[u8; 32]>,
    /// Target of a symbolic link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink: Option<String>,
    /// Location inside the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberLocation>,
    /// ACLs captured with the file (POSIX, then NFSv4, then NT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acls: Vec<crate::acl::FileAcl>,
}

/// One search result, or one version of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHit {
    /// Row number (the paging cursor).
    pub id: FileId,
    /// Absolute path.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// SHA-256, hex in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex32")]
    pub sha256: Option<[u8; 32]>,
    /// The archive's number in this catalog.
    pub archive: ArchiveKey,
    /// The store's archive id, once stored.
    pub archive_id: Option<String>,
    /// Store name.
    pub store: String,
    /// Vault name.
    pub vault: String,
    /// Archive state.
    pub state: ArchiveState,
    /// The run.
    pub run: RunId,
    /// The archive's creation time.
    pub archived: i64,
    /// Location inside the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberLocation>,
    /// For a file on tape: the volume, tape file and block where it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<crate::tape::TapePosition>,
}

/// Which page of results to return: at most `limit` hits with ids after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Hits per page (1..=10 000).
    pub limit: u32,
    /// Continue after this id (the previous page's `next`).
    pub after: Option<FileId>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 50,
            after: None,
        }
    }
}

impl Page {
    /// The first page of `limit` hits.
    pub fn first(limit: u32) -> Self {
        Page { limit, after: None }
    }
}

/// One page of search results: the stable JSON form of a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    /// The query, in canonical form.
    pub query: String,
    /// Hits, by ascending id.
    pub hits: Vec<FileHit>,
    /// Pass as [`Page::after`] for the next page; `None` on the last page.
    pub next: Option<FileId>,
}

/// The state of a retrieval job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Asked for, not ready.
    Requested,
    /// Output ready to download.
    Ready,
    /// Output downloaded (and verified).
    Downloaded,
    /// Failed.
    Failed,
    /// Output expired before download.
    Expired,
}

impl JobState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobState::Requested => "requested",
            JobState::Ready => "ready",
            JobState::Downloaded => "downloaded",
            JobState::Failed => "failed",
            JobState::Expired => "expired",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "ready" => JobState::Ready,
            "downloaded" => JobState::Downloaded,
            "failed" => JobState::Failed,
            "expired" => JobState::Expired,
            _ => JobState::Requested,
        }
    }
}

/// A retrieval job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrievalJob {
    /// The vault it runs in.
    pub vault: VaultId,
    /// The store's job id.
    pub job_id: String,
    /// The archive retrieved (`None` for inventory jobs).
    pub archive: Option<ArchiveKey>,
    /// The byte range `[start, end)` retrieved, when not the whole archive.
    pub range: Option<(u64, u64)>,
    /// Retrieval tier ("Expedited", "Standard", "Bulk"...).
    pub tier: String,
    /// When asked for.
    pub requested: i64,
    /// State.
    pub state: JobState,
    /// When the output expires.
    pub expires: Option<i64>,
    /// Where the output went.
    pub downloaded_to: Option<String>,
}

/// One access control entry of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    /// Who, as a stable key: `uid:1000`, `gid:50`, `sid:S-1-5-21-...`,
    /// `nfs4:alice@example.com`, or for entries relative to the file
    /// `OWNER@`, `GROUP@`, `OTHER`, `MASK`, `EVERYONE@`.
    pub principal: String,
    /// Allow (true) or anything else (false: see `kind`).
    pub allow: bool,
    /// Rights mask, in the ACL format's own bits.
    pub rights: u32,
    /// `allow`, `deny`, `audit`, `alarm` or `typeN`.
    #[serde(default = "allow_kind")]
    pub kind: String,
    /// The format's flag bits (inheritance, POSIX default entries: bit 31).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub flags: u32,
    /// The principal's name when it was resolved at capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The entry as one line: `DENY alice READ [INHERITED]`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

fn allow_kind() -> String {
    "allow".to_owned()
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // the signature serde's `with` requires
    pub(super) fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => {
                use std::fmt::Write;
                let mut out = String::with_capacity(64);
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
    ) -> Result<Option<[u8; 32]>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        crate::model::parse_hex32(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

pub(crate) fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A work unit of a run shared by many hosts, as claimed by one worker
/// (`holder`): see [`Catalog::insert_many_claimed`](crate::Catalog::insert_many_claimed)
/// and, with the `postgres` feature, `WorkQueue`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnitClaim {
    /// The run's uid.
    pub run: String,
    /// The unit's number in its run.
    pub unit: u32,
    /// Who claimed it (a host and process).
    pub holder: String,
}

impl std::fmt::Display for UnitClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unit {} of run {}", self.unit, self.run)
    }
}
