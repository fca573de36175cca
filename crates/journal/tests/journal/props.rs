//! Round trips under proptest.

use proptest::prelude::*;

use glacier_treehash::TreeHash;
use journal::{
    ArchiveId, ArchiveMeta, Description, JobId, JournalReader, JournalWriter, Record, RelName,
    decode_description, encode_description,
};

/// Any valid relative name: components of arbitrary characters except `/`,
/// TAB, CR, LF, none of them `.` or `..`.
fn relname() -> impl Strategy<Value = RelName> {
    let component = "[^/\t\r\n]{1,12}".prop_filter("not . or ..", |c| c != "." && c != "..");
    prop::collection::vec(component, 1..5)
        .prop_map(|parts| RelName::new(&parts.join("/")).expect("generated name is valid"))
}

fn archive_id() -> impl Strategy<Value = ArchiveId> {
    "[A-Za-z0-9_-]{1,138}".prop_map(|s| ArchiveId::new(&s).unwrap())
}

fn job_id() -> impl Strategy<Value = Option<JobId>> {
    prop::option::of("[^\t\r\n]{1,92}".prop_map(|s| JobId::new(&s).unwrap()))
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (
            any::<u64>(),
            archive_id(),
            any::<u64>(),
            any::<Option<i64>>(),
            any::<[u8; 32]>(),
            relname()
        )
            .prop_map(|(time, archive_id, size, mtime, hash, relname)| {
                Record::Created {
                    time,
                    archive_id,
                    size,
                    mtime,
                    treehash: TreeHash::from_bytes(hash),
                    relname,
                }
            }),
        (any::<u64>(), archive_id(), relname()).prop_map(|(time, archive_id, relname)| {
            Record::Deleted {
                time,
                archive_id,
                relname,
            }
        }),
        (any::<u64>(), archive_id(), job_id()).prop_map(|(time, archive_id, job_id)| {
            Record::RetrieveJob {
                time,
                archive_id,
                job_id,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn line_round_trip(r in record()) {
        let line = r.to_line();
        let (version, back) = Record::parse(&line).unwrap();
        prop_assert_eq!(version, journal::Version::B);
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.to_line(), line);
        // CRLF reads the same.
        prop_assert_eq!(Record::parse(&format!("{}\r", r.to_line())).unwrap().1, r);
    }

    #[test]
    fn any_name_is_accepted_by_relname_iff_rules_hold(s in "[^\t\r\n]{0,20}|.{0,20}") {
        let ok = !s.is_empty()
            && !s.contains(['\t', '\r', '\n'])
            && !s.starts_with('/')
            && !s.contains("//")
            && !s.split('/').any(|c| c == "." || c == "..");
        prop_assert_eq!(RelName::new(&s).is_ok(), ok, "{:?}", s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn written_then_read_back_equal(records in prop::collection::vec(record(), 0..40), split in 0usize..40) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let split = split.min(records.len());
        let mut w = JournalWriter::open(&path).unwrap();
        for r in &records[..split] {
            w.append(r).unwrap();
        }
        w.append_all(&records[split..]).unwrap();
        drop(w);
        let back: Vec<Record> = JournalReader::open(&path)
            .unwrap()
            .map(|e| e.unwrap().record)
            .collect();
        prop_assert_eq!(back, records);
    }

    #[test]
    fn description_round_trip(name in relname(), mtime in -62_167_219_200i64..253_402_300_800) {
        let meta = ArchiveMeta { relname: name, mtime };
        match encode_description(&meta) {
            Ok(d) => {
                prop_assert!(d.len() <= 1024);
                prop_assert!(d.bytes().all(|b| (0x20..0x7f).contains(&b)));
                prop_assert_eq!(decode_description(&d), Description::Mt2(meta));
            }
            Err(e) => prop_assert!(e.to_string().contains("more than the 1024")),
        }
    }
}

/// Lines assembled from the pieces real lines are made of, plus noise: the
/// parser never panics, and what it accepts round-trips through version B
/// (the property the `journal_line` fuzz target checks at length).
fn line_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("B\t".to_owned()),
        Just("A\t".to_owned()),
        Just("C\t".to_owned()),
        Just("\t".to_owned()),
        Just(" ".to_owned()),
        Just("CREATED".to_owned()),
        Just("DELETED".to_owned()),
        Just("RETRIEVE_JOB".to_owned()),
        Just("NONE".to_owned()),
        Just(crate::TH.to_owned()),
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just("\r".to_owned()),
        "[+-]?[0-9]{1,21}",
        "[a-zA-Z0-9_-]{1,8}",
        "\\PC{1,4}",
    ];
    prop::collection::vec(piece, 1..14).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parser_accepts_only_what_round_trips(line in line_like()) {
        if let Ok((_, record)) = Record::parse(&line) {
            let written = record.to_line();
            let (version, again) = Record::parse(&written).unwrap();
            prop_assert_eq!(version, journal::Version::B);
            prop_assert_eq!(&again, &record);
            prop_assert_eq!(again.to_line(), written);
        }
    }

    #[test]
    fn decoder_accepts_only_what_round_trips(s in "(mt1 |mt2 )?[A-Za-z0-9_=+/ -]{0,80}") {
        if let Some(meta) = decode_description(&s).meta() {
            let d = encode_description(meta).unwrap();
            prop_assert_eq!(decode_description(&d), Description::Mt2(meta.clone()));
        }
    }
}
