//! Where a target's files come from: the local file system, or a remote
//! host through `ssh_command`, streaming `tar` over SSH and hashing locally
//! (robust to any file name: spaces, newlines, bytes that are not UTF-8).

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use tape_io::target::{FileMeta, LocalDir, TargetSource};

/// Quotes bytes for a POSIX shell.
pub(crate) fn shell_quote(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in s {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// A directory on the host `ssh_command` reaches, read as a tar stream
/// (`tar --sort=name -C DIR -cf - .`, GNU tar on the remote side).
pub(crate) struct RemoteDir {
    pub(crate) ssh_command: String,
    pub(crate) dir: Vec<u8>,
}

impl TargetSource for RemoteDir {
    fn visit(
        &mut self,
        f: &mut dyn FnMut(&FileMeta, &mut dyn Read) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut remote = b"tar --sort=name -C ".to_vec();
        remote.extend(shell_quote(&self.dir));
        remote.extend_from_slice(b" -cf - .");
        // `sh -c 'SSH_COMMAND "$1"' sh REMOTE`: ssh_command is split by the
        // shell as the original's was; the remote command is one argument.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{} \"$1\"", self.ssh_command))
            .arg("sh")
            .arg(std::ffi::OsStr::from_bytes(&remote))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("running ssh_command '{}': {e}", self.ssh_command),
                )
            })?;
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let errs = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let shown = String::from_utf8_lossy(&self.dir).into_owned();
        let result = (|| -> io::Result<()> {
            let mut archive = tar::Archive::new(stdout);
            for entry in archive.entries()? {
                let mut entry = entry?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let raw = entry.path_bytes().into_owned();
                let name = raw.strip_prefix(b"./").unwrap_or(&raw).to_vec();
                let meta = FileMeta {
                    name,
                    size: entry.header().size()?,
                    mode: entry.header().mode()? & 0o7777,
                    mtime: entry.header().mtime()?,
                };
                f(&meta, &mut entry)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = child.kill();
        }
        let status = child.wait()?;
        let errs = errs.join().unwrap_or_default();
        result.map_err(|e| {
            io::Error::new(e.kind(), format!("remote {shown}: {e} {}", errs.trim()))
        })?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "remote {shown}: ssh/tar exited with {status}: {}",
                errs.trim()
            )));
        }
        Ok(())
    }
}

/// The source of a target: remote when an ssh command is configured.
pub(crate) fn source_for(
    target: &str,
    remote: bool,
    ssh_command: Option<&str>,
) -> anyhow::Result<Box<dyn TargetSource>> {
    if remote {
        let ssh = ssh_command
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("target {target} is remote but no ssh_command is configured")
            })?;
        Ok(Box::new(RemoteDir {
            ssh_command: ssh.to_owned(),
            dir: target.as_bytes().to_vec(),
        }))
    } else {
        Ok(Box::new(LocalDir::new(target)))
    }
}
