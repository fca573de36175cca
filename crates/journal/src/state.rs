//! What a journal says: live archives, files and their versions, deleted
//! archives, retrieval jobs.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use glacier_treehash::TreeHash;

use crate::names::{ArchiveId, JobId, RelName};
use crate::record::Record;

/// A live archive: one version of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The archive.
    pub archive_id: ArchiveId,
    /// When it was recorded (epoch seconds).
    pub time: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The file's modification time, if known.
    pub mtime: Option<i64>,
    /// Its tree hash.
    pub treehash: TreeHash,
    /// The file it holds.
    pub relname: RelName,
    /// Its archive-retrieval jobs, in journal order.
    pub retrievals: Vec<Retrieval>,
}

impl Archive {
    /// The key that picks the latest version of a file: the highest MTIME
    /// (TIME when there is none), ties going to the higher TIME.
    pub fn version_key(&self) -> (i128, u64) {
        (
            self.mtime.map_or_else(|| i128::from(self.time), i128::from),
            self.time,
        )
    }
}

/// A deleted archive, as its DELETED record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedArchive {
    /// The archive.
    pub archive_id: ArchiveId,
    /// The file it held.
    pub relname: RelName,
    /// When it was deleted.
    pub time: u64,
}

/// One archive-retrieval job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrieval {
    /// When it was started.
    pub time: u64,
    /// The job (absent in version-0 journals).
    pub job_id: Option<JobId>,
}

/// Why a record does not fit the state built so far.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A CREATED record for an archive that is already live.
    #[error("archive {archive_id} is created twice (it is already live as {relname:?})")]
    DuplicateArchive {
        /// The archive.
        archive_id: ArchiveId,
        /// The name it is live under.
        relname: RelName,
    },
    /// A DELETED record for an archive that is not live.
    #[error("archive {archive_id} is deleted but is not live (never created, or deleted before)")]
    UnknownArchive {
        /// The archive.
        archive_id: ArchiveId,
    },
}

/// The state a journal describes, built by applying records in order.
///
/// Memory is proportional to the live archives (plus the deleted ones when
/// [`State::keep_deleted`] is on, and the retrieval jobs of live archives):
/// names and ids are shared between the indexes, never copied.
#[derive(Debug, Clone, Default)]
pub struct State {
    archives: HashMap<ArchiveId, Archive>,
    files: HashMap<RelName, Versions>,
    deleted: Vec<DeletedArchive>,
    keep_deleted: bool,
}

/// Archive ids of one file's versions, in journal order. Most files have one
/// version, so that one is stored inline.
#[derive(Debug, Clone)]
enum Versions {
    One(ArchiveId),
    Many(Vec<ArchiveId>),
}

impl Versions {
    fn as_slice(&self) -> &[ArchiveId] {
        match self {
            Versions::One(id) => std::slice::from_ref(id),
            Versions::Many(ids) => ids,
        }
    }
}

impl State {
    /// An empty state that keeps the list of deleted archives.
    pub fn new() -> Self {
        State {
            keep_deleted: true,
            ..State::default()
        }
    }

    /// An empty state that forgets deleted archives (memory then depends on
    /// the live archives only).
    pub fn without_deleted() -> Self {
        State::default()
    }

    /// Whether deleted archives are kept in [`State::deleted`].
    pub fn keep_deleted(&self) -> bool {
        self.keep_deleted
    }

