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
    Restore(RestoreArgs),
    Prune(PruneArgs),
    Reconcile(ReconcileArgs),
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

/// Restore the set's tree as it was at a moment: the newest version of
/// each path at or before it, deleted paths left out, retrieved with
/// `retrieve`'s plan (cost, `--max-cost`, `--dry-run`, ranged retrieval).
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The set's name.
    pub(crate) name: String,
    /// Only these paths (and what is below them).
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// The moment (UTC): `2026-12-04T10:15:00Z`, or a date `2026-12-04`
    /// meaning its end; default: now.
    #[arg(long = "as-of", value_name = "TIME")]
    pub(crate) as_of: Option<String>,
    /// The directory the files go into (under their original paths).
    #[arg(long = "to", value_name = "DIR", required = true)]
    pub(crate) to: PathBuf,
    /// The retrieval tier.
    #[arg(long = "tier", value_enum, default_value_t = crate::cli::TierArg::Standard)]
    pub(crate) tier: crate::cli::TierArg,
    /// Refuse (exit 5, nothing requested) when the estimated cost in US
    /// dollars exceeds this.
    #[arg(long = "max-cost", value_name = "USD")]
    pub(crate) max_cost: Option<f64>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// Wait for the jobs, then download and extract (as `watch` does; a
    /// local store is always extracted at once).
    #[arg(long = "wait")]
    pub(crate) wait: bool,
    /// Seconds between polls with --wait.
    #[arg(long = "interval", value_name = "SECONDS", default_value_t = 60)]
    pub(crate) interval: u64,
    /// Print the plan, request nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) decrypt: crate::commands::archive::cli::DecryptArgs,
    /// The catalog file.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
}

/// Keep the set under its size cap by deleting whole oldest cycles (never
/// the newest closed one nor an open one, never fewer than the set's
/// `--min-keep-cycles`); a cycle inside its storage class's minimum
/// duration is kept unless `--force`. The catalog keeps the deleted
/// archives' rows, marked deleted.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// The set's name.
    pub(crate) name: String,
    /// The cap (default: the set's `--cap`).
    #[arg(long = "cap", value_name = "SIZE", value_parser = crate::cli::parse_rate)]
    pub(crate) cap: Option<u64>,
    /// Show what would be deleted, delete nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    /// Delete cycles inside their minimum storage duration too, paying the
    /// early-deletion charge shown.
    #[arg(long = "force")]
    pub(crate) force: bool,
    /// Answer the confirmation (required without a terminal).
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// The catalog file.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
}

/// Reconcile the catalog with an inventory of the set's store, as the
/// Glacier Backup Suite did: the inventory is the truth, except that
/// archives created after it are kept as they are. The set's archives
/// missing from the store are marked deleted and tagged `missing` (their
/// file rows stay, so `find` still knows the files, and the next `backup
/// run` stores them again); archives the catalog does not know are
/// reported, or with `--adopt` recorded, or with `--delete` deleted.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line flags
pub(crate) struct ReconcileArgs {
    /// The set's name.
    pub(crate) name: String,
    /// Read the inventory job JOB an earlier `backup reconcile` requested
    /// (a Glacier inventory takes hours; a local store answers at once).
    #[arg(long = "job", value_name = "JOB")]
    pub(crate) job: Option<String>,
    /// Record archives the catalog does not know (under the run their
    /// description names; `catalog rebuild` brings their files).
    #[arg(long = "adopt", conflicts_with = "delete")]
    pub(crate) adopt: bool,
    /// Delete archives the catalog does not know from the store.
    #[arg(long = "delete")]
    pub(crate) delete: bool,
    /// Report what would change; change neither catalog nor store.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    /// Answer the confirmation of `--delete` (required without a terminal).
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// The catalog file.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
}
