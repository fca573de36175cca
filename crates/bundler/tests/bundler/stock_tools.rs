//! GNU tar, zstd and gzip read our bundles.

use std::fs;
use std::os::unix::ffi::OsStrExt as _;

use bundler::{BundleOptions, Compression};

use crate::common::{bundle, describe, need_tool, sample_tree, sh, walk_rel};

#[test]
fn tar_and_zstd_extract_what_we_wrote() {
    need_tool("tar");
    need_tool("zstd");
    need_tool("gzip");
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    // A non-UTF-8 name and a deep long path need PAX records.
    fs::write(
        src.path()
            .join(std::ffi::OsStr::from_bytes(b"bad-\xff-name")),
        b"raw",
    )
    .unwrap();
    let deep = src.path().join("d".repeat(90)).join("e".repeat(90));
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f".repeat(120)), b"deep").unwrap();
    let entries = walk_rel(src.path());
    let work = tempfile::tempdir().unwrap();
    for (c, cmd) in [
        (Compression::Zstd, "zstd -dc B | tar -xf - -C OUT"),
        (Compression::Gzip, "gzip -dc B | tar -xf - -C OUT"),
        (Compression::None, "tar -xf B -C OUT"),
    ] {
        let (bytes, _) = bundle(
            &entries,
            BundleOptions {
                compression: c,
                frame_size: 8192,
                ..BundleOptions::default()
            },
        );
        let b = work.path().join(format!("b{}", c.suffix()));
        fs::write(&b, &bytes).unwrap();
        let out = work.path().join(format!("out-{c:?}"));
        fs::create_dir(&out).unwrap();
        sh(&cmd
            .replace('B', b.to_str().unwrap())
            .replace("OUT", out.to_str().unwrap()));
        // tar also extracts the index member; everything else must match.
        let index = out.join(".permafrost/index.json");
        assert!(
            fs::read(&index)
                .unwrap()
                .starts_with(b"{\"format\":\"permafrost-bundle/1\"")
        );
        fs::remove_dir_all(out.join(".permafrost")).unwrap();
        assert_eq!(describe(src.path()), describe(&out), "{c:?}");
        // `tar -tv` lists every member and the tool is content.
        let listing = sh(&format!(
            "{} | tar -tvf - 2>&1",
            if c == Compression::None {
                format!("cat {}", b.display())
            } else {
                format!(
                    "{} -dc {}",
                    if c == Compression::Zstd {
                        "zstd"
                    } else {
                        "gzip"
                    },
                    b.display()
                )
            }
        ));
        assert!(listing.contains("zz-hard link to dir/a.txt"), "{listing}");
        assert!(listing.contains("link -> dir/a.txt"), "{listing}");
    }
}

#[test]
fn zstd_cli_sees_independent_frames_and_skips_the_trailer() {
    need_tool("zstd");
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (bytes, index) = bundle(
        &walk_rel(src.path()),
        BundleOptions {
            frame_size: 4096,
            ..BundleOptions::default()
        },
    );
    let work = tempfile::tempdir().unwrap();
    let b = work.path().join("b.tar.zst");
    fs::write(&b, &bytes).unwrap();
    sh(&format!("zstd -t -q {}", b.display()));
    // Each frame alone decompresses (independent frames).
    let f = index.frames[1];
    let one = work.path().join("one.zst");
    fs::write(
        &one,
        &bytes[f.compressed.start as usize..f.compressed.end as usize],
    )
    .unwrap();
    let n = sh(&format!("zstd -dc {} | wc -c", one.display()));
    assert_eq!(n.trim().parse::<u64>().unwrap(), f.tar_len);
}
