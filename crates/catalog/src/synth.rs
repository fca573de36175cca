//! Synthetic file trees for benchmarks and scale runs: deterministic,
//! realistic enough for search (departments, projects, years, words in
//! mixed case with digits, a Zipf-like vocabulary), with no file system.

// Synthetic numbers are small and positive; precision does not matter here.
#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;

use crate::model::{FileEntry, MemberLocation, PackedRange};

const DEPTS: &[&str] = &[
    "Finance",
    "HR",
    "Research",
    "Engineering",
    "Legal",
    "Marketing",
    "Sales",
    "IT",
    "Library",
    "Archive",
    "Physics",
    "Biology",
    "Chemistry",
    "Media",
    "Operations",
    "Teaching",
];
const WORDS: &[&str] = &[
    "budget",
    "report",
    "final",
    "draft",
    "invoice",
    "contract",
    "minutes",
    "meeting",
    "plan",
    "summary",
    "data",
    "results",
    "analysis",
    "figure",
    "table",
    "notes",
    "scan",
    "photo",
    "video",
    "audio",
    "backup",
    "export",
    "survey",
    "sample",
    "measurement",
    "calibration",
    "thesis",
    "paper",
    "poster",
    "slides",
    "review",
    "proposal",
    "grant",
    "payroll",
    "tax",
    "audit",
    "policy",
    "manual",
    "spec",
    "design",
    "test",
    "log",
    "config",
    "index",
    "catalog",
    "inventory",
    "letter",
    "memo",
    "agenda",
    "schedule",
    "quarterly",
    "annual",
    "monthly",
    "weekly",
    "old",
    "new",
    "copy",
    "version",
    "signed",
    "scanned",
];
const EXTS: &[&str] = &[
    "pdf", "docx", "xlsx", "csv", "txt", "jpg", "JPG", "png", "tif", "mp4", "wav", "h5", "nc",
    "json", "xml", "tar", "zip", "pptx", "md", "dat",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ze", "vu", "ba", "do", "fi", "gu", "he", "jo",
    "ly", "ma", "no", "pe", "qu", "ro", "si", "te", "ul", "va", "wo", "xe", "yo", "zu",
];

/// A small deterministic PRNG (`SplitMix64`).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Skewed towards small values: a few words are common, most are rare.
    fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) as u64).saturating_sub(1).min(n - 1)
    }
}

/// A pseudo-word from the long tail of the vocabulary (number `i`).
fn rare_word(i: u64) -> String {
    let mut s = String::new();
    let mut x = i + 1;
    while x > 0 {
        s.push_str(SYLLABLES[(x % SYLLABLES.len() as u64) as usize]);
        x /= SYLLABLES.len() as u64;
    }
    s
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// The files of a synthetic tree: an iterator of `n` [`FileEntry`]s whose
/// paths look like `/data/Finance/proj-kalo-12/2019/Budget_2019-final.xlsx`.
#[derive(Debug, Clone)]
pub struct SyntheticTree {
    rng: Rng,
    left: u64,
    dir: String,
    dir_left: u64,
    dir_year: u64,
    member: u64,
    offset: u64,
}

/// `n` synthetic files, the same for the same `seed`.
pub fn synthetic_tree(seed: u64, n: u64) -> SyntheticTree {
    SyntheticTree {
        rng: Rng(seed),
        left: n,
        dir: String::new(),
        dir_left: 0,
        dir_year: 2000,
        member: 0,
        offset: 0,
    }
}

impl SyntheticTree {
    fn new_dir(&mut self) {
        let r = &mut self.rng;
        let dept = r.pick(DEPTS);
        let project = format!("proj-{}-{}", rare_word(r.zipf(20_000)), r.below(100));
        self.dir_year = 2005 + r.below(20);
        let mut d = format!("/data/{dept}/{project}/{}", self.dir_year);
        match r.below(4) {
            0 => {}
            1 => {
                let _ = write!(d, "/{}", capitalize(r.pick(WORDS)));
            }
            2 => {
                let _ = write!(d, "/{}_{}", r.pick(WORDS), rare_word(r.zipf(200_000)));
            }
            _ => {
                let _ = write!(d, "/run{:04}/raw", r.below(5000));
            }
        }
        self.dir = d;
        self.dir_left = 1 + r.zipf(200);
    }

    fn name(&mut self) -> String {
        let year = self.dir_year;
        let r = &mut self.rng;
        let w1 = r.pick(WORDS);
        let w2 = r.pick(WORDS);
        let rare = rare_word(r.zipf(1_000_000));
        let ext = r.pick(EXTS);
        match r.below(6) {
            0 => format!("{}_{year}-{w2}.{ext}", capitalize(w1)),
            1 => format!("{w1}{}{}.{ext}", capitalize(&rare), r.below(1000)),
            2 => format!("IMG_{:05}.{ext}", r.below(100_000)),
            3 => format!("{} {w2} v{}.{ext}", capitalize(w1), r.below(20)),
            4 => format!("{rare}-{w1}_{:03}.{ext}", r.below(1000)),
            _ => format!(
                "{w1}_{rare}_{year}{:02}{:02}.{ext}",
                1 + r.below(12),
                1 + r.below(28)
            ),
        }
    }
}

impl Iterator for SyntheticTree {
    type Item = FileEntry;

    fn next(&mut self) -> Option<FileEntry> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.dir_left == 0 {
            self.new_dir();
        }
        self.dir_left -= 1;
        let name = self.name();
        let r = &mut self.rng;
        let size = (1u64 << r.below(31)) + r.below(1 << 20);
        let year_start = (self.dir_year as i64 - 1970) * 31_556_952;
        let mtime = year_start + (r.below(31_556_952) as i64);
        let mut sha = [0u8; 32];
        for chunk in sha.chunks_mut(8) {
            chunk.copy_from_slice(&r.next().to_le_bytes());
        }
        let member = MemberLocation {
            index: self.member,
            offset: self.offset,
            packed: Some(PackedRange {
                start: self.offset / 3,
                end: (self.offset + size) / 3 + 512,
                origin: self.offset,
            }),
        };
        self.member += 1;
        self.offset += 512 + size.div_ceil(512) * 512;
        Some(FileEntry {
            path: format!("{}/{name}", self.dir),
            size,
            mtime,
            atime: Some(mtime + 86_400),
            ctime: Some(mtime),
            mode: 0o100_644,
            uid: Some(1000 + (r.below(20) as u32)),
            gid: Some(100),
            owner: None,
            group: None,
            sha256: Some(sha),
            symlink: None,
            member: Some(member),
            acls: Vec::new(),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.left).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_plausible() {
        let a: Vec<_> = synthetic_tree(7, 500).collect();
        let b: Vec<_> = synthetic_tree(7, 500).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        assert!(a.iter().all(|f| f.path.starts_with("/data/")));
        let dirs: std::collections::HashSet<_> = a
            .iter()
            .map(|f| f.path.rsplit_once('/').map(|x| x.0))
            .collect();
        assert!(dirs.len() > 5 && dirs.len() < 400, "{}", dirs.len());
    }
}
