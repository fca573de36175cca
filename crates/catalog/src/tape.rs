//! Tape volumes as a kind of store location, and the tape workflow.
//!
//! A directory written to tape (a *target*) is imported first: its files,
//! in tar-stream order, with MD5 and SHA-256. A *backup* is a target
//! assigned to a tape volume; it is written as one tar stream in one or
//! more *parts*, each a tape file (a target cut by the end of a tape goes
//! on on the next). Once a backup is wholly on tape it is recorded as a run
//! with one archive in store [`TAPE_STORE`] (kind `tape`, vault: the label
//! of the volume holding its first part), whose files are the members,
//! each with the volume, tape file and block where it starts: searches and
//! [`Catalog::where_is`] answer for them as for files in the cloud, with
//! [`FileHit::tape`] set.
//!
//! The catalog stores what it is told: where the blocks of a part lie is
//! the tape writer's business (`tape-io`), which computes each member's
//! position.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::api::Catalog;
use crate::catalog::{SqliteCatalog, insert_archive, insert_run, join_path, to_i64, to_u64};
use crate::error::{CatalogError, Result};
use crate::model::{
    ArchiveKey, ArchiveState, BackupId, FileEntry, FileHit, FileId, MemberLocation, NewArchive,
    NewRun, TargetId, VolumeId,
};

/// The store every tape volume belongs to (kind `tape`).
pub const TAPE_STORE: &str = "tape";

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            /// The name stored in the catalog.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }

            /// The value of a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$v),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum!(
    /// Where a tape volume is in its life.
    VolumeStatus {
        /// Takes new backups.
        Open = "open",
        /// Reached the end of its medium.
        Full = "full",
        /// Closed by the operator: takes nothing more.
        Closed = "closed",
        /// Not to be trusted.
        Garbage = "garbage",
    }
);

status_enum!(
    /// Where a backup is in its life.
    BackupStatus {
        /// Assigned to a volume, nothing written yet.
        Assigned = "assigned",
        /// Some parts written; the next goes on another volume.
        Partial = "partial",
        /// Wholly on tape.
        Recorded = "recorded",
        /// Read back and verified.
        Confirmed = "confirmed",
        /// Writing or verifying found a difference.
        Failed = "failed",
    }
);

/// One tape cartridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapeVolume {
    /// Number in this catalog.
    pub id: VolumeId,
    /// The label in its file 0 (the tape's name).
    pub label: String,
    /// Serial number (barcode).
    pub serial: String,
    /// Life state.
    pub status: VolumeStatus,
    /// In the drive (at most one volume is).
    pub online: bool,
    /// When it was registered.
    pub created: i64,
}

/// A directory to write to tape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapeTarget {
    /// Number in this catalog.
    pub id: TargetId,
    /// The name the operator gave it (a path, maybe relative or remote).
    pub name: String,
    /// Its absolute path, under which its files are recorded.
    pub root: String,
    /// On another host.
    pub remote: bool,
    /// When it was imported.
    pub imported: i64,
}

/// One file of a target as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFile {
    /// Path relative to the target, raw bytes.
    pub name: Vec<u8>,
    /// Bytes.
    pub size: u64,
    /// MD5 of the content.
    pub md5: [u8; 16],
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
}

/// A target assigned to a volume, and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeBackup {
    /// Number in this catalog.
    pub id: BackupId,
    /// The target.
    pub target: TargetId,
    /// The target's name.
    pub target_name: String,
    /// The target's absolute path.
    pub root: String,
    /// The target is on another host.
    pub remote: bool,
    /// The volume assigned (then: the one holding the last part written).
    pub volume: VolumeId,
    /// Life state.
    pub status: BackupStatus,
    /// The archive recording its files, once wholly on tape.
    pub archive: Option<ArchiveKey>,
    /// When assigned.
    pub created: i64,
    /// When (its last part was) written.
    pub archived: Option<i64>,
    /// When last confirmed.
    pub confirmed: Option<i64>,
}

/// From block `block` of a part on (which begins at `stream_offset` of the
/// stream), blocks are `block_size` bytes: how a part records a block size
/// that changed while it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRun {
    /// Block number within the tape file (the part header is block 0).
    pub block: u64,
    /// Stream offset of the first byte of that block.
    pub stream_offset: u64,
    /// Bytes per block from there on.
    pub block_size: u64,
}

/// A part to record: one tape file holding a stretch of a backup's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPart {
    /// Part index (0 for the first).
    pub part: u32,
    /// The volume written.
    pub volume: VolumeId,
    /// Its tape file number.
    pub file_number: u64,
    /// Stream offset of its first data byte.
    pub stream_start: u64,
    /// Stream offset just past its last byte.
    pub stream_end: u64,
    /// Block size (of the header block, and of data blocks unless `blocks`
    /// says otherwise).
    pub block_size: u64,
    /// Changes of block size within the part (empty: none).
    pub blocks: Vec<BlockRun>,
    /// The stream ends in this part.
    pub complete: bool,
}

