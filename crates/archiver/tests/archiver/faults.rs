//! What the flow survives: files that vanish, cannot be read or change
//! while read; symlink loops; a full disk; a store refusing a part; a side
//! file that cannot be written. Each time nothing already stored is lost
//! and the next run completes the job.

use std::sync::atomic::Ordering;

use archiver::glacier_multipart::RetryPolicy;
use archiver::{
    ArchiveOptions, Error, NoObserver, RetrieveOptions, Selection, Sources, Warning, WatchOptions,
};

use crate::{Recorder, Setup, check_consistent, make_tree, noise, under};

fn options() -> ArchiveOptions {
    ArchiveOptions::default()
        .max_files(20)
        .retry(RetryPolicy::quick(3))
}

#[test]
fn files_that_vanish_or_cannot_be_read_are_left_out_and_archived_next_run() {
    let s = Setup::local();
    make_tree(&s.path("src"), 100, false);
    let src = s.src();
    let gone = src.join("finance/Budget 2020.xlsx");
    let turned_dir = src.join("finance/quarterly report draft.txt");
    let rec = Recorder::default();
    {
        let (gone, turned_dir) = (gone.clone(), turned_dir.clone());
        *rec.on_planned.lock().unwrap() = Some(Box::new(move || {
            // Between the walk and the read: one file deleted, one
            // replaced by a directory (unreadable as a file, even as root).
            std::fs::remove_file(&gone).unwrap();
            std::fs::remove_file(&turned_dir).unwrap();
            std::fs::create_dir(&turned_dir).unwrap();
        }));
    }
    let mut cat = s.catalog();
    let sources = Sources::roots([s.path("src")]);
    let summary = archiver::archive(&sources, &options(), &s.vault, &mut cat, &rec).unwrap();
    assert!(summary.run.is_some());
    let left_out: Vec<String> = rec
        .warnings()
        .iter()
        .filter_map(|w| match w {
            Warning::LeftOut { name, .. } => Some(format!("/{name}")),
            _ => None,
        })
        .collect();
    let mut want = vec![gone.display().to_string(), turned_dir.display().to_string()];
    want.sort();
    let mut got = left_out.clone();
    got.sort();
    assert_eq!(got, want, "{:?}", rec.warnings());
    assert!(rec.warnings()[0].to_string().ends_with(", skipped"));
    let c = cat.catalog();
    assert!(c.where_is(&gone.display().to_string()).unwrap().is_empty());
    assert!(
        c.where_is(&turned_dir.display().to_string())
            .unwrap()
            .is_empty()
    );

    // Back as files: the next run archives them.
    std::fs::write(&gone, b"back").unwrap();
    std::fs::remove_dir(&turned_dir).unwrap();
    std::fs::write(&turned_dir, b"back too").unwrap();
    let again = archiver::archive(&sources, &options(), &s.vault, &mut cat, &NoObserver).unwrap();
    assert_eq!(again.files, 2, "{again:?}");
    // Their directory changed too: it has two versions now.
    check_consistent(&s, &src, false);
}

