use catalog::{ArchiveState, Catalog, CatalogError, FileId, Page};

use crate::support::{MB, file, fixture, names};

fn cat(db: &crate::support::Db) -> crate::support::Fixture {
    fixture(db.open())
}

fn v(xs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = xs.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

const B19: &str = "Budget_2019-final.xlsx";
const B20: &str = "Budget_2020.xlsx";
const DRAFT: &str = "budget 2019 draft.docx";
const REPORT: &str = "report.txt";
const MUELLER: &str = "Überweisung_Müller.pdf";
const JA: &str = "報告書.docx";
const IMG: &str = "IMG_0042.JPG";
const PHONE: &str = "iPhoneBackup.tar";

each_backend! {
    fn bare_words_are_anded_over_path_tokens(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "budget 2019"), v(&[B19, DRAFT]));
        assert_eq!(names(&f.cat, "BUDGET"), v(&[B19, B20, DRAFT]));
        assert_eq!(names(&f.cat, "budget 2019 xlsx"), v(&[B19]));
        assert_eq!(names(&f.cat, "old budget"), v(&[DRAFT]));
        assert_eq!(names(&f.cat, "photos"), v(&[IMG]));
        assert_eq!(names(&f.cat, "nothing-like-this"), v(&[]));
    }
}

each_backend! {
    fn words_inside_names_split_on_case_and_digits(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "iphone"), v(&[PHONE]));
        assert_eq!(names(&f.cat, "phone"), v(&[PHONE]));
        assert_eq!(names(&f.cat, "backup"), v(&[PHONE]));
        assert_eq!(names(&f.cat, "iPhoneBackup"), v(&[PHONE]));
        assert_eq!(names(&f.cat, "img 42"), v(&[]), "0042 is one token, not 42");
        assert_eq!(names(&f.cat, "img 0042"), v(&[IMG]));
        assert_eq!(
            names(&f.cat, "budget2019"),
            v(&[B19, DRAFT]),
            "a compound word is a phrase of its parts"
        );
    }
}

each_backend! {
    fn phrases_need_order_and_adjacency(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "\"budget 2019\""), v(&[B19, DRAFT]));
        assert_eq!(names(&f.cat, "\"2019 budget\""), v(&[]));
        assert_eq!(names(&f.cat, "\"budget 2019 final\""), v(&[B19]));
        assert_eq!(names(&f.cat, "\"finance budget\""), v(&[B19, B20]));
        assert_eq!(names(&f.cat, "\"finance old budget\""), v(&[DRAFT]));
    }
}

each_backend! {
    fn negation(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "budget -2019"), v(&[B20]));
        assert_eq!(names(&f.cat, "budget -draft"), v(&[B19, B20]));
        assert_eq!(names(&f.cat, "budget -\"2019 final\""), v(&[B20, DRAFT]));
        assert_eq!(names(&f.cat, "-budget -research -photos"), v(&[REPORT]));
        assert_eq!(
            names(&f.cat, "-\"budget 2019\" -2019 finance"),
            v(&[B20, REPORT])
        );
    }
}

each_backend! {
    fn prefixes(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "budg*"), v(&[B19, B20, DRAFT]));
        assert!(
            f.cat.search_str("\"budget 20\"*", Page::default()).is_err(),
            "a phrase is never a prefix"
        );
        assert_eq!(names(&f.cat, "budget_20*"), v(&[B19, B20, DRAFT]));
        assert_eq!(names(&f.cat, "-budg* finance"), v(&[REPORT]));
    }
}

each_backend! {
    fn non_ascii_names(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "müller"), v(&[MUELLER]));
        assert_eq!(names(&f.cat, "MÜLLER ÜBERWEISUNG"), v(&[MUELLER]));
        assert_eq!(names(&f.cat, "\"überweisung müller\""), v(&[MUELLER]));
        assert_eq!(names(&f.cat, "報告書"), v(&[JA]));
        assert_eq!(names(&f.cat, "path:*報告*"), v(&[JA]));
        // Accents fold (as unicode61's remove_diacritics 2): `find resume`
        // finds `résumé.pdf`.
        assert_eq!(names(&f.cat, "muller"), v(&[MUELLER]));
        assert_eq!(names(&f.cat, "uberweisung MULLER"), v(&[MUELLER]));
        assert_eq!(names(&f.cat, "\"uberweisung muller\""), v(&[MUELLER]));
    }
}

