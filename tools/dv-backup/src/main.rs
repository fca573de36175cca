//! `dv-backup`: back up a Dataverse installation's files, verified, from
//! cron. See the README for configuration, exit codes and restores.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// a tool talks to its user
// Docs name config.ini keys (BackupDatabase, StorageType) as users type them.
#![allow(clippy::doc_markdown)]

// jemalloc: every batch allocates and frees large blocks (frames, index
// JSON, upload parts); with the C library's allocator the RSS of a
// million-file run kept rising from fragmentation (118 MiB against 92).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod config;
mod notify;
mod run;
mod sftp;
mod status;
mod store;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dataverse_source::{
    DataverseSource, Destination, DirectoryDestination, FileStore, FileSystemStore, S3FileStore,
    Stores,
};

use crate::config::{BackupConfig, Config, S3StoreConfig, StoreConfig};
use crate::status::{PgStatus, SqliteStatus, StatusDb};

/// Exit codes.
mod exit {
    /// Some files failed (their statuses are recorded).
    pub(crate) const FILES_FAILED: u8 = 1;
    /// The command line or the configuration was not understood.
    pub(crate) const USAGE: u8 = 2;
    /// A database (Dataverse's or the status database) could not be used.
    pub(crate) const DATABASE: u8 = 3;
    /// The destination could not be reached.
    pub(crate) const DESTINATION: u8 = 4;
    /// The run itself failed part-way (see the message); rerun it.
    pub(crate) const RUN_FAILED: u8 = 5;
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Back up a Dataverse installation's files, verified (a replacement for Dataverse's run_backup.py)"
)]
struct Cli {
    /// The configuration (the original script's config.ini, with additions).
    #[arg(long, short = 'c', default_value = "config.ini", global = true)]
    config: PathBuf,
    /// Results as JSON on standard output; messages on standard error.
    #[arg(long, global = true)]
    json: bool,
    /// More messages (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Back up the files created since the newest one recorded (all on the
    /// first run); each is copied, verified at the destination and recorded.
    Run {
        /// List every file and back up all that are not recorded OK.
        #[arg(long)]
        rerun: bool,
        /// Say what would be backed up; copy and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Copies in flight at once.
        #[arg(short = 'j', long, default_value_t = 4)]
        jobs: usize,
        /// Do not send the e-mail report even when [Notifications] Email is set.
        #[arg(long)]
        no_email: bool,
    },
    /// What is backed up, what failed and why.
    Status {
        /// Only files whose last backup failed, with the reason.
        #[arg(long)]
        failed: bool,
    },
}

/// An error with its exit code.
#[derive(Debug)]
struct Exit(u8, anyhow::Error);

trait Code<T> {
    fn code(self, code: u8) -> Result<T, Exit>;
}

