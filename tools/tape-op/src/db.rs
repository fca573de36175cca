//! tape-op's view of the Permafrost catalog (the `catalog` crate): tape
//! volumes, targets with their files and checksums, backups and their parts
//! on tape, and once a backup is wholly on tape its members with the
//! volume, tape file and block where each starts, searchable by every
//! Permafrost tool. A database of the tape-op before the catalog (its own
//! schema, application id `PFTP`) is migrated on first open; the old file
//! is kept beside it as `NAME.tape-op-v1.bak`.

use std::cell::{RefCell, RefMut};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use catalog::tape::{
    BackupStatus, BlockRun, NewPart, RecordedMember, TapeBackup, TapeMember, TapePart, TapeTarget,
    TapeVolume, Tapes, TargetFile, VolumeStatus,
};
use catalog::{ArchiveKey, BackupId, Catalog, TargetId, VolumeId};
use rusqlite::{Connection, OpenFlags};
use tape_io::layout::{self, PartLayout};
use tape_io::target::FileRecord;

/// `PRAGMA application_id` of the databases of the tape-op before the
/// catalog ("PFTP").
const V1_APPLICATION_ID: i64 = 0x5046_5450;

/// The catalog, and tape-op's rows in it.
pub(crate) struct Db {
    cat: RefCell<Catalog>,
}

#[derive(Debug, Clone)]
pub(crate) struct Tape {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) serial: String,
    pub(crate) status: String,
    pub(crate) online: bool,
}

