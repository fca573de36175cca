//! `tape-op`: archive directories to tape, verify them and get them back.
//! See the README for commands, configuration and exit codes.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// a tool talks to its user
// Help texts and docs name tape.conf keys (database_file) as users type them.
#![allow(clippy::doc_markdown)]

mod db;
mod ops;
mod source;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes (the first three as ACT's tapeop).
pub(crate) mod exit {
    /// Nothing to do (a single `archive` or `confirm`).
    pub(crate) const NOTHING_TO_DO: u8 = 40;
    /// A stop was requested (stop file or Ctrl-C); the current step finished.
    pub(crate) const STOPPED: u8 = 41;
    /// An archive step failed.
    pub(crate) const ARCHIVE_FAILED: u8 = 42;
    /// The tape is full; the target goes on on the next tape.
    pub(crate) const TAPE_FULL: u8 = 43;
    /// Data read back does not match the catalogue.
    pub(crate) const VERIFY_FAILED: u8 = 44;
}

/// A failure with its exit code.
#[derive(Debug)]
pub(crate) struct Exit(pub(crate) u8, pub(crate) String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for Exit {}

/// The exit codes, at the end of `--help` (the README has the same table).
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  1   an error, named on standard error
  2   the command line was not understood
  40  nothing to do (archive, confirm)
  41  stop requested (stop file or Ctrl-C); the current step was finished
  42  an archive failed (wrong or foreign tape, source changed since import, I/O error)
  43  the tape is full; the target goes on on the next tape
  44  data read back does not match the catalogue (files named)";

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Archive directories to tape, verify them and get them back",
    after_help = EXIT_CODES_HELP
)]
pub(crate) struct Cli {
    /// Configuration file (ini, keys under [default]).
    #[arg(long, short = 'c', default_value = "tape.conf", global = true)]
    config: PathBuf,
    /// SQLite catalogue (config: database_file).
    #[arg(long, global = true)]
    database: Option<PathBuf>,
    /// Tape device: /dev/nstN, or a .tap file; `{tape}` is replaced by the
    /// tape's name (a directory of file-backed tapes) (config: tape_device).
    #[arg(long, global = true)]
    device: Option<String>,
    /// Command reaching the remote host, e.g. `ssh user@host -i key`
    /// (config: ssh_command).
    #[arg(long, global = true)]
    ssh_command: Option<String>,
    /// Block size in bytes (config: block_size; default 1 MiB).
    #[arg(long, global = true)]
    block_size: Option<usize>,
    /// RAM buffer in bytes (config: buffer_size; default 256 MiB).
    #[arg(long, global = true)]
    buffer_size: Option<usize>,
    /// Capacity of file-backed tapes in bytes (config: file_tape_capacity).
    #[arg(long, global = true)]
    file_tape_capacity: Option<u64>,
    /// Stop file: when it exists, batch work stops after the current step
    /// (config: stop_file; default tape.stop).
    #[arg(long, global = true)]
    stop_file: Option<PathBuf>,
    /// Answer yes to every question (needed for destructive steps when not
    /// on a terminal).
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// More messages (-vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Cmd {
    /// List tapes.
    Tapes,
    /// Summary of a tape (default: the online one).
    Status {
        /// The tape to summarise (default: the online one).
        tape: Option<String>,
    },
    /// Register a new tape.
    #[command(alias = "open_tape")]
    OpenTape {
        /// The new tape's name (its label holds it, and is checked before
        /// every write).
        name: String,
        /// The cartridge's serial number (asked for on a terminal when
        /// missing).
        #[arg(long)]
        serial: Option<String>,
        /// Make it the online tape.
        #[arg(long)]
        online: bool,
    },
    /// Make a registered tape the online one.
    #[command(alias = "activate_tape")]
    ActivateTape {
        /// The registered tape to put online.
        name: String,
    },
    /// Close a tape: offline, and its assigned but unwritten targets released.
    #[command(alias = "close_tape")]
    CloseTape {
        /// The tape to close (default: the online one).
        tape: Option<String>,
    },
    /// Add targets: directories, or files listing one directory per line
    /// (remote directories when ssh_command is set).
    Import {
        /// Directories to add, or files listing one directory per line.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Treat every argument as a directory, never as a list file.
        #[arg(long)]
        dirs: bool,
    },
    /// Assign unassigned targets to a tape (default: the online one).
    Assign {
        /// The tape to assign them to (default: the online one).
        tape: Option<String>,
    },
    /// Write the next assigned target to the online tape.
    Archive {
        /// Go on until no work is left.
        #[arg(long)]
        all: bool,
    },
    /// Read a backup back and verify every file's checksums.
    Confirm {
        /// File number on the online tape, or `next`.
        which: Option<String>,
        /// Every tape in the catalogue: each recorded backup (with --retry
        /// also confirmed and failed ones), a summary line per tape; exit
        /// 44 when any does not match.
        #[arg(long)]
        all: bool,
        /// Confirm again an already confirmed backup (with --all, failed ones
        /// too).
        #[arg(long)]
        retry: bool,
        /// Verify only; change nothing in the catalogue.
        #[arg(long)]
        no_db_update: bool,
    },
    /// Where files or targets matching a glob are.
    #[command(alias = "where_is")]
    WhereIs {
        /// A glob matched against target directories and file names.
        pattern: String,
    },
    /// Every tape file of a tape.
    #[command(alias = "tape_detail")]
    TapeDetail {
        /// The tape to list (default: the online one).
        tape: Option<String>,
    },
    /// The backup at a file number of the online tape.
    #[command(alias = "backup_info")]
    BackupInfo {
        /// The file number on the online tape.
        file_number: u64,
    },
    /// Write md5sum/sha256sum manifests of every target to a directory.
    #[command(alias = "dump_manifest")]
    DumpManifest {
        /// The directory the manifests are written to (created if
        /// missing).
        dir: PathBuf,
    },
    /// Restore a target, files matching a glob, or the files on tape a
    /// catalog search finds (--query), verifying checksums.
    Restore {
        /// A target's directory, or a glob matching files.
        #[arg(required_unless_present = "query", conflicts_with = "query")]
        what: Option<String>,
        /// A search in the query language of `glacier-sync find` (e.g.
        /// 'budget ext:xlsx'): every match on tape is restored, each read
        /// from the tape file and block where it starts.
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
        /// The directory the files are extracted into.
        #[arg(long)]
        to: PathBuf,
    },
    /// Rebuild catalogue rows from a tape's own contents.
    Scan {
        /// The tape to read (loaded in the drive, or its image).
        tape: String,
    },
    /// Repeat archive or confirm until no work is left (exit 0).
    Batch {
        /// The step to repeat: `archive` or `confirm`.
        #[arg(value_parser = ["archive", "confirm"])]
        what: String,
    },
    /// Print a shell completion script for tape-op on standard output.
    ///
    /// Install it where the shell looks, for example:
    ///   bash: tape-op completions bash > ~/.local/share/bash-completion/completions/tape-op
    ///   zsh:  tape-op completions zsh > ~/.zfunc/_tape-op (with ~/.zfunc in $fpath)
    ///   fish: tape-op completions fish > ~/.config/fish/completions/tape-op.fish
    #[command(
        verbatim_doc_comment,
        about = "Print a shell completion script for tape-op on standard output"
    )]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (tape-op.1 and one per subcommand) into a
    /// directory; `cargo xtask man` runs it.
    #[command(name = "generate-man", hide = true)]
    GenerateMan {
        /// The directory the pages are written to (created if missing).
        dir: PathBuf,
    },
    /// Run the conformance suite on the drive given by --device (destroys
    /// the tape's contents).
    Selftest {
        /// Also fill the tape to its end (hours on a real tape).
        #[arg(long)]
        fill: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // These two need neither the configuration nor the catalogue.
    match &cli.command {
        Some(Cmd::Completions { shell }) => {
            let script = completions(*shell, <Cli as clap::CommandFactory>::command(), "tape-op");
            return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tape-op: error: writing the completion script: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Cmd::GenerateMan { dir }) => {
            let written = std::fs::create_dir_all(dir).and_then(|()| {
                clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), dir)
            });
            return match written {
                Ok(()) => {
                    eprintln!("man pages written to {}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "tape-op: error: writing the man pages into {}: {e}",
                        dir.display()
                    );
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match ops::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Exit(code, msg)) = e.downcast_ref::<Exit>() {
                eprintln!("tape-op: {msg}");
                ExitCode::from(*code)
            } else {
                eprintln!("tape-op: error: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}

/// The completion script of `cmd` for `shell`.
///
/// clap_complete's bash script spells a hyphenated program name two ways
/// (`tape__op__subcmd__archive` when it walks the words,
/// `tape__subcmd__op__subcmd__archive` in its `case` arms), so nothing past
/// the first word completes (clap-rs/clap#6421); the arms are respelled
/// here until a release fixes it. A test completes a subcommand's options
/// in bash.
fn completions(shell: clap_complete::Shell, mut cmd: clap::Command, bin: &str) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, bin, &mut script);
    if shell == clap_complete::Shell::Bash && bin.contains('-') {
        let text = String::from_utf8_lossy(&script)
            .replace(&bin.replace('-', "__subcmd__"), &bin.replace('-', "__"));
        script = text.into_bytes();
    }
    script
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
            match sub.get_about() {
                None => problems.push(format!("{name}: no about")),
                Some(a) if a.to_string().ends_with('.') => {
                    problems.push(format!("{name}: its summary ends with a full stop"));
                }
                Some(_) => {}
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
        check(&cmd, "tape-op", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// Every exit code is in `--help` and in the README's table.
    #[test]
    fn exit_codes_are_documented() {
        let readme = include_str!("../README.md");
        for n in [
            0,
            1,
            2,
            super::exit::NOTHING_TO_DO,
            super::exit::STOPPED,
            super::exit::ARCHIVE_FAILED,
            super::exit::TAPE_FULL,
            super::exit::VERIFY_FAILED,
        ] {
            assert!(
                super::EXIT_CODES_HELP.contains(&format!("\n  {n:<3} ")),
                "{n}"
            );
            assert!(readme.contains(&format!("| {n} |")), "{n}");
        }
    }
}
