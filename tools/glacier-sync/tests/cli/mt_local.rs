//! The mt-aws-glacier commands against the local directory store.

use crate::mt::{
    Env, bad_input, check_local_hash_catches_damage, filters_and_part_size, killed_sync_resumes,
    mt_aws_glacier_journal_as_is, round_trip, sync_modes, upload_file,
};

#[test]
fn local_round_trip() {
    round_trip(&Env::local());
}

#[test]
fn local_sync_modes() {
    sync_modes(&Env::local());
}

#[test]
fn local_check_local_hash_catches_damage() {
    check_local_hash_catches_damage(&Env::local());
}

#[test]
fn local_killed_sync_resumes() {
    killed_sync_resumes(&Env::local());
}

#[test]
fn local_mt_aws_glacier_journal_as_is() {
    mt_aws_glacier_journal_as_is(&Env::local());
}

#[test]
fn local_bad_input() {
    bad_input(&Env::local());
}

#[test]
fn local_upload_file() {
    upload_file(&Env::local());
}

#[test]
fn local_filters_and_part_size() {
    filters_and_part_size(&Env::local());
}

/// `--store file:///DIR?job_delay=S --vault NAME`: jobs take time like
/// Glacier's; restore-completed without --wait downloads nothing yet and
/// says how many are running, with --wait it polls until they finish.
#[test]
fn local_restore_completed_waits_for_slow_jobs() {
    let env = Env::local();
    crate::mt::make_tree(&env);
    crate::mt::ok(&env.sync(&[]));
    let store = format!("file://{}?job_delay=1.5", env.path("store").display());
    let common = [
        "--store",
        &store,
        "--vault",
        crate::mt::VAULT,
        "--journal",
        "journal.log",
        "--dir",
        "back",
    ];
    std::fs::create_dir(env.path("back")).unwrap();
    let mut a = vec!["restore", "--max-number-of-files", "2"];
    a.extend(common);
    crate::mt::ok(&env.run(&a));
    let mut a = vec!["restore-completed", "--json"];
    a.extend(common);
    let v: serde_json::Value = serde_json::from_str(&crate::mt::ok(&env.run(&a))).unwrap();
    assert_eq!(
        (v["restored"].as_u64(), v["pending"].as_u64()),
        (Some(0), Some(2)),
        "{v}"
    );
    a.extend(["--wait", "--poll-interval", "0.3"]);
    let v: serde_json::Value = serde_json::from_str(&crate::mt::ok(&env.run(&a))).unwrap();
    assert_eq!(
        (v["restored"].as_u64(), v["pending"].as_u64()),
        (Some(2), Some(0)),
        "{v}"
    );
    assert_eq!(crate::mt::tree(&env.path("back")).len(), 2);
}

/// `--max-rate` holds the transfer to about that rate (a lower bound on
/// the time taken; never an upper one).
#[test]
fn local_max_rate_limits_uploads() {
    let env = Env::local();
    std::fs::create_dir(env.path("src")).unwrap();
    std::fs::write(env.path("src/two mib"), vec![7u8; 2 << 20]).unwrap();
    let start = std::time::Instant::now();
    crate::mt::ok(&env.sync(&["--max-rate", "1M", "--partsize", "1"]));
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
}

/// Symbolic links are followed only with --follow; -q silences messages.
#[test]
fn local_follow_and_quiet() {
    let env = Env::local();
    std::fs::create_dir_all(env.path("src")).unwrap();
    std::fs::write(env.path("outside.txt"), b"outside").unwrap();
    std::os::unix::fs::symlink(env.path("outside.txt"), env.path("src/link.txt")).unwrap();
    std::fs::write(env.path("src/plain.txt"), b"plain").unwrap();
    let out = crate::mt::ok(&env.sync(&["--dry-run"]));
    assert_eq!(out, "would upload plain.txt\n");
    let out = crate::mt::ok(&env.sync(&["--dry-run", "--follow"]));
    assert_eq!(out, "would upload link.txt\nwould upload plain.txt\n");
    let out = env.sync(&["--follow", "-q"]);
    crate::mt::ok(&out);
    assert_eq!(crate::stderr(&out), "");
    assert_eq!(env.journal_state("journal.log").archive_count(), 2);
}

/// On a terminal (util-linux `script` gives one) the upload shows a bar
/// with rate and ETA; with `--json`, or when standard error is a pipe, it
/// shows none.
#[test]
fn local_progress_on_a_terminal_only() {
    let env = Env::local();
    std::fs::create_dir(env.path("src")).unwrap();
    std::fs::write(env.path("src/three mib"), vec![9u8; 3 << 20]).unwrap();
    let on_tty = |extra: &str, journal: &str| -> String {
        let cmd = format!(
            "'{}' sync --dir src --vault '{}' --journal {journal} --partsize 1 --max-rate 2M {extra}",
            env!("CARGO_BIN_EXE_glacier-sync"),
            env.vault_spec()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(env.tmp.path())
            .output()
            .expect("util-linux `script` is needed to test the terminal progress bar");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_tty("", "a.log");
    assert!(
        shown.contains("three mib") && shown.contains("/s ETA"),
        "{shown}"
    );
    let json = on_tty("--json", "b.log");
    assert!(!json.contains("ETA"), "{json}");
    let piped = env.sync(&["--journal", "c.log", "--max-rate", "4M", "--partsize", "1"]);
    assert!(
        !crate::stderr(&piped).contains("ETA"),
        "{}",
        crate::stderr(&piped)
    );
}

/// `restore --dir D` and `restore-completed --dir D` create a missing `D`
/// (mt-aws-glacier does) and say so; `--dry-run` creates nothing and says
/// it would; a `D` that is a file is refused (exit 2).
#[test]
fn local_restore_creates_a_missing_dir() {
    let env = Env::local();
    crate::mt::make_tree(&env);
    crate::mt::ok(&env.sync(&[]));
    let vault = env.vault_spec();
    let restore = |dir: &str, extra: &[&str]| {
        let mut a = vec![
            "restore",
            "--dir",
            dir,
            "--vault",
            &vault,
            "--journal",
            "journal.log",
            "--max-number-of-files",
            "100",
        ];
        a.extend(extra);
        env.run(&a)
    };
    let out = restore("new/back", &["--dry-run"]);
    crate::mt::ok(&out);
    assert!(
        crate::stderr(&out).contains("new/back does not exist"),
        "{}",
        crate::stderr(&out)
    );
    assert!(!env.path("new").exists());
    let out = restore("new/back", &[]);
    crate::mt::ok(&out);
    assert!(
        crate::stderr(&out).contains("created directory new/back"),
        "{}",
        crate::stderr(&out)
    );
    assert!(env.path("new/back").is_dir());
    assert!(
        crate::stdout(&out).contains("requested"),
        "{}",
        crate::stdout(&out)
    );
    let out = env.run(&[
        "restore-completed",
        "--dir",
        "other",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
    ]);
    crate::mt::ok(&out);
    assert!(
        crate::stderr(&out).contains("created directory other"),
        "{}",
        crate::stderr(&out)
    );
    // Every file but the empty one (Glacier has no empty archives).
    let mut want = crate::mt::tree(&env.path("src"));
    want.retain(|_, (size, _, _)| *size > 0);
    assert_eq!(crate::mt::tree(&env.path("other")), want);
    std::fs::write(env.path("a file"), b"x").unwrap();
    let out = restore("a file", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
    assert!(crate::stderr(&out).contains("not a directory"));
}
