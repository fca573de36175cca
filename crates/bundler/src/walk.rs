//! Walking one or more roots in parallel and selecting what to bundle.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{BundleError, Result};

/// Which timestamp of a file the age filters look at. There is no default:
/// the original tool documented atime and filtered on mtime, so callers name
/// the field they mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeField {
    /// Last modification of the content.
    Mtime,
    /// Last access.
    Atime,
    /// Last status change.
    Ctime,
}

/// Keep entries whose chosen time lies in a window relative to `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// The timestamp compared.
    pub field: TimeField,
    /// Keep entries at least this old (time <= now - `older_than`).
    pub older_than: Option<Duration>,
    /// Keep entries at most this old (time >= now - `newer_than`).
    pub newer_than: Option<Duration>,
    /// The reference instant ("now"), fixed so that a run is reproducible.
    pub now: SystemTime,
}

impl TimeWindow {
    /// A window on `field` relative to the current time, without bounds yet.
    pub fn new(field: TimeField) -> Self {
        Self {
            field,
            older_than: None,
            newer_than: None,
            now: SystemTime::now(),
        }
    }

    /// Keep entries older than `days` days.
    #[must_use]
    pub fn older_than_days(mut self, days: u64) -> Self {
        self.older_than = Some(Duration::from_secs(days * 86_400));
        self
    }

    /// Keep entries newer than `days` days.
    #[must_use]
    pub fn newer_than_days(mut self, days: u64) -> Self {
        self.newer_than = Some(Duration::from_secs(days * 86_400));
        self
    }

    fn keeps(&self, t: Timestamp) -> bool {
        let now = Timestamp::from(self.now);
        if let Some(d) = self.older_than
            && t > now.minus(d)
        {
            return false;
        }
        if let Some(d) = self.newer_than
            && t < now.minus(d)
        {
            return false;
        }
        true
    }
}

/// How member names are formed from paths on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameStyle {
    /// The absolute path without its leading `/` (what glacier-archive
    /// stored): unique across roots.
    #[default]
    Absolute,
    /// The path relative to its root; the root itself is not a member. Two
    /// roots holding the same relative name give two members of that name.
    RelativeToRoot,
}

/// Seconds and nanoseconds since the Unix epoch (negative before it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

impl Timestamp {
    fn minus(self, d: Duration) -> Self {
        let total = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
            - i128::try_from(d.as_nanos()).unwrap_or(i128::MAX / 2);
        Self {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// As a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::new(self.secs.unsigned_abs(), self.nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs())
                + Duration::from_nanos(u64::from(self.nanos))
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Self {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => Self { secs: 0, nanos: 0 }.minus(e.duration()),
        }
    }
}

/// What kind of member an entry becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file; its content is stored.
    File,
    /// A directory (no content).
    Dir,
    /// A symbolic link, recorded with its target (not followed).
    Symlink {
        /// The link's target, as stored on disk.
        target: Vec<u8>,
    },
    /// A further name of a file already met in this walk: stored once, the
    /// later names as tar hard links to the first name.
    HardLink {
        /// The member name of the first name of the file.
        target: Vec<u8>,
    },
}

/// One selected entry of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it is on disk.
    pub source: PathBuf,
    /// Its member name in bundles (bytes: names need not be UTF-8).
    pub name: Vec<u8>,
    /// File, directory, symlink or hard link.
    pub kind: EntryKind,
    /// Content size in bytes (0 except for files).
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Modification time.
    pub mtime: Timestamp,
    /// Access time.
    pub atime: Timestamp,
    /// Status change time, as the walk saw it (a catalog compares it to
    /// tell a chmod or a replaced file).
    pub ctime: Timestamp,
    /// Device and inode of a file with more than one name, for the walk to
    /// store its content once; `None` otherwise (boxed: most files have
    /// one name, and the walk holds an entry per file).
    pub(crate) linked: Option<Box<(u64, u64)>>,
}

