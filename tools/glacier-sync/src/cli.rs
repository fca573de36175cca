//! The command line.
//!
//! Global options (`-v`, `-q`, `--json`, `--config`) work with every
//! command. The mt-aws-glacier commands share groups of options, defined
//! once here and flattened into each command: [`StoreArgs`] (where the
//! vault is), [`TransferArgs`], [`FilterArgs`], [`RetrievalArgs`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Archive files to cold storage and get them back, verified. The stores
/// this build knows are listed by `--version`.
///
/// The mt-aws-glacier commands (sync, upload-file, restore, ...) take its
/// option names, its config file (`--config`) and its journal as they are.
///
/// The vault: `--vault NAME` is an Amazon Glacier vault (region from the
/// config file's `region=` or the AWS chain; `--endpoint-url` points
/// elsewhere); `--vault file:///srv/store/NAME` or `--vault ./store/NAME` is
/// vault NAME of the local directory store `/srv/store`; `--store
/// file:///srv/store --vault NAME` says the same in two options.
#[derive(Debug, Parser)]
#[command(name = "glacier-sync", version, about, after_help = EXIT_CODES_HELP)]
pub(crate) struct Cli {
    /// More messages on standard error (-v: debug, -vv: trace). `RUST_LOG`
    /// overrides.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Fewer messages: only warnings and errors.
    #[arg(short = 'q', long = "quiet", global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Results as JSON on standard output (messages stay on standard error,
    /// no progress bars).
    #[arg(long = "json", global = true)]
    pub(crate) json: bool,

    /// A config file. `FILE.toml`: Permafrost's config.toml for the archive
    /// commands, instead of the default one (see `config --help`). Any
    /// other name: an mt-aws-glacier config file, `key=value` lines (`#`
    /// comments), any long option plus `key`, `secret`, `region`,
    /// `protocol`. The command line wins over either; an unknown key is an
    /// error.
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,

    /// Seconds to wait for a network store (Amazon Glacier, S3): for the
    /// first byte of an answer and for a transfer that stopped moving;
    /// connecting waits at most 10 s, and an upload one second more per
    /// 64 KiB it sends. A part or segment of an upload or download that
    /// times out is tried again (3 tries in all); any other request that
    /// times out fails the command (waiting loops poll again, up to 5
    /// failed polls in a row), with exit code 4, naming the endpoint.
    /// Default 60; config.toml's `timeout` (top level or a command's
    /// table) or `timeout=` in an mt-aws-glacier --config file sets it
    /// too, the command line winning.
    #[arg(long = "timeout", value_name = "SECONDS", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: Option<u64>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The optional cargo features, and whether this build has each; `--version`
/// lists the enabled ones. Every feature of Cargo.toml but `default` is
/// here (a test checks).
pub(crate) const FEATURES: &[(&str, bool)] = &[
    ("glacier", cfg!(feature = "glacier")),
    ("s3", cfg!(feature = "s3")),
    ("postgres", cfg!(feature = "postgres")),
];

/// The kinds of store this build opens (location prefix, what it is), as
/// `--version` lists them.
pub(crate) fn stores() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("file://", "a local directory store (or a plain path)")];
    if cfg!(feature = "glacier") {
        v.push(("glacier://", "Amazon Glacier vaults"));
    }
    if cfg!(feature = "s3") {
        v.push((
            "s3://",
            "S3 archive storage classes (DEEP_ARCHIVE, GLACIER, GLACIER_IR, STANDARD), a vault per key prefix",
        ));
    }
    v
}

