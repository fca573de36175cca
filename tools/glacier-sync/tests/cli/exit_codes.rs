//! One run per documented exit code class, each checking the code, that
//! the message names what it concerns, and the hint line.

use std::process::Output;

use crate::mt::{Env, make_tree, ok};
use crate::stderr;

fn expect(out: &Output, code: i32, names: &str, hint: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(names), "expected {names:?} in:\n{err}");
    assert!(
        err.contains(&format!("glacier-sync: hint: {hint}")),
        "expected the hint {hint:?} in:\n{err}"
    );
}

#[test]
fn usage_2_configuration_7() {
    let env = Env::local();
    let out = env.run(&["sync", "--no-such-option"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let vault = env.vault_spec();
    std::fs::create_dir(env.path("src")).unwrap();
    let sync = [
        "sync",
        "--dir",
        "src",
        "--vault",
        &vault,
        "--journal",
        "j.log",
    ];
    // A store location of an unknown kind is a usage error.
    let out = env.run(&["list-vaults", "--store", "ftp://example"]);
    expect(&out, 2, "ftp", "see `glacier-sync COMMAND --help`");
    let cfg = std::fs::read_to_string(env.path("glacier.cfg")).unwrap();
    std::fs::write(env.path("glacier.cfg"), format!("{cfg}colour=blue\n")).unwrap();
    let out = env.run(&sync);
    expect(&out, 7, "colour", "fix the configuration file");
    assert!(stderr(&out).contains("glacier.cfg"), "{}", stderr(&out));
}

#[test]
fn journal_3_not_ready_6_cost_5() {
    let env = Env::local();
    make_tree(&env);
    ok(&env.sync(&[]));
    let vault = env.vault_spec();
    {
        let _lock = journal::JournalWriter::open(env.path("journal.log")).unwrap();
        let out = env.sync(&[]);
        expect(&out, 3, "journal.log", "wait for the other glacier-sync");
    }
    let out = env.run(&[
        "download-inventory",
        "--vault",
        &vault,
        "--new-journal",
        "new.log",
    ]);
    expect(&out, 6, "photos", "rerun later");
    let out = env.run(&[
        "restore",
        "--dir",
        "back",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--max-number-of-files",
        "9",
        "--tier",
        "expedited",
        "--max-cost",
        "0",
    ]);
    expect(&out, 5, "--max-cost", "raise --max-cost");
}

#[test]
fn verification_8() {
    let env = Env::local();
    make_tree(&env);
    ok(&env.sync(&[]));
    std::fs::write(env.path("src/héllo wörld.txt"), b"changed bytes").unwrap();
    let out = env.run(&[
        "check-local-hash",
        "--dir",
        "src",
        "--journal",
        "journal.log",
    ]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(stderr(&out).contains("héllo wörld.txt"), "{}", stderr(&out));
}

/// Ctrl-C (SIGINT) in the middle of a sync: exit 130 at once, with the
/// hint; the rerun finishes the job with every file once.
#[test]
fn interrupted_130_then_rerun_goes_on() {
    let env = Env::local();
    std::fs::create_dir(env.path("src")).unwrap();
    for i in 0..6 {
        std::fs::write(
            env.path(&format!("src/file {i}.bin")),
            vec![u8::try_from(i).unwrap(); 400_000],
        )
        .unwrap();
    }
    let vault = env.vault_spec();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args([
            "sync",
            "--dir",
            "src",
            "--vault",
            &vault,
            "--journal",
            "journal.log",
            "--partsize",
            "1",
            "--max-rate",
            "500k",
        ])
        .current_dir(env.tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    expect(&out, 130, "interrupted", "rerun the same command");
    assert!(
        env.journal_state("journal.log").archive_count() < 6,
        "the sync finished before it was interrupted"
    );
    ok(&env.sync(&["--partsize", "1"]));
    assert_eq!(env.journal_state("journal.log").archive_count(), 6);
    assert_eq!(env.archive_count(), 6, "no duplicate archives");
}
