//! tape-op run as a program against file-backed tapes in a temp directory.
#![allow(clippy::missing_panics_doc)] // test helpers

mod archive;
mod faults;
mod help;
mod migrate;
mod remote;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[derive(Debug)]
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(extra_conf: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tape.conf"),
            format!("[default]\ndatabase_file = catalogue.sqlite\ntape_device = tapes/{{tape}}.tap\n{extra_conf}"),
        )
        .unwrap();
        Self { dir }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tape-op"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("tape-op runs")
    }

    /// Runs and asserts the exit code; returns stdout + stderr.
    pub fn ok(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "tape-op {args:?}:\n{text}");
        text
    }
}

pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed ^ 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A directory with awkward names: spaces, a newline, a non-UTF-8 byte.
pub fn make_tree(root: &Path, seed: u64, big: usize) {
    use std::os::unix::ffi::OsStrExt;
    std::fs::create_dir_all(root.join("sub dir")).unwrap();
    std::fs::write(root.join("big file.bin"), bytes(seed, big)).unwrap();
    std::fs::write(root.join("sub dir/new\nline.txt"), b"hello\n").unwrap();
    std::fs::write(
        root.join(std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9")),
        bytes(seed + 1, 3000),
    )
    .unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
}

/// Every file under `root` with its contents, by relative path bytes.
pub fn tree(root: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
