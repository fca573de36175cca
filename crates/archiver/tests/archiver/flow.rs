//! The main job through the library: plan, archive, find, retrieve whole
//! and ranged, price, rerun incrementally, lose the catalog and rebuild it
//! from the vault, and encryption.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archiver::glacier_multipart::{ArchiveStore, JobRequest, LocalStore, Tier};
use archiver::pricing::{StorageClass, US_EAST_1_2026};
use archiver::{
    ArchiveOptions, Error, NoObserver, Notice, RetrieveOptions, Selection, Sources, Vault,
    WatchOptions, WatchOutcome,
};

use crate::{Recorder, Setup, VAULT, check_consistent, files, make_tree, noise, under};

fn query(text: &str) -> Selection {
    Selection::Query(archiver::catalog::query::parse(text).unwrap())
}

fn find(s: &Setup, text: &str) -> Vec<String> {
    let q = archiver::catalog::query::parse(text).unwrap();
    let page = archiver::catalog::Page::first(10_000);
    s.catalog()
        .catalog()
        .search(&q, page)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.path)
        .collect()
}

/// Archive retrieval jobs the vault saw: (range, output size, archive size).
fn job_outputs(store: &dyn ArchiveStore) -> Vec<(Option<std::ops::Range<u64>>, u64, u64)> {
    store
        .list_jobs(VAULT)
        .unwrap()
        .into_iter()
        .filter_map(|j| match j.request {
            JobRequest::ArchiveRetrieval { range, .. } => Some((
                range,
                j.output_size.unwrap_or(0),
                j.archive_size.unwrap_or(0),
            )),
            _ => None,
        })
        .collect()
}

