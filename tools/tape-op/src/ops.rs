//! The commands.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use tape_io::label::{self, Label};
use tape_io::target::{self, Extract, FileRecord, Resume, TargetStream, WriteOptions};
use tape_io::{FileTapeOptions, TapeDevice, TapeError};

use crate::db::{Backup, Db, Member};
use crate::exit;
use crate::source::source_for;
use crate::{Cli, Cmd, Exit};

/// Settings after merging tape.conf and options.
struct Ctx {
    db: Db,
    device: Option<String>,
    ssh_command: Option<String>,
    write: WriteOptions,
    file_tape: FileTapeOptions,
    stop_file: PathBuf,
    yes: bool,
    stop: Arc<AtomicBool>,
}

/// Reads the `[default]` section of an ini file.
fn read_conf(path: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut section = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_lowercase();
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            bail!("{}:{}: not `key = value`: {line}", path.display(), i + 1);
        };
        if section == "default" || section.is_empty() {
            out.insert(k.trim().to_lowercase(), v.trim().to_owned());
        }
    }
    Ok(out)
}

fn parse_num<T: std::str::FromStr>(
    conf: &BTreeMap<String, String>,
    key: &str,
) -> Result<Option<T>> {
    conf.get(key)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| anyhow::anyhow!("tape.conf: {key} = {v}: not a number"))
        })
        .transpose()
}

fn context(cli: &Cli) -> Result<Ctx> {
    let conf = read_conf(&cli.config)?;
    let database = cli
        .database
        .clone()
        .or_else(|| conf.get("database_file").map(PathBuf::from))
        .or_else(catalog::default_path)
        .context("no catalog: set database_file in tape.conf, pass --database, or set PERMAFROST_HOME or HOME")?;
    let mut write = WriteOptions::default();
    if let Some(b) = cli.block_size.or(parse_num(&conf, "block_size")?) {
        write.block_size = b;
        write.fallback_block_sizes.retain(|&s| s < b);
    }
    if let Some(b) = cli.buffer_size.or(parse_num(&conf, "buffer_size")?) {
        write.buffer_size = b;
    }
    let mut file_tape = FileTapeOptions::default();
    if let Some(c) = cli
        .file_tape_capacity
        .or(parse_num(&conf, "file_tape_capacity")?)
    {
        file_tape.capacity = Some(c);
        file_tape.early_warning = (c / 20).max(write.block_size as u64 * 2);
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // Ctrl-C asks for a stop after the current step.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "tape-op: stop requested; finishing the current step (Ctrl-C again to abort)"
            );
        });
    }
    Ok(Ctx {
        db: Db::open(&database)?,
        device: cli
            .device
            .clone()
            .or_else(|| conf.get("tape_device").cloned()),
        ssh_command: cli
            .ssh_command
            .clone()
            .or_else(|| conf.get("ssh_command").cloned()),
        write,
        file_tape,
        stop_file: cli
            .stop_file
            .clone()
            .or_else(|| conf.get("stop_file").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("tape.stop")),
        yes: cli.yes,
        stop,
    })
}

pub(crate) fn run(cli: Cli) -> Result<()> {
    let cx = context(&cli)?;
    let cmd = match cli.command {
        Some(c) => c,
        None if cx.db.online_tape()?.is_some() => Cmd::Status { tape: None },
        None => Cmd::Tapes,
    };
    match cmd {
        Cmd::Tapes => tapes(&cx),
        Cmd::Status { tape } => status(&cx, tape.as_deref()),
        Cmd::OpenTape {
            name,
            serial,
            online,
        } => open_tape(&cx, &name, serial, online),
        Cmd::ActivateTape { name } => {
            cx.db.set_online(&name)?;
            println!("tape {name} is online");
            Ok(())
        }
        Cmd::CloseTape { tape } => close_tape(&cx, tape.as_deref()),
        Cmd::Import { paths, dirs } => import(&cx, &paths, dirs),
        Cmd::Assign { tape } => {
            let t = cx.db.tape_or_online(tape.as_deref())?;
            let n = cx.db.assign(t.id)?;
            println!("{n} targets assigned to {}", t.name);
            Ok(())
        }
        Cmd::Archive { all } => repeat(&cx, all, archive_one),
        Cmd::Confirm {
            which,
            all,
            retry,
            no_db_update,
        } => confirm(&cx, which.as_deref(), all, retry, no_db_update),
        Cmd::WhereIs { pattern } => where_is(&cx, &pattern),
        Cmd::TapeDetail { tape } => tape_detail(&cx, tape.as_deref()),
        Cmd::BackupInfo { file_number } => backup_info(&cx, file_number),
        Cmd::DumpManifest { dir } => dump_manifest(&cx, &dir),
        Cmd::Restore { what, query, to } => match (what, query) {
            (_, Some(q)) => restore_query(&cx, &q, &to),
            (Some(w), None) => restore(&cx, &w, &to),
            (None, None) => bail!("restore: name a target or glob, or give --query"),
        },
        Cmd::Scan { tape } => scan(&cx, &tape),
        Cmd::Batch { what } => {
            let step = if what == "archive" {
                archive_one
            } else {
                |cx: &Ctx| confirm_one(cx, None, false, false)
            };
            match repeat(&cx, true, step) {
                Err(e)
                    if e.downcast_ref::<Exit>()
                        .is_some_and(|x| x.0 == exit::NOTHING_TO_DO) =>
                {
                    println!("no work left");
                    Ok(())
                }
                other => other,
            }
        }
        Cmd::Selftest { fill } => selftest(&cx, fill),
        Cmd::Completions { .. } | Cmd::GenerateMan { .. } => {
            unreachable!("main handles completions and generate-man before the catalogue is opened")
        }
    }
}