each_backend! {
    fn tags_and_descriptions(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "tag:finance"), v(&[B19, B20, DRAFT, REPORT]));
        assert_eq!(names(&f.cat, "tag:FINANCE"), v(&[B19, B20, DRAFT, REPORT]));
        assert_eq!(names(&f.cat, "-tag:finance"), v(&[MUELLER, JA, IMG, PHONE]));
        assert_eq!(names(&f.cat, "tag:nope"), v(&[]));
        // Run descriptions and tags, archive descriptions, are words of every file.
        assert_eq!(names(&f.cat, "yearly"), v(&[B19, B20, DRAFT, REPORT]));
        assert_eq!(names(&f.cat, "yearly 2019"), v(&[B19, DRAFT]));
        assert_eq!(names(&f.cat, "lab"), v(&[MUELLER, JA, IMG, PHONE]));
        assert_eq!(names(&f.cat, "instrument jpg"), v(&[IMG]));
        assert_eq!(names(&f.cat, "research"), v(&[MUELLER, JA, IMG, PHONE]));
        assert_eq!(names(&f.cat, "\"lab data\" photos"), v(&[IMG]));
        assert_eq!(names(&f.cat, "\"data lab\""), v(&[]));
        assert_eq!(names(&f.cat, "-lab"), v(&[B19, B20, DRAFT, REPORT]));
        assert_eq!(names(&f.cat, "-lab -yearly"), v(&[]));
        // Tags added later reach the search too.
        let mut cat = f.cat;
        cat.tag_archive(f.a1, &["audited"]).unwrap();
        assert_eq!(names(&cat, "audited 2020"), v(&[B20]));
        assert_eq!(names(&cat, "tag:audited"), v(&[B19, B20, DRAFT, REPORT]));
        cat.tag_run(f.run2, &["grant"]).unwrap();
        assert_eq!(names(&cat, "grant müller"), v(&[MUELLER]));
    }
}

each_backend! {
    fn globs(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "path:*.xlsx"), v(&[B19, B20]));
        assert_eq!(
            names(&f.cat, "path:/data/Finance/*"),
            v(&[B19, B20, DRAFT]),
            "* crosses /"
        );
        assert_eq!(names(&f.cat, "path:*.JPG"), v(&[IMG]));
        assert_eq!(
            names(&f.cat, "path:*.jpg"),
            v(&[]),
            "globs are case-sensitive"
        );
        assert_eq!(names(&f.cat, "path:Budget_20[12]?.xlsx"), v(&[B20]));
        assert_eq!(
            names(&f.cat, "path:\"/data/Finance/old/budget 2019 draft.docx\""),
            v(&[DRAFT])
        );
        assert_eq!(names(&f.cat, "budget -path:*.docx"), v(&[B19, B20]));
    }
}

each_backend! {
    fn under(db) {
        let f = cat(db);
        assert_eq!(
            names(&f.cat, "under:/data/Finance"),
            v(&[B19, B20, DRAFT]),
            "not Finance2"
        );
        assert_eq!(names(&f.cat, "under:/data/Finance/"), v(&[B19, B20, DRAFT]));
        assert_eq!(names(&f.cat, "under:/data/Finance/old"), v(&[DRAFT]));
        assert_eq!(names(&f.cat, "-under:/data"), v(&[IMG]));
        assert_eq!(names(&f.cat, "under:/").len(), 8);
        assert_eq!(names(&f.cat, "under:/dat"), v(&[]));
    }
}

