//! `config.toml`: found at `$XDG_CONFIG_HOME/permafrost/config.toml`,
//! `$PERMAFROST_CONFIG` or `--config FILE.toml`; its settings drive the
//! archive commands (the command line wins); `config show` tells where each
//! setting came from, with secrets masked; a bad file is exit 7.

use std::path::Path;
use std::process::{Command, Output};

use crate::{stderr, stdout};

/// Runs glacier-sync in `dir` with a clean configuration environment plus
/// `env`.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glacier-sync"));
    c.args(args)
        .current_dir(dir)
        .env_remove("PERMAFROST_CONFIG")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("PERMAFROST_HOME", dir.join("home"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run glacier-sync")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
}

/// A source tree and a config file at the default location.
fn setup(dir: &Path) {
    std::fs::create_dir_all(dir.join("src/docs")).unwrap();
    std::fs::write(dir.join("src/docs/résumé.pdf"), b"my resume").unwrap();
    std::fs::write(dir.join("src/notes.txt"), b"notes").unwrap();
    std::fs::create_dir_all(dir.join("xdg/permafrost")).unwrap();
    std::fs::write(
        dir.join("xdg/permafrost/config.toml"),
        format!(
            "# the machine's defaults\n\
             vault = \"file://{d}/store/mine\"\n\
             catalog = \"{d}/my.sqlite\"\n\
             max-files = 1\n\
             tags = [\"configured\", \"twice\"]\n\
             key = \"AKIDEXAMPLE\"\n\
             secret = \"wJalrXUtnFEMI-not-shown\"\n\
             \n\
             [retrieve]\n\
             tier = \"bulk\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
}

fn setting<'a>(show: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    show["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {show}"))
}

#[test]
fn a_config_file_drives_archive_with_no_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    ok(&run_env(d, &["archive", "src"], &[]));
    // The vault and catalog of the file, not the data directory's.
    assert!(d.join("my.sqlite").is_file());
    assert!(!d.join("home/catalog.sqlite").exists());
    let bundles = std::fs::read_dir(d.join("store/mine/archives"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "data")
        })
        .count();
    // max-files = 1: two files (and their directories) in several
    // bundles, plus the run's catalog export.
    assert!(bundles >= 3, "{bundles} archives");
    let found = ok(&run_env(d, &["find", "tag:configured"], &[]));
    assert!(found.contains("notes.txt"), "{found}");
}

/// The files under `dir` whose name is `name`.
fn find_named(dir: &Path, name: &str, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            find_named(&p, name, out);
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
}

