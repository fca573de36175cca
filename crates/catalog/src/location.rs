//! Where a catalog lives: an SQLite file, or (feature `postgres`) a
//! PostgreSQL database named `postgres://USER@HOST:PORT/DB`.
//!
//! A password is never part of a location (it would show in process lists,
//! shell history and logs). It comes from, in this order: a password file
//! given with [`PgLocation::with_password_file`], `PGPASSWORD`, the
//! password file `PGPASSFILE` names or `~/.pgpass` (libpq's format:
//! `host:port:database:user:password`, `*` for any, `\` escapes `:` and
//! `\`), and otherwise none (trust or peer authentication).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{CatalogError, Result};

/// Where a catalog lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// An SQLite catalog file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgLocation),
}

/// A PostgreSQL catalog: `postgres://USER@HOST:PORT/DB` (or
/// `postgresql://`), the port 5432 when left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgLocation {
    /// The role to connect as.
    pub user: String,
    /// Host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// A file holding the password (its first line), tried before
    /// `PGPASSWORD` and `.pgpass`.
    pub password_file: Option<PathBuf>,
}

impl Location {
    /// Reads a location: `postgres://…` or `postgresql://…` names a
    /// PostgreSQL database, anything else an SQLite file.
    ///
    /// # Errors
    /// [`CatalogError::Location`] for a PostgreSQL location that is
    /// malformed or holds a password.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|scheme| text.strip_prefix(scheme));
        match rest {
            None => Ok(Location::Sqlite(PathBuf::from(text))),
            Some(rest) => PgLocation::parse_rest(text, rest).map(Location::Postgres),
        }
    }
}

fn bad(text: &str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Location {
        location: redact(text),
        reason: reason.into(),
    }
}

/// `text` with the password of its user part (if any) replaced by `***`.
fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    match auth.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => text.to_owned(),
    }
}

/// Decodes `%XX` escapes.
fn percent_decode(text: &str, part: &str, what: &str) -> Result<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = part
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(text, format!("bad %-escape in the {what}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(text, format!("the {what} is not UTF-8")))
}

impl PgLocation {
    fn parse_rest(text: &str, rest: &str) -> Result<Self> {
        if rest.contains('?') || rest.contains('#') {
            return Err(bad(
                text,
                "connection parameters (?…) are not supported: the form is postgres://USER@HOST:PORT/DB",
            ));
        }
        let (auth, db) = rest.split_once('/').ok_or_else(|| {
            bad(
                text,
                "no database: the form is postgres://USER@HOST:PORT/DB",
            )
        })?;
        let (userinfo, hostport) = auth
            .rsplit_once('@')
            .ok_or_else(|| bad(text, "no user: the form is postgres://USER@HOST:PORT/DB"))?;
        if userinfo.contains(':') {
            return Err(bad(
                text,
                "a password in the location is refused (it would show in process lists and logs): \
                 give it in PGPASSWORD, ~/.pgpass or a password file",
            ));
        }
        let user = percent_decode(text, userinfo, "user")?;
        if user.is_empty() {
            return Err(bad(
                text,
                "no user: the form is postgres://USER@HOST:PORT/DB",
            ));
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad(text, "an IPv6 host lacks its closing ']'"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad(
                text,
                "no host: the form is postgres://USER@HOST:PORT/DB",
            ));
        }
        let port =
            match port {
                None => 5432,
                Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    bad(text, format!("port {p:?} is not a number from 1 to 65535"))
                })?,
            };
        let dbname = percent_decode(text, db, "database name")?;
        if dbname.is_empty() || dbname.contains('/') {
            return Err(bad(
                text,
                "no database (or one with '/'): the form is postgres://USER@HOST:PORT/DB",
            ));
        }
        Ok(PgLocation {
            user,
            host: host.to_owned(),
            port,
            dbname,
            password_file: None,
        })
    }

    /// This location, the password read from `file` (its first line).
    #[must_use]
    pub fn with_password_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.password_file = Some(file.into());
        self
    }

    /// The password to connect with: the password file's first line, else
    /// `PGPASSWORD`, else the matching line of `PGPASSFILE` or `~/.pgpass`
    /// (ignored, as libpq does, when others may read it), else none.
    ///
    /// # Errors
    /// [`CatalogError::Location`] when the password file given cannot be
    /// read.
    pub fn password(&self) -> Result<Option<String>> {
        if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                bad(
                    &self.to_string(),
                    format!("password file {}: cannot read it: {e}", file.display()),
                )
            })?;
            let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
            return Ok(Some(line.to_owned()));
        }
        if let Some(pw) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
            return Ok(Some(pw.to_string_lossy().into_owned()));
        }
        let passfile = std::env::var_os("PGPASSFILE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
        Ok(passfile.and_then(|f| self.pgpass_password(&f)))
    }

    /// The password of the first line of `.pgpass`-format file `file`
    /// matching this location.
    fn pgpass_password(&self, file: &Path) -> Option<String> {
        let meta = std::fs::metadata(file).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %file.display(), "password file has group or world access; ignored (chmod 0600 it)");
                return None;
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(file).ok()?;
        let port = self.port.to_string();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(pgpass_fields)
            .find(|f| {
                let want = [&self.host, &port, &self.dbname, &self.user];
                f[..4]
                    .iter()
                    .zip(want)
                    .all(|(have, want)| have == "*" || have == want)
            })
            .map(|mut f| f.swap_remove(4))
    }
}

