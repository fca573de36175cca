//! Everything stored comes back: runs, archives, files, jobs, ACLs; deletes cascade.

use catalog::{
    AclEntry, ArchiveState, Catalog, FileAcl, FileEntry, FileId, JobState, MemberLocation,
    PackedRange, Page, RetrievalJob,
};

use crate::support::fixture;

each_backend! {
    #[allow(clippy::too_many_lines)] // one catalog, every kind of record
    fn runs_archives_and_files_round_trip(db) {
        let f = fixture(db.open());
        let mut cat = f.cat;
        let run = cat.run(f.run1).unwrap().unwrap();
        assert_eq!(run.uid, "run-one");
        assert_eq!(run.tags, vec!["finance".to_owned()]);
        assert_eq!(run.files, 4);
        assert_eq!(run.bytes, 2 * (1 << 20) + 5 * (1 << 20) + 20 * 1024 + 10);
        assert_eq!(run.ended, None);
        cat.finish_run(f.run1, 5000).unwrap();
        assert_eq!(cat.run(f.run1).unwrap().unwrap().ended, Some(5000));
        assert_eq!(cat.run_by_uid("run-two").unwrap().unwrap().id, f.run2);
        assert_eq!(cat.runs().unwrap().len(), 2);

        let a = cat.archive(f.a2).unwrap().unwrap();
        assert_eq!(a.info.remote_id.as_deref(), Some("REMOTE-A2"));
        assert_eq!(a.info.tree_hash.as_deref(), Some("ab12"));
        assert_eq!(a.info.stored_size, Some(1234));
        assert_eq!(a.info.state, ArchiveState::Stored);
        assert_eq!(a.files, 4);
        assert_eq!(a.seq, 0);
        cat.set_archive_state(f.a2, ArchiveState::Deleted).unwrap();
        assert_eq!(
            cat.archive(f.a2).unwrap().unwrap().info.state,
            ArchiveState::Deleted
        );

        let full = FileEntry {
            path: "/x/y/link".into(),
            size: 7,
            mtime: -5,
            atime: Some(10),
            ctime: Some(-1),
            mode: 0o120_777,
            uid: Some(4242),
            gid: Some(77),
            owner: Some("bob".into()),
            group: Some("lab".into()),
            sha256: Some([9; 32]),
            symlink: Some("../target".into()),
            member: Some(MemberLocation {
                index: 3,
                offset: 1536,
                packed: Some(PackedRange {
                    start: 100,
                    end: 900,
                    origin: 1024,
                }),
            }),
            acls: vec![
                FileAcl {
                    format: "posix".into(),
                    value: Some(vec![2, 0, 0, 0, 1, 0, 6, 0]),
                    default_value: Some(vec![2, 0, 0, 0]),
                    entries: vec![AclEntry {
                        principal: "uid:1001".into(),
                        allow: true,
                        rights: 6,
                        kind: "allow".into(),
                        name: Some("bob".into()),
                        text: "ALLOW bob rw-".into(),
                        ..AclEntry::default()
                    }],
                    ..FileAcl::default()
                },
                FileAcl {
                    format: "nt".into(),
                    value: Some(vec![1, 0, 4, 0x80]),
                    owner: Some("sid:S-1-5-21-1-2-3-1001".into()),
                    owner_name: Some("alice".into()),
                    entries: vec![
                        AclEntry {
                            principal: "sid:S-1-5-21-1-2-3-1002".into(),
                            allow: false,
                            rights: 0x0012_00a9,
                            kind: "deny".into(),
                            flags: 0x10,
                            name: Some("carol".into()),
                            text: "DENY carol READ [INHERITED]".into(),
                        },
                        AclEntry {
                            principal: "sid:S-1-1-0".into(),
                            allow: true,
                            rights: 0x0012_00a9,
                            kind: "allow".into(),
                            name: Some("Everyone".into()),
                            text: "ALLOW Everyone READ".into(),
                            ..AclEntry::default()
                        },
                    ],
                    ..FileAcl::default()
                },
            ],
        };
        cat.insert_files(f.a1, std::slice::from_ref(&full)).unwrap();
        let hit = &cat.where_is("/x/y/link").unwrap()[0];
        assert_eq!(hit.member, full.member);
        assert_eq!(hit.sha256, full.sha256);
        let (archive, back) = cat.file(hit.id).unwrap().unwrap();
        assert_eq!(archive, f.a1);
        assert_eq!(back, full);
        assert!(cat.file(FileId(999_999)).unwrap().is_none());
        // Searchable by who may read it.
        let ids = |q: &str| -> Vec<FileId> {
            cat.search_str(q, Page::default())
                .unwrap()
                .hits
                .iter()
                .map(|h| h.id)
                .collect()
        };
        for q in [
            "acl:deny",
            "acl:carol",
            "acl:CAROL",
            "acl:S-1-5-21-1-2-3-1002",
            "acl:uid:1001",
            "owner:bob",
            "owner:4242",
            "owner:alice link",
            "group:lab",
            "group:77",
        ] {
            assert_eq!(ids(q), vec![hit.id], "{q}");
        }
        assert!(!ids("-acl:deny").contains(&hit.id));
        assert!(ids("acl:dave").is_empty());
        assert!(!ids("owner:nobody-here").contains(&hit.id));
        // Negated: a name that is no uid must not make the clause NULL (and
        // drop every row).
        assert!(ids("link -owner:nobody-here").contains(&hit.id));
        assert!(ids("link -group:nobody-here").contains(&hit.id));
        assert!(!ids("link -owner:bob").contains(&hit.id));
        assert!(!ids("link -owner:4242").contains(&hit.id));
        // Owners' and groups' names, as principals (seeding a later run's
        // name cache).
        let accounts = cat.account_names().unwrap();
        for (key, name, class) in [
            ("uid:1000", "alice", "user"),
            ("uid:4242", "bob", "user"),
            ("gid:77", "lab", "group"),
        ] {
            assert!(
                accounts
                    .iter()
                    .any(|k| k.key == key && k.name == name && k.class.as_deref() == Some(class)),
                "{key} {name} in {accounts:?}"
            );
        }
        // The names the ACLs carried are remembered.
        let known = cat.principals().unwrap();
        assert!(
            known
                .iter()
                .any(|k| k.key == "sid:S-1-5-21-1-2-3-1002" && k.name == "carol"),
            "{known:?}"
        );
    }
}