impl<T, E: Into<anyhow::Error>> Code<T> for Result<T, E> {
    fn code(self, code: u8) -> Result<T, Exit> {
        self.map_err(|e| Exit(code, e.into()))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn,dv_backup=info",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    match real_main(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(Exit(code, e)) => {
            eprintln!("dv-backup: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn real_main(cli: &Cli) -> Result<u8, Exit> {
    let config = Config::load(&cli.config).code(exit::USAGE)?;
    match &cli.command {
        Command::Run {
            rerun,
            dry_run,
            jobs,
            no_email,
        } => cmd_run(cli, &config, *rerun, *dry_run, *jobs, *no_email),
        Command::Status { failed } => cmd_status(cli, &config, *failed),
    }
}

fn open_status(config: &Config, create: bool) -> Result<Box<dyn StatusDb>> {
    Ok(match &config.database.backup_database {
        Some(name) => Box::new(PgStatus::open(
            &config.database.db.with_dbname(name),
            create,
        )?),
        None => Box::new(SqliteStatus::open(&config.status_file, create)?),
    })
}

/// For a dry run: the table if it exists, else an empty one in memory
/// (a dry run creates nothing).
fn open_status_read_only(config: &Config) -> Result<Box<dyn StatusDb>> {
    match &config.database.backup_database {
        Some(name) => match PgStatus::open(&config.database.db.with_dbname(name), false) {
            Ok(s) => Ok(Box::new(s)),
            Err(e) if e.to_string().contains("has no table datafilestatus") => {
                Ok(Box::new(SqliteStatus::in_memory()?))
            }
            Err(e) => Err(e),
        },
        None if !config.status_file.exists() => Ok(Box::new(SqliteStatus::in_memory()?)),
        None => Ok(Box::new(SqliteStatus::open(&config.status_file, false)?)),
    }
}

/// The installation's stores by driver id, as `[Repository]` and
/// `[Store.<driverId>]` configure them.
fn build_stores(config: &Config) -> Stores {
    let mut stores = Stores::new();
    for (id, store) in &config.stores {
        let s: Arc<dyn FileStore> = match store {
            StoreConfig::File { directory } => Arc::new(FileSystemStore::new(directory)),
            StoreConfig::S3(s3) => Arc::new(s3_store(id, s3)),
        };
        stores.insert(id.clone(), s);
    }
    stores
}

/// An s3 store; its client is made at its first read, so a configured (or
/// the default `s3`) store no file uses costs nothing. Credentials come
/// from the AWS chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
/// `Profile`, instance roles), never from the config file.
fn s3_store(id: &str, config: &S3StoreConfig) -> S3FileStore {
    let mut store = S3FileStore::new(id);
    if let Some(bucket) = &config.bucket {
        store = store.bucket(bucket);
    }
    if let Some(region) = &config.region {
        store = store.region(region);
    }
    if let Some(url) = &config.endpoint_url {
        store = store.endpoint_url(url);
    }
    if let Some(on) = config.path_style {
        store = store.path_style(on);
    }
    if let Some(profile) = &config.profile {
        store = store.profile(profile);
    }
    store
}

fn build_destination(config: &Config, dry_run: bool) -> Result<Arc<dyn Destination>, Exit> {
    Ok(match &config.backup {
        BackupConfig::Ssh(ssh) => {
            if dry_run {
                return Ok(Arc::new(dataverse_source::MemoryDestination::new()));
            }
            Arc::new(sftp::SftpDestination::connect(ssh.clone()).code(exit::DESTINATION)?)
        }
        BackupConfig::Directory { path } => Arc::new(DirectoryDestination::new(path)),
        // A dry run copies nothing: the store is not opened.
        BackupConfig::Store(_) => Arc::new(dataverse_source::MemoryDestination::new()),
    })
}

/// Where a run puts files: a per-file destination, or the store (staged,
/// archived in batches).
enum Target {
    Direct(Arc<dyn Destination>),
    Store(Box<store::StoreBackend>),
}

fn build_target(config: &Config, dry_run: bool) -> Result<Target, Exit> {
    match &config.backup {
        BackupConfig::Store(s) if !dry_run => Ok(Target::Store(Box::new(
            store::StoreBackend::open(s).code(exit::DESTINATION)?,
        ))),
        _ => Ok(Target::Direct(build_destination(config, dry_run)?)),
    }
}

struct Shown {
    bar: Option<indicatif::ProgressBar>,
}

impl run::Progress for Shown {
    fn file_done(&self, report: &run::Report) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} processed, {} ok, {} failed, {} skipped, {} MB",
                report.processed,
                report.success,
                report.failed,
                report.skipped,
                report.bytes / 1_000_000
            ));
            bar.tick();
        }
    }
}

