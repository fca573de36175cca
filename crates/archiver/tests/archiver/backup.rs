//! Backup sets: FULL and incremental levels, tombstones, cycles, the lock,
//! a killed run completed by the next, and the list's costs and dates.

use std::path::Path;
use std::sync::Arc;

use archiver::backup::{self, BackupError, Clock as _, FakeClock, RunOptions, SetConfig, Spec};
use archiver::glacier_multipart::LocalStore;
use archiver::{ArchiveCatalog, NoObserver, Vault};

const T0: i64 = 1_796_000_000;

fn setup(dir: &Path, max_level: u32) -> (Vault, ArchiveCatalog, FakeClock) {
    let store = Arc::new(LocalStore::open(dir.join("store")).unwrap());
    let vault = Vault::new(store, super::VAULT);
    let mut catalog = ArchiveCatalog::open(dir.join("catalog.sqlite")).unwrap();
    let clock = FakeClock::new(T0);
    let spec: Spec = serde_json::from_str(&format!(
        r#"{{"includes": ["{}"], "excludes": ["*.tmp", "cache"]}}"#,
        dir.join("tree").display()
    ))
    .unwrap();
    let config = SetConfig {
        name: "home".into(),
        vault: "file:///x".into(),
        spec,
        max_level,
        cap: None,
        min_keep_cycles: 1,
        encrypt_to: Vec::new(),
    };
    backup::init(&config, &mut catalog, &clock).unwrap();
    assert!(matches!(
        backup::init(&config, &mut catalog, &clock),
        Err(BackupError::Exists(_))
    ));
    (vault, catalog, clock)
}

fn opts() -> RunOptions {
    RunOptions {
        full: false,
        archive: archiver::ArchiveOptions::default().jobs(1),
    }
}

#[test]
fn levels_tombstones_and_cycles() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("docs")).unwrap();
    std::fs::create_dir_all(tree.join("cache")).unwrap();
    std::fs::write(tree.join("docs/a.txt"), b"alpha").unwrap();
    std::fs::write(tree.join("docs/b.txt"), b"beta").unwrap();
    std::fs::write(tree.join("x.tmp"), b"scratch").unwrap();
    std::fs::write(tree.join("cache/c"), b"cached").unwrap();
    let (vault, mut catalog, clock) = setup(tmp.path(), 2);

    let r0 = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!((r0.cycle, r0.level, r0.files), (1, 0, 2), "{r0:?}");
    assert!(r0.deleted.is_empty());
    let run = catalog
        .catalog()
        .run_by_uid(r0.run.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert!(
        run.tags.contains(&"backup:home".to_owned()),
        "{:?}",
        run.tags
    );
    assert!(run.tags.contains(&"level:0".to_owned()));

    // Nothing changed: an incremental storing nothing.
    clock.advance(3600);
    let r1 = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!((r1.cycle, r1.level, r1.files), (1, 1, 0), "{r1:?}");

    // Modify, add, delete.
    clock.advance(3600);
    std::fs::write(tree.join("docs/a.txt"), b"alpha, longer").unwrap();
    std::fs::write(tree.join("docs/new.txt"), b"new").unwrap();
    std::fs::remove_file(tree.join("docs/b.txt")).unwrap();
    let r2 = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!((r2.cycle, r2.level, r2.files), (1, 2, 2), "{r2:?}");
    let b = tree.join("docs/b.txt").to_string_lossy().into_owned();
    assert_eq!(r2.deleted, vec![b]);
    assert!(r2.closed_cycle, "level 2 is the last of max-level 2");

    // The next run starts cycle 2 with a FULL of what exists now.
    clock.advance(3600);
    let r3 = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!((r3.cycle, r3.level, r3.files), (2, 0, 2), "{r3:?}");
    // --full forces a new cycle.
    let full = RunOptions {
        full: true,
        ..opts()
    };
    let r4 = backup::run("home", &full, &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!((r4.cycle, r4.level), (3, 0));

    let list = backup::list("home", &vault, &catalog).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].levels.len(), 3);
    assert_eq!(list[0].files, 4);
    assert!(list[0].closed.is_some());
    assert!(list[0].stored_bytes > 0);
    assert!(list[0].monthly_cost > 0.0);
    // A local store has no minimum duration: free to delete once written.
    assert_eq!(list[0].free_deletion, T0 + 2 * 3600);
    assert_eq!(list[0].levels[2].deleted, 1);
}

