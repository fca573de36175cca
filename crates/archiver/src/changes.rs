//! Incremental runs: which entries are new or changed since they were last
//! stored.
//!
//! The catalog is read in bulk: one [`Catalog::stored_files_under`] per
//! topmost directory entry (a walk's root) covers every entry below it;
//! only the entries outside those (the roots themselves, explicit entries
//! of [`crate::Sources::Entries`] in directories of their own) are looked
//! up one by one, or by their directory when it holds many of them.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher as _;

use bundler::{EntryList, EntryMeta, EntryType};
use catalog::{ArchiveState, Catalog, FileId, StoredFile};

use crate::error::Result;

/// Outside entries sharing a directory: from this many on, the directory
/// is read at once instead of each path.
const GROUP_MIN: usize = 8;

/// The catalog path of entry `i` (`/` and its name, lossily as text).
fn path_into(entries: &EntryList, i: usize, bytes: &mut Vec<u8>, out: &mut String) {
    bytes.clear();
    entries.name_into(i, bytes);
    out.clear();
    out.push('/');
    out.push_str(&String::from_utf8_lossy(bytes));
}

/// Entries by the hash of their catalog path: 8 bytes an entry, sorted,
/// where a map of path strings took about 100; a hit is confirmed by
/// building the entry's path.
struct PathIndex {
    hasher: std::collections::hash_map::RandomState,
    sorted: Vec<(u32, u32)>,
}

impl PathIndex {
    fn new(entries: &EntryList) -> Self {
        let hasher = std::collections::hash_map::RandomState::new();
        let (mut bytes, mut path) = (Vec::new(), String::new());
        let mut sorted: Vec<(u32, u32)> = (0..entries.len())
            .map(|i| {
                path_into(entries, i, &mut bytes, &mut path);
                (
                    Self::short(&hasher, &path),
                    u32::try_from(i).expect("fewer than 4 G entries"),
                )
            })
            .collect();
        sorted.sort_unstable();
        Self { hasher, sorted }
    }

    #[allow(clippy::cast_possible_truncation)] // a 32-bit hash: hits are confirmed
    fn short(hasher: &std::collections::hash_map::RandomState, path: &str) -> u32 {
        hasher.hash_one(path) as u32
    }

    /// The last entry (in order) whose catalog path is `path`, as a map of
    /// paths to entries built in order would give.
    fn get(
        &self,
        entries: &EntryList,
        path: &str,
        bytes: &mut Vec<u8>,
        buf: &mut String,
    ) -> Option<usize> {
        let h = Self::short(&self.hasher, path);
        let from = self.sorted.partition_point(|&(k, _)| k < h);
        let to = self.sorted.partition_point(|&(k, _)| k <= h);
        self.sorted[from..to]
            .iter()
            .rev()
            .map(|&(_, i)| i as usize)
            .find(|&i| {
                path_into(entries, i, bytes, buf);
                buf == path
            })
    }
}

