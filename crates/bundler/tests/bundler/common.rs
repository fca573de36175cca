//! Helpers shared by the test modules.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use bundler::{BundleIndex, BundleOptions, BundleWriter, Entry, NameStyle, WalkOptions, Walker};

pub(crate) fn walk_rel(root: &Path) -> Vec<Entry> {
    Walker::new(WalkOptions {
        roots: vec![root.to_path_buf()],
        name_style: NameStyle::RelativeToRoot,
        ..WalkOptions::default()
    })
    .unwrap()
    .walk()
    .unwrap()
    .entries
}

pub(crate) fn bundle(entries: &[Entry], options: BundleOptions) -> (Vec<u8>, BundleIndex) {
    let w = BundleWriter::new(Vec::new(), options)
        .write(entries)
        .unwrap();
    assert_eq!(w.bytes, w.sink.len() as u64);
    (w.sink, w.index)
}

/// A small tree with a bit of everything.
pub(crate) fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::write(root.join("dir/a.txt"), b"alpha\n".repeat(1000)).unwrap();
    fs::write(root.join("dir/sub/b.bin"), pseudo_random(70_000, 1)).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(
        root.join(format!("{}.txt", "long".repeat(40))),
        b"long name",
    )
    .unwrap();
    std::os::unix::fs::symlink("dir/a.txt", root.join("link")).unwrap();
    fs::hard_link(root.join("dir/a.txt"), root.join("zz-hard")).unwrap();
    fs::set_permissions(
        root.join("dir/sub/b.bin"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let t = filetime::FileTime::from_unix_time(1_600_000_000, 123_456_789);
    filetime::set_file_mtime(root.join("dir/sub/b.bin"), t).unwrap();
}

pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `len` bytes of repeated English text (compressible), varied by `seed`.
pub(crate) fn text(len: usize, seed: usize) -> Vec<u8> {
    format!("{seed}: the quick brown fox jumps over the lazy dog; ")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(len)
        .collect()
}

/// Every path under `root` with a description of what it is, for comparing
/// two trees.
pub(crate) fn describe(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let mtime = filetime::FileTime::from_last_modification_time(&m);
            let what = if m.file_type().is_symlink() {
                format!("link {:?}", fs::read_link(&p).unwrap())
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", m.permissions().mode() & 0o777)
            } else {
                let data = fs::read(&p).unwrap();
                format!(
                    "file {:o} {} {} {}",
                    m.permissions().mode() & 0o777,
                    data.len(),
                    mtime.unix_seconds(),
                    mtime.nanoseconds()
                ) + &format!(" {:x}", fxhash(&data))
            };
            out.push((rel, what));
        }
    }
    out.sort();
    out
}

fn fxhash(d: &[u8]) -> u64 {
    d.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Run a shell pipeline; panic with its stderr when it fails.
pub(crate) fn sh(script: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fail (never skip) when a command-line tool the test needs is missing.
pub(crate) fn need_tool(tool: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{tool}` is not installed: run `scripts/services/tools start` (scripts/test does)"
    );
}
