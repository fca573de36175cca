//! The store contract, checked on every emulated store the same way.

use std::time::Duration;

use glacier_multipart::{
    ArchiveStore, Error, Inventory, InventoryFormat, JobRequest, JobStatus, LocalStore,
    MemoryStore, S3Class, Tier,
};
use glacier_treehash::{TreeHash, tree_hash};

use crate::util::{MIB, data, is_s3, read_back, s3_store};

/// The local and memory stores, and S3 (`GLACIER` class, so every read
/// goes through a restore) on the test server: each must keep the same
/// contract, with S3's differences spelled out where they are checked.
fn each_store(check: impl Fn(&dyn ArchiveStore)) {
    let dir = tempfile::tempdir().unwrap();
    check(&LocalStore::open(dir.path()).unwrap());
    check(&MemoryStore::new());
    check(&s3_store(S3Class::Glacier));
}

#[test]
fn vaults_are_created_listed_described_and_deleted() {
    each_store(|s| {
        s.create_vault("b-vault").unwrap();
        s.create_vault("a.vault").unwrap();
        s.create_vault("a.vault").unwrap(); // idempotent
        let names: Vec<_> = s
            .list_vaults()
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["a.vault", "b-vault"]);
        let a = s
            .upload_archive("a.vault", "x", b"abc", tree_hash(b"abc"))
            .unwrap();
        let info = s.describe_vault("a.vault").unwrap();
        assert_eq!((info.archives, info.size), (1, 3));
        match s.delete_vault("a.vault") {
            Err(e @ Error::VaultNotEmpty { .. }) => assert!(e.to_string().contains("a.vault")),
            other => panic!("{other:?}"),
        }
        s.delete_archive("a.vault", &a.archive_id).unwrap();
        s.delete_vault("a.vault").unwrap();
        assert!(matches!(
            s.describe_vault("a.vault"),
            Err(Error::VaultNotFound { vault }) if vault == "a.vault"
        ));
        assert!(matches!(
            s.create_vault("bad/name"),
            Err(Error::InvalidVaultName { .. })
        ));
        assert!(matches!(
            s.upload_archive("nope", "", b"x", tree_hash(b"x")),
            Err(Error::VaultNotFound { .. })
        ));
    });
}

#[test]
fn single_uploads_check_the_tree_hash() {
    each_store(|s| {
        s.create_vault("v").unwrap();
        let body = data(3 * MIB + 5, 1);
        let a = s
            .upload_archive("v", "desc", &body, tree_hash(&body))
            .unwrap();
        assert_eq!(a.size, body.len() as u64);
        assert_eq!(a.tree_hash, tree_hash(&body));
        assert_eq!(read_back(s, "v", &a.archive_id), body);
        let err = s
            .upload_archive("v", "desc", &body, tree_hash(b"other"))
            .unwrap_err();
        assert!(
            matches!(err, Error::ArchiveChecksumMismatch { .. }),
            "{err}"
        );
        assert!(!err.is_retryable());
        let err = s
            .upload_archive("v", "bad\ndesc", b"x", tree_hash(b"x"))
            .unwrap_err();
        assert!(matches!(err, Error::Rejected { .. }), "{err}");
        let b = s
            .upload_archive("v", "desc", &body, tree_hash(&body))
            .unwrap();
        assert_ne!(
            a.archive_id, b.archive_id,
            "ids are unique even for equal bytes"
        );
    });
}

