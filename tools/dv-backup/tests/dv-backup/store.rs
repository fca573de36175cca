//! `StorageType: store`: into a Permafrost store and catalog, found and
//! retrieved with glacier-sync.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::fixture::{Site, md5, noise, stderr, stdout};

/// glacier-sync, built beside dv-backup (`cargo build -p glacier-sync`
/// in the same command as these tests).
pub(crate) fn glacier_sync() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_dv-backup"));
    let gs = exe.with_file_name("glacier-sync");
    assert!(
        gs.exists(),
        "{} is missing: build it with the tests, `cargo build -p glacier-sync && cargo test -p dv-backup`",
        gs.display()
    );
    gs
}

pub(crate) fn gs(site: &Site, args: &[&str]) -> Output {
    gs_in(site.tmp.path(), args)
}

/// glacier-sync in `dir` (a site's directory).
fn gs_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(glacier_sync())
        .args(args)
        .current_dir(dir)
        .env("PERMAFROST_HOME", dir.join("permafrost-home"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub(crate) fn store_backup(site: &Site, store: &Path, extra: &str) -> String {
    format!(
        "StorageType: store\nStoreLocation: file://{}\nCatalog: {}\nVault: dataverse\nStagingDirectory: {}\n{extra}",
        store.display(),
        site.tmp.path().join("catalog.sqlite").display(),
        site.tmp.path().join("staging").display(),
    )
}

pub(crate) fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// `retrieve --path` into `out`, returning the file's bytes.
pub(crate) fn retrieve(site: &Site, store: &Path, path: &str, out: &str) -> Vec<u8> {
    retrieve_in(site.tmp.path(), store, &["--path", path], out);
    fs::read(site.tmp.path().join(out).join(path.trim_start_matches('/'))).unwrap()
}

/// `retrieve under:DIR` of the site in `site_dir` into `out` (there):
/// every file archived under `dir`.
pub(crate) fn retrieve_under(site_dir: &Path, store: &Path, dir: &str, out: &str) {
    retrieve_in(
        site_dir,
        store,
        &[&format!("under:{dir}"), "--limit", "1000000"],
        out,
    );
}

fn retrieve_in(site_dir: &Path, store: &Path, what: &[&str], out: &str) {
    let catalog = site_dir.join("catalog.sqlite");
    let store = format!("file://{}", store.display());
    let mut args = vec!["retrieve"];
    args.extend_from_slice(what);
    args.extend_from_slice(&[
        "--to",
        out,
        "--catalog",
        catalog.to_str().unwrap(),
        "--store",
        &store,
        "--vault",
        "dataverse",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    let o = gs_in(site_dir, &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
#[allow(clippy::too_many_lines)] // one site's life: first run, find, retrieve, nothing new, a new file
fn store_backup_is_found_and_retrieved_with_glacier_sync() {
    let mut site = Site::new("store");
    let ds_a = site.dataset("10.5072", "FK2/STA");
    let ds_b = site.dataset("10.5072", "FK2/STB");
    let big = noise(300_000, 7);
    site.file(
        ds_a,
        "s1",
        Some(b"first file"),
        "MD5",
        None,
        "2024-01-01 00:00:01",
    );
    site.file(ds_b, "s2", Some(&big), "MD5", None, "2024-01-01 00:00:02");
    let dir = site.dataset_dir(ds_a);
    fs::write(dir.join("t1"), b"x\ty\n1\t2\n").unwrap();
    fs::write(dir.join("t1.orig"), b"the uploaded spreadsheet").unwrap();
    let t = site.insert_file(
        ds_a,
        Some("file://t1"),
        "MD5",
        &md5(b"the uploaded spreadsheet"),
        Some(24),
        "2024-01-01 00:00:03",
    );
    site.dv
        .execute(
            "INSERT INTO datatable (datafile_id, originalfileformat, originalfilesize, unf) VALUES ($1, 'application/vnd.ms-excel', 24, 'UNF:6:x')",
            &[&t],
        )
        .unwrap();
    site.file(
        ds_b,
        "s3",
        Some(b"sha-256 recorded"),
        "SHA256",
        Some(&crate::fixture::sha256(b"sha-256 recorded")),
        "2024-01-01 00:00:04",
    );
    let store = site.tmp.path().join("store");
    // Batches of two files: the run archives twice.
    let config = site.config(&store_backup(&site, &store, "BatchFiles: 2\n"), true, false);
    let o = site.run(&config, &["run", "-j", "3"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("4 files processed; 0 skipped; 4 success, 0 failed"),
        "{out}"
    );
    let statuses = site.statuses();
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert!(statuses.values().all(|s| s == "OK"), "{statuses:?}");
    let method: String = site
        .backup_db()
        .query_one(
            "SELECT lastbackupmethod FROM datafilestatus WHERE storageidentifier = 'file://t1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(method, "store");
    // Staging is cleaned; only the lock file stays.
    let staged: Vec<_> = fs::read_dir(site.tmp.path().join("staging"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(staged, vec!["dv-backup.lock"], "{staged:?}");

    // find by the path, in the catalog dv-backup wrote.
    let catalog = site.tmp.path().join("catalog.sqlite");
    let o = gs(
        &site,
        &[
            "--json",
            "find",
            "--catalog",
            catalog.to_str().unwrap(),
            "path:/10.5072/FK2/STA/t1.orig",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let found: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["path"], "/10.5072/FK2/STA/t1.orig");
    assert_eq!(hits[0]["size"], 24);
    assert_eq!(hits[0]["vault"], "dataverse");
    let o = gs(
        &site,
        &[
            "find",
            "--catalog",
            catalog.to_str().unwrap(),
            "path:/10.5072/FK2/STA/t1",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the derived .tab is not archived: {}",
        stdout(&o)
    );

    // retrieve --path gives each back byte for byte.
    assert_eq!(
        retrieve(&site, &store, "/10.5072/FK2/STA/t1.orig", "out1"),
        b"the uploaded spreadsheet"
    );
    assert_eq!(retrieve(&site, &store, "/10.5072/FK2/STB/s2", "out2"), big);

    // Nothing new: nothing archived, nothing written.
    let stored_before = count_files(&store);
    let before: (i64, Option<String>) = {
        let r = site
            .backup_db()
            .query_one(
                "SELECT count(*), max(lastbackuptime)::text FROM datafilestatus",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 files processed; 0 skipped; 0 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    let after: (i64, Option<String>) = {
        let r = site
            .backup_db()
            .query_one(
                "SELECT count(*), max(lastbackuptime)::text FROM datafilestatus",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(before, after);
    assert_eq!(count_files(&store), stored_before, "nothing archived");

    // A file added is picked up, and found.
    site.file(
        ds_a,
        "s4",
        Some(b"added later"),
        "MD5",
        None,
        "2024-02-01 00:00:00",
    );
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 files processed; 0 skipped; 1 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert_eq!(site.statuses()["file://s4"], "OK");
    assert_eq!(
        retrieve(&site, &store, "/10.5072/FK2/STA/s4", "out3"),
        b"added later"
    );
}

/// A store that cannot take more: a tiny tmpfs when this process may
/// mount (root), else a read-only directory. Undone on drop.
struct Faulty {
    dir: PathBuf,
    tmpfs: bool,
}

impl Faulty {
    fn new(dir: &Path) -> Faulty {
        fs::create_dir_all(dir).unwrap();
        let tmpfs = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Faulty {
            dir: dir.to_owned(),
            tmpfs,
        }
    }

    /// No more room (tmpfs: it is nearly full of a filler; else read-only).
    fn break_it(&self) {
        if self.tmpfs {
            let free = {
                let o = Command::new("df")
                    .args(["--output=avail", "-B1"])
                    .arg(&self.dir)
                    .output()
                    .unwrap();
                let text = String::from_utf8(o.stdout).unwrap();
                text.lines()
                    .nth(1)
                    .unwrap()
                    .trim()
                    .parse::<usize>()
                    .unwrap()
            };
            fs::write(
                self.dir.join("filler"),
                vec![0u8; free.saturating_sub(8192)],
            )
            .unwrap();
        } else {
            set_mode_tree(&self.dir, 0o555);
        }
    }

    fn heal(&self) {
        if self.tmpfs {
            fs::remove_file(self.dir.join("filler")).unwrap();
        } else {
            set_mode_tree(&self.dir, 0o755);
        }
    }
}

fn set_mode_tree(dir: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            set_mode_tree(&e.path(), mode);
        }
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        if self.tmpfs {
            let _ = Command::new("umount").arg(&self.dir).status();
        } else {
            set_mode_tree(&self.dir, 0o755);
        }
    }
}

#[test]
fn a_store_that_cannot_be_written_is_fail_write_and_a_rerun_mends_it() {
    let mut site = Site::new("storefull");
    let ds = site.dataset("10.5072", "FK2/FULL");
    site.file(ds, "f1", Some(b"fits"), "MD5", None, "2024-01-01 00:00:01");
    let store = site.tmp.path().join("store");
    let faulty = Faulty::new(&store);
    let config = site.config(&store_backup(&site, &store, ""), true, false);
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    faulty.break_it();
    let content = noise(200_000, 11);
    site.file(ds, "f2", Some(&content), "MD5", None, "2024-01-01 00:00:02");
    let o = site.run(&config, &["run"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.contains("1 files processed; 0 skipped; 0 success, 1 failed")
            && out.contains("FAIL_WRITE: 1"),
        "{out}"
    );
    let statuses = site.statuses();
    assert_eq!(statuses["file://f1"], "OK");
    assert_eq!(statuses["file://f2"], "FAIL_WRITE", "{statuses:?}");
    let why: String = site
        .backup_db()
        .query_one(
            "SELECT message FROM dvbackup_failure WHERE storageidentifier = 'file://f2'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(why.contains("archiving into vault dataverse"), "{why}");
    assert!(
        why.contains(if faulty.tmpfs {
            "No space left on device"
        } else {
            "ermission denied"
        }),
        "{why}"
    );

    // Room again: --rerun stores it.
    faulty.heal();
    let o = site.run(&config, &["run", "--rerun"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("2 files processed; 1 skipped; 1 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert_eq!(site.statuses()["file://f2"], "OK");
    assert_eq!(
        retrieve(&site, &store, "/10.5072/FK2/FULL/f2", "out"),
        content
    );
}

#[test]
fn two_runs_on_one_staging_directory_do_not_collide() {
    let mut site = Site::new("storelock");
    let ds = site.dataset("10.5072", "FK2/LOCK");
    site.file(ds, "l1", Some(b"x"), "MD5", None, "2024-01-01 00:00:01");
    let store = site.tmp.path().join("store");
    let config = site.config(&store_backup(&site, &store, ""), true, false);
    let staging = site.tmp.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    let held = fs::File::create(staging.join("dv-backup.lock")).unwrap();
    held.try_lock().unwrap();
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let lock_path = staging.join("dv-backup.lock");
    assert!(
        stderr(&o).contains(&format!("{} is locked", lock_path.display())),
        "{}",
        stderr(&o)
    );
    assert!(site.statuses().is_empty());
    drop(held);
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_store_run_killed_mid_way_is_finished_by_the_next() {
    let mut site = Site::new("storekill");
    let ds = site.dataset("10.5072", "FK2/SKILL");
    let n = 400;
    for i in 0..n {
        site.file(
            ds,
            &format!("k{i:03}"),
            Some(&noise(30_000, i as u64 + 1)),
            "MD5",
            None,
            &format!("2024-01-01 00:{:02}:{:02}", i / 60, i % 60),
        );
    }
    let store = site.tmp.path().join("store");
    let config = site.config(
        &store_backup(&site, &store, "BatchFiles: 10\nMaxFiles: 5\n"),
        true,
        false,
    );
    let at_kill = site.kill_run_after(&config, &["run", "-j", "2"], 20, Duration::from_secs(120));
    assert!(
        at_kill < n,
        "killed with {at_kill} of {n} files recorded: too late"
    );
    assert!(site.statuses().values().all(|s| s == "OK"));

    let o = site.run(&config, &["run", "-j", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{} success, 0 failed", n - at_kill)),
        "every file not recorded at the kill is backed up once: {}",
        stdout(&o)
    );
    let statuses = site.statuses();
    assert_eq!(statuses.len(), n);
    assert!(statuses.values().all(|s| s == "OK"), "{statuses:?}");
    for i in [0, at_kill, n - 1] {
        let path = format!("/10.5072/FK2/SKILL/k{i:03}");
        assert_eq!(
            retrieve(&site, &store, &path, &format!("out{i}")),
            noise(30_000, i as u64 + 1),
            "{path}"
        );
    }
    let o = site.run(&config, &["run"]);
    assert!(stdout(&o).contains("0 files processed"), "{}", stdout(&o));
}
