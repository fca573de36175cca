use std::path::{Path, PathBuf};

use tape_io::simh::{locate_record, mark_bad_record};
use tape_io::target::{
    self, Extract, FileRecord, LocalDir, Mismatch, Resume, TargetStream, WriteOptions,
};
use tape_io::{FileTape, FileTapeOptions, TapeDevice, TapeError};

use crate::{bytes, tape};

fn make_tree(root: &Path, seed: u64, sizes: &[usize]) {
    std::fs::create_dir_all(root.join("sub dir/deeper")).unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        let p = match i % 3 {
            0 => root.join(format!("file {i}.dat")),
            1 => root.join(format!("sub dir/f{i}\nwith newline")),
            _ => root.join(format!("sub dir/deeper/{i}.bin")),
        };
        std::fs::write(p, bytes(seed + i as u64, n)).unwrap();
    }
}

fn small_opts() -> WriteOptions {
    WriteOptions {
        block_size: 64 << 10,
        fallback_block_sizes: vec![32 << 10, 16 << 10],
        buffer_size: 1 << 20,
        start_fill: 0.8,
    }
}

fn opener(parts: Vec<(PathBuf, u64)>) -> Box<target::PartOpener<'static>> {
    Box::new(
        move |n: u32| -> Result<Option<Box<dyn TapeDevice>>, TapeError> {
            let Some((p, f)) = parts.get(n as usize) else {
                return Ok(None);
            };
            let mut t = FileTape::open(p, FileTapeOptions::default())?;
            target::position_to_file(&mut t, *f)?;
            Ok(Some(Box::new(t)))
        },
    )
}

fn read_back(
    parts: Vec<(PathBuf, u64)>,
    name: &str,
    to: Option<&Path>,
) -> Result<Vec<FileRecord>, target::ReadError> {
    let mut s = TargetStream::new(name, opener(parts))?;
    target::read_entries(&mut s, name, to.map(|to| Extract { to, only: None }))
}

fn same_tree(a: &Path, b: &Path) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    LocalDir::new(a).visit_names(&mut x);
    LocalDir::new(b).visit_names(&mut y);
    assert_eq!(x, y);
    assert!(!x.is_empty());
}

trait Names {
    fn visit_names(&mut self, out: &mut Vec<FileRecord>);
}
impl Names for LocalDir {
    fn visit_names(&mut self, out: &mut Vec<FileRecord>) {
        *out = target::hash_source(self).unwrap();
    }
}

#[test]
fn two_targets_per_tape_written_verified_and_extracted() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    make_tree(&a, 1, &[0, 1, 511, 512, 513, 300_000, 70_000]);
    make_tree(&b, 2, &[5, 200_000]);
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    tape_io::label::prepare_for_write(&mut t, &tape_io::label::Label::new("T1", "").unwrap())
        .unwrap();
    t.end_of_data().unwrap();
    let wa = target::write_target(
        &mut t,
        "/data/a",
        &mut LocalDir::new(&a),
        None,
        &small_opts(),
    )
    .unwrap();
    let wb = target::write_target(
        &mut t,
        "/data/b",
        &mut LocalDir::new(&b),
        None,
        &small_opts(),
    )
    .unwrap();
    assert!(wa.complete && wb.complete);
    assert_eq!((wa.file_number, wb.file_number), (1, 2));
    assert_eq!(wa.files.len(), 7);
    assert_eq!(
        wa.files,
        target::hash_source(&mut LocalDir::new(&a)).unwrap()
    );
    drop(t);

    let out = dir.path().join("out");
    let got = read_back(vec![(p.clone(), 2)], "/data/b", Some(&out)).unwrap();
    assert!(target::compare(&wb.files, &got).is_empty());
    same_tree(&b, &out);
    let got = read_back(vec![(p.clone(), 1)], "/data/a", None).unwrap();
    assert!(target::compare(&wa.files, &got).is_empty());
    // Asking for the wrong target at a file number is caught.
    let e = read_back(vec![(p, 1)], "/data/b", None).unwrap_err();
    assert!(e.to_string().contains("found part 0 of '/data/a'"), "{e}");
}

#[test]
fn tape_full_mid_target_continues_on_a_second_tape() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src, 3, &[900_000, 1_200_000, 10, 700_000]);
    let opts = FileTapeOptions {
        capacity: Some(1_500_000),
        early_warning: 200_000,
        ..FileTapeOptions::default()
    };
    let (p1, p2) = (dir.path().join("t1.tap"), dir.path().join("t2.tap"));
    let mut t1 = FileTape::create(&p1, opts.clone()).unwrap();
    let part0 = target::write_target(
        &mut t1,
        "big",
        &mut LocalDir::new(&src),
        None,
        &small_opts(),
    )
    .unwrap();
    assert!(!part0.complete);
    assert!(
        part0.stream_end > 1_000_000 && part0.stream_end < 1_400_000,
        "{part0:?}"
    );
    drop(t1);
    let mut t2 = FileTape::create(&p2, FileTapeOptions::default()).unwrap();
    let resume = Resume {
        part: 1,
        stream_offset: part0.stream_end,
    };
    let part1 = target::write_target(
        &mut t2,
        "big",
        &mut LocalDir::new(&src),
        Some(resume),
        &small_opts(),
    )
    .unwrap();
    assert!(part1.complete);
    assert_eq!(part1.stream_start, part0.stream_end);
    drop(t2);

    let out = dir.path().join("out");
    let got = read_back(vec![(p1.clone(), 0), (p2.clone(), 0)], "big", Some(&out)).unwrap();
    assert!(target::compare(&part1.files, &got).is_empty());
    same_tree(&src, &out);
    // Without the second tape the stream is cut, and that is an error.
    let e = read_back(vec![(p1.clone(), 0)], "big", None).unwrap_err();
    assert!(matches!(e, target::ReadError::Stream { .. }), "{e}");
    // Tapes in the wrong order are refused.
    let e = read_back(vec![(p2, 0), (p1, 0)], "big", None).unwrap_err();
    assert!(matches!(e, target::ReadError::WrongPart { .. }), "{e}");
}

