use crate::{Env, make_tree, tree};

#[test]
fn two_targets_on_one_tape_archived_confirmed_restored() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    make_tree(&env.path("data/a"), 1, 300_000);
    make_tree(&env.path("data/b"), 2, 100_000);
    let list = format!(
        "{}\n{}\n",
        env.path("data/a").display(),
        env.path("data/b").display()
    );
    std::fs::write(env.path("list.txt"), list).unwrap();
    let a = env.path("data/a").display().to_string();
    let b = env.path("data/b").display().to_string();

    env.ok(&["tapes"], 0);
    env.ok(&["import", "list.txt"], 0);
    env.ok(&["archive"], 1); // no tape online: an error
    env.ok(&["open_tape", "T1", "--serial", "S1", "--online"], 0);
    env.ok(&["archive"], 40); // nothing assigned
    let out = env.ok(&["assign"], 0);
    assert!(out.contains("2 targets assigned to T1"), "{out}");
    let out = env.ok(&["batch", "archive"], 0);
    assert!(
        out.contains("tape T1 file 1") && out.contains("tape T1 file 2"),
        "{out}"
    );
    env.ok(&["archive"], 40);
    let out = env.ok(&["tape-detail"], 0);
    assert!(
        out.contains(&a) && out.contains(&b) && out.contains("recorded"),
        "{out}"
    );

    let out = env.ok(&["confirm", "next"], 0);
    assert!(out.contains(&format!("{a}: 4 files verified")), "{out}");
    env.ok(&["confirm", "1"], 40); // already confirmed
    env.ok(&["confirm", "1", "--retry", "--no-db-update"], 0);
    env.ok(&["confirm", "--all"], 0);
    env.ok(&["confirm", "next"], 40);
    let out = env.ok(&["status"], 0);
    assert!(
        out.contains("confirmed") && out.contains("2 targets"),
        "{out}"
    );
    let out = env.ok(&["backup_info", "2"], 0);
    assert!(
        out.contains(&b) && out.contains("part 0:  tape T1 file 2"),
        "{out}"
    );

    let out = env.ok(&["where-is", "*.txt"], 0);
    assert!(
        out.contains("new\nline.txt\ttape T1 file 1 (part 0, confirmed)"),
        "{out}"
    );

    env.ok(&["restore", &b, "--to", "restored"], 0);
    assert_eq!(tree(&env.path("restored")), tree(&env.path("data/b")));
    env.ok(&["restore", "big file.bin", "--to", "one"], 0);
    let got = std::fs::read(env.path(&format!("one/{}/big file.bin", a.trim_start_matches('/'))))
        .unwrap();
    assert_eq!(got, std::fs::read(env.path("data/a/big file.bin")).unwrap());

    env.ok(&["dump-manifest", "manifests"], 0);
    let index = std::fs::read_to_string(env.path("manifests/index.tsv")).unwrap();
    assert!(index.contains(&a), "{index}");
    // The manifests check with coreutils.
    let md5 = std::fs::read_dir(env.path("manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "sha256") && p.to_string_lossy().contains("00001-")
        })
        .unwrap();
    let st = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("--quiet")
        .arg(&md5)
        .current_dir(env.path("data/a"))
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn tape_full_mid_target_continues_on_the_next_tape() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\nfile_tape_capacity = 3000000\n");
    make_tree(&env.path("big"), 3, 4_000_000);
    make_tree(&env.path("small"), 4, 10_000);
    env.ok(&["import", "--dirs", "big", "small"], 0);
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    let out = env.ok(&["batch", "archive"], 43);
    assert!(out.contains("tape T1 is full"), "{out}");
    env.ok(&["archive"], 40); // the full tape takes nothing more
    env.ok(&["open-tape", "T2", "--online"], 0);
    let out = env.ok(&["archive", "--all"], 0);
    assert!(out.contains("(part 1, from stream byte"), "{out}");
    let out = env.ok(&["where-is", "big"], 0);
    assert!(
        out.contains("tape T1 file 1 (part 0, recorded), tape T2 file 1 (part 1, recorded)"),
        "{out}"
    );
    // Confirm on T2: the big target (its first part on T1) and the small one.
    env.ok(&["confirm", "--all"], 0);
    env.ok(&["activate-tape", "T1"], 0);
    env.ok(&["confirm", "1", "--retry"], 0);
    env.ok(&["restore", "big", "--to", "out"], 0);
    assert_eq!(tree(&env.path("out")), tree(&env.path("big")));
}

#[test]
fn scan_rebuilds_a_lost_catalogue() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    make_tree(&env.path("d1"), 5, 50_000);
    make_tree(&env.path("d2"), 6, 70_000);
    env.ok(&["import", "--dirs", "d1", "d2"], 0);
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    env.ok(&["batch", "archive"], 0);
    std::fs::remove_file(env.path("catalogue.sqlite")).unwrap();
    let out = env.ok(&["scan", "T1"], 0);
    assert!(out.contains("2 tape files added"), "{out}");
    env.ok(&["activate-tape", "T1"], 0);
    env.ok(&["confirm", "--all"], 0);
    env.ok(&["restore", "d2", "--to", "out"], 0);
    assert_eq!(tree(&env.path("out")), tree(&env.path("d2")));
}