impl Entry {
    /// Build an entry from metadata already read (`lstat`), for callers that
    /// assemble entries themselves (tests, other sources).
    pub fn from_metadata(source: PathBuf, name: Vec<u8>, meta: &Metadata) -> Option<Self> {
        let meta = Meta::from_std(meta);
        let link = if meta.kind == Kind::Symlink {
            Some(fs::read_link(&source).ok()?.into_os_string().into_vec())
        } else {
            None
        };
        Self::build(source, name, &meta, link)
    }

    /// An entry from [`Meta`]; `link` is the target of a symlink (`None`
    /// when it could not be read). Sockets, FIFOs and devices give `None`.
    fn build(source: PathBuf, name: Vec<u8>, meta: &Meta, link: Option<Vec<u8>>) -> Option<Self> {
        let kind = match meta.kind {
            Kind::File => EntryKind::File,
            Kind::Dir => EntryKind::Dir,
            Kind::Symlink => EntryKind::Symlink { target: link? },
            Kind::Socket | Kind::Fifo | Kind::Block | Kind::Char | Kind::Other => return None,
        };
        let linked =
            (kind == EntryKind::File && meta.nlink > 1).then(|| Box::new((meta.dev, meta.ino)));
        Some(Self {
            size: if kind == EntryKind::File {
                meta.size
            } else {
                0
            },
            kind,
            source,
            name,
            mode: meta.mode & 0o7777,
            uid: meta.uid,
            gid: meta.gid,
            mtime: meta.mtime,
            atime: meta.atime,
            ctime: meta.ctime,
            linked,
        })
    }

    /// The member name, lossily as text (for messages).
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// The file type, as the walk tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Socket,
    Fifo,
    Block,
    Char,
    Other,
}

/// What the walk needs of a `stat`, from the standard library's
/// [`Metadata`] (roots) or from `fstatat` relative to a directory (the rest).
#[derive(Debug, Clone, Copy)]
struct Meta {
    kind: Kind,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timestamp,
    atime: Timestamp,
    ctime: Timestamp,
    dev: u64,
    ino: u64,
    nlink: u64,
}

impl Meta {
    fn from_std(m: &Metadata) -> Self {
        let ft = m.file_type();
        let kind = if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_block_device() {
            Kind::Block
        } else if ft.is_char_device() {
            Kind::Char
        } else {
            Kind::Other
        };
        Self {
            kind,
            size: m.len(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            mtime: Timestamp {
                secs: m.mtime(),
                nanos: nanos(m.mtime_nsec()),
            },
            atime: Timestamp {
                secs: m.atime(),
                nanos: nanos(m.atime_nsec()),
            },
            ctime: Timestamp {
                secs: m.ctime(),
                nanos: nanos(m.ctime_nsec()),
            },
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
        }
    }

    // The field types of `struct stat` differ between platforms: the casts
    // are widening or same-size on each of them.
    #[allow(
        clippy::unnecessary_cast,
        clippy::useless_conversion,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_possible_truncation
    )]
    fn from_stat(s: &rustix::fs::Stat) -> Self {
        use rustix::fs::FileType;
        let kind = match FileType::from_raw_mode(s.st_mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Socket => Kind::Socket,
            FileType::Fifo => Kind::Fifo,
            FileType::BlockDevice => Kind::Block,
            FileType::CharacterDevice => Kind::Char,
            FileType::Unknown => Kind::Other,
        };
        Self {
            kind,
            size: s.st_size as u64,
            mode: s.st_mode as u32,
            uid: s.st_uid as u32,
            gid: s.st_gid as u32,
            mtime: Timestamp {
                secs: s.st_mtime as i64,
                nanos: nanos(s.st_mtime_nsec as i64),
            },
            atime: Timestamp {
                secs: s.st_atime as i64,
                nanos: nanos(s.st_atime_nsec as i64),
            },
            ctime: Timestamp {
                secs: s.st_ctime as i64,
                nanos: nanos(s.st_ctime_nsec as i64),
            },
            dev: s.st_dev as u64,
            ino: s.st_ino as u64,
            nlink: s.st_nlink as u64,
        }
    }
}

