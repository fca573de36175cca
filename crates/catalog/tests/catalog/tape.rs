//! Tape volumes, targets, backups and member positions, and searches that
//! find files on tape beside files in the cloud.

use catalog::tape::{BackupStatus, NewPart, TapeMember, TapeTarget, TargetFile, VolumeStatus};
use catalog::{CatalogError, Page, TargetId};

fn target(name: &str, root: &str) -> TapeTarget {
    TapeTarget {
        id: TargetId(0),
        name: name.into(),
        root: root.into(),
        remote: false,
        imported: 100,
    }
}

fn tfile(name: &[u8], size: u64) -> TargetFile {
    TargetFile {
        name: name.to_vec(),
        size,
        md5: [1; 16],
        sha256: [2; 32],
    }
}

each_backend! {
    #[allow(clippy::too_many_lines)] // one backup's life, told in order
    pending(postgres = "Catalog::tape")
    fn a_backup_across_two_volumes_is_found_with_its_positions(db) {
        let mut cat = crate::support::fixture(db.open()).cat;
        let mut t = cat.tape();
        let v1 = t.add_volume("T1", "S1", 10).unwrap();
        assert!(matches!(
            t.add_volume("T1", "", 11),
            Err(CatalogError::Exists { .. })
        ));
        let v2 = t.add_volume("T2", "S2", 12).unwrap();
        t.set_online("T1").unwrap();
        assert_eq!(t.online_volume().unwrap().unwrap().id, v1);
        assert!(t.set_online("nope").is_err());

        let files = [
            tfile(b"budget 2019.txt", 10),
            tfile(b"sub/big.bin", 5000),
            tfile(b"latin1-\xe9t\xe9", 3),
        ];
        let tid = t.add_target(&target("data", "/srv/data"), &files).unwrap();
        assert!(matches!(
            t.add_target(&target("rel", "srv/data"), &[]),
            Err(CatalogError::RelativePath { .. })
        ));
        assert_eq!(t.target_files(tid).unwrap(), files);
        assert_eq!(t.target_totals(tid).unwrap(), (3, 5013));
        assert_eq!(t.unassigned_targets().unwrap(), 1);
        assert_eq!(t.assign(v1, 20).unwrap(), 1);
        assert_eq!(t.assign(v1, 20).unwrap(), 0);
        assert_eq!(t.assigned_on(v1).unwrap(), ["data"]);

        // Part 0 on T1 file 1 fills the tape; part 1 on T2 file 1.
        let b = t.next_to_archive(v1).unwrap().unwrap();
        assert_eq!(b.status, BackupStatus::Assigned);
        let part = |part, volume, file_number, start, end, complete| NewPart {
            part,
            volume,
            file_number,
            stream_start: start,
            stream_end: end,
            block_size: 2048,
            blocks: vec![],
            complete,
        };
        t.add_part(b.id, &part(0, v1, 1, 0, 4096, false), 30)
            .unwrap();
        t.set_backup_status(b.id, BackupStatus::Partial, 30)
            .unwrap();
        t.set_volume_status(v1, VolumeStatus::Full).unwrap();
        assert_eq!(t.next_to_archive(v2).unwrap().unwrap().id, b.id);
        t.add_part(b.id, &part(1, v2, 1, 4096, 6656, true), 40)
            .unwrap();
        t.set_backup_volume(b.id, v2).unwrap();
        assert!(t.add_part(b.id, &part(1, v2, 2, 0, 1, true), 40).is_err());
        assert_eq!(t.last_file_number(v2).unwrap(), Some(1));
        assert_eq!(t.parts(b.id).unwrap().len(), 2);

        let member = |name: &[u8], size, volume, block, offset| TapeMember {
            name: name.to_vec(),
            size,
            mode: 0o100_644,
            mtime: 1_560_000_000,
            sha256: Some([2; 32]),
            volume,
            file_number: 1,
            block,
            offset,
        };
        let members = [
            member(b"budget 2019.txt", 10, v1, 1, 0),
            member(b"sub/big.bin", 5000, v1, 1, 1024),
            member(b"latin1-\xe9t\xe9", 3, v2, 1, 6144),
        ];
        let key = t
            .record_backup(b.id, &members, BackupStatus::Recorded, 50)
            .unwrap();
        let b = t.backup(b.id).unwrap().unwrap();
        assert_eq!(
            (b.status, b.archive, b.volume),
            (BackupStatus::Recorded, Some(key), v2)
        );
        assert_eq!(t.backup_of_archive(key).unwrap().unwrap().id, b.id);
        assert_eq!(t.next_to_confirm(v1).unwrap().unwrap().id, b.id);
        assert!(t.next_to_confirm(v2).unwrap().is_none());
        assert_eq!(t.backups_on(v2).unwrap().len(), 1);
        assert_eq!(t.backup_for_restore(tid).unwrap().unwrap().id, b.id);
        let recorded = t.members(key).unwrap();
        assert_eq!(recorded.len(), 3);
        assert_eq!(recorded[2].name, b"latin1-\xe9t\xe9");
        assert_eq!(recorded[1].name, b"sub/big.bin");
        assert_eq!(recorded[1].path, "/srv/data/sub/big.bin");
        assert_eq!(recorded[2].position.volume, "T2");
        let on_t1 = t.volume_files(v1).unwrap();
        assert_eq!((on_t1.len(), on_t1[0].target.as_str()), (1, "data"));
        assert_eq!(t.placements(tid).unwrap().len(), 2);

        // One search finds files on tape and in the cloud alike.
        let page = cat.search_str("budget 2019", Page::default()).unwrap();
        let on_tape: Vec<_> = page.hits.iter().filter(|h| h.tape.is_some()).collect();
        let in_cloud: Vec<_> = page.hits.iter().filter(|h| h.tape.is_none()).collect();
        assert_eq!(on_tape.len(), 1, "{page:?}");
        assert!(!in_cloud.is_empty(), "{page:?}");
        let hit = on_tape[0];
        assert_eq!(hit.path, "/srv/data/budget 2019.txt");
        assert_eq!((hit.store.as_str(), hit.vault.as_str()), ("tape", "T1"));
        assert_eq!(hit.archive_id.as_deref(), Some("T1:1"));
        let pos = hit.tape.as_ref().unwrap();
        assert_eq!(pos.to_string(), "tape T1 file 1 block 1");
        let json = serde_json::to_value(hit).unwrap();
        assert_eq!(json["tape"]["volume"], "T1");
        assert_eq!(json["tape"]["block"], 1);
        let hits = cat.where_is("/srv/data/sub/big.bin").unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].tape.as_ref().unwrap().offset, 1024);
        // Files elsewhere carry no tape position.
        assert!(in_cloud.iter().all(|h| h.store != "tape"));

        // Recording again replaces the earlier record.
        let mut t = cat.tape();
        let key2 = t
            .record_backup(b.id, &members[..1], BackupStatus::Confirmed, 60)
            .unwrap();
        assert_eq!(t.members(key2).unwrap().len(), 1);
        assert_eq!(
            t.backup(b.id).unwrap().unwrap().status,
            BackupStatus::Confirmed
        );
        assert!(cat.where_is("/srv/data/sub/big.bin").unwrap().is_empty());
        assert_eq!(cat.where_is("/srv/data/budget 2019.txt").unwrap().len(), 1);
        assert!(cat.integrity_check().unwrap().is_empty());

        // Closing a volume releases what was assigned to it but not written.
        let mut t = cat.tape();
        let other = t.add_target(&target("other", "/srv/other"), &[]).unwrap();
        t.assign(v2, 70).unwrap();
        assert_eq!(t.close_volume(v2).unwrap(), 1);
        let v = t.volume("T2").unwrap().unwrap();
        assert_eq!((v.status, v.online), (VolumeStatus::Closed, false));
        assert!(t.backup_for_restore(other).unwrap().is_none());
        assert_eq!(t.unassigned_targets().unwrap(), 1);
    }
}

each_backend! {
    fn a_catalog_without_tapes_searches_as_before(db) {
        let cat = crate::support::fixture(db.open()).cat;
        let page = cat.search_str("budget", Page::default()).unwrap();
        assert!(!page.hits.is_empty());
        assert!(page.hits.iter().all(|h| h.tape.is_none()));
        let json = serde_json::to_string(&page).unwrap();
        assert!(!json.contains("\"tape\""), "{json}");
    }
}

#[test]
fn the_default_catalog_is_in_the_data_directory() {
    // Only the shape: the environment belongs to the whole test process.
    if let Some(p) = catalog::default_path() {
        assert!(p.ends_with(catalog::DEFAULT_FILE_NAME));
        assert_eq!(p.parent(), catalog::data_home().as_deref());
    }
}
