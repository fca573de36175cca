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
