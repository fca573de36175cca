//! The README and `--help` say only what is so: every tool the README lists
//! exists, the stores help and README name are the ones `--version` lists,
//! and every `sh` block of the READMEs that needs no network runs and
//! succeeds against the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, stderr, stdout};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The READMEs a user reads first: the root one and each tool's.
fn readmes() -> Vec<(String, String)> {
    let mut out = vec![("README.md".to_owned(), read("README.md"))];
    let mut tools: Vec<_> = std::fs::read_dir(root().join("tools"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    tools.sort();
    for t in tools {
        let rel = format!("tools/{t}/README.md");
        if root().join(&rel).is_file() {
            out.push((rel.clone(), read(&rel)));
        }
    }
    out
}

/// `glacier-sync --help`, and `--help` of every subcommand (and of theirs).
fn all_help(dir: &Path) -> String {
    let mut text = String::new();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = run(dir, &args, None);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let help = stdout(&o);
        // The "Commands:" section lists the subcommands, two spaces in.
        let mut in_commands = false;
        for line in help.lines() {
            if line == "Commands:" {
                in_commands = true;
                continue;
            }
            if in_commands {
                let Some(name) = line.strip_prefix("  ").and_then(|l| l.split(' ').next()) else {
                    in_commands = false;
                    continue;
                };
                if !name.is_empty() && name != "help" {
                    let mut sub = path.clone();
                    sub.push(name.to_owned());
                    todo.push(sub);
                }
            }
        }
        text.push_str(&help);
    }
    text
}

#[test]
fn the_readme_lists_every_tool_and_only_tools_that_exist() {
    let readme = read("README.md");
    // The intro's list: lines "- `NAME`: ..." before the first section.
    let intro = &readme[..readme.find("\n## ").expect("a section")];
    let listed: Vec<&str> = intro
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once("`:").map(|(name, _)| name))
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(root().join("tools"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|t| t != "xtask")
        .collect();
    present.sort();
    let mut listed_sorted: Vec<String> = listed.iter().map(|s| (*s).to_owned()).collect();
    listed_sorted.sort();
    assert_eq!(
        listed_sorted, present,
        "the README's list of tools must be the directories of tools/"
    );
    for t in &present {
        assert!(
            readme.contains(&format!("cargo install --locked --path tools/{t}\n")),
            "the README's install section lacks {t}"
        );
    }
}

#[test]
fn help_and_readme_name_only_stores_this_build_has() {
    let tmp = tempfile::tempdir().unwrap();
    let version = run(tmp.path(), &["--version"], None);
    assert!(version.status.success());
    let version = stdout(&version);
    assert!(
        version.starts_with(&format!("glacier-sync {}\n", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let stores: Vec<&str> = version
        .lines()
        .skip_while(|l| *l != "stores:")
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(stores.contains(&"file://"), "{version}");
    let mut text = all_help(tmp.path());
    for (_, r) in readmes() {
        text.push_str(&r);
    }
    text.push_str(&read("tools/glacier-sync/Cargo.toml"));
    // (word in help or README, the store location `--version` must list)
    for (word, store) in [("S3", "s3://"), ("Glacier", "glacier://")] {
        let claimed = text
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == word);
        if claimed {
            assert!(
                stores.contains(&store),
                "help or a README mentions {word}, but `glacier-sync --version` lists no \
                 {store} store: {version}"
            );
        }
    }
}

#[test]
fn every_help_page_renders_with_the_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let help = all_help(tmp.path());
    assert!(help.contains("Exit codes:"));
    let o = run(tmp.path(), &["create-vault", "--help"], None);
    let create = stdout(&o);
    assert!(create.contains("Create a vault"), "{create}");
    assert!(create.contains("The vault to create"), "{create}");
    assert!(!create.contains("delete-vault"), "{create}");
    let o = run(tmp.path(), &["delete-vault", "--help"], None);
    let delete = stdout(&o);
    assert!(delete.contains("Delete an empty vault"), "{delete}");
    assert!(delete.contains("The vault to delete"), "{delete}");
    assert!(!delete.contains("create-vault"), "{delete}");
}

/// The `sh` blocks of `text`, with the line each starts on.
fn sh_blocks(text: &str) -> Vec<(usize, String)> {
    blocks(text, "sh")
}

/// The blocks of language `lang` of `text`, with the line each starts on.
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_end().strip_prefix("```") == Some(lang) => {
                current = Some((n + 1, String::new()));
            }
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

/// Whether the README test runs a block: every command in it is
/// `glacier-sync` (or `mkdir`), and no comment says it needs the network.
fn runnable(block: &str) -> bool {
    let mut continued = false;
    for line in block.lines() {
        let l = line.trim();
        if l.starts_with('#') {
            if l.contains("network") {
                return false;
            }
            continue;
        }
        if !continued
            && !l.is_empty()
            && !l.starts_with("glacier-sync ")
            && !l.starts_with("mkdir ")
        {
            return false;
        }
        continued = l.ends_with('\\');
    }
    true
}

/// A home directory with what the READMEs' examples name.
fn fixture_home(home: &Path) {
    let projects = home.join("projects");
    std::fs::create_dir_all(projects.join("finance")).unwrap();
    std::fs::write(
        projects.join("finance/Budget 2019 final.xlsx"),
        b"the yearly budget\n",
    )
    .unwrap();
    std::fs::write(projects.join("finance/budget 2019 draft.xlsx"), b"draft\n").unwrap();
    std::fs::write(projects.join("notes.txt"), b"notes\n").unwrap();
    let photos = home.join("Photos");
    std::fs::create_dir_all(photos.join("2024")).unwrap();
    std::fs::write(photos.join("2024/beach.jpg"), b"not really a jpeg\n").unwrap();
    std::fs::write(photos.join("cat.jpg"), b"meow\n").unwrap();
}

#[test]
fn readme_command_blocks_run() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_glacier-sync"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for (file, text) in readmes() {
        for (line, block) in sh_blocks(&text) {
            if !runnable(&block) {
                continue;
            }
            let tmp = tempfile::tempdir().unwrap();
            let home = tmp.path().join("home");
            fixture_home(&home);
            let work = tmp.path().join("work");
            std::fs::create_dir_all(&work).unwrap();
            let o = Command::new("bash")
                .args(["-euo", "pipefail", "-c", &block])
                .current_dir(&work)
                .env("PATH", &path)
                .env("HOME", &home)
                .env_remove("PERMAFROST_HOME")
                .env_remove("PERMAFROST_CONFIG")
                .env_remove("XDG_DATA_HOME")
                .env("XDG_CONFIG_HOME", tmp.path().join("config"))
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{file}:{line}: the block\n{block}failed ({}):\n{}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            ran += 1;
        }
    }
    // The install quick start and completions, the mt-aws-glacier example,
    // the archive flow.
    assert!(ran >= 4, "only {ran} README blocks ran");
}

/// The README's `config.toml` example is a valid configuration.
#[test]
fn readme_config_example_is_accepted() {
    let readme = read("README.md");
    let examples = blocks(&readme, "toml");
    assert!(!examples.is_empty(), "the README shows no config.toml");
    for (line, text) in examples {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("config.toml");
        std::fs::write(&file, &text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
            .args(["--json", "config", "show", "retrieve", "x", "--to", "out"])
            .env("PERMAFROST_CONFIG", &file)
            .env("PERMAFROST_HOME", tmp.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "README.md:{line}: {}", stderr(&o));
        let show: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let tier = show["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "tier")
            .unwrap();
        assert_eq!(tier["value"], "bulk", "README.md:{line}: {show}");
    }
}
