//! A small catalog with known files, shared by the tests.

use catalog::{
    ArchiveKey, ArchiveState, Catalog, FileEntry, NewArchive, NewRun, Page, RunId, VaultId,
};

pub(crate) const MB: u64 = 1 << 20;

/// 2019-06-01, 2020-03-01 ... as seconds.
pub(crate) fn day(s: &str) -> i64 {
    let q: catalog::Query = format!("mtime:={s}").parse().expect("a date");
    match q.clauses[0].term {
        catalog::query::Term::Mtime(catalog::query::Range::Eq(t)) => t,
        _ => unreachable!(),
    }
}

pub(crate) fn file(path: &str, size: u64, mtime: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        size,
        mtime: day(mtime),
        mode: 0o100_644,
        uid: Some(1000),
        gid: Some(100),
        owner: Some("alice".into()),
        group: Some("staff".into()),
        ..FileEntry::default()
    }
}

pub(crate) fn archive(run: RunId, vault: VaultId, created: i64, description: &str) -> NewArchive {
    NewArchive {
        run,
        vault,
        remote_id: None,
        size: 0,
        stored_size: None,
        tree_hash: None,
        description: description.into(),
        tags: vec![],
        created,
        state: ArchiveState::Uploading,
        recipients: vec![],
    }
}

pub(crate) struct Fixture {
    pub cat: Catalog,
    pub run1: RunId,
    pub run2: RunId,
    pub a1: ArchiveKey,
    pub a2: ArchiveKey,
}

/// Run 1 ("yearly finance archive", tag finance) with archive a1; run 2
/// ("lab data", tag research) with archive a2, stored as "REMOTE-A2".
pub(crate) fn fixture(mut cat: Catalog) -> Fixture {
    let store = cat.store("local", "local", Some("/srv/cold")).unwrap();
    let vault = cat.vault(store, "main").unwrap();
    let run1 = cat
        .begin_run(&NewRun {
            uid: Some("run-one".into()),
            roots: vec!["/data/Finance".into()],
            description: "yearly finance archive".into(),
            tags: vec!["finance".into()],
            started: 100,
            ..NewRun::default()
        })
        .unwrap();
    let a1 = cat.add_archive(&archive(run1, vault, 1000, "")).unwrap();
    cat.insert_files(
        a1,
        &[
            file("/data/Finance/Budget_2019-final.xlsx", 2 * MB, "2019-06-01"),
            file("/data/Finance/Budget_2020.xlsx", 5 * MB, "2020-03-01"),
            file(
                "/data/Finance/old/budget 2019 draft.docx",
                20 * 1024,
                "2018-12-01",
            ),
            file("/data/Finance2/report.txt", 10, "2021-01-01"),
        ],
    )
    .unwrap();
    let run2 = cat
        .begin_run(&NewRun {
            uid: Some("run-two".into()),
            roots: vec!["/data/Research".into(), "/home/alice".into()],
            description: "lab data".into(),
            tags: vec!["research".into()],
            started: 200,
            ..NewRun::default()
        })
        .unwrap();
    let a2 = cat
        .add_archive(&archive(run2, vault, 2000, "instrument output"))
        .unwrap();
    cat.insert_files(
        a2,
        &[
            file("/data/Research/Überweisung_Müller.pdf", 100, "2021-05-05"),
            file("/data/Research/報告書.docx", 3000, "2022-01-01"),
            file("/home/alice/photos/IMG_0042.JPG", 12 * MB, "2015-07-07"),
            file("/data/Research/iPhoneBackup.tar", 30 * MB, "2021-02-02"),
        ],
    )
    .unwrap();
    cat.set_archive_stored(a2, "REMOTE-A2", Some("ab12"), 1234)
        .unwrap();
    Fixture {
        cat,
        run1,
        run2,
        a1,
        a2,
    }
}

