//! Posting lists of the common tokens of each bulk-inserted batch, beside
//! the full-text index, to answer the worst case of a search quickly: two
//! common words that rarely or never occur together (`jpg zip`).
//!
//! FTS5 intersects two doclists by walking both (about 18 ns a posting):
//! two words of 5 to 10 % of 10 million files cost 20 to 30 ms even when
//! they never meet. So, for each batch the indexing thread commits (a
//! *range* of file ids `lo..=hi`, thousands of files), the tokens held by
//! at least 1/256 of its files get their complete list of ids in that
//! range (`dense`, delta varints), and the range is recorded
//! (`dense_ranges`). A search whose words include two or more tokens that
//! are common almost everywhere intersects their lists range by range in
//! Rust (a few µs a range): a range where they never meet is skipped
//! without asking FTS5; the others, and the ids no range covers, are
//! searched by FTS5 restricted to them, as before. The lists only prune:
//! every hit still comes from FTS5 and the same filters, so the answers
//! cannot change. Rows deleted later leave stale ids in the lists, which
//! only make a range look live (ids are never reused).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::{Connection, OptionalExtension, params};

/// A token is listed in a range when at least `1/MIN_SHARE` of its files
/// hold it (rarer ones are cheap for FTS5)...
const MIN_SHARE: usize = 64;

/// ... and at most `1/MAX_SHARE` (a token in most files prunes little).
const MAX_SHARE: usize = 4;

/// Ranges of fewer files are not worth lists.
pub(crate) const MIN_FILES: usize = 4096;

/// A small fast hash for short tokens (the standard one costs more than
/// the rest of the counting).
#[derive(Default)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        // Mix the high bits down: the table picks buckets by the low ones.
        let x = self.0;
        (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 32)
    }
}

/// Files of which every token is counted, to choose the next range's
/// listed tokens (counting every token of every file costs as much as
/// FTS5's own work).
const SAMPLE: usize = 16;

/// The lists of one range being built. Only *eligible* tokens get lists:
/// those common in the sample of the previous range (the first range of
/// an indexing thread gets none), so that each file costs a few lookups in
/// a small table.
#[derive(Default)]
pub(crate) struct Builder {
    lo: Option<i64>,
    hi: i64,
    files: usize,
    /// Eligible token -> its list in `lists`.
    eligible: HashMap<Box<str>, usize, BuildHasherDefault<Fx>>,
    /// Offsets from `lo` of the files holding each eligible token, ascending.
    lists: Vec<Vec<u32>>,
    /// The lists of the eligible tokens of the last directory seen.
    dir: Option<i64>,
    dir_lists: Vec<usize>,
    /// Token counts over every SAMPLE-th file.
    sample: HashMap<Box<str>, usize, BuildHasherDefault<Fx>>,
    /// A file of the range was skipped: its lists would be incomplete.
    broken: bool,
    /// No sample yet (the first range of an indexing thread): every token
    /// is eligible (slower, once).
    fresh: bool,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            fresh: true,
            ..Builder::default()
        }
    }

    /// Starts a new range, choosing its eligible tokens from the sample of
    /// the one before.
    pub(crate) fn clear(&mut self) {
        if self.files >= MIN_FILES && !self.sample.is_empty() {
            let sampled = self.files.div_ceil(SAMPLE);
            // Half the threshold: the sample is noisy.
            let (min, max) = (sampled / MIN_SHARE / 2, sampled * 2 / MAX_SHARE);
            let mut next: Vec<(&Box<str>, &usize)> = self
                .sample
                .iter()
                .filter(|&(_, &n)| n > min && n <= max)
                .collect();
            next.sort_by(|a, b| b.1.cmp(a.1));
            next.truncate(MAX_ELIGIBLE);
            let next: Vec<Box<str>> = next.into_iter().map(|(t, _)| t.clone()).collect();
            self.eligible.clear();
            for (i, t) in next.into_iter().enumerate() {
                self.eligible.insert(t, i);
            }
            self.fresh = false;
        } else if self.fresh {
            self.eligible.clear();
        }
        self.lists.clear();
        self.lists.resize_with(self.eligible.len(), Vec::new);
        self.sample.clear();
        self.lo = None;
        self.hi = 0;
        self.files = 0;
        self.dir = None;
        self.dir_lists.clear();
        self.broken = false;
    }

    /// Adds file `id` (ascending): the tokens of its directory `dir` (an id:
    /// consecutive files of one directory share them) and of its name,
    /// separated by spaces.
    pub(crate) fn add(&mut self, id: i64, dir: i64, dir_tokens: &str, name_tokens: &str) {
        let lo = *self.lo.get_or_insert(id);
        let Ok(off) = u32::try_from(id - lo) else {
            self.broken = true;
            return;
        };
        self.hi = id;
        if self.files.is_multiple_of(SAMPLE) {
            for tok in dir_tokens.split(' ').chain(name_tokens.split(' ')) {
                if !tok.is_empty() {
                    if let Some(n) = self.sample.get_mut(tok) {
                        *n += 1;
                    } else {
                        self.sample.insert(tok.into(), 1);
                    }
                }
            }
        }
        self.files += 1;
        if self.lists.len() != self.eligible.len() {
            self.lists.resize_with(self.eligible.len(), Vec::new);
        }
        if self.dir != Some(dir) {
            self.dir = Some(dir);
            self.dir_lists.clear();
            for tok in dir_tokens.split(' ').filter(|t| !t.is_empty()) {
                if let Some(i) = self.list(tok)
                    && !self.dir_lists.contains(&i)
                {
                    self.dir_lists.push(i);
                }
            }
        }
        for k in 0..self.dir_lists.len() {
            self.lists[self.dir_lists[k]].push(off);
        }
        for tok in name_tokens.split(' ').filter(|t| !t.is_empty()) {
            if let Some(i) = self.list(tok) {
                let v = &mut self.lists[i];
                if v.last() != Some(&off) {
                    v.push(off);
                }
            }
        }
    }

    /// The list of `tok`, if it is eligible (every token is, when fresh).
    fn list(&mut self, tok: &str) -> Option<usize> {
        if let Some(&i) = self.eligible.get(tok) {
            return Some(i);
        }
        if !self.fresh {
            return None;
        }
        self.lists.push(Vec::new());
        self.eligible.insert(tok.into(), self.lists.len() - 1);
        Some(self.lists.len() - 1)
    }

    /// A file of the range was not added.
    pub(crate) fn skip(&mut self) {
        self.broken = true;
    }

    /// Writes the lists of the common tokens and the range into `schema`.
    pub(crate) fn write(&self, conn: &Connection, schema: &str) -> rusqlite::Result<()> {
        let Some(lo) = self.lo else { return Ok(()) };
        if self.broken || self.files < MIN_FILES {
            return Ok(());
        }
        let (min, max) = (self.files / MIN_SHARE, self.files / MAX_SHARE);
        let mut ins = conn.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {schema}.dense(token, lo, ids) VALUES (?1, ?2, ?3)"
        ))?;
        let mut blob = Vec::new();
        for (tok, &i) in &self.eligible {
            let offs = &self.lists[i];
            if offs.len() >= min && offs.len() <= max {
                encode(offs, &mut blob);
                ins.execute(params![&**tok, lo, blob])?;
            }
        }
        conn.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {schema}.dense_ranges(lo, hi) VALUES (?1, ?2)"
        ))?
        .execute(params![lo, self.hi])?;
        Ok(())
    }
}

