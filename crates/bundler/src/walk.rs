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
use crate::list::{Base, Chunk, EntryList, EntryType, Extra, Rec};

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
    /// The directory's path relative to its root (empty for the root).
    rel: Vec<u8>,
}

/// A top-level item: an entry given as a root (its record in the list's
/// chunk of roots), or a root directory whose children follow.
enum Top {
    Entry(u32),
    Dir(usize),
}

/// Depth-first assembly: each directory is followed by its children
/// (siblings in bytewise name order), recursively. The chunks stay where
/// the walk made them; only their order is recorded (8 bytes an entry).
fn assemble(
    roots: Vec<(PathBuf, Vec<u8>)>,
    mut tops: Vec<Top>,
    mut chunks: Vec<Chunk>,
    top: Chunk,
    total: usize,
) -> EntryList {
    let mut map: HashMap<(usize, Vec<u8>), u32> = HashMap::with_capacity(chunks.len());
    for (i, c) in chunks.iter_mut().enumerate() {
        if let Base::Dir { root, rel } = &c.base {
            let i = u32::try_from(i).expect("fewer than 4 G directories");
            map.insert((*root as usize, rel.clone()), i);
        }
    }
    let top_idx = u32::try_from(chunks.len()).expect("fewer than 4 G directories");
    {
        let name = |t: &Top| -> Vec<u8> {
            match t {
                Top::Entry(r) => top.name(&top.recs[*r as usize]).to_vec(),
                Top::Dir(root) => roots[*root].1.clone(),
            }
        };
        tops.sort_by_cached_key(name);
    }
    chunks.push(top);
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(total);
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut rel = Vec::new();
    for t in tops {
        let root = match t {
            Top::Entry(r) => {
                order.push((top_idx, r));
                continue;
            }
            Top::Dir(root) => {
                if let Some(c) = map.remove(&(root, Vec::new())) {
                    stack.push((c, 0));
                }
                root
            }
        };
        while let Some((c, pos)) = stack.last_mut() {
            let chunk = &chunks[*c as usize];
            let Some(rec) = chunk.recs.get(*pos as usize) else {
                stack.pop();
                continue;
            };
            let at = (*c, *pos);
            *pos += 1;
            order.push(at);
            if rec.kind == EntryType::Dir {
                rel.clear();
                if let Base::Dir { rel: base, .. } = &chunk.base {
                    crate::list::join_into(&mut rel, base, chunk.name(rec));
                }
                if let Some(sub) = map.remove(&(root, std::mem::take(&mut rel))) {
                    stack.push((sub, 0));
                }
            }
        }
    }
    EntryList {
        roots,
        chunks,
        order,
    }
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
    pub fn walk(&self) -> Result<Walk> {
        let (list, report) = self.walk_list()?;
        Ok(Walk {
            entries: list.to_entries(),
            report,
        })
    }

    /// [`Walker::walk`], its entries kept compactly (about 90 bytes a
    /// file instead of about 250), for walks of many files: the same
    /// entries in the same order, built as [`Entry`] values on demand.
    ///
    /// # Panics
    ///
    /// With 2^32 roots, directories or entries in one directory or more
    /// (the list indexes them with 32 bits).
    #[allow(clippy::too_many_lines)] // one pass: roots, workers, merge, hard links
    pub fn walk_list(&self) -> Result<(EntryList, WalkReport)> {
        let threads = if self.options.threads == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            self.options.threads
        };
        let mut tops = Vec::new();
        let mut roots = Vec::new();
        let mut top = Chunk::new(Base::Explicit {
            sources: Vec::new(),
        });
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
                roots.push((root.clone(), name));
                tops.push(Top::Dir(root_idx));
                tx.send(Some(DirJob {
                    root: root_idx,
                    path: root.clone(),
                    rel: Vec::new(),
                }))
                .map_err(|_| BundleError::ThreadPanicked)?;
            } else {
                roots.push((root.clone(), Vec::new()));
                let name = match self.options.name_style {
                    NameStyle::Absolute => abs_name,
                    NameStyle::RelativeToRoot => root
                        .file_name()
                        .map_or_else(Vec::new, |n| n.as_bytes().to_vec()),
                };
                let link = if meta.kind == Kind::Symlink {
                    fs::read_link(root)
                        .ok()
                        .map(|t| t.into_os_string().into_vec())
                } else {
                    None
                };
                let mut local = Local::default();
                if let Some((rec, extra)) = shared.consider(
                    root_idx,
                    || root.clone(),
                    name.clone(),
                    (&meta, link),
                    &mut local,
                    &tx,
                ) {
                    tops.push(Top::Entry(
                        u32::try_from(top.len()).expect("fewer than 4 G roots"),
                    ));
                    top.push(rec, &name, extra);
                    if let Base::Explicit { sources } = &mut top.base {
                        sources.push(root.clone());
                    }
                }
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
        let mut chunks = Vec::new();
        let mut total = top.len();
        for l in results {
            total += l.chunks.iter().map(Chunk::len).sum::<usize>();
            chunks.extend(l.chunks);
            report.merge(l.report);
        }
        let mut list = assemble(roots, tops, chunks, top, total);
        // Hard links: the first name (in member order) keeps the content.
        let mut first: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
        for i in 0..list.len() {
            let (rec, extra) = list.rec_mut(i);
            let linked = match (rec.kind, extra) {
                (EntryType::File, Some(x)) => x.linked,
                _ => None,
            };
            if let Some(key) = linked {
                match first.get(&key) {
                    Some(t) => {
                        let (rec, extra) = list.rec_mut(i);
                        rec.kind = EntryType::HardLink;
                        rec.size = 0;
                        if let Some(x) = extra {
                            x.target.clone_from(t);
                        }
                    }
                    None => {
                        first.insert(key, list.name(i));
                    }
                }
            }
            let (rec, _) = list.rec_mut(i);
            match rec.kind {
                EntryType::File => {
                    report.files += 1;
                    report.bytes += rec.size;
                }
                EntryType::Dir => report.dirs += 1,
                EntryType::Symlink => report.symlinks += 1,
                EntryType::HardLink => report.hard_links += 1,
            }
        }
        report
            .unreadable
            .sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok((list, report))
    }
}

