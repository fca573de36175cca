//! One module per subcommand. mt-aws-glacier's commands live in `mt/`, one
//! file each; the archive commands in `archive/`, the ACL commands in
//! `acl/`; shared helpers (the run context, the journal, filters) in
//! `common`, and those of the archive flows in `flow`.

pub(crate) mod acl;
pub(crate) mod archive;
pub(crate) mod backup;
mod common;
pub(crate) mod flow;
mod mt;
mod treehash;

use anyhow::Context as _;
use clap::ArgMatches;
use glacier_sync::mtcompat::config::Config;

use crate::cli::{Cli, Command};
use crate::exit::Code;
use crate::output::Output;

pub(crate) use common::Ctx;

/// Runs the command the user asked for. `matches` are the subcommand's
/// (for the order of filter options); `config` the `--config` file.
pub(crate) fn run(cli: Cli, matches: &ArgMatches, config: Option<&Config>) -> anyhow::Result<Code> {
    let config_flag = cli.config.clone();
    let ctx = Ctx {
        out: Output {
            json: cli.json,
            quiet: cli.quiet,
        },
        matches,
        config,
        config_flag: config_flag.as_deref(),
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
        Command::Worker(args) => archive::worker::run(&ctx, &args),
        Command::Backup(args) => backup::run(&ctx, &args),
        Command::Find(args) => archive::find::run(&ctx, &args),
        Command::WhereIs(args) => archive::where_is::run(&ctx, &args),
        Command::Retrieve(args) => archive::retrieve::run(&ctx, &args),
        Command::Jobs(args) => archive::jobs::run(&ctx, &args),
        Command::Watch(args) => archive::watch::run(&ctx, &args),
        Command::Acl(args) => match args.command {
            acl::cli::AclCommand::Show(a) => acl::show(&ctx, &a),
            acl::cli::AclCommand::Decode(a) => acl::decode(&ctx, &a),
        },
        Command::Catalog(args) => match args.command {
            archive::cli::CatalogCommand::Rebuild(a) => archive::catalog_rebuild::run(&ctx, &a),
            archive::cli::CatalogCommand::Check(a) => archive::catalog_check::run(&ctx, &a),
        },
        Command::Config(args) => match args.command {
            crate::cli::ConfigCommand::Show(a) => config_show(&ctx, config_flag.as_deref(), &a),
        },
        Command::Completions(args) => {
            let script = completions(args.shell, crate::command(), "glacier-sync");
            std::io::Write::write_all(&mut std::io::stdout(), &script)
                .context("writing the completion script")?;
            Ok(Code::Success)
        }
        Command::GenerateMan(args) => {
            std::fs::create_dir_all(&args.dir)
                .with_context(|| format!("creating {}", args.dir.display()))?;
            clap_mangen::generate_to(crate::command(), &args.dir)
                .with_context(|| format!("writing the man pages into {}", args.dir.display()))?;
            ctx.out
                .info(format!("man pages written to {}", args.dir.display()));
            Ok(Code::Success)
        }
    }
}

/// The completion script of `cmd` for `shell`.
///
/// `clap_complete`'s bash script spells a hyphenated program name two ways
/// (`glacier__sync__subcmd__archive` when it walks the words,
/// `glacier__subcmd__sync__subcmd__archive` in its `case` arms), so nothing
/// past the first word completes (clap-rs/clap#6421); the arms are
/// respelled here until a release fixes it. A test completes a
/// subcommand's options in bash.
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

/// `config show`: the effective settings of a command line.
fn config_show(
    ctx: &Ctx<'_>,
    config_flag: Option<&std::path::Path>,
    args: &crate::cli::ConfigShowArgs,
) -> anyhow::Result<Code> {
    let mut argv: Vec<std::ffi::OsString> = vec!["glacier-sync".into()];
    if let Some(c) = config_flag {
        argv.push("--config".into());
        argv.push(c.into());
    }
    if args.command.is_empty() {
        argv.push("archive".into());
    } else {
        argv.extend(args.command.iter().map(Into::into));
    }
    let (_, sub_at) = crate::defaults::scan(&argv);
    let name = sub_at.map(|i| argv[i].to_string_lossy().into_owned());
    if !name
        .as_deref()
        .is_some_and(|n| crate::defaults::COMMANDS.contains(&n))
    {
        return Err(crate::exit::coded(
            Code::Usage,
            format!(
                "config show: {} does not read config.toml; name one of {}",
                name.unwrap_or_default(),
                crate::defaults::COMMANDS.join(", ")
            ),
        ));
    }
    let cmd = crate::command();
    let (argv, applied) = crate::defaults::apply(&cmd, argv)?;
    let rows = crate::defaults::show(&cmd, &argv, &applied, ctx.config);
    let file = crate::defaults::file_line(&applied);
    ctx.out.line(&file);
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in &rows {
        ctx.out.line(format!(
            "{:width$}  {}  [{}]",
            r.name,
            r.value.as_deref().unwrap_or("-"),
            r.source
        ));
    }
    ctx.out.json(&serde_json::json!({
        "command": name,
        "config_file": applied.file.as_ref().map(|f| f.path.display().to_string()),
        "settings": rows,
    }));
    Ok(Code::Success)
}
