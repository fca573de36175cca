//! The SFTP destination: copies under `<BackupDirectory>/<path>` on a host
//! reached over SSH with a key (the configured port honoured, the host key
//! checked against a known_hosts file), verified by running the matching
//! `md5sum`/`sha1sum`/`sha256sum`/`sha512sum` on the host, or by reading the
//! copy back over SFTP when the host runs no commands.

use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use dataverse_source::{Checksum, ChecksumType, Destination, Error, Result};
use ssh2::{CheckResult, KnownHostFileKind, RenameFlags, Session, Sftp};

use crate::config::SshConfig;

/// One SSH connection with its SFTP channel.
struct Conn {
    session: Session,
    sftp: Sftp,
    /// A shell kept open on the host for the checksum commands, started
    /// on first use (`None` until then, or after it failed).
    shell: Option<RemoteShell>,
}

/// Ends each command's output in the checksum shell; never the start of a
/// line `md5sum` and its kin print (those start with a hex digit or `\`).
const END_MARK: &str = "__permafrost_sum_done__";

/// One shell on the host that runs every checksum command of a connection.
///
/// Each `exec` on an SSH channel starts the user's login shell, and the
/// shell's start-up files with it (often tens of milliseconds: a `.bashrc`
/// that initialises pyenv or conda took 55 ms here), once per file. One
/// shell per connection pays that once; each file then costs one command
/// written to its input and its answer read up to [`END_MARK`].
struct RemoteShell {
    channel: BufReader<ssh2::Channel>,
}

impl RemoteShell {
    /// Starts `sh` on the host, its errors joined to its output, and reads
    /// past whatever the start-up files printed. `None` when the host
    /// runs no shell (an SFTP-only account).
    fn start(session: &Session) -> Option<RemoteShell> {
        let mut channel = session.channel_session().ok()?;
        channel.exec("exec sh").ok()?;
        let mut shell = RemoteShell {
            channel: BufReader::new(channel),
        };
        shell.send("exec 2>&1").ok()?;
        let (_, status) = shell.call("true").ok()?;
        (status == 0).then_some(shell)
    }

    fn send(&mut self, line: &str) -> std::io::Result<()> {
        let ch = self.channel.get_mut();
        ch.write_all(line.as_bytes())?;
        ch.write_all(b"\n")?;
        ch.flush()
    }

    /// Runs one command; its output lines and exit status. An error when
    /// the shell went away (the channel closed before the end mark).
    fn call(&mut self, command: &str) -> std::io::Result<(Vec<String>, i32)> {
        self.send(&format!(
            "{command} </dev/null; printf '\\n%s %s\\n' {END_MARK} \"$?\""
        ))?;
        let mut out = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if self.channel.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the remote shell exited",
                ));
            }
            let text = line.trim_end_matches(['\n', '\r']);
            if let Some(status) = text.strip_prefix(END_MARK) {
                let status = status.trim().parse().unwrap_or(-1);
                return Ok((out, status));
            }
            if !text.is_empty() {
                out.push(text.to_owned());
            }
        }
    }
}

/// The SFTP destination; a pool of connections, one per copy in flight.
pub(crate) struct SftpDestination {
    config: SshConfig,
    pool: Mutex<Vec<Conn>>,
    made_dirs: Mutex<HashSet<String>>,
    /// Set once the host refused to run a checksum command.
    no_shell: Mutex<bool>,
}

impl fmt::Debug for SftpDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpDestination")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("user", &self.config.user)
            .field("directory", &self.config.directory)
            .finish_non_exhaustive()
    }
}

fn remote_err(action: &'static str, path: &str, e: &ssh2::Error) -> Error {
    // Session-level failures (a dropped connection) may pass on a retry.
    let retryable = matches!(e.code(), ssh2::ErrorCode::Session(_));
    Error::Remote {
        action,
        path: path.to_owned(),
        message: e.to_string(),
        retryable,
    }
}

fn io_remote(action: &'static str, path: &str, e: &std::io::Error) -> Error {
    Error::Remote {
        action,
        path: path.to_owned(),
        message: e.to_string(),
        retryable: true,
    }
}

/// `'...'` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn default_key() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| home.join(".ssh").join(n))
        .find(|p| p.exists())
}

impl SftpDestination {
    /// Connects once to check host, key and directory.
    pub(crate) fn connect(config: SshConfig) -> Result<SftpDestination> {
        let dest = SftpDestination {
            config,
            pool: Mutex::new(Vec::new()),
            made_dirs: Mutex::new(HashSet::new()),
            no_shell: Mutex::new(false),
        };
        let conn = dest.open_conn()?;
        let dir = dest.config.directory.clone();
        dest.mkdirs(&conn.sftp, &dir)?;
        dest.give_back(conn);
        Ok(dest)
    }

