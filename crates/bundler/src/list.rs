//! A walk's entries held compactly: fixed-size records grouped by
//! directory, each directory's names in one buffer, its path once.
//!
//! An [`Entry`] carries its source path and member name as two strings of
//! their own (about 250 bytes with the record); a tree of a million files
//! held that way takes hundreds of MiB before the first bundle starts. An
//! [`EntryList`] keeps about 90 bytes a file (a 72-byte record, the file's
//! own name, its place in the order) and builds [`Entry`] values when they
//! are asked for, a bundle at a time.

use std::ops::Range;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::PathBuf;

use crate::walk::{Entry, EntryKind, Timestamp};

/// No record of hard-link or symlink details.
const NO_EXTRA: u32 = u32::MAX;

/// The kind of an entry, without the target of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A further name of a file met earlier in the walk.
    HardLink,
}

/// What an entry's record holds besides its names: everything change
/// detection and bundle cutting look at, without building the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// File, directory, symlink or hard link.
    pub kind: EntryType,
    /// Content size in bytes (0 except for files).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Modification time.
    pub mtime: Timestamp,
    /// Access time.
    pub atime: Timestamp,
    /// Status change time.
    pub ctime: Timestamp,
}

/// One entry's fixed part (72 bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec {
    pub(crate) size: u64,
    secs: [i64; 3],
    nanos: [u32; 3],
    mode: u32,
    uid: u32,
    gid: u32,
    /// The name's bytes in the chunk's `names`.
    name: u32,
    name_len: u32,
    /// Index into the chunk's `extras`, or [`NO_EXTRA`].
    extra: u32,
    pub(crate) kind: EntryType,
}

impl Rec {
    /// A record of an entry's metadata; its name is set when it is added
    /// to a chunk.
    #[allow(clippy::too_many_arguments)] // the fields of a stat
    pub(crate) fn new(
        kind: EntryType,
        size: u64,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: Timestamp,
        atime: Timestamp,
        ctime: Timestamp,
    ) -> Self {
        Self {
            size,
            secs: [mtime.secs, atime.secs, ctime.secs],
            nanos: [mtime.nanos, atime.nanos, ctime.nanos],
            mode,
            uid,
            gid,
            name: 0,
            name_len: 0,
            extra: NO_EXTRA,
            kind,
        }
    }

    fn time(&self, i: usize) -> Timestamp {
        Timestamp {
            secs: self.secs[i],
            nanos: self.nanos[i],
        }
    }

    fn meta(&self) -> EntryMeta {
        EntryMeta {
            kind: self.kind,
            size: self.size,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            mtime: self.time(0),
            atime: self.time(1),
            ctime: self.time(2),
        }
    }
}

/// What few entries carry beyond their record: a link's target, and the
/// device and inode of a file with more than one name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub(crate) target: Vec<u8>,
    pub(crate) linked: Option<(u64, u64)>,
}

/// Where a chunk's names come from.
#[derive(Debug, Clone)]
pub(crate) enum Base {
    /// The children of one directory of a walk: its root (index into the
    /// list's roots) and its path relative to that root (empty for the
    /// root); each record's name is the child's file name.
    Dir { root: u32, rel: Vec<u8> },
    /// Entries with a name and source of their own (roots that are not
    /// directories, entries given one by one): each record's name is the
    /// whole member name; `sources` is parallel to the records.
    Explicit { sources: Vec<PathBuf> },
}

/// Records sharing a [`Base`].
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) base: Base,
    names: Vec<u8>,
    pub(crate) recs: Vec<Rec>,
    pub(crate) extras: Vec<Extra>,
}

impl Chunk {
    pub(crate) fn new(base: Base) -> Self {
        Self {
            base,
            names: Vec::new(),
            recs: Vec::new(),
            extras: Vec::new(),
        }
    }

