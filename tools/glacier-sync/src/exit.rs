//! Exit codes, documented in `--help` and the README.

use std::process::ExitCode;

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// Everything asked for was done.
    Success,
    /// Something failed; the message on standard error names it. For
    /// commands over several inputs, the others were still processed.
    Failure,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        match code {
            Code::Success => ExitCode::SUCCESS,
            Code::Failure => ExitCode::from(1),
        }
    }
}

/// The text shown at the end of `--help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  a failure, named on standard error (with several inputs, the others were still processed)
  2  the command line was not understood";
