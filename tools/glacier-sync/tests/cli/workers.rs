//! Archive runs shared by many hosts (`archive --workers`, `worker`)
//! against the real PostgreSQL of `scripts/services/postgres`: three
//! worker processes over 50,000 files, one killed with SIGKILL in the
//! middle of a unit, while another host searches; every file ends in the
//! catalog once, and files come back byte for byte.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::mt::ok;
use crate::pg::{Host, PgDb};
use crate::{stderr, stdout};

const DIRS: usize = 100;
const PER_DIR: usize = 500;

fn make_tree(root: &Path) {
    for d in 0..DIRS {
        let dir = root.join(format!("group{:02}/dir{d:03}", d % 10));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..PER_DIR {
            std::fs::write(
                dir.join(format!("file-{f:04}.txt")),
                format!("directory {d} file {f}\n"),
            )
            .unwrap();
        }
    }
}

fn spawn(host: &Host, args: &[&str]) -> Child {
    host.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start glacier-sync")
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one story: plan, three workers, a kill, the checks
fn three_workers_one_killed_mid_unit_record_every_file_once() {
    let db = PgDb::create("workers");
    let tmp = tempfile::tempdir().unwrap();
    let shared = std::fs::canonicalize(tmp.path()).unwrap();
    let tree = shared.join("tree");
    make_tree(&tree);
    let vault = format!("{}/store/main", shared.display());
    let cat = db.location.as_str();
    let coordinator = Host::new(&shared, "coordinator");
    let hosts: Vec<Host> = (0..3)
        .map(|i| Host::new(&shared, &format!("w{i}")))
        .collect();

    // The coordinator only plans and waits (--workers 0).
    let run = spawn(
        &coordinator,
        &[
            "archive",
            tree.to_str().unwrap(),
            "--vault",
            &vault,
            "--catalog",
            cat,
            "--workers",
            "0",
            "--unit-files",
            "2500",
            "--lease",
            "3",
            "--max-files",
            "250",
            "--json",
        ],
    );
    wait_for("the units", Duration::from_secs(60), || {
        db.count("SELECT count(*) FROM pg_tables WHERE tablename = 'work_units'") == 1
            && db.count("SELECT count(*) FROM work_units") > 0
    });
    let units = db.count("SELECT count(*) FROM work_units");
    assert!(units >= 15, "{units} units");

    let mut workers: Vec<Child> = hosts
        .iter()
        .map(|h| spawn(h, &["worker", "--catalog", cat, "-j", "2"]))
        .collect();

    // Another host searches while the workers insert: every answer is a
    // success, and the count of hits never goes down.
    let finder = Host::new(&shared, "finder");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let query = format!("under:{}/group03 file", tree.display());
    let cat2 = cat.to_owned();
    let searches = std::thread::spawn(move || {
        let mut last = 0usize;
        let mut answers = 0;
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let out = finder.run(&[
                "find",
                &query,
                "--catalog",
                &cat2,
                "--json",
                "--limit",
                "10000",
            ]);
            // Exit 1 with no error message: nothing matches yet.
            let hits = stdout(&out).matches("\"path\"").count();
            assert!(
                out.status.success()
                    || (out.status.code() == Some(1) && hits == 0 && stderr(&out).is_empty()),
                "find failed: {:?} {}",
                out.status.code(),
                stderr(&out)
            );
            assert!(hits >= last, "hits went down from {last} to {hits}");
            last = hits;
            answers += 1;
        }
        (answers, last)
    });

    // Worker 0 is killed in the middle of a unit: once it has stored a
    // bundle of the unit it holds.
    let victim = workers[0].id();
    let holds = format!(
        "SELECT count(*) FROM work_units u JOIN archives a \
         ON a.description LIKE 'permafrost-bundle v1 run=' || u.run_uid || ' unit=' || u.unit || ' %' \
         WHERE u.state = 'claimed' AND u.holder LIKE '%:{victim}:%' AND a.state = 'stored'"
    );
    wait_for(
        "worker 0 in the middle of a unit",
        Duration::from_secs(90),
        || db.count(&holds) > 0,
    );
    let killed_unit: i32 = db
        .client()
        .query_one(
            &format!("SELECT unit FROM work_units WHERE holder LIKE '%:{victim}:%'"),
            &[],
        )
        .unwrap()
        .get(0);
    workers[0].kill().unwrap(); // SIGKILL
    workers[0].wait().unwrap();

    let out = run.wait_with_output().unwrap();
    let summary = ok(&out);
    for w in workers.drain(1..) {
        let o = w.wait_with_output().unwrap();
        assert!(o.status.success(), "a worker failed: {}", stderr(&o));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (answers, last_hits) = searches.join().unwrap();
    assert!(answers >= 2, "{answers} searches");
    assert!(last_hits <= 10 * PER_DIR, "{last_hits}");

    // The dead worker's unit was claimed again and finished.
    assert_eq!(
        db.count(&format!(
            "SELECT attempts::BIGINT FROM work_units WHERE unit = {killed_unit}"
        )),
        2,
        "claimed twice"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM work_units WHERE state <> 'done'"),
        0
    );
    // Every file once, each in a stored bundle; the export stored once.
    let files = DIRS * PER_DIR;
    assert_eq!(
        db.count("SELECT count(*) FROM files WHERE name LIKE 'file-%'"),
        i64::try_from(files).unwrap(),
        "{summary}"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM (SELECT dir_id, name FROM files \
             GROUP BY dir_id, name HAVING count(*) > 1) d"
        ),
        0,
        "no path twice"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM files f JOIN archives a ON a.id = f.archive_id \
             WHERE a.state <> 'stored'"
        ),
        0,
        "no file of a bundle not stored"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM archives WHERE description LIKE 'permafrost-catalog v1 %'"),
        0,
        "the export is in the store, not a catalog row"
    );
    assert!(
        summary.contains(&format!("\"files\": {files}")),
        "{summary}"
    );
    assert!(summary.contains("\"catalog_export\""), "{summary}");
    let store = shared.join("store/main");
    let exports = std::fs::read_dir(&store)
        .map(Iterator::count)
        .unwrap_or_default();
    assert!(exports > 0, "the store holds the bundles");

    // Files of several units come back byte for byte, from another host.
    let restore = shared.join("restore");
    let back = Host::new(&shared, "back");
    for d in [0usize, 37, 99] {
        let dir = tree.join(format!("group{:02}/dir{d:03}", d % 10));
        ok(&back.run(&[
            "retrieve",
            &format!("under:{}", dir.display()),
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
        for f in [0usize, 123, PER_DIR - 1] {
            let file = dir.join(format!("file-{f:04}.txt"));
            assert_eq!(
                std::fs::read(restore.join(file.strip_prefix("/").unwrap())).unwrap(),
                std::fs::read(&file).unwrap(),
                "{}",
                file.display()
            );
        }
    }
}

#[test]
fn workers_need_a_postgresql_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = std::fs::canonicalize(tmp.path()).unwrap();
    std::fs::create_dir_all(shared.join("tree")).unwrap();
    let h = Host::new(&shared, "a");
    let out = h.run(&[
        "archive",
        "tree",
        "--workers",
        "2",
        "--catalog",
        "cat.sqlite",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "--workers needs a catalog every worker's host shares: --catalog postgres://"
        ),
        "{}",
        stderr(&out)
    );
    let out = h.run(&["worker", "--catalog", "cat.sqlite"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("postgres://"), "{}", stderr(&out));
}