impl From<TapeVolume> for Tape {
    fn from(v: TapeVolume) -> Self {
        Tape {
            id: v.id.0,
            name: v.label,
            serial: v.serial,
            status: v.status.as_str().to_owned(),
            online: v.online,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Backup {
    pub(crate) id: i64,
    pub(crate) target_id: i64,
    pub(crate) target: String,
    pub(crate) root: String,
    pub(crate) remote: bool,
    pub(crate) status: String,
}

impl From<TapeBackup> for Backup {
    fn from(b: TapeBackup) -> Self {
        Backup {
            id: b.id.0,
            target_id: b.target.0,
            target: b.target_name,
            root: b.root,
            remote: b.remote,
            status: b.status.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)] // `part.part` is the part's index, as in the catalog
pub(crate) struct Part {
    pub(crate) part: u32,
    pub(crate) tape: String,
    pub(crate) volume: i64,
    pub(crate) file_number: u64,
    pub(crate) stream_start: u64,
    pub(crate) stream_end: u64,
    pub(crate) complete: bool,
    pub(crate) layout: PartLayout,
}

impl From<TapePart> for Part {
    fn from(p: TapePart) -> Self {
        let i = p.info;
        let layout = if i.blocks.is_empty() {
            PartLayout::uniform(
                i.file_number,
                i.stream_start,
                i.stream_end,
                usize::try_from(i.block_size).unwrap_or(usize::MAX),
            )
        } else {
            PartLayout {
                file_number: i.file_number,
                stream_start: i.stream_start,
                stream_end: i.stream_end,
                runs: i
                    .blocks
                    .iter()
                    .map(|r| layout::BlockRun {
                        block: r.block,
                        stream_offset: r.stream_offset,
                        block_size: usize::try_from(r.block_size).unwrap_or(usize::MAX),
                    })
                    .collect(),
            }
        };
        Part {
            part: i.part,
            tape: p.label,
            volume: i.volume.0,
            file_number: i.file_number,
            stream_start: i.stream_start,
            stream_end: i.stream_end,
            complete: i.complete,
            layout,
        }
    }
}

/// A tape file of a tape: the part, its target's name, its backup's state.
pub(crate) type TapeFile = (Part, String, String);

/// A `backups` row of a tape-op database before the catalog.
type V1Backup = (i64, i64, i64, String, i64, Option<i64>, Option<i64>);
/// A `parts` row of a tape-op database before the catalog.
type V1Part = (u32, i64, u64, u64, u64, usize, bool, i64);

/// A member of a backup wholly on tape, to record with its position.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: Vec<u8>,
    pub(crate) size: u64,
    pub(crate) mode: u32,
    pub(crate) mtime: u64,
    pub(crate) sha256: [u8; 32],
    pub(crate) offset: u64,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn to_record(f: TargetFile) -> FileRecord {
    FileRecord {
        name: f.name,
        size: f.size,
        md5: f.md5,
        sha256: f.sha256,
    }
}

/// `name` (a target as the operator gave it) as an absolute path: relative
/// ones against `base`, without resolving links; on another host, relative
/// names are taken from its root.
pub(crate) fn target_root(name: &str, remote: bool, base: &Path) -> String {
    let abs = if name.starts_with('/') {
        name.to_owned()
    } else if remote {
        format!("/{name}")
    } else {
        base.join(name).display().to_string()
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in abs.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The order of a target's tar stream (each directory's entries by name,
/// depth first) for names given as relative paths.
fn stream_order(files: &mut [TargetFile]) {
    files.sort_by(|a, b| {
        a.name
            .split(|&c| c == b'/')
            .cmp(b.name.split(|&c| c == b'/'))
    });
}

impl Db {
    /// Opens (creating or migrating) the catalog at `path`. A file that is
    /// not SQLite, or another program's database, is a clear error; a
    /// database of the tape-op before the catalog is migrated into a
    /// catalog at the same path, the old file kept as
    /// `NAME.tape-op-v1.bak`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        if existed {
            let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("opening database {}", path.display()))?;
            let app: i64 = conn
                .query_row("PRAGMA application_id", [], |r| r.get(0))
                .with_context(|| {
                    format!(
                        "{} is not a SQLite database (corrupt or another kind of file)",
                        path.display()
                    )
                })?;
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            drop(conn);
            if app == V1_APPLICATION_ID {
                let cat = migrate_v1(path)?;
                return Ok(Self {
                    cat: RefCell::new(cat),
                });
            }
            if app != i64::from(catalog::APPLICATION_ID) && tables > 0 {
                bail!(
                    "{} is a SQLite database of another program (application id {app:#x}), not a Permafrost catalog",
                    path.display()
                );
            }
        }
        let cat = Catalog::open(path)?;
        Ok(Self {
            cat: RefCell::new(cat),
        })
    }

    /// The catalog itself (searches).
    pub(crate) fn catalog(&self) -> RefMut<'_, Catalog> {
        self.cat.borrow_mut()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Tapes<'_>) -> catalog::Result<T>) -> Result<T> {
        let mut cat = self.cat.borrow_mut();
        let mut t = cat.tape();
        Ok(f(&mut t)?)
    }

    // ------------------------------------------------------------ tapes

    pub(crate) fn tapes(&self) -> Result<Vec<Tape>> {
        Ok(self
            .with(|t| t.volumes())?
            .into_iter()
            .map(Tape::from)
            .collect())
    }

    pub(crate) fn tape(&self, name: &str) -> Result<Tape> {
        self.with(|t| t.volume(name))?
            .map(Tape::from)
            .with_context(|| format!("no tape named '{name}' in the catalogue"))
    }

    pub(crate) fn online_tape(&self) -> Result<Option<Tape>> {
        Ok(self.with(|t| t.online_volume())?.map(Tape::from))
    }

    /// The named tape, or the online one.
    pub(crate) fn tape_or_online(&self, name: Option<&str>) -> Result<Tape> {
        match name {
            Some(n) => self.tape(n),
            None => self
                .online_tape()?
                .context("no tape is online: name one, or use activate-tape / open-tape --online"),
        }
    }

    pub(crate) fn add_tape(&self, name: &str, serial: &str) -> Result<()> {
        self.with(|t| t.add_volume(name, serial, now()))
            .with_context(|| format!("adding tape '{name}'"))?;
        Ok(())
    }

    pub(crate) fn set_online(&self, name: &str) -> Result<()> {
        self.tape(name)?;
        self.with(|t| t.set_online(name))?;
        Ok(())
    }

    pub(crate) fn set_tape_status(&self, id: i64, status: &str) -> Result<()> {
        let s = VolumeStatus::parse(status).with_context(|| format!("tape status {status}"))?;
        self.with(|t| t.set_volume_status(VolumeId(id), s))
    }

    /// Closes a tape; returns how many assigned targets were released.
    pub(crate) fn close_tape(&self, id: i64) -> Result<usize> {
        self.with(|t| t.close_volume(VolumeId(id)))
    }

    /// (state, backups, bytes) of the backups on a tape.
    pub(crate) fn summary(&self, id: i64) -> Result<Vec<(String, u64, u64)>> {
        Ok(self
            .with(|t| t.summary(VolumeId(id)))?
            .into_iter()
            .map(|(s, n, b)| (s.as_str().to_owned(), n, b))
            .collect())
    }

    pub(crate) fn unassigned_targets(&self) -> Result<u64> {
        self.with(|t| t.unassigned_targets())
    }

    // ------------------------------------------------------------ targets

    pub(crate) fn target_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.with(|t| t.target(name))?.map(|t| t.id.0))
    }

