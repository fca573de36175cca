//! An installation to back up: a Dataverse database with Dataverse's
//! schema, a file store on disk, and the configuration file.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dataverse_source::postgres::{Client, Config, NoTls};

const SCHEMA: &str =
    include_str!("../../../../crates/dataverse-source/tests/dataverse-source/schema.sql");

fn env(name: &str, script: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the server with `eval \"$(scripts/services/{script} start)\"` (scripts/test does)")
    })
}

pub(crate) struct Pg {
    pub(crate) host: String,
    pub(crate) port: u16,
}

pub(crate) fn pg() -> Pg {
    Pg {
        host: env("PERMAFROST_POSTGRES_HOST", "postgres"),
        port: env("PERMAFROST_POSTGRES_PORT", "postgres").parse().unwrap(),
    }
}

pub(crate) fn connect(db: &str) -> Client {
    let p = pg();
    Config::new()
        .host(&p.host)
        .port(p.port)
        .user("postgres")
        .dbname(db)
        .connect(NoTls)
        .unwrap()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The sshd of `scripts/services/sshd`: port, client key, `known_hosts`,
/// read from its `PERMAFROST_SSH_COMMAND`.
pub(crate) struct Sshd {
    pub(crate) port: u16,
    pub(crate) key: String,
    pub(crate) known_hosts: String,
}

pub(crate) fn sshd() -> Sshd {
    let cmd = env("PERMAFROST_SSH_COMMAND", "sshd");
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let after = |flag: &str| {
        let i = words
            .iter()
            .position(|w| *w == flag)
            .unwrap_or_else(|| panic!("{flag} in {cmd}"));
        words[i + 1].to_owned()
    };
    let known_hosts = words
        .iter()
        .find_map(|w| w.strip_prefix("UserKnownHostsFile="))
        .expect("UserKnownHostsFile in PERMAFROST_SSH_COMMAND")
        .to_owned();
    Sshd {
        port: after("-p").parse().unwrap(),
        key: after("-i"),
        known_hosts,
    }
}

/// One installation: databases `<name>` (Dataverse) and `<name>_backup`
/// (status), a file store, a backup directory, in a temp dir.
pub(crate) struct Site {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) name: String,
    pub(crate) dv: Client,
    pub(crate) files: PathBuf,
    pub(crate) backup: PathBuf,
}

