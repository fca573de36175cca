//! mt-aws-glacier's configuration file, read as is.
//!
//! One `key=value` per line; spaces around the key and the value are
//! ignored; blank lines and lines whose first non-blank character is `#`
//! are comments. A key is the name of any long option (`vault=photos`,
//! `concurrency=8`) or one of the credential keys `key`, `secret`,
//! `region`, `protocol`. An unknown key is an error naming the file and the
//! line. When a key appears twice, the later line wins, as in mt-aws-glacier.
//! Options given on the command line win over the file.

use std::path::{Path, PathBuf};

/// The keys that are not command-line options: credentials and endpoint.
pub const CREDENTIAL_KEYS: &[&str] = &["key", "secret", "region", "protocol", "token"];

/// One `key=value` setting and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key, as written.
    pub key: String,
    /// The value, trimmed.
    pub value: String,
    /// The 1-based line number.
    pub line: usize,
}

/// A parsed configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    settings: Vec<Setting>,
}

impl Config {
    /// Reads and parses `path`, accepting only keys in `known` and
    /// [`CREDENTIAL_KEYS`].
    pub fn read(path: &Path, known: &[&str]) -> Result<Config, ConfigError> {
        let text = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(text).map_err(|e| ConfigError::NotUtf8 {
            path: path.to_owned(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        Config::parse(path, &text, known)
    }

    /// Parses the text of a configuration file; `path` is only for messages.
    pub fn parse(path: &Path, text: &str, known: &[&str]) -> Result<Config, ConfigError> {
        let mut settings: Vec<Setting> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(ConfigError::Syntax {
                    path: path.to_owned(),
                    line,
                    text: trimmed.to_owned(),
                });
            };
            let key = key.trim();
            if !known.contains(&key) && !CREDENTIAL_KEYS.contains(&key) {
                return Err(ConfigError::UnknownKey {
                    path: path.to_owned(),
                    line,
                    key: key.to_owned(),
                });
            }
            let setting = Setting {
                key: key.to_owned(),
                value: value.trim().to_owned(),
                line,
            };
            match settings.iter_mut().find(|s| s.key == setting.key) {
                Some(earlier) => *earlier = setting,
                None => settings.push(setting),
            }
        }
        Ok(Config {
            path: path.to_owned(),
            settings,
        })
    }

    /// A configuration of `settings` said to come from `path` (for
    /// credentials read from another file, such as Permafrost's
    /// `config.toml`).
    pub fn from_settings(path: PathBuf, settings: Vec<Setting>) -> Config {
        Config { path, settings }
    }

    /// The value of `key`, if the file sets it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.setting(key).map(|s| s.value.as_str())
    }

    /// The setting of `key` with its line, if the file sets it.
    pub fn setting(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }

    /// Every setting, in the order of first appearance.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("config file {} is not UTF-8 text (invalid bytes at offset {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A line that is neither a comment nor `key=value`.
    #[error("config file {}, line {line}: expected key=value, found '{text}'", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A key that is neither an option nor a credential key.
    #[error("config file {}, line {line}: unknown option '{key}'", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["vault", "concurrency", "dir", "journal"];

    #[test]
    fn reads_mt_aws_glacier_config_as_is() {
        let text = "\
# my glacier config
key=AKIDEXAMPLE
secret = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
region=eu-west-1
protocol=https

vault=photos
concurrency=8
vault=photos2
";
        let c = Config::parse(Path::new("glacier.cfg"), text, KNOWN).unwrap();
        assert_eq!(c.get("key"), Some("AKIDEXAMPLE"));
        assert_eq!(
            c.get("secret"),
            Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        );
        assert_eq!(c.get("region"), Some("eu-west-1"));
        assert_eq!(c.get("protocol"), Some("https"));
        assert_eq!(c.get("concurrency"), Some("8"));
        // The later line wins, and keeps its line number.
        assert_eq!(
            c.setting("vault").map(|s| (s.value.as_str(), s.line)),
            Some(("photos2", 9))
        );
        assert_eq!(c.get("dir"), None);
        assert_eq!(c.settings().len(), 6);
    }

    #[test]
    fn crlf_and_values_with_equals_signs() {
        let c = Config::parse(Path::new("c"), "journal=/a=b/j.log\r\ndir=/x\r\n", KNOWN).unwrap();
        assert_eq!(c.get("journal"), Some("/a=b/j.log"));
        assert_eq!(c.get("dir"), Some("/x"));
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let err =
            Config::parse(Path::new("glacier.cfg"), "vault=x\n\nvalut=y\n", KNOWN).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file glacier.cfg, line 3: unknown option 'valut'"
        );
    }

    #[test]
    fn a_line_without_equals_is_a_syntax_error() {
        let err = Config::parse(Path::new("c"), "vault photos\n", KNOWN).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 1, .. }), "{err}");
    }

    #[test]
    fn missing_and_binary_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::read(&dir.path().join("absent.cfg"), KNOWN).unwrap_err();
        assert!(err.to_string().contains("absent.cfg"), "{err}");
        let bin = dir.path().join("bin.cfg");
        std::fs::write(&bin, b"vault=\xff\xfe").unwrap();
        let err = Config::read(&bin, KNOWN).unwrap_err();
        assert!(
            matches!(err, ConfigError::NotUtf8 { offset: 6, .. }),
            "{err}"
        );
    }
}
