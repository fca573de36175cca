//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

/// Archive files to Amazon Glacier, S3 archive storage classes or a local
/// directory store, and get them back, verified.
#[derive(Debug, Parser)]
#[command(name = "glacier-sync", version, about, after_help = EXIT_CODES_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Treehash(TreehashArgs),
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