    /// Applies one record, as mt-aws-glacier does: CREATED adds a live
    /// archive (an id may be live once), DELETED removes the archive by id
    /// (the name in the record is not consulted), `RETRIEVE_JOB` notes a job
    /// for the archive (kept while the archive is live; jobs for archives
    /// that are not live are ignored).
    ///
    /// On error the state is unchanged.
    pub fn apply(&mut self, record: &Record) -> Result<(), ApplyError> {
        match record {
            Record::Created {
                time,
                archive_id,
                size,
                mtime,
                treehash,
                relname,
            } => {
                let slot = match self.archives.entry(archive_id.clone()) {
                    Entry::Occupied(live) => {
                        return Err(ApplyError::DuplicateArchive {
                            archive_id: archive_id.clone(),
                            relname: live.get().relname.clone(),
                        });
                    }
                    Entry::Vacant(slot) => slot,
                };
                slot.insert(Archive {
                    archive_id: archive_id.clone(),
                    time: *time,
                    size: *size,
                    mtime: *mtime,
                    treehash: *treehash,
                    relname: relname.clone(),
                    retrievals: Vec::new(),
                });
                match self.files.entry(relname.clone()) {
                    Entry::Vacant(e) => {
                        e.insert(Versions::One(archive_id.clone()));
                    }
                    Entry::Occupied(mut e) => {
                        let v = e.get_mut();
                        match v {
                            Versions::One(first) => {
                                *v = Versions::Many(vec![first.clone(), archive_id.clone()]);
                            }
                            Versions::Many(ids) => ids.push(archive_id.clone()),
                        }
                    }
                }
                Ok(())
            }
            Record::Deleted {
                time,
                archive_id,
                relname,
            } => {
                let Some(archive) = self.archives.remove(archive_id) else {
                    return Err(ApplyError::UnknownArchive {
                        archive_id: archive_id.clone(),
                    });
                };
                let name = &archive.relname;
                let mut now_empty = false;
                if let Some(v) = self.files.get_mut(name) {
                    match v {
                        Versions::Many(ids) => {
                            ids.retain(|id| id != archive_id);
                            if ids.len() == 1 {
                                let last = ids[0].clone();
                                *v = Versions::One(last);
                            }
                        }
                        Versions::One(_) => now_empty = true,
                    }
                }
                if now_empty {
                    self.files.remove(name);
                }
                if self.keep_deleted {
                    self.deleted.push(DeletedArchive {
                        archive_id: archive_id.clone(),
                        relname: relname.clone(),
                        time: *time,
                    });
                }
                Ok(())
            }
            Record::RetrieveJob {
                time,
                archive_id,
                job_id,
            } => {
                if let Some(archive) = self.archives.get_mut(archive_id) {
                    archive.retrievals.push(Retrieval {
                        time: *time,
                        job_id: job_id.clone(),
                    });
                }
                Ok(())
            }
        }
    }

    /// The live archive `archive_id`.
    pub fn archive(&self, archive_id: &str) -> Option<&Archive> {
        self.archives.get(archive_id)
    }

    /// Every live archive, in no particular order.
    pub fn archives(&self) -> impl Iterator<Item = &Archive> {
        self.archives.values()
    }

    /// How many archives are live.
    pub fn archive_count(&self) -> usize {
        self.archives.len()
    }

    /// The versions of file `relname`, if it has a live archive.
    pub fn file(&self, relname: &str) -> Option<FileVersions<'_>> {
        self.files
            .get_key_value(relname)
            .map(|(name, v)| FileVersions {
                relname: name,
                ids: v.as_slice(),
                archives: &self.archives,
            })
    }

    /// The latest version of file `relname` (see [`Archive::version_key`]).
    pub fn latest(&self, relname: &str) -> Option<&Archive> {
        self.file(relname).map(|f| f.latest())
    }

    /// Every file with a live archive, in no particular order.
    pub fn files(&self) -> impl Iterator<Item = FileVersions<'_>> {
        self.files.iter().map(|(name, v)| FileVersions {
            relname: name,
            ids: v.as_slice(),
            archives: &self.archives,
        })
    }

    /// How many files have a live archive.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The deleted archives in journal order (empty unless
    /// [`State::keep_deleted`]).
    pub fn deleted(&self) -> &[DeletedArchive] {
        &self.deleted
    }

    /// The retrieval jobs of live archive `archive_id`, in journal order.
    pub fn retrievals(&self, archive_id: &str) -> &[Retrieval] {
        self.archives
            .get(archive_id)
            .map_or(&[], |a| a.retrievals.as_slice())
    }

    /// The most recent retrieval job of live archive `archive_id`.
    pub fn latest_retrieval(&self, archive_id: &str) -> Option<&Retrieval> {
        self.retrievals(archive_id).iter().max_by_key(|r| r.time)
    }
}