each_backend! {
    fn jobs_and_acls(db) {
        let f = fixture(db.open());
        let mut cat = f.cat;
        let vault = cat.archive(f.a2).unwrap().unwrap().info.vault;
        let job = RetrievalJob {
            vault,
            job_id: "JOB-1".into(),
            archive: Some(f.a2),
            range: Some((0, 1 << 20)),
            tier: "Bulk".into(),
            requested: 10,
            state: JobState::Requested,
            expires: None,
            downloaded_to: None,
        };
        let key = cat.add_retrieval_job(&job).unwrap();
        assert!(
            cat.add_retrieval_job(&job).is_err(),
            "job ids are unique per vault"
        );
        assert_eq!(
            cat.retrieval_jobs(Some(JobState::Requested)).unwrap(),
            vec![(key, job.clone())]
        );
        cat.set_job_state(key, JobState::Downloaded, Some("/restore/x"))
            .unwrap();
        assert!(
            cat.retrieval_jobs(Some(JobState::Requested))
                .unwrap()
                .is_empty()
        );
        let all = cat.retrieval_jobs(None).unwrap();
        assert_eq!(all[0].1.downloaded_to.as_deref(), Some("/restore/x"));
        assert_eq!(all[0].1.state, JobState::Downloaded);

        let file = cat.where_is("/data/Research/報告書.docx").unwrap()[0].id;
        let acl = vec![
            AclEntry {
                principal: "S-1-1-0".into(),
                allow: true,
                rights: 0x0012_00a9,
                kind: "allow".into(),
                ..AclEntry::default()
            },
            AclEntry {
                principal: "alice".into(),
                allow: false,
                rights: 0x001f_01ff,
                kind: "deny".into(),
                ..AclEntry::default()
            },
        ];
        cat.set_acl(file, &acl).unwrap();
        assert_eq!(cat.acl(file).unwrap(), acl);
        let ids = |cat: &Catalog, q: &str| -> Vec<catalog::FileId> {
            cat.search_str(q, Page::default())
                .unwrap()
                .hits
                .iter()
                .map(|h| h.id)
                .collect()
        };
        assert_eq!(ids(&cat, "acl:deny"), [file]);
        assert_eq!(ids(&cat, "acl:alice"), [file]);
        assert_eq!(ids(&cat, "-acl:deny").len(), 7);
        cat.set_acl(file, &acl[..1]).unwrap();
        assert_eq!(cat.acl(file).unwrap(), acl[..1]);
        assert!(ids(&cat, "acl:deny").is_empty());
    }
}

