//! The mt-aws-glacier commands end to end, against the local directory
//! store and against the fake Glacier HTTP service (the real AWS SDK path).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{run, stderr, stdout};

pub(crate) const VAULT: &str = "photos";
const KEY: &str = "AKIDTESTKEY";

/// Where the vault is.
pub(crate) enum Backend {
    Local,
    Fake(fake_glacier::FakeGlacier),
    /// A fresh bucket of the S3 test server, vaults under `site/` in
    /// `DEEP_ARCHIVE`.
    S3(String),
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
            credentials: vec![(KEY.to_owned(), "test-secret".to_owned())],
            ..fake_glacier::FakeOptions::default()
        })
        .expect("start the fake Glacier service");
        Env::new(Backend::Fake(fake))
    }

    pub(crate) fn s3() -> Env {
        Env::new(Backend::S3(crate::s3::fresh_bucket()))
    }

    /// The `--store` of an S3 backend.
    pub(crate) fn s3_location(bucket: &str) -> String {
        format!("s3://{bucket}/site?class=DEEP_ARCHIVE&restore-days=2")
    }

    /// The store, opened directly (not through the binary).
    pub(crate) fn store(&self) -> std::sync::Arc<dyn glacier_multipart::ArchiveStore> {
        match &self.backend {
            Backend::Local => std::sync::Arc::new(
                glacier_multipart::LocalStore::open(self.path("store")).unwrap(),
            ),
            Backend::Fake(f) => f.store().clone(),
            Backend::S3(bucket) => std::sync::Arc::new(crate::s3::store(&Env::s3_location(bucket))),
        }
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
            Backend::Fake(_) | Backend::S3(_) => VAULT.to_owned(),
        }
    }

    /// Options every store command needs besides `--vault`.
    pub(crate) fn store_opts(&self) -> Vec<String> {
        let mut v = vec![
            "--config".to_owned(),
            self.path("glacier.cfg").display().to_string(),
        ];
        match &self.backend {
            Backend::Fake(f) => {
                v.push("--endpoint-url".into());
                v.push(f.endpoint());
            }
            Backend::S3(bucket) => {
                v.push("--store".into());
                v.push(Env::s3_location(bucket));
                v.push("--endpoint-url".into());
                v.push(crate::s3::endpoint());
            }
            Backend::Local => {}
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
        self.store().describe_vault(VAULT).unwrap().archives
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
#[allow(clippy::too_many_lines)] // one story, step by step
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

    // purge-vault empties it; then the vault can go.
    let dry = ok(&env.run(&[
        "purge-vault",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--dry-run",
    ]));
    assert_eq!(dry.lines().count(), 4, "{dry}");
    assert_eq!(env.archive_count(), 4);
    ok(&env.run(&["purge-vault", "--vault", &vault, "--journal", "journal.log"]));
    assert_eq!(env.archive_count(), 0);
    assert_eq!(env.journal_state("journal.log").archive_count(), 0);
    let store = match env.backend {
        Backend::Local => vec![
            "--store".to_owned(),
            env.path("store").display().to_string(),
        ],
        Backend::Fake(_) | Backend::S3(_) => vec![],
    };
    let mut list = vec!["list-vaults", "--json"];
    list.extend(store.iter().map(String::as_str));
    let vaults: serde_json::Value = serde_json::from_str(&ok(&env.run(&list))).unwrap();
    assert_eq!(vaults[0]["name"], VAULT, "{vaults}");
    ok(&env.run(&["delete-vault", &vault]));
    let vaults: serde_json::Value = serde_json::from_str(&ok(&env.run(&list))).unwrap();
    assert_eq!(vaults, serde_json::json!([]));
}

/// Filters apply in command-line order (first match wins), and a file
/// that would need more than 10,000 parts gets a larger part size, said so.
pub(crate) fn filters_and_part_size(env: &Env) {
    make_tree(env);
    let names = |out: &str| -> Vec<String> {
        let mut v: Vec<String> = out
            .lines()
            .map(|l| l.trim_start_matches("would upload ").to_owned())
            .collect();
        v.sort();
        v
    };
    let out = ok(&env.sync(&["--dry-run", "--include", "*.txt", "--exclude", "*"]));
    assert_eq!(names(&out), ["héllo wörld.txt", "日本語/ファイル 名.txt"]);
    let out = ok(&env.sync(&["--dry-run", "--exclude", "*", "--include", "*.txt"]));
    assert_eq!(out, "");
    let out = ok(&env.sync(&["--dry-run", "--max-number-of-files", "2"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = ok(&env.sync(&[
        "--dry-run",
        "--filter",
        "+big/ -*.bin",
        "--exclude",
        "*.txt",
    ]));
    assert_eq!(names(&out), ["big/many parts.bin"]);
    // A sparse file of 10,001 MiB: 1 MiB parts would be 10,001 of them.
    let f = std::fs::File::create(env.path("src/huge.img")).unwrap();
    f.set_len(10_001 << 20).unwrap();
    let out = env.sync(&[
        "--dry-run",
        "--partsize",
        "1",
        "--include",
        "huge.img",
        "--exclude",
        "*",
    ]);
    assert_eq!(ok(&out), "would upload huge.img\n");
    // S3's smallest part is 8 MiB (5 MiB, as a power of two).
    let raised = if matches!(env.backend, Backend::S3(_)) {
        "huge.img: part size raised from 1 MiB to 8 MiB"
    } else {
        "huge.img: part size raised from 1 MiB to 2 MiB"
    };
    assert!(stderr(&out).contains(raised), "{}", stderr(&out));
    // Nothing was uploaded by a dry run.
    assert_eq!(env.archive_count(), 0);
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
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
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

/// kill -9 in the middle of a sync, then a rerun: every file once.
pub(crate) fn killed_sync_resumes(env: &Env) {
    make_tree(env);
    for i in 0..6 {
        write(
            &env.path(&format!("src/more/file {i}.bin")),
            &pseudo_random(300_000, 10 + i),
            1_600_002_000,
        );
    }
    let vault = env.vault_spec();
    let mut args: Vec<String> = [
        "sync",
        "--dir",
        "src",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--partsize",
        "1",
        "--max-rate",
        "1M",
        "--concurrency",
        "2",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(env.store_opts());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args(&args)
        .current_dir(env.tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = env.journal_state("journal.log").archive_count();
    assert!(
        before < 10,
        "the sync finished before it was killed ({before} archives)"
    );

    let out = ok(&env.sync(&["--partsize", "1"]));
    let state = env.journal_state("journal.log");
    assert_eq!(state.archive_count(), 10, "{out}");
    assert_eq!(state.file_count(), 10);
    assert_eq!(
        env.archive_count(),
        10,
        "no duplicate archives in the vault"
    );
    ok(&env.run(&[
        "check-local-hash",
        "--dir",
        "src",
        "--journal",
        "journal.log",
    ]));
}

/// A journal in mt-aws-glacier's own formats (B, A, 0, CRLF) is used as is.
pub(crate) fn mt_aws_glacier_journal_as_is(env: &Env) {
    make_tree(env);
    ok(&env.sync(&[]));
    // Rewrite our journal the way older mt-aws-glacier versions wrote it.
    let ours = std::fs::read_to_string(env.path("journal.log")).unwrap();
    let mut hand = String::new();
    for (i, line) in ours.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        // B TIME CREATED ID SIZE MTIME TREEHASH RELNAME
        match i {
            0 => writeln!(hand, "{line}").unwrap(),
            1 => write!(hand, "A\t{}\r\n", f[1..].join("\t")).unwrap(),
            _ => writeln!(hand, "{} CREATED {} {} {} {}", f[1], f[3], f[4], f[6], f[7]).unwrap(),
        }
    }
    std::fs::write(env.path("mt.journal"), &hand).unwrap();
    assert!(
        hand.contains("\nA\t") && hand.contains(" CREATED "),
        "{hand}"
    );

    ok(&env.run(&[
        "check-local-hash",
        "--dir",
        "src",
        "--journal",
        "mt.journal",
    ]));
    let vault = env.vault_spec();
    // The config file carries the options; the command line adds the rest.
    std::fs::write(
        env.path("glacier.cfg"),
        format!(
            "{}vault={vault}\njournal=mt.journal\ndir=src\n",
            std::fs::read_to_string(env.path("glacier.cfg")).unwrap()
        ),
    )
    .unwrap();
    let out = ok(&env.run(&["sync"]));
    assert!(out.starts_with("0 uploaded"), "{out}");
    std::fs::create_dir(env.path("back")).unwrap();
    ok(&env.run(&["restore", "--dir", "back", "--max-number-of-files", "10"]));
    ok(&env.run(&[
        "restore-completed",
        "--dir",
        "back",
        "--wait",
        "--poll-interval",
        "0.1",
    ]));
    let src = tree(&env.path("src"));
    let back = tree(&env.path("back"));
    assert_eq!(back.len(), 4);
    for (name, (size, hash, _)) in &back {
        let (s, h, _) = &src[name];
        assert_eq!((size, hash), (s, h), "{name}");
    }
    // The journal kept its lines; restore added version-B RETRIEVE_JOB ones.
    let after = std::fs::read_to_string(env.path("mt.journal")).unwrap();
    assert!(after.starts_with(&hand));
    assert_eq!(after[hand.len()..].matches("\tRETRIEVE_JOB\t").count(), 4);
    // The command line wins over the config file's journal= (a fresh
    // journal: everything is new to it).
    let out = ok(&env.run(&["sync", "--journal", "fresh.log", "--dry-run"]));
    assert_eq!(out.lines().count(), 4, "{out}");
}

/// A bad input: a clear message, the exit code, the journal unchanged.
fn refused(env: &Env, args: &[&str], code: i32, message: &str) {
    let before = std::fs::read(env.path("journal.log")).unwrap();
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    assert_eq!(
        std::fs::read(env.path("journal.log")).unwrap(),
        before,
        "{args:?}"
    );
}

pub(crate) fn bad_input(env: &Env) {
    make_tree(env);
    ok(&env.sync(&[]));
    let vault = env.vault_spec();
    let sync = [
        "sync",
        "--dir",
        "src",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
    ];
    std::fs::write(env.path("src/new file"), b"not yet uploaded").unwrap();

    // A non-existent --dir.
    let mut a = sync.to_vec();
    a[2] = "no such dir";
    refused(env, &a, 2, "--dir no such dir");
    // A locked journal.
    {
        let _lock = journal::JournalWriter::open(env.path("journal.log")).unwrap();
        refused(env, &sync, 3, "locked by pid");
    }
    // Retrieval beyond --max-cost: nothing requested. (Deep Archive, the
    // S3 backend's class, has no expedited tier: that is refused too.)
    std::fs::create_dir(env.path("empty")).unwrap();
    let s3 = matches!(env.backend, Backend::S3(_));
    let restore = [
        "restore",
        "--dir",
        "empty",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--max-number-of-files",
        "9",
        "--tier",
        if s3 { "standard" } else { "expedited" },
        "--max-cost",
        "0",
    ];
    refused(env, &restore, 5, "exceeds --max-cost");
    if s3 {
        let mut expedited = restore;
        expedited[10] = "expedited";
        refused(env, &expedited, 2, "no expedited retrieval tier");
    }
    // An unknown config key.
    let cfg = std::fs::read_to_string(env.path("glacier.cfg")).unwrap();
    std::fs::write(env.path("glacier.cfg"), format!("{cfg}colour=blue\n")).unwrap();
    refused(env, &sync, 7, "colour");
    std::fs::write(env.path("glacier.cfg"), &cfg).unwrap();
    // A corrupt journal: a garbage line in the middle.
    let good = std::fs::read_to_string(env.path("journal.log")).unwrap();
    let (first, rest) = good.split_once('\n').unwrap();
    std::fs::write(
        env.path("journal.log"),
        format!("{first}\nB\tgarbage here\n{rest}"),
    )
    .unwrap();
    refused(env, &sync, 3, "line 2");
    refused(
        env,
        &[
            "check-local-hash",
            "--dir",
            "src",
            "--journal",
            "journal.log",
        ],
        3,
        "line 2",
    );
    std::fs::write(env.path("journal.log"), &good).unwrap();
    // Nothing was uploaded by any of these.
    assert_eq!(env.archive_count(), 4);
}

pub(crate) fn upload_file(env: &Env) {
    make_tree(env);
    let vault = env.vault_spec();
    let out = ok(&env.run(&[
        "upload-file",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--dir",
        "src",
        "--filename",
        "src/big/many parts.bin",
        "--partsize",
        "1",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["relname"], "big/many parts.bin");
    // The same name again is refused.
    refused(
        env,
        &[
            "upload-file",
            "--vault",
            &vault,
            "--journal",
            "journal.log",
            "--dir",
            "src",
            "--filename",
            "src/big/many parts.bin",
        ],
        1,
        "already in journal",
    );
    // Standard input, under a chosen name.
    let mut args: Vec<String> = [
        "upload-file",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--stdin",
        "--set-rel-filename",
        "from stdin/data.bin",
        "--check-max-file-size",
        "10",
        "--partsize",
        "1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(env.store_opts());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let data = pseudo_random((2 << 20) + 77, 5);
    ok(&run(env.tmp.path(), &refs, Some(&data)));
    let state = env.journal_state("journal.log");
    let a = state.latest("from stdin/data.bin").unwrap();
    assert_eq!(a.size, data.len() as u64);
    assert_eq!(a.treehash, glacier_treehash::tree_hash(&data));
    assert_eq!(env.archive_count(), 2);
    // Single-file restore by name, in one step.
    std::fs::create_dir(env.path("one")).unwrap();
    ok(&env.run(&[
        "restore",
        "--dir",
        "one",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--filename",
        "from stdin/data.bin",
    ]));
    ok(&env.run(&[
        "restore-completed",
        "--dir",
        "one",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--wait",
        "--poll-interval",
        "0.1",
    ]));
    assert_eq!(
        std::fs::read(env.path("one/from stdin/data.bin")).unwrap(),
        data
    );
    assert!(!env.path("one/big").exists());
}