/// What `--version` prints after the tool's name: the version, then the
/// enabled features and the stores on lines of their own.
pub(crate) fn long_version() -> String {
    let features: Vec<&str> = FEATURES
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    let stores: Vec<String> = stores()
        .iter()
        .map(|(prefix, what)| format!("  {prefix:<12} {what}"))
        .collect();
    format!(
        "{}\nfeatures: {}\nstores:\n{}",
        env!("CARGO_PKG_VERSION"),
        if features.is_empty() {
            "(none)".to_owned()
        } else {
            features.join(", ")
        },
        stores.join("\n")
    )
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Treehash(TreehashArgs),
    #[command(name = "create-vault")]
    CreateVault(CreateVaultArgs),
    #[command(name = "delete-vault")]
    DeleteVault(DeleteVaultArgs),
    #[command(name = "list-vaults")]
    ListVaults(ListVaultsArgs),
    Sync(SyncArgs),
    #[command(name = "upload-file")]
    UploadFile(UploadFileArgs),
    #[command(name = "check-local-hash")]
    CheckLocalHash(CheckLocalHashArgs),
    #[command(name = "purge-vault")]
    PurgeVault(PurgeVaultArgs),
    #[command(name = "retrieve-inventory")]
    RetrieveInventory(RetrieveInventoryArgs),
    #[command(name = "download-inventory")]
    DownloadInventory(DownloadInventoryArgs),
    Restore(RestoreArgs),
    #[command(name = "restore-completed")]
    RestoreCompleted(RestoreCompletedArgs),
    Archive(crate::commands::archive::cli::ArchiveArgs),
    Worker(crate::commands::archive::cli::WorkerArgs),
    Backup(crate::commands::backup::cli::BackupArgs),
    Find(crate::commands::archive::cli::FindArgs),
    #[command(name = "where-is")]
    WhereIs(crate::commands::archive::cli::WhereIsArgs),
    Retrieve(crate::commands::archive::cli::RetrieveArgs),
    Jobs(crate::commands::archive::cli::JobsArgs),
    Watch(crate::commands::archive::cli::WatchArgs),
    Catalog(crate::commands::archive::cli::CatalogArgs),
    Acl(crate::commands::acl::cli::AclArgs),
    Config(ConfigArgs),
    Completions(CompletionsArgs),
    #[command(name = "generate-man", hide = true)]
    GenerateMan(GenerateManArgs),
}

/// Permafrost's configuration file, `config.toml`: defaults for the archive
/// commands under their long options' names.
///
/// It is `--config FILE.toml`, else `$PERMAFROST_CONFIG`, else
/// `$XDG_CONFIG_HOME/permafrost/config.toml` (`~/.config/permafrost/config.toml`).
/// Top-level keys apply to every archive command that has the option;
/// a `[COMMAND]` table to that command only; `key`, `secret`, `region` are
/// Amazon's credentials and region. The command line wins. The
/// mt-aws-glacier commands (sync, restore, ...) do not read it: they keep
/// mt-aws-glacier's `--config` file.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub(crate) command: ConfigCommand,
}

/// The config subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    Show(ConfigShowArgs),
}

/// Print the effective settings of an archive command line and where each
/// came from (flag, file, environment, default), secrets masked.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct ConfigShowArgs {
    /// The command line to show, without `glacier-sync` (for example
    /// `retrieve budget --to out --tier bulk`); default: `archive`.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..
    )]
    pub(crate) command: Vec<String>,
}

/// Print a shell completion script for glacier-sync on standard output.
///
/// Install it where the shell looks, for example:
///   bash: glacier-sync completions bash > ~/.local/share/bash-completion/completions/glacier-sync
///   zsh:  glacier-sync completions zsh > ~/.zfunc/_glacier-sync (with ~/.zfunc in $fpath)
///   fish: glacier-sync completions fish > ~/.config/fish/completions/glacier-sync.fish
#[derive(Debug, Args)]
#[command(
    after_help = EXIT_CODES_HELP,
    verbatim_doc_comment,
    // The one-line summary without the doc comment's full stop, like the
    // other commands' (verbatim keeps it).
    about = "Print a shell completion script for glacier-sync on standard output"
)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

/// Write the man pages (glacier-sync.1 and one per subcommand) into a
/// directory; `cargo xtask man` runs it.
#[derive(Debug, Args)]
pub(crate) struct GenerateManArgs {
    /// The directory the pages are written to (created if missing).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// Print the Amazon Glacier SHA-256 tree hash of files.
///
/// Glacier identifies and verifies data by its tree hash: the SHA-256 of
/// every 1 MiB chunk, then of pairs of those digests, level by level, up to
/// one root. Glacier checks it on every upload and returns it on every
/// download and in every inventory, so comparing a local file's tree hash
/// with the one Glacier (or a journal, or an inventory) holds tells whether
/// the archive is that file, without downloading it.
///
/// Prints one line per file, `<64 hex digits>  <path>`, like sha256sum.
/// A file that cannot be read is reported on standard error and the others
/// are still hashed; the exit code is then 1.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct TreehashArgs {
    /// Threads hashing each file [default: all CPUs].
    #[arg(short = 'j', long = "threads", value_name = "THREADS",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,

