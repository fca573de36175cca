//! `config.ini`: the original backup script's file, read as Python's
//! ConfigParser reads it, with our additions.
//!
//! Sections and keys are case-insensitive (ConfigParser lowercases keys);
//! `key: value` and `key = value` both work; lines starting with `;` or `#`
//! are comments; an indented line continues the previous value. Unknown
//! keys are ignored (the original's file has Swift keys we do not use).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A parsed INI file: section (lowercase) -> key (lowercase) -> value.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ini {
    sections: BTreeMap<String, BTreeMap<String, String>>,
    /// Section (lowercase) -> its name as first written (driver ids of
    /// `[Store.<driverId>]` are case-sensitive, like Dataverse's).
    spelled: BTreeMap<String, String>,
}

impl Ini {
    pub(crate) fn parse(text: &str) -> Result<Ini> {
        let mut ini = Ini::default();
        let mut section: Option<String> = None;
        let mut last_key: Option<String> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
                last_key = None;
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let (Some(s), Some(k)) = (&section, &last_key) {
                    let v = ini
                        .sections
                        .get_mut(s)
                        .and_then(|m| m.get_mut(k))
                        .context("continuation line")?;
                    v.push('\n');
                    v.push_str(trimmed);
                    continue;
                }
                bail!(
                    "line {}: indented line continues nothing: {trimmed:?}",
                    n + 1
                );
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    bail!("line {}: section header without ']': {trimmed:?}", n + 1);
                };
                let written = name.trim();
                let name = written.to_ascii_lowercase();
                ini.sections.entry(name.clone()).or_default();
                ini.spelled
                    .entry(name.clone())
                    .or_insert_with(|| written.to_owned());
                section = Some(name);
                last_key = None;
                continue;
            }
            let Some(s) = &section else {
                bail!("line {}: a key before any [section]: {trimmed:?}", n + 1);
            };
            let pos = trimmed.find([':', '=']).with_context(|| {
                format!("line {}: expected `key: value`, got {trimmed:?}", n + 1)
            })?;
            let key = trimmed[..pos].trim().to_ascii_lowercase();
            let value = trimmed[pos + 1..].trim().to_owned();
            ini.sections
                .get_mut(s)
                .expect("the section was inserted when its header was read")
                .insert(key.clone(), value);
            last_key = Some(key);
        }
        Ok(ini)
    }

    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(&section.to_ascii_lowercase())
            .and_then(|m| m.get(&key.to_ascii_lowercase()))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// A section's name as the file first wrote it (`section` in any case).
    pub(crate) fn spelling<'a>(&'a self, section: &'a str) -> &'a str {
        self.spelled
            .get(&section.to_ascii_lowercase())
            .map_or(section, String::as_str)
    }
}

/// `[Database]`.
#[derive(Debug, Clone)]
pub(crate) struct DatabaseSection {
    pub(crate) db: dataverse_source::DatabaseConfig,
    /// The status database on the same server; `None`: SQLite.
    pub(crate) backup_database: Option<String>,
}

/// One store of the installation, by driver id (`[Store.<driverId>]`).
#[derive(Debug, Clone)]
pub(crate) enum StoreConfig {
    /// `Type: file`: `<Directory>/<authority>/<identifier>/<storageid>`.
    File { directory: PathBuf },
    /// `Type: s3`: object `<authority>/<identifier>/<storageid>`.
    S3(S3StoreConfig),
}

/// An s3 store's keys; what is not given comes from the AWS chain
/// (`AWS_REGION`, `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, `~/.aws/config`).
#[derive(Debug, Clone, Default)]
pub(crate) struct S3StoreConfig {
    /// `Bucket` (Dataverse's `bucket-name`); `None`: the bucket named in
    /// each storage identifier.
    pub(crate) bucket: Option<String>,
    /// `Region` (Dataverse's `custom-endpoint-region`).
    pub(crate) region: Option<String>,
    /// `EndpointUrl` (Dataverse's `custom-endpoint-url`).
    pub(crate) endpoint_url: Option<String>,
    /// `Profile` (Dataverse's `profile`).
    pub(crate) profile: Option<String>,
    /// `PathStyle` (Dataverse's `path-style-access`); `None`: on exactly
    /// when an endpoint is given.
    pub(crate) path_style: Option<bool>,
}

