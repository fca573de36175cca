//! The `backup` subcommands' arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Levelled backup sets: a FULL, then incrementals up to a maximum level
/// (a cycle), each run an archive run tagged with its set, cycle and level.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    #[command(subcommand)]
    pub(crate) command: BackupCommand,
}

/// A `backup` subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum BackupCommand {
    Init(InitArgs),
    Run(RunArgs),
    List(ListArgs),
}

/// Create a named backup set in the catalog.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The set's name.
    pub(crate) name: String,
    /// Where its runs store (any `--vault` form of `archive`); remembered.
    #[arg(long = "vault", value_name = "VAULT")]
    pub(crate) vault: String,
    /// What to back up: the Glacier Backup Suite's `includeexclude.json`
    /// as is (`{"includes": [dirs], "excludes": ["*.ext", "dirname"]}`).
    #[arg(long = "spec", value_name = "FILE")]
    pub(crate) spec: PathBuf,
    /// Highest incremental level: a cycle is a FULL and this many
    /// incrementals.
    #[arg(long = "max-level", value_name = "N", default_value_t = 7)]
    pub(crate) max_level: u32,
    /// Size cap of the set's stored bytes (for prune), e.g. `500G`.
    #[arg(long = "cap", value_name = "SIZE", value_parser = crate::cli::parse_rate)]
    pub(crate) cap: Option<u64>,
    /// Cycles pruning always keeps.
    #[arg(long = "min-keep-cycles", value_name = "K", default_value_t = 1)]
    pub(crate) min_keep_cycles: u32,
    /// Encrypt bundles to this age recipient (repeatable).
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub(crate) encrypt_to: Vec<String>,
    /// The catalog file; default: `catalog.sqlite` under the data
    /// directory.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
}

/// Back up a set: a FULL when it has none, its last cycle is closed, or
/// with `--full`; else the next incremental level (new, changed and
/// deleted files since the previous run).
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The set's name.
    pub(crate) name: String,
    /// Start a new cycle with a FULL.
    #[arg(long = "full")]
    pub(crate) full: bool,
    /// At most this many members per bundle.
    #[arg(long = "max-files", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_files: u64,
    /// Bundles in flight at once [default: one more than the cores].
    #[arg(short = 'j', long = "jobs", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: Option<u16>,
    /// The catalog file.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
}

/// The set's cycles and levels: dates, files, bytes stored, monthly cost
/// and the earliest date each cycle may be deleted free of early-deletion
/// charges.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The set's name.
    pub(crate) name: String,
    /// The catalog file.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
}