/// At most this many tokens get lists in a range.
const MAX_ELIGIBLE: usize = 256;

fn encode(offs: &[u32], out: &mut Vec<u8>) {
    out.clear();
    let mut prev = 0u32;
    for (i, &o) in offs.iter().enumerate() {
        let mut d = if i == 0 { o } else { o - prev };
        prev = o;
        while d >= 0x80 {
            out.push((d as u8) | 0x80);
            d >>= 7;
        }
        out.push(d as u8);
    }
}

/// Decodes offsets into `out` (cleared first); `None` if malformed.
fn decode(blob: &[u8], out: &mut Vec<u32>) -> Option<()> {
    out.clear();
    let mut prev = 0u32;
    let mut cur = 0u32;
    let mut shift = 0;
    for &b in blob {
        cur |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            prev = if out.is_empty() {
                cur
            } else {
                prev.checked_add(cur)?
            };
            out.push(prev);
            cur = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(())
}

/// Keeps in `a` the offsets also in `b` (both ascending).
fn intersect(a: &mut Vec<u32>, b: &[u32]) {
    let mut j = 0;
    a.retain(|&x| {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        j < b.len() && b[j] == x
    });
}

/// The tokens worth intersecting for a search: those of `tokens` listed in
/// at least half the ranges. `None` unless there are two.
pub(crate) fn common_tokens(
    conn: &Connection,
    tokens: &[String],
) -> rusqlite::Result<Option<Vec<String>>> {
    if tokens.len() < 2 {
        return Ok(None);
    }
    let ranges: i64 = conn
        .prepare_cached("SELECT count(*) FROM fts.dense_ranges")?
        .query_row([], |r| r.get(0))?;
    if ranges == 0 {
        return Ok(None);
    }
    let mut st = conn.prepare_cached("SELECT count(*) FROM fts.dense WHERE token = ?1")?;
    let mut common = Vec::new();
    for t in tokens {
        let n: i64 = st.query_row([t], |r| r.get(0))?;
        if n * 2 >= ranges && !common.contains(t) {
            common.push(t.clone());
        }
    }
    Ok((common.len() >= 2).then_some(common))
}

/// What a search learns of one stretch of ids.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stretch {
    /// No file of the stretch holds all the tokens: skip it.
    Empty,
    /// Only these files of the stretch (ascending) hold them all.
    Candidates(Vec<i64>),
    /// Unknown from `lo` on (no lists, or too many candidates).
    Unknown { lo: i64 },
}

