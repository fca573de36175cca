//! Applying `config.toml` (see [`glacier_sync::settings`]) to the archive
//! commands' command lines, and `config show`.
//!
//! The file's settings become options inserted right after the command's
//! name, for every option the user did not give: the command line wins,
//! also for repeatable options. The mt-aws-glacier commands (`sync`,
//! `restore`, ...) never read it: they keep mt-aws-glacier's own `--config`
//! file.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use glacier_sync::mtcompat::config::{Config, Setting};
use glacier_sync::settings::{self, ConfigFile, Found, SettingsError, Value};

/// The commands `config.toml` applies to.
pub(crate) const COMMANDS: &[&str] = &[
    "archive", "find", "where-is", "retrieve", "jobs", "watch", "catalog",
];

/// Options of every command, never set by the file.
const GLOBAL: &[&str] = &["help", "version", "verbose", "quiet", "json", "config"];

/// What applying the file did, for `config show`.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// The file, when there is one.
    pub(crate) file: Option<ConfigFile>,
    /// Where it was looked for, when there is none.
    pub(crate) looked_at: Option<PathBuf>,
    /// Long options the user gave.
    pub(crate) user: BTreeSet<String>,
    /// Long options the file set.
    pub(crate) from_file: BTreeSet<String>,
}

/// `--config FILE` (its value) and the index of the command's name.
pub(crate) fn scan(argv: &[OsString]) -> (Option<PathBuf>, Option<usize>) {
    let mut config_path: Option<PathBuf> = None;
    let mut sub_at: Option<usize> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            config_path = argv.get(i + 1).map(PathBuf::from);
            i += 2;
            continue;
        }
        if let Some(p) = a.strip_prefix("--config=") {
            config_path = Some(PathBuf::from(p));
        } else if sub_at.is_none() && !a.starts_with('-') {
            sub_at = Some(i);
        }
        i += 1;
    }
    (config_path, sub_at)
}

/// Whether `--config FILE` names Permafrost's file rather than
/// mt-aws-glacier's.
pub(crate) fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

/// The global options (`--timeout`) the file may set: every command
/// takes them.
fn globals(root: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    root.get_arguments()
        .filter(|a| a.is_global_set() && a.get_long().is_some_and(|l| !GLOBAL.contains(&l)))
}

/// The option `--key` of the leaf command `leaf` below `root`: its own, or
/// a global one.
fn option<'c>(
    root: &'c clap::Command,
    leaf: &'c clap::Command,
    key: &str,
) -> Option<&'c clap::Arg> {
    leaf.get_arguments()
        .find(|a| a.get_long() == Some(key))
        .or_else(|| globals(root).find(|a| a.get_long() == Some(key)))
}

/// The long options of `cmd` and of its subcommands.
fn longs(cmd: &clap::Command) -> Vec<String> {
    let mut out: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !GLOBAL.contains(l))
        .map(str::to_owned)
        .collect();
    for sub in cmd.get_subcommands() {
        out.extend(longs(sub));
    }
    out
}

/// The leaf command `argv` runs below `cmd` (`catalog rebuild`), and the
/// index in `argv` of its name.
fn leaf<'c>(
    cmd: &'c clap::Command,
    argv: &[OsString],
    sub_at: usize,
) -> Option<(&'c clap::Command, usize)> {
    let mut c = cmd.find_subcommand(argv[sub_at].to_string_lossy().as_ref())?;
    let mut at = sub_at;
    while c.has_subcommands() {
        let next = (at + 1..argv.len()).find(|&i| !argv[i].to_string_lossy().starts_with('-'))?;
        c = c.find_subcommand(argv[next].to_string_lossy().as_ref())?;
        at = next;
    }
    Some((c, at))
}

/// The options the user gave to the leaf command of `argv`.
fn given(cmd: &clap::Command, argv: &[OsString]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(mut m) = cmd.clone().ignore_errors(true).try_get_matches_from(argv) else {
        return out;
    };
    let mut c = cmd.clone();
    while let Some((name, sub)) = m.subcommand() {
        let Some(sc) = c.find_subcommand(name).cloned() else {
            break;
        };
        c = sc;
        m = sub.clone();
    }
    for arg in c.get_arguments().chain(globals(cmd)) {
        if let Some(long) = arg.get_long()
            && m.try_get_raw(arg.get_id().as_str()).is_ok()
            && m.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
        {
            out.insert(long.to_owned());
        }
    }
    out
}