/// Leaves out of `entries` those not new or changed since they were last
/// stored: kept are those whose newest stored version is of another kind,
/// or its size, mtime or ctime differ (a replaced file, a new inode, gets
/// a new ctime); directories when new, of another kind or their mtime
/// changed. The ctime compared is the one the walk saw.
pub(crate) fn changed(cat: &Catalog, entries: &mut EntryList) -> Result<()> {
    let n = entries.len();
    let list: &EntryList = entries;
    // Made once the catalog names a stored file (a first run needs none).
    let mut index: Option<PathIndex> = None;
    // Per entry, its newest stored version (the greatest file id) and
    // whether that one matches: an older version matching (a file put back
    // with the metadata of an earlier copy, a directory made where a file
    // was within the same second as the directory before it) is no reason
    // to skip it, as a restore takes the newest.
    let mut newest: Vec<Option<(FileId, bool)>> = Vec::new();
    let (mut buf, mut visit_bytes, mut check) = (String::new(), Vec::new(), String::new());
    let mut visit = |s: &StoredFile<'_>| {
        buf.clear();
        buf.push_str(s.dir);
        buf.push('/');
        buf.push_str(s.name);
        let index = index.get_or_insert_with(|| PathIndex::new(list));
        if newest.is_empty() {
            newest = vec![None; n];
        }
        if let Some(i) = index.get(list, &buf, &mut visit_bytes, &mut check)
            && newest[i].is_none_or(|(id, _)| id < s.id)
        {
            newest[i] = Some((
                s.id,
                unchanged(&list.meta(i), s.mode, s.size, s.mtime, s.ctime),
            ));
        }
    };

    // The topmost directory entries: shorter paths first, so an ancestor
    // is known before its descendants.
    let (mut path, mut bytes) = (String::new(), Vec::new());
    let mut dirs: Vec<String> = (0..n)
        .filter(|&i| list.meta(i).kind == EntryType::Dir)
        .map(|i| {
            path_into(list, i, &mut bytes, &mut path);
            path.clone()
        })
        .collect();
    dirs.sort_unstable_by_key(String::len);
    let mut tops: HashSet<String> = HashSet::new();
    for d in dirs {
        if !ancestors(&d).any(|a| tops.contains(a)) {
            tops.insert(d);
        }
    }
    for t in &tops {
        cat.stored_files_under(t, &mut visit)?;
    }
    // Entries below none of them, by directory (siblings follow each other:
    // the answer for the last parent is kept).
    let mut outside: HashMap<String, Vec<usize>> = HashMap::new();
    let mut last: Option<(String, bool)> = None;
    for i in 0..n {
        path_into(list, i, &mut bytes, &mut path);
        let parent = path.rsplit_once('/').map_or("", |(d, _)| d);
        let inside = match &last {
            Some((p, inside)) if p == parent => *inside,
            _ => {
                // Its proper ancestors: the parent (`/` for a top-level
                // entry) and the parent's.
                let p = if parent.is_empty() { "/" } else { parent };
                let inside = tops.contains(p) || ancestors(p).any(|a| tops.contains(a));
                last = Some((parent.to_owned(), inside));
                inside
            }
        };
        if !inside {
            outside.entry(parent.to_owned()).or_default().push(i);
        }
    }
    let mut one_by_one = Vec::new();
    for (dir, members) in outside {
        if members.len() >= GROUP_MIN {
            cat.stored_files_under(if dir.is_empty() { "/" } else { &dir }, &mut visit)?;
        } else {
            one_by_one.extend(members);
        }
    }
    let mut same: Vec<bool> = if newest.is_empty() {
        vec![false; n]
    } else {
        newest.iter().map(|n| n.is_some_and(|(_, s)| s)).collect()
    };
    drop(newest);
    for i in one_by_one {
        let e = list.meta(i);
        path_into(list, i, &mut bytes, &mut path);
        let Some(h) = cat
            .where_is(&path)?
            .into_iter()
            .filter(|h| h.state == ArchiveState::Stored)
            .max_by_key(|h| h.id)
        else {
            continue;
        };
        if e.kind == EntryType::Dir || h.size == e.size {
            let (mode, ctime) = cat
                .file(h.id)?
                .map_or((0, None), |(_, f)| (f.mode, f.ctime));
            let ctime = if e.kind == EntryType::Dir {
                None
            } else {
                ctime
            };
            same[i] = unchanged(&e, mode, h.size, h.mtime, ctime);
        }
    }
    entries.retain(|i| !same[i]);
    Ok(())
}

/// Whether a stored version matches entry `e`: of the same kind (when
/// its mode records one: a directory that replaced a file of the same path
/// within the same second is changed), then a directory by its mtime,
/// anything else by size, mtime and (when recorded) ctime.
fn unchanged(e: &EntryMeta, mode: u32, size: u64, mtime: i64, ctime: Option<i64>) -> bool {
    let kind = mode & 0o170_000;
    let same_kind = kind == 0
        || kind
            == match e.kind {
                EntryType::Dir => 0o040_000,
                EntryType::Symlink => 0o120_000,
                EntryType::File | EntryType::HardLink => 0o100_000,
            };
    if !same_kind {
        return false;
    }
    if e.kind == EntryType::Dir {
        return mtime == e.mtime.secs;
    }
    size == e.size && mtime == e.mtime.secs && ctime.is_none_or(|c| c == e.ctime.secs)
}

/// The proper ancestors of an absolute path, nearest first (`/` last).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let p = rest?;
        let (d, _) = p.rsplit_once('/')?;
        if d.is_empty() {
            rest = None;
            (p != "/").then_some("/")
        } else {
            rest = Some(d);
            Some(d)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::ancestors;

    #[test]
    fn ancestors_of_paths() {
        let a = |p| ancestors(p).collect::<Vec<_>>();
        assert_eq!(a("/a/b/c"), ["/a/b", "/a", "/"]);
        assert_eq!(a("/a"), ["/"]);
        assert!(a("/").is_empty());
    }
}