#[test]
fn gnu_tar_reads_a_tape_file_dumped_from_raw_blocks() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    make_tree(&env.path("d"), 7, 200_000);
    env.ok(&["import", "--dirs", "d"], 0);
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    env.ok(&["archive"], 0);
    let mut tape = tape_io::FileTape::open(
        &env.path("tapes/T1.tap"),
        tape_io::FileTapeOptions::default(),
    )
    .unwrap();
    let mut f = std::fs::File::create(env.path("file1.tar")).unwrap();
    tape_io::target::dump_tape_file(&mut tape, 1, &mut f).unwrap();
    drop(f);
    std::fs::create_dir(env.path("x")).unwrap();
    let st = std::process::Command::new("tar")
        .args(["-xf", "file1.tar", "-C", "x"])
        .current_dir(env.dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file(env.path(&format!("x/{}", tape_io::target::PART_MEMBER))).unwrap();
    assert_eq!(tree(&env.path("x")), tree(&env.path("d")));
    // And file 0 is the label, also a tar archive.
    let mut f = std::fs::File::create(env.path("label.tar")).unwrap();
    tape_io::target::dump_tape_file(&mut tape, 0, &mut f).unwrap();
    let out = std::process::Command::new("tar")
        .args(["-xOf", "label.tar"])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("name=T1"));
}

#[test]
fn stop_file_stops_between_steps() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    make_tree(&env.path("d1"), 5, 1000);
    env.ok(&["import", "--dirs", "d1"], 0);
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    std::fs::write(env.path("tape.stop"), b"").unwrap();
    env.ok(&["batch", "archive"], 41);
    std::fs::remove_file(env.path("tape.stop")).unwrap();
    env.ok(&["batch", "archive"], 0);
}

#[test]
fn selftest_on_a_file_tape() {
    let env = Env::new("");
    env.ok(&["selftest", "--device", "st.tap"], 1); // not on a terminal: needs --yes
    let out = env.ok(&["selftest", "--device", "st.tap", "--yes"], 0);
    assert!(
        out.contains("ok  space-back-files-and-records") && out.contains("self-test passed"),
        "{out}"
    );
}

#[test]
fn ctrl_c_finishes_the_current_step_then_exits_41() {
    use std::io::BufRead;
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    for i in 0..3 {
        make_tree(&env.path(&format!("d{i}")), 20 + i, 30_000_000);
    }
    env.ok(&["import", "--dirs", "d0", "d1", "d2"], 0);
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tape-op"))
        .args(["batch", "archive"])
        .current_dir(env.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("archiving"), "{first}");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(41), "{rest:?} {stderr}");
    assert!(stderr.contains("stop requested"), "{stderr}");
    // The step under way was finished cleanly and can be verified.
    let detail = env.ok(&["tape-detail"], 0);
    assert!(detail.contains("recorded"), "{detail}");
    env.ok(&["confirm", "--all"], 0);
    env.ok(&["batch", "archive"], 0);
}

/// `restore --query`: the files on tape a catalog search finds, verified
/// and byte-identical under their original paths; nothing found, or a
/// query that does not parse, is an error naming it (exit 1), nothing
/// written.
#[test]
fn restore_by_query() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    make_tree(&env.path("data/a"), 1, 300_000);
    let a = std::fs::canonicalize(env.path("data/a")).unwrap();
    env.ok(&["import", "--dirs", "data/a"], 0);
    env.ok(&["open_tape", "T1", "--serial", "S1", "--online"], 0);
    env.ok(&["assign"], 0);
    env.ok(&["archive"], 0);

    env.ok(&["restore", "--query", "big", "--to", "out"], 0);
    let root = env.path("out").join(a.strip_prefix("/").unwrap());
    let mut got = tree(&env.path("out"));
    assert_eq!(got.len(), 1, "only the match");
    let (name, bytes) = got.remove(0);
    assert!(
        name.ends_with(b"big file.bin"),
        "{}",
        String::from_utf8_lossy(&name)
    );
    assert_eq!(bytes, std::fs::read(a.join("big file.bin")).unwrap());
    assert!(root.join("big file.bin").is_file());

    let out = env.ok(&["restore", "--query", "nosuchword", "--to", "none"], 1);
    assert!(
        out.contains("no file on tape matches 'nosuchword'"),
        "{out}"
    );
    assert!(!env.path("none").join(a.strip_prefix("/").unwrap()).exists());
    let out = env.ok(&["restore", "--query", "size:>lots", "--to", "none"], 1);
    assert!(out.contains("query: "), "{out}");
    // A query and a target together are refused by the command line.
    env.ok(&["restore", "data/a", "--query", "big", "--to", "none"], 2);
}
