//! Exit codes, documented in `--help` and the README.
//!
//! Errors are mapped to a code in one place, [`code_of`]: a command either
//! returns a [`Code`] itself (some inputs failed, the others were done) or
//! an error, whose cause chain decides the code.

use std::fmt;
use std::process::ExitCode;

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// Everything asked for was done.
    Success,
    /// Something failed; the message on standard error names it. For
    /// commands over several inputs, the others were still processed.
    Failure,
    /// The command line was not understood.
    Usage,
    /// The journal is locked by another process, unreadable or corrupt;
    /// nothing was changed.
    Journal,
    /// The store could not be reached, or refused the credentials or the
    /// request.
    Store,
    /// A retrieval was refused before anything was requested: its estimated
    /// cost exceeds `--max-cost`.
    CostLimit,
    /// The job a command needs has not finished yet (`download-inventory`
    /// with no completed inventory job).
    Pending,
    /// A configuration file was not understood (an unknown key, a bad
    /// value, credentials half given).
    Config,
    /// Data checked does not match what it should be (a tree hash or
    /// checksum differs, `check-local-hash` found a difference).
    Verification,
    /// Interrupted (Ctrl-C, SIGINT); finished work is kept, rerun to go
    /// on.
    Interrupted,
}

impl Code {
    /// The number the process exits with.
    pub(crate) fn number(self) -> u8 {
        match self {
            Code::Success => 0,
            Code::Failure => 1,
            Code::Usage => 2,
            Code::Journal => 3,
            Code::Store => 4,
            Code::CostLimit => 5,
            Code::Pending => 6,
            Code::Config => 7,
            Code::Verification => 8,
            Code::Interrupted => 130,
        }
    }

    /// One hint at the fix, shown after the error message.
    pub(crate) fn hint(self) -> Option<&'static str> {
        Some(match self {
            Code::Success | Code::Failure => return None,
            Code::Usage => "see `glacier-sync COMMAND --help`",
            Code::Journal => {
                "wait for the other glacier-sync using the journal, or restore the damaged line named above from a copy (nothing was changed)"
            }
            Code::Store => {
                "check the network, the region and the credentials (config key=/secret=, AWS_PROFILE); rerun to resume, finished work is kept"
            }
            Code::CostLimit => "raise --max-cost, use --tier bulk, or select fewer files",
            Code::Pending => "rerun later (Glacier jobs take hours), or pass --wait",
            Code::Config => "fix the configuration file named above",
            Code::Verification => {
                "the data named above does not match: run again to fetch it again, or check the source"
            }
            Code::Interrupted => "rerun the same command to go on where it stopped",
        })
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code.number())
    }
}

/// An error that carries its exit code explicitly.
#[derive(Debug)]
pub(crate) struct Coded {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// An error with exit code `code` and message `message`.
pub(crate) fn coded(code: Code, message: impl Into<String>) -> anyhow::Error {
    Coded {
        code,
        message: message.into(),
    }
    .into()
}

/// The exit code for an error: the first cause in its chain that says.
pub(crate) fn code_of(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if cause
            .downcast_ref::<glacier_sync::mtcompat::config::ConfigError>()
            .is_some()
            || cause
                .downcast_ref::<glacier_sync::settings::SettingsError>()
                .is_some()
        {
            return Code::Config;
        }
        if cause
            .downcast_ref::<glacier_sync::mtcompat::filter::FilterError>()
            .is_some()
        {
            return Code::Usage;
        }
        if let Some(e) = cause.downcast_ref::<archiver::Error>() {
            match e {
                archiver::Error::CostLimit { .. } => return Code::CostLimit,
                archiver::Error::Query(_) | archiver::Error::InvalidEntry { .. } => {
                    return Code::Usage;
                }
                // The cause, next in the chain, decides (a store error: 4).
                _ => continue,
            }
        }
        if let Some(
            bundler::BundleError::HashMismatch { .. } | bundler::BundleError::IndexMismatch { .. },
        ) = cause.downcast_ref::<bundler::BundleError>()
        {
            return Code::Verification;
        }
        if cause.downcast_ref::<journal::JournalError>().is_some() {
            return Code::Journal;
        }
        if let Some(e) = cause.downcast_ref::<glacier_multipart::Error>() {
            return match e {
                glacier_multipart::Error::Io { .. }
                | glacier_multipart::Error::SourceRead { .. }
                | glacier_multipart::Error::SourceChanged { .. } => Code::Failure,
                glacier_multipart::Error::InvalidLocation { .. } => Code::Usage,
                glacier_multipart::Error::JobNotReady { .. } => Code::Pending,
                glacier_multipart::Error::PartChecksumMismatch { .. }
                | glacier_multipart::Error::ArchiveChecksumMismatch { .. }
                | glacier_multipart::Error::RangeChecksumMismatch { .. }
                | glacier_multipart::Error::StoredChecksumMismatch { .. }
                | glacier_multipart::Error::Corrupt { .. } => Code::Verification,
                _ => Code::Store,
            };
        }
    }
    Code::Failure
}

/// The text shown at the end of `--help`; the README has the same table.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    a failure, named on standard error (with several inputs, the others were still processed)
  2    usage: the command line was not understood
  3    the journal is locked by another process, unreadable or corrupt (it was not changed)
  4    network: the store could not be reached or refused the credentials or a request
  5    refused: the estimated retrieval cost exceeds --max-cost (nothing was requested)
  6    not ready: the job needed has not finished yet (download-inventory, watch --once)
  7    configuration: a config file was not understood
  8    verification: data does not match its tree hash or checksum (check-local-hash: a difference)
  130  interrupted (Ctrl-C); finished work is kept, rerun to go on";

#[cfg(test)]
mod tests {
    use super::{Code, EXIT_CODES_HELP};

    const ALL: [Code; 10] = [
        Code::Success,
        Code::Failure,
        Code::Usage,
        Code::Journal,
        Code::Store,
        Code::CostLimit,
        Code::Pending,
        Code::Config,
        Code::Verification,
        Code::Interrupted,
    ];

    /// Every code is distinct, in the help table, in the README's table,
    /// and (but success and failure) has a hint.
    #[test]
    fn every_code_is_documented_once() {
        let readme = include_str!("../../../README.md");
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            let n = c.number();
            assert!(seen.insert(n), "{n} used twice");
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n  {n:<4} ")),
                "{n} not in --help"
            );
            assert!(
                readme.contains(&format!("| `{n}` |")),
                "{n} not in the README's table"
            );
            assert_eq!(
                c.hint().is_some(),
                !matches!(c, Code::Success | Code::Failure),
                "{c:?}"
            );
        }
    }
}