/// A recorded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapePart {
    /// The backup it belongs to.
    pub backup: BackupId,
    /// What was recorded.
    pub info: NewPart,
    /// The volume's label.
    pub label: String,
    /// When written.
    pub written: i64,
}

/// Where a member starts on tape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TapePosition {
    /// The volume's label.
    pub volume: String,
    /// Tape file number.
    pub file_number: u64,
    /// Block within the tape file holding the first byte of its tar header
    /// (block 0 is the part header).
    pub block: u64,
    /// Offset of that byte in the backup's tar stream.
    pub offset: u64,
}

impl fmt::Display for TapePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tape {} file {} block {}",
            self.volume, self.file_number, self.block
        )
    }
}

/// A member of a backup to record with [`Tapes::record_backup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeMember {
    /// Path relative to the target, raw bytes.
    pub name: Vec<u8>,
    /// Bytes.
    pub size: u64,
    /// Unix mode bits.
    pub mode: u32,
    /// Modification time, seconds.
    pub mtime: i64,
    /// SHA-256 of the content.
    pub sha256: Option<[u8; 32]>,
    /// The volume holding its first byte.
    pub volume: VolumeId,
    /// That tape file.
    pub file_number: u64,
    /// That block.
    pub block: u64,
    /// Stream offset of its tar header.
    pub offset: u64,
}

/// A member as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMember {
    /// Its file row.
    pub file: FileId,
    /// Path relative to the target, raw bytes.
    pub name: Vec<u8>,
    /// Its path in the catalog.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Where it starts.
    pub position: TapePosition,
}

/// One part on a volume, for a listing of the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFile {
    /// The part.
    pub part: TapePart,
    /// Its target's name.
    pub target: String,
    /// Its backup's state.
    pub status: BackupStatus,
}

/// The catalog's tape tables: volumes, targets, backups, parts and member
/// positions. Get one with [`Catalog::tape`].
#[derive(Debug)]
pub struct Tapes<'a> {
    cat: &'a mut Catalog,
}

impl<'a> Tapes<'a> {
    pub(crate) fn new(cat: &'a mut Catalog) -> Self {
        Tapes { cat }
    }
}

fn bad_value(col: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unknown {what} (corrupt catalog)").into(),
    )
}

fn volume_status(r: &Row<'_>, col: usize) -> rusqlite::Result<VolumeStatus> {
    VolumeStatus::parse(&r.get::<_, String>(col)?).ok_or_else(|| bad_value(col, "volume status"))
}

fn backup_status(r: &Row<'_>, col: usize) -> rusqlite::Result<BackupStatus> {
    BackupStatus::parse(&r.get::<_, String>(col)?).ok_or_else(|| bad_value(col, "backup status"))
}

fn blob<const N: usize>(r: &Row<'_>, col: usize) -> rusqlite::Result<[u8; N]> {
    let v: Vec<u8> = r.get(col)?;
    v.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Blob,
            format!("expected {N} bytes (corrupt catalog)").into(),
        )
    })
}