    /// Files to hash; `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// Where the store is, for commands that name no vault of their own.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// The store: `file:///DIR` or a path (the local directory store),
    /// `glacier://REGION` (Amazon Glacier), or
    /// `s3://BUCKET[/PREFIX][?class=DEEP_ARCHIVE|GLACIER|GLACIER_IR|STANDARD&restore-days=N]`
    /// (S3 archive storage classes; a vault is the key prefix
    /// `PREFIX/VAULT/`). Default: Amazon Glacier, or the store named in a
    /// path-form or `s3://` `--vault`.
    #[arg(long = "store", value_name = "LOCATION")]
    pub(crate) store: Option<String>,

    /// Send Amazon Glacier or S3 requests to this endpoint (a test service,
    /// a VPC endpoint, an S3-compatible service; S3 then uses path-style
    /// addressing) instead of AWS's.
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
}

/// The vault and its store.
#[derive(Debug, Clone, Args)]
pub(crate) struct VaultArgs {
    /// The vault: a name (Amazon Glacier, or in `--store`),
    /// `file:///DIR/NAME` / `DIR/NAME` (vault NAME of the local store DIR),
    /// or `s3://BUCKET[/PREFIX]/NAME[?class=..]` (vault NAME of that S3
    /// store).
    #[arg(long = "vault", value_name = "VAULT", required = true)]
    pub(crate) vault: Option<String>,

    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Transfer settings.
#[derive(Debug, Clone, Args)]
pub(crate) struct TransferArgs {
    /// Parallel requests (parts or segments in flight), 1 to 30.
    #[arg(long = "concurrency", value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=30))]
    pub(crate) concurrency: u16,

    /// Limit transfers to this many bytes per second (suffixes k, M, G:
    /// powers of 1024).
    #[arg(long = "max-rate", value_name = "BYTES_PER_SEC", value_parser = parse_rate)]
    pub(crate) max_rate: Option<u64>,
}

/// mt-aws-glacier's filter options; rules apply in command-line order, the
/// first match wins, and files no rule matches are included.
#[derive(Debug, Clone, Args)]
pub(crate) struct FilterArgs {
    /// Rules `+PATTERN` / `-PATTERN`, separated by spaces.
    #[arg(long = "filter", value_name = "RULES")]
    pub(crate) filter: Vec<String>,
    /// Include files matching PATTERN.
    #[arg(long = "include", value_name = "PATTERN")]
    pub(crate) include: Vec<String>,
    /// Exclude files matching PATTERN.
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub(crate) exclude: Vec<String>,
}

/// A retrieval tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TierArg {
    /// Minutes, the most expensive.
    Expedited,
    /// Hours.
    Standard,
    /// Up to half a day, the cheapest.
    Bulk,
}

/// Retrieval cost control.
#[derive(Debug, Clone, Args)]
pub(crate) struct RetrievalArgs {
    /// The retrieval tier.
    #[arg(long = "tier", value_enum, default_value_t = TierArg::Standard)]
    pub(crate) tier: TierArg,
    /// Refuse (exit 5, nothing requested) when the estimated cost in US
    /// dollars exceeds this.
    #[arg(long = "max-cost", value_name = "USD")]
    pub(crate) max_cost: Option<f64>,
}

/// Create a vault: an Amazon Glacier vault, or a directory of a local
/// store (creating the store's directory too). Creating a vault that
/// exists is not an error.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct CreateVaultArgs {
    /// The vault to create: a name (Amazon Glacier, or in --store), or
    /// `file:///DIR/NAME` / `DIR/NAME` for vault NAME of the local store
    /// DIR.
    #[arg(value_name = "VAULT")]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Delete an empty vault. A vault that still holds archives is refused
/// (empty it with purge-vault first).
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct DeleteVaultArgs {
    /// The vault to delete: a name (Amazon Glacier, or in --store), or
    /// `file:///DIR/NAME` / `DIR/NAME` for vault NAME of the local store
    /// DIR.
    #[arg(value_name = "VAULT")]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// List the vaults of a store.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct ListVaultsArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// How `sync --replace-modified` decides a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Detect {
    /// The tree hash differs.
    Treehash,
    /// The modification time differs.
    Mtime,
    /// The mtime differs, or else the tree hash differs.
    MtimeOrTreehash,
    /// The mtime and the tree hash both differ.
    MtimeAndTreehash,
    /// Always.
    AlwaysPositive,
    /// Only a size change.
    SizeOnly,
}

