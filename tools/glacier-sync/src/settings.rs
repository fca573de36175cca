//! Permafrost's own configuration file, `config.toml`: defaults for the
//! archive commands under their long options' names.
//!
//! ```toml
//! # ~/.config/permafrost/config.toml
//! vault = "file:///srv/store/photos"
//! catalog = "/srv/catalog.sqlite"
//! encrypt-to = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
//! max-bundle-size = "1G"
//!
//! [retrieve]      # settings for one command only
//! tier = "bulk"
//! ```
//!
//! Where it is: `--config FILE.toml`, else `$PERMAFROST_CONFIG`, else
//! `$XDG_CONFIG_HOME/permafrost/config.toml`, else
//! `~/.config/permafrost/config.toml`. A file named by the flag or the
//! variable must exist; the default one may be absent.
//!
//! Top-level keys apply to every command that has that option; a table
//! named after a command (`[archive]`, `[retrieve]`, `[catalog]`) applies to
//! that command only and wins over the top level. Values are strings,
//! numbers, booleans (a flag: `all = true`) or arrays (a repeatable option).
//! `key`, `secret` and `region` are the Amazon credentials and region (as in
//! mt-aws-glacier's file). Which keys are known is the tool's business:
//! [`ConfigFile::check`] takes its answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The keys that are not options: credentials and region.
pub const CREDENTIAL_KEYS: &[&str] = &["key", "secret", "region"];

/// The `[ldap]` table: how to reach the directory that names SIDs (and
/// uids/gids NSS does not know) when ACLs are captured.
pub const LDAP_KEYS: &[&str] = &[
    "url",
    "base",
    "bind-dn",
    "password",
    "password-file",
    "starttls",
    "ca-file",
];

/// A setting's value, as the command line would take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// One value (`--key=value`).
    One(String),
    /// A repeatable option's values (`--key=a --key=b`).
    Many(Vec<String>),
    /// A flag: given (`true`) or not.
    Flag(bool),
}

/// How the file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// `--config FILE.toml`.
    Flag,
    /// `$PERMAFROST_CONFIG`.
    Environment,
    /// The default location.
    Default,
}

/// A parsed `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file.
    pub path: PathBuf,
    /// How it was found.
    pub found: Found,
    top: Vec<(String, Value)>,
    tables: BTreeMap<String, Vec<(String, Value)>>,
}

/// Why `config.toml` was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("config file {} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A key no command takes.
    #[error("config file {}: unknown setting '{key}'{}", path.display(), table.as_ref().map(|t| format!(" in [{t}]")).unwrap_or_default())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The table it is in (`None`: the top level).
        table: Option<String>,
        /// The key.
        key: String,
    },
    /// A value of a kind no option takes.
    #[error("config file {}: '{key}' {reason}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key (`table.key` inside a table).
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where the configuration file is, given `--config FILE.toml` and the
/// environment (`PERMAFROST_CONFIG`, `XDG_CONFIG_HOME`, `HOME`); `None`
/// when there is no default location at all.
pub fn locate(flag: Option<&Path>) -> Option<(PathBuf, Found)> {
    if let Some(p) = flag {
        return Some((p.to_owned(), Found::Flag));
    }
    if let Some(p) = std::env::var_os("PERMAFROST_CONFIG").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), Found::Environment));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some((base.join("permafrost/config.toml"), Found::Default))
}

