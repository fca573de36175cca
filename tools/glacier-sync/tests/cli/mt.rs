//! The mt-aws-glacier commands end to end, against the local directory
//! store and against the fake Glacier HTTP service (the real AWS SDK path).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use glacier_multipart::ArchiveStore as _;

use crate::{run, stderr, stdout};

pub(crate) const VAULT: &str = "photos";
const KEY: &str = "AKIDTESTKEY";

/// Where the vault is.
pub(crate) enum Backend {
    Local,
    Fake(fake_glacier::FakeGlacier),
}

/// A temporary directory with a backend, a config file and a vault.
pub(crate) struct Env {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) backend: Backend,
}

impl Env {
    pub(crate) fn local() -> Env {
        Env::new(Backend::Local)
    }

    pub(crate) fn fake() -> Env {
        let fake = fake_glacier::FakeGlacier::start(&fake_glacier::FakeOptions {
            access_keys: vec![KEY.to_owned()],
            ..fake_glacier::FakeOptions::default()
        })
        .expect("start the fake Glacier service");
        Env::new(Backend::Fake(fake))
    }

    fn new(backend: Backend) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let env = Env { tmp, backend };
        std::fs::write(
            env.path("glacier.cfg"),
            format!("# mt-aws-glacier style\nkey={KEY}\nsecret=test-secret\nregion=us-east-1\nprotocol=http\nconcurrency=3\n"),
        )
        .unwrap();
        let out = env.run(&["create-vault", &env.vault_spec()]);
        assert!(out.status.success(), "create-vault: {}", stderr(&out));
        env
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// The `--vault` value.
    pub(crate) fn vault_spec(&self) -> String {
        match self.backend {
            Backend::Local => format!("file://{}/{VAULT}", self.path("store").display()),
            Backend::Fake(_) => VAULT.to_owned(),
        }
    }

    /// Options every store command needs besides `--vault`.
    pub(crate) fn store_opts(&self) -> Vec<String> {
        let mut v = vec![
            "--config".to_owned(),
            self.path("glacier.cfg").display().to_string(),
        ];
        if let Backend::Fake(f) = &self.backend {
            v.push("--endpoint-url".into());
            v.push(f.endpoint());
        }
        v
    }

    /// Runs the binary in the temp dir; store commands get the config and
    /// endpoint options.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let opts = self.store_opts();
        if args.first() == Some(&"check-local-hash") {
            all.extend_from_slice(&opts[..2]); // no store involved
        } else {
            all.extend(opts);
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        run(self.tmp.path(), &refs, None)
    }

    /// `sync` of `src` with extra options.
    pub(crate) fn sync(&self, extra: &[&str]) -> Output {
        let vault = self.vault_spec();
        let mut args = vec![
            "sync",
            "--dir",
            "src",
            "--vault",
            &vault,
            "--journal",
            "journal.log",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Archives in the vault, asked of the store directly.
    pub(crate) fn archive_count(&self) -> u64 {
        match &self.backend {
            Backend::Local => {
                glacier_multipart::LocalStore::open(self.path("store"))
                    .unwrap()
                    .describe_vault(VAULT)
                    .unwrap()
                    .archives
            }
            Backend::Fake(f) => f.store().describe_vault(VAULT).unwrap().archives,
        }
    }

    pub(crate) fn journal_state(&self, name: &str) -> journal::State {
        journal::read_journal(self.path(name), journal::ReadOptions::default())
            .unwrap()
            .state
    }
}

pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn write(path: &Path, data: &[u8], mtime: i64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    set_mtime(path, mtime);
}

fn set_mtime(path: &Path, mtime: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.unsigned_abs());
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The source tree: non-ASCII names, spaces, an empty file, a file of
/// six 1 MiB parts.
pub(crate) fn make_tree(env: &Env) {
    let src = env.path("src");
    write(
        &src.join("héllo wörld.txt"),
        b"hello, world\n",
        1_600_000_000,
    );
    write(
        &src.join("日本語/ファイル 名.txt"),
        "こんにちは".as_bytes(),
        1_600_000_100,
    );
    write(
        &src.join("dir with spaces/a b c.bin"),
        &pseudo_random(70_000, 1),
        1_600_000_200,
    );
    write(
        &src.join("big/many parts.bin"),
        &pseudo_random((5 << 20) + 12_345, 2),
        1_600_000_300,
    );
    write(&src.join("empty file"), b"", 1_600_000_400);
}

/// Relative name -> (size, tree hash, mtime) of the regular files under
/// `dir`.
pub(crate) fn tree(dir: &Path) -> BTreeMap<String, (u64, String, i64)> {
    use std::os::unix::fs::MetadataExt as _;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
                let hash = glacier_treehash::tree_hash(&std::fs::read(&p).unwrap()).to_string();
                out.insert(rel, (m.len(), hash, m.mtime()));
            }
        }
    }
    out
}