/// An entry the walk could not read; the walk goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkIssue {
    /// The path on disk.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// Counts of what a walk met, selected or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkReport {
    /// Regular files selected (first names only).
    pub files: u64,
    /// Bytes of the selected regular files.
    pub bytes: u64,
    /// Directories selected.
    pub dirs: u64,
    /// Symbolic links selected.
    pub symlinks: u64,
    /// Further names of already selected files, stored as hard links.
    pub hard_links: u64,
    /// Entries left out by a glob or the time window.
    pub excluded: u64,
    /// Sockets skipped.
    pub sockets: u64,
    /// FIFOs skipped.
    pub fifos: u64,
    /// Block devices skipped.
    pub block_devices: u64,
    /// Character devices skipped.
    pub char_devices: u64,
    /// Entries that could not be read (listed with the reason).
    pub unreadable: Vec<WalkIssue>,
}

impl WalkReport {
    /// Sockets, FIFOs and devices together.
    pub fn special_skipped(&self) -> u64 {
        self.sockets + self.fifos + self.block_devices + self.char_devices
    }

    fn merge(&mut self, o: WalkReport) {
        self.excluded += o.excluded;
        self.sockets += o.sockets;
        self.fifos += o.fifos;
        self.block_devices += o.block_devices;
        self.char_devices += o.char_devices;
        self.unreadable.extend(o.unreadable);
    }
}

/// What to walk and what to keep.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// The roots (directories or single files).
    pub roots: Vec<PathBuf>,
    /// If not empty, keep only non-directories whose root-relative path
    /// matches one of these globs (`*` also crosses `/`).
    pub include: Vec<String>,
    /// Leave out entries whose root-relative path matches one of these
    /// globs; an excluded directory is not entered.
    pub exclude: Vec<String>,
    /// Keep only files and symlinks whose time lies in this window.
    pub time: Option<TimeWindow>,
    /// Follow symbolic links instead of recording them.
    pub follow_symlinks: bool,
    /// How member names are formed.
    pub name_style: NameStyle,
    /// Threads that read directories and stat entries (0: all cores).
    pub threads: usize,
}

/// The result of a walk: selected entries in a deterministic order (depth
/// first: each directory followed by its contents, siblings in bytewise
/// name order, roots by name) and the report.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// The selected entries.
    pub entries: Vec<Entry>,
    /// Counts and unreadable entries.
    pub report: WalkReport,
}

