//! Random-looking content stored in raw zstd frames: small members grouped
//! at the end of a run, and the random stretches of a large file split
//! over frames. Stock `zstd`/`tar`, whole-stream and ranged extraction
//! (also encrypted) all read them.

use std::fs;

use bundler::{
    BundleIndex, BundleOptions, Decryption, Encryption, ExtractOptions, Selection, extract_ranges,
    extract_stream,
};

use crate::common::{bundle, describe, need_tool, pseudo_random, sh, text, walk_rel};

/// 3 MiB: 256 KiB of text and 256 KiB of random bytes in turns.
fn striped() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..12 {
        if i % 2 == 0 {
            v.extend(text(256 << 10, i));
        } else {
            v.extend(pseudo_random(256 << 10, i as u64));
        }
    }
    v
}

/// Text and random files of 200 kB in `a/`, one random file in `a/m/`,
/// the striped big file, and small text and random files in `s/`.
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    fs::create_dir_all(a.join("m")).unwrap();
    for i in 0..8 {
        let (data, ext) = if i % 2 == 0 {
            (text(200_000 + i, i), "txt")
        } else {
            (pseudo_random(200_000 + i, i as u64), "bin")
        };
        fs::write(a.join(format!("f{i:02}.{ext}")), data).unwrap();
    }
    fs::write(a.join("m/all-random.bin"), pseudo_random(300_000, 77)).unwrap();
    fs::write(t.path().join("big"), striped()).unwrap();
    let s = t.path().join("s");
    fs::create_dir(&s).unwrap();
    for i in 0..40 {
        fs::write(s.join(format!("t{i:02}.txt")), text(4000 + i, i)).unwrap();
        fs::write(
            s.join(format!("r{i:02}.bin")),
            pseudo_random(4000 + i, 100 + i as u64),
        )
        .unwrap();
    }
    t
}

fn options() -> BundleOptions {
    BundleOptions {
        frame_size: 2 << 20,
        ..BundleOptions::default()
    }
}

/// Whether the frame at `f` is one of our raw frames: content size of 4
/// bytes and a checksum, a 128 KiB window, a first block of type Raw.
fn is_raw(bytes: &[u8], f: &bundler::Frame) -> bool {
    let b = &bytes[f.compressed.start as usize..];
    b[..4] == [0x28, 0xb5, 0x2f, 0xfd] && b[4] == 0x84 && b[5] == 0x38 && b[10] & 0b110 == 0
}

fn raw_frames(bytes: &[u8], index: &BundleIndex) -> usize {
    index.frames.iter().filter(|f| is_raw(bytes, f)).count()
}

