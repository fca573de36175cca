//! One module per subcommand.

mod treehash;

use crate::cli::{Cli, Command};
use crate::exit::Code;

/// Runs the command the user asked for.
pub(crate) fn run(cli: Cli) -> anyhow::Result<Code> {
    match cli.command {
        Command::Treehash(args) => treehash::run(&args),
    }
}