#[test]
fn lock_and_killed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a"), b"a").unwrap();
    let (vault, mut catalog, clock) = setup(tmp.path(), 7);

    // Another process holds the set's lock.
    let lock = tmp.path().join("catalog.sqlite.backup-home.lock");
    let held = std::fs::File::create(&lock).unwrap();
    held.lock().unwrap();
    let err = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap_err();
    assert!(matches!(err, BackupError::Locked { .. }), "{err}");
    drop(held);

    // A run killed after beginning its level: the next run completes it.
    let set = catalog.catalog().backup_set("home").unwrap().unwrap();
    catalog
        .catalog_mut()
        .begin_backup_level(set.id, 1, 0, clock.now())
        .unwrap();
    let r = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert!(r.resumed);
    assert_eq!((r.cycle, r.level, r.files), (1, 0, 1));
    let r = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert!(!r.resumed);
    assert_eq!((r.cycle, r.level), (1, 1));
    assert!(matches!(
        backup::run("nope", &opts(), &vault, &mut catalog, &clock, &NoObserver),
        Err(BackupError::NoSet(_))
    ));
}

/// Every entry under `root`: relative path -> file contents (`None` for a
/// directory).
fn snapshot(root: &Path) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// A change to the tree.
type Step = Box<dyn Fn(&Path)>;

