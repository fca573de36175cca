//! Properties: every way of computing the hash agrees, for any input, any
//! split of it, and every allowed part size.

use std::io::Write as _;

use glacier_treehash::{
    CHUNK_SIZE, TreeHash, TreeHasher, combine_leaves, combine_parts, is_tree_hash_aligned,
    range_tree_hash_from_leaves, split_tree_hash_aligned, tree_hash, tree_hash_file_range,
};
use proptest::prelude::*;

use crate::pattern;

const MIB: usize = CHUNK_SIZE as usize;

/// Lengths that cluster around chunk boundaries, up to about 9 MiB.
fn interesting_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..4096,
        (0usize..9, 0usize..=6).prop_map(|(k, d)| (k * MIB + d).saturating_sub(3)),
        0usize..9 * MIB,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn streaming_with_any_splits_equals_one_shot(
        len in interesting_len(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let data = pattern(len);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(len + 1)).collect();
        points.sort_unstable();
        let mut h = TreeHasher::new();
        let mut at = 0;
        for p in points.into_iter().chain([len]) {
            h.update(&data[at..p]);
            at = p;
        }
        prop_assert_eq!(h.len(), len as u64);
        prop_assert_eq!(h.finish(), tree_hash(&data));
    }

    #[test]
    fn parallel_file_equals_one_shot(len in interesting_len(), threads in 1usize..5) {
        let data = pattern(len);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        prop_assert_eq!(
            tree_hash_file_range(&f, 0, len as u64, threads).unwrap(),
            tree_hash(&data)
        );
    }

    #[test]
    fn parts_of_every_allowed_size_combine_to_the_whole(len in interesting_len()) {
        let data = pattern(len);
        let whole = tree_hash(&data);
        // Every part size an archive of this length could use, and one more.
        for k in 0..5 {
            let part = MIB << k;
            let parts: Vec<TreeHash> = if data.is_empty() {
                vec![TreeHash::EMPTY]
            } else {
                data.chunks(part).map(tree_hash).collect()
            };
            prop_assert_eq!(combine_parts(part as u64, len as u64, &parts).unwrap(), whole);
        }
        let leaves: Vec<TreeHash> = data.chunks(MIB).map(TreeHash::leaf).collect();
        prop_assert_eq!(combine_leaves(&leaves), whole);
    }

    #[test]
    fn aligned_segments_hash_like_their_bytes(len in (1usize..12 * MIB), cap_k in 0u32..4) {
        let data = pattern(len);
        let total = len as u64;
        let leaves: Vec<TreeHash> = data.chunks(MIB).map(TreeHash::leaf).collect();
        let segments = split_tree_hash_aligned(&(0..total), total, CHUNK_SIZE << cap_k).unwrap();
        for s in segments {
            prop_assert!(is_tree_hash_aligned(&s, total));
            let bytes = &data[s.start as usize..s.end as usize];
            prop_assert_eq!(range_tree_hash_from_leaves(&leaves, &s, total), Some(tree_hash(bytes)));
        }
    }
}
