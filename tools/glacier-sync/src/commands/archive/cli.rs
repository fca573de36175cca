//! The command line of the archive commands (archive, find, where-is,
//! retrieve, jobs, watch, catalog rebuild).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::{StoreArgs, TierArg};
use crate::commands::acl::cli::AclsArg;
use crate::exit::EXIT_CODES_HELP;

/// Where the archives and the catalog are. Both default to the embedded
/// store under the user's data directory (`$PERMAFROST_HOME`, else
/// `$XDG_DATA_HOME/permafrost`, else `~/.local/share/permafrost`): a local
/// directory store `store/` with vault `default`, and `catalog.sqlite`.
#[derive(Debug, Clone, Args)]
pub(crate) struct Place {
    /// The vault (see the README's forms); default: the local store under
    /// the data directory, vault `default`.
    #[arg(long = "vault", value_name = "VAULT")]
    pub(crate) vault: Option<String>,
    /// The catalog: an SQLite file (default: `catalog.sqlite` under the
    /// data directory) or, in a build with the `postgres` feature, a
    /// PostgreSQL database shared by many hosts,
    /// `postgres://USER@HOST:PORT/DB` (never a password in it: it comes
    /// from the file `PERMAFROST_CATALOG_PASSWORD_FILE` names, else
    /// `PGPASSWORD`, else `~/.pgpass` or `PGPASSFILE`).
    #[arg(long = "catalog", value_name = "FILE|postgres://USER@HOST:PORT/DB")]
    pub(crate) catalog: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Compression of bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressArg {
    /// Independent zstd frames.
    Zstd,
    /// Independent gzip members.
    Gzip,
    /// Plain tar.
    None,
}

/// Which timestamp `--older-than` / `--newer-than` look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TimeFieldArg {
    /// Modification time.
    Mtime,
    /// Access time.
    Atime,
}

/// Archive trees: crawl, bundle, upload and catalog, in parallel.
///
/// Files are packed into bundles (seekable tar, zstd by default, optionally
/// age-encrypted) that stream straight into the store, N at a time, and
/// every file is recorded in the catalog with the byte range that holds it.
/// A second run over the same paths archives only new or changed files
/// (size or mtime differ) unless `--all`. At the end the run's catalog
/// export is stored in the vault too (`permafrost-catalog v1 run=UID`), so
/// `catalog rebuild` can restore a lost catalog from the vault alone.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct ArchiveArgs {
    /// Files and directories to archive.
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) place: Place,
    /// A description of the run (searchable).
    #[arg(
        short = 's',
        long = "description",
        value_name = "TEXT",
        default_value = ""
    )]
    pub(crate) description: String,
    /// Tags of the run, comma-separated (searchable with `tag:`).
    #[arg(
        short = 't',
        long = "tags",
        value_name = "TAG,TAG",
        value_delimiter = ','
    )]
    pub(crate) tags: Vec<String>,
    /// Only files whose time (see --time-field) is at least this many days
    /// old.
    #[arg(
        long = "older-than",
        value_name = "DAYS",
        conflicts_with = "newer_than"
    )]
    pub(crate) older_than: Option<u64>,
    /// Only files whose time is at most this many days old.
    #[arg(long = "newer-than", value_name = "DAYS")]
    pub(crate) newer_than: Option<u64>,
    /// The time --older-than / --newer-than compare.
    #[arg(long = "time-field", value_enum, default_value_t = TimeFieldArg::Mtime)]
    pub(crate) time_field: TimeFieldArg,
    /// At most this many members (files, directories, links) per bundle.
    #[arg(long = "max-files", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_files: u64,
    /// At most this many content bytes per bundle (suffixes k, M, G: powers
    /// of 1024); a larger file gets a bundle of its own.
    #[arg(long = "max-bundle-size", value_name = "SIZE", default_value = "500M",
          value_parser = crate::cli::parse_rate)]
    pub(crate) max_bundle_size: u64,
    /// Compression of the bundles.
    #[arg(long = "compress", value_enum, default_value_t = CompressArg::Zstd)]
    pub(crate) compress: CompressArg,
    /// Encrypt the bundles with age to this recipient (`age1...` or an SSH
    /// public key); repeatable.
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub(crate) encrypt_to: Vec<String>,
    /// Bundles in flight at once [default: one more than the cores].
    #[arg(short = 'j', long = "jobs", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: Option<u16>,
    /// Print the files, bytes, bundles and the cost picture; store nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    /// Archive every selected file, even those unchanged since an earlier
    /// run.
    #[arg(long = "all")]
    pub(crate) all: bool,
    /// Record who may read each file: its ACLs (`auto`: whatever the
    /// filesystem has) with the names of their principals, resolved
    /// through NSS and, when `[ldap]` is configured, LDAP / Active
    /// Directory. Owner and group names are recorded in any case.
    #[arg(long = "acls", value_enum, default_value_t = AclsArg::None)]
    pub(crate) acls: AclsArg,
    /// Share the run with workers on many hosts (needs `--catalog
    /// postgres://…`): the tree is cut into work units (directories,
    /// about --unit-files entries each) recorded in the catalog with the
    /// store and options; N workers of this process work on them (0:
    /// none, only `glacier-sync worker` processes on any host do) and the
    /// command returns once every unit is done, the run's catalog export
    /// stored once. A unit whose worker dies is claimed again when its
    /// lease runs out.
    #[arg(long = "workers", value_name = "N",
          value_parser = clap::value_parser!(u16).range(0..=64))]
    pub(crate) workers: Option<u16>,
    /// With --workers: about this many entries (files, directories,
    /// links) per work unit; a directory is never split.
    #[arg(long = "unit-files", value_name = "N", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..), requires = "workers")]
    pub(crate) unit_files: u64,
    /// With --workers: seconds a worker's claim on a unit lasts unless
    /// renewed (workers renew it every quarter of it while they live): how
    /// soon a dead worker's unit is claimed again.
    #[arg(long = "lease", value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(2..=86_400), requires = "workers")]
    pub(crate) lease: u64,
}

