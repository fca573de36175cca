//! Where output goes: results on standard output (human text, or one JSON
//! document with `--json`), messages on standard error (silenced by `-q`).

use std::io::Write as _;

/// The output settings of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// Results as JSON on standard output.
    pub(crate) json: bool,
    /// `-q` given: no informational messages.
    pub(crate) quiet: bool,
}

impl Output {
    /// An informational message on standard error (not with `-q`).
    pub(crate) fn info(self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// A warning or an error about one item, on standard error, always.
    #[allow(clippy::unused_self)] // one entry point for all messages
    pub(crate) fn warn(self, message: impl std::fmt::Display) {
        eprintln!("glacier-sync: {message}");
    }

    /// A line of human-readable results on standard output (not with
    /// `--json`, whose result is given to [`Output::json`]).
    pub(crate) fn line(self, text: impl std::fmt::Display) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    /// The JSON result of a command on standard output (only with
    /// `--json`).
    pub(crate) fn json(self, value: &serde_json::Value) {
        if self.json {
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut out, value);
            let _ = writeln!(out);
        }
    }
}