impl Site {
    pub(crate) fn new(tag: &str) -> Site {
        let name = format!(
            "dvb_{tag}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = connect("postgres");
        for db in [name.clone(), format!("{name}_backup")] {
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .unwrap();
        }
        let mut dv = connect(&name);
        dv.batch_execute(SCHEMA).unwrap();
        dv.batch_execute(
            "INSERT INTO dvobject (id, dtype, createdate, modificationtime) VALUES (1, 'Dataverse', '2020-01-01', '2020-01-01'); \
             SELECT setval('dvobject_id_seq', 100);",
        )
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let files = tmp.path().join("files");
        let backup = tmp.path().join("backup");
        fs::create_dir_all(&files).unwrap();
        Site {
            tmp,
            name,
            dv,
            files,
            backup,
        }
    }

    pub(crate) fn backup_db(&self) -> Client {
        connect(&format!("{}_backup", self.name))
    }

    pub(crate) fn dataset(&mut self, authority: &str, identifier: &str) -> i64 {
        self.dataset_harvested(authority, identifier, None)
    }

    pub(crate) fn dataset_harvested(
        &mut self,
        authority: &str,
        identifier: &str,
        client: Option<&str>,
    ) -> i64 {
        let hc: Option<i64> = client.map(|c| {
            let r = self
                .dv
                .query_one(
                    "INSERT INTO harvestingclient (name) VALUES ($1) RETURNING id",
                    &[&c],
                )
                .unwrap();
            i64::from(r.get::<_, i32>(0))
        });
        let r = self
            .dv
            .query_one(
                "INSERT INTO dvobject (dtype, owner_id, createdate, modificationtime, protocol, authority, identifier) \
                 VALUES ('Dataset', 1, now(), now(), 'doi', $1, $2) RETURNING id",
                &[&authority, &identifier],
            )
            .unwrap();
        let id = i64::from(r.get::<_, i32>(0));
        self.dv
            .execute(
                "INSERT INTO dataset (id, harvestingclient_id, datasettype_id) \
                 VALUES ($1, $2, (SELECT id FROM datasettype WHERE name = 'dataset'))",
                &[&id, &hc],
            )
            .unwrap();
        id
    }

    /// A file whose content is on disk in the file store (unless `content`
    /// is `None`), recorded with the MD5 of `recorded` (or of the content).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn file(
        &mut self,
        dataset: i64,
        storage_id: &str,
        content: Option<&[u8]>,
        checksum_type: &str,
        checksum: Option<&str>,
        created: &str,
    ) -> i64 {
        let dir = self.dataset_dir(dataset);
        if let Some(c) = content {
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(storage_id), c).unwrap();
        }
        let sum = checksum.map_or_else(|| md5(content.unwrap_or_default()), str::to_owned);
        let storage = format!("file://{storage_id}");
        let size = content.map(|c| i64::try_from(c.len()).unwrap());
        self.insert_file(dataset, Some(&storage), checksum_type, &sum, size, created)
    }

    pub(crate) fn insert_file(
        &mut self,
        dataset: i64,
        storage: Option<&str>,
        checksum_type: &str,
        checksum: &str,
        size: Option<i64>,
        created: &str,
    ) -> i64 {
        let r = self
            .dv
            .query_one(
                "INSERT INTO dvobject (dtype, owner_id, createdate, modificationtime, storageidentifier) \
                 VALUES ('DataFile', $1, $2::text::timestamp, now(), $3) RETURNING id",
                &[&dataset, &created, &storage],
            )
            .unwrap();
        let id = i64::from(r.get::<_, i32>(0));
        self.dv
            .execute(
                "INSERT INTO datafile (id, checksumtype, checksumvalue, contenttype, filesize, rootdatafileid) \
                 VALUES ($1, $2, $3, 'application/octet-stream', $4, -1)",
                &[&id, &checksum_type, &checksum, &size],
            )
            .unwrap();
        id
    }

    pub(crate) fn dataset_dir(&mut self, dataset: i64) -> PathBuf {
        let r = self
            .dv
            .query_one(
                "SELECT authority, identifier FROM dvobject WHERE id = $1",
                &[&(dataset as i32)],
            )
            .unwrap();
        let (a, i): (String, String) = (r.get(0), r.get(1));
        self.files.join(a).join(i)
    }

    /// Writes `config.ini` with these `[Backup]` lines; status in the
    /// backup database when `pg_status`, else in SQLite.
    pub(crate) fn config(&self, backup: &str, pg_status: bool, email: bool) -> PathBuf {
        let p = pg();
        let mut text = format!(
            "[Database]\nHost: {}\nPort: {}\nDatabase: {}\nUsername: postgres\nPassword:\n",
            p.host, p.port, self.name
        );
        if pg_status {
            writeln!(text, "BackupDatabase: {}_backup", self.name).unwrap();
        }
        write!(
            text,
            "\n[Repository]\nFileSystemDirectory: {}\n\n[Backup]\n{backup}\n",
            self.files.display()
        )
        .unwrap();
        if email {
            let host = env("PERMAFROST_SMTP_HOST", "smtp");
            let port = env("PERMAFROST_SMTP_PORT", "smtp");
            let _ = write!(
                text,
                "\n[Notifications]\nEmail: admin@dataverse.test\nSmtpHost: {host}\nSmtpPort: {port}\nFrom: backup@dataverse.test\n"
            );
        }
        let path = self.tmp.path().join("config.ini");
        fs::write(&path, text).unwrap();
        path
    }

    /// The binary with `config` and `args`, in the site's directory, with
    /// moto's credentials in the environment (the AWS chain; no `~/.aws`
    /// is read: the credentials file is `aws-credentials` in the site's
    /// directory, absent unless a test writes it).
    pub(crate) fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dv-backup"));
        c.arg("--config")
            .arg(config)
            .args(args)
            .current_dir(self.tmp.path())
            .env_remove("RUST_LOG")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", self.tmp.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.tmp.path().join("aws-credentials"),
            );
        c
    }

    pub(crate) fn run(&self, config: &Path, args: &[&str]) -> Output {
        self.command(config, args).output().unwrap()
    }

    /// Starts `run ARGS`, waits until at least `min` more rows than now are
    /// in the status table (at most `patience`), kills the process with
    /// SIGKILL and returns how many rows it had added by then.
    ///
    /// # Panics
    /// When the run recorded fewer than `min` within `patience`.
    pub(crate) fn kill_run_after(
        &self,
        config: &Path,
        args: &[&str],
        min: usize,
        patience: Duration,
    ) -> usize {
        let base = self.statuses().len();
        let mut child = self
            .command(config, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut recorded = 0;
        while start.elapsed() < patience {
            recorded = self.statuses().len() - base;
            if recorded >= min {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(
            recorded >= min,
            "the run recorded only {recorded} files in {patience:?}"
        );
        self.statuses().len() - base
    }

    /// Every column of every row of the status table, as text, by
    /// storage identifier: what "nothing written" compares.
    pub(crate) fn status_rows(&self) -> std::collections::BTreeMap<String, Vec<Option<String>>> {
        self.backup_db()
            .query(
                "SELECT storageidentifier, id::text, datasetidentifier, status, createdate::text, \
                 lastbackuptime::text, lastbackupmethod FROM datafilestatus",
                &[],
            )
            .unwrap_or_default()
            .iter()
            .map(|r| (r.get(0), (1..7).map(|i| r.get(i)).collect()))
            .collect()
    }

    /// `storageidentifier -> status` of the backup database's table.
    pub(crate) fn statuses(&self) -> std::collections::BTreeMap<String, String> {
        // Empty until the first run creates the table.
        self.backup_db()
            .query("SELECT storageidentifier, status FROM datafilestatus", &[])
            .unwrap_or_default()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let mut admin = connect("postgres");
        for db in [self.name.clone(), format!("{}_backup", self.name)] {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

pub(crate) fn md5(data: &[u8]) -> String {
    dataverse_source::Checksum::compute(&dataverse_source::ChecksumType::Md5, &mut &data[..])
        .unwrap()
        .unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Messages in the SMTP sink's maildir containing `needle`.
pub(crate) fn mails_containing(needle: &str) -> Vec<String> {
    let dir = PathBuf::from(env("PERMAFROST_SMTP_MAILDIR", "smtp")).join("new");
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        // Undo quoted-printable soft line breaks.
        let text = fs::read_to_string(e.path())
            .unwrap_or_default()
            .replace("=\n", "")
            .replace("=3D", "=");
        if text.contains(needle) {
            out.push(text);
        }
    }
    out
}

pub(crate) fn sha256(data: &[u8]) -> String {
    dataverse_source::Checksum::compute(&dataverse_source::ChecksumType::Sha256, &mut &data[..])
        .unwrap()
        .unwrap()
}

/// `data`'s checksum of Dataverse type `kind` (`MD5`, `SHA-1`, ...).
pub(crate) fn checksum(kind: &str, data: &[u8]) -> String {
    dataverse_source::Checksum::compute(
        &dataverse_source::ChecksumType::parse(kind),
        &mut &data[..],
    )
    .unwrap()
    .unwrap()
}

/// Bytes zstd cannot shrink (a xorshift stream).
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every file under `dir`, by path relative to it (`/`-separated).
pub(crate) fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// Every file under `dir` with its size and modification time: what "no
/// new copies" compares.
pub(crate) fn stamps(
    dir: &Path,
) -> std::collections::BTreeMap<String, (u64, std::time::SystemTime)> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut std::collections::BTreeMap<String, (u64, std::time::SystemTime)>,
    ) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, (m.len(), m.modified().unwrap()));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}
