//! Listing and safe extraction.
//!
//! Extraction stages every member's content in a fresh directory inside the
//! target, checks it against the index (path, kind, size, SHA-256), and only
//! then puts members in place: files and links are renamed in (a rename
//! replaces a symlink, it never writes through it), every parent directory
//! on the way is checked to be a real directory inside the target, and
//! names that are absolute or contain `..` are refused. Nothing is written
//! outside the target directory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::crypt::Decryption;
use crate::error::{BundleError, Result};
use crate::index::{
    BundleIndex, ByteRange, INDEX_MEMBER, MemberIndex, MemberKind, MemberPath, hex,
};
use crate::read::{Found, TarReader, decoder, layers, plain_range, plain_stream};
use crate::source::RangeSource;
use crate::tar::TypeFlag;

/// Which members to extract.
#[derive(Debug, Clone, Default)]
pub enum Selection {
    /// Every member.
    #[default]
    All,
    /// Exactly these member names (a hard link brings its target along when
    /// the target is in the same bundle).
    Paths(BTreeSet<Vec<u8>>),
}

impl Selection {
    /// Select these names.
    pub fn paths<I, P>(paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        Self::Paths(paths.into_iter().map(|p| p.as_ref().to_vec()).collect())
    }

    fn wants(&self, p: &[u8]) -> bool {
        match self {
            Self::All => true,
            Self::Paths(s) => s.contains(p),
        }
    }
}

/// How to extract.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Needed for encrypted bundles.
    pub decryption: Option<Decryption>,
    /// Restore owners (`None`: only when running as root).
    pub restore_owners: Option<bool>,
}

/// What an extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Regular files written.
    pub files: u64,
    /// Directories created or updated.
    pub dirs: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Hard links created.
    pub hard_links: u64,
    /// Content bytes written.
    pub bytes: u64,
}

/// Check a member name and turn it into path components: refuse empty,
/// absolute and `..`-containing names and NUL bytes; drop `.` parts.
pub fn safe_components(p: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = |reason| BundleError::UnsafePath {
        path: String::from_utf8_lossy(p).into_owned(),
        reason,
    };
    if p.first() == Some(&b'/') {
        return Err(bad("absolute path"));
    }
    if p.contains(&0) {
        return Err(bad("NUL byte in name"));
    }
    let mut out = Vec::new();
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(bad("`..` component")),
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return Err(bad("empty path"));
    }
    Ok(out)
}

