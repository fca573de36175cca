//! What commands share: the run context, opening the vault and the journal,
//! the filters in command-line order, walking the directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::ArgMatches;
use glacier_multipart::ArchiveStore;
use glacier_sync::mtcompat::config::Config;
use glacier_sync::mtcompat::filter::{Action, Filter};

use crate::cli::{FilterArgs, StoreArgs, VaultArgs};
use crate::exit::{Code, coded};
use crate::output::Output;
use crate::store::{self, Target};

/// What every command gets besides its arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// Where output goes.
    pub(crate) out: Output,
    /// The subcommand's matches (for the order of repeated options).
    pub(crate) matches: &'a ArgMatches,
    /// The `--config` file, if any (credentials, region).
    pub(crate) config: Option<&'a Config>,
    /// `--config FILE.toml` as given (for the `[ldap]` table).
    pub(crate) config_flag: Option<&'a std::path::Path>,
}

impl Ctx<'_> {
    /// Opens the vault `--vault` names, with `--max-rate` applied.
    pub(crate) fn vault(&self, args: &VaultArgs, max_rate: Option<u64>) -> anyhow::Result<Target> {
        let name = args
            .vault
            .as_deref()
            .ok_or_else(|| coded(Code::Usage, "--vault is required"))?;
        let mut target = store::open_vault(name, &args.store, self.config)?;
        target.store = store::RateLimited::wrap(target.store, max_rate);
        Ok(target)
    }

    /// Opens the store alone.
    pub(crate) fn store(&self, args: &StoreArgs) -> anyhow::Result<(Arc<dyn ArchiveStore>, bool)> {
        store::open_store_only(args, self.config)
    }

    /// Whether to draw progress bars.
    pub(crate) fn progress_visible(&self) -> bool {
        !self.out.json && !self.out.quiet
    }

    /// The filter of `--filter`, `--include` and `--exclude`, in the order
    /// they were given (config-file ones first).
    pub(crate) fn filter(&self, _args: &FilterArgs) -> anyhow::Result<Filter> {
        let mut rules: Vec<(usize, &str, String)> = Vec::new();
        for id in ["filter", "include", "exclude"] {
            let (Some(idx), Some(vals)) = (
                self.matches.indices_of(id),
                self.matches.get_many::<String>(id),
            ) else {
                continue;
            };
            for (i, v) in idx.zip(vals) {
                rules.push((i, id, v.clone()));
            }
        }
        rules.sort_by_key(|r| r.0);
        let mut filter = Filter::new();
        for (_, id, v) in rules {
            match id {
                "filter" => filter.add_filter_option(&v),
                "include" => filter.add(Action::Include, &v),
                _ => filter.add(Action::Exclude, &v),
            }
            .with_context(|| format!("--{id} {v:?}"))?;
        }
        Ok(filter)
    }
}

/// The value of a required option (clap enforces it; the config file may
/// have given it).
pub(crate) fn required<'a, T>(value: Option<&'a T>, option: &str) -> anyhow::Result<&'a T> {
    value.ok_or_else(|| coded(Code::Usage, format!("{option} is required")))
}

/// Checks that `dir` is a directory.
pub(crate) fn existing_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(dir.to_owned()),
        Ok(_) => Err(coded(
            Code::Usage,
            format!("--dir {}: not a directory", dir.display()),
        )),
        Err(e) => Err(coded(Code::Usage, format!("--dir {}: {e}", dir.display()))),
    }
}

/// The directory files are restored into: created when missing (as
/// mt-aws-glacier does), and said so on standard error; with `dry_run`
/// nothing is created, and the message says it would be.
pub(crate) fn restore_dir(out: Output, dir: &Path, dry_run: bool) -> anyhow::Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(dir.to_owned()),
        Ok(_) => Err(coded(
            Code::Usage,
            format!(
                "--dir {}: not a directory; name a directory to restore into",
                dir.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dry_run {
                out.info(format!(
                    "--dir {} does not exist; it would be created",
                    dir.display()
                ));
            } else {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating --dir {}", dir.display()))?;
                out.info(format!("created directory {}", dir.display()));
            }
            Ok(dir.to_owned())
        }
        Err(e) => Err(coded(Code::Usage, format!("--dir {}: {e}", dir.display()))),
    }
}

/// The current time, epoch seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A file's modification time, epoch seconds.
pub(crate) fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt as _;
    meta.mtime()
}

/// One file found in the directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    /// Its name relative to the directory, `/`-separated.
    pub(crate) relname: String,
    /// Its path.
    pub(crate) path: PathBuf,
    /// Its size.
    pub(crate) size: u64,
    /// Its mtime, epoch seconds.
    pub(crate) mtime: i64,
}