/// The file names (last path component) matching `q`, sorted.
pub(crate) fn names(cat: &Catalog, q: &str) -> Vec<String> {
    let mut out: Vec<String> = cat
        .search_str(q, Page::first(1000))
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .hits
        .into_iter()
        .map(|h| h.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// The backends every catalog test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// What a test needs the PostgreSQL server for, when it is not there.
const NO_POSTGRES: &str = "PERMAFROST_POSTGRES_URL is not set: the catalog tests need the PostgreSQL \
     server of scripts/services/postgres (run `eval \"$(scripts/services/postgres start)\"`, or scripts/test)";

/// A test database on the PostgreSQL server, dropped with its connections
/// when the test ends (passed or failed).
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn create(label: &str) -> (Self, String) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("PERMAFROST_POSTGRES_URL").expect(NO_POSTGRES);
        let catalog::Location::Postgres(loc) = catalog::Location::parse(&admin)
            .unwrap_or_else(|e| panic!("PERMAFROST_POSTGRES_URL: {e}"))
        else {
            panic!("PERMAFROST_POSTGRES_URL={admin} is not a postgres:// location");
        };
        let mut name = format!(
            "pf_{}_{}_{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        name.truncate(63);
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
        c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let location = catalog::PgLocation {
            dbname: name.clone(),
            ..loc
        }
        .to_string();
        (PgDatabase { admin, name }, location)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let dropped = postgres::Client::connect(&self.admin, postgres::NoTls).and_then(|mut c| {
            c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
        });
        if let Err(e) = dropped
            && !std::thread::panicking()
        {
            panic!("dropping test database {}: {e}", self.name);
        }
    }
}

/// The catalogs of one test on one backend: a temporary directory of
/// SQLite files, or databases of their own on the PostgreSQL server.
pub(crate) struct Db {
    pub backend: Backend,
    label: String,
    dir: tempfile::TempDir,
    main: String,
    databases: std::sync::Mutex<Vec<PgDatabase>>,
}

impl Db {
    pub(crate) fn new(backend: Backend, label: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db {
            backend,
            label: label.to_owned(),
            dir,
            main: String::new(),
            databases: std::sync::Mutex::new(Vec::new()),
        };
        db.main = db.new_location("main");
        db
    }

    /// A location no catalog holds yet.
    pub(crate) fn new_location(&self, name: &str) -> String {
        match self.backend {
            Backend::Sqlite => self
                .dir
                .path()
                .join(format!("{name}.sqlite"))
                .to_string_lossy()
                .into_owned(),
            Backend::Postgres => {
                let (db, location) = PgDatabase::create(&self.label);
                self.databases.lock().unwrap().push(db);
                location
            }
        }
    }

    /// The test's catalog (the same one each call).
    pub(crate) fn location(&self) -> &str {
        &self.main
    }

    /// Opens the test's catalog (the same one each call).
    pub(crate) fn open(&self) -> Catalog {
        Catalog::open_location(&self.main).unwrap_or_else(|e| panic!("{}: {e}", self.main))
    }

    /// A second, empty catalog of the same backend.
    pub(crate) fn open_other(&self, name: &str) -> Catalog {
        let location = self.new_location(name);
        Catalog::open_location(&location).unwrap_or_else(|e| panic!("{location}: {e}"))
    }
}

/// Each test twice, as `NAME::sqlite` and `NAME::postgres`, its body given
/// the backend's [`Db`]. A test whose operation the PostgreSQL backend
/// lacks yet says so with `pending(postgres = "Catalog::OPERATION")`: its
/// PostgreSQL run must then fail on exactly that `Unsupported` operation
/// (and starts failing, to be unmarked, once the backend has it).
macro_rules! each_backend {
    ($( $(#[$attr:meta])* $(pending(postgres = $op:literal))? fn $name:ident($db:ident) $body:block )*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$attr])*
            fn body($db: &crate::support::Db) $body

            #[test]
            fn sqlite() {
                body(&crate::support::Db::new(crate::support::Backend::Sqlite, stringify!($name)));
            }

            #[test]
            $(#[should_panic(expected = $op)])?
            fn postgres() {
                body(&crate::support::Db::new(crate::support::Backend::Postgres, stringify!($name)));
            }
        }
    )*};
}