/// A configured walker. `Walker::new(options)?.walk()?`.
#[derive(Debug)]
pub struct Walker {
    options: WalkOptions,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

fn build_globs(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| BundleError::Glob {
            pattern: p.clone(),
            message: e.to_string(),
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| BundleError::Glob {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

struct DirJob {
    root: usize,
    path: PathBuf,
    rel: Vec<u8>,
    name: Vec<u8>,
}

/// What a walk produces before assembly: the entries of one directory,
/// sorted by name, keyed by (root index, directory member name).
type DirChildren = ((usize, Vec<u8>), Vec<Entry>);

/// A top-level item: an entry given as a root, or a root directory whose
/// children follow.
enum Top {
    Entry(Entry),
    Dir(usize, Vec<u8>),
}

impl Top {
    fn name(&self) -> &[u8] {
        match self {
            Self::Entry(e) => &e.name,
            Self::Dir(_, n) => n,
        }
    }
}

/// Depth-first assembly: each directory is followed by its children
/// (siblings in bytewise name order), recursively.
fn assemble(mut tops: Vec<Top>, children: Vec<DirChildren>, total: usize) -> Vec<Entry> {
    let mut map: HashMap<(usize, Vec<u8>), Vec<Entry>> = children.into_iter().collect();
    tops.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = Vec::with_capacity(total);
    let mut stack: Vec<std::vec::IntoIter<Entry>> = Vec::new();
    for t in tops {
        let root = match t {
            Top::Entry(e) => {
                out.push(e);
                continue;
            }
            Top::Dir(root, name) => {
                if let Some(ch) = map.remove(&(root, name)) {
                    stack.push(ch.into_iter());
                }
                root
            }
        };
        while let Some(it) = stack.last_mut() {
            let Some(e) = it.next() else {
                stack.pop();
                continue;
            };
            let sub = if e.kind == EntryKind::Dir {
                map.remove(&(root, e.name.clone()))
            } else {
                None
            };
            out.push(e);
            if let Some(ch) = sub {
                stack.push(ch.into_iter());
            }
        }
    }
    out
}

struct Shared<'a> {
    walker: &'a Walker,
    pending: AtomicUsize,
    visited: Mutex<HashSet<(u64, u64)>>,
}

impl Walker {
    /// Check the options and compile the globs.
    pub fn new(options: WalkOptions) -> Result<Self> {
        if options.roots.is_empty() {
            return Err(BundleError::InvalidOption("no root to walk".into()));
        }
        Ok(Self {
            include: build_globs(&options.include)?,
            exclude: build_globs(&options.exclude)?,
            options,
        })
    }

    /// Walk every root. Unreadable entries below a root are reported, not
    /// fatal; a root that cannot be read at all is an error.
    #[allow(clippy::too_many_lines)] // one pass: roots, workers, merge, hard links
    pub fn walk(&self) -> Result<Walk> {
        let threads = if self.options.threads == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            self.options.threads
        };
        let mut tops = Vec::new();
        let mut report = WalkReport::default();
        let (tx, rx) = crossbeam_channel::unbounded::<Option<DirJob>>();
        let shared = Shared {
            walker: self,
            pending: AtomicUsize::new(0),
            visited: Mutex::new(HashSet::new()),
        };
        for (root_idx, root) in self.options.roots.iter().enumerate() {
            let meta = if self.options.follow_symlinks {
                fs::metadata(root)
            } else {
                fs::symlink_metadata(root)
            }
            .map_err(|source| BundleError::Root {
                path: root.clone(),
                source,
            })?;
            let abs = std::path::absolute(root).map_err(|source| BundleError::Root {
                path: root.clone(),
                source,
            })?;
            let abs_name = strip_root_slash(abs.as_os_str().as_bytes()).to_vec();
            let meta = Meta::from_std(&meta);
            if meta.kind == Kind::Dir {
                if self.options.follow_symlinks {
                    shared.visited_insert(&meta);
                }
                let name = match self.options.name_style {
                    NameStyle::Absolute => abs_name,
                    NameStyle::RelativeToRoot => Vec::new(),
                };
                shared.pending.fetch_add(1, Ordering::SeqCst);
                tops.push(Top::Dir(root_idx, name.clone()));
                tx.send(Some(DirJob {
                    root: root_idx,
                    path: root.clone(),
                    rel: Vec::new(),
                    name,
                }))
                .map_err(|_| BundleError::ThreadPanicked)?;
            } else {
                let name = match self.options.name_style {
                    NameStyle::Absolute => abs_name,
                    NameStyle::RelativeToRoot => root
                        .file_name()
                        .map_or_else(Vec::new, |n| n.as_bytes().to_vec()),
                };
                let rel = name.clone();
                let link = if meta.kind == Kind::Symlink {
                    fs::read_link(root)
                        .ok()
                        .map(|t| t.into_os_string().into_vec())
                } else {
                    None
                };
                let mut local = Local::default();
                shared.consider(
                    root_idx,
                    root.clone(),
                    &rel,
                    name,
                    (&meta, link),
                    &mut local,
                    &tx,
                );
                tops.extend(local.entries.into_iter().map(Top::Entry));
                report.merge(local.report);
            }
        }
        if shared.pending.load(Ordering::SeqCst) == 0 {
            for _ in 0..threads {
                let _ = tx.send(None);
            }
        }
        let results: Vec<Local> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let rx = rx.clone();
                    let tx = tx.clone();
                    let shared = &shared;
                    s.spawn(move || shared.worker(&rx, &tx, threads))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| BundleError::ThreadPanicked))
                .collect::<Result<Vec<_>>>()
        })?;
        let mut dirs = Vec::new();
        let mut total = tops.len();
        for l in results {
            total += l.dirs.iter().map(|d| d.1.len()).sum::<usize>();
            dirs.extend(l.dirs);
            report.merge(l.report);
        }
        let mut entries = assemble(tops, dirs, total);
        // Hard links: the first name (in member order) keeps the content.
        let mut first: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
        for e in &mut entries {
            if e.kind == EntryKind::File
                && let Some(&key) = e.linked.as_deref()
            {
                match first.get(&key) {
                    Some(t) => {
                        e.kind = EntryKind::HardLink { target: t.clone() };
                        e.size = 0;
                    }
                    None => {
                        first.insert(key, e.name.clone());
                    }
                }
            }
            match e.kind {
                EntryKind::File => {
                    report.files += 1;
                    report.bytes += e.size;
                }
                EntryKind::Dir => report.dirs += 1,
                EntryKind::Symlink { .. } => report.symlinks += 1,
                EntryKind::HardLink { .. } => report.hard_links += 1,
            }
        }
        report
            .unreadable
            .sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(Walk { entries, report })
    }
}

