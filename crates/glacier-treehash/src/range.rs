//! Byte ranges of an archive and how they sit in its tree.
//!
//! Ranges here are half-open, `start..end` in bytes, within an archive of
//! `total` bytes. (AWS writes them inclusive: `bytes=start-(end-1)`.)
//!
//! - A range is **megabyte aligned** when `start` is a multiple of 1 MiB and
//!   `end` is a multiple of 1 MiB or the end of the archive. Glacier only
//!   accepts such ranges for a retrieval job.
//! - A range is **tree-hash aligned** when its own tree hash is a node of the
//!   archive's tree. Only then does Glacier return a checksum for it, and only
//!   then can a downloader verify it on its own.

use std::ops::Range;

use crate::{CHUNK_SIZE, TreeBuilder, TreeHash};

/// Whether `range` of an archive of `total` bytes is megabyte aligned.
pub fn is_megabyte_aligned(range: &Range<u64>, total: u64) -> bool {
    range.start < range.end
        && range.end <= total
        && range.start.is_multiple_of(CHUNK_SIZE)
        && (range.end.is_multiple_of(CHUNK_SIZE) || range.end == total)
}

/// Whether `range` of an archive of `total` bytes is tree-hash aligned.
///
/// ```
/// use glacier_treehash::is_tree_hash_aligned;
///
/// const MIB: u64 = 1 << 20;
/// let total = 6 * MIB + MIB / 2; // 6.5 MiB: leaves a b c d e f g
/// assert!(is_tree_hash_aligned(&(0..total), total)); // the root
/// assert!(is_tree_hash_aligned(&(4 * MIB..6 * MIB), total)); // node ef
/// assert!(is_tree_hash_aligned(&(6 * MIB..total), total)); // leaf g
/// assert!(!is_tree_hash_aligned(&(MIB..3 * MIB), total)); // b c: no node
/// ```
pub fn is_tree_hash_aligned(range: &Range<u64>, total: u64) -> bool {
    if !is_megabyte_aligned(range, total) {
        return false;
    }
    let mut node = CHUNK_SIZE;
    loop {
        if !range.start.is_multiple_of(node) {
            return false;
        }
        let node_end = range.start.saturating_add(node).min(total);
        if node_end == range.end {
            return true;
        }
        if node_end > range.end {
            return false;
        }
        node = node.saturating_mul(2);
    }
}

/// The smallest tree-hash aligned range that contains `range`.
///
/// Returns `None` if `range` is empty or reaches past `total`.
///
/// ```
/// use glacier_treehash::tree_hash_aligned_cover;
///
/// const MIB: u64 = 1 << 20;
/// assert_eq!(tree_hash_aligned_cover(&(5..10), 10 * MIB), Some(0..MIB));
/// assert_eq!(tree_hash_aligned_cover(&(MIB + 1..2 * MIB + 1), 10 * MIB), Some(0..4 * MIB));
/// ```
pub fn tree_hash_aligned_cover(range: &Range<u64>, total: u64) -> Option<Range<u64>> {
    if range.start >= range.end || range.end > total {
        return None;
    }
    let mut node = CHUNK_SIZE;
    loop {
        let start = range.start - range.start % node;
        let end = start.saturating_add(node).min(total);
        if end >= range.end {
            return Some(start..end);
        }
        node = node.saturating_mul(2);
    }
}

/// Cuts a megabyte-aligned `range` into consecutive tree-hash aligned
/// segments of at most `max_segment` bytes (rounded down to 1 MiB times a
/// power of two, and at least 1 MiB), largest first where alignment allows.
///
/// A downloader fetches each segment separately and checks it against the
/// tree hash the store returns for it. Returns `None` if `range` is not
/// megabyte aligned.
///
/// ```
/// use glacier_treehash::{is_tree_hash_aligned, split_tree_hash_aligned};
///
/// const MIB: u64 = 1 << 20;
/// let total = 13 * MIB + 5;
/// let segments = split_tree_hash_aligned(&(MIB..total), total, 4 * MIB).unwrap();
/// assert_eq!(segments, vec![MIB..2 * MIB, 2 * MIB..4 * MIB, 4 * MIB..8 * MIB,
///                           8 * MIB..12 * MIB, 12 * MIB..total]);
/// assert!(segments.iter().all(|s| is_tree_hash_aligned(s, total)));
/// ```
pub fn split_tree_hash_aligned(
    range: &Range<u64>,
    total: u64,
    max_segment: u64,
) -> Option<Vec<Range<u64>>> {
    if !is_megabyte_aligned(range, total) {
        return None;
    }
    let cap = largest_power_of_two_chunks_at_most(max_segment);
    let mut out = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        // Largest node starting at `pos` that fits the cap and the range.
        let mut node = CHUNK_SIZE;
        loop {
            let bigger = node * 2;
            if bigger > cap || !pos.is_multiple_of(bigger) {
                break;
            }
            let bigger_end = pos.saturating_add(bigger).min(total);
            if bigger_end > range.end {
                break;
            }
            node = bigger;
            if bigger_end == total {
                break;
            }
        }
        let end = pos.saturating_add(node).min(total).min(range.end);
        out.push(pos..end);
        pos = end;
    }
    Some(out)
}

