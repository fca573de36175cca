//! `catalog check [--repair]` on a catalog whose full-text index file was
//! restored from another backup: found out (exit 8), repaired, and `find`
//! works again.

use std::path::{Path, PathBuf};

use crate::{run, stderr, stdout};

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copies `which` (`""`: the catalog, `"-fts"`: its index) with its
/// write-ahead log files.
fn copy_files(from: &Path, to: &Path, which: &str) {
    for ext in ["", "-wal", "-shm"] {
        let src = with_suffix(from, &format!("{which}{ext}"));
        let dst = with_suffix(to, &format!("{which}{ext}"));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn archive(dir: &Path, name: &str) {
    let src = dir.join(name);
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..20 {
        std::fs::write(
            src.join(format!("{name}file{i}.txt")),
            format!("{name} {i}"),
        )
        .unwrap();
    }
    let o = run(
        dir,
        &[
            "archive",
            name,
            "--catalog",
            "cat.sqlite",
            "--vault",
            "./store/v",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn check_finds_an_index_from_another_backup_and_repair_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = run(d, &["create-vault", "./store/v"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let cat = d.join("cat.sqlite");
    archive(d, "alpha");
    let o = run(d, &["catalog", "check", "--catalog", "cat.sqlite"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the search index and the files agree"),
        "{}",
        stdout(&o)
    );

    copy_files(&cat, &d.join("b1.sqlite"), "");
    copy_files(&cat, &d.join("b1.sqlite"), "-fts");
    archive(d, "beta");
    copy_files(&cat, &d.join("b2.sqlite"), "-fts");
    copy_files(&d.join("b1.sqlite"), &cat, "");
    copy_files(&d.join("b1.sqlite"), &cat, "-fts");
    archive(d, "gamma");
    copy_files(&d.join("b2.sqlite"), &cat, "-fts");

    let find = |q: &str| run(d, &["find", q, "--catalog", "cat.sqlite"], None);
    assert_eq!(
        find("gammafile3").status.code(),
        Some(1),
        "the index hides gamma"
    );
    let o = run(
        d,
        &["--json", "catalog", "check", "--catalog", "cat.sqlite"],
        None,
    );
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("catalog check --repair"),
        "{}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["check"]["sound"], false);
    assert!(v["check"]["missing"].as_u64().unwrap() >= 20, "{v}");

    let o = run(
        d,
        &["catalog", "check", "--repair", "--catalog", "cat.sqlite"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rebuilt the search index"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&find("gammafile3")).contains("gamma/gammafile3.txt"));
    assert_eq!(find("betafile3").status.code(), Some(1));
    let o = run(d, &["catalog", "check", "--catalog", "cat.sqlite"], None);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// An index file from an earlier run of the same catalog (restored from
/// a backup taken between two runs) holds a prefix of the files: `find`
/// still finds the later run's files (the rows above its `upto` are
/// searched one by one), `catalog check` brings it up to date and finds it
/// sound, and a run archived on top of it is found too.
#[test]
fn check_of_an_index_from_an_earlier_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = run(d, &["create-vault", "./store/v"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let cat = d.join("cat.sqlite");
    archive(d, "alpha");
    copy_files(&cat, &d.join("b1.sqlite"), "-fts");
    archive(d, "beta");
    // Only the index goes back to the earlier run.
    copy_files(&d.join("b1.sqlite"), &cat, "-fts");

    let find = |q: &str| run(d, &["find", q, "--catalog", "cat.sqlite"], None);
    for q in ["alphafile3", "betafile3"] {
        let o = find(q);
        assert!(o.status.success(), "{q}: {}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("{q}.txt")),
            "{q}: {}",
            stdout(&o)
        );
    }
    let o = run(
        d,
        &["--json", "catalog", "check", "--catalog", "cat.sqlite"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["check"]["sound"], true, "{v}");
    assert_eq!(v["check"]["missing"], 0, "{v}");
    assert!(v["check"]["files"].as_u64().unwrap() >= 40, "{v}");
    let o = run(d, &["catalog", "check", "--catalog", "cat.sqlite"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 not indexed yet")
            && stdout(&o).contains("the search index and the files agree"),
        "{}",
        stdout(&o)
    );

    // The earlier index again, then a run on top of it.
    copy_files(&d.join("b1.sqlite"), &cat, "-fts");
    archive(d, "gamma");
    for q in ["alphafile3", "betafile3", "gammafile3"] {
        let o = find(q);
        assert!(o.status.success(), "{q}: {}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("{q}.txt")),
            "{q}: {}",
            stdout(&o)
        );
    }
    let o = run(
        d,
        &["--json", "catalog", "check", "--catalog", "cat.sqlite"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["check"]["sound"], true, "{v}");
    assert_eq!(v["check"]["tail"], 0, "{v}");
}

#[test]
fn check_of_no_catalog_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(
        tmp.path(),
        &["catalog", "check", "--catalog", "none.sqlite"],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("none.sqlite"));
}

/// `find resume` finds `résumé.pdf` (and a decomposed `re\u{301}sume\u{301}`
/// name, as macOS writes them): search folds case and accents.
#[test]
fn find_folds_accents() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("docs")).unwrap();
    std::fs::write(d.join("docs/résumé.pdf"), b"cv").unwrap();
    std::fs::write(d.join("docs/Cafe\u{301} Menu.txt"), b"menu").unwrap();
    let o = run(d, &["create-vault", "./store/v"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        d,
        &[
            "archive",
            "docs",
            "--catalog",
            "cat.sqlite",
            "--vault",
            "./store/v",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for (q, want) in [
        ("resume", "résumé.pdf"),
        ("RÉSUMÉ", "résumé.pdf"),
        ("café menu", "Cafe\u{301} Menu.txt"),
        ("cafe", "Cafe\u{301} Menu.txt"),
    ] {
        let o = run(d, &["find", q, "--catalog", "cat.sqlite"], None);
        assert!(o.status.success(), "{q}: {}", stderr(&o));
        assert!(stdout(&o).contains(want), "{q}: {}", stdout(&o));
    }
}