fn strip_root_slash(b: &[u8]) -> &[u8] {
    let mut b = b;
    while let [b'/', rest @ ..] = b {
        b = rest;
    }
    b
}

#[derive(Default)]
struct Local {
    entries: Vec<Entry>,
    dirs: Vec<DirChildren>,
    report: WalkReport,
}

/// `dir/name` in one allocation (`Path::join` copies, then grows).
fn child_path(dir: &Path, name: &[u8]) -> PathBuf {
    let d = dir.as_os_str().as_bytes();
    let mut v = Vec::with_capacity(d.len() + 1 + name.len());
    v.extend_from_slice(d);
    if !d.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    PathBuf::from(std::ffi::OsString::from_vec(v))
}

fn join(base: &[u8], name: &[u8]) -> Vec<u8> {
    if base.is_empty() {
        return name.to_vec();
    }
    let mut v = Vec::with_capacity(base.len() + 1 + name.len());
    v.extend_from_slice(base);
    v.push(b'/');
    v.extend_from_slice(name);
    v
}

impl Shared<'_> {
    fn visited_insert(&self, meta: &Meta) -> bool {
        self.visited
            .lock()
            .is_ok_and(|mut v| v.insert((meta.dev, meta.ino)))
    }

    fn worker(
        &self,
        rx: &crossbeam_channel::Receiver<Option<DirJob>>,
        tx: &crossbeam_channel::Sender<Option<DirJob>>,
        threads: usize,
    ) -> Local {
        let mut local = Local::default();
        while let Ok(Some(job)) = rx.recv() {
            self.read_dir(&job, &mut local, tx);
            if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                for _ in 0..threads {
                    let _ = tx.send(None);
                }
            }
        }
        local
    }

    fn read_dir(
        &self,
        job: &DirJob,
        local: &mut Local,
        tx: &crossbeam_channel::Sender<Option<DirJob>>,
    ) {
        self.read_dir_entries(job, local, tx);
        // Siblings share the directory's prefix: compare what follows it.
        let skip = if job.name.is_empty() {
            0
        } else {
            job.name.len() + 1
        };
        local
            .entries
            .sort_unstable_by(|a, b| a.name[skip..].cmp(&b.name[skip..]));
        // Moved into a vector of the exact size; the scratch vector keeps
        // its capacity for the next directory.
        let mut children = Vec::with_capacity(local.entries.len());
        children.append(&mut local.entries);
        local.dirs.push(((job.root, job.name.clone()), children));
    }

    /// Read one directory: `getdents` on a descriptor of it, and `fstatat`
    /// of each name relative to that descriptor (no path lookups from the
    /// root, no allocation beyond the entry itself).
    fn read_dir_entries(
        &self,
        job: &DirJob,
        local: &mut Local,
        tx: &crossbeam_channel::Sender<Option<DirJob>>,
    ) {
        use rustix::fs::{AtFlags, Dir, Mode, OFlags};
        let unreadable = |local: &mut Local, path: PathBuf, what: &str, e: rustix::io::Errno| {
            local.report.unreadable.push(WalkIssue {
                path,
                message: format!("{what}: {}", io::Error::from(e)),
            });
        };
        let opened = rustix::fs::open(
            &job.path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(|fd| Dir::read_from(&fd).map(|dir| (fd, dir)));
        let (fd, dir) = match opened {
            Ok(v) => v,
            Err(e) => return unreadable(local, job.path.clone(), "cannot read directory", e),
        };
        let stat_flags = if self.walker.options.follow_symlinks {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        for de in dir {
            let de = match de {
                Ok(de) => de,
                Err(e) => {
                    unreadable(local, job.path.clone(), "cannot read directory entry", e);
                    // A failing `getdents` would fail again: stop here.
                    break;
                }
            };
            let fname = de.file_name().to_bytes();
            if fname == b"." || fname == b".." {
                continue;
            }
            // Root-relative names are needed only for globs.
            let rel = if self.walker.include.is_some() || self.walker.exclude.is_some() {
                join(&job.rel, fname)
            } else {
                Vec::new()
            };
            if let Some(ex) = &self.walker.exclude
                && ex.is_match(Path::new(OsStr::from_bytes(&rel)))
            {
                local.report.excluded += 1;
                continue;
            }
            let path = child_path(&job.path, fname);
            let meta = match rustix::fs::statat(&fd, de.file_name(), stat_flags) {
                Ok(st) => Meta::from_stat(&st),
                Err(e) => {
                    unreadable(local, path, "cannot stat", e);
                    continue;
                }
            };
            let link = if meta.kind == Kind::Symlink {
                rustix::fs::readlinkat(&fd, de.file_name(), Vec::new())
                    .ok()
                    .map(std::ffi::CString::into_bytes)
            } else {
                None
            };
            let name = join(&job.name, fname);
            self.consider(job.root, path, &rel, name, (&meta, link), local, tx);
        }
    }

    #[allow(clippy::too_many_arguments)] // the walk's state, threaded through
    fn consider(
        &self,
        root: usize,
        path: PathBuf,
        rel: &[u8],
        name: Vec<u8>,
        (meta, link): (&Meta, Option<Vec<u8>>),
        local: &mut Local,
        tx: &crossbeam_channel::Sender<Option<DirJob>>,
    ) {
        match meta.kind {
            Kind::Socket => {
                local.report.sockets += 1;
                return;
            }
            Kind::Fifo => {
                local.report.fifos += 1;
                return;
            }
            Kind::Block => {
                local.report.block_devices += 1;
                return;
            }
            Kind::Char => {
                local.report.char_devices += 1;
                return;
            }
            Kind::File | Kind::Dir | Kind::Symlink | Kind::Other => {}
        }
        let w = self.walker;
        if meta.kind == Kind::Dir {
            if w.options.follow_symlinks && !self.visited_insert(meta) {
                // A loop or a second way into a directory already walked.
                return;
            }
            if let Some(e) = Entry::build(path.clone(), name.clone(), meta, None) {
                local.entries.push(e);
            }
            self.pending.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(Some(DirJob {
                root,
                path,
                rel: rel.to_vec(),
                name,
            }));
            return;
        }
        if let Some(inc) = &w.include
            && !inc.is_match(Path::new(OsStr::from_bytes(rel)))
        {
            local.report.excluded += 1;
            return;
        }
        if let Some(win) = &w.options.time {
            let t = match win.field {
                TimeField::Mtime => meta.mtime,
                TimeField::Atime => meta.atime,
                TimeField::Ctime => meta.ctime,
            };
            if !win.keeps(t) {
                local.report.excluded += 1;
                return;
            }
        }
        if meta.kind == Kind::Symlink && link.is_none() {
            local.report.unreadable.push(WalkIssue {
                path,
                message: "cannot read symbolic link".into(),
            });
            return;
        }
        if let Some(e) = Entry::build(path, name, meta, link) {
            local.entries.push(e);
        }
    }
}

fn nanos(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
