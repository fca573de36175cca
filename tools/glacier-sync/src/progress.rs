//! An indicatif progress bar behind [`glacier_multipart::Progress`]: bytes,
//! rate and ETA on a terminal; nothing when standard error is not a
//! terminal, with `--json` or with `-q`.

use std::io::IsTerminal as _;

use glacier_multipart::{Error, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar for one transfer.
#[derive(Debug)]
pub(crate) struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar labelled `label`, drawn only when `visible` and standard error
    /// is a terminal.
    pub(crate) fn new(label: &str, visible: bool) -> Bar {
        let bar = if visible && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(label.to_owned());
        Bar { bar }
    }
}

impl Progress for Bar {
    fn start(&self, total: Option<u64>, _parts: Option<u64>, already_done: u64) {
        if let Some(total) = total {
            self.bar.set_length(total);
        }
        self.bar.set_position(already_done);
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn retrying(&self, what: &str, attempt: u32, error: &Error) {
        self.bar
            .suspend(|| tracing::warn!("{what}: attempt {attempt} failed, retrying: {error}"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
