//! Frame layout: random-looking files follow the others within a run of
//! regular files; directories, links and link targets keep their places;
//! stock tools, whole-stream and ranged extraction all still agree.

use std::fs;

use bundler::{
    BundleOptions, Compression, ExtractOptions, MemberKind, Selection, extract_ranges,
    extract_stream,
};

use crate::common::{bundle, describe, need_tool, pseudo_random, sh, text, walk_rel};

/// `a/` holds text and random files in turns, a subdirectory and a hard
/// link to a random file; `z.bin` is alone after the directory.
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    fs::create_dir_all(a.join("m")).unwrap();
    for i in 0..6 {
        let data = if i % 2 == 0 {
            text(5000 + i, i)
        } else {
            pseudo_random(5000 + i, i as u64)
        };
        let ext = if i % 2 == 0 { "txt" } else { "bin" };
        fs::write(a.join(format!("f{i:02}.{ext}")), data).unwrap();
    }
    fs::write(a.join("m/x.bin"), pseudo_random(3000, 99)).unwrap();
    fs::write(a.join("m/y.txt"), text(3000, 98)).unwrap();
    // Tiny files are never moved: too small to judge.
    fs::write(a.join("m/z.bin"), pseudo_random(100, 97)).unwrap();
    fs::hard_link(a.join("f01.bin"), a.join("zz")).unwrap();
    fs::write(t.path().join("z.bin"), pseudo_random(4000, 96)).unwrap();
    t
}

fn paths(index: &bundler::BundleIndex) -> Vec<String> {
    index.members.iter().map(|m| m.path.lossy()).collect()
}

#[test]
fn random_looking_files_follow_the_others_within_a_run() {
    need_tool("tar");
    need_tool("zstd");
    let src = tree();
    let entries = walk_rel(src.path());
    let walk_order: Vec<String> = entries.iter().map(bundler::Entry::name_lossy).collect();
    assert_eq!(
        walk_order,
        [
            "a",
            "a/f00.txt",
            "a/f01.bin",
            "a/f02.txt",
            "a/f03.bin",
            "a/f04.txt",
            "a/f05.bin",
            "a/m",
            "a/m/x.bin",
            "a/m/y.txt",
            "a/m/z.bin",
            "a/zz",
            "z.bin"
        ]
    );
    let (bytes, index) = bundle(&entries, BundleOptions::default());
    assert_eq!(
        paths(&index),
        [
            "a",
            "a/f00.txt",
            "a/f02.txt",
            "a/f04.txt",
            "a/f01.bin",
            "a/f03.bin",
            "a/f05.bin",
            "a/m",
            "a/m/y.txt",
            "a/m/z.bin",
            "a/m/x.bin",
            "a/zz",
            "z.bin"
        ]
    );
    // The hard link still follows its target, and offsets grow in order.
    let zz = index.member(b"a/zz").unwrap();
    assert_eq!(zz.kind, MemberKind::HardLink);
    assert_eq!(zz.link.as_ref().unwrap().lossy(), "a/f01.bin");
    assert!(
        index
            .members
            .windows(2)
            .all(|w| w[0].tar_offset < w[1].tar_offset)
    );

    // Stock tools list the same order and extract the same tree.
    let work = tempfile::tempdir().unwrap();
    let b = work.path().join("b.tar.zst");
    fs::write(&b, &bytes).unwrap();
    let listing = sh(&format!("zstd -dc {} | tar -tf -", b.display()));
    let listed: Vec<&str> = listing
        .lines()
        .map(|l| l.trim_end_matches('/'))
        .filter(|l| !l.starts_with(".permafrost"))
        .collect();
    assert_eq!(listed, paths(&index));
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    sh(&format!(
        "zstd -dc {} | tar -xf - -C {}",
        b.display(),
        out.display()
    ));
    fs::remove_dir_all(out.join(".permafrost")).unwrap();
    assert_eq!(describe(src.path()), describe(&out));

    // Our own readers: the whole stream, and one moved member from its
    // byte range only.
    let out = tempfile::tempdir().unwrap();
    extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(describe(src.path()), describe(out.path()));
    let one = tempfile::tempdir().unwrap();
    extract_ranges(
        &bytes,
        &index,
        &Selection::paths(["a/f03.bin"]),
        one.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::read(one.path().join("a/f03.bin")).unwrap(),
        pseudo_random(5003, 3)
    );
}

#[test]
fn walk_order_is_kept_when_asked_or_without_compression() {
    let src = tree();
    let entries = walk_rel(src.path());
    let walk_order: Vec<String> = entries.iter().map(bundler::Entry::name_lossy).collect();
    for options in [
        BundleOptions {
            group_incompressible: false,
            ..BundleOptions::default()
        },
        BundleOptions {
            compression: Compression::None,
            ..BundleOptions::default()
        },
    ] {
        let (_, index) = bundle(&entries, options);
        assert_eq!(paths(&index), walk_order);
    }
    // Grouping changes the layout, never the members or their content.
    let (_, grouped) = bundle(&entries, BundleOptions::default());
    let (_, plain) = bundle(
        &entries,
        BundleOptions {
            group_incompressible: false,
            ..BundleOptions::default()
        },
    );
    let key = |i: &bundler::BundleIndex| {
        let mut v: Vec<_> = i
            .members
            .iter()
            .map(|m| (m.path.lossy(), m.sha256.clone(), m.size))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&grouped), key(&plain));
}
