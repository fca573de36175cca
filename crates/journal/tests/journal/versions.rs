//! The three versions, read from hand-written lines; version B written back
//! byte for byte.

use std::fs;

use journal::{
    JournalError, JournalWriter, LineError, ParseError, ReadOptions, Record, Version, read_journal,
};

use crate::{TH, created, deleted, retrieve};

#[test]
fn version_b_lines() {
    let lines = [
        format!("B\t1355666755\tCREATED\tarch-1\t12345\t1355566755\t{TH}\tdir/file one.txt"),
        format!("B\t1355666756\tCREATED\tarch-2\t0\tNONE\t{TH}\tархив/файл"),
        format!("B\t1355666757\tCREATED\tarch-3\t7\t-86400\t{TH}\tdir/file one.txt"),
        "B\t1355666758\tDELETED\tarch-3\tdir/file one.txt".to_owned(),
        "B\t1355666759\tRETRIEVE_JOB\tarch-1\tHkF9p6o7yjhFx-K3CGl6fuSm6VzW9T7esGQfco8nUXVYwS0jlb5gq1JZ55yHgt5vP54ZShjoQzQVVh7vEXAMPLEJOBID".to_owned(),
    ];
    let parsed: Vec<(Version, Record)> = lines
        .iter()
        .map(|l| Record::parse(l).expect("valid line"))
        .collect();
    assert_eq!(parsed[0].1, {
        let mut r = created(
            1_355_666_755,
            "arch-1",
            Some(1_355_566_755),
            "dir/file one.txt",
        );
        if let Record::Created { size, .. } = &mut r {
            *size = 12345;
        }
        r
    });
    assert!(
        matches!(&parsed[1].1, Record::Created { mtime: None, size: 0, relname, .. } if relname.as_str() == "архив/файл")
    );
    assert!(matches!(
        &parsed[2].1,
        Record::Created {
            mtime: Some(-86_400),
            ..
        }
    ));
    assert_eq!(
        parsed[3].1,
        deleted(1_355_666_758, "arch-3", "dir/file one.txt")
    );
    for ((v, r), line) in parsed.iter().zip(&lines) {
        assert_eq!(*v, Version::B);
        assert_eq!(&r.to_line(), line, "byte-exact");
    }

    // The writer writes exactly those bytes, LF-terminated.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let mut w = JournalWriter::open(&path).unwrap();
    let records: Vec<Record> = parsed.into_iter().map(|(_, r)| r).collect();
    w.append_all(&records).unwrap();
    drop(w);
    let expected = lines.join("\n") + "\n";
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);

    let replay = read_journal(&path, ReadOptions::default()).unwrap();
    assert_eq!(replay.records, 5);
    assert_eq!(replay.versions, [0, 0, 5]);
    let s = &replay.state;
    assert_eq!(s.archive_count(), 2);
    assert_eq!(s.file("dir/file one.txt").unwrap().len(), 1);
    assert_eq!(s.retrievals("arch-1").len(), 1);
    assert_eq!(s.deleted().len(), 1);
    assert_eq!(s.deleted()[0].archive_id.as_str(), "arch-3");
}

#[test]
fn version_a_lines() {
    let a = format!("A\t1355666755\tCREATED\tarch-1\t10\t1355566755\t{TH}\tphotos/a b.jpg");
    let (v, r) = Record::parse(&a).unwrap();
    assert_eq!(v, Version::A);
    assert_eq!(r, {
        let mut r = created(
            1_355_666_755,
            "arch-1",
            Some(1_355_566_755),
            "photos/a b.jpg",
        );
        if let Record::Created { size, .. } = &mut r {
            *size = 10;
        }
        r
    });
    // Written back as B, otherwise identical.
    assert_eq!(r.to_line(), format!("B{}", &a[1..]));

    // Version A wrote an invented mtime for inventory imports, which have the
    // archive id as their name: it is read as no mtime.
    let import = format!("A\t1\tCREATED\tarch-9\t10\t1355566755\t{TH}\tarch-9");
    assert!(matches!(
        Record::parse(&import).unwrap().1,
        Record::Created { mtime: None, .. }
    ));

    // NONE is not version A.
    let none = format!("A\t1\tCREATED\tarch-9\t10\tNONE\t{TH}\tx");
    assert!(matches!(
        Record::parse(&none),
        Err(ParseError::BadField { field: "mtime", .. })
    ));

    assert_eq!(
        Record::parse("A\t5\tDELETED\tarch-1\tphotos/a b.jpg").unwrap(),
        (Version::A, deleted(5, "arch-1", "photos/a b.jpg"))
    );
    assert_eq!(
        Record::parse("A\t6\tRETRIEVE_JOB\tarch-1\tjob-1").unwrap(),
        (Version::A, retrieve(6, "arch-1", "job-1"))
    );
}

