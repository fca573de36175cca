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
    /// The command line or the configuration file was not understood.
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
        }
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
        if cause.downcast_ref::<journal::JournalError>().is_some() {
            return Code::Journal;
        }
        if let Some(e) = cause.downcast_ref::<glacier_multipart::Error>() {
            return match e {
                glacier_multipart::Error::Io { .. }
                | glacier_multipart::Error::SourceRead { .. }
                | glacier_multipart::Error::SourceChanged { .. } => Code::Failure,
                glacier_multipart::Error::InvalidLocation { .. } => Code::Usage,
                _ => Code::Store,
            };
        }
    }
    Code::Failure
}

/// The text shown at the end of `--help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  a failure, named on standard error (with several inputs, the others were still processed)
  2  the command line or the configuration file was not understood
  3  the journal is locked by another process, unreadable or corrupt (it was not changed)
  4  the store could not be reached or refused the credentials or a request
  5  refused: the estimated retrieval cost exceeds --max-cost (nothing was requested)
  6  the job needed has not finished yet (download-inventory: no completed inventory job)";
