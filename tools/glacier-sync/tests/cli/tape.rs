//! Files on tape and in the cloud in one catalog: `tape-op` archives a tree
//! onto file-backed tapes (SIMH .tap images; the tree fills T1 and goes on
//! on T2) into catalog C, `glacier-sync archive` another into a local vault
//! with the same C; `find` and
//! `where-is` on C answer for both, naming the tape volume and the tape
//! file and block where each file starts, and `tape-op restore --query`
//! brings the tape files back byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::{run, stderr, stdout};

/// The tape-op binary beside glacier-sync's in the target directory.
fn tape_op_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_glacier-sync")).with_file_name("tape-op");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build -p tape-op)",
        bin.display()
    );
    bin
}

fn tape_op(dir: &Path, args: &[&str], code: i32) -> Output {
    let out = Command::new(tape_op_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tape-op runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "tape-op {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn gs(dir: &Path, args: &[&str], code: i32) -> Output {
    let out = run(dir, args, None);
    assert_eq!(
        out.status.code(),
        Some(code),
        "glacier-sync {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// The records of tape file `file` of a SIMH tape image.
fn tape_file(image: &[u8], file: u64) -> Vec<Vec<u8>> {
    let word = |at: usize| u32::from_le_bytes(image[at..at + 4].try_into().unwrap()) as usize;
    let (mut at, mut n, mut records) = (0, 0, Vec::new());
    while at + 4 <= image.len() {
        let len = word(at);
        if len == 0 {
            if n == file {
                return records;
            }
            n += 1;
            at += 4;
            continue;
        }
        assert!(len < 1 << 24, "a record length {len:#x} at {at}");
        if n == file {
            records.push(image[at + 4..at + 4 + len].to_vec());
        }
        at += 4 + len.next_multiple_of(2) + 4;
    }
    records
}

const BLOCK: usize = 65536;

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn files_on_tape_are_found_where_is_d_and_restored_by_query() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("sub dir")).unwrap();
    let files: [(&str, Vec<u8>); 4] = [
        ("big.bin", noise(1, 400_000)),
        ("report budget 2019.txt", b"alpha budget 2019\n".to_vec()),
        ("sub dir/budget notes.txt", noise(2, 70_000)),
        ("unrelated.dat", noise(3, 1000)),
    ];
    for (name, bytes) in &files {
        std::fs::write(data.join(name), bytes).unwrap();
    }
    std::fs::write(
        dir.join("tape.conf"),
        format!(
            "[default]\ndatabase_file = C.sqlite\ntape_device = tapes/{{tape}}.tap\nblock_size = {BLOCK}\nbuffer_size = 1048576\nfile_tape_capacity = 400000\n"
        ),
    )
    .unwrap();
    tape_op(&dir, &["import", "--dirs", "data"], 0);
    tape_op(&dir, &["open-tape", "T1", "--serial", "S1", "--online"], 0);
    tape_op(&dir, &["assign"], 0);
    tape_op(&dir, &["archive"], 43); // T1 is full inside big.bin
    tape_op(&dir, &["open-tape", "T2", "--serial", "S2", "--online"], 0);
    tape_op(&dir, &["archive"], 0);

    // A tree in the cloud (a local vault), in the same catalog.
    let cloud = dir.join("cloud");
    std::fs::create_dir_all(&cloud).unwrap();
    std::fs::write(cloud.join("budget cloud.txt"), b"in the cloud\n").unwrap();
    let vault = format!("file://{}/store/v", dir.display());
    gs(
        &dir,
        &[
            "archive",
            "cloud",
            "--vault",
            &vault,
            "--catalog",
            "C.sqlite",
        ],
        0,
    );

    // find: tape and cloud alike; a tape hit ends with its position.
    let out = gs(&dir, &["find", "--catalog", "C.sqlite", "budget"], 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let line_of = |name: &str| {
        let path = data.join(name).display().to_string();
        *lines
            .iter()
            .find(|l| l.starts_with(&format!("{path}\t")))
            .unwrap_or_else(|| panic!("{path} not found: {text}"))
    };
    // big.bin's header and 400,000 bytes come first, from T1's block 1 on;
    // T1 is full inside them, so the others start on T2 (the backup's
    // archive is in vault T1, the volume of its first part).
    let report = line_of("report budget 2019.txt");
    assert!(
        report.contains("\ttape/T1\ttape T2 file 1 block "),
        "{report}"
    );
    let big = stdout(&gs(&dir, &["find", "--catalog", "C.sqlite", "big.bin"], 0));
    assert!(
        big.trim_end().ends_with("\ttape T1 file 1 block 1"),
        "{big}"
    );
    let cloud_line = lines
        .iter()
        .find(|l| l.contains("budget cloud.txt"))
        .unwrap();
    assert!(!cloud_line.contains("\ttape "), "{cloud_line}");
    assert!(cloud_line.ends_with("/v"), "{cloud_line}");

    // --json carries the position; it is where the tar header of the file
    // lies in the tape image.
    let out = gs(
        &dir,
        &["--json", "find", "--catalog", "C.sqlite", "budget"],
        0,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut on_tape = 0;
    for h in v["hits"].as_array().unwrap() {
        let path = h["path"].as_str().unwrap();
        if path.contains("budget cloud") {
            assert!(h.get("tape").is_none(), "{h}");
            continue;
        }
        on_tape += 1;
        let t = &h["tape"];
        assert_eq!(t["volume"], "T2", "{h}");
        assert_eq!(t["file_number"], 1, "{h}");
        let block = usize::try_from(t["block"].as_u64().unwrap()).unwrap();
        let offset = usize::try_from(t["offset"].as_u64().unwrap()).unwrap();
        // The part header (block 0) says where in the stream block 1 starts.
        let image = std::fs::read(dir.join("tapes/T2.tap")).unwrap();
        let records = tape_file(&image, 1);
        assert_eq!(records[0].len(), BLOCK, "the part header block");
        let start: usize = String::from_utf8_lossy(&records[0])
            .lines()
            .find_map(|l| l.strip_prefix("stream_offset="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(start > 0 && offset >= start, "{h}: part 1 from {start}");
        assert_eq!(block, 1 + (offset - start) / BLOCK, "{h}");
        let at = (offset - start) % BLOCK;
        let name = path.strip_prefix(&format!("{}/", data.display())).unwrap();
        let header = &records[block][at..at + 100];
        assert!(
            header.starts_with(name.as_bytes()),
            "{path}: {:?}",
            String::from_utf8_lossy(header)
        );
        let human = line_of(name);
        assert!(
            human.ends_with(&format!("tape T2 file 1 block {block}")),
            "{human}"
        );
    }
    assert_eq!(on_tape, 2);

    // where-is, text and JSON.
    let notes = data.join("sub dir/budget notes.txt").display().to_string();
    let out = gs(&dir, &["where-is", "--catalog", "C.sqlite", &notes], 0);
    let text = stdout(&out);
    assert_eq!(
        text.lines().next().unwrap(),
        line_of("sub dir/budget notes.txt")
    );
    assert!(text.contains("\ttape T2 file 1 block "), "{text}");
    let out = gs(
        &dir,
        &["--json", "where-is", "--catalog", "C.sqlite", &notes],
        0,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["versions"][0]["tape"]["volume"], "T2", "{v}");
    assert_eq!(v["versions"][0]["store"], "tape", "{v}");

    // tape-op restore by the same query: byte-identical files, read from
    // those positions on T2; a query matching nothing on tape is an error.
    tape_op(&dir, &["restore", "--query", "budget", "--to", "back"], 0);
    let root = dir.join("back").join(data.strip_prefix("/").unwrap());
    for (name, bytes) in &files {
        let got = std::fs::read(root.join(name));
        if name.contains("budget") {
            assert_eq!(&got.unwrap(), bytes, "{name}");
        } else {
            assert!(got.is_err(), "{name} was not asked for");
        }
    }
    assert!(
        !dir.join("back")
            .join(cloud.strip_prefix("/").unwrap())
            .exists()
    );
    let out = tape_op(
        &dir,
        &["restore", "--query", "nosuchword", "--to", "none"],
        1,
    );
    assert!(
        stderr(&out).contains("no file on tape matches 'nosuchword'"),
        "{}",
        stderr(&out)
    );
}
