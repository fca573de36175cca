use tape_io::label::{Label, LabelError, LabelState, prepare_for_write, read_label};
use tape_io::{TapeDevice, target};

use crate::tape;

#[test]
fn blank_tape_gets_label_and_a_different_label_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tape(&dir.path().join("t.tap"));
    assert_eq!(read_label(&mut t).unwrap(), LabelState::Blank);
    let l = Label::new("T001", "ABC123L9").unwrap();
    prepare_for_write(&mut t, &l).unwrap();
    let LabelState::Labelled(found) = read_label(&mut t).unwrap() else {
        panic!("no label")
    };
    assert_eq!(found.name, "T001");
    assert_eq!(found.serial, "ABC123L9");
    assert_eq!(found.created, l.created);
    assert!(found.tool.starts_with("tape-io "));
    // Same name: accepted, data kept.
    t.end_of_data().unwrap();
    t.write_block(b"data").unwrap();
    t.write_filemarks(1, true).unwrap();
    prepare_for_write(&mut t, &Label::new("T001", "").unwrap()).unwrap();
    let e = prepare_for_write(&mut t, &Label::new("T002", "").unwrap()).unwrap_err();
    assert!(matches!(e, LabelError::WrongTape { .. }), "{e}");
    assert!(e.to_string().contains("'T001'"), "{e}");
    t.end_of_data().unwrap();
    assert_eq!(t.status().unwrap().file_number, Some(2));
}

#[test]
fn unlabelled_data_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tape(&dir.path().join("t.tap"));
    t.write_block(b"someone else's data").unwrap();
    t.write_filemarks(1, true).unwrap();
    let e = prepare_for_write(&mut t, &Label::new("T1", "").unwrap()).unwrap_err();
    assert!(matches!(e, LabelError::Foreign { .. }), "{e}");
    t.rewind().unwrap();
    let mut buf = vec![0; 100];
    assert_eq!(t.read_block(&mut buf).unwrap(), 19);
}

#[test]
fn label_is_a_tar_archive_and_times_round_trip() {
    let l = Label::new("T1", "S1").unwrap();
    let block = l.to_block();
    let mut a = tar::Archive::new(&block[..]);
    let names: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["PERMAFROST-LABEL.txt"]);
    assert_eq!(target::format_time(0), "1970-01-01T00:00:00Z");
    assert_eq!(target::format_time(1_795_000_000), "2026-11-18T11:06:40Z");
    for t in [0, 951_782_400, 1_795_000_000, 4_102_444_800] {
        assert_eq!(target::parse_time(&target::format_time(t)), Some(t));
    }
    assert!(Label::new("bad\nname", "").is_err());
}