fn strip_root_slash(b: &[u8]) -> &[u8] {
    let mut b = b;
    while let [b'/', rest @ ..] = b {
        b = rest;
    }
    b
}

struct Local {
    /// The directory being read (reused from one to the next).
    scratch: Chunk,
    /// The directories read, their children sorted by name.
    chunks: Vec<Chunk>,
    report: WalkReport,
}

impl Default for Local {
    fn default() -> Self {
        Self {
            scratch: Chunk::new(Base::Explicit {
                sources: Vec::new(),
            }),
            chunks: Vec::new(),
            report: WalkReport::default(),
        }
    }
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
        local.scratch.sort_by_name();
        // Copied into vectors of the exact size; the scratch chunk keeps
        // its capacity for the next directory.
        let chunk = local.scratch.take_exact(Base::Dir {
            root: u32::try_from(job.root).expect("fewer than 4 G roots"),
            rel: job.rel.clone(),
        });
        local.chunks.push(chunk);
    }

    /// Read one directory: `getdents` on a descriptor of it, and `fstatat`
    /// of each name relative to that descriptor (no path lookups from the
    /// root, no allocation for a file beyond its record and name).
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
        let globs = self.walker.include.is_some() || self.walker.exclude.is_some();
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
            // Root-relative names are needed for globs, and for the
            // directories to read next.
            let mut rel = if globs {
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
            let path = || child_path(&job.path, fname);
            let meta = match rustix::fs::statat(&fd, de.file_name(), stat_flags) {
                Ok(st) => Meta::from_stat(&st),
                Err(e) => {
                    unreadable(local, path(), "cannot stat", e);
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
            if meta.kind == Kind::Dir && !globs {
                rel = join(&job.rel, fname);
            }
            if let Some((rec, extra)) = self.consider(job.root, path, rel, (&meta, link), local, tx)
            {
                local.scratch.push(rec, fname, extra);
            }
        }
    }

    /// Whether an entry is kept, and its record if so; a directory is also
    /// queued to be read. `path` gives its path on disk (for a directory to
    /// read, or a message), `rel` its root-relative name (for globs and
    /// directories).
    fn consider(
        &self,
        root: usize,
        path: impl FnOnce() -> PathBuf,
        rel: Vec<u8>,
        (meta, link): (&Meta, Option<Vec<u8>>),
        local: &mut Local,
        tx: &crossbeam_channel::Sender<Option<DirJob>>,
    ) -> Option<(Rec, Option<Extra>)> {
        match meta.kind {
            Kind::Socket => {
                local.report.sockets += 1;
                return None;
            }
            Kind::Fifo => {
                local.report.fifos += 1;
                return None;
            }
            Kind::Block => {
                local.report.block_devices += 1;
                return None;
            }
            Kind::Char => {
                local.report.char_devices += 1;
                return None;
            }
            Kind::File | Kind::Dir | Kind::Symlink | Kind::Other => {}
        }
        let w = self.walker;
        if meta.kind == Kind::Dir {
            if w.options.follow_symlinks && !self.visited_insert(meta) {
                // A loop or a second way into a directory already walked.
                return None;
            }
            let kept = record(meta, None);
            self.pending.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(Some(DirJob {
                root,
                path: path(),
                rel,
            }));
            return kept;
        }
        if let Some(inc) = &w.include
            && !inc.is_match(Path::new(OsStr::from_bytes(&rel)))
        {
            local.report.excluded += 1;
            return None;
        }
        if let Some(win) = &w.options.time {
            let t = match win.field {
                TimeField::Mtime => meta.mtime,
                TimeField::Atime => meta.atime,
                TimeField::Ctime => meta.ctime,
            };
            if !win.keeps(t) {
                local.report.excluded += 1;
                return None;
            }
        }
        if meta.kind == Kind::Symlink && link.is_none() {
            local.report.unreadable.push(WalkIssue {
                path: path(),
                message: "cannot read symbolic link".into(),
            });
            return None;
        }
        record(meta, link)
    }
}

/// The record of an entry (as [`Entry::build`] makes the entry); `None`
/// for sockets, FIFOs, devices and a symlink whose target is unknown.
fn record(meta: &Meta, link: Option<Vec<u8>>) -> Option<(Rec, Option<Extra>)> {
    let kind = match meta.kind {
        Kind::File => EntryType::File,
        Kind::Dir => EntryType::Dir,
        Kind::Symlink if link.is_some() => EntryType::Symlink,
        Kind::Symlink | Kind::Socket | Kind::Fifo | Kind::Block | Kind::Char | Kind::Other => {
            return None;
        }
    };
    let linked = (kind == EntryType::File && meta.nlink > 1).then_some((meta.dev, meta.ino));
    let size = if kind == EntryType::File {
        meta.size
    } else {
        0
    };
    let rec = Rec::new(
        kind,
        size,
        meta.mode & 0o7777,
        meta.uid,
        meta.gid,
        meta.mtime,
        meta.atime,
        meta.ctime,
    );
    let extra = (link.is_some() || linked.is_some()).then(|| Extra {
        target: link.unwrap_or_default(),
        linked,
    });
    Some((rec, extra))
}

fn nanos(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