each_backend! {
    fn ranges(db) {
        let f = cat(db);
        assert_eq!(names(&f.cat, "size:>1M"), v(&[B19, B20, IMG, PHONE]));
        assert_eq!(names(&f.cat, "size:>=2M size:<12M"), v(&[B19, B20]));
        assert_eq!(
            names(&f.cat, "size:2M..5M"),
            v(&[B19]),
            "ranges exclude their end"
        );
        assert_eq!(names(&f.cat, "size:=10"), v(&[REPORT]));
        assert_eq!(names(&f.cat, "size:20k"), v(&[DRAFT]));
        assert_eq!(
            names(&f.cat, "-size:<=3000"),
            v(&[B19, B20, DRAFT, IMG, PHONE])
        );
        assert_eq!(names(&f.cat, "mtime:<2019-01-01"), v(&[DRAFT, IMG]));
        assert_eq!(
            names(&f.cat, "mtime:2021-01-01..2022-01-01"),
            v(&[REPORT, MUELLER, PHONE])
        );
        assert_eq!(names(&f.cat, "mtime:>=2022"), v(&[JA]));
        assert_eq!(names(&f.cat, "budget mtime:>2019-06-01"), v(&[B20]));
        assert_eq!(names(&f.cat, "mtime:@0..@1"), v(&[]));
    }
}

each_backend! {
    fn archives_and_runs(db) {
        let f = cat(db);
        let all2 = v(&[MUELLER, JA, IMG, PHONE]);
        assert_eq!(names(&f.cat, "archive:REMOTE-A2"), all2);
        assert_eq!(names(&f.cat, &format!("archive:{}", f.a2)), all2);
        assert_eq!(names(&f.cat, "run:run-two"), all2);
        assert_eq!(names(&f.cat, &format!("run:{}", f.run2)), all2);
        assert_eq!(names(&f.cat, &format!("-run:{} budget", f.run1)), v(&[]));
        assert_eq!(names(&f.cat, "archive:nope"), v(&[]));
    }
}

each_backend! {
    fn hits_carry_location_and_state(db) {
        let f = cat(db);
        let page = f.cat.search_str("müller", Page::default()).unwrap();
        let h = &page.hits[0];
        assert_eq!(h.path, "/data/Research/Überweisung_Müller.pdf");
        assert_eq!(h.size, 100);
        assert_eq!(h.archive, f.a2);
        assert_eq!(h.archive_id.as_deref(), Some("REMOTE-A2"));
        assert_eq!((h.store.as_str(), h.vault.as_str()), ("local", "main"));
        assert_eq!(h.state, ArchiveState::Stored);
        assert_eq!(h.run, f.run2);
        let h = &f
            .cat
            .search_str("budget 2020", Page::default())
            .unwrap()
            .hits[0];
        assert_eq!(h.state, ArchiveState::Uploading);
        assert_eq!(h.archive_id, None);
    }
}

fn all_pages(cat: &Catalog, q: &str, limit: u32) -> Vec<FileId> {
    let mut seen = Vec::new();
    let mut page = Page::first(limit);
    loop {
        let p = cat.search_str(q, page).unwrap();
        assert!(p.hits.len() <= limit as usize);
        seen.extend(p.hits.iter().map(|h| h.id));
        match p.next {
            Some(n) => page.after = Some(n),
            None => return seen,
        }
    }
}

each_backend! {
    fn paging_visits_every_hit_once(db) {
        let f = cat(db);
        // Driven by the index ("budget"), and by a scan ("data" is also in a
        // run description, so every file of that run matches).
        for (q, n) in [
            ("budget", 3),
            ("data", 8),
            ("size:>0", 8),
            ("yearly -2020", 3),
        ] {
            let all = f.cat.search_str(q, Page::first(100)).unwrap();
            assert_eq!(all.hits.len(), n, "{q}");
            assert_eq!(all.next, None);
            let ids: Vec<FileId> = all.hits.iter().map(|h| h.id).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            for limit in [1, 2, 3] {
                assert_eq!(all_pages(&f.cat, q, limit), ids, "{q} by {limit}");
            }
            assert_eq!(f.cat.count(&q.parse().unwrap()).unwrap(), n as u64);
        }
    }
}

each_backend! {
    fn json_form_is_stable(db) {
        let f = cat(db);
        let page = f.cat.search_str("müller", Page::default()).unwrap();
        let json: serde_json::Value = serde_json::to_value(&page).unwrap();
        assert_eq!(json["query"], "müller");
        assert_eq!(json["next"], serde_json::Value::Null);
        let hit = &json["hits"][0];
        for key in [
            "id",
            "path",
            "size",
            "mtime",
            "archive",
            "archive_id",
            "store",
            "vault",
            "state",
            "run",
            "archived",
        ] {
            assert!(hit.get(key).is_some(), "hit lacks {key}: {hit}");
        }
        assert_eq!(hit["state"], "stored");
        assert_eq!(hit["archive_id"], "REMOTE-A2");
        let back: catalog::SearchPage = serde_json::from_value(json).unwrap();
        assert_eq!(back, page);
    }
}