#[test]
fn restore_as_of_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("docs/old")).unwrap();
    std::fs::write(tree.join("docs/a.txt"), b"alpha").unwrap();
    std::fs::write(tree.join("docs/old/1.txt"), b"one").unwrap();
    std::fs::write(tree.join("docs/old/2.txt"), b"two").unwrap();
    std::fs::write(tree.join("keep.bin"), super::noise(7, 3000)).unwrap();
    let set_mtime = |p: &Path, secs: u64| {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    set_mtime(&tree.join("keep.bin"), 1_500_000_000);
    let (vault, mut catalog, clock) = setup(tmp.path(), 3);

    // Each step changes the tree, then a run; the snapshot is kept.
    let steps: Vec<Step> = vec![
        Box::new(|_| {}),
        // Add and modify (a new size; the same size and a new mtime).
        Box::new(move |t| {
            std::fs::write(t.join("docs/b.txt"), b"beta").unwrap();
            std::fs::write(t.join("docs/a.txt"), b"alpha two").unwrap();
            std::fs::write(t.join("keep.bin"), super::noise(8, 3000)).unwrap();
            set_mtime(&t.join("keep.bin"), 1_500_000_100);
        }),
        // Delete and rename; keep.bin put back as it was first (content
        // and mtime, as `cp -p` from an old copy does): its newest stored
        // version differs, so it is stored again.
        Box::new(move |t| {
            std::fs::remove_file(t.join("docs/b.txt")).unwrap();
            std::fs::rename(t.join("docs/a.txt"), t.join("docs/renamed.txt")).unwrap();
            std::fs::write(t.join("keep.bin"), super::noise(7, 3000)).unwrap();
            set_mtime(&t.join("keep.bin"), 1_500_000_000);
        }),
        // A directory replaced by a file.
        Box::new(|t| {
            std::fs::remove_dir_all(t.join("docs/old")).unwrap();
            std::fs::write(t.join("docs/old"), b"now a file").unwrap();
        }),
        // A new cycle (max level 3): a FULL, then a file replaced by a
        // directory again.
        Box::new(|t| std::fs::write(t.join("docs/c.txt"), b"gamma").unwrap()),
        Box::new(|t| {
            // The directory gets the mtime of the file it replaces (as one
            // made within the same second would): the kind tells them
            // apart.
            let was = std::fs::metadata(t.join("docs/old"))
                .unwrap()
                .modified()
                .unwrap();
            std::fs::remove_file(t.join("docs/old")).unwrap();
            std::fs::create_dir_all(t.join("docs/old")).unwrap();
            std::fs::write(t.join("docs/old/3.txt"), b"three").unwrap();
            std::fs::File::open(t.join("docs/old"))
                .unwrap()
                .set_modified(was)
                .unwrap();
        }),
    ];
    let mut points = Vec::new();
    for step in &steps {
        step(&tree);
        clock.advance(3600);
        let r = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
        points.push((clock.now(), r.cycle, r.level, snapshot(&tree)));
    }
    assert_eq!(points[4].1, 2, "the fifth run starts cycle 2");

    let abs = std::fs::canonicalize(&tree).unwrap();
    for (i, (at, cycle, level, snap)) in points.iter().enumerate() {
        // As of a moment after the run (and before the next one).
        let (point, plan) = archiver::plan_restore(
            "home",
            at + 60,
            &[],
            &archiver::RetrieveOptions::default(),
            &vault,
            &catalog,
            &NoObserver,
        )
        .unwrap();
        assert_eq!((point.cycle, point.level), (*cycle, *level), "run {i}");
        assert!(point.missing.is_empty(), "run {i}: {:?}", point.missing);
        let out = tmp.path().join(format!("restore{i}"));
        archiver::restore(&plan, &out, &vault, &mut catalog, &NoObserver).unwrap();
        let back = snapshot(&out.join(abs.strip_prefix("/").unwrap()));
        assert_eq!(&back, snap, "restore as of run {i}");
    }

    // Only some paths; before the first run: refused.
    let (_, plan) = archiver::plan_restore(
        "home",
        points[1].0,
        &[abs.join("docs/b.txt").display().to_string()],
        &archiver::RetrieveOptions::default(),
        &vault,
        &catalog,
        &NoObserver,
    )
    .unwrap();
    assert_eq!(plan.files, 1);
    assert!(matches!(
        archiver::plan_restore(
            "home",
            T0,
            &[],
            &archiver::RetrieveOptions::default(),
            &vault,
            &catalog,
            &NoObserver
        ),
        Err(BackupError::NothingAsOf { .. })
    ));
}

