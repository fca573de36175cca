//! A database of the tape-op before the catalog (the fixture under
//! `fixtures/v1`, made by that tape-op with `make.sh`) migrated on first
//! open, wherever the database file is given.

use std::path::Path;

use crate::Env;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tape_op/fixtures/v1");

/// The fixture's configuration and tapes in a temp dir, its database
/// written from the dump to `db` (relative to the temp dir).
fn v1_env(db: &str) -> Env {
    let env = Env::new("block_size = 2048\nbuffer_size = 65536\nfile_tape_capacity = 60000\n");
    std::fs::create_dir_all(env.path("tapes")).unwrap();
    for t in ["T1", "T2"] {
        std::fs::copy(
            Path::new(FIXTURE).join(format!("tapes/{t}.tap")),
            env.path(&format!("tapes/{t}.tap")),
        )
        .unwrap();
    }
    let path = env.path(db);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let sql = std::fs::read_to_string(Path::new(FIXTURE).join("catalogue.sql")).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&sql).unwrap();
    drop(conn);
    env
}

/// The first command migrates; the old file stays beside the new one
/// under `.tape-op-v1.bak`, byte for byte; tapes, backups and files are
/// all there afterwards, and a second open migrates nothing.
fn migrates(env: &Env, db: &str) {
    let before = std::fs::read(env.path(db)).unwrap();
    let out = env.ok(&["--database", db, "tapes"], 0);
    assert!(
        out.contains("migrated the tape-op database") && out.contains(".tape-op-v1.bak"),
        "{out}"
    );
    assert!(!out.contains("positions may be off"), "{out}");
    let bak = env.path(&format!("{db}.tape-op-v1.bak"));
    assert_eq!(
        std::fs::read(&bak).unwrap(),
        before,
        "the old file is kept as it was"
    );
    let t1 = out.lines().find(|l| l.contains("T1")).unwrap_or_default();
    let t2 = out.lines().find(|l| l.contains("T2")).unwrap_or_default();
    assert!(t1.contains("S1") && t1.contains("full"), "{out}");
    assert!(t2.contains("S2") && t2.contains("open"), "{out}");

    // Opened again: a catalog now, nothing migrated twice.
    let again = env.ok(&["--database", db, "tapes"], 0);
    assert!(!again.contains("migrated"), "{again}");

    // Relative target names were relative to where the old tape-op ran:
    // taken as the database's directory.
    let base = env.path(db).parent().unwrap().to_owned();
    let d1 = base.join("d1").display().to_string();
    let detail = env.ok(&["--database", db, "tape-detail", "T1"], 0);
    assert!(
        detail.contains("confirmed     0         11776  d1"),
        "{detail}"
    );
    assert!(
        detail.contains("d2 (continues on the next tape)"),
        "{detail}"
    );
    let detail = env.ok(&["--database", db, "tape-detail", "T2"], 0);
    assert!(
        detail.contains("recorded") && detail.contains("d2"),
        "{detail}"
    );
    let status = env.ok(&["--database", db, "status", "T2"], 0);
    assert!(
        status.contains("assigned"),
        "d3 is assigned to T2: {status}"
    );

    let hits = env.ok(&["--database", db, "where-is", "*.txt"], 0);
    for f in ["report-2019.txt", "name with space.txt", "small.txt"] {
        assert!(hits.contains(f), "{f}: {hits}");
    }
    assert!(
        hits.contains("report-2019.txt\ttape T1 file 1 (part 0, confirmed)"),
        "{hits}"
    );

    // The members' positions came through: a catalog search restores from
    // them, checksums verified (d2 spans both tapes).
    env.ok(
        &[
            "--database",
            db,
            "restore",
            "--query",
            "report",
            "--to",
            "q",
        ],
        0,
    );
    let rel = |root: &str, f: &str| env.path(&format!("q/{}/{f}", root.trim_start_matches('/')));
    assert_eq!(
        std::fs::read(rel(&d1, "report-2019.txt")).unwrap(),
        b"alpha budget 2019\n"
    );
    env.ok(&["--database", db, "restore", "d2", "--to", "all"], 0);
    // A target comes back as its own tree.
    assert_eq!(
        std::fs::metadata(env.path("all/big.bin")).unwrap().len(),
        40_000
    );
    assert_eq!(
        std::fs::read(env.path("all/small.txt")).unwrap(),
        b"small\n"
    );
    env.ok(
        &[
            "--database",
            db,
            "confirm",
            "--all",
            "--retry",
            "--no-db-update",
        ],
        0,
    );
}

/// `--database tape.db`: a bare file name, whose parent is "".
#[test]
fn a_v1_database_given_as_a_bare_file_name_is_migrated() {
    let env = v1_env("tape.db");
    migrates(&env, "tape.db");
}

#[test]
fn a_v1_database_in_a_subdirectory_is_migrated() {
    let env = v1_env("db/catalogue.sqlite");
    migrates(&env, "db/catalogue.sqlite");
}

/// A migration that cannot finish leaves the old database as it was.
#[test]
fn a_backup_file_in_the_way_stops_the_migration_leaving_the_database_alone() {
    let env = v1_env("tape.db");
    std::fs::write(env.path("tape.db.tape-op-v1.bak"), b"in the way").unwrap();
    let before = std::fs::read(env.path("tape.db")).unwrap();
    let out = env.ok(&["--database", "tape.db", "tapes"], 1);
    assert!(out.contains("exists already"), "{out}");
    assert_eq!(std::fs::read(env.path("tape.db")).unwrap(), before);
}