/// Applies the configuration file to `argv` when it runs one of the
/// [`COMMANDS`]; `cmd` is the whole command line's definition.
pub(crate) fn apply(
    cmd: &clap::Command,
    argv: Vec<OsString>,
) -> Result<(Vec<OsString>, Applied), SettingsError> {
    let (config_flag, sub_at) = scan(&argv);
    let Some(sub_at) = sub_at else {
        return Ok((argv, Applied::default()));
    };
    let name = argv[sub_at].to_string_lossy().into_owned();
    if !COMMANDS.contains(&name.as_str()) {
        return Ok((argv, Applied::default()));
    }
    let flag = config_flag.filter(|p| is_toml(p));
    let Some((path, found)) = settings::locate(flag.as_deref()) else {
        return Ok((argv, Applied::default()));
    };
    let Some(file) = settings::load(&path, found)? else {
        return Ok((
            argv,
            Applied {
                looked_at: Some(path),
                ..Applied::default()
            },
        ));
    };
    file.check(|table, key| match table {
        _ if globals(cmd).any(|a| a.get_long() == Some(key)) => true,
        None => COMMANDS.iter().any(|c| {
            cmd.find_subcommand(c)
                .is_some_and(|sc| longs(sc).iter().any(|l| l == key))
        }),
        Some(t) => {
            COMMANDS.contains(&t)
                && cmd
                    .find_subcommand(t)
                    .is_some_and(|sc| longs(sc).iter().any(|l| l == key))
        }
    })?;
    let user = given(cmd, &argv);
    let mut applied = Applied {
        user,
        ..Applied::default()
    };
    let Some((leaf_cmd, at)) = leaf(cmd, &argv, sub_at) else {
        applied.file = Some(file);
        return Ok((argv, applied));
    };
    let mut inserted: Vec<OsString> = Vec::new();
    for (key, value) in file.settings_for(&name) {
        let Some(arg) = option(cmd, leaf_cmd, &key) else {
            continue; // an option of another command
        };
        if applied.user.contains(&key) {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        match (&value, takes_value) {
            (Value::Flag(true), false) => inserted.push(format!("--{key}").into()),
            (Value::Flag(false), false) => continue,
            (Value::One(v), true) => inserted.push(format!("--{key}={v}").into()),
            (Value::Many(vs), true) => {
                inserted.extend(vs.iter().map(|v| OsString::from(format!("--{key}={v}"))));
            }
            (_, false) => {
                return Err(SettingsError::BadValue {
                    path: file.path.clone(),
                    key,
                    reason: "is a flag: give it true or false".to_owned(),
                });
            }
            (Value::Flag(_), true) => {
                return Err(SettingsError::BadValue {
                    path: file.path.clone(),
                    key,
                    reason: "takes a value, not true or false".to_owned(),
                });
            }
        }
        applied.from_file.insert(key);
    }
    let mut out = argv[..=at].to_vec();
    out.extend(inserted);
    out.extend_from_slice(&argv[at + 1..]);
    applied.file = Some(file);
    Ok((out, applied))
}

/// The file's credentials (`key`, `secret`, `region`) in the form the
/// store opening reads, when it has any.
pub(crate) fn credentials(file: &ConfigFile) -> Option<Config> {
    let settings: Vec<Setting> = settings::CREDENTIAL_KEYS
        .iter()
        .filter_map(|k| {
            file.credential(k).map(|v| Setting {
                key: (*k).to_owned(),
                value: v.to_owned(),
                line: 0,
            })
        })
        .collect();
    (!settings.is_empty()).then(|| Config::from_settings(file.path.clone(), settings))
}

/// One row of `config show`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
    pub(crate) source: String,
}

/// Hides a secret; shows the first characters of an access key id.
fn mask(name: &str, value: &str) -> String {
    match name {
        "secret" => "********".to_owned(),
        "key" => format!("{}********", value.chars().take(4).collect::<String>()),
        _ => value.to_owned(),
    }
}

/// The data directory and where it came from.
fn data_home_source() -> String {
    if std::env::var_os("PERMAFROST_HOME").is_some_and(|v| !v.is_empty()) {
        "environment (PERMAFROST_HOME)".to_owned()
    } else if std::env::var_os("XDG_DATA_HOME").is_some_and(|v| !v.is_empty()) {
        "environment (XDG_DATA_HOME)".to_owned()
    } else {
        "default (~/.local/share/permafrost)".to_owned()
    }
}

