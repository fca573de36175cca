//! End-to-end tests of the `glacier-sync` binary.

mod acls;
mod archive;
mod backup;
mod catalog_check;
mod config;
mod docs;
mod exit_codes;
mod faults;
mod mt;
mod mt_fake;
mod mt_local;
mod mt_s3;
mod pg;
mod pg_rebuild;
mod proxy;
mod s3;
mod s3_faults;
mod shell;
mod tape;
mod treehash;
mod workers;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the real binary with `args` in `dir`, feeding `stdin`.
pub(crate) fn run(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args(args)
        .current_dir(dir)
        // No config.toml of the machine's: tests that want one say so.
        .env("XDG_CONFIG_HOME", dir.join(".no-config"))
        .env_remove("PERMAFROST_CONFIG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start glacier-sync");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait for glacier-sync")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