#[test]
fn verify_catches_a_bad_record_and_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("one"), bytes(5, 400_000)).unwrap();
    std::fs::write(src.join("two"), bytes(6, 10)).unwrap();
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    let w =
        target::write_target(&mut t, "x", &mut LocalDir::new(&src), None, &small_opts()).unwrap();
    drop(t);
    let clean = std::fs::read(&p).unwrap();

    // Block 3 (after the header block) lies inside "one".
    mark_bad_record(&p, 0, 3).unwrap();
    let e = read_back(vec![(p.clone(), 0)], "x", None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("reading one") && msg.contains("unreadable record at file 0, block 3"),
        "{msg}"
    );

    std::fs::write(&p, &clean).unwrap();
    let loc = locate_record(&p, 0, 2).unwrap();
    let mut img = clean.clone();
    img[(loc.data_offset + 1000) as usize] ^= 0x01;
    std::fs::write(&p, &img).unwrap();
    let got = read_back(vec![(p.clone(), 0)], "x", None).unwrap();
    let bad = target::compare(&w.files, &got);
    assert_eq!(
        bad,
        [Mismatch::Content {
            name: b"one".to_vec(),
            what: "MD5"
        }]
    );
    assert_eq!(bad[0].to_string(), "one: MD5 differs");
}

#[test]
fn gnu_tar_extracts_a_tape_file_dumped_from_raw_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src, 9, &[1, 100_000, 2_000, 250_000, 0]);
    std::fs::write(src.join(format!("{}.long", "n".repeat(150))), b"long name").unwrap();
    let p = dir.path().join("t.tap");
    let mut t = tape(&p);
    t.write_block(b"first file").unwrap();
    t.write_filemarks(1, true).unwrap();
    target::write_target(&mut t, "src", &mut LocalDir::new(&src), None, &small_opts()).unwrap();
    let dump = dir.path().join("file1.tar");
    let mut f = std::fs::File::create(&dump).unwrap();
    let n = target::dump_tape_file(&mut t, 1, &mut f).unwrap();
    assert!(n > 350_000);
    drop(f);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&dump)
        .arg("-C")
        .arg(&out)
        .status()
        .expect("GNU tar runs");
    assert!(st.success());
    assert!(out.join(target::PART_MEMBER).exists());
    std::fs::remove_file(out.join(target::PART_MEMBER)).unwrap();
    same_tree(&src, &out);
}

#[test]
fn refused_block_size_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src, 4, &[300_000]);
    let p = dir.path().join("t.tap");
    let mut t = FileTape::create(
        &p,
        FileTapeOptions {
            max_block_size: 20 << 10,
            ..FileTapeOptions::default()
        },
    )
    .unwrap();
    let w =
        target::write_target(&mut t, "s", &mut LocalDir::new(&src), None, &small_opts()).unwrap();
    assert_eq!(w.block_size, 16 << 10);
    // Every data block is of the size fallen back to.
    assert_eq!(
        w.layout,
        tape_io::layout::PartLayout::uniform(0, 0, w.stream_end, 16 << 10)
    );
    drop(t);
    let got = read_back(vec![(p.clone(), 0)], "s", None).unwrap();
    assert!(target::compare(&w.files, &got).is_empty());
    assert!(locate_record(&p, 0, 5).unwrap().len <= 16 << 10);
}

#[test]
fn a_file_that_changes_while_archived_is_an_error() {
    struct Lying;
    impl target::TargetSource for Lying {
        fn visit(
            &mut self,
            f: &mut dyn FnMut(&target::FileMeta, &mut dyn std::io::Read) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            let meta = target::FileMeta {
                name: b"shrinking".to_vec(),
                size: 100,
                mode: 0o644,
                mtime: 0,
            };
            f(&meta, &mut &[0u8; 50][..])
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut t = tape(&dir.path().join("t.tap"));
    let e = target::write_target(&mut t, "l", &mut Lying, None, &small_opts()).unwrap_err();
    assert!(e.to_string().contains("shrinking: file shrank"), "{e}");
}

#[test]
fn members_escaping_the_target_are_refused() {
    for evil in [&b"../outside"[..], b"/etc/passwd", b"a/../../b"] {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..evil.len()].copy_from_slice(evil);
        h.set_size(3);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut stream = h.as_bytes().to_vec();
        stream.extend_from_slice(b"abc");
        stream.resize(512 * 4, 0);
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("out");
        let e = target::read_entries(
            &mut &stream[..],
            "t",
            Some(Extract {
                to: &to,
                only: None,
            }),
        )
        .unwrap_err();
        assert!(matches!(e, target::ReadError::UnsafePath { .. }), "{e}");
        assert!(!dir.path().join("outside").exists());
    }
}