/// Upload new files of a directory (and, with the modes, replace modified
/// ones and delete removed ones), recording every archive in the journal.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
#[allow(clippy::struct_excessive_bools)] // mt-aws-glacier's flags
pub(crate) struct SyncArgs {
    /// The directory to synchronise.
    #[arg(long = "dir", value_name = "DIR", required = true)]
    pub(crate) dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The journal file.
    #[arg(long = "journal", value_name = "FILE", required = true)]
    pub(crate) journal: Option<PathBuf>,
    /// Part size in MiB, a power of two up to 4096; raised automatically
    /// (and said so) when a file would need more than 10,000 parts.
    #[arg(long = "partsize", value_name = "MiB", default_value_t = 16)]
    pub(crate) partsize: u64,
    #[command(flatten)]
    pub(crate) transfer: TransferArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Upload files that are not in the journal (the default mode).
    #[arg(long = "new")]
    pub(crate) new: bool,
    /// Upload files that changed (see --detect) and delete their old
    /// archives.
    #[arg(long = "replace-modified")]
    pub(crate) replace_modified: bool,
    /// Delete archives of files that are no longer in the directory.
    #[arg(long = "delete-removed")]
    pub(crate) delete_removed: bool,
    /// How --replace-modified detects a change (a size change always
    /// counts).
    #[arg(long = "detect", value_enum, default_value_t = Detect::MtimeAndTreehash)]
    pub(crate) detect: Detect,
    /// Stop after this many files uploaded.
    #[arg(long = "max-number-of-files", value_name = "N")]
    pub(crate) max_number_of_files: Option<u64>,
    /// Follow symbolic links.
    #[arg(long = "follow")]
    pub(crate) follow: bool,
    /// Say what would be done, do nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
}

/// Upload one file (or standard input) as one archive.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct UploadFileArgs {
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The journal file.
    #[arg(long = "journal", value_name = "FILE", required = true)]
    pub(crate) journal: Option<PathBuf>,
    /// The file to upload.
    #[arg(
        long = "filename",
        value_name = "FILE",
        conflicts_with = "stdin",
        required_unless_present = "stdin"
    )]
    pub(crate) filename: Option<PathBuf>,
    /// Read the archive from standard input (needs --set-rel-filename and
    /// --check-max-file-size).
    #[arg(long = "stdin", requires_all = ["set_rel_filename", "check_max_file_size"])]
    pub(crate) stdin: bool,
    /// The directory --filename is relative to (its name in the journal).
    #[arg(long = "dir", value_name = "DIR", conflicts_with = "set_rel_filename")]
    pub(crate) dir: Option<PathBuf>,
    /// The name to record in the journal.
    #[arg(long = "set-rel-filename", value_name = "NAME")]
    pub(crate) set_rel_filename: Option<String>,
    /// With --stdin: the largest expected size in MiB (chooses the part
    /// size).
    #[arg(long = "check-max-file-size", value_name = "MiB")]
    pub(crate) check_max_file_size: Option<u64>,
    /// Part size in MiB (see sync).
    #[arg(long = "partsize", value_name = "MiB", default_value_t = 16)]
    pub(crate) partsize: u64,
    #[command(flatten)]
    pub(crate) transfer: TransferArgs,
    /// Say what would be done, do nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
}

/// Check the files of a directory against the journal: size and tree hash
/// (an mtime difference is only reported). Exit 8 when any differs.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct CheckLocalHashArgs {
    /// The directory whose files are checked.
    #[arg(long = "dir", value_name = "DIR", required = true)]
    pub(crate) dir: Option<PathBuf>,
    /// The journal file.
    #[arg(long = "journal", value_name = "FILE", required = true)]
    pub(crate) journal: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Ignored (accepted for mt-aws-glacier configs).
    #[arg(long = "vault", value_name = "VAULT", hide = true)]
    pub(crate) vault: Option<String>,
}

/// Delete every archive the journal lists (that the filters select).
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct PurgeVaultArgs {
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The journal file.
    #[arg(long = "journal", value_name = "FILE", required = true)]
    pub(crate) journal: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Say what would be done, do nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
}

/// The inventory formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InventoryFormatArg {
    /// JSON.
    Json,
    /// CSV.
    Csv,
}

/// Request a vault inventory (a job; on AWS it takes hours).
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct RetrieveInventoryArgs {
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The format asked for.
    #[arg(long = "request-inventory-format", value_enum, default_value_t = InventoryFormatArg::Json)]
    pub(crate) format: InventoryFormatArg,
}

