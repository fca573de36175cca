//! Incremental runs: which entries are new or changed since they were last
//! stored.
//!
//! The catalog is read in bulk: one [`Catalog::stored_files_under`] per
//! topmost directory entry (a walk's root) covers every entry below it;
//! only the entries outside those (the roots themselves, explicit entries
//! of [`crate::Sources::Entries`] in directories of their own) are looked
//! up one by one, or by their directory when it holds many of them.

use std::collections::{HashMap, HashSet};

use bundler::{Entry, EntryKind};
use catalog::{ArchiveState, Catalog, FileId, StoredFile};

use crate::error::Result;

/// Outside entries sharing a directory: from this many on, the directory
/// is read at once instead of each path.
const GROUP_MIN: usize = 8;

/// The entries that are new or changed since they were last stored: their
/// newest stored version is of another kind, or its size, mtime or ctime
/// differ (a replaced file, a new inode, gets a new ctime); directories
/// when new, of another kind or their mtime changed. The ctime compared is
/// the one the walk saw.
pub(crate) fn changed(cat: &Catalog, entries: Vec<Entry>) -> Result<Vec<Entry>> {
    let paths: Vec<String> = entries
        .iter()
        .map(|e| format!("/{}", e.name_lossy()))
        .collect();
    let index: HashMap<&str, usize> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    // Per entry, its newest stored version (the greatest file id) and
    // whether that one matches: an older version matching (a file put back
    // with the metadata of an earlier copy, a directory made where a file
    // was within the same second as the directory before it) is no reason
    // to skip it, as a restore takes the newest.
    let mut newest: Vec<Option<(FileId, bool)>> = vec![None; entries.len()];
    let mut buf = String::new();
    let mut visit = |s: &StoredFile<'_>| {
        buf.clear();
        buf.push_str(s.dir);
        buf.push('/');
        buf.push_str(s.name);
        if let Some(&i) = index.get(buf.as_str())
            && newest[i].is_none_or(|(id, _)| id < s.id)
        {
            newest[i] = Some((
                s.id,
                unchanged(&entries[i], s.mode, s.size, s.mtime, s.ctime),
            ));
        }
    };

    // The topmost directory entries: shorter paths first, so an ancestor
    // is known before its descendants.
    let mut dirs: Vec<&str> = entries
        .iter()
        .zip(&paths)
        .filter(|(e, _)| e.kind == EntryKind::Dir)
        .map(|(_, p)| p.as_str())
        .collect();
    dirs.sort_unstable_by_key(|p| p.len());
    let mut tops: HashSet<&str> = HashSet::new();
    for d in dirs {
        if !ancestors(d).any(|a| tops.contains(a)) {
            tops.insert(d);
        }
    }
    for t in &tops {
        cat.stored_files_under(t, &mut visit)?;
    }
    // Entries below none of them, by directory.
    let mut outside: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in paths.iter().enumerate() {
        if !ancestors(p).any(|a| tops.contains(a)) {
            let parent = p.rsplit_once('/').map_or("", |(d, _)| d);
            outside.entry(parent).or_default().push(i);
        }
    }
    let mut one_by_one = Vec::new();
    for (dir, members) in outside {
        if members.len() >= GROUP_MIN {
            cat.stored_files_under(if dir.is_empty() { "/" } else { dir }, &mut visit)?;
        } else {
            one_by_one.extend(members);
        }
    }
    let mut same: Vec<bool> = newest.iter().map(|n| n.is_some_and(|(_, s)| s)).collect();
    for i in one_by_one {
        let e = &entries[i];
        let Some(h) = cat
            .where_is(&paths[i])?
            .into_iter()
            .filter(|h| h.state == ArchiveState::Stored)
            .max_by_key(|h| h.id)
        else {
            continue;
        };
        if e.kind == EntryKind::Dir || h.size == e.size {
            let (mode, ctime) = cat
                .file(h.id)?
                .map_or((0, None), |(_, f)| (f.mode, f.ctime));
            let ctime = if e.kind == EntryKind::Dir {
                None
            } else {
                ctime
            };
            same[i] = unchanged(e, mode, h.size, h.mtime, ctime);
        }
    }
    Ok(entries
        .into_iter()
        .zip(same)
        .filter(|(_, s)| !*s)
        .map(|(e, _)| e)
        .collect())
}

/// Whether a stored version matches entry `e`: of the same kind (when
/// its mode records one: a directory that replaced a file of the same path
/// within the same second is changed), then a directory by its mtime,
/// anything else by size, mtime and (when recorded) ctime.
fn unchanged(e: &Entry, mode: u32, size: u64, mtime: i64, ctime: Option<i64>) -> bool {
    let kind = mode & 0o170_000;
    let same_kind = kind == 0
        || kind
            == match e.kind {
                EntryKind::Dir => 0o040_000,
                EntryKind::Symlink { .. } => 0o120_000,
                EntryKind::File | EntryKind::HardLink { .. } => 0o100_000,
            };
    if !same_kind {
        return false;
    }
    if e.kind == EntryKind::Dir {
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