/// The effective settings of the command line `argv` (already passed
/// through [`apply`]), with where each came from. `mt` is an
/// mt-aws-glacier `--config` file, if one was given.
pub(crate) fn show(
    cmd: &clap::Command,
    argv: &[OsString],
    applied: &Applied,
    mt: Option<&Config>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let file_source = applied
        .file
        .as_ref()
        .map(|f| format!("file ({})", f.path.display()))
        .unwrap_or_default();
    let (_, sub_at) = scan(argv);
    let matches = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(argv)
        .ok();
    if let (Some(sub_at), Some(mut m)) = (sub_at, matches)
        && let Some((leaf_cmd, _)) = leaf(cmd, argv, sub_at)
    {
        while let Some((_, sub)) = m.subcommand() {
            m = sub.clone();
        }
        for arg in leaf_cmd.get_arguments().chain(globals(cmd)) {
            let Some(long) = arg.get_long() else { continue };
            if arg.is_hide_set() || GLOBAL.contains(&long) {
                continue;
            }
            let id = arg.get_id().as_str();
            let value = m.try_get_raw(id).ok().flatten().map(|vs| {
                vs.map(|v| mask(long, &v.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let value = match (value, arg.get_action().takes_values()) {
                (Some(v), _) => Some(v),
                (None, false) => Some("false".to_owned()),
                (None, true) => None,
            };
            let source = if applied.user.contains(long) {
                "flag".to_owned()
            } else if applied.from_file.contains(long) {
                file_source.clone()
            } else if m.value_source(id) == Some(ValueSource::DefaultValue)
                || !arg.get_action().takes_values()
            {
                "default".to_owned()
            } else {
                String::new()
            };
            let (value, source) = match (long, value, source.is_empty()) {
                ("catalog", None, true) => (
                    archiver::data_home()
                        .ok()
                        .map(|h| h.join("catalog.sqlite").display().to_string()),
                    data_home_source(),
                ),
                ("vault", None, true)
                    if leaf_cmd
                        .get_arguments()
                        .any(|a| a.get_long() == Some("store")) =>
                {
                    (
                        archiver::data_home().ok().map(|h| {
                            format!("{}/{}", h.join("store").display(), archiver::DEFAULT_VAULT)
                        }),
                        data_home_source(),
                    )
                }
                ("timeout", None, true) => (
                    Some(
                        glacier_multipart::Timeouts::default()
                            .first_byte
                            .as_secs()
                            .to_string(),
                    ),
                    "default".to_owned(),
                ),
                (_, v, true) => (v, "not set".to_owned()),
                (_, v, false) => (v, source),
            };
            rows.push(Row {
                name: long.to_owned(),
                value,
                source,
            });
        }
    }
    rows.extend(credential_rows(applied, mt, &file_source));
    rows
}

/// Amazon credentials and region: from an mt-aws-glacier --config, the
/// file, the environment, or the AWS chain.
fn credential_rows(applied: &Applied, mt: Option<&Config>, file_source: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, envs) in [
        ("key", &["AWS_ACCESS_KEY_ID"][..]),
        ("secret", &["AWS_SECRET_ACCESS_KEY"][..]),
        ("region", &["AWS_REGION", "AWS_DEFAULT_REGION"][..]),
    ] {
        let from_mt = mt.and_then(|c| c.get(name).map(|v| (v.to_owned(), c.path.clone())));
        let from_file = applied
            .file
            .as_ref()
            .and_then(|f| f.credential(name).map(str::to_owned));
        let from_env = envs.iter().find_map(|e| {
            std::env::var(e)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (*e, v))
        });
        let (value, source) = if let Some((v, path)) = from_mt {
            (Some(v), format!("file ({})", path.display()))
        } else if let Some(v) = from_file {
            (Some(v), file_source.to_owned())
        } else if let Some((e, v)) = from_env {
            (Some(v), format!("environment ({e})"))
        } else {
            (
                None,
                "the AWS chain (profiles, SSO, instance role), if needed".to_owned(),
            )
        };
        rows.push(Row {
            name: name.to_owned(),
            value: value.map(|v| mask(name, &v)),
            source,
        });
    }
    rows
}

/// The line naming the configuration file.
pub(crate) fn file_line(applied: &Applied) -> String {
    match (&applied.file, &applied.looked_at) {
        (Some(f), _) => format!(
            "config file: {} ({})",
            f.path.display(),
            match f.found {
                Found::Flag => "--config",
                Found::Environment => "PERMAFROST_CONFIG",
                Found::Default => "the default location",
            }
        ),
        (None, Some(p)) => format!("config file: none ({} does not exist)", p.display()),
        (None, None) => "config file: none (no XDG_CONFIG_HOME or HOME)".to_owned(),
    }
}
