//! Export and import of a run.

use catalog::{Catalog, CatalogError, Page};

use crate::support::fixture;

fn export(cat: &Catalog, run: catalog::RunId) -> Vec<u8> {
    let mut out = Vec::new();
    let s = cat.export_run(run, &mut out, "mem").unwrap();
    assert!(s.files > 0);
    out
}

each_backend! {
    fn round_trip_into_an_empty_catalog(db) {
        let f = fixture(db.open());
        let mut src = f.cat;
        src.tag_archive(f.a2, &["instrument"]).unwrap();
        src.finish_run(f.run2, 999).unwrap();
        let bytes = export(&src, f.run2);

        let mut dst = db.open_other("rebuilt");
        let out = dst.import_run(&bytes[..], "mem").unwrap();
        assert!(out.imported);
        assert_eq!((out.summary.archives, out.summary.files), (1, 4));

        let a = src.run(f.run2).unwrap().unwrap();
        let b = dst.run(out.run).unwrap().unwrap();
        assert_eq!(
            (
                &a.uid,
                &a.roots,
                &a.description,
                &a.tags,
                a.started,
                a.ended,
                a.files,
                a.bytes
            ),
            (
                &b.uid,
                &b.roots,
                &b.description,
                &b.tags,
                b.started,
                b.ended,
                b.files,
                b.bytes
            )
        );
        let (xa, xb) = (
            &src.archives_of_run(f.run2).unwrap()[0],
            &dst.archives_of_run(out.run).unwrap()[0],
        );
        assert_eq!(xa.info.remote_id, xb.info.remote_id);
        assert_eq!(xa.info.tags, xb.info.tags);
        assert_eq!(
            (&xa.store, &xa.vault, xa.seq, xa.files),
            (&xb.store, &xb.vault, xb.seq, xb.files)
        );
        for q in [
            "müller",
            "lab",
            "tag:research",
            "tag:instrument",
            "archive:REMOTE-A2",
            "run:run-two",
            "size:>1M -tag:finance",
        ] {
            let pa: Vec<_> = src
                .search_str(q, Page::first(100))
                .unwrap()
                .hits
                .into_iter()
                .map(|h| (h.path, h.size, h.mtime, h.sha256, h.member))
                .collect();
            let pb: Vec<_> = dst
                .search_str(q, Page::first(100))
                .unwrap()
                .hits
                .into_iter()
                .map(|h| (h.path, h.size, h.mtime, h.sha256, h.member))
                .collect();
            assert_eq!(pa, pb, "{q}");
        }
        let ha = &src.where_is("/data/Research/報告書.docx").unwrap()[0];
        let hb = &dst.where_is("/data/Research/報告書.docx").unwrap()[0];
        assert_eq!(
            src.file(ha.id).unwrap().unwrap().1,
            dst.file(hb.id).unwrap().unwrap().1,
            "owner names and all"
        );

        // Idempotent: a second import changes nothing.
        let again = dst.import_run(&bytes[..], "mem").unwrap();
        assert!(!again.imported);
        assert_eq!(again.run, out.run);
        assert_eq!(dst.count(&"under:/".parse().unwrap()).unwrap(), 4);
        assert_eq!(dst.runs().unwrap().len(), 1);

        // Beside other runs, in a catalog that already has the store.
        let mut both = fixture(db.open_other("other2")).cat;
        both.delete_run(f.run2).unwrap();
        assert!(both.import_run(&bytes[..], "mem").unwrap().imported);
        assert_eq!(both.count(&"under:/".parse().unwrap()).unwrap(), 8);
    }
}

each_backend! {
    fn export_is_compact(db) {
        let mut cat = db.open();
        let store = cat.store("s", "local", None).unwrap();
        let vault = cat.vault(store, "v").unwrap();
        let run = cat
            .begin_run(&catalog::NewRun {
                uid: Some("big".into()),
                started: 1,
                ..catalog::NewRun::default()
            })
            .unwrap();
        let a = cat
            .add_archive(&crate::support::archive(run, vault, 1, ""))
            .unwrap();
        let files: Vec<_> = catalog::synth::synthetic_tree(5, 5_000).collect();
        cat.insert_files(a, &files).unwrap();
        let bytes = export(&cat, run);
        // Synthetic hashes are random (32 incompressible bytes a file), so
        // about 80 bytes a file is what a compact form costs here.
        assert!(bytes.len() < 5_000 * 100, "{} bytes", bytes.len());
        let mut dst = db.open_other("other2");
        dst.import_run(&bytes[..], "mem").unwrap();
        let paths = |c: &Catalog| {
            let mut v: Vec<_> = c
                .search_str("under:/data", Page::first(10_000))
                .unwrap()
                .hits
                .into_iter()
                .map(|h| h.path)
                .collect();
            v.sort();
            v
        };
        assert_eq!(paths(&cat), paths(&dst));
    }
}

each_backend! {
    fn refuses_truncated_foreign_and_newer_exports(db) {
        let f = fixture(db.open());
        let bytes = export(&f.cat, f.run1);
        let mut dst = db.open_other("other2");

        // Truncated: refused, nothing recorded.
        for cut in [bytes.len() / 2, bytes.len() - 1, 3] {
            let err = dst.import_run(&bytes[..cut], "cut.pfx").unwrap_err();
            assert!(
                matches!(
                    err,
                    CatalogError::BadExport { .. } | CatalogError::Io { .. }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("cut.pfx"), "{err}");
            assert!(dst.runs().unwrap().is_empty());
        }
        // Not an export.
        let err = dst.import_run(&b"hello world"[..], "x.txt").unwrap_err();
        assert!(err.to_string().contains("x.txt"), "{err}");

        let records = |lines: &[&str]| zstd::encode_all(lines.join("\n").as_bytes(), 1).unwrap();
        let newer = records(&[r#"{"header":{"format":"permafrost-catalog-run","version":99}}"#]);
        let err = dst.import_run(&newer[..], "new.pfx").unwrap_err();
        assert!(err.to_string().contains("version 99"), "{err}");
        let other = records(&[r#"{"header":{"format":"something-else","version":1}}"#]);
        let err = dst.import_run(&other[..], "other.pfx").unwrap_err();
        assert!(
            matches!(err, CatalogError::BadExport { record: 0, .. }),
            "{err}"
        );

        // Counts that do not add up.
        let text = String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut forged: Vec<&str> = lines.clone();
        forged.remove(3);
        let err = dst
            .import_run(&records(&forged)[..], "forged.pfx")
            .unwrap_err();
        assert!(err.to_string().contains("end record counts"), "{err}");
        assert!(dst.runs().unwrap().is_empty());
        // And the genuine one still imports.
        assert!(
            dst.import_run(&records(&lines)[..], "ok.pfx")
                .unwrap()
                .imported
        );
    }
}