fn cmd_run(
    cli: &Cli,
    config: &Config,
    rerun: bool,
    dry_run: bool,
    jobs: usize,
    no_email: bool,
) -> Result<u8, Exit> {
    let mut status = if dry_run {
        open_status_read_only(config)
    } else {
        open_status(config, true)
    }
    .code(exit::DATABASE)?;
    let stores = build_stores(config);
    let source = DataverseSource::new(config.database.db.clone(), stores);
    let target = build_target(config, dry_run)?;
    let options = run::RunOptions {
        rerun,
        dry_run,
        jobs,
        method: config.method(),
    };
    let bar = (std::io::stderr().is_terminal() && !cli.quiet && !cli.json).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        b
    });
    let shown = Shown { bar };
    let direct;
    let backend: &dyn run::Backend = match &target {
        Target::Direct(d) => {
            direct = run::Direct(d.as_ref());
            &direct
        }
        Target::Store(s) => s.as_ref(),
    };
    let result = run::run(&source, backend, status.as_mut(), &options, &shown);
    drop(target);
    if let Some(b) = &shown.bar {
        b.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let code = if e.downcast_ref::<dataverse_source::Error>().is_some()
                || e.downcast_ref::<dataverse_source::postgres::Error>()
                    .is_some()
                || e.downcast_ref::<rusqlite::Error>().is_some()
            {
                exit::DATABASE
            } else {
                exit::RUN_FAILED
            };
            return Err(Exit(code, e.context("the backup run failed; files recorded so far stay recorded, run again to continue")));
        }
    };
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        eprint!("{}", report.text());
    } else {
        print!("{}", report.text());
    }
    if !dry_run
        && !no_email
        && let Some(to) = &config.notifications.email
        && let Err(e) = notify::send(&config.notifications, to, &report)
    {
        eprintln!("dv-backup: sending the report to {to}: {e:#}");
    }
    Ok(if report.aborted.is_some() {
        exit::RUN_FAILED
    } else if report.failed > 0 {
        exit::FILES_FAILED
    } else {
        0
    })
}

fn cmd_status(cli: &Cli, config: &Config, failed: bool) -> Result<u8, Exit> {
    let mut status = open_status(config, false).code(exit::DATABASE)?;
    let counts = status.counts().code(exit::DATABASE)?;
    let mut out = std::io::stdout().lock();
    if cli.json {
        let mut rows = Vec::new();
        status
            .rows(failed, &mut |r| {
                rows.push(r);
                Ok(())
            })
            .code(exit::DATABASE)?;
        let counts: std::collections::BTreeMap<String, i64> = counts.into_iter().collect();
        let v = serde_json::json!({ "where": status.describe(), "counts": counts, "files": rows });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .code(exit::USAGE)?;
        return Ok(0);
    }
    let total: i64 = counts.iter().map(|c| c.1).sum();
    let summary = counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(
        out,
        "{total} files recorded in {}: {summary}",
        status.describe()
    )
    .code(exit::USAGE)?;
    status
        .rows(failed, &mut |r| {
            writeln!(
                out,
                "{}\t{}\t{}\tcreated {}\tlast backup {} ({}){}",
                r.status,
                r.dataset,
                r.storage_identifier,
                r.created.as_deref().unwrap_or("-"),
                r.last_backup.as_deref().unwrap_or("-"),
                r.method.as_deref().unwrap_or("-"),
                r.message.map(|m| format!("\t{m}")).unwrap_or_default()
            )
            .context("writing to standard output")
        })
        .code(exit::DATABASE)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every argument `cmd` shows says what it is for, and so (walking the
    /// whole tree) does every subcommand and its arguments.
    fn check(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                problems.push(format!("{path}: argument {id} has no help"));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() {
                problems.push(format!("{name}: no about"));
            }
            check(sub, &name, problems);
        }
    }

    /// Every subcommand says what it does, and every argument it shows
    /// (the global options too) says what it is for.
    #[test]
    fn every_command_and_argument_says_what_it_is_for() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut problems = Vec::new();
        check(&cmd, "dv-backup", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(cmd.get_subcommands().count() >= 2);
    }
}
