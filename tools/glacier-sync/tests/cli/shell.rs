//! Shell completions (loaded in bash, completing subcommands, their
//! options and values) and man pages (written, rendered by `man -l`).

use std::path::Path;
use std::process::Command;

use crate::{run, stderr, stdout};

/// What bash's completion offers for `words` (the last is being typed),
/// with the script `glacier-sync completions bash` prints loaded.
fn complete_in_bash(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let n = words.len();
    let program = format!(
        "source '{}'\n\
         f=$(complete -p glacier-sync | sed -E 's/.*-F ([^ ]+) .*/\\1/')\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         \"$f\" glacier-sync '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        n - 1,
        words[n - 1],
        words[n - 2],
    );
    let o = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_options_and_values() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(tmp.path(), &["completions", "bash"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = tmp.path().join("glacier-sync.bash");
    std::fs::write(&script, &o.stdout).unwrap();
    assert_eq!(
        complete_in_bash(&script, &["glacier-sync", "arch"]),
        ["archive"]
    );
    assert_eq!(
        complete_in_bash(&script, &["glacier-sync", "catalog", "re"]),
        ["rebuild"]
    );
    let opts = complete_in_bash(&script, &["glacier-sync", "archive", "--comp"]);
    assert_eq!(opts, ["--compress"]);
    let mut values = complete_in_bash(&script, &["glacier-sync", "archive", "--compress", ""]);
    values.sort();
    assert_eq!(values, ["gzip", "none", "zstd"]);
}

#[test]
fn every_shell_gets_a_script() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(tmp.path(), &["completions", shell], None);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(
            script.contains("archive") && script.contains("restore-completed"),
            "{shell}: {script}"
        );
    }
    let o = run(tmp.path(), &["completions", "tcsh"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_pages_for_the_tool_and_every_subcommand_render() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man");
    let o = run(tmp.path(), &["generate-man", dir.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    for page in [
        "glacier-sync.1",
        "glacier-sync-archive.1",
        "glacier-sync-sync.1",
        "glacier-sync-catalog.1",
        "glacier-sync-catalog-rebuild.1",
        "glacier-sync-completions.1",
    ] {
        let path = dir.join(page);
        assert!(path.is_file(), "{page} missing");
        let o = Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man (man-db; scripts/services/tools installs it) renders the pages");
        assert!(
            o.status.success(),
            "{page}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        let name = page.trim_end_matches(".1");
        assert!(
            text.contains("NAME") && text.contains(name),
            "{page}: {text}"
        );
    }
    // The hidden command has no page of its own.
    assert!(!dir.join("glacier-sync-generate-man.1").exists());
    let top = std::fs::read_to_string(dir.join("glacier-sync.1")).unwrap();
    assert!(
        top.contains("archive") && top.contains("Exit codes"),
        "{top}"
    );
}

/// The README's install step for the pages: in `~/.cargo/share/man/man1`,
/// `man NAME` finds them with only `~/.cargo/bin` (where `cargo install`
/// puts the tools) on `PATH`, no `MANPATH`.
#[test]
fn man_finds_pages_installed_beside_cargo_bin() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let pages = home.join(".cargo/share/man/man1");
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    let o = run(tmp.path(), &["generate-man", pages.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = format!("{}:/usr/bin:/bin", home.join(".cargo/bin").display());
    let o = Command::new("man")
        .args(["-w", "glacier-sync-archive"])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", &path)
        .output()
        .expect("man (man-db) runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        pages.join("glacier-sync-archive.1").to_str().unwrap()
    );
}