/// Join archive runs shared by many hosts (`archive --workers`): claim
/// their work units in the PostgreSQL catalog, bundle, upload and record
/// them, as `archive` would.
///
/// Start it on any number of hosts, each reaching the catalog and the
/// store the run names (a local directory store must be at the same path
/// on every host; a network store's credentials come from the host's
/// environment). A worker claims one unit at a time and renews its claim
/// while it lives; killed, its unit is claimed again by another worker
/// once the lease runs out, which leaves out the files it recorded. It
/// returns when no run has units left (pending or claimed by a live
/// worker), or keeps waiting for new runs with --follow; a run whose
/// coordinator is gone is ended by the worker that sees its last unit
/// done.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct WorkerArgs {
    /// The shared catalog, `postgres://USER@HOST:PORT/DB` (password from
    /// the file `PERMAFROST_CATALOG_PASSWORD_FILE` names, `PGPASSWORD` or
    /// `~/.pgpass`).
    #[arg(
        long = "catalog",
        value_name = "postgres://USER@HOST:PORT/DB",
        required = true
    )]
    pub(crate) catalog: PathBuf,
    /// Only units of this run (its uid, as `archive --workers` prints it).
    #[arg(long = "run", value_name = "UID")]
    pub(crate) run: Option<String>,
    /// Keep waiting for units of new runs instead of returning.
    #[arg(long = "follow")]
    pub(crate) follow: bool,
    /// Bundles in flight at once [default: one more than the cores].
    #[arg(short = 'j', long = "jobs", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: Option<u16>,
    /// Send the run's Amazon Glacier or S3 requests to this endpoint.
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
}

/// Find archived files with the catalog's query language: words of paths
/// and descriptions, "phrases", -negation, tag:, path:, under:, size:,
/// mtime:, archive:, run:, and for files archived with `--acls`
/// owner:NAME, group:NAME, acl:NAME (an ACL entry names the principal: a
/// name, a SID, uid:N or gid:N) and acl:deny (an entry denies something:
/// an NFSv4 or CIFS DENY, or a POSIX named entry that leaves its user or
/// group no permission, such as user:mallory:--- or one the mask empties).
///
/// A file on tape (tape-op records into the same catalog) ends its line
/// with the tape volume and the tape file and block where it starts
/// (`tape T2 file 1 block 29`; `tape` in --json).
///
/// Like grep, find exits with 1 when no file matches.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct FindArgs {
    /// The query.
    #[arg(value_name = "QUERY", required = true, num_args = 1..)]
    pub(crate) query: Vec<String>,
    /// At most this many results.
    #[arg(long = "limit", value_name = "N", default_value_t = 100)]
    pub(crate) limit: u32,
    /// The catalog: a file (default: under the data directory) or
    /// `postgres://USER@HOST:PORT/DB` (see `archive --help`).
    #[arg(long = "catalog", value_name = "FILE|postgres://USER@HOST:PORT/DB")]
    pub(crate) catalog: Option<PathBuf>,
    /// Accepted for symmetry; the catalog alone answers.
    #[arg(long = "vault", value_name = "VAULT", hide = true)]
    pub(crate) vault: Option<String>,
}

/// Every archived version of one path.
///
/// A version on tape names the tape volume and the tape file and block
/// where it starts, as `find` does.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct WhereIsArgs {
    /// The path (absolute, or relative to the current directory).
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
    /// The catalog: a file (default: under the data directory) or
    /// `postgres://USER@HOST:PORT/DB` (see `archive --help`).
    #[arg(long = "catalog", value_name = "FILE|postgres://USER@HOST:PORT/DB")]
    pub(crate) catalog: Option<PathBuf>,
    /// Accepted for symmetry; the catalog alone answers.
    #[arg(long = "vault", value_name = "VAULT", hide = true)]
    pub(crate) vault: Option<String>,
}

