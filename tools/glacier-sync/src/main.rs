//! `glacier-sync`: the command-line front end of Permafrost.
//!
//! Argument parsing, error reporting and exit codes live here; the work is
//! done by the library crates.

// The tool is the one place that talks to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod exit;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("glacier-sync: error: {err:#}");
            exit::Code::Failure.into()
        }
    }
}