    /// Every target: (id, name, root).
    pub(crate) fn targets(&self) -> Result<Vec<(i64, String, String)>> {
        Ok(self
            .with(|t| t.targets())?
            .into_iter()
            .map(|t| (t.id.0, t.name, t.root))
            .collect())
    }

    /// Records a target at `root` (absolute) and its files in stream order.
    pub(crate) fn add_target(
        &self,
        name: &str,
        root: &str,
        remote: bool,
        files: &[FileRecord],
    ) -> Result<i64> {
        let files: Vec<TargetFile> = files
            .iter()
            .map(|f| TargetFile {
                name: f.name.clone(),
                size: f.size,
                md5: f.md5,
                sha256: f.sha256,
            })
            .collect();
        let target = TapeTarget {
            id: TargetId(0),
            name: name.to_owned(),
            root: root.to_owned(),
            remote,
            imported: now(),
        };
        Ok(self
            .with(|t| t.add_target(&target, &files))
            .with_context(|| format!("adding target {name}"))?
            .0)
    }

    /// A target's files as imported, in stream order.
    pub(crate) fn files(&self, target_id: i64) -> Result<Vec<FileRecord>> {
        Ok(self
            .with(|t| t.target_files(TargetId(target_id)))?
            .into_iter()
            .map(to_record)
            .collect())
    }

    /// Every imported file: (target, target name, file name).
    pub(crate) fn all_files(&self) -> Result<Vec<(i64, String, Vec<u8>)>> {
        Ok(self
            .with(|t| t.all_target_files())?
            .into_iter()
            .map(|(id, t, n)| (id.0, t, n))
            .collect())
    }

    pub(crate) fn target_size(&self, target_id: i64) -> Result<(u64, u64)> {
        self.with(|t| t.target_totals(TargetId(target_id)))
    }

    // ------------------------------------------------------------ backups

    /// Assigns every target without a live backup to the tape.
    pub(crate) fn assign(&self, tape_id: i64) -> Result<usize> {
        self.with(|t| t.assign(VolumeId(tape_id), now()))
    }

    pub(crate) fn add_backup(&self, target_id: i64, tape_id: i64, status: &str) -> Result<i64> {
        let s = BackupStatus::parse(status).with_context(|| format!("backup status {status}"))?;
        Ok(self
            .with(|t| t.add_backup(TargetId(target_id), VolumeId(tape_id), s, now()))?
            .0)
    }

    /// The backup whose files are `archive` (a tape archive found by a
    /// search).
    pub(crate) fn backup_of_archive(&self, archive: ArchiveKey) -> Result<Option<Backup>> {
        Ok(self
            .with(|t| t.backup_of_archive(archive))?
            .map(Backup::from))
    }

    /// The next step of work for `archive`: a target cut by a full tape
    /// first, then the next target assigned to this tape.
    pub(crate) fn next_to_archive(&self, tape_id: i64) -> Result<Option<Backup>> {
        Ok(self
            .with(|t| t.next_to_archive(VolumeId(tape_id)))?
            .map(Backup::from))
    }

    pub(crate) fn backup_at(&self, tape_id: i64, file_number: u64) -> Result<Option<Backup>> {
        Ok(self
            .with(|t| t.backup_at(VolumeId(tape_id), file_number))?
            .map(Backup::from))
    }

    pub(crate) fn next_to_confirm(&self, tape_id: i64) -> Result<Option<Backup>> {
        Ok(self
            .with(|t| t.next_to_confirm(VolumeId(tape_id)))?
            .map(Backup::from))
    }

    /// The backups whose first part is on `tape_id`, by file number:
    /// recorded ones, and with `retry` confirmed and failed ones too.
    pub(crate) fn backups_to_confirm(&self, tape_id: i64, retry: bool) -> Result<Vec<Backup>> {
        let on = self.with(|t| t.backups_on(VolumeId(tape_id)))?;
        let mut out = Vec::new();
        for b in on {
            let wanted = match b.status {
                BackupStatus::Recorded => true,
                BackupStatus::Confirmed | BackupStatus::Failed => retry,
                BackupStatus::Assigned | BackupStatus::Partial => false,
            };
            if !wanted {
                continue;
            }
            let parts = self.parts(b.id.0)?;
            if parts.first().is_some_and(|p| p.volume == tape_id) {
                out.push(Backup::from(b));
            }
        }
        Ok(out)
    }

