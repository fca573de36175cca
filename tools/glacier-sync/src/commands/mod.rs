//! One module per subcommand. mt-aws-glacier's commands live in `mt/`, one
//! file each; shared helpers (the run context, the journal, filters) in
//! `common`.

pub(crate) mod archive;
mod common;
mod mt;
mod treehash;

use clap::ArgMatches;
use glacier_sync::mtcompat::config::Config;

use crate::cli::{Cli, Command};
use crate::exit::Code;
use crate::output::Output;

pub(crate) use common::Ctx;

/// Runs the command the user asked for. `matches` are the subcommand's
/// (for the order of filter options); `config` the `--config` file.
pub(crate) fn run(cli: Cli, matches: &ArgMatches, config: Option<&Config>) -> anyhow::Result<Code> {
    let ctx = Ctx {
        out: Output {
            json: cli.json,
            quiet: cli.quiet,
        },
        matches,
        config,
    };
    match cli.command {
        Command::Treehash(args) => treehash::run(&args),
        Command::CreateVault(args) => mt::vaults::create(&ctx, &args),
        Command::DeleteVault(args) => mt::vaults::delete(&ctx, &args),
        Command::ListVaults(args) => mt::vaults::list(&ctx, &args),
        Command::Sync(args) => mt::sync::run(&ctx, &args),
        Command::UploadFile(args) => mt::upload_file::run(&ctx, &args),
        Command::CheckLocalHash(args) => mt::check_local_hash::run(&ctx, &args),
        Command::PurgeVault(args) => mt::purge_vault::run(&ctx, &args),
        Command::RetrieveInventory(args) => mt::retrieve_inventory::run(&ctx, &args),
        Command::DownloadInventory(args) => mt::download_inventory::run(&ctx, &args),
        Command::Restore(args) => mt::restore::run(&ctx, &args),
        Command::RestoreCompleted(args) => mt::restore_completed::run(&ctx, &args),
        Command::Archive(args) => archive::archive::run(&ctx, &args),
        Command::Find(args) => archive::find::run(&ctx, &args),
        Command::WhereIs(args) => archive::where_is::run(&ctx, &args),
        Command::Retrieve(args) => archive::retrieve::run(&ctx, &args),
        Command::Jobs(args) => archive::jobs::run(&ctx, &args),
        Command::Watch(args) => archive::watch::run(&ctx, &args),
        Command::Catalog(args) => match args.command {
            archive::cli::CatalogCommand::Rebuild(a) => archive::catalog_rebuild::run(&ctx, &a),
        },
    }
}
