//! Hostile and damaged input is refused with a clear error, and nothing
//! lands outside (or, on failure, inside) the target.

use std::fs;
use std::path::Path;

use bundler::{
    BundleError, BundleOptions, Compression, Entry, ExtractOptions, Selection, extract_ranges,
    extract_stream, list,
};

use crate::common::{bundle, sample_tree, walk_rel};

fn entry(source: &Path, name: &[u8]) -> Entry {
    let meta = fs::symlink_metadata(source).unwrap();
    Entry::from_metadata(source.to_path_buf(), name.to_vec(), &meta).unwrap()
}

/// The target holds nothing but what was there before.
fn untouched(target: &Path) {
    let left: Vec<_> = fs::read_dir(target)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "target not empty: {left:?}");
}

fn both_ways(bytes: &[u8], index: &bundler::BundleIndex) -> (BundleError, BundleError) {
    let out = tempfile::tempdir().unwrap();
    let a = extract_stream(
        bytes,
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    untouched(out.path());
    let out = tempfile::tempdir().unwrap();
    let b = extract_ranges(
        &bytes.to_vec(),
        index,
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    untouched(out.path());
    (a, b)
}

#[test]
fn absolute_and_dotdot_names_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("f");
    fs::write(&f, b"evil").unwrap();
    for name in [
        &b"/etc/evil"[..],
        b"../evil",
        b"a/../../evil",
        b"..",
        b"./../x",
    ] {
        let (bytes, index) = bundle(&[entry(&f, name)], BundleOptions::default());
        let (a, b) = both_ways(&bytes, &index);
        for e in [a, b] {
            assert!(matches!(e, BundleError::UnsafePath { .. }), "{name:?}: {e}");
        }
    }
    assert!(!t.path().join("evil").exists());
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let link = t.path().join("l");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let f = t.path().join("f");
    fs::write(&f, b"evil").unwrap();
    let entries = vec![entry(&link, b"esc"), entry(&f, b"esc/pwned")];
    let (bytes, index) = bundle(&entries, BundleOptions::default());
    let out = tempfile::tempdir().unwrap();
    let e = extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, BundleError::UnsafePath { .. }), "{e}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    let out = tempfile::tempdir().unwrap();
    let e = extract_ranges(
        &bytes,
        &index,
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, BundleError::UnsafePath { .. }), "{e}");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
    // A pre-existing symlink in the target is not followed either.
    let out = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&outside, out.path().join("esc")).unwrap();
    let (bytes, _) = bundle(&[entry(&f, b"esc/pwned")], BundleOptions::default());
    let e = extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, BundleError::UnsafePath { .. }), "{e}");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    // A member replacing a symlink replaces the link, not its target.
    let out = tempfile::tempdir().unwrap();
    let victim = outside.join("victim");
    fs::write(&victim, b"safe").unwrap();
    std::os::unix::fs::symlink(&victim, out.path().join("x")).unwrap();
    let (bytes, _) = bundle(&[entry(&f, b"x")], BundleOptions::default());
    extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"safe");
    assert_eq!(fs::read(out.path().join("x")).unwrap(), b"evil");
}

#[test]
fn hard_link_outside_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("f");
    fs::write(&f, b"x").unwrap();
    let mut e = entry(&f, b"h");
    e.kind = bundler::EntryKind::HardLink {
        target: b"../../etc/passwd".to_vec(),
    };
    e.size = 0;
    let (bytes, index) = bundle(&[e], BundleOptions::default());
    let (a, b) = both_ways(&bytes, &index);
    assert!(matches!(a, BundleError::UnsafePath { .. }), "{a}");
    assert!(matches!(b, BundleError::UnsafePath { .. }), "{b}");
}

fn sample() -> (tempfile::TempDir, Vec<u8>, bundler::BundleIndex) {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (bytes, index) = bundle(
        &walk_rel(src.path()),
        BundleOptions {
            frame_size: 8192,
            ..BundleOptions::default()
        },
    );
    (src, bytes, index)
}

#[test]
fn truncated_streams_are_refused() {
    let (_s, bytes, index) = sample();
    for cut in [10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 40] {
        let out = tempfile::tempdir().unwrap();
        let e = extract_stream(
            &bytes[..cut],
            &Selection::All,
            out.path(),
            &ExtractOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, BundleError::Truncated(_) | BundleError::Corrupt { .. }),
            "cut {cut}: {e}"
        );
        untouched(out.path());
        assert!(list(&bytes[..cut], None).is_err());
    }
    // A ranged read from a cut-short object.
    let cut = bytes[..index.compressed_len as usize / 2].to_vec();
    let out = tempfile::tempdir().unwrap();
    let e = extract_ranges(
        &cut,
        &index,
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            BundleError::Truncated(_) | BundleError::Corrupt { .. } | BundleError::Source { .. }
        ),
        "{e}"
    );
    untouched(out.path());
}

#[test]
fn corrupt_compressed_bytes_are_refused() {
    let (_s, mut bytes, index) = sample();
    let f = index.frames[index.frames.len() / 2];
    bytes[(f.compressed.start + f.compressed.end) as usize / 2] ^= 0x55;
    let (a, b) = both_ways(&bytes, &index);
    for e in [a, b] {
        assert!(
            matches!(
                e,
                BundleError::Corrupt { .. }
                    | BundleError::Truncated(_)
                    | BundleError::HashMismatch { .. }
                    | BundleError::IndexMismatch { .. }
            ),
            "{e}"
        );
    }
}

#[test]
fn hash_mismatch_is_refused_and_named() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (mut bytes, index) = bundle(
        &walk_rel(src.path()),
        BundleOptions {
            compression: Compression::None,
            ..BundleOptions::default()
        },
    );
    let m = index.member(b"dir/a.txt").unwrap();
    // Plain tar: compressed offsets are tar offsets.
    bytes[m.data_offset as usize + 3] ^= 1;
    let (a, b) = both_ways(&bytes, &index);
    for e in [a, b] {
        assert!(
            matches!(&e, BundleError::HashMismatch { path, .. } if path == "dir/a.txt"),
            "{e}"
        );
    }
}

#[test]
fn a_tampered_header_checksum_is_refused() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (mut bytes, index) = bundle(
        &walk_rel(src.path()),
        BundleOptions {
            compression: Compression::None,
            ..BundleOptions::default()
        },
    );
    let m = index.member(b"empty").unwrap();
    bytes[m.tar_offset as usize + 5] ^= 0x20;
    let (a, b) = both_ways(&bytes, &index);
    for e in [a, b] {
        assert!(
            matches!(&e, BundleError::Corrupt { message, .. } if message.contains("checksum")),
            "{e}"
        );
    }
}

#[test]
fn unknown_selection_and_missing_key_are_clear() {
    let (_s, bytes, index) = sample();
    let out = tempfile::tempdir().unwrap();
    let e = extract_ranges(
        &bytes,
        &index,
        &Selection::paths(["nope"]),
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, BundleError::NoSuchMember(ref p) if p == "nope"),
        "{e}"
    );
}
