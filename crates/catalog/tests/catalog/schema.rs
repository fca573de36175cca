//! Opening: new files, migrations, foreign and damaged files, newer versions.

use std::path::Path;

use catalog::{APPLICATION_ID, Catalog, CatalogError, Page, SCHEMA_VERSION};

/// Every schema version's SQL, frozen, and rows as that version holds them.
/// When version 2 arrives, add `v2-schema.sql`/`v2-data.sql` (made with the
/// version 2 code) and a line here; the test opens each with today's code.
const FIXTURES: &[(u32, &str, &str)] = &[
    (
        1,
        include_str!("fixtures/v1-schema.sql"),
        include_str!("fixtures/v1-data.sql"),
    ),
    (
        2,
        include_str!("fixtures/v2-schema.sql"),
        include_str!("fixtures/v2-data.sql"),
    ),
    (
        3,
        include_str!("fixtures/v3-schema.sql"),
        include_str!("fixtures/v3-data.sql"),
    ),
    (
        4,
        include_str!("fixtures/v4-schema.sql"),
        include_str!("fixtures/v4-data.sql"),
    ),
    (
        5,
        include_str!("fixtures/v5-schema.sql"),
        include_str!("fixtures/v5-data.sql"),
    ),
];

fn make_fixture(path: &Path, schema: &str, data: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(schema).unwrap();
    conn.execute_batch(data).unwrap();
}

#[test]
fn creates_a_new_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(cat.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(cat.path(), path);
    drop(cat);
    // An empty file (e.g. made by `touch`) is a new catalog too.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    Catalog::open(&empty).unwrap();
    // Opening again changes nothing.
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(cat.schema_version().unwrap(), SCHEMA_VERSION);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
}

#[test]
fn opens_every_earlier_version() {
    for (version, schema, data) in FIXTURES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("v{version}.db"));
        make_fixture(&path, schema, data);
        let mut cat = Catalog::open(&path).unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(cat.schema_version().unwrap(), SCHEMA_VERSION);
        let hits = cat.search_str("budget 2019", Page::default()).unwrap().hits;
        assert_eq!(hits.len(), 1, "v{version}");
        assert_eq!(hits[0].path, "/data/Old/Budget_2019-final.xlsx");
        assert_eq!(hits[0].archive_id.as_deref(), Some("REMOTE-V1"));
        assert_eq!(hits[0].sha256, Some([0xab; 32]));
        assert_eq!(
            cat.search_str("legacy notes", Page::default())
                .unwrap()
                .hits
                .len(),
            1
        );
        assert_eq!(cat.where_is("/data/Old/notes.txt").unwrap().len(), 1);
        if *version >= 3 {
            let hits = cat.where_is("/data/tape-t/on-tape.txt").unwrap();
            let tape = hits[0].tape.as_ref().unwrap();
            assert_eq!(
                (tape.volume.as_str(), tape.file_number, tape.block),
                ("T1", 1, 1)
            );
            assert_eq!(
                (hits[0].store.as_str(), hits[0].vault.as_str()),
                ("tape", "T1")
            );
            // Deleting the tape run forgets its members' positions too.
            let tape_run = cat.run_by_uid("tape-run").unwrap().unwrap();
            cat.delete_run(tape_run.id).unwrap();
            assert!(cat.where_is("/data/tape-t/on-tape.txt").unwrap().is_empty());
            let b = cat.tape().backup(catalog::BackupId(1)).unwrap().unwrap();
            assert_eq!(b.archive, None);
        }
        // ACLs: version 5's rows read back; earlier versions gain the
        // tables and can hold them.
        let notes = cat.where_is("/data/Old/notes.txt").unwrap()[0].id;
        let acls = cat.file_acls(notes).unwrap();
        if *version >= 5 {
            assert_eq!(acls.len(), 1);
            assert_eq!(acls[0].entries[1].text, "ALLOW bob r--");
            let found = cat.search_str("acl:bob", Page::default()).unwrap().hits;
            assert_eq!(found.len(), 1, "v{version}");
            assert_eq!(cat.principals().unwrap()[0].name, "bob");
        } else {
            assert!(acls.is_empty());
            assert!(cat.principals().unwrap().is_empty());
        }
        // Tape volumes can be added to a migrated catalog.
        let mut t = cat.tape();
        t.add_volume("NEW01", "", 1).unwrap();
        assert!(t.volume("NEW01").unwrap().is_some());
        let run = cat.run_by_uid("v1-run").unwrap().unwrap();
        assert_eq!(
            run.options.get("bundle_mb").map(String::as_str),
            Some("500")
        );
        // And it is writable with today's code, deletes included.
        let (_, f) = cat.file(hits[0].id).unwrap().unwrap();
        assert_eq!(f.mode, 0o100_644);
        cat.delete_run(run.id).unwrap();
        assert!(
            cat.search_str("budget", Page::default())
                .unwrap()
                .hits
                .is_empty()
        );
        assert!(cat.integrity_check().unwrap().is_empty());
    }
}

