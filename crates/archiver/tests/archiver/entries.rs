//! Sources that are not a directory walk: explicit entries recorded under
//! catalog paths of the caller's, the per-entry hook, run options, the
//! time window.

use std::path::Path;
use std::sync::Arc;

use archiver::catalog::FileEntry;
use archiver::{
    ArchiveOptions, EntryHook, Error, NoObserver, RetrieveOptions, Selection, SourceEntry, Sources,
    Warning, WatchOptions,
};

use crate::{Recorder, Setup};

struct Owner;

impl EntryHook for Owner {
    fn before_record(&self, source: &Path, row: &mut FileEntry) {
        row.owner = Some(format!(
            "owner-of-{}",
            source.file_name().unwrap().to_string_lossy()
        ));
    }
}

#[test]
fn explicit_entries_are_recorded_and_retrieved_under_their_catalog_paths() {
    let s = Setup::local();
    // A Dataverse-like file store: files named by storage id, recorded as
    // <authority>/<identifier>/<storageid>.
    let files = s.path("src/10.5072/FK2ABC");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("17a3b0c-1"), b"first data file").unwrap();
    std::fs::write(files.join("17a3b0c-2"), b"second data file").unwrap();
    let list = vec![
        SourceEntry::new(files.join("17a3b0c-1"), "/doi:10.5072/FK2ABC/17a3b0c-1"),
        SourceEntry::new(files.join("17a3b0c-2"), "/doi:10.5072/FK2ABC/17a3b0c-2"),
        SourceEntry::new(files.join("missing"), "/doi:10.5072/FK2ABC/missing"),
    ];
    let mut cat = s.catalog();
    let rec = Recorder::default();
    let options = ArchiveOptions::default()
        .tags(["dataverse"])
        .run_option("level", "0")
        .entry_hook(Arc::new(Owner));
    let summary = archiver::archive(
        &Sources::Entries(list.clone()),
        &options,
        &s.vault,
        &mut cat,
        &rec,
    )
    .unwrap();
    assert_eq!(summary.files, 2);
    let w = rec.warnings();
    assert!(
        matches!(&w[..], [Warning::Unreadable { path, .. }] if path.ends_with("missing")),
        "{w:?}"
    );
    let c = cat.catalog();
    let run = c
        .run_by_uid(summary.run.as_ref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(run.roots, vec!["/doi:10.5072/FK2ABC"]);
    assert_eq!(run.options["level"], "0");
    let hits = c.where_is("/doi:10.5072/FK2ABC/17a3b0c-2").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].size, 16);
    let (_, row) = c.file(hits[0].id).unwrap().unwrap();
    assert_eq!(row.owner.as_deref(), Some("owner-of-17a3b0c-2"));
    assert!(row.ctime.is_some());

    // Unchanged entries are not archived again.
    let again = archiver::archive(
        &Sources::Entries(list),
        &options,
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    assert_eq!(again.files, 0);

    // Back under the catalog path.
    let plan = archiver::plan_retrieve(
        &Selection::Path("/doi:10.5072/FK2ABC/17a3b0c-1".into()),
        &RetrieveOptions::default(),
        &s.vault,
        &cat,
        &NoObserver,
    )
    .unwrap();
    archiver::retrieve(&plan, &s.path("out"), &s.vault, &mut cat, &NoObserver).unwrap();
    archiver::watch(&s.vault, &mut cat, &WatchOptions::default(), &NoObserver).unwrap();
    assert_eq!(
        std::fs::read(s.path("out/doi:10.5072/FK2ABC/17a3b0c-1")).unwrap(),
        b"first data file"
    );
}

#[test]
fn bad_catalog_paths_are_refused_before_anything_is_stored() {
    let s = Setup::local();
    std::fs::write(s.path("src/f"), b"x").unwrap();
    let mut cat = s.catalog();
    for bad in ["relative/f", "/", "/a//f", "/a/../f", "/a/./f"] {
        let err = archiver::archive(
            &Sources::Entries(vec![SourceEntry::new(s.path("src/f"), bad)]),
            &ArchiveOptions::default(),
            &s.vault,
            &mut cat,
            &NoObserver,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidEntry { .. }), "{bad}: {err}");
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert_eq!(s.archive_count(), 0);
    assert!(cat.catalog().runs().unwrap().is_empty());
}

#[test]
fn a_root_that_does_not_exist_is_named() {
    let s = Setup::local();
    let mut cat = s.catalog();
    let err = archiver::archive(
        &Sources::roots([s.path("nope")]),
        &ArchiveOptions::default(),
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err}");
    assert!(err.to_string().ends_with("nope: cannot archive"), "{err}");
    assert_eq!(s.archive_count(), 0, "nothing touched the store");
}

#[test]
fn the_time_window_selects_by_the_named_field() {
    let s = Setup::local();
    std::fs::write(s.path("src/old.txt"), b"old").unwrap();
    std::fs::write(s.path("src/new.txt"), b"new").unwrap();
    let ten_days = std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 86_400);
    let f = std::fs::File::options()
        .write(true)
        .open(s.path("src/old.txt"))
        .unwrap();
    f.set_modified(ten_days).unwrap();
    drop(f);
    let cat = s.catalog();
    let old_only = ArchiveOptions::default().time_window(
        archiver::bundler::TimeWindow::new(archiver::bundler::TimeField::Mtime).older_than_days(5),
    );
    for sources in [
        Sources::roots([s.path("src")]),
        Sources::Entries(vec![
            SourceEntry::new(s.path("src/old.txt"), "/x/old.txt"),
            SourceEntry::new(s.path("src/new.txt"), "/x/new.txt"),
        ]),
    ] {
        let plan = archiver::plan_archive(&sources, &old_only, &cat, &NoObserver).unwrap();
        let names: Vec<String> = plan
            .entries()
            .iter()
            .filter(|e| e.kind == archiver::bundler::EntryKind::File)
            .map(archiver::bundler::Entry::name_lossy)
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with("old.txt"), "{names:?}");
    }
}
