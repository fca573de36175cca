//! What only the PostgreSQL backend has: its location, its migrations
//! (refusing foreign and newer databases), its errors. Everything else it
//! shares with SQLite is tested on both by `each_backend!`.

use catalog::{BackendKind, Catalog, CatalogError};

use crate::support::{Backend, Db};

fn admin(db: &Db) -> postgres::Client {
    postgres::Client::connect(db.location(), postgres::NoTls).unwrap()
}

#[test]
fn a_new_database_becomes_a_catalog_and_opens_again() {
    let db = Db::new(Backend::Postgres, "new_database");
    let cat = db.open();
    assert_eq!(cat.backend(), BackendKind::Postgres);
    assert_eq!(cat.path().to_str(), Some(db.location()));
    assert!(db.location().starts_with("postgres://postgres@"));
    assert_eq!(cat.schema_version().unwrap(), 3);
    drop(cat);
    let again = db.open();
    assert_eq!(again.schema_version().unwrap(), 3);
    let tables: i64 = admin(&db)
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(tables >= 10, "{tables} tables");
}

#[test]
fn hosts_opening_a_new_database_at_once_migrate_it_once() {
    let db = Db::new(Backend::Postgres, "at_once");
    let location = db.location().to_owned();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let location = location.clone();
            std::thread::spawn(move || {
                Catalog::open_location(&location)
                    .unwrap()
                    .schema_version()
                    .unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 3);
    }
    let rows: i64 = admin(&db)
        .query_one("SELECT count(*) FROM permafrost_catalog", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn refuses_another_applications_database_and_a_newer_catalog() {
    let db = Db::new(Backend::Postgres, "refuses");
    admin(&db)
        .batch_execute("CREATE TABLE invoices (id int)")
        .unwrap();
    let err = Catalog::open_location(db.location()).unwrap_err();
    assert!(
        matches!(&err, CatalogError::NotACatalog { reason, .. } if reason.contains("another application")),
        "{err}"
    );
    assert!(err.to_string().contains(db.location()), "{err}");

    let newer = db.new_location("newer");
    drop(Catalog::open_location(&newer).unwrap());
    postgres::Client::connect(&newer, postgres::NoTls)
        .unwrap()
        .batch_execute("UPDATE permafrost_catalog SET version = 99")
        .unwrap();
    let err = Catalog::open_location(&newer).unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::TooNew {
                found: 99,
                supported: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn what_it_cannot_do_yet_is_unsupported_by_name() {
    let db = Db::new(Backend::Postgres, "unsupported");
    let mut cat = db.open();
    let err = cat.check().unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Unsupported {
                operation: "Catalog::check",
                backend: "PostgreSQL"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Catalog::check is not supported on the PostgreSQL catalog backend yet"
    );
    let err = cat.tape().volumes().unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Unsupported {
                operation: "Catalog::tape",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_server_that_is_not_there_is_named() {
    // The test server's address with a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let location = format!("postgres://postgres@127.0.0.1:{port}/catalog");
    let err = Catalog::open_location(&location).unwrap_err();
    assert!(matches!(err, CatalogError::Postgres { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("catalog {location}: connecting: ")),
        "{msg}"
    );
}

#[test]
fn a_password_in_the_location_is_refused_before_connecting() {
    let err = Catalog::open_location("postgres://pf:hunter2@127.0.0.1:1/catalog").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CatalogError::Location { .. }), "{msg}");
    assert!(msg.contains("password in the location is refused"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn runs_archives_and_files_read_back_as_recorded() {
    let db = Db::new(Backend::Postgres, "read_back");
    let f = crate::support::fixture(db.open());
    let mut cat = f.cat;
    let run = cat.run(f.run1).unwrap().unwrap();
    assert_eq!((run.uid.as_str(), run.files), ("run-one", 4));
    assert_eq!(run.tags, vec!["finance".to_owned()]);
    assert_eq!(cat.run_by_uid("run-two").unwrap().unwrap().id, f.run2);
    assert_eq!(cat.runs().unwrap().len(), 2);
    let a = cat.archive(f.a2).unwrap().unwrap();
    assert_eq!(a.info.remote_id.as_deref(), Some("REMOTE-A2"));
    assert_eq!((a.files, a.seq), (4, 0));
    assert_eq!(a.info.state, catalog::ArchiveState::Stored);
    cat.set_archive_state(f.a2, catalog::ArchiveState::Pruned)
        .unwrap();
    assert_eq!(
        cat.archives_of_run(f.run2).unwrap()[0].info.state,
        catalog::ArchiveState::Pruned
    );
    // File ids follow the sequence: the fixture's first file is 1.
    let (archive, file) = cat.file(catalog::FileId(1)).unwrap().unwrap();
    assert_eq!(archive, f.a1);
    assert_eq!(file.path, "/data/Finance/Budget_2019-final.xlsx");
    assert_eq!(
        (file.size, file.uid, file.owner.as_deref()),
        (2 * crate::support::MB, Some(1000), Some("alice"))
    );
    // A relative path refuses the whole batch.
    let err = cat
        .insert_files(
            f.a1,
            &[
                crate::support::file("/data/ok", 1, "2020-01-01"),
                crate::support::file("rel", 1, "2020-01-01"),
            ],
        )
        .unwrap_err();
    assert!(matches!(err, CatalogError::RelativePath { .. }), "{err}");
    assert_eq!(cat.run(f.run1).unwrap().unwrap().files, 4);
    cat.delete_run(f.run1).unwrap();
    assert!(cat.file(catalog::FileId(1)).unwrap().is_none());
    assert_eq!(cat.runs().unwrap().len(), 1);
}

/// Searches of every kind over the same generated catalog: on PostgreSQL
/// they give SQLite's answers (the same files, in the same order, page by
/// page, and the same counts).
#[test]
fn the_same_searches_give_the_same_answers_on_both_backends() {
    const QUERIES: &[&str] = &[
        "budget",
        "budget 2019",
        "\"budget 2019\"",
        "budget2019",
        "kalo*",
        "2019 fin*",
        "report -draft",
        "xlsx -final -2019",
        "-xlsx size:>1M",
        "-jpg -pdf under:/data/Finance",
        "lab",
        "lab xlsx",
        "\"quarterly lab\" jpg",
        "-\"lab data\" jpg",
        "-lab budget",
        "img jpg",
        "jpg zip",
        "png docx 2019",
        "library chemistry",
        "path:*.jpg mtime:>=2015-01-01",
        "path:/data/*/[a-m]*",
        "-path:*[0-9].* docx",
        "tag:quarterly report",
        "-tag:QUARTERLY pdf",
        "owner:alice jpg",
        "-owner:1000 size:<1k",
        "group:staff -under:/data",
        "run:second xlsx",
        "zzzz",
    ];
    let sqlite = Db::new(Backend::Sqlite, "same_answers");
    let pg = Db::new(Backend::Postgres, "same_answers");
    let files: Vec<_> = catalog::synth::synthetic_tree(11, 12_000).collect();
    let mut cats: Vec<Catalog> = [&sqlite, &pg].into_iter().map(Db::open).collect();
    for cat in &mut cats {
        let store = cat.store("s", "local", None).unwrap();
        let vault = cat.vault(store, "v").unwrap();
        let (first, second) = files.split_at(files.len() / 2);
        for (i, part) in [first, second].into_iter().enumerate() {
            let run = cat
                .begin_run(&catalog::NewRun {
                    uid: Some(["first", "second"][i].into()),
                    started: 1,
                    description: ["", "quarterly lab data"][i].into(),
                    ..catalog::NewRun::default()
                })
                .unwrap();
            cat.tag_run(run, &[["yearly", "Quarterly"][i]]).unwrap();
            let a = cat
                .add_archive(&crate::support::archive(run, vault, 1, ""))
                .unwrap();
            for chunk in part.chunks(5_000) {
                cat.insert_files(a, chunk).unwrap();
            }
        }
    }
    let answers = |cat: &Catalog, q: &str| {
        let query: catalog::Query = q.parse().unwrap();
        let mut seen = Vec::new();
        let mut page = catalog::Page::first(97);
        loop {
            let p = cat.search(&query, page).unwrap();
            seen.extend(p.hits.into_iter().map(|h| (h.id, h.path)));
            match p.next {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        (seen, cat.count(&query).unwrap())
    };
    let mut nonempty = 0;
    for q in QUERIES {
        let want = answers(&cats[0], q);
        assert_eq!(want.0.len() as u64, want.1, "{q}: SQLite's count");
        assert_eq!(answers(&cats[1], q), want, "{q}");
        nonempty += usize::from(want.1 > 0);
    }
    assert!(nonempty >= 20, "{nonempty} queries found something");
}

/// An export is one format: a run exported from SQLite imports into
/// PostgreSQL and back, each search answering as before.
#[test]
fn a_run_moves_between_backends_through_its_export() {
    let sqlite = Db::new(Backend::Sqlite, "moves");
    let pg = Db::new(Backend::Postgres, "moves");
    let f = crate::support::fixture(sqlite.open());
    let mut bytes = Vec::new();
    f.cat.export_run(f.run2, &mut bytes, "mem").unwrap();
    let mut on_pg = pg.open();
    let out = on_pg.import_run(&bytes[..], "mem").unwrap();
    assert!(out.imported);
    assert_eq!((out.summary.archives, out.summary.files), (1, 4));
    let mut back = Vec::new();
    on_pg.export_run(out.run, &mut back, "mem").unwrap();
    let mut again = sqlite.open_other("again");
    assert!(again.import_run(&back[..], "mem").unwrap().imported);
    let hits = |cat: &Catalog, q: &str| -> Vec<_> {
        cat.search_str(q, catalog::Page::first(100))
            .unwrap()
            .hits
            .into_iter()
            .map(|h| (h.path, h.size, h.mtime, h.archive_id, h.state))
            .collect()
    };
    for q in [
        "müller",
        "lab",
        "tag:research",
        "archive:REMOTE-A2",
        "size:>1M",
    ] {
        let want = hits(&f.cat, &format!("{q} run:run-two"));
        assert!(!want.is_empty(), "{q}");
        assert_eq!(hits(&on_pg, q), want, "{q} on PostgreSQL");
        assert_eq!(hits(&again, q), want, "{q} back on SQLite");
    }
}

#[test]
fn a_version_1_catalog_is_migrated_to_the_newest_version() {
    let db = Db::new(Backend::Postgres, "v1_to_v3");
    let mut c = admin(&db);
    c.batch_execute(include_str!("../../src/postgres/schema/v1.sql"))
        .unwrap();
    c.batch_execute(
        "INSERT INTO permafrost_catalog(application, version) VALUES ('permafrost-catalog', 1)",
    )
    .unwrap();
    let cat = db.open();
    assert_eq!(cat.schema_version().unwrap(), 3);
    let side: i64 = c
        .query_one("SELECT count(*) FROM side_values", &[])
        .unwrap()
        .get(0);
    assert_eq!(side, 0);
}

#[test]
fn side_values_and_claims_between_hosts() {
    use std::time::Duration;
    let db = Db::new(Backend::Postgres, "side");
    let catalog::Location::Postgres(loc) = catalog::Location::parse(db.location()).unwrap() else {
        unreachable!()
    };
    let a = catalog::SideTable::open(&loc).unwrap();
    let b = catalog::SideTable::open(&loc).unwrap();
    assert_eq!(a.get("k", "x").unwrap(), None);
    a.put("k", "x", b"one").unwrap();
    a.put("k", "y", b"two").unwrap();
    assert_eq!(b.get("k", "x").unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(b.keys("k").unwrap(), ["x", "y"]);
    assert!(
        !a.claim("k", "none", "a", Duration::from_secs(60)).unwrap(),
        "no value, no claim"
    );
    assert!(a.claim("k", "x", "a", Duration::from_secs(60)).unwrap());
    assert!(
        a.claim("k", "x", "a", Duration::from_secs(60)).unwrap(),
        "renewed"
    );
    assert!(
        !b.claim("k", "x", "b", Duration::from_secs(60)).unwrap(),
        "held by a"
    );
    assert!(b.held_by_other("k", "x", "b").unwrap());
    assert!(!a.held_by_other("k", "x", "a").unwrap());
    a.put("k", "x", b"changed").unwrap();
    assert!(
        !b.claim("k", "x", "b", Duration::from_secs(60)).unwrap(),
        "a put keeps the claim"
    );
    a.release("k", "x", "a").unwrap();
    assert!(b.claim("k", "x", "b", Duration::ZERO).unwrap(), "released");
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        a.claim("k", "x", "a", Duration::from_secs(60)).unwrap(),
        "b's lease ran out"
    );

    // Locks: a transaction of b waits for a's on the same row.
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        a.transaction(|tx| -> catalog::Result<()> {
            assert_eq!(tx.lock("req", "r").unwrap(), b"");
            s.spawn(|| {
                b.transaction(|tx| -> catalog::Result<()> {
                    assert_eq!(tx.lock("req", "r").unwrap(), b"job-1", "a's value, after a");
                    tx.remove("req", "r")
                })
                .unwrap();
            });
            std::thread::sleep(Duration::from_millis(300));
            tx.put("req", "r", b"job-1")
        })
        .unwrap();
    });
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.get("req", "r").unwrap(), None);
    let failed: catalog::Result<()> = a.transaction(|tx| {
        tx.put("req", "r", b"rolled back")?;
        Err(CatalogError::Location {
            location: "x".into(),
            reason: "fails".into(),
        })
    });
    assert!(failed.is_err());
    assert_eq!(a.get("req", "r").unwrap(), None, "rolled back");
}

#[test]
fn a_run_with_units_left_is_seen_from_the_side_table() {
    use std::time::Duration;
    let db = Db::new(Backend::Postgres, "workleft");
    let catalog::Location::Postgres(loc) = catalog::Location::parse(db.location()).unwrap() else {
        unreachable!()
    };
    let queue = catalog::WorkQueue::open(&loc).unwrap();
    let side = catalog::SideTable::open(&loc).unwrap();
    assert!(!side.has_work_left("r9").unwrap(), "no such run");
    queue
        .create_run(
            "r9",
            b"spec",
            Duration::from_secs(60),
            &[b"u0".to_vec(), b"u1".to_vec()],
        )
        .unwrap();
    assert!(side.has_work_left("r9").unwrap(), "two units pending");
    let first = queue.claim(Some("r9"), "w").unwrap().unwrap();
    assert!(queue.finish(&first.claim, b"").unwrap());
    assert!(side.has_work_left("r9").unwrap(), "one unit pending");
    let second = queue.claim(Some("r9"), "w").unwrap().unwrap();
    assert!(side.has_work_left("r9").unwrap(), "one unit claimed");
    assert!(queue.finish(&second.claim, b"").unwrap());
    assert!(!side.has_work_left("r9").unwrap(), "every unit done");
}

#[test]
fn work_units_are_claimed_once_reclaimed_after_their_lease_and_guard_records() {
    use std::time::Duration;
    let db = Db::new(Backend::Postgres, "work");
    let catalog::Location::Postgres(loc) = catalog::Location::parse(db.location()).unwrap() else {
        unreachable!()
    };
    let a = catalog::WorkQueue::open(&loc).unwrap();
    let b = catalog::WorkQueue::open(&loc).unwrap();
    let units: Vec<Vec<u8>> = (0..3).map(|i| format!("unit {i}").into_bytes()).collect();
    a.create_run("r1", b"spec", Duration::from_secs(1), &units)
        .unwrap();
    assert!(
        a.create_run("r1", b"spec", Duration::from_secs(1), &units)
            .is_err(),
        "one run per uid"
    );
    assert_eq!(b.run_spec("r1").unwrap().as_deref(), Some(&b"spec"[..]));
    assert_eq!(b.open_runs().unwrap(), ["r1"]);
    // Three claims from two hosts: three different units, then none.
    let u0 = a.claim(None, "host-a").unwrap().unwrap();
    let u1 = b.claim(Some("r1"), "host-b").unwrap().unwrap();
    let u2 = b.claim(None, "host-b").unwrap().unwrap();
    let mut got = [u0.claim.unit, u1.claim.unit, u2.claim.unit];
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(u0.content, format!("unit {}", u0.claim.unit).into_bytes());
    assert_eq!((u0.attempts, u0.lease), (1, Duration::from_secs(1)));
    assert!(a.claim(None, "host-a").unwrap().is_none());
    let c = a.counts("r1").unwrap();
    assert_eq!((c.pending, c.claimed, c.done, c.left()), (0, 3, 0, 3));
    // u0 and u1 are renewed while u2's one-second lease runs out: host a
    // claims it again, b's claim is lost: b records nothing under it and
    // cannot finish it.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(500));
        assert!(a.renew(&u0.claim).unwrap());
        assert!(b.renew(&u1.claim).unwrap());
    }
    let again = a.claim(None, "host-a").unwrap().unwrap();
    assert_eq!(again.claim.unit, u2.claim.unit);
    assert_eq!(again.attempts, 2);
    assert!(a.claim(None, "host-a").unwrap().is_none(), "u0, u1 renewed");
    assert!(!b.renew(&u2.claim).unwrap());
    assert!(!b.finish(&u2.claim, b"late").unwrap());
    let mut cat = db.open();
    let store = cat.store("s", "local", None).unwrap();
    let vault = cat.vault(store, "v").unwrap();
    let run = cat
        .begin_run(&catalog::NewRun {
            uid: Some("r1".into()),
            ..catalog::NewRun::default()
        })
        .unwrap();
    let archive = cat
        .add_archive(&catalog::NewArchive {
            run,
            vault,
            remote_id: None,
            size: 1,
            stored_size: None,
            tree_hash: None,
            description: "d".into(),
            tags: vec![],
            created: 0,
            state: catalog::ArchiveState::Uploading,
            recipients: vec![],
        })
        .unwrap();
    let files = [catalog::FileEntry {
        path: "/w/one".into(),
        size: 1,
        ..catalog::FileEntry::default()
    }];
    let err = cat
        .insert_many_claimed(&[(archive, &files[..])], &u2.claim)
        .unwrap_err();
    assert!(matches!(err, CatalogError::ClaimLost { .. }), "{err}");
    assert!(
        err.to_string().contains("claim of host-b was lost"),
        "{err}"
    );
    cat.insert_many_claimed(&[(archive, &files[..])], &again.claim)
        .unwrap();
    cat.set_archive_stored(archive, "remote-1", None, 1)
        .unwrap();
    assert_eq!(cat.where_is("/w/one").unwrap().len(), 1);
    // Done, given back, failed; the run closes once none is left.
    assert!(b.renew(&u1.claim).unwrap());
    assert!(b.finish(&u1.claim, b"one").unwrap());
    assert!(a.finish(&again.claim, b"two").unwrap());
    assert!(!a.close_run("r1").unwrap(), "a unit is left");
    a.give_back(&u0.claim, "store down", 2).unwrap();
    let retry = b.claim(None, "host-b").unwrap().unwrap();
    assert_eq!((retry.claim.unit, retry.attempts), (u0.claim.unit, 2));
    b.give_back(&retry.claim, "store down again", 2).unwrap();
    assert_eq!(
        a.failures("r1").unwrap(),
        [(u0.claim.unit, "store down again".to_owned())]
    );
    assert!(!a.has_units_left(None).unwrap());
    assert_eq!(a.results("r1").unwrap().len(), 2);
    assert!(a.close_run("r1").unwrap());
    assert!(!b.close_run("r1").unwrap(), "closed once");
    assert!(a.open_runs().unwrap().is_empty());
    assert!(a.claim(None, "host-a").unwrap().is_none());
}

#[test]
fn claimed_records_need_a_postgresql_catalog() {
    let mut cat = Catalog::open_in_memory().unwrap();
    let claim = catalog::UnitClaim {
        run: "r".into(),
        unit: 0,
        holder: "h".into(),
    };
    let err = cat.insert_many_claimed(&[], &claim).unwrap_err();
    assert!(err.to_string().contains("SQLite"), "{err}");
}