#[test]
fn multipart_checks_ranges_part_hashes_and_the_total() {
    each_store(|s| {
        s.create_vault("v").unwrap();
        // The store's smallest part: 1 MiB, or 8 MiB for S3.
        let unit = s.limits().min_part_size;
        let part = 2 * unit;
        let body = data(5 * unit + 7, 2);
        let up = s.initiate_multipart_upload("v", "big", part).unwrap();
        assert!(matches!(
            s.initiate_multipart_upload("v", "big", 3 * unit),
            Err(Error::InvalidPartSize { part_size, .. }) if part_size == 3 * unit
        ));
        let chunk = |i: u64| {
            let r = i * part..((i + 1) * part).min(body.len() as u64);
            let d = &body[r.start as usize..r.end as usize];
            (r, d)
        };
        // Misaligned and oversized parts are refused.
        let (r0, d0) = chunk(0);
        let err = s
            .upload_part("v", &up, 1..part + 1, tree_hash(d0), d0)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRange { .. }), "{err}");
        // A wrong part hash is refused and names the range.
        let err = s
            .upload_part("v", &up, r0.clone(), tree_hash(b"x"), d0)
            .unwrap_err();
        match &err {
            Error::PartChecksumMismatch {
                range, upload_id, ..
            } => {
                assert_eq!((range, upload_id), (&r0, &up));
            }
            other => panic!("{other:?}"),
        }
        assert!(!err.is_retryable());
        // Parts in any order.
        let mut hashes = Vec::new();
        for i in [2, 0, 1] {
            let (r, d) = chunk(i);
            s.upload_part("v", &up, r, tree_hash(d), d).unwrap();
        }
        for i in 0..3 {
            hashes.push(tree_hash(chunk(i).1));
        }
        let listed = s.list_parts("v", &up).unwrap();
        assert_eq!(listed.upload.part_size, part);
        assert_eq!(listed.upload.description, "big");
        let ranges: Vec<_> = listed.parts.iter().map(|p| p.range.clone()).collect();
        assert_eq!(ranges, [0..part, part..2 * part, 2 * part..5 * unit + 7]);
        assert_eq!(listed.parts[1].tree_hash, Some(hashes[1]));
        let uploads = s.list_multipart_uploads("v").unwrap();
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].upload_id, up);
        // Wrong total hash, wrong size.
        let total = glacier_treehash::combine_parts(part, body.len() as u64, &hashes).unwrap();
        assert_eq!(total, tree_hash(&body));
        let err = s
            .complete_multipart_upload("v", &up, body.len() as u64, TreeHash::EMPTY)
            .unwrap_err();
        assert!(
            matches!(err, Error::ArchiveChecksumMismatch { .. }),
            "{err}"
        );
        let err = s
            .complete_multipart_upload("v", &up, body.len() as u64 + 1, total)
            .unwrap_err();
        assert!(matches!(err, Error::IncompleteUpload { .. }), "{err}");
        let err = s
            .complete_multipart_upload("v", &up, 7 * unit, total)
            .unwrap_err();
        assert!(err.to_string().contains("should end at"), "{err}");
        let a = s
            .complete_multipart_upload("v", &up, body.len() as u64, total)
            .unwrap();
        assert_eq!(a.description, "big");
        assert_eq!(read_back(s, "v", &a.archive_id), body);
        assert!(s.list_multipart_uploads("v").unwrap().is_empty());
        assert!(matches!(
            s.list_parts("v", &up),
            Err(Error::UploadNotFound { .. })
        ));
    });
}

#[test]
fn a_missing_middle_part_blocks_completion_and_abort_frees_the_upload() {
    each_store(|s| {
        s.create_vault("v").unwrap();
        let unit = s.limits().min_part_size;
        let body = data(3 * unit, 3);
        let up = s.initiate_multipart_upload("v", "", unit).unwrap();
        for i in [0u64, 2] {
            let d = &body[(i * unit) as usize..((i + 1) * unit) as usize];
            s.upload_part("v", &up, i * unit..(i + 1) * unit, tree_hash(d), d)
                .unwrap();
        }
        let err = s
            .complete_multipart_upload("v", &up, 3 * unit, tree_hash(&body))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("bytes {}-{} are missing", unit, 2 * unit)),
            "{err}"
        );
        s.abort_multipart_upload("v", &up).unwrap();
        assert!(matches!(
            s.abort_multipart_upload("v", &up),
            Err(Error::UploadNotFound { upload_id, .. }) if upload_id == up
        ));
        s.delete_vault("v").unwrap();
    });
}

#[test]
fn retrievals_serve_ranges_with_their_tree_hash_when_aligned() {
    each_store(|s| {
        s.create_vault("v").unwrap();
        let body = data(6 * MIB + MIB / 2, 4);
        let a = s.upload_archive("v", "r", &body, tree_hash(&body)).unwrap();
        let job = s
            .initiate_job(
                "v",
                &JobRequest::ArchiveRetrieval {
                    archive_id: a.archive_id.clone(),
                    tier: Tier::Bulk,
                    range: None,
                    description: Some("all".into()),
                },
            )
            .unwrap();
        let info = s.describe_job("v", &job).unwrap();
        assert_eq!(info.status, JobStatus::Succeeded);
        assert_eq!(info.output_size, Some(body.len() as u64));
        assert_eq!(info.output_tree_hash, Some(tree_hash(&body)));
        // Aligned: 4-6 MiB is a node; the short last MiB is a leaf.
        for r in [
            4 * MIB..6 * MIB,
            6 * MIB..body.len() as u64,
            0..body.len() as u64,
        ] {
            let out = s.get_job_output("v", &job, Some(r.clone())).unwrap();
            let want = &body[r.start as usize..r.end as usize];
            assert_eq!(out.data, want);
            assert_eq!(out.tree_hash, Some(tree_hash(want)), "{r:?}");
            assert_eq!(out.total_size, body.len() as u64);
        }
        // Not aligned: bytes come, no hash.
        let out = s.get_job_output("v", &job, Some(MIB..3 * MIB)).unwrap();
        assert_eq!(out.tree_hash, None);
        assert!(matches!(
            s.get_job_output("v", &job, Some(0..body.len() as u64 + 1)),
            Err(Error::InvalidRange { .. })
        ));
        // A ranged retrieval: megabyte aligned only.
        let ranged = JobRequest::ArchiveRetrieval {
            archive_id: a.archive_id.clone(),
            tier: Tier::Expedited,
            range: Some(2 * MIB..4 * MIB),
            description: None,
        };
        let job2 = s.initiate_job("v", &ranged).unwrap();
        let info = s.describe_job("v", &job2).unwrap();
        assert_eq!(info.output_size, Some(2 * MIB));
        if is_s3(s) {
            // S3 keeps the tree hash of a single PUT as a whole only; the
            // range is still verified as it is read (against the whole).
            assert_eq!(info.output_tree_hash, None);
        } else {
            assert_eq!(
                info.output_tree_hash,
                Some(tree_hash(&body[2 << 20..4 << 20]))
            );
        }
        let out = s.get_job_output("v", &job2, None).unwrap();
        assert_eq!(out.data, &body[2 << 20..4 << 20]);
        let bad = JobRequest::ArchiveRetrieval {
            archive_id: a.archive_id.clone(),
            tier: Tier::Standard,
            range: Some(1..MIB),
            description: None,
        };
        assert!(matches!(
            s.initiate_job("v", &bad),
            Err(Error::InvalidRange { .. })
        ));
        assert!(matches!(
            s.initiate_job("v", &JobRequest::archive("nope")),
            Err(Error::ArchiveNotFound { .. })
        ));
        assert_eq!(s.list_jobs("v").unwrap().len(), 2);
        s.delete_archive("v", &a.archive_id).unwrap();
        if is_s3(s) {
            // S3 deletes the restored copy with the object: its jobs end.
            assert!(matches!(
                s.get_job_output("v", &job, None),
                Err(Error::JobNotFound { .. })
            ));
            assert!(s.list_jobs("v").unwrap().is_empty());
        } else {
            // Output outlives the archive.
            assert_eq!(s.get_job_output("v", &job, None).unwrap().data, body);
            assert_eq!(s.list_jobs("v").unwrap().len(), 2);
        }
        assert!(matches!(
            s.describe_job("v", "nope"),
            Err(Error::JobNotFound { .. })
        ));
    });
}

