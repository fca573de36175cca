//! Fixed vectors. The expected values were computed independently, by a
//! short Python script using hashlib and the level-by-level definition, and
//! the boundary cases are also rebuilt here by hand from plain SHA-256.

use std::io::Write as _;

use glacier_treehash::{
    TreeHash, TreeHasher, tree_hash, tree_hash_file, tree_hash_file_range, tree_hash_reader,
};
use sha2::{Digest, Sha256};

use crate::pattern;

const MIB: usize = 1 << 20;

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn sha_pair(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

/// Every way this crate has of hashing `data`, which must all agree.
fn all_ways(data: &[u8]) -> TreeHash {
    let one_shot = tree_hash(data);
    let mut streaming = TreeHasher::new();
    for piece in data.chunks(65_537) {
        streaming.update(piece);
    }
    assert_eq!(streaming.finish(), one_shot, "streaming");
    let (from_reader, len) = tree_hash_reader(data).unwrap();
    assert_eq!((from_reader, len), (one_shot, data.len() as u64), "reader");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(data).unwrap();
    for threads in [1, 2, 4] {
        assert_eq!(
            tree_hash_file(file.path(), threads).unwrap(),
            one_shot,
            "file with {threads} threads"
        );
    }
    one_shot
}

#[test]
fn known_vector_from_the_facts() {
    let mut data = b"Hello, world! ".to_vec();
    data.extend([b'x'; 100]);
    assert_eq!(data.len(), 114);
    assert_eq!(
        all_ways(&data).to_string(),
        "15aad04dbdebee9ad90ba889d8eb3b9045be355fed57c62894bc2b1ae259c8c8"
    );
}

#[test]
fn empty_input_is_sha256_of_the_empty_string() {
    assert_eq!(
        all_ways(b"").to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(TreeHasher::new().finish(), TreeHash::EMPTY);
}

#[test]
fn one_byte() {
    let d = pattern(1);
    assert_eq!(all_ways(&d).to_bytes(), sha(&d));
    assert_eq!(
        tree_hash(&d).to_string(),
        "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"
    );
}

#[test]
fn one_mib_minus_one() {
    let d = pattern(MIB - 1);
    assert_eq!(all_ways(&d).to_bytes(), sha(&d));
    assert_eq!(
        tree_hash(&d).to_string(),
        "9487450cca5e9cca35dbef99a45b4c727652508e60210c77c3f41a527328e02a"
    );
}

#[test]
fn exactly_one_mib_is_one_leaf() {
    let d = pattern(MIB);
    assert_eq!(all_ways(&d).to_bytes(), sha(&d));
    assert_eq!(
        tree_hash(&d).to_string(),
        "172c15dc2e12b50e523d8e657cbe7fbb11c1053252bbf1e1431077d57d8128fd"
    );
}

#[test]
fn one_mib_plus_one_is_two_leaves() {
    let d = pattern(MIB + 1);
    let want = sha_pair(sha(&d[..MIB]), sha(&d[MIB..]));
    assert_eq!(all_ways(&d).to_bytes(), want);
    assert_eq!(
        tree_hash(&d).to_string(),
        "5e56d7a28a16f7b7235af16e38e13dd7efd20451ac704747c9a240c5a35b6b5c"
    );
}

#[test]
fn two_mib_plus_three_carries_the_odd_leaf_up() {
    let d = pattern(2 * MIB + 3);
    let ab = sha_pair(sha(&d[..MIB]), sha(&d[MIB..2 * MIB]));
    let want = sha_pair(ab, sha(&d[2 * MIB..]));
    assert_eq!(all_ways(&d).to_bytes(), want);
    assert_eq!(
        tree_hash(&d).to_string(),
        "b4af973ea5d581720523377035e60a19d5ca33d1cfbe1eec89bc858a355de663"
    );
}

#[test]
fn three_mib() {
    let d = pattern(3 * MIB);
    let ab = sha_pair(sha(&d[..MIB]), sha(&d[MIB..2 * MIB]));
    let want = sha_pair(ab, sha(&d[2 * MIB..]));
    assert_eq!(all_ways(&d).to_bytes(), want);
    assert_eq!(
        tree_hash(&d).to_string(),
        "138a849c69579c857301adecea119a6aee947158de575466b355f780196e020d"
    );
}

#[test]
fn file_range_at_an_offset() {
    let d = pattern(6 * MIB + 11);
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&d).unwrap();
    for threads in [1, 3] {
        assert_eq!(
            tree_hash_file_range(&f, 2 * MIB as u64, 3 * MIB as u64 + 5, threads).unwrap(),
            tree_hash(&d[2 * MIB..5 * MIB + 5])
        );
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = tree_hash_file(&dir.path().join("absent"), 2).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}