fn is_root() -> bool {
    // SAFETY-free: `geteuid` via the filesystem would race; /proc is enough.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn ex<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BundleError + 'a {
    move |source| BundleError::Extract {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Makes staging directory names unique within the process.
static NEXT_STAGING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One member waiting to be put in place.
#[derive(Debug)]
struct Staged {
    member: MemberIndex,
    /// Staged content (files).
    tmp: Option<PathBuf>,
}

/// The target directory, with a staging area inside it.
struct Target {
    root: PathBuf,
    staging: PathBuf,
    n: u64,
    dirs_ok: HashSet<PathBuf>,
    owners: bool,
    root_user: bool,
}

impl Target {
    fn new(root: &Path, owners: Option<bool>) -> Result<Self> {
        fs::create_dir_all(root).map_err(ex("create", root))?;
        let root = fs::canonicalize(root).map_err(ex("resolve", root))?;
        let n = NEXT_STAGING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staging = root.join(format!(".permafrost-staging-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir(&staging).map_err(ex("create", &staging))?;
        let root_user = is_root();
        Ok(Self {
            root,
            staging,
            n: 0,
            dirs_ok: HashSet::new(),
            owners: owners.unwrap_or(root_user),
            root_user,
        })
    }

    fn stage_file(&mut self) -> Result<(PathBuf, File)> {
        self.n += 1;
        let p = self.staging.join(self.n.to_string());
        let f = File::options()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(ex("create", &p))?;
        Ok((p, f))
    }

    /// Make sure every parent of `comps` is a real directory under the
    /// root, creating missing ones; return the full path of the member.
    fn prepare(&mut self, name: &[u8]) -> Result<PathBuf> {
        let comps = safe_components(name)?;
        let mut p = self.root.clone();
        for c in &comps[..comps.len() - 1] {
            p.push(OsStr::from_bytes(c));
            if self.dirs_ok.contains(&p) {
                continue;
            }
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(BundleError::UnsafePath {
                        path: String::from_utf8_lossy(name).into_owned(),
                        reason: "a parent directory is a symbolic link (would write through it)",
                    });
                }
                Ok(_) => {
                    return Err(BundleError::UnsafePath {
                        path: String::from_utf8_lossy(name).into_owned(),
                        reason: "a parent path exists and is not a directory",
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&p).map_err(ex("create directory", &p))?;
                }
                Err(e) => return Err(ex("inspect", &p)(e)),
            }
            self.dirs_ok.insert(p.clone());
        }
        p.push(OsStr::from_bytes(comps[comps.len() - 1]));
        if p.starts_with(&self.staging) {
            return Err(BundleError::UnsafePath {
                path: String::from_utf8_lossy(name).into_owned(),
                reason: "collides with the staging directory",
            });
        }
        Ok(p)
    }

    fn refuse_dir(path: &Path, name: &MemberPath) -> Result<()> {
        if let Ok(m) = fs::symlink_metadata(path)
            && m.is_dir()
        {
            return Err(BundleError::UnsafePath {
                path: name.lossy(),
                reason: "a directory exists where a non-directory member goes",
            });
        }
        Ok(())
    }

    fn set_meta(&self, path: &Path, m: &MemberIndex, link: bool) -> Result<()> {
        if self.owners {
            std::os::unix::fs::lchown(path, Some(m.uid), Some(m.gid))
                .map_err(ex("set owner of", path))?;
        }
        let t = filetime::FileTime::from_unix_time(m.mtime.secs, m.mtime.nanos);
        if link {
            filetime::set_symlink_file_times(path, t, t).map_err(ex("set times on", path))?;
        } else {
            let mask = if self.root_user { 0o7777 } else { 0o777 };
            fs::set_permissions(path, fs::Permissions::from_mode(m.mode & mask))
                .map_err(ex("set permissions on", path))?;
            filetime::set_file_times(path, t, t).map_err(ex("set times on", path))?;
        }
        Ok(())
    }

    /// Put staged members in place, in tar order; directories' times and
    /// permissions last, deepest first.
    fn place(&mut self, staged: Vec<Staged>, report: &mut ExtractReport) -> Result<()> {
        let mut dirs = Vec::new();
        for s in staged {
            let m = &s.member;
            let path = self.prepare(&m.path.0)?;
            match m.kind {
                MemberKind::Dir => {
                    match fs::symlink_metadata(&path) {
                        Ok(md) if md.is_dir() => {}
                        Ok(_) => {
                            return Err(BundleError::UnsafePath {
                                path: m.path.lossy(),
                                reason: "a non-directory exists where a directory member goes",
                            });
                        }
                        Err(_) => fs::create_dir(&path).map_err(ex("create directory", &path))?,
                    }
                    self.dirs_ok.insert(path.clone());
                    report.dirs += 1;
                    dirs.push((path, s.member));
                }
                MemberKind::File => {
                    Self::refuse_dir(&path, &m.path)?;
                    let tmp = s.tmp.as_ref().ok_or_else(|| {
                        BundleError::corrupt(m.tar_offset, "file member without content")
                    })?;
                    self.set_meta(tmp, m, false)?;
                    fs::rename(tmp, &path).map_err(ex("move into place", &path))?;
                    report.files += 1;
                    report.bytes += m.size;
                }
                MemberKind::Symlink => {
                    Self::refuse_dir(&path, &m.path)?;
                    let target = m.link.as_ref().map_or(&[][..], |l| &l.0[..]);
                    self.n += 1;
                    let tmp = self.staging.join(self.n.to_string());
                    std::os::unix::fs::symlink(OsStr::from_bytes(target), &tmp)
                        .map_err(ex("create symlink", &path))?;
                    self.set_meta(&tmp, m, true)?;
                    fs::rename(&tmp, &path).map_err(ex("move into place", &path))?;
                    report.symlinks += 1;
                }
                MemberKind::HardLink => {
                    Self::refuse_dir(&path, &m.path)?;
                    let target = m.link.as_ref().map_or(&[][..], |l| &l.0[..]);
                    let tpath = self.prepare(target)?;
                    let md = fs::symlink_metadata(&tpath).map_err(|_| BundleError::UnsafePath {
                        path: m.path.lossy(),
                        reason: "hard link target is not in the bundle or the target directory",
                    })?;
                    if !md.is_file() {
                        return Err(BundleError::UnsafePath {
                            path: m.path.lossy(),
                            reason: "hard link target is not a regular file",
                        });
                    }
                    self.n += 1;
                    let tmp = self.staging.join(self.n.to_string());
                    fs::hard_link(&tpath, &tmp).map_err(ex("create hard link", &path))?;
                    fs::rename(&tmp, &path).map_err(ex("move into place", &path))?;
                    report.hard_links += 1;
                }
            }
        }
        dirs.sort_by(|a, b| b.0.cmp(&a.0));
        for (p, m) in dirs {
            self.set_meta(&p, &m, false)?;
        }
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}

fn kind_of(t: TypeFlag) -> MemberKind {
    match t {
        TypeFlag::File => MemberKind::File,
        TypeFlag::Dir => MemberKind::Dir,
        TypeFlag::Symlink => MemberKind::Symlink,
        TypeFlag::HardLink => MemberKind::HardLink,
    }
}

/// Compare a member found in the tar stream with its index entry.
fn check(found: &Found, m: &MemberIndex) -> Result<()> {
    let h = &found.header;
    let mut diffs = Vec::new();
    if h.path != m.path.0 {
        diffs.push(format!("name {:?}", String::from_utf8_lossy(&h.path)));
    }
    if kind_of(h.kind) != m.kind {
        diffs.push(format!("kind {:?}", kind_of(h.kind)));
    }
    if h.size != m.size {
        diffs.push(format!("size {}", h.size));
    }
    if found.tar_offset != m.tar_offset || found.data_offset != m.data_offset {
        diffs.push(format!("offset {}", found.tar_offset));
    }
    if matches!(m.kind, MemberKind::Symlink | MemberKind::HardLink)
        && Some(&h.link) != m.link.as_ref().map(|l| &l.0)
    {
        diffs.push("link target".into());
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(BundleError::IndexMismatch {
            path: m.path.lossy(),
            offset: m.tar_offset,
            message: format!("the tar stream has {}", diffs.join(", ")),
        })
    }
}

struct HashingWriter<W> {
    w: W,
    h: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.w.write(b)?;
        self.h.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

fn verify_hash(m: &MemberIndex, actual: &str) -> Result<()> {
    match &m.sha256 {
        Some(e) if e == actual => Ok(()),
        Some(e) => Err(BundleError::HashMismatch {
            path: m.path.lossy(),
            expected: e.clone(),
            actual: actual.to_owned(),
        }),
        None => Err(BundleError::IndexMismatch {
            path: m.path.lossy(),
            offset: m.tar_offset,
            message: "the index has no SHA-256 for this file".into(),
        }),
    }
}

/// Read a whole bundle stream (any layers) and return its own index,
/// checking every member against it on the way.
pub fn list<R: Read>(bundle: R, decryption: Option<&Decryption>) -> Result<BundleIndex> {
    let (r, _, _) = plain_stream(bundle, decryption)?;
    let mut t = TarReader::new(r, 0);
    let mut seen = Vec::new();
    loop {
        let at = t.pos();
        let Some(f) = t.next()? else {
            return Err(BundleError::Truncated(
                "end of archive before the index member".into(),
            ));
        };
        if f.header.path == INDEX_MEMBER.as_bytes() {
            let mut json = Vec::new();
            t.copy_data(f.header.size, &mut json)?;
            let index: BundleIndex = serde_json::from_slice(&json)
                .map_err(|e| BundleError::corrupt(at, format!("the index does not parse: {e}")))?;
            if index.members.len() != seen.len() {
                return Err(BundleError::corrupt(
                    at,
                    "the index and the tar stream list different members",
                ));
            }
            for (f, m) in seen.iter().zip(&index.members) {
                check(f, m)?;
            }
            return Ok(index);
        }
        t.skip_data(f.header.size)?;
        seen.push(f);
    }
}

/// Extract from a whole bundle stream (a file, a download): members are
/// staged, checked against the index at the end of the stream, then put in
/// place. Nothing is placed if any check fails.
pub fn extract_stream<R: Read>(
    bundle: R,
    selection: &Selection,
    target: &Path,
    options: &ExtractOptions,
) -> Result<ExtractReport> {
    let (r, _, _) = plain_stream(bundle, options.decryption.as_ref())?;
    let mut t = TarReader::new(r, 0);
    let mut tgt = Target::new(target, options.restore_owners)?;
    let mut found_all: Vec<(Found, Option<(PathBuf, String)>)> = Vec::new();
    let index = loop {
        let at = t.pos();
        let Some(f) = t.next()? else {
            return Err(BundleError::Truncated(
                "end of archive before the index member".into(),
            ));
        };
        if f.header.path == INDEX_MEMBER.as_bytes() {
            let mut json = Vec::new();
            t.copy_data(f.header.size, &mut json)?;
            break serde_json::from_slice::<BundleIndex>(&json)
                .map_err(|e| BundleError::corrupt(at, format!("the index does not parse: {e}")))?;
        }
        safe_components(&f.header.path)?;
        let wanted = selection.wants(&f.header.path);
        if wanted && f.header.kind == TypeFlag::File {
            let (tmp, file) = tgt.stage_file()?;
            let mut w = HashingWriter {
                w: io::BufWriter::with_capacity(256 << 10, file),
                h: Sha256::new(),
            };
            t.copy_data(f.header.size, &mut w)?;
            w.flush().map_err(ex("write", &tmp))?;
            let sha = hex(&w.h.finalize());
            found_all.push((f, Some((tmp, sha))));
        } else {
            t.skip_data(f.header.size)?;
            found_all.push((f, None));
        }
    };
    if index.members.len() != found_all.len() {
        return Err(BundleError::corrupt(
            t.pos(),
            "the index and the tar stream list different members",
        ));
    }
    let wanted = wanted_set(&index, selection, false)?;
    let mut staged = Vec::new();
    for ((f, content), m) in found_all.into_iter().zip(&index.members) {
        check(&f, m)?;
        if !wanted.contains(&m.path.0) {
            if let Some((tmp, _)) = content {
                let _ = fs::remove_file(tmp);
            }
            continue;
        }
        let tmp = match content {
            Some((tmp, sha)) => {
                verify_hash(m, &sha)?;
                Some(tmp)
            }
            None => None,
        };
        staged.push(Staged {
            member: m.clone(),
            tmp,
        });
    }
    let mut report = ExtractReport::default();
    tgt.place(staged, &mut report)?;
    Ok(report)
}

/// The members to extract: the selection plus the targets of selected hard
/// links that are in this bundle. Unknown names are an error.
fn wanted_set(
    index: &BundleIndex,
    selection: &Selection,
    link_targets: bool,
) -> Result<HashSet<Vec<u8>>> {
    let by_name: HashMap<&[u8], &MemberIndex> =
        index.members.iter().map(|m| (&m.path.0[..], m)).collect();
    let mut out = HashSet::new();
    match selection {
        Selection::All => {
            out.extend(index.members.iter().map(|m| m.path.0.clone()));
        }
        Selection::Paths(ps) => {
            for p in ps {
                let m = by_name.get(&p[..]).ok_or_else(|| {
                    BundleError::NoSuchMember(String::from_utf8_lossy(p).into_owned())
                })?;
                out.insert(p.clone());
                if link_targets
                    && m.kind == MemberKind::HardLink
                    && let Some(l) = &m.link
                    && by_name.contains_key(&l.0[..])
                {
                    out.insert(l.0.clone());
                }
            }
        }
    }
    Ok(out)
}

/// Extract selected members reading only the byte ranges the index names
/// for them (plus, for an encrypted bundle, the age header and the last
/// chunk). `index` usually comes from the catalog; it is trusted for
/// locations, and every member read is checked against it.
pub fn extract_ranges(
    src: &dyn RangeSource,
    index: &BundleIndex,
    selection: &Selection,
    target: &Path,
    options: &ExtractOptions,
) -> Result<ExtractReport> {
    let dec = options.decryption.as_ref();
    let encrypted = index.encryption.is_some();
    let wanted = wanted_set(index, selection, true)?;
    for m in &index.members {
        if wanted.contains(&m.path.0) {
            safe_components(&m.path.0)?;
        }
    }
    let compression = if encrypted {
        layers(src, dec)?.1
    } else {
        index.compression
    };
    let mut tgt = Target::new(target, options.restore_owners)?;
    let mut staged = Vec::new();
    // Members in the frames already being read are read on from there:
    // neighbours in one frame cost one fetch and one decompression.
    let mut current: Option<(ByteRange, TarReader<Box<dyn Read + '_>>)> = None;
    for m in index.members.iter().filter(|m| wanted.contains(&m.path.0)) {
        let frame = index.frames.get(m.frames.0 as usize).ok_or_else(|| {
            BundleError::corrupt(m.tar_offset, "index names a frame that does not exist")
        })?;
        if m.tar_offset
            .checked_sub(frame.tar_offset)
            .is_none_or(|s| s >= frame.tar_len)
        {
            return Err(BundleError::corrupt(
                m.tar_offset,
                "member offset outside its frame",
            ));
        }
        let reuse = matches!(&current, Some((r, t))
            if r.start <= m.range.start && m.range.end <= r.end && t.pos() <= m.tar_offset);
        if !reuse {
            let raw = plain_range(src, dec, encrypted, m.range)?;
            let plain = decoder(compression, BufReader::new(raw))?;
            current = Some((m.range, TarReader::new(plain, frame.tar_offset)));
        }
        let Some((_, t)) = current.as_mut() else {
            continue;
        };
        t.skip(m.tar_offset - t.pos(), "the frame before the member")?;
        let f = t.next()?.ok_or_else(|| {
            BundleError::corrupt(m.tar_offset, "end of archive where the index puts a member")
        })?;
        check(&f, m)?;
        let tmp = if m.kind == MemberKind::File {
            let (tmp, file) = tgt.stage_file()?;
            let mut w = HashingWriter {
                w: io::BufWriter::with_capacity(256 << 10, file),
                h: Sha256::new(),
            };
            t.copy_data(m.size, &mut w)?;
            w.flush().map_err(ex("write", &tmp))?;
            verify_hash(m, &hex(&w.h.finalize()))?;
            Some(tmp)
        } else {
            None
        };
        staged.push(Staged {
            member: m.clone(),
            tmp,
        });
    }
    let mut report = ExtractReport::default();
    tgt.place(staged, &mut report)?;
    Ok(report)
}

/// Read the index of a whole bundle stream without extracting (alias of
/// [`list`] for readers holding a `Read`).
pub fn read_index_stream<R: Read>(
    bundle: R,
    decryption: Option<&Decryption>,
) -> Result<BundleIndex> {
    list(bundle, decryption)
}