/// The regular files under `dir` that `filter` selects, sorted by name.
/// Symbolic links are followed with `follow`, skipped otherwise; names
/// that are not valid UTF-8 or not valid journal names are reported and
/// skipped; `skip` (the journal itself) is left out.
pub(crate) fn walk(
    out: Output,
    dir: &Path,
    filter: &Filter,
    follow: bool,
    skip: &[PathBuf],
) -> anyhow::Result<Vec<LocalFile>> {
    let skip: Vec<PathBuf> = skip
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut files = Vec::new();
    let mut stack = vec![(dir.to_owned(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&path)
            .with_context(|| format!("reading directory {}", path.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading directory {}", path.display()))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                out.warn(format!(
                    "{}: name is not UTF-8, skipped",
                    entry.path().display()
                ));
                continue;
            };
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let child = entry.path();
            let ft = entry.file_type()?;
            let meta = if ft.is_symlink() {
                if !follow {
                    continue;
                }
                match std::fs::metadata(&child) {
                    Ok(m) => m,
                    Err(e) => {
                        out.warn(format!("{}: {e}, skipped", child.display()));
                        continue;
                    }
                }
            } else {
                entry.metadata()?
            };
            if meta.is_dir() {
                stack.push((child, child_rel));
            } else if meta.is_file() {
                if journal::validate_relname(&child_rel).is_err() {
                    out.warn(format!(
                        "{}: the name cannot be recorded in a journal, skipped",
                        child.display()
                    ));
                    continue;
                }
                if !filter.includes(&child_rel) {
                    continue;
                }
                if let Ok(c) = std::fs::canonicalize(&child)
                    && skip.contains(&c)
                {
                    continue;
                }
                files.push(LocalFile {
                    relname: child_rel,
                    path: child,
                    size: meta.len(),
                    mtime: mtime_of(&meta),
                });
            }
        }
    }
    files.sort_by(|a, b| a.relname.cmp(&b.relname));
    Ok(files)
}

/// Where resumable uploads keep their state: beside the journal.
pub(crate) fn resume_dir(journal: &Path) -> PathBuf {
    let mut name = journal
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".resume");
    journal.with_file_name(name)
}

/// Checks, before anything is written, that the vault answers: a wrong
/// endpoint, bad credentials or a missing vault stop the command here with
/// the journal untouched. Transient errors are retried twice.
pub(crate) fn preflight(t: &Target) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match t.store.describe_vault(&t.vault) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_retryable() && attempt < 3 => {
                tracing::debug!("describe vault: {e}; retrying");
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            Err(e @ glacier_multipart::Error::VaultNotFound { .. }) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "vault {:?} in {} (create it with `glacier-sync create-vault`)",
                    t.vault,
                    t.store.location()
                )));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "vault {:?} in {}",
                    t.vault,
                    t.store.location()
                )));
            }
        }
    }
}

/// A size in MiB given on the command line, as bytes: a power of two up to
/// 4096.
pub(crate) fn mib_power_of_two(option: &str, mib: u64) -> anyhow::Result<u64> {
    if mib == 0 || !mib.is_power_of_two() || mib > 4096 {
        return Err(coded(
            Code::Usage,
            format!("{option} {mib}: must be a power of two from 1 to 4096 (MiB)"),
        ));
    }
    Ok(mib << 20)
}

/// Opens the journal for appending (locked) and replays it.
pub(crate) fn open_journal(
    path: &Path,
) -> anyhow::Result<(journal::JournalWriter, journal::State)> {
    let (writer, replay) =
        journal::JournalWriter::open_and_read(path, journal::ReadOptions::default())?;
    if let Some(t) = &replay.torn_tail {
        tracing::warn!(
            "journal {}: an incomplete last line ({} bytes at offset {}) was set aside",
            path.display(),
            t.len,
            t.offset
        );
    }
    Ok((writer, replay.state))
}

/// Reads the journal without locking it.
pub(crate) fn read_journal(path: &Path) -> anyhow::Result<journal::State> {
    Ok(journal::read_journal(path, journal::ReadOptions::default())?.state)
}

/// Epoch seconds of a `SystemTime`.
pub(crate) fn epoch(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Confirms that `command` may delete archives: at once with `--yes`
/// (`yes`); without a terminal refused with exit 2, naming `--yes`;
/// else by asking `question`. `untouched` ends both refusals ("nothing
/// deleted").
pub(crate) fn confirm_deletion(
    yes: bool,
    command: &str,
    question: &str,
    untouched: &str,
) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::exit::coded(
            crate::exit::Code::Usage,
            format!(
                "{command} deletes archives: pass --yes to confirm without a terminal; {untouched}"
            ),
        ));
    }
    if !ask_yes(question)? {
        return Err(crate::exit::coded(
            crate::exit::Code::Failure,
            format!("cancelled; {untouched}"),
        ));
    }
    Ok(())
}

/// Asks `question` on the terminal (stderr) and reads the answer from
/// stdin: true only for `y`, `Y` or `yes`.
pub(crate) fn ask_yes(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, Write as _};
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