/// `BLOCK:OFFSET:SIZE ...`
fn encode_blocks(runs: &[BlockRun]) -> String {
    runs.iter()
        .map(|r| format!("{}:{}:{}", r.block, r.stream_offset, r.block_size))
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_blocks(s: &str, col: usize) -> rusqlite::Result<Vec<BlockRun>> {
    s.split_ascii_whitespace()
        .map(|t| {
            let mut it = t.split(':').map(str::parse::<u64>);
            match (it.next(), it.next(), it.next(), it.next()) {
                (Some(Ok(block)), Some(Ok(stream_offset)), Some(Ok(block_size)), None) => {
                    Ok(BlockRun {
                        block,
                        stream_offset,
                        block_size,
                    })
                }
                _ => Err(bad_value(col, "block layout")),
            }
        })
        .collect()
}

const VOLUME_COLS: &str = "SELECT id, label, serial, status, online, created FROM tape_volumes";

fn volume_row(r: &Row<'_>) -> rusqlite::Result<TapeVolume> {
    Ok(TapeVolume {
        id: VolumeId(r.get(0)?),
        label: r.get(1)?,
        serial: r.get(2)?,
        status: volume_status(r, 3)?,
        online: r.get(4)?,
        created: r.get(5)?,
    })
}

const TARGET_COLS: &str = "SELECT id, name, root, remote, imported FROM tape_targets";

fn target_row(r: &Row<'_>) -> rusqlite::Result<TapeTarget> {
    Ok(TapeTarget {
        id: TargetId(r.get(0)?),
        name: r.get(1)?,
        root: r.get(2)?,
        remote: r.get(3)?,
        imported: r.get(4)?,
    })
}

const BACKUP_COLS: &str = "SELECT b.id, b.target_id, t.name, t.root, t.remote, b.volume_id, b.status, b.archive_id, b.created, b.archived, b.confirmed
     FROM tape_backups b JOIN tape_targets t ON t.id = b.target_id";

fn backup_row(r: &Row<'_>) -> rusqlite::Result<TapeBackup> {
    Ok(TapeBackup {
        id: BackupId(r.get(0)?),
        target: TargetId(r.get(1)?),
        target_name: r.get(2)?,
        root: r.get(3)?,
        remote: r.get(4)?,
        volume: VolumeId(r.get(5)?),
        status: backup_status(r, 6)?,
        archive: r.get::<_, Option<i64>>(7)?.map(ArchiveKey),
        created: r.get(8)?,
        archived: r.get(9)?,
        confirmed: r.get(10)?,
    })
}

const PART_COLS: &str = "SELECT p.backup_id, p.part, p.volume_id, p.file_number, p.stream_start, p.stream_end, p.block_size, p.blocks, p.complete, v.label, p.written
     FROM tape_parts p JOIN tape_volumes v ON v.id = p.volume_id";

fn part_row(r: &Row<'_>) -> rusqlite::Result<TapePart> {
    Ok(TapePart {
        backup: BackupId(r.get(0)?),
        info: NewPart {
            part: r.get(1)?,
            volume: VolumeId(r.get(2)?),
            file_number: to_u64(r.get(3)?),
            stream_start: to_u64(r.get(4)?),
            stream_end: to_u64(r.get(5)?),
            block_size: to_u64(r.get(6)?),
            blocks: decode_blocks(&r.get::<_, String>(7)?, 7)?,
            complete: r.get(8)?,
        },
        label: r.get(9)?,
        written: r.get(10)?,
    })
}

/// The catalog path of member `name` of a target at `root`.
pub(crate) fn member_path(root: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let root = root.trim_end_matches('/');
    join_path(root, &name)
}

impl Tapes<'_> {
    fn err(&self, action: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> CatalogError + '_ {
        let action = action.into();
        move |e| CatalogError::sqlite(self.cat.path(), action, e)
    }

    /// The SQLite catalog behind these tables: the other backends have no
    /// tape tables yet.
    fn sq(&self) -> Result<&SqliteCatalog> {
        self.cat.sqlite("Catalog::tape")
    }

    fn sq_mut(&mut self) -> Result<&mut SqliteCatalog> {
        self.cat.sqlite_mut("Catalog::tape")
    }

    fn one<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
        action: &str,
    ) -> Result<Option<T>> {
        self.sq()?
            .conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row(p, f).optional())
            .map_err(self.err(action))
    }

    fn all<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
        action: &str,
    ) -> Result<Vec<T>> {
        self.sq()?
            .conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_map(p, f)?.collect())
            .map_err(self.err(action))
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params, action: &str) -> Result<usize> {
        self.sq()?
            .conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute(p))
            .map_err(self.err(action))
    }

    // ------------------------------------------------------------ volumes

    /// Every volume, in the order registered.
    pub fn volumes(&self) -> Result<Vec<TapeVolume>> {
        self.all(
            &format!("{VOLUME_COLS} ORDER BY id"),
            [],
            volume_row,
            "listing tape volumes",
        )
    }

    /// The volume labelled `label`.
    pub fn volume(&self, label: &str) -> Result<Option<TapeVolume>> {
        self.one(
            &format!("{VOLUME_COLS} WHERE label = ?1"),
            [label],
            volume_row,
            &format!("reading tape volume {label}"),
        )
    }

    /// The volume by number.
    pub fn volume_by_id(&self, id: VolumeId) -> Result<Option<TapeVolume>> {
        self.one(
            &format!("{VOLUME_COLS} WHERE id = ?1"),
            [id.0],
            volume_row,
            &format!("reading tape volume {id}"),
        )
    }

    /// The volume in the drive, if any.
    pub fn online_volume(&self) -> Result<Option<TapeVolume>> {
        self.one(
            &format!("{VOLUME_COLS} WHERE online = 1 ORDER BY id LIMIT 1"),
            [],
            volume_row,
            "reading the online tape volume",
        )
    }

    /// Registers a new volume (open, not online).
    ///
    /// # Errors
    /// [`CatalogError::Exists`] when the label is taken.
    pub fn add_volume(&mut self, label: &str, serial: &str, created: i64) -> Result<VolumeId> {
        if self.volume(label)?.is_some() {
            return Err(CatalogError::Exists {
                path: self.cat.path().to_path_buf(),
                what: "tape volume",
                id: label.to_owned(),
            });
        }
        let store = self.cat.store(TAPE_STORE, "tape", None)?;
        self.exec(
            "INSERT INTO tape_volumes(store_id, label, serial, created) VALUES (?1, ?2, ?3, ?4)",
            params![store.0, label, serial, created],
            &format!("adding tape volume {label}"),
        )?;
        Ok(VolumeId(self.sq()?.conn.last_insert_rowid()))
    }

    /// Makes `label` the online volume (and no other).
    pub fn set_online(&mut self, label: &str) -> Result<VolumeId> {
        let Some(v) = self.volume(label)? else {
            return Err(self.cat.not_found("tape volume", &label));
        };
        let path = self.cat.path().to_path_buf();
        let sq = |e| CatalogError::sqlite(&path, format!("putting tape volume {label} online"), e);
        let tx = self.sq()?.conn.unchecked_transaction().map_err(sq)?;
        tx.execute("UPDATE tape_volumes SET online = 0 WHERE online = 1", [])
            .map_err(sq)?;
        tx.execute("UPDATE tape_volumes SET online = 1 WHERE id = ?1", [v.id.0])
            .map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(v.id)
    }

    /// Sets a volume's state.
    pub fn set_volume_status(&mut self, volume: VolumeId, status: VolumeStatus) -> Result<()> {
        let n = self.exec(
            "UPDATE tape_volumes SET status = ?2 WHERE id = ?1",
            params![volume.0, status.as_str()],
            &format!("setting the state of tape volume {volume}"),
        )?;
        if n == 0 {
            return Err(self.cat.not_found("tape volume", &volume));
        }
        Ok(())
    }

    /// Closes a volume: closed, offline, and its assigned but unwritten
    /// backups released (their targets can be assigned again). Returns how
    /// many were released.
    pub fn close_volume(&mut self, volume: VolumeId) -> Result<usize> {
        let path = self.cat.path().to_path_buf();
        let sq = |e| CatalogError::sqlite(&path, format!("closing tape volume {volume}"), e);
        let tx = self.sq()?.conn.unchecked_transaction().map_err(sq)?;
        let n = tx
            .execute(
                "DELETE FROM tape_backups WHERE volume_id = ?1 AND status = 'assigned'",
                [volume.0],
            )
            .map_err(sq)?;
        tx.execute(
            "UPDATE tape_volumes SET status = 'closed', online = 0 WHERE id = ?1",
            [volume.0],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(n)
    }

    // ------------------------------------------------------------ targets

    /// Records a target and its files (in tar-stream order).
    ///
    /// # Errors
    /// [`CatalogError::Exists`] when the name is taken,
    /// [`CatalogError::RelativePath`] when `root` is not absolute.
    pub fn add_target(&mut self, target: &TapeTarget, files: &[TargetFile]) -> Result<TargetId> {
        if !target.root.starts_with('/') {
            return Err(CatalogError::RelativePath {
                path: target.root.clone(),
            });
        }
        if self.target(&target.name)?.is_some() {
            return Err(CatalogError::Exists {
                path: self.cat.path().to_path_buf(),
                what: "tape target",
                id: target.name.clone(),
            });
        }
        let path = self.cat.path().to_path_buf();
        let name = &target.name;
        let sq = |e| CatalogError::sqlite(&path, format!("adding tape target {name}"), e);
        let tx = self.sq()?.conn.unchecked_transaction().map_err(sq)?;
        tx.execute(
            "INSERT INTO tape_targets(name, root, remote, imported) VALUES (?1, ?2, ?3, ?4)",
            params![target.name, target.root, target.remote, target.imported],
        )
        .map_err(sq)?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO tape_target_files(target_id, seq, name, size, md5, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sq)?;
            for (i, f) in files.iter().enumerate() {
                st.execute(params![
                    id,
                    to_i64(i as u64),
                    f.name,
                    to_i64(f.size),
                    &f.md5[..],
                    &f.sha256[..]
                ])
                .map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)?;
        Ok(TargetId(id))
    }

    /// The target named `name`.
    pub fn target(&self, name: &str) -> Result<Option<TapeTarget>> {
        self.one(
            &format!("{TARGET_COLS} WHERE name = ?1"),
            [name],
            target_row,
            &format!("reading tape target {name}"),
        )
    }

    /// Every target, in the order imported.
    pub fn targets(&self) -> Result<Vec<TapeTarget>> {
        self.all(
            &format!("{TARGET_COLS} ORDER BY id"),
            [],
            target_row,
            "listing tape targets",
        )
    }

    /// A target's files as imported, in tar-stream order.
    pub fn target_files(&self, target: TargetId) -> Result<Vec<TargetFile>> {
        self.all(
            "SELECT name, size, md5, sha256 FROM tape_target_files WHERE target_id = ?1 ORDER BY seq",
            [target.0],
            |r| {
                Ok(TargetFile {
                    name: r.get(0)?,
                    size: to_u64(r.get(1)?),
                    md5: blob(r, 2)?,
                    sha256: blob(r, 3)?,
                })
            },
            &format!("reading the files of tape target {target}"),
        )
    }

    /// Every imported file: (target, target name, file name), by target
    /// and name.
    pub fn all_target_files(&self) -> Result<Vec<(TargetId, String, Vec<u8>)>> {
        self.all(
            "SELECT t.id, t.name, f.name FROM tape_target_files f JOIN tape_targets t ON t.id = f.target_id ORDER BY t.id, f.name",
            [],
            |r| Ok((TargetId(r.get(0)?), r.get(1)?, r.get(2)?)),
            "listing the files of tape targets",
        )
    }

    /// A target's files and bytes.
    pub fn target_totals(&self, target: TargetId) -> Result<(u64, u64)> {
        Ok(self
            .one(
                "SELECT count(*), coalesce(sum(size), 0) FROM tape_target_files WHERE target_id = ?1",
                [target.0],
                |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))),
                &format!("counting the files of tape target {target}"),
            )?
            .unwrap_or((0, 0)))
    }

    /// Targets without a backup other than failed ones.
    pub fn unassigned_targets(&self) -> Result<u64> {
        Ok(self
            .one(
                "SELECT count(*) FROM tape_targets t WHERE NOT EXISTS
                   (SELECT 1 FROM tape_backups b WHERE b.target_id = t.id AND b.status != 'failed')",
                [],
                |r| r.get::<_, i64>(0),
                "counting unassigned tape targets",
            )?
            .map_or(0, to_u64))
    }

    // ------------------------------------------------------------ backups

    /// Assigns every target without a live backup (one that has not
    /// failed) to `volume`. Returns how many.
    pub fn assign(&mut self, volume: VolumeId, created: i64) -> Result<usize> {
        self.exec(
            "INSERT INTO tape_backups(target_id, volume_id, status, created)
             SELECT t.id, ?1, 'assigned', ?2 FROM tape_targets t
             WHERE NOT EXISTS (SELECT 1 FROM tape_backups b WHERE b.target_id = t.id AND b.status != 'failed')
             ORDER BY t.id",
            params![volume.0, created],
            &format!("assigning targets to tape volume {volume}"),
        )
    }

    /// Records a backup directly (rebuilding a catalog from a tape).
    pub fn add_backup(
        &mut self,
        target: TargetId,
        volume: VolumeId,
        status: BackupStatus,
        created: i64,
    ) -> Result<BackupId> {
        self.exec(
            "INSERT INTO tape_backups(target_id, volume_id, status, created) VALUES (?1, ?2, ?3, ?4)",
            params![target.0, volume.0, status.as_str(), created],
            &format!("adding a backup of tape target {target}"),
        )?;
        Ok(BackupId(self.sq()?.conn.last_insert_rowid()))
    }

    /// A backup by number.
    pub fn backup(&self, id: BackupId) -> Result<Option<TapeBackup>> {
        self.one(
            &format!("{BACKUP_COLS} WHERE b.id = ?1"),
            [id.0],
            backup_row,
            &format!("reading tape backup {id}"),
        )
    }

    /// The backup whose files are `archive`.
    pub fn backup_of_archive(&self, archive: ArchiveKey) -> Result<Option<TapeBackup>> {
        self.one(
            &format!("{BACKUP_COLS} WHERE b.archive_id = ?1"),
            [archive.0],
            backup_row,
            &format!("reading the tape backup of archive {archive}"),
        )
    }

    /// The next step for a writer on `volume`: a backup cut by a full tape
    /// first, then the next one assigned to it.
    pub fn next_to_archive(&self, volume: VolumeId) -> Result<Option<TapeBackup>> {
        self.one(
            &format!(
                "{BACKUP_COLS} WHERE b.status = 'partial' OR (b.status = 'assigned' AND b.volume_id = ?1)
                 ORDER BY b.status = 'partial' DESC, b.id LIMIT 1"
            ),
            [volume.0],
            backup_row,
            "choosing the next backup to write",
        )
    }

    /// The backup with a part at tape file `file_number` of `volume`.
    pub fn backup_at(&self, volume: VolumeId, file_number: u64) -> Result<Option<TapeBackup>> {
        self.one(
            &format!(
                "{BACKUP_COLS} JOIN tape_parts p ON p.backup_id = b.id WHERE p.volume_id = ?1 AND p.file_number = ?2"
            ),
            params![volume.0, to_i64(file_number)],
            backup_row,
            &format!("reading the backup at file {file_number} of tape volume {volume}"),
        )
    }

    /// The recorded (unconfirmed) backup whose first part is earliest on
    /// `volume`.
    pub fn next_to_confirm(&self, volume: VolumeId) -> Result<Option<TapeBackup>> {
        self.one(
            &format!(
                "{BACKUP_COLS} JOIN tape_parts p ON p.backup_id = b.id AND p.part = 0
                 WHERE b.status = 'recorded' AND p.volume_id = ?1 ORDER BY p.file_number LIMIT 1"
            ),
            [volume.0],
            backup_row,
            "choosing the next backup to confirm",
        )
    }

    /// Every backup with a part on `volume`, by the first of its tape
    /// files there.
    pub fn backups_on(&self, volume: VolumeId) -> Result<Vec<TapeBackup>> {
        self.all(
            &format!(
                "{BACKUP_COLS} JOIN (SELECT backup_id, min(file_number) AS first FROM tape_parts
                                     WHERE volume_id = ?1 GROUP BY backup_id) p ON p.backup_id = b.id
                 ORDER BY p.first"
            ),
            [volume.0],
            backup_row,
            &format!("listing the backups on tape volume {volume}"),
        )
    }

    /// The best backup to restore a target from: confirmed, else recorded,
    /// else one that failed verification (newest first within each).
    pub fn backup_for_restore(&self, target: TargetId) -> Result<Option<TapeBackup>> {
        self.one(
            &format!(
                "{BACKUP_COLS} WHERE b.target_id = ?1 AND b.status IN ('confirmed', 'recorded', 'failed')
                   AND EXISTS (SELECT 1 FROM tape_parts p WHERE p.backup_id = b.id AND p.complete)
                 ORDER BY b.status = 'confirmed' DESC, b.status = 'recorded' DESC, b.id DESC LIMIT 1"
            ),
            [target.0],
            backup_row,
            &format!("choosing a backup of tape target {target}"),
        )
    }

    /// The target names of the backups assigned to `volume` and not written.
    pub fn assigned_on(&self, volume: VolumeId) -> Result<Vec<String>> {
        self.all(
            "SELECT t.name FROM tape_backups b JOIN tape_targets t ON t.id = b.target_id
             WHERE b.volume_id = ?1 AND b.status = 'assigned' ORDER BY b.id",
            [volume.0],
            |r| r.get(0),
            &format!("listing the backups assigned to tape volume {volume}"),
        )
    }

    /// Backups with a part on (or assigned to) `volume` by state: (state,
    /// backups, bytes of their targets).
    pub fn summary(&self, volume: VolumeId) -> Result<Vec<(BackupStatus, u64, u64)>> {
        self.all(
            "SELECT b.status, count(*), coalesce(sum((SELECT coalesce(sum(size), 0) FROM tape_target_files f WHERE f.target_id = b.target_id)), 0)
             FROM tape_backups b WHERE b.volume_id = ?1 OR b.id IN (SELECT backup_id FROM tape_parts WHERE volume_id = ?1)
             GROUP BY b.status ORDER BY b.status",
            [volume.0],
            |r| Ok((backup_status(r, 0)?, to_u64(r.get(1)?), to_u64(r.get(2)?))),
            &format!("summing up tape volume {volume}"),
        )
    }

    /// Sets the volume a backup is on (the one holding its last part).
    pub fn set_backup_volume(&mut self, backup: BackupId, volume: VolumeId) -> Result<()> {
        self.exec(
            "UPDATE tape_backups SET volume_id = ?2 WHERE id = ?1",
            params![backup.0, volume.0],
            &format!("moving tape backup {backup}"),
        )?;
        Ok(())
    }

    /// Sets a backup's state; `recorded` and `partial` also set when it was
    /// written, `confirmed` when it was confirmed, to `at`.
    pub fn set_backup_status(
        &mut self,
        backup: BackupId,
        status: BackupStatus,
        at: i64,
    ) -> Result<()> {
        let col = match status {
            BackupStatus::Recorded | BackupStatus::Partial => ", archived = ?3",
            BackupStatus::Confirmed => ", confirmed = ?3",
            BackupStatus::Assigned | BackupStatus::Failed => ", created = created + 0 * ?3",
        };
        let n = self.exec(
            &format!("UPDATE tape_backups SET status = ?2{col} WHERE id = ?1"),
            params![backup.0, status.as_str(), at],
            &format!("setting the state of tape backup {backup}"),
        )?;
        if n == 0 {
            return Err(self.cat.not_found("tape backup", &backup));
        }
        Ok(())
    }

    // ------------------------------------------------------------ parts

    /// Records a part of a backup.
    pub fn add_part(&mut self, backup: BackupId, part: &NewPart, written: i64) -> Result<()> {
        self.exec(
            "INSERT INTO tape_parts(backup_id, part, volume_id, file_number, stream_start, stream_end, block_size, blocks, complete, written)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                backup.0,
                part.part,
                part.volume.0,
                to_i64(part.file_number),
                to_i64(part.stream_start),
                to_i64(part.stream_end),
                to_i64(part.block_size),
                encode_blocks(&part.blocks),
                part.complete,
                written
            ],
            &format!(
                "recording part {} of tape backup {backup} at file {}",
                part.part, part.file_number
            ),
        )?;
        Ok(())
    }

    /// A backup's parts, in order.
    pub fn parts(&self, backup: BackupId) -> Result<Vec<TapePart>> {
        self.all(
            &format!("{PART_COLS} WHERE p.backup_id = ?1 ORDER BY p.part"),
            [backup.0],
            part_row,
            &format!("reading the parts of tape backup {backup}"),
        )
    }

    /// Every part on `volume` by file number, with its target and state.
    pub fn volume_files(&self, volume: VolumeId) -> Result<Vec<VolumeFile>> {
        self.all(
            "SELECT p.backup_id, p.part, p.volume_id, p.file_number, p.stream_start, p.stream_end, p.block_size, p.blocks, p.complete, v.label, p.written, t.name, b.status
             FROM tape_parts p JOIN tape_volumes v ON v.id = p.volume_id JOIN tape_backups b ON b.id = p.backup_id
               JOIN tape_targets t ON t.id = b.target_id
             WHERE p.volume_id = ?1 ORDER BY p.file_number",
            [volume.0],
            |r| {
                Ok(VolumeFile {
                    part: part_row(r)?,
                    target: r.get(11)?,
                    status: backup_status(r, 12)?,
                })
            },
            &format!("listing the files of tape volume {volume}"),
        )
    }

    /// Where the backups of a target are: each part with its backup's
    /// state, by backup and part.
    pub fn placements(&self, target: TargetId) -> Result<Vec<(TapePart, BackupStatus)>> {
        self.all(
            "SELECT p.backup_id, p.part, p.volume_id, p.file_number, p.stream_start, p.stream_end, p.block_size, p.blocks, p.complete, v.label, p.written, b.status
             FROM tape_parts p JOIN tape_volumes v ON v.id = p.volume_id JOIN tape_backups b ON b.id = p.backup_id
             WHERE b.target_id = ?1 ORDER BY b.id, p.part",
            [target.0],
            |r| Ok((part_row(r)?, backup_status(r, 11)?)),
            &format!("listing where tape target {target} is"),
        )
    }

    /// The highest tape file number recorded on `volume`.
    pub fn last_file_number(&self, volume: VolumeId) -> Result<Option<u64>> {
        Ok(self
            .one(
                "SELECT max(file_number) FROM tape_parts WHERE volume_id = ?1",
                [volume.0],
                |r| r.get::<_, Option<i64>>(0),
                &format!("reading the last file of tape volume {volume}"),
            )?
            .flatten()
            .map(to_u64))
    }

    // ------------------------------------------------------------ members

    /// Records a backup wholly on tape as a run with one archive in store
    /// [`TAPE_STORE`] (vault: the label of the volume holding its first
    /// part), `members` as its files with their positions, and sets its
    /// state to `status` (normally [`BackupStatus::Recorded`]), all in one
    /// transaction. A backup recorded before is recorded anew (its earlier
    /// run deleted).
    pub fn record_backup(
        &mut self,
        backup: BackupId,
        members: &[TapeMember],
        status: BackupStatus,
        at: i64,
    ) -> Result<ArchiveKey> {
        let Some(b) = self.backup(backup)? else {
            return Err(self.cat.not_found("tape backup", &backup));
        };
        let parts = self.parts(backup)?;
        let Some(first) = parts.first() else {
            return Err(CatalogError::NotFound {
                path: self.cat.path().to_path_buf(),
                what: "part of tape backup",
                id: backup.to_string(),
            });
        };
        let store = self.cat.store(TAPE_STORE, "tape", None)?;
        let vault = self.cat.vault(store, &first.label)?;
        let remote_id = format!("{}:{}", first.label, first.info.file_number);
        let stored: u64 = parts
            .iter()
            .map(|p| p.info.stream_end.saturating_sub(p.info.stream_start))
            .sum();
        let (entries, run, archive) = backup_rows(&b, members, vault, remote_id, stored, at);
        // Inline indexing (total 0) and foreign keys on: deleting an earlier
        // record cascades, and writes the index in this transaction too.
        self.sq_mut()?.write_files(0, true, "recording a tape backup", |tx, files| {
            let path = files.path().to_owned();
            let sq = |e| CatalogError::sqlite(&path, format!("recording tape backup {backup}"), e);
            if let Some(old) = b.archive {
                tx.execute(
                    "DELETE FROM runs WHERE id = (SELECT run_id FROM archives WHERE id = ?1)",
                    [old.0],
                )
                .map_err(sq)?;
            }
            let run_id = insert_run(tx, &path, &run, Some((at, 0, 0)))?;
            let key = insert_archive(tx, &path, &NewArchive { run: run_id, ..archive }, None)?;
            let first_id = files.insert(tx, key, &entries)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO tape_members(file_id, volume_id, file_number, block, offset, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(sq)?;
                for (i, m) in members.iter().enumerate() {
                    let raw = std::str::from_utf8(&m.name).is_err().then_some(&m.name[..]);
                    st.execute(params![
                        first_id + to_i64(i as u64),
                        m.volume.0,
                        to_i64(m.file_number),
                        to_i64(m.block),
                        to_i64(m.offset),
                        raw
                    ])
                    .map_err(sq)?;
                }
            }
            tx.execute(
                "UPDATE tape_backups SET archive_id = ?2, status = ?3, archived = coalesce(archived, ?4) WHERE id = ?1",
                params![backup.0, key.0, status.as_str(), at],
            )
            .map_err(sq)?;
            Ok(key)
        })
    }

    /// The members of a tape archive with their positions, in stream order.
    pub fn members(&self, archive: ArchiveKey) -> Result<Vec<RecordedMember>> {
        let rows = self.all(
            "SELECT f.id, d.path, f.name, f.size, m.name, v.label, m.file_number, m.block, m.offset, t.root
             FROM tape_members m JOIN files f ON f.id = m.file_id JOIN dirs d ON d.id = f.dir_id
               JOIN tape_volumes v ON v.id = m.volume_id
               JOIN tape_backups b ON b.archive_id = f.archive_id JOIN tape_targets t ON t.id = b.target_id
             WHERE f.archive_id = ?1 ORDER BY m.offset, f.id",
            [archive.0],
            |r| {
                let path = join_path(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?);
                let raw: Option<Vec<u8>> = r.get(4)?;
                let root: String = r.get(9)?;
                Ok(RecordedMember {
                    file: FileId(r.get(0)?),
                    name: raw.unwrap_or_else(|| relative(&root, &path).into_bytes()),
                    path,
                    size: to_u64(r.get(3)?),
                    position: TapePosition {
                        volume: r.get(5)?,
                        file_number: to_u64(r.get(6)?),
                        block: to_u64(r.get(7)?),
                        offset: to_u64(r.get(8)?),
                    },
                })
            },
            &format!("reading the members of tape archive {archive}"),
        )?;
        Ok(rows)
    }
}