    fn target(&self) -> String {
        format!(
            "{}@{}:{}",
            self.config.user, self.config.host, self.config.port
        )
    }

    fn open_conn(&self) -> Result<Conn> {
        let c = &self.config;
        let target = self.target();
        let tcp = TcpStream::connect((c.host.as_str(), c.port)).map_err(|e| Error::Remote {
            action: "connecting to",
            path: target.clone(),
            message: e.to_string(),
            retryable: true,
        })?;
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(300)));
        // Each file is a few small request/reply exchanges (open, write,
        // fsync, rename, exec of the checksum command): without this, Nagle
        // holds every small write back until the peer's delayed ACK (40 ms
        // on Linux), several times a file.
        let _ = tcp.set_nodelay(true);
        let mut session = Session::new().map_err(|e| remote_err("starting SSH to", &target, &e))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(300_000);
        session
            .handshake()
            .map_err(|e| remote_err("SSH handshake with", &target, &e))?;
        self.check_host_key(&session)?;
        let key = c.key.clone().or_else(default_key);
        match &key {
            Some(key) => session
                .userauth_pubkey_file(&c.user, None, key, None)
                .map_err(|e| Error::Remote {
                    action: "logging in to",
                    path: target.clone(),
                    message: format!("with key {}: {e}", key.display()),
                    retryable: false,
                })?,
            None => session
                .userauth_agent(&c.user)
                .map_err(|e| remote_err("logging in (ssh-agent) to", &target, &e))?,
        }
        if !session.authenticated() {
            return Err(Error::Remote {
                action: "logging in to",
                path: target,
                message: "not authenticated".into(),
                retryable: false,
            });
        }
        let sftp = session
            .sftp()
            .map_err(|e| remote_err("opening SFTP on", &target, &e))?;
        Ok(Conn {
            session,
            sftp,
            shell: None,
        })
    }

    fn check_host_key(&self, session: &Session) -> Result<()> {
        let c = &self.config;
        let target = self.target();
        let file = c.known_hosts.clone().or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh/known_hosts"))
        });
        let Some(file) = file else {
            return Err(Error::Remote {
                action: "checking the host key of",
                path: target,
                message: "no known_hosts file (set [Backup] SshKnownHosts)".into(),
                retryable: false,
            });
        };
        let mut known = session
            .known_hosts()
            .map_err(|e| remote_err("checking the host key of", &target, &e))?;
        known
            .read_file(&file, KnownHostFileKind::OpenSSH)
            .map_err(|e| Error::Remote {
                action: "reading known hosts for",
                path: target.clone(),
                message: format!("{}: {e}", file.display()),
                retryable: false,
            })?;
        let (key, _) = session.host_key().ok_or_else(|| Error::Remote {
            action: "checking the host key of",
            path: target.clone(),
            message: "the server sent no host key".into(),
            retryable: false,
        })?;
        match known.check_port(&c.host, c.port, key) {
            CheckResult::Match => Ok(()),
            other => Err(Error::Remote {
                action: "checking the host key of",
                path: target,
                message: format!(
                    "{} in {} (add the host with `ssh-keyscan -p {} {}`)",
                    match other {
                        CheckResult::Mismatch => "the host key DIFFERS from the one",
                        _ => "the host is not listed",
                    },
                    file.display(),
                    c.port,
                    c.host
                ),
                retryable: false,
            }),
        }
    }

    fn take(&self) -> Result<Conn> {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match pooled {
            Some(c) => Ok(c),
            None => self.open_conn(),
        }
    }

    fn give_back(&self, conn: Conn) {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(conn);
    }

    fn remote_path(&self, path: &str) -> String {
        format!("{}/{}", self.config.directory.trim_end_matches('/'), path)
    }

    /// `mkdir -p` over SFTP, remembering what exists.
    fn mkdirs(&self, sftp: &Sftp, dir: &str) -> Result<()> {
        let mut made = self
            .made_dirs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if made.contains(dir) {
            return Ok(());
        }
        let mut cur = String::new();
        for (i, part) in dir.split('/').enumerate() {
            if part.is_empty() {
                if i == 0 {
                    cur.push('/');
                }
                continue;
            }
            if !cur.is_empty() && !cur.ends_with('/') {
                cur.push('/');
            }
            cur.push_str(part);
            if made.contains(&cur) {
                continue;
            }
            if sftp.stat(Path::new(&cur)).is_err()
                && let Err(e) = sftp.mkdir(Path::new(&cur), 0o755)
                && sftp.stat(Path::new(&cur)).is_err()
            {
                return Err(remote_err("creating the directory", &cur, &e));
            }
            made.insert(cur.clone());
        }
        made.insert(dir.to_owned());
        Ok(())
    }

    fn put_on(&self, conn: &Conn, path: &str, content: &mut dyn Read) -> Result<u64> {
        let remote = self.remote_path(path);
        let dir = remote.rsplit_once('/').map_or("/", |(d, _)| d).to_owned();
        self.mkdirs(&conn.sftp, &dir)?;
        let part = format!("{remote}.part");
        let mut f = conn
            .sftp
            .create(Path::new(&part))
            .map_err(|e| remote_err("creating", &part, &e))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading the source", &part, e)),
            };
            f.write_all(&buf[..n])
                .map_err(|e| io_remote("writing", &part, &e))?;
            total += n as u64;
        }
        f.flush().map_err(|e| io_remote("writing", &part, &e))?;
        // fsync@openssh.com; a server without it still has the bytes.
        if let Err(e) = f.fsync() {
            tracing::debug!(path = %part, error = %e, "remote fsync not available");
        }
        drop(f);
        // SFTP v3 (OpenSSH) refuses to rename over an existing file.
        let _ = conn.sftp.unlink(Path::new(&remote));
        conn.sftp
            .rename(
                Path::new(&part),
                Path::new(&remote),
                Some(RenameFlags::OVERWRITE | RenameFlags::ATOMIC | RenameFlags::NATIVE),
            )
            .map_err(|e| remote_err("renaming into place", &remote, &e))?;
        Ok(total)
    }

    /// Runs `<sum> -- <path>` on the host, in the connection's shell;
    /// `None` when the host runs no shell or no such command.
    fn remote_sum(conn: &mut Conn, remote: &str, command: &str) -> Result<Option<String>> {
        if conn.shell.is_none() {
            conn.shell = RemoteShell::start(&conn.session);
        }
        let Some(shell) = conn.shell.as_mut() else {
            return Ok(None);
        };
        let (out, status) = match shell.call(&format!("{command} -- {}", shell_quote(remote))) {
            Ok(answer) => answer,
            Err(e) => {
                conn.shell = None;
                return Err(io_remote("checksumming", remote, &e));
            }
        };
        if status == 0 {
            let hex = out
                .last()
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("");
            if hex.is_empty() {
                return Ok(None);
            }
            return Ok(Some(hex.trim_start_matches('\\').to_owned()));
        }
        // 126/127: no such command; anything else is a real failure of the
        // command (the file is missing, unreadable).
        if status == 126 || status == 127 {
            return Ok(None);
        }
        Err(Error::Remote {
            action: "checksumming",
            path: remote.to_owned(),
            message: format!("{command} exited with {status}: {}", out.join(" / ")),
            retryable: false,
        })
    }

    fn read_back(conn: &Conn, remote: &str, kind: &ChecksumType) -> Result<String> {
        let mut f = conn
            .sftp
            .open(Path::new(remote))
            .map_err(|e| remote_err("opening the copy", remote, &e))?;
        Checksum::compute(kind, &mut f)
            .map_err(|e| io_remote("reading the copy", remote, &e))?
            .ok_or_else(|| Error::Remote {
                action: "checksumming",
                path: remote.to_owned(),
                message: format!("checksum type {kind} is not supported"),
                retryable: false,
            })
    }
}