/// The file's recipient, bundle size and identity: `archive DIR` with no
/// flags writes age-encrypted bundles of at most that size, and
/// `retrieve` decrypts with the identity the file names.
#[test]
fn a_config_file_sets_encryption_bundle_size_and_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (identity, recipient) = bundler::generate_x25519();
    std::fs::write(d.join("key.txt"), format!("{identity}\n")).unwrap();
    std::fs::create_dir_all(d.join("src")).unwrap();
    let report: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(d.join("src/report.bin"), &report).unwrap();
    std::fs::write(d.join("src/other.bin"), vec![b'x'; 3000]).unwrap();
    std::fs::create_dir_all(d.join("xdg/permafrost")).unwrap();
    std::fs::write(
        d.join("xdg/permafrost/config.toml"),
        format!(
            "vault = \"file://{d}/store/sealed\"\n\
             catalog = \"{d}/sealed.sqlite\"\n\
             encrypt-to = [\"{recipient}\"]\n\
             max-bundle-size = \"2k\"\n\
             \n\
             [retrieve]\n\
             identity = \"{d}/key.txt\"\n",
            d = d.display()
        ),
    )
    .unwrap();
    ok(&run_env(d, &["archive", "src"], &[]));
    let data: Vec<Vec<u8>> = std::fs::read_dir(d.join("store/sealed/archives"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let sealed = data
        .iter()
        .filter(|b| b.starts_with(b"age-encryption.org/v1\n"))
        .count();
    // Each 3000-byte file is larger than 2k: a bundle of its own, both
    // encrypted; nothing readable of the files is in the store.
    assert!(sealed >= 2, "{sealed} encrypted of {} archives", data.len());
    assert!(
        !data
            .iter()
            .any(|b| b.windows(64).any(|w| w == &report[..64])),
        "the file's bytes are in the store in clear"
    );
    let o = run_env(
        d,
        &["retrieve", "report", "--to", "out", "--yes", "--wait"],
        &[],
    );
    ok(&o);
    let mut got = Vec::new();
    find_named(&d.join("out"), "report.bin", &mut got);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(std::fs::read(&got[0]).unwrap(), report);
}

#[test]
fn config_show_names_every_source_and_masks_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    let o = run_env(
        d,
        &[
            "--json",
            "config",
            "show",
            "archive",
            "--max-files",
            "3",
            "src",
        ],
        &[],
    );
    let text = ok(&o);
    assert!(!text.contains("wJalrXUtnFEMI"), "the secret shows: {text}");
    let show: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(setting(&show, "max-files")["value"], "3");
    assert_eq!(setting(&show, "max-files")["source"], "flag");
    assert!(
        setting(&show, "vault")["source"]
            .as_str()
            .unwrap()
            .starts_with("file ("),
        "{show}"
    );
    assert_eq!(setting(&show, "tags")["value"], "configured,twice");
    assert_eq!(setting(&show, "compress")["value"], "zstd");
    assert_eq!(setting(&show, "compress")["source"], "default");
    assert_eq!(setting(&show, "secret")["value"], "********");
    assert_eq!(setting(&show, "key")["value"], "AKID********");
    // Per-command table: retrieve's tier comes from [retrieve].
    let show: serde_json::Value = serde_json::from_str(&ok(&run_env(
        d,
        &["--json", "config", "show", "retrieve", "x", "--to", "out"],
        &[],
    )))
    .unwrap();
    assert_eq!(setting(&show, "tier")["value"], "bulk");
    // Without a file: the data directory from the environment.
    std::fs::remove_file(d.join("xdg/permafrost/config.toml")).unwrap();
    let text = ok(&run_env(d, &["config", "show"], &[]));
    assert!(text.contains("config file: none"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("catalog") && l.ends_with("[environment (PERMAFROST_HOME)]")),
        "{text}"
    );
}

#[test]
fn the_flag_and_the_variable_choose_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    let other = d.join("other.toml");
    std::fs::write(&other, "max-files = 42\n").unwrap();
    let third = d.join("third.toml");
    std::fs::write(&third, "max-files = 43\n").unwrap();
    let show = |args: &[&str], env: &[(&str, &Path)]| -> serde_json::Value {
        let mut a = vec!["--json", "config", "show"];
        a.extend(args);
        serde_json::from_str(&ok(&run_env(d, &a, env))).unwrap()
    };
    let s = show(&[], &[("PERMAFROST_CONFIG", &other)]);
    assert_eq!(setting(&s, "max-files")["value"], "42");
    let third_s = third.to_str().unwrap();
    let s = show(
        &["archive", "--config", third_s],
        &[("PERMAFROST_CONFIG", &other)],
    );
    assert_eq!(setting(&s, "max-files")["value"], "43");
    assert_eq!(s["config_file"], third_s);
}

#[test]
fn a_bad_config_file_is_exit_7_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    setup(d);
    let bad = d.join("bad.toml");
    for (text, message) in [
        ("colour = \"blue\"\n", "unknown setting 'colour'"),
        (
            "[archive]\ntier = \"bulk\"\n",
            "unknown setting 'tier' in [archive]",
        ),
        ("[archive]\nall = \"yes\"\n", "'all' is a flag"),
        ("vault = \n", "is not valid TOML"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let o = run_env(d, &["archive", "src"], &[("PERMAFROST_CONFIG", &bad)]);
        assert_eq!(o.status.code(), Some(7), "{text}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{text}: {}", stderr(&o));
        assert!(stderr(&o).contains("bad.toml"), "{}", stderr(&o));
    }
    let o = run_env(
        d,
        &["archive", "src"],
        &[("PERMAFROST_CONFIG", &d.join("missing.toml"))],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.toml"));
    // The mt-aws-glacier commands keep their own file.
    let o = run_env(
        d,
        &[
            "sync",
            "--config",
            "bad.toml",
            "--dir",
            "src",
            "--vault",
            "v",
            "--journal",
            "j",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("sync does not read config.toml"));
}