/// The run, archive and file rows of a backup wholly on tape.
fn backup_rows(
    b: &TapeBackup,
    members: &[TapeMember],
    vault: crate::VaultId,
    remote_id: String,
    stored: u64,
    at: i64,
) -> (Vec<FileEntry>, NewRun, NewArchive) {
    let entries: Vec<FileEntry> = members
        .iter()
        .enumerate()
        .map(|(i, m)| FileEntry {
            path: member_path(&b.root, &m.name),
            size: m.size,
            mtime: m.mtime,
            mode: m.mode,
            sha256: m.sha256,
            member: Some(MemberLocation {
                index: i as u64,
                offset: m.offset,
                packed: None,
            }),
            ..FileEntry::default()
        })
        .collect();
    let description = format!("tape-op target {}", b.target_name);
    let mut options = BTreeMap::new();
    options.insert("tool".to_owned(), "tape-op".to_owned());
    options.insert("tape_target".to_owned(), b.target_name.clone());
    if b.remote {
        options.insert("remote".to_owned(), "true".to_owned());
    }
    let run = NewRun {
        uid: None,
        roots: vec![b.root.clone()],
        description: description.clone(),
        tags: Vec::new(),
        options,
        started: b.created,
    };
    let archive = NewArchive {
        run: crate::RunId(0),
        vault,
        remote_id: Some(remote_id),
        size: members.iter().map(|m| m.size).sum(),
        stored_size: Some(stored),
        tree_hash: None,
        description,
        tags: Vec::new(),
        created: b.archived.unwrap_or(at),
        state: ArchiveState::Stored,
        recipients: Vec::new(),
    };
    (entries, run, archive)
}