#[test]
fn version_0_lines() {
    let c = format!("1355666755 CREATED arch-1 10 {TH} dir/name with  spaces ");
    let (v, r) = Record::parse(&c).unwrap();
    assert_eq!(v, Version::V0);
    match &r {
        Record::Created {
            time,
            archive_id,
            size,
            mtime,
            relname,
            ..
        } => {
            assert_eq!(*time, 1_355_666_755);
            assert_eq!(archive_id.as_str(), "arch-1");
            assert_eq!(*size, 10);
            assert_eq!(*mtime, None);
            assert_eq!(relname.as_str(), "dir/name with  spaces ");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r.to_line(),
        format!("B\t1355666755\tCREATED\tarch-1\t10\tNONE\t{TH}\tdir/name with  spaces ")
    );
    assert_eq!(
        Record::parse("1355666756   DELETED  arch-1   dir/x y").unwrap(),
        (Version::V0, deleted(1_355_666_756, "arch-1", "dir/x y"))
    );
    let (_, job) = Record::parse("1355666757 RETRIEVE_JOB arch-1").unwrap();
    assert_eq!(
        job,
        Record::RetrieveJob {
            time: 1_355_666_757,
            archive_id: "arch-1".parse().unwrap(),
            job_id: None
        }
    );
    // Written as B with an empty job id, which reads back the same.
    assert_eq!(job.to_line(), "B\t1355666757\tRETRIEVE_JOB\tarch-1\t");
    assert_eq!(Record::parse(&job.to_line()).unwrap().1, job);
}

#[test]
fn mixed_versions_and_crlf_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let text = format!(
        "1000 CREATED old-1 10 {TH} legacy/file\r\n\
         A\t2000\tCREATED\told-2\t20\t1500\t{TH}\tlegacy/file\n\
         B\t3000\tCREATED\tnew-1\t30\tNONE\t{TH}\tlegacy/file\r\n\
         B\t3100\tCREATED\tnew-2\t30\t900\t{TH}\tother/ünïcødé 名前\n\
         1500 RETRIEVE_JOB old-1\r\n\
         A\t3200\tRETRIEVE_JOB\told-2\tjob-a\n\
         B\t3300\tRETRIEVE_JOB\told-2\tjob-b\n\
         B\t3400\tDELETED\told-1\tlegacy/file\r\n"
    );
    fs::write(&path, text).unwrap();
    let replay = read_journal(&path, ReadOptions::default()).unwrap();
    assert_eq!(replay.records, 8);
    assert_eq!(replay.versions, [2, 2, 4]);
    assert!(replay.torn_tail.is_none());
    let s = &replay.state;
    let file = s.file("legacy/file").unwrap();
    assert_eq!(file.len(), 2);
    // old-2: mtime 1500; new-1: no mtime, so its time 3000 counts.
    assert_eq!(file.latest().archive_id.as_str(), "new-1");
    assert_eq!(s.latest("other/ünïcødé 名前").unwrap().mtime, Some(900));
    assert!(s.archive("old-1").is_none());
    let jobs = s.retrievals("old-2");
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        s.latest_retrieval("old-2")
            .unwrap()
            .job_id
            .as_ref()
            .unwrap()
            .as_str(),
        "job-b"
    );
    assert_eq!(s.deleted()[0].archive_id.as_str(), "old-1");
    assert_eq!(s.files().count(), 2);
}

#[test]
fn unknown_and_future_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    fs::write(
        &path,
        format!("B\t1\tCREATED\ta\t1\tNONE\t{TH}\tx\nD\t1\tCREATED\tb\n"),
    )
    .unwrap();
    let err = read_journal(&path, ReadOptions::default()).unwrap_err();
    let JournalError::InvalidLine {
        line,
        offset,
        reason,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((*line, *offset), (2, 88));
    assert_eq!(
        *reason,
        LineError::Parse(ParseError::FutureVersion { version: 'D' })
    );
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!(
        err.to_string().contains("newer journal version 'D'"),
        "{err}"
    );
}