/// How retrieve and watch decrypt and restore.
#[derive(Debug, Clone, Args)]
pub(crate) struct DecryptArgs {
    /// An age identity file (or unencrypted SSH private key) for encrypted
    /// bundles.
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub(crate) identity: Option<PathBuf>,
    /// Give extracted files their recorded owner and group (needs root;
    /// the default when running as root). ACLs recorded with `archive
    /// --acls` are written back in any case; those the target filesystem
    /// cannot hold are listed in `permafrost-acls.jsonl` in the target.
    #[arg(long = "same-owner")]
    pub(crate) same_owner: bool,
}

/// Get files back: plan, request retrieval jobs, and (with --wait, or
/// later with `watch`) download, verify, decrypt and extract them.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct RetrieveArgs {
    /// A query selecting the files (see `find`).
    #[arg(value_name = "QUERY", num_args = 0.., required_unless_present_any = ["archive", "path"])]
    pub(crate) query: Vec<String>,
    /// Every file of this archive (catalog number or store id).
    #[arg(long = "archive", value_name = "ID", conflicts_with_all = ["query", "path"])]
    pub(crate) archive: Option<String>,
    /// This one path (its newest archived version).
    #[arg(long = "path", value_name = "PATH", conflicts_with = "query")]
    pub(crate) path: Option<PathBuf>,
    /// The directory the files go into (under their original paths).
    #[arg(long = "to", value_name = "DIR", required = true)]
    pub(crate) to: PathBuf,
    #[command(flatten)]
    pub(crate) place: Place,
    /// The retrieval tier.
    #[arg(long = "tier", value_enum, default_value_t = TierArg::Standard)]
    pub(crate) tier: TierArg,
    /// Refuse (exit 5, nothing requested) when the estimated cost in US
    /// dollars exceeds this.
    #[arg(long = "max-cost", value_name = "USD")]
    pub(crate) max_cost: Option<f64>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// Wait for the jobs, then download and extract (as `watch` does).
    #[arg(long = "wait")]
    pub(crate) wait: bool,
    /// Seconds between polls with --wait.
    #[arg(long = "interval", value_name = "SECONDS", default_value_t = 60)]
    pub(crate) interval: u64,
    /// Print the plan (and `vault,archive_id` lines), request nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    /// At most this many files.
    #[arg(long = "limit", value_name = "N", default_value_t = 10_000)]
    pub(crate) limit: u32,
    #[command(flatten)]
    pub(crate) decrypt: DecryptArgs,
}

/// List the retrieval jobs recorded in the catalog.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct JobsArgs {
    /// The catalog: a file (default: under the data directory) or
    /// `postgres://USER@HOST:PORT/DB` (see `archive --help`).
    #[arg(long = "catalog", value_name = "FILE|postgres://USER@HOST:PORT/DB")]
    pub(crate) catalog: Option<PathBuf>,
    /// Accepted for symmetry; the catalog alone answers.
    #[arg(long = "vault", value_name = "VAULT", hide = true)]
    pub(crate) vault: Option<String>,
}

/// Poll the pending retrieval jobs; download, verify, decrypt and extract
/// each completed one, then mark it done. Stops when none is pending.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub(crate) place: Place,
    /// Seconds between polls.
    #[arg(long = "interval", value_name = "SECONDS", default_value_t = 60)]
    pub(crate) interval: u64,
    /// Poll once and return (exit 6 when jobs are still pending).
    #[arg(long = "once")]
    pub(crate) once: bool,
    #[command(flatten)]
    pub(crate) decrypt: DecryptArgs,
}

/// Catalog maintenance.
#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    #[command(subcommand)]
    pub(crate) command: CatalogCommand,
}

/// The catalog subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CatalogCommand {
    /// Rebuild a catalog from the vault alone: its inventory and the
    /// catalog exports every archive run stored there
    /// (`permafrost-catalog v1 run=UID`). Runs already in the catalog are
    /// left alone, so it can also merge a vault into a catalog.
    Rebuild(RebuildArgs),
    /// Check the catalog's health: SQLite's integrity check of the catalog
    /// and of its full-text index file, and that the index and the file
    /// rows agree (an index file restored from another backup than the
    /// catalog is found out). Exit 8 when something is wrong; `--repair`
    /// rebuilds the index.
    Check(CheckArgs),
}

/// See [`CatalogCommand::Check`].
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct CheckArgs {
    /// The catalog file; default: `catalog.sqlite` under the data
    /// directory.
    #[arg(long = "catalog", value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
    /// Rebuild the full-text index from the file rows when it disagrees
    /// with them, then check again.
    #[arg(long = "repair")]
    pub(crate) repair: bool,
    /// Accepted for symmetry (config.toml's vault); the catalog alone is
    /// checked.
    #[arg(long = "vault", value_name = "VAULT", hide = true)]
    pub(crate) vault: Option<String>,
}

/// See [`CatalogCommand::Rebuild`].
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct RebuildArgs {
    #[command(flatten)]
    pub(crate) place: Place,
    /// Seconds between polls of the inventory and retrieval jobs.
    #[arg(long = "interval", value_name = "SECONDS", default_value_t = 60)]
    pub(crate) interval: u64,
}