#[test]
fn files_changing_while_read_are_flagged_stored_and_archived_again() {
    let s = Setup::local();
    std::fs::write(s.path("src/shrinks.bin"), noise(3, 100_000)).unwrap();
    std::fs::write(s.path("src/grows.txt"), b"short\n").unwrap();
    std::fs::write(s.path("src/steady.txt"), b"steady\n").unwrap();
    let src = s.src();
    let rec = Recorder::default();
    {
        let src = src.clone();
        *rec.on_planned.lock().unwrap() = Some(Box::new(move || {
            std::fs::write(src.join("shrinks.bin"), noise(3, 10)).unwrap();
            std::fs::write(src.join("grows.txt"), b"much longer than before\n").unwrap();
        }));
    }
    let mut cat = s.catalog();
    let sources = Sources::roots([s.path("src")]);
    archiver::archive(&sources, &options(), &s.vault, &mut cat, &rec).unwrap();
    let changed: Vec<String> = rec
        .warnings()
        .iter()
        .filter_map(|w| match w {
            Warning::Changed { name, message } => Some(format!("{name}: {message}")),
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 2, "{:?}", rec.warnings());
    assert!(
        changed
            .iter()
            .any(|c| c.contains("shrinks.bin") && c.contains("shrank")),
        "{changed:?}"
    );
    assert!(
        changed.iter().any(|c| c.contains("grows.txt")),
        "{changed:?}"
    );
    // Recorded as walked; the next run sees the new sizes and stores them again.
    let again = archiver::archive(&sources, &options(), &s.vault, &mut cat, &NoObserver).unwrap();
    assert_eq!(again.files, 2, "{again:?}");
    // The newest versions come back right.
    let plan = archiver::plan_retrieve(
        &Selection::Path(src.join("grows.txt").display().to_string()),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    archiver::retrieve(&plan, &s.path("out"), &s.vault, &mut cat, &NoObserver).unwrap();
    archiver::watch(&s.vault, &mut cat, &WatchOptions::default(), &NoObserver).unwrap();
    assert_eq!(
        std::fs::read(under(&s.path("out"), &src.join("grows.txt"))).unwrap(),
        b"much longer than before\n"
    );
}

#[test]
fn symlink_loops_are_recorded_as_links_and_restored() {
    let s = Setup::local();
    std::fs::create_dir_all(s.path("src/d")).unwrap();
    std::os::unix::fs::symlink("b", s.path("src/d/a")).unwrap();
    std::os::unix::fs::symlink("a", s.path("src/d/b")).unwrap();
    std::os::unix::fs::symlink("self", s.path("src/d/self")).unwrap();
    std::os::unix::fs::symlink("..", s.path("src/d/up")).unwrap();
    std::fs::write(s.path("src/d/file.txt"), b"x").unwrap();
    let src = s.src();
    let mut cat = s.catalog();
    let rec = Recorder::default();
    archiver::archive(
        &Sources::roots([s.path("src")]),
        &options(),
        &s.vault,
        &mut cat,
        &rec,
    )
    .unwrap();
    assert!(rec.warnings().is_empty(), "{:?}", rec.warnings());
    let hit = &cat
        .catalog()
        .where_is(&src.join("d/self").display().to_string())
        .unwrap()[0];
    let (_, row) = cat.catalog().file(hit.id).unwrap().unwrap();
    assert_eq!(row.symlink.as_deref(), Some("self"));
    let plan = archiver::plan_retrieve(
        &Selection::Query(
            archiver::catalog::query::parse(&format!("under:{}", src.join("d").display())).unwrap(),
        ),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    archiver::retrieve(&plan, &s.path("out"), &s.vault, &mut cat, &NoObserver).unwrap();
    archiver::watch(&s.vault, &mut cat, &WatchOptions::default(), &NoObserver).unwrap();
    let d = under(&s.path("out"), &src.join("d"));
    for (link, target) in [("a", "b"), ("b", "a"), ("self", "self"), ("up", "..")] {
        assert_eq!(
            std::fs::read_link(d.join(link)).unwrap().to_str(),
            Some(target),
            "{link}"
        );
    }
    assert_eq!(std::fs::read(d.join("file.txt")).unwrap(), b"x");
}

#[test]
fn a_full_disk_fails_the_run_and_the_next_run_completes_it() {
    let (s, _, w) = crate::memory_setup(|_| {});
    make_tree(&s.path("src"), 300, false);
    let src = s.src();
    let sources = Sources::roots([s.path("src")]);
    // Full after a few bundles.
    let rec = Recorder::default();
    {
        let w = w.clone();
        *rec.on_planned.lock().unwrap() = Some(Box::new(move || {
            let w = w.clone();
            std::thread::spawn(move || {
                while w.calls.load(Ordering::SeqCst) < 8 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                w.full.store(true, Ordering::SeqCst);
            });
        }));
    }
    let mut cat = s.catalog();
    let err =
        archiver::archive(&sources, &options().jobs(1), &s.vault, &mut cat, &rec).unwrap_err();
    let chain = {
        let mut v = vec![err.to_string()];
        let mut e: &dyn std::error::Error = &err;
        while let Some(src) = e.source() {
            v.push(src.to_string());
            e = src;
        }
        v.join(": ")
    };
    assert!(matches!(err, Error::Bundling { .. }), "{chain}");
    assert!(chain.contains("No space left on device"), "{chain}");
    assert!(
        chain.contains("uploading permafrost-bundle v1 run="),
        "{chain}"
    );
    let stored_before = rec.stored.lock().unwrap().len();
    assert!(stored_before >= 1, "some bundles were stored first");
    // Every file the catalog holds is in a stored archive.
    let c = cat.catalog();
    let run = &c.runs().unwrap()[0];
    assert!(run.ended.is_none(), "the failed run stays open");
    let stored_files: u64 = c
        .archives_of_run(run.id)
        .unwrap()
        .iter()
        .map(|a| {
            if a.info.state == archiver::catalog::ArchiveState::Stored {
                a.files
            } else {
                assert_eq!(a.files, 0, "no files of an unstored archive");
                0
            }
        })
        .sum();
    assert!(stored_files > 0);

    // Space again: the next run closes the first and archives the rest.
    w.full.store(false, Ordering::SeqCst);
    let rec = Recorder::default();
    let again = archiver::archive(&sources, &options(), &s.vault, &mut cat, &rec).unwrap();
    assert!(again.files > 0 && again.files < 303, "{again:?}");
    assert_eq!(again.closed_runs.len(), 1);
    assert!(
        rec.notices()
            .iter()
            .any(|n| n.to_string().starts_with("closing run "))
    );
    check_consistent(&s, &src, true);
}

#[test]
fn a_store_refusing_a_part_fails_the_bundle_and_nothing_is_lost() {
    let (s, mem, _) = crate::memory_setup(|_| {});
    // Bundles of about 3 MiB, sent in 1 MiB parts.
    for i in 0..6 {
        std::fs::write(s.path(&format!("src/big-{i}.bin")), noise(i, 3 << 20)).unwrap();
    }
    let src = s.src();
    let sources = Sources::roots([s.path("src")]);
    let opts = options().max_files(1).part_size(1 << 20).jobs(1);
    // Transient refusals are retried.
    mem.fail_part(1, 2);
    let mut cat = s.catalog();
    let first = archiver::archive(
        &Sources::roots([s.path("src/big-0.bin")]),
        &opts,
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    assert_eq!(first.files, 1);
    assert_eq!(mem.stats().faults_injected, 2);
    // A part refused for good fails its bundle; the others before it stay.
    mem.fail_part(2, 100);
    let err = archiver::archive(&sources, &opts, &s.vault, &mut cat, &NoObserver).unwrap_err();
    assert!(matches!(err, Error::Bundling { .. }), "{err}");
    assert!(err.store_error().is_some(), "{err:?}");
    assert!(
        err.is_retryable(),
        "a server error: worth trying again later"
    );
    // Once the store accepts it again (the refusals left are used up by
    // retries), the next run finishes.
    let mut opts2 = opts.clone();
    opts2.retry = RetryPolicy::quick(200);
    archiver::archive(&sources, &opts2, &s.vault, &mut cat, &NoObserver).unwrap();
    check_consistent(&s, &src, true);
}

#[test]
fn a_side_file_that_cannot_be_written_fails_the_bundle_and_the_next_run_cleans_up() {
    let s = Setup::local();
    make_tree(&s.path("src"), 40, false);
    let src = s.src();
    // The directory of bundle indexes is taken by a file.
    std::fs::write(s.path("catalog.sqlite.indexes"), b"in the way").unwrap();
    let mut cat = s.catalog();
    let sources = Sources::roots([s.path("src")]);
    let err = archiver::archive(&sources, &options(), &s.vault, &mut cat, &NoObserver).unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("catalog.sqlite.indexes"), "{text}");
    // Bundles reached the vault but are not recorded as stored.
    assert!(s.archive_count() > 0);
    std::fs::remove_file(s.path("catalog.sqlite.indexes")).unwrap();
    let rec = Recorder::default();
    archiver::archive(&sources, &options(), &s.vault, &mut cat, &rec).unwrap();
    let n = rec.notices();
    assert!(
        n.iter().any(|n| n
            .to_string()
            .contains("uploaded by an interrupted run, unknown to the catalog")),
        "{n:?}"
    );
    check_consistent(&s, &src, true);
}

/// Throttles the store's next `times` requests at the first "jobs pending"
/// notice of a watch: the store stops answering in the middle of a wait.
struct StopsAnswering {
    rec: Recorder,
    store: std::sync::Arc<archiver::glacier_multipart::MemoryStore>,
    times: u32,
    armed: std::sync::atomic::AtomicBool,
}

impl archiver::Observer for StopsAnswering {
    fn notice(&self, n: &archiver::Notice) {
        if matches!(n, archiver::Notice::JobsPending { .. })
            && self.armed.swap(false, Ordering::SeqCst)
        {
            self.store.throttle(self.times);
        }
        self.rec.notice(n);
    }
    fn warning(&self, w: &Warning) {
        self.rec.warning(w);
    }
}

fn poll_failures(w: &[Warning]) -> Vec<(u32, u32)> {
    w.iter()
        .filter_map(|w| match w {
            Warning::PollFailed { failure, limit, .. } => Some((*failure, *limit)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_store_that_stops_answering_during_a_watch_is_reported_and_polled_again() {
    let mem = std::sync::Arc::new(
        archiver::glacier_multipart::MemoryStore::new()
            .with_job_delay(std::time::Duration::from_millis(500)),
    );
    let s = Setup::with(tempfile::tempdir().unwrap(), mem.clone());
    make_tree(&s.path("src"), 20, false);
    let mut cat = s.catalog();
    archiver::archive(
        &Sources::roots([s.path("src")]),
        &options(),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    let wanted = s.src().join("finance/quarterly report draft.txt");
    let request = |cat: &mut archiver::ArchiveCatalog| {
        let plan = archiver::plan_retrieve(
            &Selection::Query(archiver::catalog::query::parse("quarterly").unwrap()),
            &RetrieveOptions::default(),
            &s.vault,
            cat,
            &NoObserver,
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(s.path("out"));
        archiver::retrieve(&plan, &s.path("out"), &s.vault, cat, &NoObserver).unwrap();
    };
    let watching = |times: u32| StopsAnswering {
        rec: Recorder::default(),
        store: mem.clone(),
        times,
        armed: std::sync::atomic::AtomicBool::new(times > 0),
    };
    // Lets the store answer again: uses up the throttles left.
    let answer_again = || {
        use archiver::glacier_multipart::ArchiveStore as _;
        let tries = (0..10_000)
            .take_while(|_| mem.list_vaults().is_err())
            .count();
        assert!(tries < 10_000);
    };
    let wait = |limit: u32| WatchOptions {
        interval: std::time::Duration::from_millis(50),
        max_failed_polls: limit,
        ..WatchOptions::default()
    };

    // Two polls in a row fail: each is reported, and the third gets the job.
    request(&mut cat);
    let obs = watching(2);
    assert_eq!(
        archiver::watch(&s.vault, &mut cat, &wait(5), &obs).unwrap(),
        archiver::WatchOutcome::Done
    );
    assert_eq!(poll_failures(&obs.rec.warnings()), vec![(1, 5), (2, 5)]);
    let text = obs.rec.warnings()[0].to_string();
    assert!(
        text.starts_with(&format!(
            "waiting for the retrieval jobs of vault {}: ",
            crate::VAULT
        )) && text.contains("polling again in 0 s (failure 1 of 5 in a row)"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(under(&s.path("out"), &wanted)).unwrap(),
        std::fs::read(&wanted).unwrap()
    );

    // It never answers again: the limit ends the wait with the store's error.
    request(&mut cat);
    let obs = watching(1000);
    let err = archiver::watch(&s.vault, &mut cat, &wait(3), &obs).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains(crate::VAULT), "{err}");
    assert_eq!(poll_failures(&obs.rec.warnings()), vec![(1, 3), (2, 3)]);
    answer_again();

    // A store that fails the very first poll fails the watch at once.
    mem.throttle(1000);
    let obs = watching(0);
    let err = archiver::watch(&s.vault, &mut cat, &wait(5), &obs).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(poll_failures(&obs.rec.warnings()).is_empty());
    // Once it answers again, the job left pending is finished.
    answer_again();
    assert_eq!(
        archiver::watch(&s.vault, &mut cat, &wait(5), &NoObserver).unwrap(),
        archiver::WatchOutcome::Done
    );
}