#[test]
fn inventories_come_in_json_and_csv() {
    each_store(|s| {
        s.create_vault("v").unwrap();
        let a = s
            .upload_archive("v", "mt2 first", b"one", tree_hash(b"one"))
            .unwrap();
        let b = s
            .upload_archive("v", "with, \"quotes\"", b"two!", tree_hash(b"two!"))
            .unwrap();
        for format in [InventoryFormat::Json, InventoryFormat::Csv] {
            let job = s.initiate_job("v", &JobRequest::inventory(format)).unwrap();
            let out = s.get_job_output("v", &job, None).unwrap();
            assert_eq!(out.tree_hash, None);
            let inv = Inventory::parse(&out.data).unwrap();
            let mut got: Vec<_> = inv
                .archives
                .iter()
                .map(|x| {
                    (
                        x.archive_id.clone(),
                        x.description.clone(),
                        x.size,
                        x.tree_hash,
                    )
                })
                .collect();
            got.sort();
            let mut want = vec![
                (a.archive_id.clone(), a.description.clone(), 3, a.tree_hash),
                (b.archive_id.clone(), b.description.clone(), 4, b.tree_hash),
            ];
            want.sort();
            assert_eq!(got, want, "{format:?}");
            let text = String::from_utf8(out.data).unwrap();
            match format {
                InventoryFormat::Json => {
                    assert!(text.contains("\"ArchiveList\"") && text.contains("\"VaultARN\""));
                }
                InventoryFormat::Csv => assert!(text.starts_with(
                    "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
                )),
            }
        }
    });
}

#[test]
fn delayed_jobs_are_not_ready_until_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let delay = Duration::from_millis(400);
    let stores: Vec<Box<dyn ArchiveStore>> = vec![
        Box::new(LocalStore::open(dir.path()).unwrap().with_job_delay(delay)),
        Box::new(MemoryStore::new().with_job_delay(delay)),
    ];
    for s in stores {
        s.create_vault("v").unwrap();
        let a = s
            .upload_archive("v", "", b"abc", tree_hash(b"abc"))
            .unwrap();
        let job = s
            .initiate_job("v", &JobRequest::archive(&a.archive_id))
            .unwrap();
        assert_eq!(
            s.describe_job("v", &job).unwrap().status,
            JobStatus::InProgress
        );
        let err = s.get_job_output("v", &job, None).unwrap_err();
        assert!(
            matches!(&err, Error::JobNotReady { job_id, .. } if *job_id == job),
            "{err}"
        );
        assert!(!err.is_retryable());
        std::thread::sleep(delay + Duration::from_millis(50));
        let info = s.describe_job("v", &job).unwrap();
        assert_eq!(info.status, JobStatus::Succeeded);
        assert!(info.completed.is_some());
        assert_eq!(s.get_job_output("v", &job, None).unwrap().data, b"abc");
    }
}

#[test]
fn errors_know_what_is_retryable() {
    let s = MemoryStore::new();
    s.create_vault("v").unwrap();
    s.throttle(1);
    let err = s.describe_vault("v").unwrap_err();
    assert!(
        matches!(err, Error::Throttled { .. }) && err.is_retryable(),
        "{err}"
    );
    s.describe_vault("v").unwrap();
    assert!(!Error::VaultNotFound { vault: "v".into() }.is_retryable());
}
