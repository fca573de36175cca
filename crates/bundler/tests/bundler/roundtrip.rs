//! Round trips: generated trees, bundled in every compression, extracted
//! from the whole stream and from byte ranges, compare equal.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use bundler::{
    BundleOptions, Compression, ExtractOptions, MemberKind, Selection, extract_ranges,
    extract_stream, list, read_index,
};
use proptest::prelude::*;

use crate::common::{bundle, describe, pseudo_random, sample_tree, walk_rel};

fn options(c: Compression, frame: usize, threads: usize) -> BundleOptions {
    BundleOptions {
        compression: c,
        frame_size: frame,
        threads,
        ..BundleOptions::default()
    }
}

#[test]
fn sample_tree_round_trips_in_every_compression() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let entries = walk_rel(src.path());
    for c in [Compression::Zstd, Compression::Gzip, Compression::None] {
        let (bytes, index) = bundle(&entries, options(c, 16 << 10, 3));
        assert_eq!(index.members.len(), entries.len());
        assert_eq!(list(&bytes[..], None).unwrap(), index);
        assert_eq!(read_index(&bytes, None).unwrap(), index);
        let out = tempfile::tempdir().unwrap();
        let r = extract_stream(
            &bytes[..],
            &Selection::All,
            out.path(),
            &ExtractOptions::default(),
        )
        .unwrap();
        assert_eq!(r.hard_links, 1);
        assert_eq!(describe(src.path()), describe(out.path()), "{c:?} stream");
        let out = tempfile::tempdir().unwrap();
        extract_ranges(
            &bytes,
            &index,
            &Selection::All,
            out.path(),
            &ExtractOptions::default(),
        )
        .unwrap();
        assert_eq!(describe(src.path()), describe(out.path()), "{c:?} ranges");
        // The hard link's target is brought along when only the link is asked for.
        let out = tempfile::tempdir().unwrap();
        extract_ranges(
            &bytes,
            &index,
            &Selection::paths(["zz-hard"]),
            out.path(),
            &ExtractOptions::default(),
        )
        .unwrap();
        assert_eq!(
            fs::read(out.path().join("zz-hard")).unwrap(),
            b"alpha\n".repeat(1000)
        );
    }
}

#[test]
fn output_is_deterministic_and_independent_of_threads() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let entries = walk_rel(src.path());
    let (a, ia) = bundle(&entries, options(Compression::Zstd, 8 << 10, 1));
    let (b, ib) = bundle(&entries, options(Compression::Zstd, 8 << 10, 4));
    assert_eq!(ia, ib);
    assert_eq!(a, b);
}

#[test]
fn big_files_span_frames_and_frames_are_cut_at_member_boundaries() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("big"), pseudo_random(1 << 20, 5)).unwrap();
    for i in 0..50 {
        fs::write(src.path().join(format!("s{i:02}")), vec![i as u8; 3000]).unwrap();
    }
    let entries = walk_rel(src.path());
    let (bytes, index) = bundle(&entries, options(Compression::Zstd, 64 << 10, 2));
    let big = index.member(b"big").unwrap();
    assert!(big.frames.1 - big.frames.0 >= 15, "{:?}", big.frames);
    for m in index.members.iter().filter(|m| m.path.0 != b"big") {
        assert_eq!(
            m.frames.0, m.frames.1,
            "small members never straddle frames"
        );
    }
    // Frames are contiguous in both the tar and the compressed stream.
    for w in index.frames.windows(2) {
        assert_eq!(w[0].tar_offset + w[0].tar_len, w[1].tar_offset);
        assert_eq!(w[0].compressed.end, w[1].compressed.start);
    }
    let max = index.frames.iter().map(|f| f.tar_len).max().unwrap();
    assert!(
        max <= (64 << 10) + 4096,
        "largest frame {max} {:?}",
        index.frames.iter().map(|f| f.tar_len).collect::<Vec<_>>()
    );
    let out = tempfile::tempdir().unwrap();
    extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(describe(src.path()), describe(out.path()));
}

/// A generated file: path components, content (text or random), mode.
#[derive(Debug, Clone)]
struct GenFile {
    dirs: Vec<String>,
    name: String,
    len: usize,
    text: bool,
    mode: u32,
}

fn gen_file() -> impl Strategy<Value = GenFile> {
    (
        prop::collection::vec("[a-c]{1,3}", 0..3),
        "[a-zA-Z0-9 é_.-]{1,30}",
        prop_oneof![0usize..600, 0usize..70_000],
        any::<bool>(),
        prop_oneof![Just(0o644u32), Just(0o600), Just(0o755), Just(0o400)],
    )
        .prop_map(|(dirs, name, len, text, mode)| GenFile {
            dirs,
            name,
            len,
            text,
            mode,
        })
        .prop_filter("not . or ..", |f| f.name != "." && f.name != "..")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn generated_trees_round_trip(
        files in prop::collection::vec(gen_file(), 1..25),
        frame in prop_oneof![Just(4096usize), Just(20_000), Just(1 << 20)],
        c in prop_oneof![Just(Compression::Zstd), Just(Compression::Gzip), Just(Compression::None)],
        seed in any::<u64>(),
    ) {
        let src = tempfile::tempdir().unwrap();
        for (i, f) in files.iter().enumerate() {
            let dir = f.dirs.iter().fold(src.path().to_path_buf(), |p, d| p.join(d));
            // An earlier generated file may hold a name this one needs as a
            // directory (`c`, then `c/0`): keep the earlier one.
            if dir.ancestors().take(f.dirs.len()).any(Path::is_file) { continue; }
            fs::create_dir_all(&dir).unwrap();
            let p = dir.join(&f.name);
            if p.is_dir() { continue; }
            let data = if f.text {
                b"the quick brown fox\n".iter().copied().cycle().take(f.len).collect()
            } else {
                pseudo_random(f.len, seed ^ i as u64)
            };
            fs::write(&p, data).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(f.mode)).unwrap();
            let t = filetime::FileTime::from_unix_time(1_500_000_000 + i as i64, (seed % 1_000_000_000) as u32);
            filetime::set_file_mtime(&p, t).unwrap();
        }
        let entries = walk_rel(src.path());
        let (bytes, index) = bundle(&entries, options(c, frame, 2));
        let out = tempfile::tempdir().unwrap();
        extract_stream(&bytes[..], &Selection::All, out.path(), &ExtractOptions::default()).unwrap();
        prop_assert_eq!(describe(src.path()), describe(out.path()));
        // Each file alone, from its byte range.
        for m in index.members.iter().filter(|m| m.kind == MemberKind::File) {
            let out = tempfile::tempdir().unwrap();
            extract_ranges(&bytes, &index, &Selection::paths([&m.path.0]), out.path(), &ExtractOptions::default()).unwrap();
            let name = std::str::from_utf8(&m.path.0).unwrap();
            prop_assert_eq!(fs::read(out.path().join(name)).unwrap(), fs::read(src.path().join(name)).unwrap());
        }
    }
}