    /// The best backup to restore a target from: confirmed, else recorded,
    /// else one that failed verification (restore verifies again and names
    /// what does not match).
    pub(crate) fn backup_for_restore(&self, target_id: i64) -> Result<Option<Backup>> {
        Ok(self
            .with(|t| t.backup_for_restore(TargetId(target_id)))?
            .map(Backup::from))
    }

    /// The newest backup of a target that is partial or wholly on tape.
    pub(crate) fn live_backup(&self, target_id: i64) -> Result<Option<i64>> {
        Ok(self
            .with(|t| t.placements(TargetId(target_id)))?
            .into_iter()
            .filter(|(_, s)| {
                matches!(
                    s,
                    BackupStatus::Partial | BackupStatus::Recorded | BackupStatus::Confirmed
                )
            })
            .map(|(p, _)| p.backup.0)
            .max())
    }

    pub(crate) fn set_backup_volume(&self, backup: i64, tape_id: i64) -> Result<()> {
        self.with(|t| t.set_backup_volume(BackupId(backup), VolumeId(tape_id)))
    }

    pub(crate) fn set_backup_status(&self, id: i64, status: &str) -> Result<()> {
        let s = BackupStatus::parse(status).with_context(|| format!("backup status {status}"))?;
        self.with(|t| t.set_backup_status(BackupId(id), s, now()))
    }

    /// Records a backup wholly on tape: its members with the volume, tape
    /// file and block where each starts (from its parts' layouts), as an
    /// archive every Permafrost search finds; sets its state to `status`.
    pub(crate) fn record_backup(
        &self,
        backup: i64,
        members: &[Member],
        status: &str,
    ) -> Result<()> {
        let s = BackupStatus::parse(status).with_context(|| format!("backup status {status}"))?;
        let parts = self.parts(backup)?;
        let layouts: Vec<PartLayout> = parts.iter().map(|p| p.layout.clone()).collect();
        let mut rows = Vec::with_capacity(members.len());
        for m in members {
            let at = layout::locate(&layouts, m.offset).with_context(|| {
                format!(
                    "{}: stream offset {} lies in no part of backup #{backup}",
                    String::from_utf8_lossy(&m.name),
                    m.offset
                )
            })?;
            rows.push(TapeMember {
                name: m.name.clone(),
                size: m.size,
                mode: m.mode,
                mtime: i64::try_from(m.mtime).unwrap_or(i64::MAX),
                sha256: Some(m.sha256),
                volume: VolumeId(parts[at.part].volume),
                file_number: at.file_number,
                block: at.block,
                offset: m.offset,
            });
        }
        self.with(|t| t.record_backup(BackupId(backup), &rows, s, now()))?;
        Ok(())
    }

    /// The members of a tape archive with their positions.
    pub(crate) fn members(&self, archive: ArchiveKey) -> Result<Vec<RecordedMember>> {
        self.with(|t| t.members(archive))
    }

    pub(crate) fn parts(&self, backup_id: i64) -> Result<Vec<Part>> {
        Ok(self
            .with(|t| t.parts(BackupId(backup_id)))?
            .into_iter()
            .map(Part::from)
            .collect())
    }

    /// Every part of a target's backups with its backup's state.
    pub(crate) fn placements(&self, target_id: i64) -> Result<Vec<(Part, String)>> {
        Ok(self
            .with(|t| t.placements(TargetId(target_id)))?
            .into_iter()
            .map(|(p, s)| (Part::from(p), s.as_str().to_owned()))
            .collect())
    }

    /// Every tape file of a tape: (part, target, state); then the targets
    /// assigned to it and not written.
    pub(crate) fn tape_files(&self, tape_id: i64) -> Result<(Vec<TapeFile>, Vec<String>)> {
        let files = self
            .with(|t| t.volume_files(VolumeId(tape_id)))?
            .into_iter()
            .map(|f| (Part::from(f.part), f.target, f.status.as_str().to_owned()))
            .collect();
        let assigned = self.with(|t| t.assigned_on(VolumeId(tape_id)))?;
        Ok((files, assigned))
    }

    /// The highest file number the catalogue has on a tape.
    pub(crate) fn last_file_number(&self, tape_id: i64) -> Result<Option<u64>> {
        self.with(|t| t.last_file_number(VolumeId(tape_id)))
    }