/// `[Backup]`.
#[derive(Debug, Clone)]
pub(crate) enum BackupConfig {
    Ssh(SshConfig),
    Directory { path: PathBuf },
    Store(StoreDestConfig),
}

#[derive(Debug, Clone)]
pub(crate) struct SshConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) directory: String,
    pub(crate) key: Option<PathBuf>,
    pub(crate) known_hosts: Option<PathBuf>,
    /// `remote` (run `md5sum` & co. on the server) or `readback` (read the
    /// copy back over SFTP); default `remote`, falling back to a read back
    /// when the server runs no commands.
    pub(crate) verify: String,
}

/// `[Backup] StorageType: store`: a Permafrost store and its catalog.
#[derive(Debug, Clone)]
pub(crate) struct StoreDestConfig {
    /// `StoreLocation`: any glacier-multipart location (`file:///DIR` or a
    /// path, `glacier://REGION`, `s3://BUCKET[/PREFIX]`).
    pub(crate) location: String,
    /// `Vault` (default `dataverse`).
    pub(crate) vault: String,
    /// `Catalog`: the catalog file (`glacier-sync --catalog`).
    pub(crate) catalog: PathBuf,
    /// `MaxFiles`: members per bundle (default 1000).
    pub(crate) max_files: u64,
    /// `MaxBundleMiB`: content bytes per bundle (default 500 MiB).
    pub(crate) max_bundle_size: u64,
    /// `BatchFiles`: files staged before an archive run (default 5000).
    pub(crate) batch_files: usize,
    /// `BatchMiB`: bytes staged before an archive run (default 2048 MiB).
    pub(crate) batch_bytes: u64,
    /// `StagingDirectory` (default `dv-backup-staging` beside the config).
    pub(crate) staging: PathBuf,
}

/// Reads the `[Backup]` keys of `StorageType: store`.
fn store_destination(ini: &Ini, rel: &dyn Fn(&str) -> PathBuf) -> Result<StoreDestConfig> {
    let max_files = parse_num(ini, "Backup", "MaxFiles", 1000u64)?;
    let batch_files = parse_num(ini, "Backup", "BatchFiles", 5000usize)?;
    if max_files == 0 || batch_files == 0 {
        bail!("[Backup] MaxFiles and BatchFiles must be at least 1");
    }
    Ok(StoreDestConfig {
        location: required(ini, "Backup", "StoreLocation")?.to_owned(),
        vault: ini.get("Backup", "Vault").unwrap_or("dataverse").to_owned(),
        catalog: rel(required(ini, "Backup", "Catalog")?),
        max_files,
        max_bundle_size: parse_num(ini, "Backup", "MaxBundleMiB", 500u64)? << 20,
        batch_files,
        batch_bytes: parse_num(ini, "Backup", "BatchMiB", 2048u64)? << 20,
        staging: rel(ini
            .get("Backup", "StagingDirectory")
            .unwrap_or("dv-backup-staging")),
    })
}

/// `[Notifications]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifications {
    pub(crate) email: Option<String>,
    pub(crate) smtp_host: String,
    pub(crate) smtp_port: u16,
    pub(crate) from: String,
}

/// Everything the tool reads from `config.ini`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) database: DatabaseSection,
    pub(crate) stores: BTreeMap<String, StoreConfig>,
    pub(crate) backup: BackupConfig,
    pub(crate) notifications: Notifications,
    /// The SQLite status file when there is no BackupDatabase.
    pub(crate) status_file: PathBuf,
}

/// The environment variable that overrides `[Database] Password`.
pub(crate) const PASSWORD_ENV: &str = "DV_BACKUP_DB_PASSWORD";

fn parse_num<T: std::str::FromStr>(ini: &Ini, section: &str, key: &str, default: T) -> Result<T> {
    match ini.get(section, key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("[{section}] {key}: {v:?} is not a number")),
    }
}

fn required<'a>(ini: &'a Ini, section: &str, key: &str) -> Result<&'a str> {
    ini.get(section, key)
        .with_context(|| format!("[{section}] {key} is required"))
}