#[test]
fn random_content_goes_into_raw_frames_that_stock_tools_read() {
    need_tool("tar");
    need_tool("zstd");
    let src = tree();
    let entries = walk_rel(src.path());
    let (bytes, index) = bundle(&entries, options());
    let (plain_bytes, plain) = bundle(
        &entries,
        BundleOptions {
            raw_frames: false,
            ..options()
        },
    );
    // The random members of `a/` make one raw frame, the one in `a/m/`
    // (a run of its own, after the directory) another; the big file's
    // random stretches make six. The small random files of `s/` stay in a
    // compressed frame: their headers would be most of what raw storage
    // costs.
    assert_eq!(raw_frames(&plain_bytes, &plain), 0);
    assert_eq!(raw_frames(&bytes, &index), 8, "{:#?}", index.frames);
    let r = index.member(b"s/r07.bin").unwrap();
    assert!(!is_raw(&bytes, &index.frames[r.frames.0 as usize]));
    for f in index.frames.iter().filter(|f| is_raw(&bytes, f)) {
        // Raw: the content plus 3 bytes a block, header and checksum.
        let overhead = f.compressed.len() - f.tar_len;
        assert_eq!(overhead, 14 + 3 * f.tar_len.div_ceil(128 << 10), "{f:?}");
    }
    // The same members and content, and about the same size.
    assert_eq!(index.members.len(), plain.members.len());
    for (a, b) in index.members.iter().zip(&plain.members) {
        assert_eq!(
            (&a.path, &a.sha256, a.tar_offset),
            (&b.path, &b.sha256, b.tar_offset)
        );
    }
    assert!(
        bytes.len() * 100 <= plain_bytes.len() * 101,
        "{} > {}",
        bytes.len(),
        plain_bytes.len()
    );
    // Frames tile the tar stream and the compressed stream.
    for w in index.frames.windows(2) {
        assert_eq!(w[0].tar_offset + w[0].tar_len, w[1].tar_offset);
        assert_eq!(w[0].compressed.end, w[1].compressed.start);
    }
    // Every member's first frame holds its header.
    for m in &index.members {
        let f = index.frames[m.frames.0 as usize];
        assert!(f.tar_offset <= m.tar_offset && m.tar_offset < f.tar_offset + f.tar_len);
        assert_eq!(m.range.start, f.compressed.start);
        assert_eq!(
            m.range.end,
            index.frames[m.frames.1 as usize].compressed.end
        );
    }

    // Stock tools: test, list, extract; each raw frame alone decompresses.
    let work = tempfile::tempdir().unwrap();
    let b = work.path().join("b.tar.zst");
    fs::write(&b, &bytes).unwrap();
    sh(&format!("zstd -t -q {}", b.display()));
    let listing = sh(&format!("zstd -dc {} | tar -tvf -", b.display()));
    assert!(listing.contains("a/f07.bin"), "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.ends_with(" big") && l.contains(&format!(" {} ", 3 << 20))),
        "{listing}"
    );
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    sh(&format!(
        "zstd -dc {} | tar -xf - -C {}",
        b.display(),
        out.display()
    ));
    fs::remove_dir_all(out.join(".permafrost")).unwrap();
    assert_eq!(describe(src.path()), describe(&out));
    let f = index.frames.iter().find(|f| is_raw(&bytes, f)).unwrap();
    let one = work.path().join("one.zst");
    fs::write(
        &one,
        &bytes[f.compressed.start as usize..f.compressed.end as usize],
    )
    .unwrap();
    let n = sh(&format!("zstd -dc {} | wc -c", one.display()));
    assert_eq!(n.trim().parse::<u64>().unwrap(), f.tar_len);
    // A flipped content byte fails the raw frame's checksum.
    let mut bad = bytes.clone();
    bad[f.compressed.start as usize + 600] ^= 1;
    fs::write(&b, &bad).unwrap();
    let e = std::process::Command::new("zstd")
        .args(["-t", "-q"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(!e.status.success(), "zstd -t accepted a corrupt raw frame");

    // Ours: the whole stream.
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

#[test]
fn members_in_raw_frames_read_from_their_ranges_alone() {
    let src = tree();
    let (bytes, index) = bundle(&walk_rel(src.path()), options());
    for name in [
        "a/f07.bin",
        "a/f06.txt",
        "a/m/all-random.bin",
        "big",
        "s/r07.bin",
    ] {
        let m = index.member(name.as_bytes()).unwrap();
        // Everything outside the member's range is garbage.
        let mut masked = vec![0xa5u8; bytes.len()];
        let r = m.range.start as usize..m.range.end as usize;
        masked[r.clone()].copy_from_slice(&bytes[r]);
        let out = tempfile::tempdir().unwrap();
        extract_ranges(
            &masked,
            &index,
            &Selection::paths([name]),
            out.path(),
            &ExtractOptions::default(),
        )
        .unwrap();
        assert_eq!(
            fs::read(out.path().join(name)).unwrap(),
            fs::read(src.path().join(name)).unwrap(),
            "{name}"
        );
    }
    let big = index.member(b"big").unwrap();
    let raw_in_big = (big.frames.0..=big.frames.1)
        .filter(|&i| is_raw(&bytes, &index.frames[i as usize]))
        .count();
    assert_eq!(raw_in_big, 6);
}

#[test]
fn encrypted_bundles_with_raw_frames_round_trip_and_range_read() {
    let src = tree();
    let (bytes, index) = bundle(
        &walk_rel(src.path()),
        BundleOptions {
            encryption: Some(Encryption::passphrase("raw")),
            ..options()
        },
    );
    let opts = ExtractOptions {
        decryption: Some(Decryption::passphrase("raw")),
        ..ExtractOptions::default()
    };
    let out = tempfile::tempdir().unwrap();
    extract_stream(&bytes[..], &Selection::All, out.path(), &opts).unwrap();
    assert_eq!(describe(src.path()), describe(out.path()));
    let one = tempfile::tempdir().unwrap();
    extract_ranges(
        &bytes,
        &index,
        &Selection::paths(["a/f05.bin", "big"]),
        one.path(),
        &opts,
    )
    .unwrap();
    for name in ["a/f05.bin", "big"] {
        assert_eq!(
            fs::read(one.path().join(name)).unwrap(),
            fs::read(src.path().join(name)).unwrap()
        );
    }
}

#[test]
fn output_is_the_same_for_any_number_of_threads() {
    let src = tree();
    let entries = walk_rel(src.path());
    let (one, _) = bundle(
        &entries,
        BundleOptions {
            threads: 1,
            ..options()
        },
    );
    let (three, _) = bundle(
        &entries,
        BundleOptions {
            threads: 3,
            ..options()
        },
    );
    assert!(one == three);
}
