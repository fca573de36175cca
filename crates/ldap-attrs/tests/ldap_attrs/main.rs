//! Integration tests of ldap-attrs: blobs made by independent tools
//! (setfacl, Samba's SDDL parser, Python's XDR packer), the real xattrs of
//! the test filesystem, a real slapd, and round-trip properties.
//!
//! Tests that need a tool or server fail, never skip, when it is missing:
//! run them through `scripts/test`, which starts `scripts/services/tools`
//! and `scripts/services/slapd`.

mod nfs4_xdr;
mod nt_samba;
mod posix_setfacl;
mod props;
mod slapd;

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The value of `var`, or a failure naming the script that sets it.
pub(crate) fn env(var: &str, script: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the service with `eval \"$({script} start)\"` or run scripts/test")
    })
}

/// Tools must be installed: scripts/services/tools says so.
pub(crate) fn require_tools() {
    env("PERMAFROST_TOOLS", "scripts/services/tools");
}

pub(crate) fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ldap_attrs/tools")
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a command, fails the test on a non-zero exit, returns stdout.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("running {cmd:?}: {e} (is it installed? see scripts/services/tools)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