/// Expands a leading `~/`.
fn expand(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(p)
}

impl Config {
    pub(crate) fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration {}", path.display()))?;
        let ini = Ini::parse(&text).with_context(|| format!("in {}", path.display()))?;
        Self::from_ini(&ini, path)
    }

    #[allow(clippy::too_many_lines)] // one section after the other, as the file reads
    pub(crate) fn from_ini(ini: &Ini, path: &Path) -> Result<Config> {
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &str| {
            let p = expand(p);
            if p.is_absolute() { p } else { base.join(p) }
        };
        let password = std::env::var(PASSWORD_ENV)
            .ok()
            .or_else(|| ini.get("Database", "Password").map(str::to_owned))
            .unwrap_or_default();
        let db = dataverse_source::DatabaseConfig::new(
            ini.get("Database", "Host").unwrap_or("localhost"),
            parse_num(ini, "Database", "Port", 5432u16)?,
            required(ini, "Database", "Database")?,
            required(ini, "Database", "Username")?,
        )
        .with_password(password);
        let database = DatabaseSection {
            db,
            backup_database: ini.get("Database", "BackupDatabase").map(str::to_owned),
        };

        let stores = read_stores(ini, &rel)?;

        let storage_type = ini
            .get("Backup", "StorageType")
            .unwrap_or("ssh")
            .to_ascii_lowercase();
        let backup = match storage_type.as_str() {
            "ssh" => BackupConfig::Ssh(SshConfig {
                host: required(ini, "Backup", "SshHost")?.to_owned(),
                port: parse_num(ini, "Backup", "SshPort", 22u16)?,
                user: required(ini, "Backup", "SshUsername")?.to_owned(),
                directory: required(ini, "Backup", "BackupDirectory")?.to_owned(),
                key: ini.get("Backup", "SshKey").map(rel),
                known_hosts: ini.get("Backup", "SshKnownHosts").map(rel),
                verify: ini
                    .get("Backup", "SshVerify")
                    .unwrap_or("remote")
                    .to_ascii_lowercase(),
            }),
            "directory" => BackupConfig::Directory {
                path: rel(required(ini, "Backup", "BackupDirectory")?),
            },
            "store" => BackupConfig::Store(store_destination(ini, &rel)?),
            "swift" => bail!(
                "[Backup] StorageType swift was never finished in the original script and is not supported; use ssh, directory or store"
            ),
            other => bail!("[Backup] StorageType {other:?} is not one of ssh, directory, store"),
        };
        if let BackupConfig::Ssh(s) = &backup
            && !matches!(s.verify.as_str(), "remote" | "readback")
        {
            bail!(
                "[Backup] SshVerify {:?} is not one of remote, readback",
                s.verify
            );
        }

        let notifications = Notifications {
            email: ini.get("Notifications", "Email").map(str::to_owned),
            smtp_host: ini
                .get("Notifications", "SmtpHost")
                .unwrap_or("localhost")
                .to_owned(),
            smtp_port: parse_num(ini, "Notifications", "SmtpPort", 25u16)?,
            from: ini
                .get("Notifications", "From")
                .map_or_else(|| format!("dv-backup@{}", hostname()), str::to_owned),
        };
        let status_file = rel(ini
            .get("Backup", "StatusFile")
            .unwrap_or("dv-backup-status.sqlite"));
        Ok(Config {
            database,
            stores,
            backup,
            notifications,
            status_file,
        })
    }

    /// The method recorded as `lastbackupmethod` (the original recorded its
    /// StorageType).
    pub(crate) fn method(&self) -> &'static str {
        match self.backup {
            BackupConfig::Ssh(_) => "ssh",
            BackupConfig::Directory { .. } => "directory",
            BackupConfig::Store(_) => "store",
        }
    }
}

