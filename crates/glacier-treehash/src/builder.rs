//! Building a tree from nodes that are already hashed: leaves, parts, segments.

use std::fmt;

use crate::{CHUNK_SIZE, MAX_PART_SIZE, TreeHash};

/// Builds a tree hash from already-hashed nodes pushed left to right.
///
/// Glacier's tree pairs nodes level by level from the left and carries an odd
/// last node up unchanged. The same root comes out of a binary counter: keep a
/// stack of subtree roots with strictly decreasing heights, merge the two on
/// top whenever they have the same height, and at the end fold the stack from
/// the right. Memory is one digest per level: 64 levels at most.
///
/// A node of height `h` stands for a perfect subtree of `2^h` leaves (1 MiB
/// chunks), which is what a multipart part of `2^h` MiB is. The last node
/// pushed may cover fewer leaves (the short last part of an archive).
///
/// ```
/// use glacier_treehash::{TreeBuilder, TreeHash, tree_hash};
///
/// let data = vec![7u8; 5 << 20]; // five chunks of 1 MiB
/// let mut b = TreeBuilder::new();
/// for chunk in data.chunks(1 << 20) {
///     b.push_leaf(TreeHash::leaf(chunk));
/// }
/// assert_eq!(b.finish(), tree_hash(&data));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    stack: Vec<(u32, TreeHash)>,
    pushed: u64,
}

impl TreeBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pushes the hash of the next 1 MiB chunk (the last chunk may be shorter).
    pub fn push_leaf(&mut self, leaf: TreeHash) {
        self.push_unchecked(0, leaf);
    }

    /// Pushes the root of the next subtree of `2^height` leaves.
    ///
    /// Fails if the subtree cannot start where the previous nodes end (a
    /// subtree of `2^h` leaves starts at a multiple of `2^h` leaves), which
    /// happens when a taller node follows a shorter one.
    pub fn push_subtree(&mut self, height: u32, root: TreeHash) -> Result<(), MisalignedNode> {
        if let Some(&(top, _)) = self.stack.last()
            && height > top
        {
            return Err(MisalignedNode {
                height,
                previous_height: top,
            });
        }
        self.push_unchecked(height, root);
        Ok(())
    }

    /// Pushes without the alignment check, for callers that guarantee it.
    pub(crate) fn push_unchecked(&mut self, height: u32, root: TreeHash) {
        let mut node = (height, root);
        while let Some(&(top_height, top)) = self.stack.last() {
            if top_height != node.0 {
                break;
            }
            self.stack.pop();
            node = (node.0 + 1, TreeHash::parent(&top, &node.1));
        }
        self.stack.push(node);
        self.pushed += 1;
    }

    /// How many nodes were pushed.
    pub fn nodes_pushed(&self) -> u64 {
        self.pushed
    }

    /// The root of everything pushed; [`TreeHash::EMPTY`] if nothing was.
    pub fn finish(self) -> TreeHash {
        let mut nodes = self.stack.into_iter().rev().map(|(_, h)| h);
        let Some(mut acc) = nodes.next() else {
            return TreeHash::EMPTY;
        };
        for left in nodes {
            acc = TreeHash::parent(&left, &acc);
        }
        acc
    }
}

/// A subtree was pushed where it cannot start. See [`TreeBuilder::push_subtree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisalignedNode {
    /// The height of the node that was refused.
    pub height: u32,
    /// The height of the node before it.
    pub previous_height: u32,
}

impl fmt::Display for MisalignedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a subtree of 2^{} leaves cannot follow a subtree of 2^{} leaves: \
             parts must all have the same size except the last",
            self.height, self.previous_height
        )
    }
}

impl std::error::Error for MisalignedNode {}

/// The tree hash of an archive from the hashes of its 1 MiB chunks, in order.
///
/// No data is read: this is how an uploader that kept its leaf hashes gets
/// the archive's tree hash. Empty input gives [`TreeHash::EMPTY`].
pub fn combine_leaves(leaves: &[TreeHash]) -> TreeHash {
    let mut b = TreeBuilder::new();
    for leaf in leaves {
        b.push_leaf(*leaf);
    }
    b.finish()
}