/// A stretch with more candidates than this is left to FTS5.
const MAX_CANDIDATES: usize = 512;

/// Walks the ranges above `after` in order, yielding what the lists say
/// about each, and about the ids between ranges (unknown), up to `last`
/// (the highest indexed id).
pub(crate) struct Walker<'c> {
    conn: &'c Connection,
    tokens: Vec<String>,
    ranges: std::vec::IntoIter<(i64, i64)>,
    /// Next id to account for.
    next: i64,
    last: i64,
    pending: Option<(i64, i64)>,
    a: Vec<u32>,
    b: Vec<u32>,
}

impl<'c> Walker<'c> {
    pub(crate) fn new(
        conn: &'c Connection,
        tokens: Vec<String>,
        after: i64,
        last: i64,
    ) -> rusqlite::Result<Self> {
        let ranges: Vec<(i64, i64)> = conn
            .prepare_cached("SELECT lo, hi FROM fts.dense_ranges WHERE hi > ?1 ORDER BY lo")?
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Walker {
            conn,
            tokens,
            ranges: ranges.into_iter(),
            next: after.saturating_add(1),
            last,
            pending: None,
            a: Vec::new(),
            b: Vec::new(),
        })
    }

    fn range(&mut self, lo: i64) -> rusqlite::Result<Stretch> {
        let from = self.next.max(lo);
        let mut st = self
            .conn
            .prepare_cached("SELECT ids FROM fts.dense WHERE token = ?1 AND lo = ?2")?;
        let mut first = true;
        for t in &self.tokens {
            let blob: Option<Vec<u8>> = st.query_row(params![t, lo], |r| r.get(0)).optional()?;
            // A token without a list here is rare here: the lists prove
            // nothing about it, and its files are FTS5's to find.
            let Some(blob) = blob else {
                return Ok(Stretch::Unknown { lo: from });
            };
            let target = if first { &mut self.a } else { &mut self.b };
            if decode(&blob, target).is_none() {
                return Ok(Stretch::Unknown { lo: from });
            }
            if first {
                first = false;
            } else {
                intersect(&mut self.a, &self.b);
            }
        }
        if first {
            return Ok(Stretch::Unknown { lo: from });
        }
        let skip = u32::try_from(from - lo).unwrap_or(u32::MAX);
        let ids: Vec<i64> = self
            .a
            .iter()
            .filter(|&&o| o >= skip)
            .map(|&o| lo + i64::from(o))
            .collect();
        Ok(if ids.is_empty() {
            Stretch::Empty
        } else if ids.len() > MAX_CANDIDATES {
            Stretch::Unknown { lo: from }
        } else {
            Stretch::Candidates(ids)
        })
    }
}

impl Iterator for Walker<'_> {
    type Item = rusqlite::Result<Stretch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.last {
            return None;
        }
        if let Some((lo, hi)) = self.pending.take() {
            let r = self.range(lo);
            self.next = hi.saturating_add(1);
            return Some(r);
        }
        match self.ranges.next() {
            Some((lo, hi)) if lo > self.next => {
                // Ids no range covers: only FTS5 knows.
                let gap = Stretch::Unknown { lo: self.next };
                self.pending = Some((lo, hi));
                self.next = lo;
                Some(Ok(gap))
            }
            Some((lo, hi)) => {
                let r = self.range(lo);
                self.next = hi.saturating_add(1);
                Some(r)
            }
            None => {
                let rest = Stretch::Unknown { lo: self.next };
                self.next = self.last.saturating_add(1);
                Some(Ok(rest))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_intersect() {
        let offs = vec![0, 1, 5, 200, 70_000, 70_001, 4_000_000];
        let mut blob = Vec::new();
        encode(&offs, &mut blob);
        let mut back = Vec::new();
        decode(&blob, &mut back).unwrap();
        assert_eq!(back, offs);
        assert!(decode(&[0x80], &mut back).is_none(), "truncated");
        let mut a = vec![1, 3, 5, 7, 9];
        intersect(&mut a, &[2, 3, 4, 9, 10]);
        assert_eq!(a, vec![3, 9]);
        let mut a = vec![1, 2];
        intersect(&mut a, &[]);
        assert!(a.is_empty());
    }
}