#[test]
fn files_that_vanish_or_change_while_bundling_are_reported() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    fs::write(src.path().join("gone"), b"soon deleted").unwrap();
    fs::write(src.path().join("shrinks"), vec![5u8; 10_000]).unwrap();
    fs::write(src.path().join("grows"), vec![6u8; 100]).unwrap();
    let entries = walk_rel(src.path());
    fs::remove_file(src.path().join("gone")).unwrap();
    fs::write(src.path().join("shrinks"), vec![5u8; 4_000]).unwrap();
    fs::write(src.path().join("grows"), vec![6u8; 200]).unwrap();
    let (bytes, index) = bundle(&entries, options(Compression::Zstd, 1 << 20, 2));
    assert_eq!(index.skipped.len(), 1);
    assert_eq!(index.skipped[0].path.0, b"gone");
    assert!(
        index.skipped[0].message.contains("gone"),
        "{}",
        index.skipped[0].message
    );
    let shrinks = index.member(b"shrinks").unwrap();
    assert_eq!(shrinks.size, 10_000);
    assert!(shrinks.problem.as_deref().unwrap().contains("shrank"));
    assert!(
        index
            .member(b"grows")
            .unwrap()
            .problem
            .as_deref()
            .unwrap()
            .contains("grew")
    );
    // The bundle is still valid and says what it holds.
    let out = tempfile::tempdir().unwrap();
    extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    let mut expect = vec![5u8; 4_000];
    expect.resize(10_000, 0);
    assert_eq!(fs::read(out.path().join("shrinks")).unwrap(), expect);
    assert_eq!(fs::read(out.path().join("grows")).unwrap(), vec![6u8; 100]);
    assert!(!out.path().join("gone").exists());
}

#[test]
fn large_files_split_over_frames_that_change_are_reported() {
    // Read in frame-sized pieces: a file that shrank leaves later pieces
    // zero-filled; one that grew keeps the walked size.
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("big-shrinks"), pseudo_random(300_000, 7)).unwrap();
    fs::write(src.path().join("big-grows"), pseudo_random(200_000, 8)).unwrap();
    let entries = walk_rel(src.path());
    fs::write(src.path().join("big-shrinks"), pseudo_random(100_000, 7)).unwrap();
    fs::write(src.path().join("big-grows"), pseudo_random(250_000, 8)).unwrap();
    let (bytes, index) = bundle(&entries, options(Compression::Zstd, 64 << 10, 2));
    let shrinks = index.member(b"big-shrinks").unwrap();
    assert!(shrinks.frames.1 > shrinks.frames.0, "split over frames");
    assert!(shrinks.problem.as_deref().unwrap().contains("shrank"));
    let grows = index.member(b"big-grows").unwrap();
    assert!(grows.problem.as_deref().unwrap().contains("grew"));
    let out = tempfile::tempdir().unwrap();
    extract_stream(
        &bytes[..],
        &Selection::All,
        out.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    let mut expect = pseudo_random(100_000, 7);
    expect.resize(300_000, 0);
    assert_eq!(fs::read(out.path().join("big-shrinks")).unwrap(), expect);
    assert_eq!(
        fs::read(out.path().join("big-grows")).unwrap(),
        pseudo_random(200_000, 8)
    );
}

#[test]
fn bundles_to_a_directory_follow_the_plan() {
    let src = tempfile::tempdir().unwrap();
    for i in 0..30 {
        fs::write(src.path().join(format!("f{i:02}")), vec![i as u8; 1000]).unwrap();
    }
    let entries = walk_rel(src.path());
    let plan = bundler::BundlePlan::new(
        &entries,
        bundler::BundleLimits {
            max_members: 7,
            max_bytes: 1 << 20,
        },
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let written = bundler::write_bundles_to_dir(
        out.path(),
        "run",
        &entries,
        &plan,
        &BundleOptions::default(),
    )
    .unwrap();
    assert_eq!(written.len(), 5);
    let mut all = Vec::new();
    for (i, (path, index)) in written.iter().enumerate() {
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("run-{:06}.tar.zst", i + 1)
        );
        let src = bundler::FileSource::open(path).unwrap();
        assert_eq!(&read_index(&src, None).unwrap(), index);
        all.extend(index.members.iter().map(|m| m.path.lossy()));
    }
    let expect: Vec<String> = (0..30).map(|i| format!("f{i:02}")).collect();
    assert_eq!(all, expect);
}
