//! A catalog on PostgreSQL shared by several "hosts" (processes with data
//! directories of their own): archive, find, where-is, retrieve and watch
//! against the real server of `scripts/services/postgres`; retrievals
//! from two hosts at once request one job; a server that is not there is
//! named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::mt::ok;
use crate::{stderr, stdout};

const NO_POSTGRES: &str = "PERMAFROST_POSTGRES_URL is not set: these tests need the PostgreSQL \
     server of scripts/services/postgres (run `eval \"$(scripts/services/postgres start)\"`, or scripts/test)";

/// A database of its own on the test server, dropped at the end.
pub(crate) struct PgDb {
    admin: String,
    name: String,
    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub(crate) location: String,
}

impl PgDb {
    pub(crate) fn create(label: &str) -> PgDb {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("PERMAFROST_POSTGRES_URL").expect(NO_POSTGRES);
        let name = format!(
            "gs_{}_{}_{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
        c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
        let location = format!(
            "{}/{name}",
            base.replacen("postgresql://", "postgres://", 1)
        );
        PgDb {
            admin,
            name,
            location,
        }
    }

    /// A connection to the catalog's database, to look at its rows.
    pub(crate) fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.location, postgres::NoTls).unwrap()
    }

    pub(crate) fn count(&self, sql: &str) -> i64 {
        self.client().query_one(sql, &[]).unwrap().get(0)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A host: a data directory of its own; every host sees `shared` (the
/// tree, the store, the restore directory) at the same paths.
pub(crate) struct Host {
    pub(crate) home: PathBuf,
    cwd: PathBuf,
}

impl Host {
    pub(crate) fn new(shared: &Path, name: &str) -> Host {
        let home = shared.join(format!("host-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        Host {
            home,
            cwd: shared.to_owned(),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_glacier-sync"));
        c.args(args)
            .current_dir(&self.cwd)
            .env("PERMAFROST_HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".no-config"))
            .env_remove("PERMAFROST_CONFIG")
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run glacier-sync")
    }
}

fn make_tree(root: &Path) {
    for i in 0..40 {
        let dir = root.join(format!("dept{}/year{}", i % 4, 2019 + i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("report-{i}.txt")),
            format!("report number {i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    let mut x = 7u64;
    let big: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    std::fs::write(root.join("dept0/big.bin"), &big).unwrap();
    std::fs::write(root.join("dept0/needle budget.txt"), b"the needle\n").unwrap();
}

#[test]
fn archive_find_where_is_and_retrieve_from_another_host() {
    let db = PgDb::create("flow");
    let tmp = tempfile::tempdir().unwrap();
    let shared = std::fs::canonicalize(tmp.path()).unwrap();
    let tree = shared.join("tree");
    make_tree(&tree);
    let vault = format!("{}/store/main", shared.display());
    let cat = db.location.as_str();
    let a = Host::new(&shared, "a");
    let b = Host::new(&shared, "b");

    let out = ok(&a.run(&[
        "archive",
        tree.to_str().unwrap(),
        "--vault",
        &vault,
        "--catalog",
        cat,
        "--max-files",
        "10",
    ]));
    let _ = out;
    assert_eq!(
        db.count("SELECT count(*) FROM files WHERE name LIKE '%.txt' OR name LIKE '%.bin'"),
        42,
        "every file recorded once"
    );
    // The bundle indexes are in the database, nothing beside a file.
    let bundles = db.count("SELECT count(*) FROM archives WHERE state = 'stored' AND description LIKE 'permafrost-bundle%'");
    assert!(bundles >= 5, "{bundles} bundles");
    assert_eq!(
        db.count("SELECT count(*) FROM side_values WHERE kind = 'bundle-index'"),
        bundles
    );
    assert!(!a.home.join("catalog.sqlite").exists());

    // Host B finds, locates and retrieves (a ranged job, thanks to the
    // index host A stored in the database).
    let found = ok(&b.run(&["find", "needle", "budget", "--catalog", cat]));
    let needle = tree.join("dept0/needle budget.txt");
    assert!(found.contains(needle.to_str().unwrap()), "{found}");
    let where_is = ok(&b.run(&[
        "where-is",
        needle.to_str().unwrap(),
        "--catalog",
        cat,
        "--json",
    ]));
    assert!(where_is.contains("\"archive_id\""), "{where_is}");

    let restore = shared.join("restore");
    let out = b.run(&[
        "retrieve",
        "--path",
        needle.to_str().unwrap(),
        "--to",
        restore.to_str().unwrap(),
        "--vault",
        &vault,
        "--catalog",
        cat,
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    ok(&out);
    assert!(
        stderr(&out).contains("bytes 0-"),
        "a ranged request: {}",
        stderr(&out)
    );
    let back = restore.join(needle.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&needle).unwrap()
    );
    let big = tree.join("dept0/big.bin");
    ok(&a.run(&[
        "retrieve",
        "--path",
        big.to_str().unwrap(),
        "--to",
        restore.to_str().unwrap(),
        "--vault",
        &vault,
        "--catalog",
        cat,
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]));
    assert_eq!(
        std::fs::read(restore.join(big.strip_prefix("/").unwrap())).unwrap(),
        std::fs::read(&big).unwrap()
    );
    assert_eq!(
        db.count("SELECT count(*) FROM side_values WHERE kind IN ('job-plan', 'retrieval-request', 'live-run', 'pending-export')"),
        0,
        "nothing left pending"
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one story: two requests, three watchers, the files
fn two_hosts_retrieving_at_once_request_one_job_and_extract_it_once() {
    let db = PgDb::create("two_hosts");
    let tmp = tempfile::tempdir().unwrap();
    let shared = std::fs::canonicalize(tmp.path()).unwrap();
    let tree = shared.join("tree");
    make_tree(&tree);
    let vault = format!("{}/store/main", shared.display());
    let cat = db.location.as_str();
    let hosts: Vec<Host> = ["a", "b", "c"]
        .iter()
        .map(|n| Host::new(&shared, n))
        .collect();
    ok(&hosts[0].run(&[
        "archive",
        tree.to_str().unwrap(),
        "--vault",
        &vault,
        "--catalog",
        cat,
    ]));

    // Hosts b and c ask for the same directory's files into one place at
    // once (the retrieval of a team's restore, started twice).
    let restore = shared.join("restore");
    let query = format!("under:{}/dept1", tree.display());
    let children: Vec<_> = hosts[1..]
        .iter()
        .map(|h| {
            h.command(&[
                "retrieve",
                &query,
                "--to",
                restore.to_str().unwrap(),
                "--vault",
                &vault,
                "--catalog",
                cat,
                "--yes",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        ok(o);
    }
    assert_eq!(
        db.count("SELECT count(*) FROM retrieval_jobs"),
        1,
        "one job requested"
    );
    let joined = outs
        .iter()
        .filter(|o| stderr(o).contains("joined job"))
        .count();
    assert_eq!(
        joined,
        1,
        "{:?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );

    // All three watch at once: one extracts it.
    let children: Vec<_> = hosts
        .iter()
        .map(|h| {
            h.command(&[
                "watch",
                "--vault",
                &vault,
                "--catalog",
                cat,
                "--interval",
                "1",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        ok(o);
    }
    let extracted = outs
        .iter()
        .filter(|o| stderr(o).contains("files extracted"))
        .count();
    assert_eq!(
        extracted,
        1,
        "{:?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    let mut want = 0;
    for i in (1..40).step_by(4) {
        let f = tree.join(format!("dept1/year{}/report-{i}.txt", 2019 + i % 3));
        let back = restore.join(f.strip_prefix("/").unwrap());
        assert_eq!(
            std::fs::read(&back).unwrap(),
            std::fs::read(&f).unwrap(),
            "{}",
            f.display()
        );
        want += 1;
    }
    assert_eq!(want, 10);
    let state: String = db
        .client()
        .query_one("SELECT state FROM retrieval_jobs", &[])
        .unwrap()
        .get(0);
    assert_eq!(state, "downloaded");
}

#[test]
fn a_server_that_is_not_there_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(tmp.path(), "a");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let location = format!("postgres://pf@127.0.0.1:{port}/catalog");
    for args in [
        vec!["find", "budget", "--catalog", &location],
        vec![
            "archive",
            tmp.path().to_str().unwrap(),
            "--catalog",
            &location,
        ],
    ] {
        let out = host.run(&args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&location) && err.contains("connecting"),
            "{err}"
        );
        assert!(stdout(&out).is_empty());
    }
    let out = host.run(&[
        "find",
        "x",
        "--catalog",
        "postgres://pf:secret@127.0.0.1:5432/c",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("password in the location is refused") && !err.contains("secret"),
        "{err}"
    );
}
