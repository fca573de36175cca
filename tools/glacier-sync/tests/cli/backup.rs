//! `glacier-sync backup` end to end with the local directory store: the
//! suite's own `includeexclude.json` format, FULL then incrementals with a
//! deletion, `list --json`, the lock, and kill -9 during a run.

use std::path::Path;

use crate::mt::ok;
use crate::run;

fn gs(dir: &Path, args: &[&str]) -> std::process::Output {
    let cat = dir.join("catalog.sqlite").display().to_string();
    let mut v: Vec<&str> = args.to_vec();
    v.extend(["--catalog", &cat]);
    run(dir, &v, None)
}

fn setup(dir: &Path, max_level: &str) {
    let tree = dir.join("home");
    std::fs::create_dir_all(tree.join("docs")).unwrap();
    std::fs::create_dir_all(tree.join("proj/node_modules")).unwrap();
    std::fs::write(tree.join("docs/a.txt"), b"alpha").unwrap();
    std::fs::write(tree.join("docs/b.txt"), b"beta").unwrap();
    std::fs::write(tree.join("proj/x.o"), b"object").unwrap();
    std::fs::write(tree.join("proj/node_modules/m.js"), b"module").unwrap();
    // The suite's format, as its users write it.
    std::fs::write(
        dir.join("includeexclude.json"),
        format!(
            "{{\n  \"includes\": [\"{}\"],\n  \"excludes\": [\"*.o\", \"node_modules\"]\n}}\n",
            tree.display()
        ),
    )
    .unwrap();
    let vault = format!("file://{}/v", dir.join("store").display());
    ok(&gs(
        dir,
        &[
            "backup",
            "init",
            "home",
            "--vault",
            &vault,
            "--spec",
            "includeexclude.json",
            "--max-level",
            max_level,
        ],
    ));
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

// One story, run → restore → prune, in order.
#[allow(clippy::too_many_lines)]
#[test]
fn full_incremental_list() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, "1");
    let r0 = json(&gs(dir, &["--json", "backup", "run", "home"]));
    assert_eq!(
        (r0["cycle"].as_u64(), r0["level"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(r0["files"], 2, "excludes applied: {r0}");

    std::fs::remove_file(dir.join("home/docs/b.txt")).unwrap();
    std::fs::write(dir.join("home/docs/c.txt"), b"gamma").unwrap();
    let r1 = json(&gs(dir, &["--json", "backup", "run", "home"]));
    assert_eq!(r1["level"], 1);
    assert_eq!(r1["files"], 1);
    assert_eq!(r1["closed_cycle"], true);
    let b = dir.join("home/docs/b.txt").display().to_string();
    assert_eq!(r1["deleted"], serde_json::json!([b]));

    let r2 = json(&gs(dir, &["--json", "backup", "run", "home"]));
    assert_eq!(
        (r2["cycle"].as_u64(), r2["level"].as_u64()),
        (Some(2), Some(0))
    );

    let list = json(&gs(dir, &["--json", "backup", "list", "home"]));
    let cycles = list["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 2);
    assert_eq!(cycles[0]["levels"].as_array().unwrap().len(), 2);
    assert!(cycles[0]["monthly_cost"].as_f64().unwrap() > 0.0);
    assert!(cycles[0]["free_deletion"].as_i64().is_some());
    let human = crate::stdout(&gs(dir, &["backup", "list", "home"]));
    assert!(human.contains("cycle 1 (closed)"), "{human}");

    // The runs are archive runs: find sees the files with the set's tags.
    let found = crate::stdout(&gs(dir, &["find", "tag:backup:home", "c.txt"]));
    assert!(found.contains("c.txt"), "{found}");

    // Restore as of now: the tree as the last run saw it, b.txt left out.
    let dry = json(&gs(
        dir,
        &[
            "--json",
            "backup",
            "restore",
            "home",
            "--to",
            "out",
            "--dry-run",
        ],
    ));
    assert_eq!(dry["dry_run"], true);
    // Two files and three directories (home, docs, proj).
    assert_eq!(dry["plan"]["files"], 5, "{dry}");
    ok(&gs(dir, &["backup", "restore", "home", "--to", "out"]));
    let docs = std::fs::canonicalize(dir.join("home/docs")).unwrap();
    let back = dir.join("out").join(docs.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(back.join("a.txt")).unwrap(), b"alpha");
    assert_eq!(std::fs::read(back.join("c.txt")).unwrap(), b"gamma");
    assert!(!back.join("b.txt").exists());
    // Before the first run: nothing to restore, a clear error.
    let early = gs(
        dir,
        &[
            "backup",
            "restore",
            "home",
            "--to",
            "o2",
            "--as-of",
            "2001-01-01",
        ],
    );
    assert!(!early.status.success());
    assert!(
        crate::stderr(&early).contains("no finished run at or before"),
        "{}",
        crate::stderr(&early)
    );
    let bad_time = gs(
        dir,
        &[
            "backup",
            "restore",
            "home",
            "--to",
            "o2",
            "--as-of",
            "yesterday",
        ],
    );
    assert_eq!(bad_time.status.code(), Some(2));

    // Prune to cap 1 byte: while cycle 2 is open, cycle 1 is the newest
    // closed one and stays.
    let o = json(&gs(
        dir,
        &[
            "--json",
            "backup",
            "prune",
            "home",
            "--cap",
            "1",
            "--dry-run",
        ],
    ));
    assert!(o["deleted"].as_array().unwrap().is_empty(), "{o}");
    // Close cycle 2: now cycle 1 goes (a local store has no minimum),
    // cycle 2 stays; without a terminal --yes is needed.
    ok(&gs(dir, &["backup", "run", "home"]));
    let refused = gs(dir, &["backup", "prune", "home", "--cap", "1"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        crate::stderr(&refused)
    );
    let dry = json(&gs(
        dir,
        &[
            "--json",
            "backup",
            "prune",
            "home",
            "--cap",
            "1",
            "--dry-run",
        ],
    ));
    assert_eq!(dry["deleted"].as_array().unwrap().len(), 1, "{dry}");
    let done = json(&gs(
        dir,
        &["--json", "backup", "prune", "home", "--cap", "1", "--yes"],
    ));
    assert_eq!(done["deleted"][0]["cycle"], 1);
    let list = json(&gs(dir, &["--json", "backup", "list", "home"]));
    assert!(list["cycles"][0]["pruned"].as_i64().is_some());
    assert!(list["cycles"][1]["pruned"].is_null());

    // b.txt was only ever in cycle 1: find and where-is still list it,
    // marked pruned; retrieve refuses, naming it and why (exit 1).
    let found = json(&gs(dir, &["--json", "find", "b.txt"]));
    assert_eq!(found["hits"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["hits"][0]["path"], b.as_str());
    assert_eq!(found["hits"][0]["state"], "pruned", "{found}");
    let line = crate::stdout(&gs(dir, &["find", "b.txt"]));
    assert!(
        line.starts_with(&b) && line.trim_end().ends_with("\t(pruned)"),
        "{line}"
    );
    let versions = json(&gs(dir, &["--json", "where-is", &b]));
    assert_eq!(versions["versions"][0]["state"], "pruned", "{versions}");
    assert!(crate::stdout(&gs(dir, &["where-is", &b])).contains("(pruned)"));
    // a.txt: cycle 1's copy pruned, cycle 2's stored and shown as before.
    let a = dir.join("home/docs/a.txt").display().to_string();
    let found = json(&gs(dir, &["--json", "find", "a.txt"]));
    let states: Vec<_> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["pruned", "stored"], "{found}");
    let lines = crate::stdout(&gs(dir, &["find", "a.txt"]));
    let lines: Vec<&str> = lines.lines().collect();
    assert!(lines[0].ends_with("\t(pruned)"), "{lines:?}");
    assert!(
        !lines[1].contains("(pruned)") && lines[1].ends_with("/v"),
        "{lines:?}"
    );
    let vault = format!("file://{}/v", dir.join("store").display());
    let retrieve = |sel: &[&str]| {
        let mut args = vec!["retrieve", "--vault", &vault, "--to", "r", "--dry-run"];
        args.extend(sel);
        gs(dir, &args)
    };
    for sel in [&["--path", b.as_str()][..], &["b.txt"][..]] {
        let refused = retrieve(sel);
        let err = crate::stderr(&refused);
        assert_eq!(refused.status.code(), Some(1), "{sel:?}: {err}");
        assert!(
            err.contains(&format!("{b}: not retrievable, its archive was pruned")),
            "{sel:?}: {err}"
        );
    }
    ok(&retrieve(&["--path", &a]));

    let bad = gs(dir, &["backup", "run", "nope"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(crate::stderr(&bad).contains("no backup set \"nope\""));
}

#[test]
fn killed_run_is_completed_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, "7");
    for i in 0..3000 {
        let d = dir.join(format!("home/many/d{}", i % 30));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i}")), format!("file {i}\n")).unwrap();
    }
    let cat = dir.join("catalog.sqlite").display().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args([
            "backup",
            "run",
            "home",
            "--max-files",
            "20",
            "-j",
            "2",
            "--catalog",
            &cat,
        ])
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join(".no-config"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = dir.join("store");
    let count = || {
        archiver::glacier_multipart::LocalStore::open(&store)
            .ok()
            .and_then(|s| {
                use archiver::glacier_multipart::ArchiveStore as _;
                s.describe_vault("v").ok()
            })
            .map_or(0, |v| v.archives)
    };
    let t0 = std::time::Instant::now();
    while count() < 20 && t0.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(count() < 150, "killed before the end");

    let r = json(&gs(
        dir,
        &["--json", "backup", "run", "home", "--max-files", "20"],
    ));
    assert_eq!(r["resumed"], true, "{r}");
    assert_eq!(
        (r["cycle"].as_u64(), r["level"].as_u64()),
        (Some(1), Some(0))
    );
    // Every file of the tree is in the catalog once, every run closed.
    let c = catalog::Catalog::open(dir.join("catalog.sqlite")).unwrap();
    assert!(c.runs().unwrap().iter().all(|r| r.ended.is_some()));
    let many = dir.join("home/many").display().to_string();
    let hits = c.count(&format!("under:{many}").parse().unwrap()).unwrap();
    assert_eq!(hits, 3000 + 30, "3000 files and 30 directories, once each");
    let next = json(&gs(dir, &["--json", "backup", "run", "home"]));
    assert_eq!(
        (next["level"].as_u64(), next["files"].as_u64()),
        (Some(1), Some(0))
    );
}

#[allow(clippy::too_many_lines)] // one story: damage, reconcile, find, run again
#[test]
fn reconcile_after_a_bundle_is_deleted_behind_the_catalogs_back() {
    use archiver::glacier_multipart::{ArchiveStore as _, LocalStore};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, "7");
    ok(&gs(dir, &["backup", "run", "home"]));
    std::fs::write(dir.join("home/docs/c.txt"), b"gamma").unwrap();
    let r1 = json(&gs(dir, &["--json", "backup", "run", "home"]));
    assert_eq!(
        (r1["level"].as_u64(), r1["files"].as_u64()),
        (Some(1), Some(1))
    );

    // Level 1's bundle deleted behind the catalog's back; a stray archive
    // put into the vault.
    let c = catalog::Catalog::open(dir.join("catalog.sqlite")).unwrap();
    let run = c.run_by_uid(r1["run"].as_str().unwrap()).unwrap().unwrap();
    let bundle = c
        .archives_of_run(run.id)
        .unwrap()
        .into_iter()
        .find(|a| a.info.description.starts_with(archiver::BUNDLE_PREFIX))
        .unwrap();
    drop(c);
    let gone = bundle.info.remote_id.unwrap();
    let store = LocalStore::open(dir.join("store")).unwrap();
    store.delete_archive("v", &gone).unwrap();
    let data = b"not ours";
    let stray = store
        .upload_archive("v", "stray upload", data, glacier_treehash::tree_hash(data))
        .unwrap()
        .archive_id;

    let dry = json(&gs(
        dir,
        &[
            "--json",
            "backup",
            "reconcile",
            "home",
            "--dry-run",
            "--delete",
        ],
    ));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["missing"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["missing"][0]["archive_id"], gone.as_str());
    assert_eq!(dry["missing"][0]["level"], 1);
    assert_eq!(dry["unknown"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["unknown"][0]["archive_id"], stray.as_str());

    // Deleting needs --yes without a terminal; nothing changes without it.
    let refused = gs(dir, &["backup", "reconcile", "home", "--delete"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        crate::stderr(&refused)
    );
    assert!(crate::stderr(&refused).contains("--yes"));
    let again = json(&gs(
        dir,
        &["--json", "backup", "reconcile", "home", "--dry-run"],
    ));
    assert_eq!(again["missing"].as_array().unwrap().len(), 1, "{again}");

    let done = gs(
        dir,
        &["--json", "backup", "reconcile", "home", "--delete", "--yes"],
    );
    let err = crate::stderr(&done);
    assert!(
        err.contains(&format!("missing from the store: archive {gone}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("not in the catalog: archive {stray}")),
        "{err}"
    );
    let done = json(&done);
    assert_eq!(done["dry_run"], false);

    // c.txt's only copy is gone: find and where-is still list it, marked
    // missing; retrieve refuses, naming it and why.
    let c_txt = dir.join("home/docs/c.txt").display().to_string();
    let found = json(&gs(dir, &["--json", "find", "c.txt"]));
    assert_eq!(found["hits"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["hits"][0]["state"], "missing", "{found}");
    let line = crate::stdout(&gs(dir, &["find", "c.txt"]));
    assert!(line.trim_end().ends_with("\t(missing)"), "{line}");
    let versions = json(&gs(dir, &["--json", "where-is", &c_txt]));
    assert_eq!(versions["versions"][0]["state"], "missing", "{versions}");
    let vault = format!("file://{}/v", dir.join("store").display());
    let retrieve = |p: &str| {
        gs(
            dir,
            &[
                "retrieve",
                "--vault",
                &vault,
                "--to",
                "r",
                "--dry-run",
                "--path",
                p,
            ],
        )
    };
    let refused = retrieve(&c_txt);
    let err = crate::stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{c_txt}: not retrievable, its archive is missing from the store (found by `backup reconcile`) (archive {gone})"
        )),
        "{err}"
    );

    // The next run stores the missing bundle's file again; then catalog
    // and store agree (a fresh inventory: the stray archive is gone).
    let r2 = json(&gs(dir, &["--json", "backup", "run", "home"]));
    assert_eq!(r2["files"], 1, "{r2}");
    // Stored again: retrievable, both versions listed.
    ok(&retrieve(&c_txt));
    let found = json(&gs(dir, &["--json", "find", "c.txt"]));
    assert_eq!(found["hits"][0]["state"], "missing", "{found}");
    assert_eq!(found["hits"][1]["state"], "stored", "{found}");
    let clean = json(&gs(dir, &["--json", "backup", "reconcile", "home"]));
    assert!(clean["missing"].as_array().unwrap().is_empty(), "{clean}");
    assert!(clean["unknown"].as_array().unwrap().is_empty(), "{clean}");
}

/// Copies the tree at `from` to `to` as the set's spec sees it (without
/// `*.o` files and `node_modules` directories).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            if name != "node_modules" {
                copy_tree(&src, &dst);
            }
        } else if Path::new(&name).extension().is_none_or(|e| e != "o") {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every entry below `root`: relative path -> contents (`None`: a
/// directory).
fn entries(root: &Path) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Unix seconds as RFC 3339 (`--as-of` reads a bare date as its end).
fn rfc3339(secs: i64) -> String {
    let t = catalog::format_time(secs);
    if t.contains('T') {
        t
    } else {
        format!("{t}T00:00:00Z")
    }
}

/// The issue's check: a run after each way a tree changes, the tree copied
/// after each, and `backup restore --as-of` each run's end equal to that
/// copy (deleted paths absent), through the command line with real time.
#[allow(clippy::too_many_lines)]
#[test]
fn restore_as_of_each_run_after_every_kind_of_change() {
    // (what changed, the change, paths that must be gone after it)
    type Change = Box<dyn Fn(&Path)>;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, "3");
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("docs/sub")).unwrap();
    std::fs::write(home.join("docs/sub/s.txt"), b"in sub").unwrap();
    let set_mtime = |p: &Path, secs: u64| {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    let steps: Vec<(&str, Change, &[&str])> = vec![
        ("nothing (the FULL)", Box::new(|_| {}), &[]),
        (
            "a new file",
            Box::new(|h| std::fs::write(h.join("docs/new.txt"), b"new").unwrap()),
            &[],
        ),
        (
            "a file modified, same size, new mtime",
            Box::new(move |h| {
                std::fs::write(h.join("docs/a.txt"), b"ALPHA").unwrap();
                set_mtime(&h.join("docs/a.txt"), 1_600_000_000);
            }),
            &[],
        ),
        (
            "a file modified to a new size",
            Box::new(|h| std::fs::write(h.join("docs/b.txt"), b"beta, now longer").unwrap()),
            &[],
        ),
        (
            "a file deleted (in a new cycle: a FULL)",
            Box::new(|h| std::fs::remove_file(h.join("docs/new.txt")).unwrap()),
            &["docs/new.txt"],
        ),
        (
            "a file renamed",
            Box::new(|h| {
                std::fs::rename(h.join("docs/a.txt"), h.join("docs/renamed.txt")).unwrap();
            }),
            &["docs/a.txt"],
        ),
        (
            "a directory replaced by a file",
            Box::new(|h| {
                std::fs::remove_dir_all(h.join("docs/sub")).unwrap();
                std::fs::write(h.join("docs/sub"), b"a file now").unwrap();
            }),
            &["docs/sub/s.txt"],
        ),
        (
            "a file replaced by a directory",
            Box::new(|h| {
                std::fs::remove_file(h.join("docs/b.txt")).unwrap();
                std::fs::create_dir(h.join("docs/b.txt")).unwrap();
                std::fs::write(h.join("docs/b.txt/inner"), b"inside").unwrap();
            }),
            &[],
        ),
    ];
    let mut runs = Vec::new();
    for (i, (what, change, _)) in steps.iter().enumerate() {
        change(&home);
        let r = json(&gs(dir, &["--json", "backup", "run", "home"]));
        copy_tree(&home, &dir.join(format!("snap{i}")));
        runs.push((r["cycle"].as_u64().unwrap(), r["level"].as_u64().unwrap()));
        assert!(r["files"].as_u64() >= Some(1), "run {i} after {what}: {r}");
        // The next run ends in a later second, so --as-of tells them apart.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(
        runs,
        [
            (1, 0),
            (1, 1),
            (1, 2),
            (1, 3),
            (2, 0),
            (2, 1),
            (2, 2),
            (2, 3)
        ]
    );
    let list = json(&gs(dir, &["--json", "backup", "list", "home"]));
    let ends: Vec<i64> = list["cycles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["levels"].as_array().unwrap().clone())
        .map(|l| l["ended"].as_i64().unwrap())
        .collect();
    assert_eq!(ends.len(), steps.len(), "{list}");

    let abs = std::fs::canonicalize(&home).unwrap();
    for (i, ((what, _, gone), end)) in steps.iter().zip(&ends).enumerate() {
        let out = format!("out{i}");
        let at = rfc3339(*end);
        let args = ["backup", "restore", "home", "--as-of", &at, "--to", &out];
        let mut dry = vec!["--json"];
        dry.extend(args);
        dry.push("--dry-run");
        let r = json(&gs(dir, &dry));
        assert_eq!(
            (r["point"]["cycle"].as_u64(), r["point"]["level"].as_u64()),
            (Some(runs[i].0), Some(runs[i].1)),
            "restore as of run {i}: {r}"
        );
        assert!(r["point"]["missing"].as_array().unwrap().is_empty(), "{r}");
        ok(&gs(dir, &args));
        let back = dir.join(&out).join(abs.strip_prefix("/").unwrap());
        assert_eq!(
            entries(&back),
            entries(&dir.join(format!("snap{i}"))),
            "restore as of run {i} (after {what})"
        );
        for g in *gone {
            assert!(!back.join(g).exists(), "run {i}: {g} restored");
        }
    }

    // A run started while another holds the set's lock (a timer and a cron
    // line both firing): refused at once, exit 1, no level begun.
    let held = std::fs::File::create(dir.join("catalog.sqlite.backup-home.lock")).unwrap();
    held.lock().unwrap();
    let refused = gs(dir, &["backup", "run", "home"]);
    let err = crate::stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("backup set \"home\" is being backed up by another run"),
        "{err}"
    );
    drop(held);
    let after = json(&gs(dir, &["--json", "backup", "list", "home"]));
    assert_eq!(after, list, "the refused run changed nothing");
}