/// `path` relative to `root` (both as recorded).
fn relative(root: &str, path: &str) -> String {
    let root = root.trim_end_matches('/');
    path.strip_prefix(root)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
        .to_owned()
}

/// Sets [`FileHit::tape`] on the hits that are members of tape archives.
pub(crate) fn fill_positions(cat: &SqliteCatalog, hits: &mut [FileHit]) -> Result<()> {
    if hits.is_empty() {
        return Ok(());
    }
    let any: bool = cat
        .conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM tape_members)")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(cat.err("reading tape positions"))?;
    if !any {
        return Ok(());
    }
    let ids = serde_json::to_string(&hits.iter().map(|h| h.id.0).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let mut st = cat
        .conn
        .prepare_cached(
            "SELECT m.file_id, v.label, m.file_number, m.block, m.offset
             FROM tape_members m JOIN tape_volumes v ON v.id = m.volume_id
             WHERE m.file_id IN (SELECT value FROM json_each(?1))",
        )
        .map_err(cat.err("reading tape positions"))?;
    let found: std::collections::HashMap<i64, TapePosition> = st
        .query_map([ids], |r| {
            Ok((
                r.get(0)?,
                TapePosition {
                    volume: r.get(1)?,
                    file_number: to_u64(r.get(2)?),
                    block: to_u64(r.get(3)?),
                    offset: to_u64(r.get(4)?),
                },
            ))
        })
        .and_then(Iterator::collect)
        .map_err(cat.err("reading tape positions"))?;
    for h in hits {
        h.tape = found.get(&h.id.0).cloned();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_layouts_round_trip() {
        let runs = vec![
            BlockRun {
                block: 1,
                stream_offset: 0,
                block_size: 1 << 20,
            },
            BlockRun {
                block: 9,
                stream_offset: 8 << 20,
                block_size: 512 << 10,
            },
        ];
        let s = encode_blocks(&runs);
        assert_eq!(s, "1:0:1048576 9:8388608:524288");
        assert_eq!(decode_blocks(&s, 0).unwrap(), runs);
        assert_eq!(decode_blocks("", 0).unwrap(), vec![]);
        assert!(decode_blocks("1:2", 0).is_err());
    }

    #[test]
    fn member_paths() {
        assert_eq!(member_path("/data/t", b"a/b.txt"), "/data/t/a/b.txt");
        assert_eq!(member_path("/", b"x"), "/x");
        assert_eq!(relative("/data/t", "/data/t/a/b"), "a/b");
        assert_eq!(relative("/", "/x"), "x");
    }
}
