//! `glacier-sync`: the command-line front end of Permafrost.
//!
//! Argument parsing, the config file, logging, progress, error reporting
//! and exit codes live here; the work is done by the library crates.

// The tool is the one place that talks to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod defaults;
mod exit;
mod output;
mod progress;
mod store;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use glacier_sync::mtcompat::config::Config;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    // Ctrl-C ends the run at once, as a kill would: every step is
    // journaled or atomic, so a rerun goes on where this one stopped.
    let _ = ctrlc::set_handler(|| {
        eprintln!(
            "glacier-sync: interrupted\nglacier-sync: hint: {}",
            exit::Code::Interrupted.hint().unwrap_or_default()
        );
        std::process::exit(exit::Code::Interrupted.number().into());
    });
    let (argv, config) = match apply_config(argv) {
        Ok(v) => v,
        Err(err) => return report(&err),
    };
    let (argv, applied) = match defaults::apply(&command(), argv) {
        Ok(v) => v,
        Err(err) => return report(&err.into()),
    };
    // Credentials: an mt-aws-glacier --config, else config.toml's.
    let config = config.or_else(|| applied.file.as_ref().and_then(defaults::credentials));
    let matches = match command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    init_tracing(&cli);
    VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
    store::set_timeout(cli.timeout);
    let sub = matches
        .subcommand()
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    match commands::run(cli, &sub, config.as_ref()) {
        Ok(code) => code.into(),
        Err(err) => report(&err),
    }
}

/// Prints an error, with a hint at the fix for its class, and gives its
/// exit code.
///
/// Without `-v` the chain stops at the first store error: its one sentence
/// says what failed, where and why; what the AWS client said beneath it
/// (and the first bytes of an unexpected answer) shows with `-v`.
fn report(err: &anyhow::Error) -> ExitCode {
    let code = exit::code_of(err);
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        eprintln!("glacier-sync: error: {err:#}");
    } else {
        let mut parts: Vec<String> = Vec::new();
        for cause in err.chain() {
            parts.push(cause.to_string());
            if cause.downcast_ref::<glacier_multipart::Error>().is_some() {
                break;
            }
        }
        eprintln!("glacier-sync: error: {}", parts.join(": "));
    }
    if let Some(hint) = code.hint() {
        eprintln!("glacier-sync: hint: {hint}");
    }
    code.into()
}

/// `-v` given: error chains in full.
static VERBOSE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The clap command, with later occurrences of an option overriding earlier
/// ones, so the config file's settings (inserted first) lose to the
/// command line's.
fn command() -> clap::Command {
    // Built once per run; clap wants a `'static` string.
    let version: &'static str = Box::leak(cli::long_version().into_boxed_str());
    cli::Cli::command()
        .version(version)
        .args_override_self(true)
        .mut_subcommands(|s| s.args_override_self(true))
}

/// Finds `--config FILE`, reads it, and inserts its settings as options
/// right after the subcommand's name, before the user's own.
fn apply_config(argv: Vec<OsString>) -> anyhow::Result<(Vec<OsString>, Option<Config>)> {
    let (config_path, sub_at) = defaults::scan(&argv);
    let (Some(path), Some(sub_at)) = (config_path, sub_at) else {
        return Ok((argv, None));
    };
    if defaults::is_toml(&path) {
        let sub = argv[sub_at].to_string_lossy();
        if sub == "config" || defaults::COMMANDS.contains(&sub.as_ref()) {
            return Ok((argv, None)); // Permafrost's config.toml (defaults.rs)
        }
        return Err(exit::coded(
            exit::Code::Config,
            format!(
                "--config {}: {sub} does not read config.toml (only {} do); the mt-aws-glacier commands take mt-aws-glacier's key=value file",
                path.display(),
                defaults::COMMANDS.join(", ")
            ),
        ));
    }
    let cmd = command();
    // Every command's options, and the global ones (`timeout`, which
    // mt-aws-glacier's file knows too).
    let mut known: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    for sc in cmd.get_subcommands() {
        for arg in sc.get_arguments() {
            if let Some(l) = arg.get_long() {
                known.push(l.to_owned());
            }
        }
    }
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let config = Config::read(&path, &known_refs)?;
    let sub_name = argv[sub_at].to_string_lossy().into_owned();
    let mut inserted: Vec<OsString> = Vec::new();
    if let Some(sc) = cmd.find_subcommand(&sub_name) {
        for setting in config.settings() {
            let Some(arg) = sc
                .get_arguments()
                .chain(cmd.get_arguments().filter(|a| a.is_global_set()))
                .find(|a| a.get_long() == Some(setting.key.as_str()))
            else {
                continue; // an option of another command, or a credential
            };
            let takes_value = arg.get_action().takes_values();
            if takes_value {
                inserted.push(format!("--{}={}", setting.key, setting.value).into());
            } else if !matches!(setting.value.as_str(), "0" | "false" | "no") {
                inserted.push(format!("--{}", setting.key).into());
            }
        }
    }
    let mut out = argv[..=sub_at].to_vec();
    out.extend(inserted);
    out.extend_from_slice(&argv[sub_at + 1..]);
    Ok((out, Some(config)))
}

/// Libraries whose warnings show only with `-v`.
const QUIET_WITHOUT_V: &[&str] = &[
    "aws_config",
    "aws_runtime",
    "aws_sdk_glacier",
    "aws_sdk_s3",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_sdk_sts",
    "aws_smithy_http_client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
];

/// Logs to standard error: warnings by default, `-v` debug, `-vv` trace,
/// `-q` errors only; `RUST_LOG` overrides.
fn init_tracing(cli: &cli::Cli) {
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn",
            1 => "debug",
            _ => "trace",
        }
    };
    // The archive flows' notices and warnings reach the user as messages
    // already (their observer); their events show from -v on. So do the
    // AWS client's and its HTTP stack's: what they warn of (a retry, a
    // timeout, a region lookup) ends in our own one-sentence error.
    let directives = if cli.verbose == 0 {
        std::iter::once(format!("{level},archiver=error"))
            .chain(QUIET_WITHOUT_V.iter().map(|q| format!("{q}=error")))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        level.to_owned()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directives));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