/// The five fields of a `.pgpass` line (`\:` and `\\` unescaped), or
/// `None` for a line with fewer.
fn pgpass_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut()?.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    (fields.len() == 5).then_some(fields)
}

impl fmt::Display for PgLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(
                f,
                "postgres://{}@[{}]:{}/{}",
                self.user, self.host, self.port, self.dbname
            )
        } else {
            write!(
                f,
                "postgres://{}@{}:{}/{}",
                self.user, self.host, self.port, self.dbname
            )
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(p) => p.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(text: &str) -> PgLocation {
        match Location::parse(text).unwrap() {
            Location::Postgres(p) => p,
            other @ Location::Sqlite(_) => panic!("{text}: {other:?}"),
        }
    }

    fn reason(text: &str) -> String {
        match Location::parse(text).unwrap_err() {
            CatalogError::Location { location, reason } => {
                assert!(!location.contains("secret"), "{location}");
                reason
            }
            e => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn files_are_sqlite() {
        for p in [
            "catalog.sqlite",
            "/var/lib/pf/cat.sqlite",
            ":memory:",
            "postgres:x",
        ] {
            assert_eq!(Location::parse(p).unwrap(), Location::Sqlite(p.into()));
        }
    }

    #[test]
    fn postgres_locations() {
        let l = pg("postgres://pf@db.example.org:6543/catalog");
        assert_eq!(
            (l.user.as_str(), l.host.as_str(), l.port, l.dbname.as_str()),
            ("pf", "db.example.org", 6543, "catalog")
        );
        assert_eq!(l.to_string(), "postgres://pf@db.example.org:6543/catalog");
        assert_eq!(pg("postgresql://pf@h/c").port, 5432);
        let v6 = pg("postgres://pf@[::1]:5433/c");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5433));
        assert_eq!(v6.to_string(), "postgres://pf@[::1]:5433/c");
        assert_eq!(pg("postgres://a%40b@h/my%20db").user, "a@b");
        assert_eq!(pg("postgres://a%40b@h/my%20db").dbname, "my db");
    }

    #[test]
    fn a_password_is_refused_and_never_repeated() {
        let r = reason("postgres://pf:secret@h:5432/c");
        assert!(r.contains("password in the location is refused"), "{r}");
        assert!(r.contains("PGPASSWORD"), "{r}");
        let e = Location::parse("postgres://pf:secret@h:5432/c").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("catalog location postgres://pf:***@h:5432/c: "),
            "{e}"
        );
    }

    #[test]
    fn malformed_locations_say_what_is_missing() {
        assert!(reason("postgres://h:5432/c").contains("no user"));
        assert!(reason("postgres://pf@h:5432").contains("no database"));
        assert!(reason("postgres://pf@h:5432/").contains("no database"));
        assert!(reason("postgres://pf@:5432/c").contains("no host"));
        assert!(reason("postgres://pf@h:99999/c").contains("port \"99999\""));
        assert!(reason("postgres://pf@h:x/c").contains("port \"x\""));
        assert!(reason("postgres://pf@h/c?sslmode=require").contains("not supported"));
        assert!(reason("postgres://pf@[::1/c").contains("']'"));
        assert!(reason("postgres://pf@h/c%zz").contains("%-escape"));
    }

    #[test]
    fn pgpass_lines() {
        assert_eq!(
            pgpass_fields(r"h:5432:db:u:pa\:ss\\word").unwrap(),
            ["h", "5432", "db", "u", r"pa:ss\word"]
        );
        assert_eq!(pgpass_fields("h:5432:db:u:a:b").unwrap()[4], "a:b");
        assert!(pgpass_fields("h:5432:db").is_none());
    }

    #[test]
    fn password_from_a_file_then_pgpass() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let l = pg("postgres://pf@h:1/c").with_password_file(&file);
        assert_eq!(l.password().unwrap().as_deref(), Some("s3cret"));
        let missing = pg("postgres://pf@h:1/c").with_password_file(dir.path().join("none"));
        let e = missing.password().unwrap_err().to_string();
        assert!(e.contains("password file") && e.contains("none"), "{e}");

        let pass = dir.path().join("pgpass");
        std::fs::write(&pass, "# comment\nother:1:c:pf:no\n*:1:c:pf:yes\n").unwrap();
        let l = pg("postgres://pf@h:1/c");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(
                l.pgpass_password(&pass),
                None,
                "others may read it: ignored"
            );
            std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(l.pgpass_password(&pass).as_deref(), Some("yes"));
        assert_eq!(pg("postgres://pf@h:2/c").pgpass_password(&pass), None);
    }
}