#[test]
fn the_fixtures_are_the_schemas() {
    // The frozen copies must match the migrations: version 1 is v1.sql,
    // version 2 is v1.sql then v2.sql, version 3 adds
    // v3.sql, version 4 v4.sql, version 5 v5.sql (ACLs). Version 6
    // (backup sets) needs no fixture yet: every fixture migrates through it.
    assert_eq!(SCHEMA_VERSION, 6);
    assert_eq!(FIXTURES[0].1, include_str!("../../src/schema/v1.sql"));
    assert_eq!(
        FIXTURES[1].1,
        concat!(
            include_str!("../../src/schema/v1.sql"),
            include_str!("../../src/schema/v2.sql")
        )
    );
    assert_eq!(
        FIXTURES[2].1,
        concat!(
            include_str!("../../src/schema/v1.sql"),
            include_str!("../../src/schema/v2.sql"),
            include_str!("../../src/schema/v3.sql")
        )
    );
    assert_eq!(
        FIXTURES[3].1,
        concat!(
            include_str!("../../src/schema/v1.sql"),
            include_str!("../../src/schema/v2.sql"),
            include_str!("../../src/schema/v3.sql"),
            include_str!("../../src/schema/v4.sql")
        )
    );
    assert_eq!(
        FIXTURES[4].1,
        concat!(
            include_str!("../../src/schema/v1.sql"),
            include_str!("../../src/schema/v2.sql"),
            include_str!("../../src/schema/v3.sql"),
            include_str!("../../src/schema/v4.sql"),
            include_str!("../../src/schema/v5.sql")
        )
    );
}

