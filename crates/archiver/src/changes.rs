//! Incremental runs: which entries are new or changed since they were last
//! stored.

use std::os::unix::fs::MetadataExt as _;

use bundler::{Entry, EntryKind};
use catalog::{ArchiveState, Catalog};

use crate::error::Result;

/// The entries that are new or changed since they were last stored (size,
/// mtime or ctime differ: a replaced file, a new inode, gets a new ctime);
/// directories when new or their mtime changed.
pub(crate) fn changed(cat: &Catalog, entries: Vec<Entry>) -> Result<Vec<Entry>> {
    let mut keep = vec![false; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let path = format!("/{}", e.name_lossy());
        let hits = cat.where_is(&path)?;
        let ctime = std::fs::symlink_metadata(&e.source).ok().map(|m| m.ctime());
        let mut same = false;
        for h in &hits {
            if h.state == ArchiveState::Stored && h.size == e.size && h.mtime == e.mtime.secs {
                // A change of ctime (chmod, chown, a replaced file) counts too.
                let recorded = cat.file(h.id)?.and_then(|(_, f)| f.ctime);
                if recorded.is_none() || recorded == ctime {
                    same = true;
                    break;
                }
            }
        }
        if e.kind == EntryKind::Dir {
            keep[i] = !hits
                .iter()
                .any(|h| h.state == ArchiveState::Stored && h.mtime == e.mtime.secs);
            continue;
        }
        keep[i] = !same;
    }
    Ok(entries
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(e, _)| e)
        .collect())
}
