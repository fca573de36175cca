//! The in-memory source and destination: faults and the statuses they earn.

use dataverse_source::{
    Checksum, ChecksumType, DataFile, DatasetId, DestinationFault, ListOptions, MemoryDestination,
    MemorySource, Source, SourceFault, Status, back_up,
};

use crate::fixture::md5;

fn file(id: i64, content: &[u8]) -> DataFile {
    let mut f = DataFile::new(
        id,
        DatasetId::new("doi", "10.5072", "FK2/MEM"),
        &format!("file://id-{id}"),
        Checksum::new(ChecksumType::Md5, md5(content)),
    );
    f.size = Some(content.len() as u64);
    f
}

fn path(id: i64) -> String {
    format!("10.5072/FK2/MEM/id-{id}")
}

#[test]
fn each_fault_earns_its_status() {
    let source = MemorySource::new();
    let dest = MemoryDestination::new();
    let big = vec![7u8; 100_000];
    for id in 1..=8 {
        source.add(file(id, &big), big.clone());
    }
    dest.inject(path(2), DestinationFault::DiskFullAfter(50_000));
    dest.inject(path(3), DestinationFault::DropConnectionAfter(10_000));
    dest.inject(path(4), DestinationFault::WrongChecksum);
    dest.inject(path(5), DestinationFault::ChecksumFails);
    source.inject(6, SourceFault::Open);
    source.inject(7, SourceFault::ReadAfter(30_000));
    source.inject(8, SourceFault::Corrupt);

    let got: Vec<(i64, Status, String)> = source
        .list(&ListOptions::all())
        .unwrap()
        .map(|f| {
            let f = f.unwrap();
            let o = back_up(&source, &dest, &f);
            (f.id, o.status, o.message.unwrap_or_default())
        })
        .collect();
    let want = [
        (1, Status::Ok, ""),
        (2, Status::FailWrite, "No space left"),
        (3, Status::FailWrite, "connection reset"),
        (4, Status::FailVerify, "expected"),
        (5, Status::FailVerify, "checksum command failed"),
        (6, Status::FailRead, "no such file"),
        (7, Status::FailRead, "read error"),
        (8, Status::FailVerify, "Dataverse records"),
    ];
    for ((id, status, msg), (wid, wstatus, wmsg)) in got.iter().zip(want) {
        assert_eq!((*id, *status), (wid, wstatus), "{msg}");
        assert!(
            msg.contains(wmsg),
            "file {id}: {msg:?} should mention {wmsg:?}"
        );
    }
    // Failed writes leave no copy.
    assert_eq!(dest.get(&path(2)), None);
    assert_eq!(dest.get(&path(3)), None);
    assert_eq!(dest.get(&path(1)).unwrap(), big);

    // Healed, the same files back up.
    dest.heal(&path(2));
    source.heal(7);
    assert_eq!(back_up(&source, &dest, &file(2, &big)).status, Status::Ok);
    assert_eq!(back_up(&source, &dest, &file(7, &big)).status, Status::Ok);
}

#[test]
fn a_full_destination_fails_the_file_that_does_not_fit() {
    let source = MemorySource::new();
    let dest = MemoryDestination::new();
    dest.capacity(Some(25));
    for id in 1..=3 {
        source.add(file(id, b"0123456789"), b"0123456789".to_vec());
    }
    let statuses: Vec<Status> = (1..=3)
        .map(|id| back_up(&source, &dest, &file(id, b"0123456789")).status)
        .collect();
    assert_eq!(statuses, vec![Status::Ok, Status::Ok, Status::FailWrite]);
}

#[test]
fn unknown_checksum_types_are_copied_but_fail_verify_by_name() {
    let source = MemorySource::new();
    let dest = MemoryDestination::new();
    let mut f = file(1, b"abc");
    f.checksum = Checksum::new(ChecksumType::parse("BLAKE2b"), "00");
    source.add(f.clone(), b"abc".to_vec());
    let o = back_up(&source, &dest, &f);
    assert_eq!(o.status, Status::FailVerify);
    assert!(o.message.unwrap().contains("BLAKE2b"));
    assert_eq!(dest.get(&path(1)).unwrap(), b"abc");
}

#[test]
fn a_listing_that_drops_reports_an_error_item() {
    let source = MemorySource::new();
    for id in 1..=5 {
        source.add(file(id, b"x"), b"x".to_vec());
    }
    source.fail_listing_after(Some(3));
    let items: Vec<_> = source.list(&ListOptions::all()).unwrap().collect();
    assert_eq!(items.len(), 4);
    assert!(items[3].is_err());
}