fn get_back(s: &Setup, selection: &Selection, to: &Path) -> archiver::RetrievePlan {
    let mut cat = s.catalog();
    let plan = archiver::plan_retrieve(
        selection,
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    archiver::retrieve(&plan, to, &s.vault, &mut cat, &NoObserver).unwrap();
    let outcome =
        archiver::watch(&s.vault, &mut cat, &WatchOptions::default(), &NoObserver).unwrap();
    assert_eq!(outcome, WatchOutcome::Done);
    plan
}

#[allow(clippy::too_many_lines)] // one story, step by step
fn main_job(s: &Setup) {
    make_tree(&s.path("src"), 2000, true);
    let src = s.src();
    let sources = Sources::roots([s.path("src")]);
    let options = ArchiveOptions::default()
        .max_files(200)
        .jobs(3)
        .tags(["projects", "legacy"])
        .description("old server");

    // The plan, priced, without a store.
    let mut cat = s.catalog();
    let plan = archiver::plan_archive(&sources, &options, &cat, &NoObserver).unwrap();
    assert_eq!(plan.files(), 2007);
    assert!(plan.bundles() >= 10, "{} bundles", plan.bundles());
    let picture = plan
        .cost_picture(
            &options,
            &US_EAST_1_2026,
            &[StorageClass::GlacierVault, StorageClass::DeepArchive],
        )
        .unwrap();
    assert_eq!(picture.len(), 2);
    for c in &picture {
        assert_eq!(c.bundled.objects, plan.bundles() as u64);
        assert_eq!(c.single.objects, 2007);
        assert!(c.single.upload_requests > 10.0 * c.bundled.upload_requests);
    }
    assert_eq!(s.archive_count(), 0, "planning stores nothing");

    let rec = Recorder::default();
    let summary = archiver::archive(&sources, &options, &s.vault, &mut cat, &rec).unwrap();
    assert_eq!(summary.files, 2007);
    assert_eq!(summary.bundles, plan.bundles());
    assert_eq!(rec.stored.lock().unwrap().len(), plan.bundles());
    assert_eq!(
        s.archive_count(),
        summary.bundles as u64 + 1,
        "bundles and the export"
    );
    let run = summary.run.clone().unwrap();
    let export = format!("{} run={run}", archiver::CATALOG_PREFIX);
    assert!(
        s.inventory()
            .iter()
            .any(|(id, d)| *d == export && Some(id) == summary.catalog_export.as_ref())
    );
    let recorded = cat.catalog().run_by_uid(&run).unwrap().unwrap();
    assert_eq!(recorded.tags, vec!["legacy", "projects"]);
    assert_eq!(recorded.options["max_files"], "200");
    assert_eq!(recorded.options["compress"], "zstd");
    check_consistent(s, &src, true);
    drop(cat);

    // find: a word, a phrase, a negation, a tag.
    let budget = format!("{}/finance/Budget 2019 final.xlsx", src.display());
    let budget20 = format!("{}/finance/Budget 2020.xlsx", src.display());
    assert_eq!(find(s, "budget"), vec![budget.clone(), budget20.clone()]);
    assert_eq!(find(s, "\"budget 2019\""), vec![budget.clone()]);
    assert_eq!(find(s, "budget -final"), vec![budget20.clone()]);
    assert!(find(s, "tag:projects").len() > 2007);

    // Retrieve a directory's files: byte-identical, with their mtimes.
    let plan = get_back(s, &query("finance"), &s.path("out"));
    assert_eq!(plan.files, 4, "three files and the directory");
    assert_eq!(
        files(&under(&s.path("out"), &src.join("finance"))),
        files(&src.join("finance"))
    );

    // One small file behind large ones: only its range is fetched.
    let needle = src.join("zbig/zz-small-needle.txt");
    let before = job_outputs(&*s.store).len();
    let plan = get_back(
        s,
        &Selection::Path(needle.display().to_string()),
        &s.path("out2"),
    );
    let a = &plan.archives[0];
    let (start, end) = a.range.expect("a ranged job");
    assert!(end - start <= 2 << 20 && a.size > 15 << 20, "{a:?}");
    assert_eq!(a.bytes, end - start);
    let outputs = job_outputs(&*s.store);
    assert_eq!(outputs.len(), before + 1);
    let served: Vec<_> = outputs.iter().filter(|o| o.0 == Some(start..end)).collect();
    assert_eq!(served.len(), 1, "{outputs:?}");
    assert!(served[0].1 <= 2 << 20, "{outputs:?}");
    assert_eq!(
        std::fs::read(under(&s.path("out2"), &needle)).unwrap(),
        b"the needle\n"
    );

    // The plan's JSON and price: nothing for a local store, the vault
    // class's estimate beside it.
    let cat = s.catalog();
    let plan = archiver::plan_retrieve(
        &query("tag:projects"),
        &RetrieveOptions::default().tier(Tier::Bulk),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    assert!(plan.local_store);
    assert!(plan.usd.abs() < f64::EPSILON, "{}", plan.usd);
    plan.check_max_cost(Some(0.0)).unwrap();
    let v = serde_json::to_value(&plan).unwrap();
    for field in [
        "files",
        "archives",
        "bytes",
        "requests",
        "tier",
        "local_store",
        "usd",
        "wait_min_s",
        "wait_max_s",
        "glacier_usd",
        "glacier_wait_min_s",
        "glacier_wait_max_s",
        "prices",
    ] {
        assert!(v.get(field).is_some(), "{field} in {v}");
    }
    assert_eq!(v["tier"], "Bulk");
    assert_eq!(v["glacier_wait_max_s"], 12 * 3600);
    assert!(v["archives"][0]["archive_id"].is_string());
    drop(cat);

    // A second run archives only what changed.
    let mut cat = s.catalog();
    let again = archiver::archive(&sources, &options, &s.vault, &mut cat, &NoObserver).unwrap();
    assert_eq!((again.run, again.files, again.bundles), (None, 0, 0));
    assert!(again.unchanged > 2007);
    std::fs::write(src.join("finance/Budget 2020.xlsx"), b"revised").unwrap();
    std::fs::write(src.join("finance/new memo.txt"), b"memo").unwrap();
    let again = archiver::archive(&sources, &options, &s.vault, &mut cat, &NoObserver).unwrap();
    assert_eq!(again.files, 2, "{again:?}");
    // A change of ctime alone (chmod) counts as a change.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::set_permissions(
        src.join("finance/quarterly report draft.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let again = archiver::archive(&sources, &options, &s.vault, &mut cat, &NoObserver).unwrap();
    assert_eq!(again.files, 1, "{again:?}");
    // --all archives everything again.
    let all = archiver::archive(
        &sources,
        &options.clone().all(),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    assert_eq!(all.files, 2008);
    drop(cat);

    // Lose the catalog and its side files; rebuild it from the vault alone.
    let queries = [
        "budget",
        "\"budget 2019\"",
        "budget -final",
        "tag:projects",
        "日本語",
    ];
    let answers: Vec<Vec<String>> = queries.iter().map(|q| find(s, q)).collect();
    for f in [
        "catalog.sqlite",
        "catalog.sqlite-wal",
        "catalog.sqlite-shm",
        "catalog.sqlite-fts",
    ] {
        let _ = std::fs::remove_file(s.path(f));
    }
    std::fs::remove_dir_all(s.path("catalog.sqlite.indexes")).unwrap();
    let mut cat = s.catalog();
    let rebuilt =
        archiver::rebuild_catalog(&s.vault, &mut cat, Duration::from_millis(10), &NoObserver)
            .unwrap();
    assert_eq!(rebuilt.exports, 4);
    assert_eq!(rebuilt.imported_runs, 4);
    drop(cat);
    for (q, a) in queries.iter().zip(&answers) {
        let (mut got, mut a) = (find(s, q), a.clone());
        got.sort();
        a.sort();
        assert_eq!(got, a, "{q}");
    }
    // Rebuilding again imports nothing twice.
    let mut cat = s.catalog();
    let again =
        archiver::rebuild_catalog(&s.vault, &mut cat, Duration::from_millis(10), &NoObserver)
            .unwrap();
    assert_eq!(again.imported_runs, 0);
    drop(cat);
    // A retrieval through the rebuilt catalog fetches whole bundles.
    let plan = get_back(s, &query("\"budget 2019\""), &s.path("out4"));
    assert!(plan.archives.iter().all(|a| a.range.is_none()));
    assert_eq!(
        std::fs::read(under(&s.path("out4"), Path::new(&budget))).unwrap(),
        noise(1, 5000)
    );
}

#[test]
fn main_job_local_store() {
    main_job(&Setup::local());
}

#[test]
fn main_job_memory_store() {
    let (s, _, _) = crate::memory_setup(|_| {});
    main_job(&s);
}

#[test]
fn a_remote_store_is_priced_and_max_cost_refuses() {
    let (s, _, _) = crate::memory_setup(|w| w.location = Some("glacier://test".into()));
    assert_eq!(s.vault.kind, "glacier");
    make_tree(&s.path("src"), 50, false);
    let mut cat = s.catalog();
    archiver::archive(
        &Sources::roots([s.path("src")]),
        &ArchiveOptions::default(),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    let plan = archiver::plan_retrieve(
        &query("budget"),
        &RetrieveOptions::default().tier(Tier::Expedited),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    assert!(!plan.local_store);
    // Expedited: $10 per 1,000 requests, one request.
    assert!((plan.usd - 0.01).abs() < 1e-6, "{}", plan.usd);
    assert_eq!(plan.wait_max_s, 300);
    assert!(plan.exceeds(0.001));
    let err = plan.check_max_cost(Some(0.001)).unwrap_err();
    assert!(matches!(err, Error::CostLimit { .. }), "{err}");
    assert!(err.to_string().contains("nothing requested"), "{err}");
    assert!(s.store.list_jobs(crate::VAULT).unwrap().is_empty());
}

#[test]
fn encrypted_bundles_need_the_identity() {
    let s = Setup::local();
    std::fs::create_dir_all(s.path("src/secret")).unwrap();
    std::fs::write(s.path("src/secret/plans.txt"), b"top secret plans\n").unwrap();
    std::fs::write(s.path("src/secret/more.bin"), noise(5, 100_000)).unwrap();
    let (identity, recipient) = archiver::bundler::generate_x25519();
    let mut cat = s.catalog();
    archiver::archive(
        &Sources::roots([s.path("src")]),
        &ArchiveOptions::default().encrypt_to(recipient.clone()),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    // The bundle in the vault is not readable as zstd or tar.
    let hit = &cat
        .catalog()
        .search_str("plans", archiver::catalog::Page::default())
        .unwrap()
        .hits[0];
    let a = cat.catalog().archive(hit.archive).unwrap().unwrap();
    assert_eq!(a.info.recipients, vec![recipient]);
    let plan = archiver::plan_retrieve(
        &query("plans"),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    assert!(plan.archives[0].range.is_none(), "encrypted: whole bundles");
    archiver::retrieve(&plan, &s.path("out"), &s.vault, &mut cat, &NoObserver).unwrap();
    let err =
        archiver::watch(&s.vault, &mut cat, &WatchOptions::default(), &NoObserver).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Extract {
                identity_given: false,
                ..
            }
        ),
        "{err}"
    );
    let plans = under(&s.path("out"), &s.src().join("secret/plans.txt"));
    assert!(!plans.exists(), "nothing extracted without the key");
    // With the identity the same job completes.
    let options = WatchOptions {
        decryption: Some(archiver::bundler::Decryption::identity_file(&identity).unwrap()),
        ..WatchOptions::default()
    };
    let rec = Recorder::default();
    assert_eq!(
        archiver::watch(&s.vault, &mut cat, &options, &rec).unwrap(),
        WatchOutcome::Done
    );
    assert_eq!(std::fs::read(plans).unwrap(), b"top secret plans\n");
    assert!(
        rec.notices()
            .iter()
            .any(|n| matches!(n, Notice::JobExtracted { files: 1, .. })),
        "{:?}",
        rec.notices()
    );
}

#[test]
fn slow_jobs_are_watched_through_and_once_reports_pending() {
    let tmp = tempfile::tempdir().unwrap();
    let store: Arc<dyn ArchiveStore> = Arc::new(
        LocalStore::open(tmp.path().join("store"))
            .unwrap()
            .with_job_delay(Duration::from_millis(600)),
    );
    let s = Setup::with(tmp, store);
    make_tree(&s.path("src"), 30, false);
    let mut cat = s.catalog();
    archiver::archive(
        &Sources::roots([s.path("src")]),
        &ArchiveOptions::default(),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    let plan = archiver::plan_retrieve(
        &query("quarterly"),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    archiver::retrieve(&plan, &s.path("out"), &s.vault, &mut cat, &NoObserver).unwrap();
    let once = WatchOptions {
        once: true,
        ..WatchOptions::default()
    };
    let rec = Recorder::default();
    assert_eq!(
        archiver::watch(&s.vault, &mut cat, &once, &rec).unwrap(),
        WatchOutcome::Pending(1)
    );
    assert!(
        rec.notices()
            .contains(&Notice::JobsStillPending { pending: 1 })
    );
    let wait = WatchOptions {
        interval: Duration::from_millis(100),
        ..WatchOptions::default()
    };
    assert_eq!(
        archiver::watch(&s.vault, &mut cat, &wait, &NoObserver).unwrap(),
        WatchOutcome::Done
    );
    let got = under(
        &s.path("out"),
        &s.src().join("finance/quarterly report draft.txt"),
    );
    assert_eq!(std::fs::read(got).unwrap(), b"draft\n");
}

#[test]
fn files_in_another_vault_are_left_out_with_a_warning() {
    let s = Setup::local();
    make_tree(&s.path("src"), 10, false);
    let mut cat = s.catalog();
    archiver::archive(
        &Sources::roots([s.path("src")]),
        &ArchiveOptions::default(),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    s.store.create_vault("other").unwrap();
    let other = Vault::new(s.store.clone(), "other");
    let rec = Recorder::default();
    let plan = archiver::plan_retrieve(
        &query("budget"),
        &RetrieveOptions::default(),
        &other,
        &cat,
        &rec,
    )
    .unwrap();
    // Nothing of it in this vault: an empty plan, and each file named.
    assert_eq!((plan.files, plan.requests), (0, 0));
    let w = rec.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].to_string().contains("in vault v, not other"),
        "{}",
        w[0]
    );
    let err = archiver::plan_retrieve(
        &Selection::Path("/no/such/file".into()),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "/no/such/file: not in the catalog");
    let err = archiver::plan_retrieve(
        &query("nomatchatall"),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NothingMatches), "{err}");
}