    /// Adds a record named `name`, with `extra` when it has one.
    pub(crate) fn push(&mut self, mut rec: Rec, name: &[u8], extra: Option<Extra>) {
        rec.name = u32::try_from(self.names.len()).expect("a chunk's names stay below 4 GiB");
        rec.name_len = u32::try_from(name.len()).expect("a name is shorter than 4 GiB");
        self.names.extend_from_slice(name);
        if let Some(x) = extra {
            rec.extra = u32::try_from(self.extras.len()).expect("fewer than 4 G extras");
            self.extras.push(x);
        }
        self.recs.push(rec);
    }

    pub(crate) fn name(&self, r: &Rec) -> &[u8] {
        &self.names[r.name as usize..(r.name + r.name_len) as usize]
    }

    pub(crate) fn extra(&self, r: &Rec) -> Option<&Extra> {
        (r.extra != NO_EXTRA).then(|| &self.extras[r.extra as usize])
    }

    /// Sorts the records by name (a directory's children; not for
    /// explicit chunks, whose sources are parallel to the records).
    pub(crate) fn sort_by_name(&mut self) {
        let names = &self.names;
        let key = |r: &Rec| &names[r.name as usize..(r.name + r.name_len) as usize];
        self.recs.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    }

    /// A copy with exactly the capacity it needs (a walk's scratch chunk
    /// is reused for the next directory).
    pub(crate) fn take_exact(&mut self, base: Base) -> Self {
        let out = Self {
            base,
            names: self.names.as_slice().to_vec(),
            recs: self.recs.as_slice().to_vec(),
            extras: std::mem::take(&mut self.extras),
        };
        self.names.clear();
        self.recs.clear();
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.recs.len()
    }
}

/// Entries in a deterministic order, stored compactly (see the module
/// docs); [`EntryList::get`] and [`EntryList::range`] build [`Entry`]
/// values from them.
#[derive(Debug, Clone, Default)]
pub struct EntryList {
    /// Per root of the walk: its path as given and its member name.
    pub(crate) roots: Vec<(PathBuf, Vec<u8>)>,
    pub(crate) chunks: Vec<Chunk>,
    /// The entries in order: (chunk, record).
    pub(crate) order: Vec<(u32, u32)>,
}

/// `dir/name` (`name` when `dir` is empty).
pub(crate) fn join_into(out: &mut Vec<u8>, base: &[u8], name: &[u8]) {
    out.extend_from_slice(base);
    if !base.is_empty() && !name.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
}

impl EntryList {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn at(&self, i: usize) -> (&Chunk, &Rec) {
        let (c, r) = self.order[i];
        let chunk = &self.chunks[c as usize];
        (chunk, &chunk.recs[r as usize])
    }

    /// The record of entry `i`: kind, size, mode, ids and times.
    pub fn meta(&self, i: usize) -> EntryMeta {
        self.at(i).1.meta()
    }

    /// The content size of entry `i`.
    pub fn size(&self, i: usize) -> u64 {
        self.at(i).1.size
    }