/// The stores by driver id: `[Repository] FileSystemDirectory` is the
/// store of driver id `file`, `[Store.<driverId>]` sections (our addition)
/// add or replace stores with `Type: file` (`Directory`) or `Type: s3`
/// (`Bucket`, `Region`, `EndpointUrl`, `PathStyle`, `Profile`), and driver
/// id `s3` is an s3 store on the AWS chain unless configured otherwise
/// (the original read `s3://` files with no configuration at all).
fn read_stores(ini: &Ini, rel: &dyn Fn(&str) -> PathBuf) -> Result<BTreeMap<String, StoreConfig>> {
    let mut stores = BTreeMap::new();
    if let Some(dir) = ini.get("Repository", "FileSystemDirectory") {
        stores.insert(
            "file".to_owned(),
            StoreConfig::File {
                directory: rel(dir),
            },
        );
    }
    for section in ini.sections() {
        if !section.starts_with("store.") {
            continue;
        }
        // The driver id as written: Dataverse's are case-sensitive.
        let id = &ini.spelling(section)["store.".len()..];
        if id.is_empty() || id.contains("://") {
            bail!("[{section}]: {id:?} is not a driver id");
        }
        let kind = ini
            .get(section, "Type")
            .unwrap_or("file")
            .to_ascii_lowercase();
        let store = match kind.as_str() {
            "file" => StoreConfig::File {
                directory: rel(required(ini, section, "Directory")?),
            },
            "s3" => StoreConfig::S3(S3StoreConfig {
                bucket: ini.get(section, "Bucket").map(str::to_owned),
                region: ini.get(section, "Region").map(str::to_owned),
                endpoint_url: ini.get(section, "EndpointUrl").map(str::to_owned),
                profile: ini.get(section, "Profile").map(str::to_owned),
                path_style: ini
                    .get(section, "PathStyle")
                    .map(|v| parse_bool(section, "PathStyle", v))
                    .transpose()?,
            }),
            other => {
                bail!("[{section}] Type: {other:?} is not a store type this tool reads (file, s3)")
            }
        };
        stores.insert(id.to_owned(), store);
    }
    stores
        .entry("s3".to_owned())
        .or_insert_with(|| StoreConfig::S3(S3StoreConfig::default()));
    Ok(stores)
}

/// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, as ConfigParser's
/// `getboolean` reads them.
fn parse_bool(section: &str, key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => bail!("[{section}] {key}: {v:?} is not true or false"),
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "[Database]\n; Dataverse database access configuration\n\nHost: localhost\nPort: 5432\nDatabase: dvndb\nUsername: dvnapp\nPassword: xxxxxx\nBackupDatabase: backupdb\n\n[Repository]\nFileSystemDirectory: /usr/local/glassfish4/glassfish/domains/domain1/files\n\n[Backup]\nStorageType: ssh\nSshHost: backup.dataverse.edu\n; ssh port is optional, defaults to 22\nSshPort: 2222\nSshUsername: backup\nBackupDirectory: /dataverse_backup\n\n;StorageType: swift\nSwiftAuthUrl: https://something.dataverse.edu/swift/v2.0/tokens\nSwiftAuthVersion: 2\n\n[Notifications]\nEmail: somebody@dataverse.edu\n";

    #[test]
    fn reads_the_original_config_ini() {
        let ini = Ini::parse(ORIGINAL).unwrap();
        let c = Config::from_ini(&ini, Path::new("/etc/dv/config.ini")).unwrap();
        assert_eq!(c.database.db.dbname, "dvndb");
        assert_eq!(c.database.db.user, "dvnapp");
        assert_eq!(c.database.backup_database.as_deref(), Some("backupdb"));
        match &c.stores["file"] {
            StoreConfig::File { directory } => {
                assert_eq!(
                    directory,
                    Path::new("/usr/local/glassfish4/glassfish/domains/domain1/files")
                );
            }
            StoreConfig::S3(_) => panic!("file store expected"),
        }
        let BackupConfig::Ssh(ssh) = &c.backup else {
            panic!("ssh expected")
        };
        assert_eq!(
            (ssh.host.as_str(), ssh.port, ssh.user.as_str()),
            ("backup.dataverse.edu", 2222, "backup")
        );
        assert_eq!(ssh.directory, "/dataverse_backup");
        assert_eq!(
            c.notifications.email.as_deref(),
            Some("somebody@dataverse.edu")
        );
        assert_eq!(c.status_file, Path::new("/etc/dv/dv-backup-status.sqlite"));
        assert_eq!(c.method(), "ssh");
        assert!(
            !format!("{:?}", c.database.db).contains("xxxxxx"),
            "the password is never printed"
        );
    }

    #[test]
    fn ini_syntax() {
        let ini = Ini::parse("[A]\nKey = v1\nlong: first\n  second\n# c\n[b]\nx:y:z\n").unwrap();
        assert_eq!(ini.get("a", "KEY"), Some("v1"));
        assert_eq!(ini.get("A", "long"), Some("first\nsecond"));
        assert_eq!(ini.get("B", "x"), Some("y:z"));
        assert!(Ini::parse("k: v\n").is_err());
        assert!(Ini::parse("[a\n").is_err());
    }

    #[test]
    fn store_sections_and_backup_types() {
        let text = "[Database]\nDatabase: d\nUsername: u\n[Store.s3-east]\nType: s3\nEndpointUrl: http://127.0.0.1:9000\n[Store.files2]\nDirectory: data2\n[Backup]\nStorageType: store\nStoreLocation: file:///srv/store\nCatalog: cat.sqlite\n";
        let c = Config::from_ini(&Ini::parse(text).unwrap(), Path::new("/x/config.ini")).unwrap();
        assert!(
            matches!(&c.stores["s3-east"], StoreConfig::S3(s) if s.endpoint_url.as_deref() == Some("http://127.0.0.1:9000"))
        );
        assert!(
            matches!(&c.stores["files2"], StoreConfig::File { directory } if directory == Path::new("/x/data2"))
        );
        let BackupConfig::Store(s) = &c.backup else {
            panic!()
        };
        assert_eq!(s.catalog, Path::new("/x/cat.sqlite"));
        assert_eq!(s.vault, "dataverse");
        assert_eq!(
            (s.max_files, s.max_bundle_size, s.batch_files, s.batch_bytes),
            (1000, 500 << 20, 5000, 2048 << 20)
        );
        assert_eq!(s.staging, Path::new("/x/dv-backup-staging"));
        let swift = "[Database]\nDatabase: d\nUsername: u\n[Backup]\nStorageType: swift\n";
        assert!(Config::from_ini(&Ini::parse(swift).unwrap(), Path::new("c")).is_err());
    }

    #[test]
    fn s3_store_sections_by_driver_id() {
        let text = "[Database]\nDatabase: d\nUsername: u\n[Repository]\nFileSystemDirectory: /srv/files\n\
            [Store.S3East]\nType: S3\nBucket: dv-east\nRegion: us-east-2\nEndpointUrl: http://127.0.0.1:9000\nPathStyle: no\nProfile: backup\n\
            [Backup]\nStorageType: directory\nBackupDirectory: /b\n";
        let c = Config::from_ini(&Ini::parse(text).unwrap(), Path::new("/x/config.ini")).unwrap();
        assert_eq!(
            c.stores.keys().map(String::as_str).collect::<Vec<_>>(),
            ["S3East", "file", "s3"],
            "driver ids keep their case; file and s3 are there by default"
        );
        let StoreConfig::S3(east) = &c.stores["S3East"] else {
            panic!("an s3 store")
        };
        assert_eq!(east.bucket.as_deref(), Some("dv-east"));
        assert_eq!(east.region.as_deref(), Some("us-east-2"));
        assert_eq!(east.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(east.path_style, Some(false));
        assert_eq!(east.profile.as_deref(), Some("backup"));
        let StoreConfig::S3(default) = &c.stores["s3"] else {
            panic!("an s3 store")
        };
        assert!(
            default.bucket.is_none()
                && default.endpoint_url.is_none()
                && default.path_style.is_none()
        );
        assert!(
            matches!(&c.stores["file"], StoreConfig::File { directory } if directory == Path::new("/srv/files"))
        );

        for bad in [
            "[Store.x]\nType: swift\n",
            "[Store.x]\nType: s3\nPathStyle: maybe\n",
            "[Store.x]\nType: file\n",
        ] {
            let text = format!(
                "[Database]\nDatabase: d\nUsername: u\n{bad}[Backup]\nStorageType: directory\nBackupDirectory: /b\n"
            );
            assert!(
                Config::from_ini(&Ini::parse(&text).unwrap(), Path::new("c")).is_err(),
                "{bad:?} is refused"
            );
        }
    }
}
