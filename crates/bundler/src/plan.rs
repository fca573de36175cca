//! Grouping walked entries into bundles under a file-count and byte limit.

use std::ops::Range;

use crate::error::{BundleError, Result};
use crate::walk::Entry;

/// The limits of one bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// At most this many members (files, directories, links) per bundle.
    pub max_members: usize,
    /// At most this many content bytes per bundle, unless a single file is
    /// larger: such a file gets a bundle of its own. Files are never split.
    pub max_bytes: u64,
}

impl Default for BundleLimits {
    /// 1000 members and 500 MiB, as glacier-archive.
    fn default() -> Self {
        Self {
            max_members: 1000,
            max_bytes: 500 << 20,
        }
    }
}

/// Which entries go into which bundle: consecutive ranges of the walk's
/// entries, in order, so the same walk always gives the same bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePlan {
    /// One range of entry indexes per bundle.
    pub bundles: Vec<Range<usize>>,
}

impl BundlePlan {
    /// Cut `entries` into bundles. A member joins the current bundle when
    /// the bundle stays within both limits with it; otherwise the bundle is
    /// closed and a new one started. A file larger than `max_bytes` closes
    /// the current bundle and is put alone in one.
    pub fn new(entries: &[Entry], limits: BundleLimits) -> Result<Self> {
        Self::from_sizes(entries.iter().map(|e| e.size), limits)
    }

    /// [`BundlePlan::new`] from the entries' content sizes alone, in order
    /// (for entries kept in an [`crate::EntryList`]).
    pub fn from_sizes(sizes: impl IntoIterator<Item = u64>, limits: BundleLimits) -> Result<Self> {
        if limits.max_members == 0 || limits.max_bytes == 0 {
            return Err(BundleError::InvalidOption(format!(
                "bundle limits must be positive, got {} members and {} bytes",
                limits.max_members, limits.max_bytes
            )));
        }
        let mut bundles = Vec::new();
        let mut start = 0;
        let mut count = 0usize;
        let mut bytes = 0u64;
        let mut len = 0;
        for (i, size) in sizes.into_iter().enumerate() {
            len = i + 1;
            if size > limits.max_bytes {
                if count > 0 {
                    bundles.push(start..i);
                }
                bundles.push(i..i + 1);
                start = i + 1;
                count = 0;
                bytes = 0;
                continue;
            }
            if count + 1 > limits.max_members || bytes + size > limits.max_bytes {
                bundles.push(start..i);
                start = i;
                count = 0;
                bytes = 0;
            }
            count += 1;
            bytes += size;
        }
        if count > 0 {
            bundles.push(start..len);
        }
        Ok(Self { bundles })
    }

    /// The number of bundles.
    pub fn len(&self) -> usize {
        self.bundles.len()
    }

    /// Whether there is nothing to bundle.
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty()
    }

    /// The entries of bundle `i`.
    pub fn bundle<'a>(&self, entries: &'a [Entry], i: usize) -> &'a [Entry] {
        &entries[self.bundles[i].clone()]
    }
}