fn stop_requested(cx: &Ctx) -> bool {
    cx.stop.load(Ordering::SeqCst) || cx.stop_file.exists()
}

/// Runs `step` once, or until it finds nothing to do; a stop request ends
/// the loop between steps with exit 41.
fn repeat(cx: &Ctx, all: bool, step: fn(&Ctx) -> Result<()>) -> Result<()> {
    let mut done = 0;
    loop {
        if stop_requested(cx) {
            return Err(Exit(exit::STOPPED, format!("stop requested after {done} steps")).into());
        }
        match step(cx) {
            Err(e)
                if all
                    && done > 0
                    && e.downcast_ref::<Exit>()
                        .is_some_and(|x| x.0 == exit::NOTHING_TO_DO) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
            Ok(()) => done += 1,
        }
        if !all {
            return Ok(());
        }
    }
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn ask(question: &str) -> Result<String> {
    eprint!("{question} ");
    std::io::stderr().flush()?;
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim().to_owned())
}

/// Asks on a terminal; elsewhere `--yes` is required.
fn confirm_action(cx: &Ctx, what: &str) -> Result<()> {
    if cx.yes {
        return Ok(());
    }
    if interactive() && ask(&format!("{what}? [y/N]"))?.eq_ignore_ascii_case("y") {
        return Ok(());
    }
    if interactive() {
        bail!("cancelled");
    }
    bail!("{what}: not on a terminal, pass --yes to go ahead")
}

#[allow(clippy::cast_precision_loss)] // for display only
fn size(n: u64) -> String {
    let f = n as f64;
    match n {
        n if n >= 1 << 40 => format!("{:.2} TiB", f / (1u64 << 40) as f64),
        n if n >= 1 << 30 => format!("{:.2} GiB", f / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", f / (1u64 << 20) as f64),
        _ => format!("{n} B"),
    }
}

// ------------------------------------------------------------------ tapes

fn tapes(cx: &Ctx) -> Result<()> {
    println!("{:<16} {:<16} {:<8} online", "name", "serial", "status");
    for t in cx.db.tapes()? {
        println!(
            "{:<16} {:<16} {:<8} {}",
            t.name,
            t.serial,
            t.status,
            if t.online { "*" } else { "" }
        );
    }
    Ok(())
}

fn status(cx: &Ctx, tape: Option<&str>) -> Result<()> {
    let t = cx.db.tape_or_online(tape)?;
    println!(
        "tape {} (serial '{}', {}{})",
        t.name,
        t.serial,
        t.status,
        if t.online { ", online" } else { "" }
    );
    for (st, n, b) in cx.db.summary(t.id)? {
        println!("  {st:<10} {n:>6} targets  {}", size(b));
    }
    let unassigned = cx.db.unassigned_targets()?;
    println!("  unassigned targets in the catalogue: {unassigned}");
    Ok(())
}

fn open_tape(cx: &Ctx, name: &str, serial: Option<String>, online: bool) -> Result<()> {
    Label::new(name, serial.as_deref().unwrap_or(""))?;
    let (serial, online) = if interactive() && !cx.yes && serial.is_none() {
        let s = ask(&format!("serial number (barcode) of tape {name}:"))?;
        let o = online || ask("put it online now? [y/N]")?.eq_ignore_ascii_case("y");
        (s, o)
    } else {
        (serial.unwrap_or_default(), online)
    };
    cx.db.add_tape(name, &serial)?;
    if online {
        cx.db.set_online(name)?;
    }
    println!(
        "tape {name} added{}",
        if online { " and online" } else { "" }
    );
    Ok(())
}

fn close_tape(cx: &Ctx, tape: Option<&str>) -> Result<()> {
    let t = cx.db.tape_or_online(tape)?;
    confirm_action(cx, &format!("close tape {}", t.name))?;
    let n = cx.db.close_tape(t.id)?;
    println!("tape {} closed; {n} assigned targets released", t.name);
    Ok(())
}

// ------------------------------------------------------------------ import

fn import(cx: &Ctx, paths: &[PathBuf], dirs: bool) -> Result<()> {
    let mut targets: Vec<PathBuf> = Vec::new();
    for p in paths {
        if !dirs && p.is_file() {
            let text = std::fs::read(p).with_context(|| format!("reading list {}", p.display()))?;
            for line in text.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.is_empty() {
                    targets.push(PathBuf::from(std::ffi::OsStr::from_bytes(line)));
                }
            }
        } else {
            targets.push(p.clone());
        }
    }
    let remote = cx
        .ssh_command
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let mut added = 0;
    for t in targets {
        if stop_requested(cx) {
            return Err(Exit(
                exit::STOPPED,
                format!("stop requested after importing {added} targets"),
            )
            .into());
        }
        let name = t
            .to_str()
            .with_context(|| format!("target name {} is not UTF-8", t.display()))?
            .trim_end_matches('/')
            .to_owned();
        let name = if name.is_empty() {
            "/".to_owned()
        } else {
            name
        };
        if !remote && !Path::new(&name).is_dir() {
            bail!("{name}: not a directory");
        }
        if cx.db.target_id(&name)?.is_some() {
            eprintln!("tape-op: {name}: already imported, skipped");
            continue;
        }
        let mut src = source_for(&name, remote, cx.ssh_command.as_deref())?;
        let files =
            target::hash_source(src.as_mut()).with_context(|| format!("scanning {name}"))?;
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let base = std::env::current_dir().context("the current directory")?;
        let root = crate::db::target_root(&name, remote, &base);
        cx.db.add_target(&name, &root, remote, &files)?;
        println!("{name}: {} files, {}", files.len(), size(bytes));
        added += 1;
    }
    Ok(())
}