#[test]
fn refuses_a_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Catalog::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    drop(conn);
    let err = Catalog::open(&path).unwrap_err();
    assert!(
        matches!(err, CatalogError::TooNew { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("future.db"), "{err}");
    assert!(Catalog::open_read_only(&path).is_err());
}

#[test]
fn refuses_files_that_are_not_catalogs() {
    let dir = tempfile::tempdir().unwrap();
    // Text.
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "these are not the droids you are looking for\n".repeat(200),
    )
    .unwrap();
    let err = Catalog::open(&text).unwrap_err();
    assert!(matches!(err, CatalogError::NotACatalog { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    let want = "these are not the droids you are looking for\n".repeat(200);
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        want,
        "left untouched"
    );
    // Another application's SQLite database.
    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE tapes(name TEXT); INSERT INTO tapes VALUES ('A00001');")
        .unwrap();
    drop(conn);
    let err = Catalog::open(&other).unwrap_err();
    assert!(matches!(err, CatalogError::NotACatalog { .. }), "{err}");
    assert!(err.to_string().contains("another application"), "{err}");
    // A directory, a missing parent.
    assert!(matches!(
        Catalog::open(dir.path()),
        Err(CatalogError::Open { .. } | CatalogError::NotACatalog { .. })
    ));
    let err = Catalog::open(dir.path().join("no/such/dir/cat.db")).unwrap_err();
    assert!(matches!(err, CatalogError::Open { .. }), "{err}");
    // Read-only open of a missing file does not create it.
    assert!(Catalog::open_read_only(dir.path().join("missing.db")).is_err());
    assert!(!dir.path().join("missing.db").exists());
}

#[test]
fn reports_a_damaged_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    {
        let mut cat = Catalog::open(&path).unwrap();
        let f = crate::support::fixture(Catalog::open_in_memory().unwrap());
        drop(f);
        let store = cat.store("s", "local", None).unwrap();
        let vault = cat.vault(store, "v").unwrap();
        let run = cat
            .begin_run(&catalog::NewRun {
                started: 1,
                ..catalog::NewRun::default()
            })
            .unwrap();
        let a = cat
            .add_archive(&crate::support::archive(run, vault, 1, ""))
            .unwrap();
        let files: Vec<_> = catalog::synth::synthetic_tree(1, 20_000).collect();
        cat.insert_files(a, &files).unwrap();
        cat.checkpoint().unwrap();
    }
    // Overwrite the middle of the file (B-tree pages) with garbage.
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 4..len * 3 / 4] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let result = Catalog::open(&path).and_then(|cat| {
        let problems = cat.integrity_check()?;
        assert!(!problems.is_empty());
        cat.count(&"data".parse()?)
    });
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Corrupt { .. } | CatalogError::NotACatalog { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("damaged.db"), "{err}");

    // A file cut inside its header: damaged, said so, with its name.
    std::fs::write(&path, &bytes[..50]).unwrap();
    let _ = std::fs::remove_file(dir.path().join("damaged.db-wal"));
    let err = Catalog::open(&path).unwrap_err();
    assert!(matches!(err, CatalogError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("damaged.db") && err.to_string().contains("corrupt"),
        "{err}"
    );
}

/// Version 4 folds diacritics: a version 3 catalog's archive words (as
/// version 3 wrote them, accents kept) and its files are found without
/// accents once migrated, and its search index file (format 1) is rebuilt.
#[test]
fn migration_to_4_folds_diacritics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    let (_, schema, data) = FIXTURES[2];
    make_fixture(&path, schema, data);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "UPDATE runs SET description = 'Résumés de l''année' WHERE id = 1;
         DELETE FROM archive_fts WHERE rowid = 1;
         INSERT INTO archive_fts(rowid, tokens, raw) VALUES (1,
             'first bundle résumés de l année legacy', 'first bundle
Résumés de l''année
legacy');
         INSERT INTO files(id, archive_id, dir_id, name, size, mtime, extra)
             VALUES (9, 1, 1, 'Résumé Müller.pdf', 1, 1560000000, x'00a48302');",
    )
    .unwrap();
    drop(conn);
    // A version 3 index file beside it: format 1, with accented tokens.
    {
        let fts = rusqlite::Connection::open(dir.path().join("v3.db-fts")).unwrap();
        fts.execute_batch(
            "CREATE VIRTUAL TABLE file_fts USING fts5(
                 tokens, content = '', columnsize = 0, detail = none, tokenize = 'ascii');
             CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO meta VALUES ('format', 1), ('upto', 9);
             INSERT INTO file_fts(rowid, tokens) VALUES (9, 'data old résumé müller pdf');",
        )
        .unwrap();
    }
    let cat = Catalog::open(&path).unwrap();
    assert_eq!(cat.schema_version().unwrap(), SCHEMA_VERSION);
    for q in ["resume muller", "résumé", "RESUME", "Muller pdf"] {
        let hits = cat.search_str(q, Page::default()).unwrap().hits;
        assert_eq!(hits.len(), 1, "{q}");
        assert_eq!(hits[0].path, "/data/Old/Résumé Müller.pdf", "{q}");
    }
    // The run's description: every file of its archive.
    let hits = cat
        .search_str("resumes annee", Page::default())
        .unwrap()
        .hits;
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(cat.check().unwrap().is_sound());
}