    /// Records a part; `layout` as written (its block runs).
    pub(crate) fn add_part(
        &self,
        backup_id: i64,
        part: u32,
        tape_id: i64,
        layout: &PartLayout,
        block_size: usize,
        complete: bool,
    ) -> Result<()> {
        let blocks = if layout.runs.len() > 1 {
            layout
                .runs
                .iter()
                .map(|r| BlockRun {
                    block: r.block,
                    stream_offset: r.stream_offset,
                    block_size: r.block_size as u64,
                })
                .collect()
        } else {
            Vec::new()
        };
        let first = layout.runs.first().map_or(block_size, |r| r.block_size);
        let p = NewPart {
            part,
            volume: VolumeId(tape_id),
            file_number: layout.file_number,
            stream_start: layout.stream_start,
            stream_end: layout.stream_end,
            block_size: first as u64,
            blocks,
            complete,
        };
        self.with(|t| t.add_part(BackupId(backup_id), &p, now()))
    }
}

// ---------------------------------------------------------------- migration

/// The members of a backup of `files` (in stream order) with the offsets
/// the tape writer gave them: computed from their names and sizes.
fn members_of(files: &[TargetFile], mtime: u64) -> Result<(Vec<Member>, u64)> {
    let (offsets, end) = layout::member_offsets(files.iter().map(|f| (&f.name[..], f.size)))
        .context("computing member offsets")?;
    let members = files
        .iter()
        .zip(offsets)
        .map(|(f, offset)| Member {
            name: f.name.clone(),
            size: f.size,
            mode: 0o644,
            mtime,
            sha256: f.sha256,
            offset,
        })
        .collect();
    Ok((members, end))
}

/// Moves the tape-op database at `path` aside (`NAME.tape-op-v1.bak`) and
/// builds a catalog at `path` holding everything in it. On failure the
/// old file is put back.
fn migrate_v1(path: &Path) -> Result<Catalog> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: no file name", path.display()))?;
    let mut bak = name.to_owned();
    bak.push(".tape-op-v1.bak");
    let backup = path.with_file_name(bak);
    if backup.exists() {
        bail!(
            "{} is a tape-op database to migrate, but {} exists already: move one of them away",
            path.display(),
            backup.display()
        );
    }
    std::fs::rename(path, &backup).with_context(|| {
        format!(
            "moving the tape-op database {} aside to {}",
            path.display(),
            backup.display()
        )
    })?;
    match import_v1(&backup, path) {
        Ok(cat) => {
            eprintln!(
                "tape-op: migrated the tape-op database {} into a Permafrost catalog; the old file is kept as {}",
                path.display(),
                backup.display()
            );
            Ok(cat)
        }
        Err(e) => {
            for suffix in ["", "-wal", "-shm", "-fts", "-fts-wal", "-fts-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            let _ = std::fs::rename(&backup, path);
            Err(e.context(format!(
                "migrating the tape-op database {} (left as it was)",
                path.display()
            )))
        }
    }
}