// ------------------------------------------------------------------ devices

/// Opens the drive holding `tape`: with `{tape}` in tape_device, that
/// tape's image; otherwise the one drive, whose label must then match
/// (on a terminal the operator is asked to load the right tape).
fn open_for(cx: &Ctx, tape: &str) -> Result<Box<dyn TapeDevice>> {
    let dev = cx
        .device
        .as_deref()
        .context("no tape device: set tape_device in tape.conf or pass --device")?;
    let path = PathBuf::from(dev.replace("{tape}", tape));
    if let Some(parent) = path.parent()
        && dev.contains("{tape}")
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(tape_io::open_device(&path, &cx.file_tape)?)
}

fn open_labelled(cx: &Ctx, tape: &str) -> Result<Box<dyn TapeDevice>> {
    loop {
        let mut dev = open_for(cx, tape)?;
        match label::expect_label(dev.as_mut(), tape) {
            Ok(_) => return Ok(dev),
            Err(e) if interactive() && !cx.device.as_deref().unwrap_or("").contains("{tape}") => {
                drop(dev);
                ask(&format!(
                    "{e}\nload tape {tape} and press Enter (Ctrl-C to give up)"
                ))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

// ------------------------------------------------------------------ archive

fn archive_one(cx: &Ctx) -> Result<()> {
    let tape = cx.db.tape_or_online(None)?;
    if tape.status != "open" {
        return Err(Exit(
            exit::NOTHING_TO_DO,
            format!(
                "tape {} is {}: open or activate another tape",
                tape.name, tape.status
            ),
        )
        .into());
    }
    let Some(backup) = cx.db.next_to_archive(tape.id)? else {
        return Err(Exit(
            exit::NOTHING_TO_DO,
            format!("nothing to archive on tape {}", tape.name),
        )
        .into());
    };
    archive_backup(cx, &tape, &backup).map_err(|e| match e.downcast::<Exit>() {
        Ok(x) => x.into(),
        Err(e) => Exit(
            exit::ARCHIVE_FAILED,
            format!("archive of {} failed: {e:#}", backup.target),
        )
        .into(),
    })
}

fn archive_backup(cx: &Ctx, tape: &crate::db::Tape, backup: &Backup) -> Result<()> {
    let parts = cx.db.parts(backup.id)?;
    if parts.iter().any(|p| p.tape == tape.name) {
        bail!(
            "target {} already has a part on tape {}",
            backup.target,
            tape.name
        );
    }
    let resume = parts.last().map(|p| Resume {
        part: p.part + 1,
        stream_offset: p.stream_end,
    });
    let mut dev = open_for(cx, &tape.name)?;
    label::prepare_for_write(dev.as_mut(), &Label::new(&tape.name, &tape.serial)?)?;
    dev.end_of_data()?;
    let at = dev
        .status()?
        .file_number
        .context("the drive does not know its file number")?;
    let expected = cx.db.last_file_number(tape.id)?.map_or(1, |n| n + 1);
    if at < expected {
        bail!(
            "tape {} ends at file {at} but the catalogue has files up to {}: wrong tape, or it was overwritten",
            tape.name,
            expected - 1
        );
    }
    if at > expected {
        tracing::warn!(tape = %tape.name, at, expected, "the tape holds files the catalogue does not know (an earlier failed write?)");
    }
    println!(
        "archiving {} to tape {} file {at}{}",
        backup.target,
        tape.name,
        resume.map_or(String::new(), |r| format!(
            " (part {}, from stream byte {})",
            r.part, r.stream_offset
        ))
    );
    let mut src = source_for(&backup.target, backup.remote, cx.ssh_command.as_deref())?;
    let w = target::write_target(
        dev.as_mut(),
        &backup.target,
        src.as_mut(),
        resume,
        &cx.write,
    )?;
    dev.close()?;
    // The backup's tape becomes the one holding its latest part.
    cx.db.set_backup_volume(backup.id, tape.id)?;
    cx.db.add_part(
        backup.id,
        w.part,
        tape.id,
        &w.layout,
        w.block_size,
        w.complete,
    )?;
    if !w.complete {
        cx.db.set_backup_status(backup.id, "partial")?;
        cx.db.set_tape_status(tape.id, "full")?;
        return Err(Exit(
            exit::TAPE_FULL,
            format!(
                "tape {} is full: {} wrote {} bytes (part {}); open a new tape and archive again to continue it",
                tape.name,
                backup.target,
                w.stream_end - w.stream_start,
                w.part
            ),
        )
        .into());
    }
    // Files changed since import would fail confirm later: say so now.
    let bad = target::compare(&cx.db.files(backup.target_id)?, &w.files);
    if !bad.is_empty() {
        cx.db.set_backup_status(backup.id, "failed")?;
        let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
        bail!(
            "the source of {} changed since import:\n  {}",
            backup.target,
            list.join("\n  ")
        );
    }
    // Wholly on tape: every member with the volume, file and block where
    // it starts, searchable by every Permafrost tool.
    let members: Vec<Member> = w
        .files
        .iter()
        .zip(&w.members)
        .map(|(f, m)| member(f, m.offset, m.mode, m.mtime))
        .collect();
    cx.db.record_backup(backup.id, &members, "recorded")?;
    println!(
        "{}: {} files on tape {} file {} ({} blocks of {} bytes)",
        backup.target,
        w.files.len(),
        tape.name,
        w.file_number,
        w.blocks,
        w.block_size
    );
    Ok(())
}

/// A member to record: a file and where its header starts.
fn member(f: &FileRecord, offset: u64, mode: u32, mtime: u64) -> Member {
    Member {
        name: f.name.clone(),
        size: f.size,
        mode,
        mtime,
        sha256: f.sha256,
        offset,
    }
}

// ------------------------------------------------------------------ reading

/// Reads a backup's stream across its parts, extracting if asked.
fn read_backup(cx: &Ctx, backup: &Backup, extract: Option<Extract<'_>>) -> Result<Vec<FileRecord>> {
    let parts = cx.db.parts(backup.id)?;
    if parts.is_empty() {
        bail!("target {} has no part on tape yet", backup.target);
    }
    let parts2 = parts.clone();
    let cx_dev = |tape: &str| open_labelled(cx, tape);
    let opener = move |n: u32| -> Result<Option<Box<dyn TapeDevice>>, TapeError> {
        let Some(p) = parts2.iter().find(|p| p.part == n) else {
            return Ok(None);
        };
        let mut dev = cx_dev(&p.tape).map_err(|e| TapeError::Invalid {
            device: p.tape.clone(),
            reason: format!("{e:#}"),
        })?;
        target::position_to_file(dev.as_mut(), p.file_number)?;
        Ok(Some(dev))
    };
    let mut stream = TargetStream::new(&backup.target, Box::new(opener))?;
    Ok(target::read_entries(&mut stream, &backup.target, extract)?)
}

fn confirm(
    cx: &Ctx,
    which: Option<&str>,
    all: bool,
    retry: bool,
    no_db_update: bool,
) -> Result<()> {
    if all {
        if which.is_some() {
            bail!("confirm: give a file number or --all, not both");
        }
        return confirm_all(cx, retry, no_db_update);
    }
    let n = match which {
        None | Some("next") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .with_context(|| format!("'{s}' is not a file number or 'next'"))?,
        ),
    };
    confirm_one(cx, n, retry, no_db_update)
}

fn confirm_one(cx: &Ctx, file_number: Option<u64>, retry: bool, no_db_update: bool) -> Result<()> {
    let tape = cx.db.tape_or_online(None)?;
    let backup = match file_number {
        Some(n) => cx
            .db
            .backup_at(tape.id, n)?
            .with_context(|| format!("no backup at file {n} of tape {}", tape.name))?,
        None => cx.db.next_to_confirm(tape.id)?.ok_or_else(|| {
            Exit(
                exit::NOTHING_TO_DO,
                format!("nothing to confirm on tape {}", tape.name),
            )
        })?,
    };
    match backup.status.as_str() {
        "confirmed" if !retry => {
            return Err(Exit(
                exit::NOTHING_TO_DO,
                format!("{} is already confirmed (use --retry)", backup.target),
            )
            .into());
        }
        "assigned" | "partial" => bail!(
            "{} is not completely on tape yet ({})",
            backup.target,
            backup.status
        ),
        _ => {}
    }
    confirm_backup(cx, &backup, no_db_update).map(|_| ())
}

/// `confirm --all`: every tape in the catalogue, each backup whose first
/// part is on it (recorded ones; with `retry` confirmed and failed ones
/// too), a summary line per tape; a backup that does not match does not
/// stop the others, and makes the whole exit 44.
fn confirm_all(cx: &Ctx, retry: bool, no_db_update: bool) -> Result<()> {
    let mut failed: Vec<String> = Vec::new();
    let mut checked = 0;
    for tape in cx.db.tapes()? {
        let backups = cx.db.backups_to_confirm(tape.id, retry)?;
        if backups.is_empty() {
            continue;
        }
        let (mut ok, mut bad) = (0, 0);
        for backup in &backups {
            if stop_requested(cx) {
                return Err(Exit(
                    exit::STOPPED,
                    format!("stop requested after confirming {checked} backups"),
                )
                .into());
            }
            checked += 1;
            match confirm_backup(cx, backup, no_db_update) {
                Ok(_) => ok += 1,
                Err(e) => {
                    let msg = match e.downcast_ref::<Exit>() {
                        Some(x) if x.0 == exit::VERIFY_FAILED => x.1.clone(),
                        _ => format!("confirm of {} failed: {e:#}", backup.target),
                    };
                    eprintln!("tape-op: {msg}");
                    failed.push(format!("{} (tape {})", backup.target, tape.name));
                    bad += 1;
                }
            }
        }
        let line = format!(
            "tape {}: {} backups checked, {ok} verified, {bad} failed",
            tape.name,
            backups.len()
        );
        println!("{line}");
    }
    if checked == 0 {
        println!(
            "nothing to confirm on any tape{}",
            if retry {
                ""
            } else {
                " (use --retry to confirm again)"
            }
        );
        return Ok(());
    }
    if !failed.is_empty() {
        return Err(Exit(
            exit::VERIFY_FAILED,
            format!(
                "{} of {checked} backups did not confirm: {}",
                failed.len(),
                failed.join(", ")
            ),
        )
        .into());
    }
    Ok(())
}

/// Reads `backup` back and compares every file with the catalogue;
/// records the outcome unless `no_db_update`. Returns the files verified.
fn confirm_backup(cx: &Ctx, backup: &Backup, no_db_update: bool) -> Result<usize> {
    println!("confirming {}", backup.target);
    let expected = cx.db.files(backup.target_id)?;
    let found = match read_backup(cx, backup, None) {
        Ok(f) => f,
        Err(e) => {
            if !no_db_update {
                cx.db.set_backup_status(backup.id, "failed")?;
            }
            return Err(Exit(
                exit::VERIFY_FAILED,
                format!("confirm of {} failed: {e:#}", backup.target),
            )
            .into());
        }
    };
    let bad = target::compare(&expected, &found);
    if !bad.is_empty() {
        if !no_db_update {
            cx.db.set_backup_status(backup.id, "failed")?;
        }
        let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
        return Err(Exit(
            exit::VERIFY_FAILED,
            format!(
                "confirm of {} failed, {} files do not match:\n  {}",
                backup.target,
                bad.len(),
                list.join("\n  ")
            ),
        )
        .into());
    }
    if !no_db_update {
        cx.db.set_backup_status(backup.id, "confirmed")?;
    }
    println!(
        "{}: {} files verified (MD5 and SHA-256)",
        backup.target,
        found.len()
    );
    Ok(found.len())
}

fn restore(cx: &Ctx, what: &str, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    // A whole target, or the files matching a glob.
    let mut jobs: Vec<(i64, Option<Vec<Vec<u8>>>)> = Vec::new();
    if let Some(id) = cx.db.target_id(what.trim_end_matches('/'))? {
        jobs.push((id, None));
    } else {
        let mut by_target: BTreeMap<i64, Vec<Vec<u8>>> = BTreeMap::new();
        for (tid, tname, name) in all_files(cx)? {
            if file_matches(what.as_bytes(), &tname, &name) {
                by_target.entry(tid).or_default().push(name);
            }
        }
        if by_target.is_empty() {
            bail!("no target or file matches '{what}'");
        }
        jobs.extend(by_target.into_iter().map(|(t, n)| (t, Some(n))));
    }
    let mut failed = Vec::new();
    for (tid, only) in jobs {
        let backup = cx
            .db
            .backup_for_restore(tid)?
            .with_context(|| format!("target #{tid} has no recorded backup"))?;
        let dest = if only.is_some() {
            to.join(backup.target.trim_start_matches('/'))
        } else {
            to.to_path_buf()
        };
        let found = read_backup(
            cx,
            &backup,
            Some(Extract {
                to: &dest,
                only: only.as_deref(),
            }),
        )?;
        let mut expected = cx.db.files(tid)?;
        let mut found = found;
        if let Some(only) = &only {
            expected.retain(|f| only.contains(&f.name));
            found.retain(|f| only.contains(&f.name));
        }
        note_restored(&backup.target, &expected, &found, &dest, &mut failed);
    }
    mismatches_fail(&failed)
}

/// Compares what a restore of `target` extracted into `dest` with the
/// catalogue's records, keeps each mismatch in `failed`, and says how many
/// files were restored.
fn note_restored(
    target: &str,
    expected: &[FileRecord],
    found: &[FileRecord],
    dest: &Path,
    failed: &mut Vec<String>,
) {
    let bad = target::compare(expected, found);
    failed.extend(bad.iter().map(|m| format!("{target}: {m}")));
    println!(
        "{target}: {} files restored to {}",
        found.len(),
        dest.display()
    );
}

/// A restore fails (exit 44) when any restored file did not match.
fn mismatches_fail(failed: &[String]) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    Err(Exit(
        exit::VERIFY_FAILED,
        format!("restored data does not match:\n  {}", failed.join("\n  ")),
    )
    .into())
}

/// `restore --query`: the files on tape a catalog search finds, each
/// backup read from the block holding the first wanted member's header
/// (not from the start of its tape file), extracted under `to` at their
/// paths and verified against the catalogue.
#[allow(clippy::too_many_lines)] // search, group, read, verify
fn restore_query(cx: &Ctx, text: &str, to: &Path) -> Result<()> {
    let query = catalog::query::parse(text).map_err(|e| anyhow::anyhow!("query: {e}"))?;
    let mut hits = Vec::new();
    let mut page = catalog::Page::first(catalog::MAX_PAGE);
    loop {
        let p = cx.db.catalog().search(&query, page)?;
        hits.extend(p.hits);
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    let elsewhere = hits.iter().filter(|h| h.tape.is_none()).count();
    if elsewhere > 0 {
        eprintln!(
            "tape-op: {elsewhere} matches of '{query}' are not on tape (glacier-sync retrieve gets those); skipped"
        );
    }
    let mut by_archive: BTreeMap<catalog::ArchiveKey, Vec<catalog::FileId>> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.tape.is_some()) {
        by_archive.entry(h.archive).or_default().push(h.id);
    }
    if by_archive.is_empty() {
        bail!("no file on tape matches '{query}'");
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut failed = Vec::new();
    let mut restored = 0;
    for (archive, ids) in by_archive {
        let backup = cx
            .db
            .backup_of_archive(archive)?
            .with_context(|| format!("archive {archive} is on tape but no backup records it"))?;
        let members: Vec<_> = cx
            .db
            .members(archive)?
            .into_iter()
            .filter(|m| ids.contains(&m.file))
            .collect();
        let Some(first) = members.iter().min_by_key(|m| m.position.offset) else {
            continue;
        };
        let names: Vec<Vec<u8>> = members.iter().map(|m| m.name.clone()).collect();
        let parts = cx.db.parts(backup.id)?;
        let layouts: Vec<_> = parts.iter().map(|p| p.layout.clone()).collect();
        let at = tape_io::layout::locate(&layouts, first.position.offset).with_context(|| {
            format!(
                "{}: stream offset {} is in no part of {}",
                first.path, first.position.offset, backup.target
            )
        })?;
        println!(
            "restoring {} files of {} from tape {} file {} block {}",
            names.len(),
            backup.target,
            parts[at.part].tape,
            at.file_number,
            at.block
        );
        let dest = to.join(backup.root.trim_start_matches('/'));
        let parts2 = parts.clone();
        let opener = move |n: u32| -> Result<Option<Box<dyn TapeDevice>>, TapeError> {
            let Some(p) = parts2.iter().find(|p| p.part == n) else {
                return Ok(None);
            };
            let mut dev = open_labelled(cx, &p.tape).map_err(|e| TapeError::Invalid {
                device: p.tape.clone(),
                reason: format!("{e:#}"),
            })?;
            target::position_to_file(dev.as_mut(), p.file_number)?;
            Ok(Some(dev))
        };
        let mut stream = TargetStream::starting_at(
            &backup.target,
            parts[at.part].part,
            at.block,
            at.block_start,
            Box::new(opener),
        )?;
        // From the block's first byte to the member's header.
        let skip = first.position.offset - at.block_start;
        let skipped = std::io::copy(
            &mut std::io::Read::take(&mut stream, skip),
            &mut std::io::sink(),
        )
        .with_context(|| format!("reading {} on tape", backup.target))?;
        if skipped != skip {
            bail!(
                "{}: the stream ends before offset {}",
                backup.target,
                first.position.offset
            );
        }
        let found = target::read_members(
            &mut stream,
            &backup.target,
            Some(Extract {
                to: &dest,
                only: Some(&names),
            }),
            first.position.offset,
        )?;
        let found: Vec<FileRecord> = found
            .into_iter()
            .map(|m| m.record)
            .filter(|r| names.contains(&r.name))
            .collect();
        let mut expected = cx.db.files(backup.target_id)?;
        expected.retain(|f| names.contains(&f.name));
        restored += found.len();
        note_restored(&backup.target, &expected, &found, &dest, &mut failed);
    }
    mismatches_fail(&failed)?;
    println!("{restored} files restored and verified (MD5 and SHA-256)");
    Ok(())
}

// ------------------------------------------------------------------ queries

fn all_files(cx: &Ctx) -> Result<Vec<(i64, String, Vec<u8>)>> {
    cx.db.all_files()
}

/// Shell-style glob over bytes: `*`, `?`, and literal bytes.
pub(crate) fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) && p[pi] != b'*' {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn file_matches(pattern: &[u8], target: &str, name: &[u8]) -> bool {
    let mut full = target.trim_end_matches('/').as_bytes().to_vec();
    full.push(b'/');
    full.extend_from_slice(name);
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    glob(pattern, name) || glob(pattern, &full) || glob(pattern, base)
}

fn where_is(cx: &Ctx, pattern: &str) -> Result<()> {
    let mut hits = 0;
    for (tid, tname, name) in all_files(cx)? {
        if !file_matches(pattern.as_bytes(), &tname, &name) {
            continue;
        }
        hits += 1;
        let places = placements(cx, tid)?;
        println!(
            "{}/{}\t{}",
            tname.trim_end_matches('/'),
            String::from_utf8_lossy(&name),
            if places.is_empty() {
                "not on tape".to_owned()
            } else {
                places.join(", ")
            }
        );
    }
    for (tid, tname, _) in cx.db.targets()? {
        if glob(pattern.as_bytes(), tname.as_bytes()) {
            hits += 1;
            println!("{tname}/\t{}", placements(cx, tid)?.join(", "));
        }
    }
    if hits == 0 {
        bail!("nothing matches '{pattern}'");
    }
    Ok(())
}

fn placements(cx: &Ctx, target_id: i64) -> Result<Vec<String>> {
    Ok(cx
        .db
        .placements(target_id)?
        .into_iter()
        .map(|(p, status)| {
            format!(
                "tape {} file {} (part {}, {status})",
                p.tape, p.file_number, p.part
            )
        })
        .collect())
}

#[allow(clippy::many_single_char_names)]
fn tape_detail(cx: &Ctx, tape: Option<&str>) -> Result<()> {
    let t = cx.db.tape_or_online(tape)?;
    println!("tape {} (serial '{}', {})", t.name, t.serial, t.status);
    println!(
        "{:>5}  {:<10} {:>4}  {:>12}  target",
        "file", "status", "part", "bytes"
    );
    let (files, assigned) = cx.db.tape_files(t.id)?;
    for (p, name, s) in files {
        println!(
            "{:>5}  {s:<10} {:>4}  {:>12}  {name}{}",
            p.file_number,
            p.part,
            p.stream_end - p.stream_start,
            if p.complete {
                ""
            } else {
                " (continues on the next tape)"
            }
        );
    }
    for b in assigned {
        println!(
            "{:>5}  {:<10} {:>4}  {:>12}  {}",
            "-", "assigned", "-", "-", b
        );
    }
    Ok(())
}

fn backup_info(cx: &Ctx, file_number: u64) -> Result<()> {
    let t = cx.db.tape_or_online(None)?;
    let b = cx
        .db
        .backup_at(t.id, file_number)?
        .with_context(|| format!("no backup at file {file_number} of tape {}", t.name))?;
    let (n, bytes) = cx.db.target_size(b.target_id)?;
    println!("target:  {}", b.target);
    println!("status:  {}", b.status);
    println!("files:   {n} ({})", size(bytes));
    for p in cx.db.parts(b.id)? {
        println!(
            "part {}:  tape {} file {}, stream bytes {}..{}{}",
            p.part,
            p.tape,
            p.file_number,
            p.stream_start,
            p.stream_end,
            if p.complete { "" } else { " (continued)" }
        );
    }
    Ok(())
}

/// md5sum/sha256sum line, with their escaping of `\` and newlines.
fn sum_line(hash: &str, name: &[u8]) -> Vec<u8> {
    let needs = name.iter().any(|&b| b == b'\\' || b == b'\n');
    let mut out = Vec::new();
    if needs {
        out.push(b'\\');
    }
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"  ");
    for &b in name {
        match b {
            b'\\' if needs => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b'\n');
    out
}

fn dump_manifest(cx: &Ctx, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let targets: Vec<(i64, String)> = cx
        .db
        .targets()?
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    let mut index = String::from("id\ttarget\tfiles\tbytes\tplaces\n");
    for (id, name) in &targets {
        let files = cx.db.files(*id)?;
        let stem: String = name
            .trim_matches('/')
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        for (ext, pick) in [("md5", 0), ("sha256", 1)] {
            let mut text = Vec::new();
            for f in &files {
                let h = if pick == 0 {
                    target::hex(&f.md5)
                } else {
                    target::hex(&f.sha256)
                };
                text.extend(sum_line(&h, &f.name));
            }
            let p = dir.join(format!("{id:05}-{stem}.{ext}"));
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        }
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let _ = writeln!(
            index,
            "{id}\t{name}\t{}\t{bytes}\t{}",
            files.len(),
            placements(cx, *id)?.join(", ")
        );
    }
    std::fs::write(dir.join("index.tsv"), index)
        .with_context(|| format!("writing {}/index.tsv", dir.display()))?;
    println!(
        "manifests of {} targets written to {}",
        targets.len(),
        dir.display()
    );
    Ok(())
}

// ------------------------------------------------------------------ scan

fn scan(cx: &Ctx, tape_name: &str) -> Result<()> {
    let mut dev = open_for(cx, tape_name)?;
    let found = match label::read_label(dev.as_mut())? {
        label::LabelState::Labelled(l) => l,
        other => bail!("{}: no Permafrost label ({other:?})", dev.name()),
    };
    if found.name != tape_name {
        bail!(
            "{}: the tape is labelled '{}', not '{tape_name}'",
            dev.name(),
            found.name
        );
    }
    let tape = if let Ok(t) = cx.db.tape(tape_name) {
        t
    } else {
        cx.db.add_tape(tape_name, &found.serial)?;
        cx.db.tape(tape_name)?
    };
    drop(dev);
    let mut n = 1u64;
    let (mut added, mut known) = (0, 0);
    loop {
        let mut dev = open_for(cx, tape_name)?;
        match target::position_to_file(dev.as_mut(), n) {
            Ok(()) => {}
            Err(TapeError::EndOfData { .. }) => break,
            Err(e) => return Err(e.into()),
        }
        let header = match target::read_part_header(dev.as_mut()) {
            Ok(h) => h,
            Err(target::ReadError::Tape(TapeError::EndOfData { .. })) => break,
            Err(e) => {
                eprintln!("tape-op: file {n}: {e}; skipped");
                n += 1;
                continue;
            }
        };
        drop(dev);
        if cx.db.backup_at(tape.id, n)?.is_some() {
            known += 1;
            n += 1;
            continue;
        }
        record_scanned(cx, &tape, n, &header)?;
        added += 1;
        n += 1;
    }
    println!("tape {tape_name}: {added} tape files added to the catalogue, {known} already known");
    Ok(())
}

/// Adds catalogue rows for the part `header` at file `n` of `tape`.
fn record_scanned(
    cx: &Ctx,
    tape: &crate::db::Tape,
    n: u64,
    header: &target::PartHeader,
) -> Result<()> {
    let tape_name = tape.name.as_str();
    let file_number = n;
    let part_no = header.part;
    let mut opener_used = false;
    let opener = |p: u32| -> Result<Option<Box<dyn TapeDevice>>, TapeError> {
        if p != part_no || opener_used {
            return Ok(None);
        }
        opener_used = true;
        let mut d = open_for(cx, tape_name).map_err(|e| TapeError::Invalid {
            device: tape_name.into(),
            reason: format!("{e:#}"),
        })?;
        target::position_to_file(d.as_mut(), file_number)?;
        Ok(Some(d))
    };
    let (members, complete) = if part_no == 0 {
        let mut s = TargetStream::new(&header.target, Box::new(opener))?;
        match target::read_members(&mut s, &header.target, None, 0) {
            Ok(m) => (m, true),
            Err(target::ReadError::Stream { .. }) => (Vec::new(), false),
            Err(e) => return Err(e.into()),
        }
    } else {
        (Vec::new(), true)
    };
    let files: Vec<FileRecord> = members.iter().map(|m| m.record.clone()).collect();
    let tid = if let Some(id) = cx.db.target_id(&header.target)? {
        id
    } else {
        let base = std::env::current_dir().context("the current directory")?;
        let root = crate::db::target_root(&header.target, false, &base);
        cx.db.add_target(&header.target, &root, false, &files)?
    };
    let existing = cx.db.live_backup(tid)?;
    let bid = match (existing, part_no) {
        (Some(b), p) if p > 0 => b,
        _ => cx.db.add_backup(tid, tape.id, "assigned")?,
    };
    // The stream's length: exact for a whole part 0 (from its members'
    // headers); for a continued target only where its part starts.
    let end = if complete && part_no == 0 {
        tape_io::layout::member_offsets(files.iter().map(|f| (&f.name[..], f.size)))?.1
    } else {
        header.stream_offset + files.iter().map(|f| f.size).sum::<u64>()
    };
    let layout =
        tape_io::layout::PartLayout::uniform(n, header.stream_offset, end, header.block_size);
    cx.db
        .add_part(bid, part_no, tape.id, &layout, header.block_size, complete)?;
    if complete && part_no == 0 {
        let members: Vec<Member> = members
            .iter()
            .map(|m| member(&m.record, m.offset, m.mode, m.mtime))
            .collect();
        cx.db.record_backup(bid, &members, "recorded")?;
    } else {
        cx.db
            .set_backup_status(bid, if complete { "recorded" } else { "partial" })?;
    }
    println!(
        "file {n}: {} part {part_no}{}",
        header.target,
        if complete {
            ""
        } else {
            " (continues on another tape)"
        }
    );
    Ok(())
}

// ------------------------------------------------------------------ selftest

fn selftest(cx: &Ctx, fill: bool) -> Result<()> {
    let path = cx
        .device
        .as_ref()
        .filter(|d| !d.contains("{tape}"))
        .map(PathBuf::from)
        .context("name the drive to test with --device DEV")?;
    confirm_action(
        cx,
        &format!(
            "run the destructive self-test on {} (everything on the tape is lost)",
            path.display()
        ),
    )?;
    let opts = cx.file_tape.clone();
    let mut open = || tape_io::open_device(&path, &opts);
    let report = tape_io::conformance::run(
        &mut open,
        &tape_io::conformance::Options {
            fill,
            block_size: cx.write.block_size.min(1 << 20),
            ..tape_io::conformance::Options::default()
        },
    )?;
    for s in &report.passed {
        println!("ok  {s}");
    }
    if let Some(n) = report.fill_blocks {
        println!("the tape took {n} blocks before end of medium");
    }
    println!("self-test passed on {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"*.dat", b"a.dat"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"ac"));
        assert!(glob(b"*", b""));
        assert!(glob(b"/data/*/x*", b"/data/b/xyz"));
        assert!(!glob(b"*.dat", b"a.dat.gz"));
        assert!(file_matches(b"deep*", "/t", b"sub/deeper.bin"));
    }

    #[test]
    fn sum_lines_escape_like_coreutils() {
        assert_eq!(sum_line("ab", b"x y"), b"ab  x y\n");
        assert_eq!(sum_line("ab", b"x\ny"), b"\\ab  x\\ny\n");
    }

    #[test]
    fn conf_reads_the_default_section() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tape.conf");
        std::fs::write(&p, "[default]\ndatabase_file = run1.sqlite\ntape_device=/dev/nst0\nssh_command = ssh u@h -i k\n[other]\nx=1\n").unwrap();
        let c = read_conf(&p).unwrap();
        assert_eq!(c["database_file"], "run1.sqlite");
        assert_eq!(c["tape_device"], "/dev/nst0");
        assert_eq!(c["ssh_command"], "ssh u@h -i k");
        assert!(!c.contains_key("x"));
    }
}
