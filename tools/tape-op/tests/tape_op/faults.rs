use crate::{Env, make_tree};

fn archived(env: &Env) {
    make_tree(&env.path("d"), 8, 500_000);
    env.ok(&["import", "--dirs", "d"], 0);
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    env.ok(&["archive"], 0);
}

#[test]
fn confirm_catches_an_injected_bad_record() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    archived(&env);
    // Block 3 of tape file 1 lies inside "big file.bin" (the first member).
    tape_io::simh::mark_bad_record(&env.path("tapes/T1.tap"), 1, 3).unwrap();
    let out = env.ok(&["confirm", "next"], 44);
    assert!(
        out.contains("big file.bin") && out.contains("unreadable record at file 1, block 3"),
        "{out}"
    );
    let out = env.ok(&["tape-detail"], 0);
    assert!(out.contains("failed"), "{out}");
}

#[test]
fn confirm_catches_a_flipped_byte_and_names_the_file() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    archived(&env);
    let p = env.path("tapes/T1.tap");
    let loc = tape_io::simh::locate_record(&p, 1, 4).unwrap();
    let mut img = std::fs::read(&p).unwrap();
    img[(loc.data_offset + 777) as usize] ^= 0x40;
    std::fs::write(&p, img).unwrap();
    let out = env.ok(&["confirm", "1"], 44);
    assert!(out.contains("big file.bin: MD5 differs"), "{out}");
    assert!(out.contains("1 files do not match"), "{out}");
    env.ok(&["restore", "d", "--to", "out"], 44);
}

#[test]
fn a_tape_with_another_label_is_never_written() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    archived(&env);
    // T2's image is a copy of T1 (labelled T1).
    std::fs::copy(env.path("tapes/T1.tap"), env.path("tapes/T2.tap")).unwrap();
    let before = std::fs::read(env.path("tapes/T2.tap")).unwrap();
    make_tree(&env.path("e"), 9, 1000);
    env.ok(&["import", "--dirs", "e"], 0);
    env.ok(&["open-tape", "T2", "--online"], 0);
    env.ok(&["assign"], 0);
    let out = env.ok(&["archive"], 42);
    assert!(out.contains("labelled 'T1'"), "{out}");
    assert_eq!(std::fs::read(env.path("tapes/T2.tap")).unwrap(), before);
}

#[test]
fn corrupt_or_foreign_database_is_a_clear_error() {
    let env = Env::new("");
    std::fs::write(
        env.path("catalogue.sqlite"),
        b"this is not sqlite at all, just text that is long enough",
    )
    .unwrap();
    let out = env.ok(&["tapes"], 1);
    assert!(
        out.contains("catalogue.sqlite is not a SQLite database"),
        "{out}"
    );
    std::fs::remove_file(env.path("catalogue.sqlite")).unwrap();
    let c = rusqlite::Connection::open(env.path("catalogue.sqlite")).unwrap();
    c.execute_batch("CREATE TABLE other (x)").unwrap();
    drop(c);
    let out = env.ok(&["tapes"], 1);
    assert!(out.contains("another program"), "{out}");
}

#[test]
fn source_changed_since_import_fails_the_archive() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    make_tree(&env.path("d"), 8, 5000);
    env.ok(&["import", "--dirs", "d"], 0);
    std::fs::write(env.path("d/empty"), b"not empty any more").unwrap();
    env.ok(&["open-tape", "T1", "--online"], 0);
    env.ok(&["assign"], 0);
    let out = env.ok(&["archive"], 42);
    assert!(
        out.contains("changed since import") && out.contains("empty: size differs"),
        "{out}"
    );
}

/// Issue 20: `confirm --all --retry` printed nothing and exited 0 on a
/// corrupted tape, while `confirm 1 --retry` failed. It checks every tape,
/// prints a line per tape and fails the same way.
#[test]
fn confirm_all_retry_checks_every_tape_and_fails_on_a_corrupted_one() {
    let env = Env::new("block_size = 65536\nbuffer_size = 1048576\n");
    archived(&env);
    make_tree(&env.path("e"), 9, 2000);
    env.ok(&["import", "--dirs", "e"], 0);
    env.ok(&["open-tape", "T2", "--online"], 0);
    env.ok(&["assign"], 0);
    env.ok(&["archive"], 0);
    let out = env.ok(&["confirm", "--all"], 0);
    assert!(
        out.contains("tape T1: 1 backups checked, 1 verified, 0 failed")
            && out.contains("tape T2: 1 backups checked, 1 verified, 0 failed"),
        "{out}"
    );
    // Everything is confirmed: nothing to do without --retry.
    let out = env.ok(&["confirm", "--all"], 0);
    assert!(out.contains("nothing to confirm"), "{out}");

    let p = env.path("tapes/T1.tap");
    let loc = tape_io::simh::locate_record(&p, 1, 4).unwrap();
    let mut img = std::fs::read(&p).unwrap();
    img[(loc.data_offset + 777) as usize] ^= 0x40;
    std::fs::write(&p, img).unwrap();

    env.ok(&["activate-tape", "T1"], 0);
    let single = env.ok(&["confirm", "1", "--retry", "--no-db-update"], 44);
    assert!(single.contains("big file.bin: MD5 differs"), "{single}");
    let out = env.ok(&["confirm", "--all", "--retry", "--no-db-update"], 44);
    assert!(out.contains("big file.bin: MD5 differs"), "{out}");
    assert!(
        out.contains("tape T1: 1 backups checked, 0 verified, 1 failed")
            && out.contains("tape T2: 1 backups checked, 1 verified, 0 failed")
            && out.contains("1 of 2 backups did not confirm: d (tape T1)"),
        "{out}"
    );
    // --no-db-update changed nothing: T1's backup is still confirmed.
    let detail = env.ok(&["tape-detail", "T1"], 0);
    assert!(detail.contains("confirmed"), "{detail}");
    // Without it the failure is recorded, and `restore` says so too.
    env.ok(&["confirm", "--all", "--retry"], 44);
    let detail = env.ok(&["tape-detail", "T1"], 0);
    assert!(detail.contains("failed"), "{detail}");
    let detail = env.ok(&["tape-detail", "T2"], 0);
    assert!(detail.contains("confirmed"), "{detail}");
}
