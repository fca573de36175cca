//! Member positions: the offsets recorded while writing, the same offsets
//! computed from names and sizes alone, and reading one member by seeking
//! to its tape file and block, across a target continued on a second tape.

use std::path::{Path, PathBuf};

use tape_io::layout::{self, PartLayout};
use tape_io::target::{self, Extract, LocalDir, Resume, TargetStream, WriteOptions};
use tape_io::{FileTape, FileTapeOptions, TapeDevice, TapeError};

use crate::bytes;

fn opts() -> WriteOptions {
    WriteOptions {
        block_size: 16 << 10,
        fallback_block_sizes: vec![8 << 10],
        buffer_size: 1 << 20,
        start_fill: 0.8,
    }
}

/// Names of 99 to 102 bytes and longer (GNU long-name headers begin at
/// 100), among files of all sizes.
fn make_tree(root: &Path) -> Vec<(Vec<u8>, usize)> {
    std::fs::create_dir_all(root.join("d")).unwrap();
    let mut made = Vec::new();
    for (i, len) in [97usize, 98, 99, 100, 101, 150, 3].into_iter().enumerate() {
        let name = format!("{i}{}", "n".repeat(len - 1));
        let size = [0, 1, 511, 512, 513, 300_000, 90_000][i];
        std::fs::write(root.join("d").join(&name), bytes(i as u64, size)).unwrap();
        made.push((format!("d/{name}").into_bytes(), size));
    }
    made
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

#[test]
fn offsets_written_equal_offsets_computed_and_each_member_reads_from_its_block() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let made = make_tree(&src);
    let tapes = [dir.path().join("t1.tap"), dir.path().join("t2.tap")];
    let mut t1 = FileTape::create(
        &tapes[0],
        FileTapeOptions {
            capacity: Some(250_000),
            early_warning: 40_000,
            ..FileTapeOptions::default()
        },
    )
    .unwrap();
    let part0 =
        target::write_target(&mut t1, "t", &mut LocalDir::new(&src), None, &opts()).unwrap();
    assert!(!part0.complete && part0.members.is_empty());
    drop(t1);
    let mut t2 = FileTape::create(&tapes[1], FileTapeOptions::default()).unwrap();
    let resume = Resume {
        part: 1,
        stream_offset: part0.stream_end,
    };
    let part1 = target::write_target(
        &mut t2,
        "t",
        &mut LocalDir::new(&src),
        Some(resume),
        &opts(),
    )
    .unwrap();
    assert!(part1.complete);
    drop(t2);
    assert_eq!(part1.members.len(), made.len());
    assert_eq!(
        part0.layout,
        PartLayout::uniform(0, 0, part0.stream_end, 16 << 10)
    );
    assert_eq!(part1.layout.stream_start, part0.stream_end);

    // The offsets recorded while writing are those the headers alone give.
    let written: Vec<u64> = part1.members.iter().map(|m| m.offset).collect();
    let names: Vec<(&[u8], u64)> = part1.files.iter().map(|f| (&f.name[..], f.size)).collect();
    let (computed, end) = layout::member_offsets(names).unwrap();
    assert_eq!(written, computed);
    assert_eq!(end, part1.stream_end);

    // Every member, read from its own block (on the tape that holds its
    // header, going on to the next when it runs over), alone.
    let parts = [part0.layout.clone(), part1.layout.clone()];
    let mut seen_on = [0, 0];
    for (f, m) in part1.files.iter().zip(&part1.members) {
        let at = layout::locate(&parts, m.offset).unwrap();
        seen_on[at.part] += 1;
        let on = vec![(tapes[0].clone(), 0), (tapes[1].clone(), 0)];
        let mut s = TargetStream::starting_at(
            "t",
            u32::try_from(at.part).unwrap(),
            at.block,
            at.block_start,
            opener(on),
        )
        .unwrap();
        std::io::copy(
            &mut std::io::Read::take(&mut s, m.offset - at.block_start),
            &mut std::io::sink(),
        )
        .unwrap();
        let out = dir.path().join("out");
        let only = vec![f.name.clone()];
        let got = target::read_members(
            &mut s,
            "t",
            Some(Extract {
                to: &out,
                only: Some(&only),
            }),
            m.offset,
        )
        .unwrap();
        assert_eq!(got.len(), 1, "{}", f.display_name());
        assert_eq!(got[0].record, *f);
        assert_eq!(got[0].offset, m.offset);
        let path = out.join(std::ffi::OsStr::new(&f.display_name()));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(src.join(path.strip_prefix(&out).unwrap())).unwrap()
        );
    }
    assert!(seen_on[0] > 0 && seen_on[1] > 0, "{seen_on:?}");

    // Reading the whole stream gives the same offsets, modes and mtimes.
    let mut s = TargetStream::new(
        "t",
        opener(vec![(tapes[0].clone(), 0), (tapes[1].clone(), 0)]),
    )
    .unwrap();
    let all = target::read_members(&mut s, "t", None, 0).unwrap();
    let read: Vec<u64> = all.iter().map(|m| m.offset).collect();
    assert_eq!(read, written);
    for (r, w) in all.iter().zip(&part1.members) {
        assert_eq!((r.mode, r.mtime), (w.mode, w.mtime));
    }
}

#[test]
fn a_position_inside_the_header_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src);
    let p = dir.path().join("t.tap");
    let mut t = FileTape::create(&p, FileTapeOptions::default()).unwrap();
    target::write_target(&mut t, "t", &mut LocalDir::new(&src), None, &opts()).unwrap();
    drop(t);
    let e = TargetStream::starting_at("t", 0, 0, 0, opener(vec![(p.clone(), 0)])).unwrap_err();
    assert!(e.to_string().contains("block 0"), "{e}");
    // Another target's name is refused as from the start.
    let e = TargetStream::starting_at("u", 0, 2, 16 << 10, opener(vec![(p, 0)])).unwrap_err();
    assert!(matches!(e, target::ReadError::WrongPart { .. }), "{e}");
}