    /// Appends the member name of entry `i` to `out`.
    pub fn name_into(&self, i: usize, out: &mut Vec<u8>) {
        let (chunk, rec) = self.at(i);
        let name = chunk.name(rec);
        match &chunk.base {
            Base::Dir { root, rel } => {
                let root_name = &self.roots[*root as usize].1;
                join_into(out, root_name, rel);
                let dir_named = !root_name.is_empty() || !rel.is_empty();
                if dir_named {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
            }
            Base::Explicit { .. } => out.extend_from_slice(name),
        }
    }

    /// The member name of entry `i`.
    pub fn name(&self, i: usize) -> Vec<u8> {
        let mut v = Vec::new();
        self.name_into(i, &mut v);
        v
    }

    /// Where entry `i` is on disk.
    pub fn source(&self, i: usize) -> PathBuf {
        let (c, r) = self.order[i];
        let chunk = &self.chunks[c as usize];
        let rec = &chunk.recs[r as usize];
        match &chunk.base {
            Base::Dir { root, rel } => {
                let root_path = self.roots[*root as usize].0.as_os_str().as_bytes();
                let name = chunk.name(rec);
                let mut v = Vec::with_capacity(root_path.len() + rel.len() + name.len() + 2);
                v.extend_from_slice(root_path);
                if !root_path.ends_with(b"/") {
                    v.push(b'/');
                }
                if !rel.is_empty() {
                    v.extend_from_slice(rel);
                    v.push(b'/');
                }
                v.extend_from_slice(name);
                PathBuf::from(std::ffi::OsString::from_vec(v))
            }
            Base::Explicit { sources } => sources[r as usize].clone(),
        }
    }

    /// Entry `i`, built.
    pub fn get(&self, i: usize) -> Entry {
        let (chunk, rec) = self.at(i);
        let extra = chunk.extra(rec);
        let target = || extra.map(|x| x.target.clone()).unwrap_or_default();
        let kind = match rec.kind {
            EntryType::File => EntryKind::File,
            EntryType::Dir => EntryKind::Dir,
            EntryType::Symlink => EntryKind::Symlink { target: target() },
            EntryType::HardLink => EntryKind::HardLink { target: target() },
        };
        Entry {
            source: self.source(i),
            name: self.name(i),
            kind,
            size: rec.size,
            mode: rec.mode,
            uid: rec.uid,
            gid: rec.gid,
            mtime: rec.time(0),
            atime: rec.time(1),
            ctime: rec.time(2),
            linked: extra.and_then(|x| x.linked).map(Box::new),
        }
    }

    /// Entries `range`, built.
    pub fn range(&self, range: Range<usize>) -> Vec<Entry> {
        range.map(|i| self.get(i)).collect()
    }

    /// Every entry, built, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Entry> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Every entry's record, in order.
    pub fn metas(&self) -> impl ExactSizeIterator<Item = EntryMeta> + '_ {
        (0..self.len()).map(|i| self.meta(i))
    }

    /// Every entry, built (the whole list as [`Entry`] values at once).
    pub fn to_entries(&self) -> Vec<Entry> {
        self.iter().collect()
    }

    /// Keeps the entries for whose index (in the current order) `keep`
    /// says yes, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut i = 0;
        self.order.retain(|_| {
            let k = keep(i);
            i += 1;
            k
        });
        self.order.shrink_to_fit();
    }

    pub(crate) fn rec_mut(&mut self, i: usize) -> (&mut Rec, Option<&mut Extra>) {
        let (c, r) = self.order[i];
        let chunk = &mut self.chunks[c as usize];
        let x = chunk.recs[r as usize].extra;
        let extra = (x != NO_EXTRA).then(|| &mut chunk.extras[x as usize]);
        (&mut chunk.recs[r as usize], extra)
    }
}

impl From<Vec<Entry>> for EntryList {
    /// Entries given one by one, each with its own source and name, kept in
    /// the order given.
    fn from(entries: Vec<Entry>) -> Self {
        let mut chunk = Chunk::new(Base::Explicit {
            sources: Vec::with_capacity(entries.len()),
        });
        let mut order = Vec::with_capacity(entries.len());
        for e in entries {
            let (kind, target) = match e.kind {
                EntryKind::File => (EntryType::File, None),
                EntryKind::Dir => (EntryType::Dir, None),
                EntryKind::Symlink { target } => (EntryType::Symlink, Some(target)),
                EntryKind::HardLink { target } => (EntryType::HardLink, Some(target)),
            };
            let linked = e.linked.map(|b| *b);
            let extra = (target.is_some() || linked.is_some()).then(|| Extra {
                target: target.unwrap_or_default(),
                linked,
            });
            let rec = Rec::new(
                kind, e.size, e.mode, e.uid, e.gid, e.mtime, e.atime, e.ctime,
            );
            order.push((
                0,
                u32::try_from(chunk.len()).expect("fewer than 4 G entries"),
            ));
            chunk.push(rec, &e.name, extra);
            if let Base::Explicit { sources } = &mut chunk.base {
                sources.push(e.source);
            }
        }
        Self {
            roots: Vec::new(),
            chunks: vec![chunk],
            order,
        }
    }
}

impl FromIterator<Entry> for EntryList {
    fn from_iter<T: IntoIterator<Item = Entry>>(iter: T) -> Self {
        Self::from(iter.into_iter().collect::<Vec<_>>())
    }
}