/// The live versions of one file.
#[derive(Debug, Clone, Copy)]
pub struct FileVersions<'a> {
    relname: &'a RelName,
    ids: &'a [ArchiveId],
    archives: &'a HashMap<ArchiveId, Archive>,
}

impl<'a> FileVersions<'a> {
    /// The file's name.
    pub fn relname(&self) -> &'a RelName {
        self.relname
    }

    /// How many live versions it has (at least one).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a file without a live version is not in the state.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The versions in journal order.
    pub fn iter(&self) -> impl Iterator<Item = &'a Archive> + use<'a> {
        let archives = self.archives;
        self.ids.iter().filter_map(move |id| archives.get(id))
    }

    /// The latest version: the highest MTIME (TIME when there is none),
    /// ties going to the higher TIME, then to the later record.
    ///
    /// # Panics
    ///
    /// Never: a file is in the state only while it has a live version.
    pub fn latest(&self) -> &'a Archive {
        let mut best: Option<&'a Archive> = None;
        for a in self.iter() {
            if best.is_none_or(|b| a.version_key() >= b.version_key()) {
                best = Some(a);
            }
        }
        best.expect("a file in the state has at least one live version")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(time: u64, id: &str, mtime: Option<i64>, name: &str) -> Record {
        Record::Created {
            time,
            archive_id: ArchiveId::new(id).unwrap(),
            size: 1,
            mtime,
            treehash: TreeHash::EMPTY,
            relname: RelName::new(name).unwrap(),
        }
    }

    #[test]
    fn latest_rule() {
        let mut s = State::new();
        s.apply(&created(100, "a", Some(50), "f")).unwrap();
        s.apply(&created(90, "b", Some(60), "f")).unwrap();
        s.apply(&created(200, "c", None, "g")).unwrap();
        s.apply(&created(100, "d", Some(150), "g")).unwrap();
        assert_eq!(s.latest("f").unwrap().archive_id.as_str(), "b");
        assert_eq!(s.latest("g").unwrap().archive_id.as_str(), "c");
        // Equal mtime: the higher time wins.
        s.apply(&created(300, "e", Some(60), "f")).unwrap();
        assert_eq!(s.latest("f").unwrap().archive_id.as_str(), "e");
        assert_eq!(s.file("f").unwrap().len(), 3);
    }

    #[test]
    fn delete_and_retrieve() {
        let mut s = State::new();
        s.apply(&created(1, "a", None, "f")).unwrap();
        s.apply(&created(2, "b", None, "f")).unwrap();
        let job = Record::RetrieveJob {
            time: 3,
            archive_id: ArchiveId::new("a").unwrap(),
            job_id: Some(JobId::new("j").unwrap()),
        };
        s.apply(&job).unwrap();
        assert_eq!(s.retrievals("a").len(), 1);
        let del = Record::Deleted {
            time: 4,
            archive_id: ArchiveId::new("a").unwrap(),
            relname: RelName::new("f").unwrap(),
        };
        s.apply(&del).unwrap();
        assert!(s.retrievals("a").is_empty());
        assert_eq!(s.file("f").unwrap().len(), 1);
        assert_eq!(s.deleted().len(), 1);
        assert!(matches!(
            s.apply(&del),
            Err(ApplyError::UnknownArchive { .. })
        ));
        assert!(matches!(
            s.apply(&created(9, "b", None, "x")),
            Err(ApplyError::DuplicateArchive { .. })
        ));
        assert_eq!(s.archive_count(), 1);
        assert_eq!(s.file_count(), 1);
    }
}