each_backend! {
    fn syntax_errors_name_the_column(db) {
        let f = cat(db);
        let err = f
            .cat
            .search_str("budget size:>lots", Page::default())
            .unwrap_err();
        let CatalogError::Query(q) = &err else {
            panic!("{err}")
        };
        assert_eq!(q.column, 14);
        assert!(err.to_string().contains("expected a size"), "{err}");
        for (text, column) in [
            ("\"open", 6),
            ("colour:red", 1),
            ("a -", 4),
            ("mtime:<yesterday", 8),
            ("under:data", 7),
            ("tag:", 5),
        ] {
            match f.cat.search_str(text, Page::default()) {
                Err(CatalogError::Query(q)) => assert_eq!(q.column, column, "{text}: {q}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}

each_backend! {
    fn where_is_lists_every_version(db) {
        let f = cat(db);
        let mut cat = f.cat;
        let store = cat.store("local", "local", None).unwrap();
        let vault = cat.vault(store, "main").unwrap();
        let later = cat
            .add_archive(&crate::support::archive(f.run2, vault, 3000, ""))
            .unwrap();
        cat.insert_files(
            later,
            &[file("/data/Finance/Budget_2020.xlsx", 6 * MB, "2020-04-01")],
        )
        .unwrap();
        let versions = cat.where_is("/data/Finance/Budget_2020.xlsx").unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].archive, f.a1);
        assert_eq!(versions[1].archive, later);
        assert_eq!(versions[1].size, 6 * MB);
        assert!(cat.where_is("/data/Finance/none.xlsx").unwrap().is_empty());
        assert!(matches!(
            cat.where_is("data/x"),
            Err(CatalogError::RelativePath { .. })
        ));
    }
}

each_backend! {
    fn stored_files_under_a_directory_in_one_query(db) {
        let f = cat(db);
        let mut cat = f.cat;
        let paths = |cat: &Catalog, dir: &str| {
            let mut v = Vec::new();
            cat.stored_files_under(dir, |s| {
                v.push((format!("{}/{}", s.dir, s.name), s.size, s.ctime));
            })
            .unwrap();
            v.sort();
            v
        };
        // a1 is still uploading: none of its files count.
        assert!(paths(&cat, "/data/Finance").is_empty());
        cat.set_archive_stored(f.a1, "REMOTE-A1", None, 1).unwrap();
        let finance = paths(&cat, "/data/Finance");
        assert_eq!(
            finance.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            [
                "/data/Finance/Budget_2019-final.xlsx",
                "/data/Finance/Budget_2020.xlsx",
                "/data/Finance/old/budget 2019 draft.docx",
            ],
            "a sibling directory sharing the prefix (/data/Finance2) is not below"
        );
        assert_eq!(paths(&cat, "/data/Finance/"), finance);
        assert_eq!(paths(&cat, "/").len(), 8);
        assert_eq!(paths(&cat, "/data").len(), 7);
        assert!(paths(&cat, "/nowhere").is_empty());
        let mut with_ctime = file("/t/a", 1, "2020-01-01");
        with_ctime.ctime = Some(77);
        let store = cat.store("local", "local", None).unwrap();
        let vault = cat.vault(store, "main").unwrap();
        let a = cat
            .add_archive(&crate::support::archive(f.run2, vault, 3000, ""))
            .unwrap();
        cat.insert_files(a, &[with_ctime]).unwrap();
        cat.set_archive_stored(a, "REMOTE-T", None, 1).unwrap();
        assert_eq!(paths(&cat, "/t"), [("/t/a".to_owned(), 1, Some(77))]);
        cat.set_archive_state(a, ArchiveState::Deleted).unwrap();
        assert!(paths(&cat, "/t").is_empty());
    }
}