fn largest_power_of_two_chunks_at_most(bytes: u64) -> u64 {
    if bytes < CHUNK_SIZE {
        return CHUNK_SIZE;
    }
    let chunks = bytes / CHUNK_SIZE;
    CHUNK_SIZE << chunks.ilog2()
}

/// The tree hash of `range` of an archive, from the archive's leaf hashes
/// (one per 1 MiB chunk, in order), without reading any data.
///
/// `range` must start on a 1 MiB boundary and end on one or at the end of
/// the archive; otherwise `None`. `leaves.len()` must match `total`.
pub fn range_tree_hash_from_leaves(
    leaves: &[TreeHash],
    range: &Range<u64>,
    total: u64,
) -> Option<TreeHash> {
    if !is_megabyte_aligned(range, total) || leaves.len() as u64 != total.div_ceil(CHUNK_SIZE) {
        return None;
    }
    let first = usize::try_from(range.start / CHUNK_SIZE).ok()?;
    let last = usize::try_from(range.end.div_ceil(CHUNK_SIZE)).ok()?;
    let mut b = TreeBuilder::new();
    for leaf in &leaves[first..last] {
        b.push_leaf(*leaf);
    }
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = CHUNK_SIZE;

    #[test]
    fn megabyte_alignment() {
        assert!(is_megabyte_aligned(&(0..MIB), 10 * MIB));
        assert!(is_megabyte_aligned(&(MIB..3 * MIB + 7), 3 * MIB + 7));
        assert!(!is_megabyte_aligned(&(1..MIB), 10 * MIB));
        assert!(!is_megabyte_aligned(&(0..MIB + 1), 10 * MIB));
        assert!(!is_megabyte_aligned(&(0..0), 10 * MIB));
        assert!(!is_megabyte_aligned(&(0..11 * MIB), 10 * MIB));
    }

    #[test]
    fn tree_alignment_against_brute_force() {
        // Enumerate every node of trees of 1..=20 leaves and compare.
        for leaves in 1..=20u64 {
            let total = leaves * MIB - 3; // short last chunk
            let mut nodes = Vec::new();
            let mut level: Vec<Range<u64>> = (0..leaves)
                .map(|i| i * MIB..((i + 1) * MIB).min(total))
                .collect();
            nodes.extend(level.clone());
            while level.len() > 1 {
                level = level
                    .chunks(2)
                    .map(|p| p[0].start..p[p.len() - 1].end)
                    .collect();
                nodes.extend(level.clone());
            }
            for a in 0..leaves {
                for b in a + 1..=leaves {
                    let r = a * MIB..(b * MIB).min(total);
                    assert_eq!(
                        is_tree_hash_aligned(&r, total),
                        nodes.contains(&r),
                        "{leaves} leaves, range {a}..{b}"
                    );
                }
            }
        }
    }

    #[test]
    fn cover_and_split() {
        let total = 10 * MIB;
        assert_eq!(tree_hash_aligned_cover(&(0..total), total), Some(0..total));
        assert_eq!(
            tree_hash_aligned_cover(&(9 * MIB..9 * MIB + 1), total),
            Some(9 * MIB..total)
        );
        assert_eq!(tree_hash_aligned_cover(&(0..total + 1), total), None);
        assert_eq!(split_tree_hash_aligned(&(1..MIB), total, MIB), None);
        let s = split_tree_hash_aligned(&(0..total), total, 1).unwrap();
        assert_eq!(s.len(), 10);
        // The whole archive is the root node: one segment.
        let s = split_tree_hash_aligned(&(0..total), total, 64 * MIB).unwrap();
        assert_eq!(s, vec![0..total]);
        let s = split_tree_hash_aligned(&(0..total), total, 8 * MIB).unwrap();
        assert_eq!(s, vec![0..8 * MIB, 8 * MIB..total]);
        for seg in &s {
            assert!(is_tree_hash_aligned(seg, total));
        }
    }

    #[test]
    fn split_is_always_aligned_and_contiguous() {
        for chunks in 1..40u64 {
            for tail in [0, 1, MIB / 2] {
                let total = chunks * MIB + tail;
                for start_chunk in 0..chunks {
                    for cap in [MIB, 2 * MIB, 3 * MIB, 8 * MIB, 1 << 40] {
                        let r = start_chunk * MIB..total;
                        let segs = split_tree_hash_aligned(&r, total, cap).unwrap();
                        assert_eq!(segs.first().unwrap().start, r.start);
                        assert_eq!(segs.last().unwrap().end, r.end);
                        for w in segs.windows(2) {
                            assert_eq!(w[0].end, w[1].start);
                        }
                        for s in &segs {
                            assert!(is_tree_hash_aligned(s, total), "{s:?} of {total}");
                            assert!(s.end - s.start <= cap.max(MIB));
                        }
                    }
                }
            }
        }
    }
}