impl Destination for SftpDestination {
    fn method(&self) -> &'static str {
        "ssh"
    }

    fn locate(&self, path: &str) -> String {
        format!(
            "sftp://{}@{}:{}{}",
            self.config.user,
            self.config.host,
            self.config.port,
            self.remote_path(path)
        )
    }

    fn put(&self, path: &str, _size: Option<u64>, content: &mut dyn Read) -> Result<u64> {
        let conn = self.take()?;
        let r = self.put_on(&conn, path, content);
        // A connection that failed mid-file is not reused.
        if r.is_ok() {
            self.give_back(conn);
        }
        r
    }

    fn checksum(&self, path: &str, kind: &ChecksumType) -> Result<String> {
        let mut conn = self.take()?;
        let remote = self.remote_path(path);
        let no_shell = *self
            .no_shell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = (|| {
            if self.config.verify == "remote"
                && !no_shell
                && let Some(cmd) = kind.sum_command()
            {
                if let Some(hex) = Self::remote_sum(&mut conn, &remote, cmd)? {
                    return Ok(hex);
                }
                tracing::warn!(host = %self.config.host, "the host runs no {cmd} (or no shell); verifying by reading copies back over SFTP");
                *self
                    .no_shell
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            }
            Self::read_back(&conn, &remote, kind)
        })();
        if r.is_ok() {
            self.give_back(conn);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(super::shell_quote("/a b/c'd"), r"'/a b/c'\''d'");
    }
}
