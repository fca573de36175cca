use proptest::prelude::*;
use tape_io::{FileTape, FileTapeOptions, TapeDevice};

#[derive(Debug, Clone)]
enum Op {
    Block(Vec<u8>),
    Mark,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 1..300).prop_map(Op::Block),
            1 => Just(Op::Mark),
        ],
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever sequence of blocks and filemarks is written reads back the
    /// same, with file numbers counting the marks, and spacing backwards
    /// over every file from end of data lands at the beginning.
    #[test]
    fn every_record_round_trips(ops in ops()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tap");
        let mut t = FileTape::create(&p, FileTapeOptions::default()).unwrap();
        for op in &ops {
            match op {
                Op::Block(b) => t.write_block(b).unwrap(),
                Op::Mark => t.write_filemarks(1, false).unwrap(),
            }
        }
        t.close().unwrap();
        drop(t);
        let mut t = FileTape::open(&p, FileTapeOptions::default()).unwrap();
        let mut buf = vec![0u8; 512];
        let mut marks = 0u64;
        for op in &ops {
            match op {
                Op::Block(b) => {
                    let n = t.read_block(&mut buf).unwrap();
                    prop_assert_eq!(&buf[..n], &b[..]);
                }
                Op::Mark => {
                    prop_assert_eq!(t.read_block(&mut buf).unwrap(), 0);
                    marks += 1;
                    prop_assert_eq!(t.status().unwrap().file_number, Some(marks));
                }
            }
        }
        // Closing after the last write added a filemark if data came last.
        if matches!(ops.last(), Some(Op::Block(_))) {
            prop_assert_eq!(t.read_block(&mut buf).unwrap(), 0);
            marks += 1;
        }
        t.end_of_data().unwrap();
        prop_assert_eq!(t.status().unwrap().file_number, Some(marks));
        let objects = t.tell().unwrap();
        prop_assert_eq!(objects, ops.len() as u64 + u64::from(matches!(ops.last(), Some(Op::Block(_)))));
        if marks > 0 {
            let back = i32::try_from(marks).unwrap();
            t.space_files(-back).unwrap();
            prop_assert_eq!(t.status().unwrap().file_number, Some(0));
        }
        t.seek(0).unwrap();
        prop_assert!(t.status().unwrap().bot);
    }
}
