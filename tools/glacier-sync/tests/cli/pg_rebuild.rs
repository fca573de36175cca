//! A PostgreSQL catalog restored from the vault alone: `catalog rebuild`
//! into an empty database gives the same answers as the catalog the runs
//! wrote, and files are retrieved through it, byte for byte.

use crate::mt::ok;
use crate::pg::{Host, PgDb};
use crate::stderr;

#[test]
fn catalog_rebuild_fills_an_empty_postgres_database_from_the_vault() {
    let lost = PgDb::create("lost");
    let fresh = PgDb::create("rebuilt");
    let tmp = tempfile::tempdir().unwrap();
    let shared = std::fs::canonicalize(tmp.path()).unwrap();
    let tree = shared.join("tree");
    make_tree(&tree);
    let vault = format!("{}/store/main", shared.display());
    let host = Host::new(&shared, "a");
    let t = tree.to_str().unwrap();
    // Two runs, so the rebuild imports two exports.
    ok(&host.run(&[
        "archive",
        t,
        "--vault",
        &vault,
        "--catalog",
        &lost.location,
        "--max-files",
        "8",
    ]));
    std::fs::write(tree.join("lab0/late spectrum.csv"), b"added later\n").unwrap();
    ok(&host.run(&["archive", t, "--vault", &vault, "--catalog", &lost.location]));

    let find = |loc: &str| {
        let out = ok(&host.run(&["--json", "find", "spectrum", "--catalog", loc]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut paths: Vec<String> = v["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("hits in {out}"))
            .iter()
            .map(|h| h["path"].as_str().unwrap().to_owned())
            .collect();
        paths.sort();
        paths
    };
    let before = find(&lost.location);
    assert_eq!(before.len(), 31, "{before:?}");
    // Every entry the runs recorded (the files and their directories).
    let rows = lost.count("SELECT count(*) FROM files");

    // The first catalog is gone; a new host rebuilds into an empty database.
    drop(lost);
    let other = Host::new(&shared, "b");
    let out = other.run(&[
        "catalog",
        "rebuild",
        "--vault",
        &vault,
        "--catalog",
        &fresh.location,
        "--interval",
        "1",
    ]);
    ok(&out);
    let said = stderr(&out);
    assert!(
        said.contains(&format!("imported 2 runs ({rows} files) of 2 exports")),
        "{said}"
    );
    assert_eq!(find(&fresh.location), before);
    assert_eq!(fresh.count("SELECT count(*) FROM files"), rows);

    // A second rebuild imports nothing again.
    let again = other.run(&[
        "catalog",
        "rebuild",
        "--vault",
        &vault,
        "--catalog",
        &fresh.location,
        "--interval",
        "1",
    ]);
    ok(&again);
    assert!(
        stderr(&again).contains("imported 0 runs"),
        "{}",
        stderr(&again)
    );
    assert_eq!(fresh.count("SELECT count(*) FROM files"), rows);

    // A file comes back through the rebuilt catalog (whole bundles: the
    // exports hold no bundle indexes), identical.
    let wanted = tree.join("lab2/run4/spectrum-14.csv");
    let restore = shared.join("restore");
    let out = other.run(&[
        "retrieve",
        "--path",
        wanted.to_str().unwrap(),
        "--to",
        restore.to_str().unwrap(),
        "--vault",
        &vault,
        "--catalog",
        &fresh.location,
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    ok(&out);
    let got = std::fs::read(restore.join(wanted.strip_prefix("/").unwrap())).unwrap();
    assert_eq!(got, std::fs::read(&wanted).unwrap());
}

fn make_tree(tree: &std::path::Path) {
    for i in 0..30 {
        let dir = tree.join(format!("lab{}/run{}", i % 3, i % 5));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("spectrum-{i}.csv")),
            format!("{i},{}\n", i * i).repeat(50 + i),
        )
        .unwrap();
    }
}