/// Download the newest completed inventory and write a new journal from it.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct DownloadInventoryArgs {
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The journal to write (absent or empty).
    #[arg(long = "new-journal", value_name = "FILE", required = true)]
    pub(crate) new_journal: Option<PathBuf>,
}

/// Request retrieval of files missing from the directory (or of one file).
///
/// Before anything is requested, prints the number of files and bytes, the
/// tier, the estimated cost and the time it takes.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct RestoreArgs {
    /// The directory restore-completed will write into: files missing from
    /// it are requested. Created when missing.
    #[arg(long = "dir", value_name = "DIR", required = true)]
    pub(crate) dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The journal file.
    #[arg(long = "journal", value_name = "FILE", required = true)]
    pub(crate) journal: Option<PathBuf>,
    /// Request at most this many files (mandatory unless --filename).
    #[arg(
        long = "max-number-of-files",
        value_name = "N",
        required_unless_present = "filename"
    )]
    pub(crate) max_number_of_files: Option<u64>,
    /// Restore this one file (its name in the journal), present or not.
    #[arg(long = "filename", value_name = "NAME")]
    pub(crate) filename: Option<String>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    #[command(flatten)]
    pub(crate) retrieval: RetrievalArgs,
    /// Print the summary, request nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
}

/// Download the files whose retrievals completed, with their mtimes.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct RestoreCompletedArgs {
    /// The directory the files are downloaded into (under their journal
    /// names). Created when missing.
    #[arg(long = "dir", value_name = "DIR", required = true)]
    pub(crate) dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) vault: VaultArgs,
    /// The journal file.
    #[arg(long = "journal", value_name = "FILE", required = true)]
    pub(crate) journal: Option<PathBuf>,
    /// Download in segments of this many MiB (a power of two).
    #[arg(long = "segment-size", value_name = "MiB", default_value_t = 32)]
    pub(crate) segment_size: u64,
    /// Keep polling until every requested retrieval finished, then download.
    #[arg(long = "wait")]
    pub(crate) wait: bool,
    /// Seconds between polls with --wait.
    #[arg(long = "poll-interval", value_name = "SECONDS", default_value_t = 60.0)]
    pub(crate) poll_interval: f64,
    #[command(flatten)]
    pub(crate) transfer: TransferArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

/// Parses `1048576`, `512k`, `10M`, `1G`.
pub(crate) fn parse_rate(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a positive number of bytes per second"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::{Cli, FEATURES};

    /// Every argument `cmd` itself shows says what it is for.
    fn check_args(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                problems.push(format!("{path}: argument {id} has no help"));
            }
        }
    }

    /// Every subcommand says what it does, differently from its siblings,
    /// and every argument it shows says what it is for.
    fn check(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        let mut abouts = std::collections::BTreeMap::new();
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{path} {}", sub.get_name());
            match sub.get_about() {
                None => problems.push(format!("{name}: no about")),
                Some(a) => {
                    if a.to_string().ends_with('.') {
                        problems.push(format!("{name}: its summary ends with a full stop"));
                    }
                    if let Some(other) = abouts.insert(a.to_string(), name.clone()) {
                        problems.push(format!("{name} and {other} share their about: {a}"));
                    }
                }
            }
            check_args(sub, &name, problems);
            check(sub, &name, problems);
        }
    }

    #[test]
    fn every_command_and_argument_says_what_it_is_for() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut problems = Vec::new();
        // The top level's own (global) options too, not only the
        // subcommands'.
        check_args(&cmd, "glacier-sync", &mut problems);
        check(&cmd, "glacier-sync", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        // The walk reaches the nested commands (catalog check, acl show).
        let nested = cmd
            .find_subcommand("catalog")
            .and_then(|c| c.find_subcommand("check"))
            .expect("catalog check");
        assert!(nested.get_arguments().any(|a| a.get_id() == "repair"));
    }

    #[test]
    fn features_lists_every_cargo_feature() {
        let manifest = include_str!("../Cargo.toml");
        let section = manifest
            .split("[features]")
            .nth(1)
            .expect("a [features] table")
            .split("\n[")
            .next()
            .expect("its lines");
        let declared: Vec<&str> = section
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
            .filter(|k| *k != "default" && !k.starts_with('#'))
            .collect();
        let listed: Vec<&str> = FEATURES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            declared, listed,
            "cli::FEATURES must list Cargo.toml's features"
        );
    }
}