each_backend! {
    pending(postgres = "Catalog::integrity_check")
    fn deleting_a_run_removes_its_files_from_search(db) {
        let f = fixture(db.open());
        let mut cat = f.cat;
        assert_eq!(cat.count(&"data".parse().unwrap()).unwrap(), 8);
        cat.delete_run(f.run2).unwrap();
        assert!(cat.archive(f.a2).unwrap().is_none());
        assert_eq!(cat.count(&"data".parse().unwrap()).unwrap(), 4);
        assert!(
            cat.search_str("müller", Page::default())
                .unwrap()
                .hits
                .is_empty()
        );
        assert!(
            cat.search_str("lab", Page::default())
                .unwrap()
                .hits
                .is_empty()
        );
        assert!(cat.delete_run(f.run2).is_err());
        // New files do not inherit the deleted rows' index entries.
        let store = cat.store("local", "local", None).unwrap();
        let vault = cat.vault(store, "main").unwrap();
        let a = cat
            .add_archive(&crate::support::archive(f.run1, vault, 9, ""))
            .unwrap();
        cat.insert_files(
            a,
            &[crate::support::file("/new/plain.txt", 1, "2020-01-01")],
        )
        .unwrap();
        assert!(
            cat.search_str("müller", Page::default())
                .unwrap()
                .hits
                .is_empty()
        );
        assert_eq!(
            cat.search_str("plain", Page::default()).unwrap().hits.len(),
            1
        );
        assert!(cat.integrity_check().unwrap().is_empty());
    }
}

each_backend! {
    fn bad_inputs_are_refused_whole(db) {
        let f = fixture(db.open());
        let mut cat = f.cat;
        let err = cat
            .insert_files(
                f.a1,
                &[
                    crate::support::file("/ok/one", 1, "2020-01-01"),
                    crate::support::file("relative/two", 1, "2020-01-01"),
                ],
            )
            .unwrap_err();
        assert!(err.to_string().contains("relative/two"), "{err}");
        assert!(
            cat.where_is("/ok/one").unwrap().is_empty(),
            "the batch was rolled back"
        );
        cat.insert_files(f.a1, &[crate::support::file("/ok/one", 1, "2020-01-01")])
            .unwrap();
        assert_eq!(
            cat.where_is("/ok/one").unwrap().len(),
            1,
            "the directory cache survived the rollback"
        );
        let err = cat
            .insert_files(catalog::ArchiveKey(12345), &[])
            .unwrap_err();
        assert!(
            matches!(
                err,
                catalog::CatalogError::NotFound {
                    what: "archive",
                    ..
                }
            ),
            "{err}"
        );
    }
}

