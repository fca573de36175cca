use tape_io::simh::{locate_record, mark_bad_record};
use tape_io::{FileTape, FileTapeOptions, TapeDevice, TapeError};

use crate::tape;

#[test]
fn image_layout_is_simh() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    t.write_block(b"abc").unwrap();
    t.write_filemarks(1, true).unwrap();
    drop(t);
    let img = std::fs::read(&p).unwrap();
    assert_eq!(
        img,
        [3, 0, 0, 0, b'a', b'b', b'c', 0, 3, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn filemark_on_close_after_writing_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    t.write_block(&[1; 100]).unwrap();
    t.close().unwrap();
    drop(t);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 8 + 100 + 4);
    // Reading and closing writes nothing.
    let mut t = FileTape::open(&p, FileTapeOptions::default()).unwrap();
    let mut buf = vec![0; 1000];
    assert_eq!(t.read_block(&mut buf).unwrap(), 100);
    drop(t);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 112);
}

#[test]
fn zero_read_then_end_of_data_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tape(&dir.path().join("t.tap"));
    t.write_block(&[1; 10]).unwrap();
    t.write_filemarks(1, false).unwrap();
    t.write_block(&[2; 10]).unwrap();
    t.write_filemarks(1, true).unwrap();
    t.rewind().unwrap();
    let mut buf = vec![0; 64];
    assert_eq!(t.read_block(&mut buf).unwrap(), 10);
    assert_eq!(t.read_block(&mut buf).unwrap(), 0);
    assert!(t.status().unwrap().eof);
    assert_eq!(t.read_block(&mut buf).unwrap(), 10);
    assert_eq!(buf[0], 2);
    assert_eq!(t.read_block(&mut buf).unwrap(), 0);
    assert_eq!(t.read_block(&mut buf).unwrap(), 0);
    let e = t.read_block(&mut buf).unwrap_err();
    assert!(matches!(e, TapeError::EndOfData { .. }), "{e}");
    let s = t.status().unwrap();
    assert!(s.eod);
    assert_eq!(s.file_number, Some(2));
}

#[test]
fn writing_truncates_everything_after_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tape(&dir.path().join("t.tap"));
    for i in 0..5u8 {
        t.write_block(&[i; 20]).unwrap();
        t.write_filemarks(1, false).unwrap();
    }
    t.rewind().unwrap();
    t.space_files(2).unwrap();
    t.write_block(&[9; 7]).unwrap();
    t.write_filemarks(1, true).unwrap();
    t.end_of_data().unwrap();
    assert_eq!(t.status().unwrap().file_number, Some(3));
    t.rewind().unwrap();
    t.space_files(2).unwrap();
    let mut buf = vec![0; 64];
    assert_eq!(t.read_block(&mut buf).unwrap(), 7);
}

#[test]
fn short_buffer_is_rejected_and_block_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tape(&dir.path().join("t.tap"));
    t.write_block(&[1; 1000]).unwrap();
    t.write_block(&[2; 10]).unwrap();
    t.rewind().unwrap();
    let mut small = vec![0; 999];
    let e = t.read_block(&mut small).unwrap_err();
    assert!(
        matches!(
            e,
            TapeError::BufferTooSmall {
                block_len: tape_io::Position(Some(1000)),
                buffer: 999,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("file 0, block 0"), "{e}");
    assert_eq!(t.read_block(&mut small).unwrap(), 10);
}

#[test]
fn early_warning_then_alternating_end_of_medium() {
    let dir = tempfile::tempdir().unwrap();
    let opts = FileTapeOptions {
        capacity: Some(10_000),
        early_warning: 3000,
        ..FileTapeOptions::default()
    };
    let mut t = FileTape::create(&dir.path().join("t.tap"), opts).unwrap();
    let block = [7u8; 992]; // 1000 bytes on tape with its length words
    for _ in 0..7 {
        t.write_block(&block).unwrap();
    }
    // 7000 bytes: at the early-warning mark.
    assert!(t.status().unwrap().eot);
    let results: Vec<bool> = (0..4).map(|_| t.write_block(&block).is_ok()).collect();
    assert_eq!(results, [false, true, false, true]);
    // 9000 bytes: a filemark (trailer) still fits, then the physical end.
    t.write_filemarks(1, true).unwrap();
    assert!(t.write_block(&block).is_err());
    let e = t.write_block(&block).unwrap_err();
    assert!(matches!(e, TapeError::EndOfMedium { .. }), "{e}");
    assert!(
        e.to_string().contains("end of medium at file 1, block 0"),
        "{e}"
    );
}

#[test]
fn write_protection() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tap");
    drop(tape(&p));
    let opts = FileTapeOptions {
        write_protected: true,
        ..FileTapeOptions::default()
    };
    let mut t = FileTape::open(&p, opts).unwrap();
    assert!(t.status().unwrap().write_protected);
    let e = t.write_block(b"x").unwrap_err();
    assert!(matches!(e, TapeError::WriteProtected { .. }), "{e}");
    assert!(matches!(
        t.write_filemarks(1, true),
        Err(TapeError::WriteProtected { .. })
    ));
}

#[test]
fn injected_bad_record_fails_then_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    for i in 0..3u8 {
        t.write_block(&[i; 33]).unwrap();
    }
    t.write_filemarks(1, true).unwrap();
    drop(t);
    let loc = mark_bad_record(&p, 0, 1).unwrap();
    assert_eq!(loc, locate_record(&p, 0, 1).unwrap());
    let mut t = FileTape::open(&p, FileTapeOptions::default()).unwrap();
    let mut buf = vec![0; 64];
    assert_eq!(t.read_block(&mut buf).unwrap(), 33);
    let e = t.read_block(&mut buf).unwrap_err();
    assert!(matches!(e, TapeError::BadRecord { .. }), "{e}");
    assert!(e.to_string().contains("file 0, block 1"), "{e}");
    assert_eq!(t.read_block(&mut buf).unwrap(), 33);
    assert_eq!(buf[0], 2);
}

#[test]
fn corrupt_image_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    t.write_block(&[5; 40]).unwrap();
    drop(t);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(30).unwrap();
    let mut t = FileTape::open(&p, FileTapeOptions::default()).unwrap();
    let e = t.read_block(&mut [0; 64]).unwrap_err();
    assert!(matches!(e, TapeError::Corrupt { .. }), "{e}");
}

#[test]
fn refused_block_size_and_unload() {
    let dir = tempfile::tempdir().unwrap();
    let opts = FileTapeOptions {
        max_block_size: 4096,
        ..FileTapeOptions::default()
    };
    let mut t = FileTape::create(&dir.path().join("t.tap"), opts).unwrap();
    assert!(matches!(
        t.write_block(&[0; 4097]),
        Err(TapeError::BlockSizeRefused {
            size: 4097,
            max: 4096,
            ..
        })
    ));
    t.unload().unwrap();
    assert!(!t.status().unwrap().online);
    assert!(matches!(t.rewind(), Err(TapeError::NotLoaded { .. })));
    t.load().unwrap();
    assert!(t.status().unwrap().bot);
}
