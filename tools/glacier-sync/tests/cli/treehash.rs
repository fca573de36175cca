//! `glacier-sync treehash`.

use glacier_treehash::tree_hash;

use crate::{run, stderr, stdout};

const KNOWN: &str = "15aad04dbdebee9ad90ba889d8eb3b9045be355fed57c62894bc2b1ae259c8c8";

fn known_input() -> Vec<u8> {
    let mut v = b"Hello, world! ".to_vec();
    v.extend([b'x'; 100]);
    v
}

#[test]
fn prints_one_sha256sum_style_line_per_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("known.txt"), known_input()).unwrap();
    let big: Vec<u8> = (0..(3 << 20) + 5).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("big file.bin"), &big).unwrap();
    std::fs::write(dir.path().join("empty"), b"").unwrap();

    for threads in ["-j1", "-j2", "-j7"] {
        let out = run(
            dir.path(),
            &["treehash", threads, "known.txt", "big file.bin", "empty"],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "{KNOWN}  known.txt\n{}  big file.bin\n{}  empty\n",
                tree_hash(&big),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )
        );
        assert_eq!(stderr(&out), "");
    }
}

#[test]
fn dash_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["treehash", "-"], Some(&known_input()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{KNOWN}  -\n"));
}

#[test]
fn a_missing_file_is_named_and_the_others_are_still_hashed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), known_input()).unwrap();
    std::fs::write(dir.path().join("c"), known_input()).unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let out = run(dir.path(), &["treehash", "a", "missing", "d", "c"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), format!("{KNOWN}  a\n{KNOWN}  c\n"));
    let err = stderr(&out);
    assert!(err.contains("'missing'"), "{err}");
    assert!(err.contains("No such file"), "{err}");
    assert!(err.contains("'d': is a directory"), "{err}");
}

#[test]
fn help_explains_what_a_tree_hash_is_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["treehash", "--help"], None);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(help.contains("1 MiB chunk"), "{help}");
    assert!(help.contains("Exit codes"), "{help}");
    assert!(help.contains("--threads"), "{help}");
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["treehash"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = run(dir.path(), &["treehash", "-j0", "x"], None);
    assert_eq!(out.status.code(), Some(2));
}