#[allow(clippy::too_many_lines)] // one table after another
fn import_v1(old: &Path, path: &Path) -> Result<Catalog> {
    let conn = Connection::open_with_flags(old, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", old.display()))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != 1 {
        bail!(
            "{} has tape-op schema version {version}; this tape-op migrates version 1 only",
            old.display()
        );
    }
    // Relative target names were relative to where tape-op ran, normally
    // beside its tape.conf and database. A bare file name (`--database
    // tape.db`) has the parent "", which is the current directory.
    let dir = old
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = std::path::absolute(dir).with_context(|| format!("resolving {}", old.display()))?;
    let mut cat = Catalog::open(path)?;
    let mut tapes = std::collections::HashMap::new();
    let mut targets = std::collections::HashMap::new();
    {
        let mut t = cat.tape();
        let mut st = conn
            .prepare("SELECT id, name, serial, status, online, created FROM tapes ORDER BY id")?;
        let rows: Vec<(i64, String, String, String, bool, i64)> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        for (id, name, serial, status, online, created) in rows {
            let v = t.add_volume(&name, &serial, created)?;
            let s = VolumeStatus::parse(&status)
                .with_context(|| format!("tape {name}: unknown status {status}"))?;
            if s != VolumeStatus::Open {
                t.set_volume_status(v, s)?;
            }
            if online {
                t.set_online(&name)?;
            }
            tapes.insert(id, v);
        }

        let mut st = conn.prepare("SELECT id, name, remote, imported FROM targets ORDER BY id")?;
        let rows: Vec<(i64, String, bool, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut fst = conn.prepare(
            "SELECT name, size, md5, sha256 FROM files WHERE target_id = ?1 ORDER BY name",
        )?;
        for (id, name, remote, imported) in rows {
            let rows: Vec<(Vec<u8>, u64, String, String)> = fst
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            let mut files = Vec::with_capacity(rows.len());
            for (fname, size, md5, sha) in rows {
                files.push(TargetFile {
                    md5: unhex(&md5).with_context(|| format!("target {name}: bad MD5 {md5}"))?,
                    sha256: unhex(&sha)
                        .with_context(|| format!("target {name}: bad SHA-256 {sha}"))?,
                    name: fname,
                    size,
                });
            }
            stream_order(&mut files);
            let target = TapeTarget {
                id: TargetId(0),
                name: name.clone(),
                root: target_root(&name, remote, &base),
                remote,
                imported,
            };
            let tid = t.add_target(&target, &files)?;
            targets.insert(id, (tid, files));
        }
    }

    let mut st = conn.prepare(
        "SELECT id, target_id, tape_id, status, created, archived, confirmed FROM backups ORDER BY id",
    )?;
    let rows: Vec<V1Backup> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut pst = conn.prepare(
        "SELECT part, tape_id, file_number, stream_start, stream_end, block_size, complete, written
         FROM parts WHERE backup_id = ?1 ORDER BY part",
    )?;
    let db = Db {
        cat: RefCell::new(cat),
    };
    for (id, target, tape, status, created, archived, confirmed) in rows {
        let (tid, files) = targets
            .get(&target)
            .with_context(|| format!("backup #{id}: no target #{target}"))?;
        let vol = *tapes
            .get(&tape)
            .with_context(|| format!("backup #{id}: no tape #{tape}"))?;
        let s = BackupStatus::parse(&status)
            .with_context(|| format!("backup #{id}: unknown status {status}"))?;
        let bid = db.with(|t| t.add_backup(*tid, vol, s, created))?;
        let parts: Vec<V1Part> = pst
            .query_map([id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut complete = false;
        for (part, ptape, file_number, start, end, block_size, done, written) in parts {
            let pvol = *tapes
                .get(&ptape)
                .with_context(|| format!("backup #{id} part {part}: no tape #{ptape}"))?;
            let p = NewPart {
                part,
                volume: pvol,
                file_number,
                stream_start: start,
                stream_end: end,
                block_size: block_size as u64,
                blocks: Vec::new(),
                complete: done,
            };
            db.with(|t| t.add_part(bid, &p, written))?;
            complete = done;
        }
        let on_tape = matches!(
            s,
            BackupStatus::Recorded | BackupStatus::Confirmed | BackupStatus::Failed
        );
        if on_tape && complete {
            let written = archived.unwrap_or(created);
            let (members, end) = members_of(files, u64::try_from(written).unwrap_or(0))?;
            let last = db.parts(bid.0)?.last().map_or(0, |p| p.stream_end);
            if end != last {
                tracing::warn!(
                    backup = id,
                    computed = end,
                    recorded = last,
                    "the stream length computed from the files differs from the one on tape: positions may be off"
                );
            }
            db.record_backup(bid.0, &members, &status)?;
            let at = archived.unwrap_or(created);
            db.with(|t| t.set_backup_status(bid, BackupStatus::Recorded, at))?;
            db.with(|t| t.set_backup_status(bid, s, confirmed.unwrap_or(at)))?;
        } else if let Some(at) = archived {
            db.with(|t| t.set_backup_status(bid, s, at))?;
        }
    }
    Ok(db.cat.into_inner())
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_absolute_and_clean() {
        let base = Path::new("/srv/run");
        assert_eq!(target_root("d1", false, base), "/srv/run/d1");
        assert_eq!(target_root("/data/x/", false, base), "/data/x");
        assert_eq!(target_root("../y/./z", false, base), "/srv/y/z");
        assert_eq!(target_root("rel", true, base), "/rel");
        assert_eq!(target_root("/", false, base), "/");
    }

    #[test]
    fn stream_order_walks_directories_depth_first() {
        let f = |n: &[u8]| TargetFile {
            name: n.to_vec(),
            size: 0,
            md5: [0; 16],
            sha256: [0; 32],
        };
        let mut files = vec![f(b"a b/x"), f(b"a/x"), f(b"a.txt"), f(b"a/b/c")];
        stream_order(&mut files);
        let names: Vec<&[u8]> = files.iter().map(|f| &f.name[..]).collect();
        assert_eq!(names, [&b"a/b/c"[..], b"a/x", b"a b/x", b"a.txt"]);
    }
}