/// (archive id, size, mtime, tree hash, name) of the live archives.
pub(crate) fn content(state: &journal::State) -> Vec<(String, u64, Option<i64>, String, String)> {
    let mut v: Vec<_> = state
        .archives()
        .map(|a| {
            (
                a.archive_id.as_str().to_owned(),
                a.size,
                a.mtime,
                a.treehash.to_string(),
                a.relname.as_str().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// sync, check-local-hash, restore + restore-completed, download-inventory,
/// purge-vault.
pub(crate) fn round_trip(env: &Env) {
    make_tree(env);
    let out = env.sync(&["--partsize", "1"]);
    ok(&out);
    assert!(
        stderr(&out).contains("skipping empty file"),
        "{}",
        stderr(&out)
    );
    let state = env.journal_state("journal.log");
    assert_eq!(state.archive_count(), 4);
    assert_eq!(env.archive_count(), 4);
    let text = std::fs::read_to_string(env.path("journal.log")).unwrap();
    assert!(text.lines().all(|l| l.starts_with("B\t")), "{text}");
    assert!(text.contains("\tbig/many parts.bin\n"));

    // Every archive carries mt2 metadata naming its file and mtime.
    let vault = env.vault_spec();
    ok(&env.run(&[
        "check-local-hash",
        "--dir",
        "src",
        "--journal",
        "journal.log",
    ]));

    // A second sync uploads nothing.
    let again = ok(&env.sync(&["--partsize", "1"]));
    assert!(again.starts_with("0 uploaded"), "{again}");
    assert_eq!(env.archive_count(), 4);

    // Restore into an empty directory: the same tree, with mtimes.
    std::fs::create_dir(env.path("restored")).unwrap();
    let summary = env.run(&[
        "restore",
        "--dir",
        "restored",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--max-number-of-files",
        "100",
        "--tier",
        "bulk",
        "--json",
    ]);
    let s: serde_json::Value = serde_json::from_str(&ok(&summary)).unwrap();
    assert_eq!(s["files"], 4);
    assert_eq!(s["tier"], "bulk");
    assert_eq!(s["jobs"].as_array().unwrap().len(), 4);
    ok(&env.run(&[
        "restore-completed",
        "--dir",
        "restored",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--segment-size",
        "1",
        "--wait",
        "--poll-interval",
        "0.2",
    ]));
    let mut expected = tree(&env.path("src"));
    expected.remove("empty file"); // Glacier has no empty archives
    assert_eq!(tree(&env.path("restored")), expected);

    // The vault alone rebuilds the journal.
    let job = env.run(&["retrieve-inventory", "--vault", &vault, "--json"]);
    ok(&job);
    let rebuilt = env.run(&[
        "download-inventory",
        "--vault",
        &vault,
        "--new-journal",
        "rebuilt.log",
    ]);
    ok(&rebuilt);
    assert_eq!(
        content(&env.journal_state("rebuilt.log")),
        content(&env.journal_state("journal.log"))
    );

    // purge-vault empties it.
    ok(&env.run(&["purge-vault", "--vault", &vault, "--journal", "journal.log"]));
    assert_eq!(env.archive_count(), 0);
    assert_eq!(env.journal_state("journal.log").archive_count(), 0);
}

/// Each sync mode and --detect mode.
pub(crate) fn sync_modes(env: &Env) {
    make_tree(env);
    ok(&env.sync(&[]));
    let src = env.path("src");
    let count = |env: &Env| env.journal_state("journal.log").archive_count();

    // --new: an added file.
    write(&src.join("new/added.txt"), b"added", 1_600_001_000);
    let out = ok(&env.sync(&["--new"]));
    assert!(out.starts_with("1 uploaded"), "{out}");
    assert_eq!(count(env), 5);

    // Same size, same mtime, other bytes: only a tree hash check sees it.
    let f = src.join("héllo wörld.txt");
    write(&f, b"HELLO, world\n", 1_600_000_000);
    for (detect, replaced) in [
        ("size-only", 0),
        ("mtime", 0),
        ("mtime-and-treehash", 0),
        ("mtime-or-treehash", 1),
    ] {
        let out = ok(&env.sync(&["--replace-modified", "--detect", detect]));
        assert!(
            out.starts_with(&format!("0 uploaded, {replaced} replaced")),
            "{detect}: {out}"
        );
    }
    // Now the journal has the new bytes; change them again the same way.
    write(&f, b"hello, WORLD\n", 1_600_000_000);
    let out = ok(&env.sync(&["--replace-modified", "--detect", "treehash"]));
    assert!(out.starts_with("0 uploaded, 1 replaced"), "{out}");
    // A new mtime with the same bytes: only the mtime modes see it.
    set_mtime(&f, 1_700_000_000);
    let out = ok(&env.sync(&["--replace-modified", "--detect", "mtime-and-treehash"]));
    assert!(out.starts_with("0 uploaded, 0 replaced"), "{out}");
    let out = ok(&env.sync(&["--replace-modified", "--detect", "mtime"]));
    assert!(out.starts_with("0 uploaded, 1 replaced"), "{out}");
    // A size change always counts.
    write(&src.join("new/added.txt"), b"added more", 1_600_001_000);
    let out = ok(&env.sync(&["--replace-modified", "--detect", "size-only"]));
    assert!(out.starts_with("0 uploaded, 1 replaced"), "{out}");
    let out = ok(&env.sync(&[
        "--replace-modified",
        "--detect",
        "always-positive",
        "--dry-run",
    ]));
    assert_eq!(out.lines().count(), 5, "{out}");
    // Replacing deletes the old archive: the vault holds one per file.
    assert_eq!(count(env), 5);
    assert_eq!(env.archive_count(), 5);

    // --delete-removed, with a filter that protects one removed file.
    std::fs::remove_file(src.join("new/added.txt")).unwrap();
    std::fs::remove_file(src.join("dir with spaces/a b c.bin")).unwrap();
    let out = ok(&env.sync(&["--delete-removed", "--exclude", "*.bin"]));
    assert!(out.contains("1 deleted"), "{out}");
    let out = ok(&env.sync(&["--delete-removed"]));
    assert!(out.contains("1 deleted"), "{out}");
    assert_eq!(count(env), 3);
    assert_eq!(env.archive_count(), 3);
    let restored_check = ok(&env.run(&[
        "check-local-hash",
        "--dir",
        "src",
        "--journal",
        "journal.log",
    ]));
    assert_eq!(restored_check.lines().count(), 3, "{restored_check}");
}

/// check-local-hash names a flipped byte and a truncated file.
pub(crate) fn check_local_hash_catches_damage(env: &Env) {
    make_tree(env);
    ok(&env.sync(&["--partsize", "1"]));
    let src = env.path("src");
    let big = src.join("big/many parts.bin");
    let mut data = std::fs::read(&big).unwrap();
    data[3 << 20] ^= 1;
    write(&big, &data, 1_600_000_300);
    let small = src.join("dir with spaces/a b c.bin");
    let data = std::fs::read(&small).unwrap();
    write(&small, &data[..1000], 1_600_000_200);
    let out = env.run(&[
        "check-local-hash",
        "--dir",
        "src",
        "--journal",
        "journal.log",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("big/many parts.bin: treehash mismatch"),
        "{err}"
    );
    assert!(
        err.contains("dir with spaces/a b c.bin: size mismatch"),
        "{err}"
    );
    assert!(!err.contains("héllo"), "{err}");
}