/// The tree hash of an archive from the tree hashes of its multipart parts.
///
/// `part_size` must be 1 MiB times a power of two, at most 4 GiB (what
/// Glacier accepts); every part but the last is that size and the last is at
/// most that size. `total_size` is checked against the number of parts.
///
/// ```
/// use glacier_treehash::{combine_parts, tree_hash};
///
/// let data = vec![1u8; (5 << 20) + 3];
/// let part = 2 << 20;
/// let parts: Vec<_> = data.chunks(part).map(tree_hash).collect();
/// assert_eq!(
///     combine_parts(part as u64, data.len() as u64, &parts).unwrap(),
///     tree_hash(&data)
/// );
/// ```
pub fn combine_parts(
    part_size: u64,
    total_size: u64,
    part_hashes: &[TreeHash],
) -> Result<TreeHash, CombineError> {
    let height = part_height(part_size).ok_or(CombineError::InvalidPartSize { part_size })?;
    let expected = total_size.div_ceil(part_size).max(1);
    if part_hashes.len() as u64 != expected {
        return Err(CombineError::PartCount {
            part_size,
            total_size,
            expected,
            given: part_hashes.len() as u64,
        });
    }
    let mut b = TreeBuilder::new();
    for h in part_hashes {
        // Parts of one size are always aligned, whatever their number.
        b.push_unchecked(height, *h);
    }
    Ok(b.finish())
}

/// Whether `part_size` is a size Glacier accepts for multipart parts:
/// 1 MiB times a power of two, up to 4 GiB.
pub fn is_valid_part_size(part_size: u64) -> bool {
    part_height(part_size).is_some()
}

/// `log2(part_size / 1 MiB)` for a valid part size.
pub(crate) fn part_height(part_size: u64) -> Option<u32> {
    if !(CHUNK_SIZE..=MAX_PART_SIZE).contains(&part_size) || !part_size.is_power_of_two() {
        return None;
    }
    Some((part_size / CHUNK_SIZE).trailing_zeros())
}

/// Why part hashes could not be combined.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CombineError {
    /// The part size is not 1 MiB times a power of two up to 4 GiB.
    InvalidPartSize {
        /// The size that was given.
        part_size: u64,
    },
    /// The number of part hashes does not match the archive size.
    PartCount {
        /// The part size.
        part_size: u64,
        /// The archive size.
        total_size: u64,
        /// Parts an archive of that size has.
        expected: u64,
        /// Part hashes that were given.
        given: u64,
    },
}

impl fmt::Display for CombineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CombineError::InvalidPartSize { part_size } => write!(
                f,
                "invalid part size {part_size}: it must be 1 MiB times a power of two, at most 4 GiB"
            ),
            CombineError::PartCount {
                part_size,
                total_size,
                expected,
                given,
            } => write!(
                f,
                "an archive of {total_size} bytes in parts of {part_size} bytes has {expected} parts, \
                 but {given} part hashes were given"
            ),
        }
    }
}

impl std::error::Error for CombineError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> TreeHash {
        TreeHash::leaf(&[i])
    }

    /// Glacier's definition, level by level, as a reference.
    fn level_by_level(mut nodes: Vec<TreeHash>) -> TreeHash {
        if nodes.is_empty() {
            return TreeHash::EMPTY;
        }
        while nodes.len() > 1 {
            nodes = nodes
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        TreeHash::parent(&p[0], &p[1])
                    } else {
                        p[0]
                    }
                })
                .collect();
        }
        nodes[0]
    }

    #[test]
    fn builder_matches_level_by_level_for_every_small_count() {
        for n in 0..70u8 {
            let leaves: Vec<_> = (0..n).map(leaf).collect();
            assert_eq!(
                combine_leaves(&leaves),
                level_by_level(leaves.clone()),
                "{n} leaves"
            );
        }
    }

    #[test]
    fn taller_node_after_shorter_is_refused() {
        let mut b = TreeBuilder::new();
        b.push_leaf(leaf(0));
        let err = b.push_subtree(1, leaf(1)).unwrap_err();
        assert_eq!(
            err,
            MisalignedNode {
                height: 1,
                previous_height: 0
            }
        );
    }

    #[test]
    fn part_sizes() {
        assert!(is_valid_part_size(1 << 20));
        assert!(is_valid_part_size(4 << 30));
        assert!(!is_valid_part_size(8 << 30));
        assert!(!is_valid_part_size(3 << 20));
        assert!(!is_valid_part_size(512 << 10));
        assert!(!is_valid_part_size(0));
        assert_eq!(
            combine_parts(3 << 20, 10, &[leaf(0)]),
            Err(CombineError::InvalidPartSize { part_size: 3 << 20 })
        );
        let err = combine_parts(1 << 20, 3 << 20, &[leaf(0)]).unwrap_err();
        assert!(err.to_string().contains("has 3 parts"), "{err}");
        // An empty archive is one empty part.
        assert_eq!(
            combine_parts(1 << 20, 0, &[TreeHash::EMPTY]).unwrap(),
            TreeHash::EMPTY
        );
    }
}