/// Reads the configuration file at `path`; a missing file at the default
/// location is no configuration (`Ok(None)`).
pub fn load(path: &Path, found: Found) -> Result<Option<ConfigFile>, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && found == Found::Default => {
            return Ok(None);
        }
        Err(source) => {
            return Err(SettingsError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    ConfigFile::parse(path, found, &text).map(Some)
}

fn value_of(path: &Path, key: &str, v: &toml::Value) -> Result<Value, SettingsError> {
    let bad = |reason: &str| SettingsError::BadValue {
        path: path.to_owned(),
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let scalar = |v: &toml::Value| -> Option<String> {
        match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Integer(i) => Some(i.to_string()),
            toml::Value::Float(f) => Some(f.to_string()),
            _ => None,
        }
    };
    match v {
        toml::Value::Boolean(b) => Ok(Value::Flag(*b)),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| scalar(i).ok_or_else(|| bad("must be an array of strings or numbers")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Many),
        toml::Value::Table(_) => Err(bad("is a table; only [COMMAND] tables are allowed")),
        other => scalar(other)
            .map(Value::One)
            .ok_or_else(|| bad("must be a string, a number, a boolean or an array")),
    }
}

impl ConfigFile {
    /// Parses the text of a configuration file (`path` for messages).
    pub fn parse(path: &Path, found: Found, text: &str) -> Result<ConfigFile, SettingsError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SettingsError::Syntax {
                    path: path.to_owned(),
                    message: e.to_string().trim_end().replace('\n', " "),
                })?;
        let mut top = Vec::new();
        let mut tables = BTreeMap::new();
        for (key, v) in &table {
            if let toml::Value::Table(t) = v {
                let mut settings = Vec::new();
                for (k, v) in t {
                    settings.push((k.clone(), value_of(path, &format!("{key}.{k}"), v)?));
                }
                tables.insert(key.clone(), settings);
            } else {
                top.push((key.clone(), value_of(path, key, v)?));
            }
        }
        Ok(ConfigFile {
            path: path.to_owned(),
            found,
            top,
            tables,
        })
    }

    /// Checks every key: `known(table, key)` says whether the command
    /// `table` (`None`: any command) takes `key`; credential keys are
    /// allowed at the top level.
    pub fn check(&self, known: impl Fn(Option<&str>, &str) -> bool) -> Result<(), SettingsError> {
        let unknown = |table: Option<&str>, key: &str| SettingsError::UnknownKey {
            path: self.path.clone(),
            table: table.map(str::to_owned),
            key: key.to_owned(),
        };
        for (key, _) in &self.top {
            if !CREDENTIAL_KEYS.contains(&key.as_str()) && !known(None, key) {
                return Err(unknown(None, key));
            }
        }
        for (table, settings) in &self.tables {
            for (key, _) in settings {
                if table == "ldap" {
                    if !LDAP_KEYS.contains(&key.as_str()) {
                        return Err(unknown(Some(table), key));
                    }
                    continue;
                }
                if !known(Some(table), key) {
                    return Err(unknown(Some(table), key));
                }
            }
        }
        Ok(())
    }

    /// The settings for `command` (a top-level subcommand's name): the top
    /// level's, then its table's, a key of the table replacing the top
    /// level's. Credential keys are left out (see [`ConfigFile::credential`]).
    pub fn settings_for(&self, command: &str) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = self
            .top
            .iter()
            .filter(|(k, _)| !CREDENTIAL_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for (k, v) in self.tables.get(command).into_iter().flatten() {
            match out.iter_mut().find(|(ok, _)| ok == k) {
                Some(slot) => slot.1 = v.clone(),
                None => out.push((k.clone(), v.clone())),
            }
        }
        out
    }

    /// A setting of the `[ldap]` table (see [`LDAP_KEYS`]), as text
    /// (`true`/`false` for flags).
    pub fn ldap(&self, key: &str) -> Option<String> {
        self.tables.get("ldap")?.iter().find_map(|(k, v)| match v {
            Value::One(s) if k == key => Some(s.clone()),
            Value::Flag(b) if k == key => Some(b.to_string()),
            _ => None,
        })
    }

    /// A credential key's value (`key`, `secret`, `region`).
    pub fn credential(&self, key: &str) -> Option<&str> {
        self.top.iter().find_map(|(k, v)| match v {
            Value::One(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
vault = "file:///srv/store/photos"
max-files = 5000
all = false
encrypt-to = ["age1one", "age1two"]
key = "AKIDEXAMPLE"
secret = "s3cr3t"

[retrieve]
tier = "bulk"
vault = "file:///srv/store/other"
"#;

    fn file() -> ConfigFile {
        ConfigFile::parse(Path::new("config.toml"), Found::Flag, TEXT).unwrap()
    }

    #[test]
    fn top_level_and_per_command_settings() {
        let c = file();
        let archive = c.settings_for("archive");
        assert_eq!(
            archive,
            vec![
                ("all".to_owned(), Value::Flag(false)),
                (
                    "encrypt-to".to_owned(),
                    Value::Many(vec!["age1one".into(), "age1two".into()])
                ),
                ("max-files".to_owned(), Value::One("5000".into())),
                (
                    "vault".to_owned(),
                    Value::One("file:///srv/store/photos".into())
                ),
            ]
        );
        let retrieve = c.settings_for("retrieve");
        assert!(retrieve.contains(&("tier".to_owned(), Value::One("bulk".into()))));
        assert!(retrieve.contains(&(
            "vault".to_owned(),
            Value::One("file:///srv/store/other".into())
        )));
        assert_eq!(c.credential("key"), Some("AKIDEXAMPLE"));
        assert_eq!(c.credential("region"), None);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file() {
        let c = file();
        let e = c
            .check(|table, key| table.is_none() && key != "all")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "config file config.toml: unknown setting 'all'");
        let e = c.check(|table, _| table.is_none()).unwrap_err().to_string();
        assert!(e.ends_with("unknown setting 'tier' in [retrieve]"), "{e}");
        let e = ConfigFile::parse(Path::new("c.toml"), Found::Flag, "vault = \n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("config file c.toml is not valid TOML"), "{e}");
        let e = ConfigFile::parse(Path::new("c.toml"), Found::Flag, "x = 1979-05-27\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'x' must be"), "{e}");
    }

    #[test]
    fn only_an_absent_default_file_is_no_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(load(&missing, Found::Default).unwrap().is_none());
        assert!(load(&missing, Found::Flag).is_err());
        assert!(load(&missing, Found::Environment).is_err());
    }
}
