//! Single members from byte ranges only.

use std::fs;

use bundler::{
    BundleOptions, CountingSource, Decryption, Encryption, ExtractOptions, FileSource, Selection,
    extract_ranges, generate_x25519, read_index,
};

use crate::common::{bundle, pseudo_random, walk_rel};

fn tree() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    for i in 0..40 {
        fs::write(
            src.path().join(format!("f{i:02}")),
            pseudo_random(100_000, i),
        )
        .unwrap();
    }
    src
}

#[test]
fn one_member_reads_only_its_range() {
    let src = tree();
    let (bytes, index) = bundle(
        &walk_rel(src.path()),
        BundleOptions {
            frame_size: 256 << 10,
            ..BundleOptions::default()
        },
    );
    let m = index.member(b"f17").unwrap().clone();
    let counting = CountingSource::new(bytes.clone());
    let out = tempfile::tempdir().unwrap();
    extract_ranges(
        &counting,
        &index,
        &Selection::paths(["f17"]),
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::read(out.path().join("f17")).unwrap(),
        pseudo_random(100_000, 17)
    );
    assert!(
        counting.fetched() <= m.range.len(),
        "fetched {} of range {:?}",
        counting.fetched(),
        m.range
    );
    assert!(
        m.range.len() < bytes.len() as u64 / 5,
        "the range is a small part of the bundle"
    );
    // Only the selected member was written.
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    // Everything through ranges reads each frame once.
    let counting = CountingSource::new(bytes.clone());
    let out = tempfile::tempdir().unwrap();
    extract_ranges(
        &counting,
        &index,
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert!(
        counting.fetched() <= index.compressed_len,
        "fetched {}",
        counting.fetched()
    );
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 40);
}

#[test]
fn index_from_the_trailer_reads_only_the_tail() {
    let src = tree();
    let (bytes, index) = bundle(&walk_rel(src.path()), BundleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.tar.zst");
    fs::write(&p, &bytes).unwrap();
    let counting = CountingSource::new(FileSource::open(&p).unwrap());
    assert_eq!(read_index(&counting, None).unwrap(), index);
    let tail = bytes.len() as u64 - index.compressed_len;
    assert!(
        counting.fetched() <= tail + 64,
        "fetched {} tail {tail}",
        counting.fetched()
    );
}

#[test]
fn encrypted_bundle_one_member_from_ranges() {
    let src = tree();
    let (secret, public) = generate_x25519();
    let opts = BundleOptions {
        frame_size: 256 << 10,
        encryption: Some(Encryption::recipients(&[public]).unwrap()),
        ..BundleOptions::default()
    };
    let (bytes, index) = bundle(&walk_rel(src.path()), opts);
    let enc = index.encryption.unwrap();
    assert!(enc.ranged_reads);
    let dec = Decryption::identity_file(&secret).unwrap();
    let counting = CountingSource::new(bytes.clone());
    let out = tempfile::tempdir().unwrap();
    let m = index.member(b"f30").unwrap();
    extract_ranges(
        &counting,
        &index,
        &Selection::paths(["f30"]),
        out.path(),
        &ExtractOptions {
            decryption: Some(dec.clone()),
            ..ExtractOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        fs::read(out.path().join("f30")).unwrap(),
        pseudo_random(100_000, 30)
    );
    // Header, the chunks covering the member, the last chunk (age checks
    // the stream length) and the first chunk (to learn the compression).
    let needed = index.encrypted_range(m.range).len() + 3 * 65_552 + 1024;
    assert!(
        counting.fetched() <= needed,
        "fetched {} needed {needed} of {}",
        counting.fetched(),
        bytes.len()
    );
    assert!(counting.fetched() < bytes.len() as u64 / 3);
    // The embedded index is readable through the encryption as well.
    assert_eq!(
        read_index(&bytes, Some(&dec)).unwrap().members,
        index.members
    );
}