#[test]
fn prune_at_the_cap_and_the_minimum_duration() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    // Priced as a remote Glacier vault: a 90-day minimum.
    let mut wrapped = super::Wrapped::new(Arc::new(
        LocalStore::open(tmp.path().join("store")).unwrap(),
    ));
    wrapped.location = Some("glacier://test".into());
    let vault = Vault::new(Arc::new(wrapped), super::VAULT);
    let mut catalog = ArchiveCatalog::open(tmp.path().join("catalog.sqlite")).unwrap();
    let clock = FakeClock::new(T0);
    let config = SetConfig {
        name: "home".into(),
        vault: "glacier://test".into(),
        spec: Spec {
            includes: vec![tree.clone()],
            excludes: Vec::new(),
        },
        max_level: 0,
        cap: None,
        min_keep_cycles: 1,
        encrypt_to: Vec::new(),
    };
    backup::init(&config, &mut catalog, &clock).unwrap();
    // Four cycles (max level 0: every run a FULL closing its cycle), a day
    // apart.
    for i in 0..4u64 {
        std::fs::write(tree.join(format!("f{i}")), super::noise(i, 20_000)).unwrap();
        backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
        clock.advance(86_400);
    }
    let cycles = backup::list("home", &vault, &catalog).unwrap();
    assert_eq!(cycles.len(), 4);
    let total: u64 = cycles.iter().map(|c| c.stored_bytes).sum();
    let s1 = cycles[0].stored_bytes;
    let free1 = cycles[0].free_deletion;
    assert_eq!(free1, cycles[0].levels[0].ended.unwrap() + 90 * 86_400);
    let prune = |cap: u64, force: bool, dry_run: bool, catalog: &mut ArchiveCatalog| {
        archiver::prune(
            "home",
            &archiver::PruneOptions {
                cap: Some(cap),
                force,
                dry_run,
            },
            &vault,
            catalog,
            &clock,
        )
        .unwrap()
    };

    // At the cap: nothing to do.
    let o = prune(total, false, false, &mut catalog);
    assert!(o.deleted.is_empty() && o.kept_for_minimum.is_none());
    // One byte under: cycle 1 would go, but it is inside its 90 days.
    let o = prune(total - 1, false, false, &mut catalog);
    assert!(o.deleted.is_empty());
    let kept = o.kept_for_minimum.unwrap();
    assert_eq!(kept.cycle, 1);
    assert!(kept.early_deletion_usd > 0.0);
    // One second before its free date: still kept; at it: deleted (dry
    // run first: nothing changes).
    clock.set(free1 - 1);
    assert!(
        prune(total - s1, false, false, &mut catalog)
            .deleted
            .is_empty()
    );
    clock.set(free1);
    let o = prune(total - s1, false, true, &mut catalog);
    assert_eq!(o.deleted.len(), 1);
    assert_eq!(o.archives_deleted, 0);
    assert_eq!(
        backup::list("home", &vault, &catalog).unwrap()[0].pruned,
        None
    );
    let o = prune(total - s1, false, false, &mut catalog);
    assert_eq!(o.deleted.iter().map(|c| c.cycle).collect::<Vec<_>>(), [1]);
    assert_eq!(o.stored_after, total - s1, "exactly at the cap: stop");
    assert!(o.archives_deleted >= 1);

    // Cap 0 with --force: everything but the newest closed cycle, the
    // early-deletion charges shown.
    let o = prune(0, true, false, &mut catalog);
    assert_eq!(
        o.deleted.iter().map(|c| c.cycle).collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(o.deleted.iter().all(|c| c.early_deletion_usd > 0.0));
    let list = backup::list("home", &vault, &catalog).unwrap();
    assert_eq!(
        list.iter().map(|c| c.pruned.is_some()).collect::<Vec<_>>(),
        [true, true, true, false]
    );
    // The files' rows are kept, marked deleted.
    let f0 = std::fs::canonicalize(tree.join("f0")).unwrap();
    let hits = catalog
        .catalog()
        .where_is(&f0.display().to_string())
        .unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .filter(|h| h.state == archiver::catalog::ArchiveState::Stored)
            .count()
            == 1,
        "only cycle 4's copy is left: {hits:?}"
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one reconcile story, told in order
fn reconcile_with_an_extra_and_a_missing_archive() {
    use archiver::{InventoryRequest, ReconcileOptions, Unknown};
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a"), b"alpha").unwrap();
    let (vault, mut catalog, clock) = setup(tmp.path(), 7);
    let inventory_now = || match archiver::request_inventory(&vault, None).unwrap() {
        InventoryRequest::Ready(inventory) => inventory,
        InventoryRequest::Pending(job) => panic!("a local store answers at once, not job {job}"),
    };
    let put_stray = |description: &str| {
        let data = b"not ours";
        vault
            .store
            .upload_archive(
                &vault.name,
                description,
                data,
                glacier_treehash::tree_hash(data),
            )
            .unwrap()
            .archive_id
    };
    backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    clock.advance(3600);
    std::fs::write(tree.join("b"), b"beta").unwrap();
    let r1 = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!((r1.level, r1.files), (1, 1));

    // Level 1's bundle goes behind the catalog's back; a stray archive
    // appears.
    let run = catalog
        .catalog()
        .run_by_uid(r1.run.as_deref().unwrap())
        .unwrap()
        .unwrap();
    let bundle = catalog
        .catalog()
        .archives_of_run(run.id)
        .unwrap()
        .into_iter()
        .find(|a| a.info.description.starts_with(archiver::BUNDLE_PREFIX))
        .unwrap();
    let gone = bundle.info.remote_id.clone().unwrap();
    vault.store.delete_archive(&vault.name, &gone).unwrap();
    let stray = put_stray("permafrost-bundle v1 run=stray-run seq=0");

    let inventory = inventory_now();

    // A dry run reports and changes nothing.
    let dry = ReconcileOptions {
        unknown: Unknown::Adopt,
        dry_run: true,
    };
    let o = archiver::reconcile("home", &inventory, &dry, &vault, &mut catalog).unwrap();
    assert_eq!(o.missing.len(), 1, "{o:?}");
    assert_eq!(o.missing[0].archive_id, gone);
    assert_eq!((o.missing[0].cycle, o.missing[0].level), (1, 1));
    assert_eq!(o.unknown.len(), 1, "{o:?}");
    assert_eq!(o.unknown[0].archive_id, stray);
    assert!(!o.is_clean());
    let state = |c: &ArchiveCatalog| c.catalog().archive(bundle.key).unwrap().unwrap();
    assert_eq!(
        state(&catalog).info.state,
        archiver::catalog::ArchiveState::Stored
    );

    // An inventory older than the archive: the archive is kept as it is.
    let mut old = inventory.clone();
    old.inventory_date = std::time::UNIX_EPOCH;
    let o = archiver::reconcile("home", &old, &dry, &vault, &mut catalog).unwrap();
    assert!(o.missing.is_empty(), "{o:?}");
    assert_eq!(o.newer_than_inventory, vec![gone.clone()]);

    // For real: the missing archive is marked, its row kept; the stray
    // one adopted.
    let adopt = ReconcileOptions {
        unknown: Unknown::Adopt,
        dry_run: false,
    };
    let o = archiver::reconcile("home", &inventory, &adopt, &vault, &mut catalog).unwrap();
    assert_eq!(o.missing.len(), 1);
    let row = state(&catalog);
    assert_eq!(row.info.state, archiver::catalog::ArchiveState::Missing);
    assert!(
        row.info.tags.contains(&archiver::MISSING_TAG.to_owned()),
        "{row:?}"
    );
    assert_eq!(row.files, 1, "the rows of its files are kept");
    let adopted = catalog.catalog().run_by_uid("stray-run").unwrap().unwrap();
    let a = catalog.catalog().archives_of_run(adopted.id).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].info.remote_id.as_deref(), Some(stray.as_str()));
    assert!(a[0].info.tags.contains(&archiver::ADOPTED_TAG.to_owned()));

    // Now they agree.
    let o = archiver::reconcile("home", &inventory, &adopt, &vault, &mut catalog).unwrap();
    assert!(o.is_clean(), "{o:?}");
    assert_eq!(o.present, 1, "level 0's bundle: {o:?}");

    // The next run stores the missing archive's file again.
    clock.advance(3600);
    let r2 = backup::run("home", &opts(), &vault, &mut catalog, &clock, &NoObserver).unwrap();
    assert_eq!(r2.files, 1, "{r2:?}");

    // Delete: a second stray archive is deleted from the store.
    let stray2 = put_stray("stray");
    let inventory = inventory_now();
    let delete = ReconcileOptions {
        unknown: Unknown::Delete,
        dry_run: false,
    };
    let o = archiver::reconcile("home", &inventory, &delete, &vault, &mut catalog).unwrap();
    assert_eq!(o.unknown.len(), 1);
    assert_eq!(o.unknown[0].archive_id, stray2);
    let after = inventory_now();
    assert!(after.archives.iter().all(|a| a.archive_id != stray2));
}