each_backend! {
    fn insert_many_records_several_archives_at_once(db) {
        let f = fixture(db.open());
        let mut cat = f.cat;
        let store = cat.store("local", "local", None).unwrap();
        let vault = cat.vault(store, "main").unwrap();
        let a = cat
            .add_archive(&crate::support::archive(f.run1, vault, 10, ""))
            .unwrap();
        let b = cat
            .add_archive(&crate::support::archive(f.run1, vault, 11, ""))
            .unwrap();
        assert_eq!(
            cat.archive(b).unwrap().unwrap().seq,
            2,
            "positions follow within the run"
        );
        let one = [crate::support::file("/many/a.txt", 1, "2020-01-01")];
        let two = [
            crate::support::file("/many/b.txt", 2, "2020-01-01"),
            crate::support::file("/many/c.txt", 3, "2020-01-01"),
        ];
        cat.insert_many(&[(a, &one), (b, &two)]).unwrap();
        assert_eq!(cat.archive(a).unwrap().unwrap().files, 1);
        assert_eq!(cat.archive(b).unwrap().unwrap().files, 2);
        assert_eq!(cat.count(&"under:/many".parse().unwrap()).unwrap(), 3);
        assert_eq!(cat.run(f.run1).unwrap().unwrap().files, 7);
        // One unknown archive refuses the whole call.
        let err = cat
            .insert_many(&[(a, &one), (catalog::ArchiveKey(999), &two)])
            .unwrap_err();
        assert!(
            matches!(
                err,
                catalog::CatalogError::NotFound {
                    what: "archive",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(cat.count(&"under:/many".parse().unwrap()).unwrap(), 3);
    }
}

#[test]
fn a_read_only_catalog_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    drop(fixture(Catalog::open(&path).unwrap()));
    let mut cat = Catalog::open_read_only(&path).unwrap();
    assert_eq!(
        cat.search_str("budget", Page::default())
            .unwrap()
            .hits
            .len(),
        3
    );
    let err = cat.store("x", "local", None).unwrap_err();
    assert!(err.to_string().contains("ro.db"), "{err}");
}

each_backend! {
    /// Pruned and missing archives: kept as `deleted` with a tag of the
    /// state's name, read back as that state by every read (archive rows,
    /// search hits, where-is), found by `tag:`; stored ones unchanged.
    fn pruned_and_missing_archives_read_back_as_such(db) {
        let f = fixture(db.open());
        let mut cat = f.cat;
        let state_of = |cat: &Catalog, a| cat.archive(a).unwrap().unwrap().info.state;
        let hit_states = |cat: &Catalog, q: &str| {
            let mut v: Vec<ArchiveState> = cat
                .search_str(q, Page::default())
                .unwrap()
                .hits
                .iter()
                .map(|h| h.state)
                .collect();
            v.dedup();
            v
        };
        let stored_a2 = hit_states(&cat, &format!("archive:{}", f.a2.0));
        assert_eq!(stored_a2, [ArchiveState::Stored]);
        cat.set_archive_state(f.a2, ArchiveState::Pruned).unwrap();
        assert_eq!(state_of(&cat, f.a2), ArchiveState::Pruned);
        assert!(
            cat.archive(f.a2)
                .unwrap()
                .unwrap()
                .info
                .tags
                .contains(&"pruned".to_owned())
        );
        assert_eq!(
            hit_states(&cat, &format!("archive:{}", f.a2.0)),
            [ArchiveState::Pruned]
        );
        assert_eq!(hit_states(&cat, "tag:pruned"), [ArchiveState::Pruned]);
        let one = cat
            .search_str(&format!("archive:{}", f.a2.0), Page::default())
            .unwrap()
            .hits[0]
            .path
            .clone();
        assert!(
            cat.where_is(&one)
                .unwrap()
                .iter()
                .any(|h| h.archive == f.a2 && h.state == ArchiveState::Pruned)
        );
        cat.set_archive_stored(f.a1, "REMOTE-A1", None, 1).unwrap();
        cat.set_archive_state(f.a1, ArchiveState::Missing).unwrap();
        assert_eq!(state_of(&cat, f.a1), ArchiveState::Missing);
        assert_eq!(
            hit_states(&cat, &format!("archive:{}", f.a1.0)),
            [ArchiveState::Missing]
        );
        // A plain deletion stays `deleted`.
        let store = cat.store("local", "local", None).unwrap();
        let vault = cat.vault(store, "main").unwrap();
        let other = cat
            .add_archive(&crate::support::archive(f.run2, vault, 9, ""))
            .unwrap();
        cat.set_archive_state(other, ArchiveState::Deleted).unwrap();
        assert_eq!(state_of(&cat, other), ArchiveState::Deleted);
    }
}
