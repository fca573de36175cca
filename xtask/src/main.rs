//! The workspace's build tasks, run as `cargo xtask TASK` (an alias in
//! `.cargo/config.toml`).
//!
//! - `man`: builds the tools and has each write its man pages (the tool's
//!   page and one per subcommand, from its clap command, by `clap_mangen`)
//!   into `target/man` (under `CARGO_TARGET_DIR` when set).
//!
//! It depends on nothing: the tools generate their own pages (hidden
//! `generate-man DIR` command), so the pages always match the binaries.

// A build task reports to its user.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The tools that have man pages.
const TOOLS: &[&str] = &["glacier-sync", "tape-op"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("man") {
        eprintln!("usage: cargo xtask man    write the tools' man pages into target/man");
        return ExitCode::from(2);
    }
    match man() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lives in the workspace root")
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn man() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = target_dir().join("man");
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("clearing {}: {e}", out.display()))?;
    }
    for tool in TOOLS {
        run(Command::new(&cargo)
            .current_dir(workspace())
            .args([
                "run",
                "--quiet",
                "--locked",
                "--package",
                tool,
                "--",
                "generate-man",
            ])
            .arg(&out))?;
    }
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .map_err(|e| format!("listing {}: {e}", out.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    println!("{} man pages in {}:", pages.len(), out.display());
    for p in &pages {
        println!("  {p}");
    }
    println!(
        "read one with `man -l {}/glacier-sync.1`; install them with\n  \
         install -Dm644 -t ~/.cargo/share/man/man1 {}/*.1 (found by man with ~/.cargo/bin on PATH)",
        out.display(),
        out.display()
    );
    Ok(())
}
