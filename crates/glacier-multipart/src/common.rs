//! Rules every emulated store (local, memory) enforces the way Glacier does.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use glacier_treehash::{TreeHash, combine_parts, is_megabyte_aligned, is_valid_part_size};
use sha2::{Digest, Sha256};

use crate::store::{PartInfo, StoreLimits};
use crate::{Error, Result};

/// A fresh opaque id: 64 characters of base64url-like alphabet made from
/// the time, the process id, a counter and the address space.
pub(crate) fn new_id(kind: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    h.update(kind.as_bytes());
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let local = 0u8;
    h.update((&raw const local as usize).to_le_bytes());
    if let Ok(bytes) = std::fs::read("/proc/sys/kernel/random/uuid") {
        h.update(&bytes);
    }
    let a = h.finalize();
    let mut h2 = Sha256::new();
    h2.update(a);
    let b = h2.finalize();
    a.iter()
        .chain(b.iter())
        .map(|x| ALPHABET[usize::from(x & 63)] as char)
        .collect()
}

/// Checks a vault name the way Glacier does: 1-255 of `a-zA-Z0-9_.-`.
pub(crate) fn check_vault_name(vault: &str) -> Result<()> {
    let reason = if vault.is_empty() || vault.len() > 255 {
        "must be 1 to 255 characters"
    } else if !vault
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
    {
        "may hold only letters, digits, '_', '-' and '.'"
    } else if vault.starts_with('.') {
        "may not start with '.'"
    } else {
        return Ok(());
    };
    Err(Error::InvalidVaultName {
        vault: vault.to_owned(),
        reason,
    })
}

/// Ids come back from users; they name files in the local store.
pub(crate) fn check_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

/// Checks a description the way Glacier does: at most 1024 printable ASCII
/// characters.
pub(crate) fn check_description(vault: &str, description: &str) -> Result<()> {
    if description.len() > 1024 || !description.bytes().all(|c| (0x20..=0x7e).contains(&c)) {
        return Err(Error::Rejected {
            operation: "upload",
            vault: vault.to_owned(),
            message: "archive description must be at most 1024 printable ASCII characters".into(),
        });
    }
    Ok(())
}

pub(crate) fn check_part_size(part_size: u64, limits: &StoreLimits) -> Result<()> {
    if !is_valid_part_size(part_size)
        || part_size < limits.min_part_size
        || part_size > limits.max_part_size
    {
        return Err(Error::InvalidPartSize {
            part_size,
            reason: format!(
                "must be 1 MiB times a power of two, from {} to {} bytes",
                limits.min_part_size, limits.max_part_size
            ),
        });
    }
    Ok(())
}

/// Checks one part as Glacier's `UploadMultipartPart` does: the range starts
/// at a multiple of the part size, is no longer than a part, matches the
/// data, and the data has the tree hash sent.
pub(crate) fn check_part(
    vault: &str,
    upload_id: &str,
    part_size: u64,
    range: &Range<u64>,
    tree_hash: TreeHash,
    data: &[u8],
) -> Result<()> {
    let bad = |reason: String| Error::InvalidRange {
        vault: vault.to_owned(),
        what: format!("part of upload {upload_id}"),
        range: range.clone(),
        reason,
    };
    if range.start >= range.end {
        return Err(bad("empty range".into()));
    }
    if !range.start.is_multiple_of(part_size) {
        return Err(bad(format!(
            "does not start at a multiple of the part size {part_size}"
        )));
    }
    if range.end - range.start > part_size {
        return Err(bad(format!("longer than the part size {part_size}")));
    }
    if range.end - range.start != data.len() as u64 {
        return Err(bad(format!("{} bytes of data were sent", data.len())));
    }
    let actual = glacier_treehash::tree_hash(data);
    if actual != tree_hash {
        return Err(Error::PartChecksumMismatch {
            vault: vault.to_owned(),
            upload_id: upload_id.to_owned(),
            range: range.clone(),
            expected: tree_hash,
            actual,
        });
    }
    Ok(())
}

/// Checks that `parts` (sorted by offset) make an archive of `total` bytes
/// hashing to `tree_hash`, as `CompleteMultipartUpload` does.
pub(crate) fn check_complete(
    vault: &str,
    upload_id: &str,
    part_size: u64,
    parts: &[PartInfo],
    total: u64,
    tree_hash: TreeHash,
) -> Result<()> {
    let incomplete = |reason: String| Error::IncompleteUpload {
        vault: vault.to_owned(),
        upload_id: upload_id.to_owned(),
        reason,
    };
    if total == 0 {
        return Err(incomplete("an archive cannot be empty".into()));
    }
    let count = total.div_ceil(part_size);
    let mut hashes = Vec::with_capacity(count as usize);
    let mut pos = 0;
    for p in parts {
        if p.range.start >= total {
            return Err(incomplete(format!(
                "part {}-{} lies past the announced size {total}",
                p.range.start, p.range.end
            )));
        }
        if p.range.start != pos {
            return Err(incomplete(format!(
                "bytes {pos}-{} are missing",
                p.range.start
            )));
        }
        let want_end = (pos + part_size).min(total);
        if p.range.end != want_end {
            return Err(incomplete(format!(
                "part {}-{} should end at {want_end}",
                p.range.start, p.range.end
            )));
        }
        hashes.push(p.tree_hash.ok_or_else(|| {
            incomplete(format!(
                "part {}-{} has no tree hash",
                p.range.start, p.range.end
            ))
        })?);
        pos = want_end;
    }
    if pos != total {
        return Err(incomplete(format!("bytes {pos}-{total} are missing")));
    }
    let actual = combine_parts(part_size, total, &hashes).map_err(|e| incomplete(e.to_string()))?;
    if actual != tree_hash {
        return Err(Error::ArchiveChecksumMismatch {
            vault: vault.to_owned(),
            upload_id: upload_id.to_owned(),
            expected: tree_hash,
            actual,
        });
    }
    Ok(())
}

/// Checks a retrieval range as `InitiateJob` does: megabyte aligned, within
/// the archive, not empty.
pub(crate) fn check_retrieval_range(
    vault: &str,
    archive_id: &str,
    range: &Range<u64>,
    size: u64,
) -> Result<()> {
    if range.start >= range.end || range.end > size || !is_megabyte_aligned(range, size) {
        return Err(Error::InvalidRange {
            vault: vault.to_owned(),
            what: format!("retrieval of archive {archive_id} ({size} bytes)"),
            range: range.clone(),
            reason: "must be non-empty, within the archive, start at a multiple of 1 MiB and end at one or at the archive's end".into(),
        });
    }
    Ok(())
}

/// Resolves the range asked of a job output of `total` bytes.
pub(crate) fn output_range(
    vault: &str,
    job_id: &str,
    range: Option<Range<u64>>,
    total: u64,
) -> Result<Range<u64>> {
    match range {
        None => Ok(0..total),
        Some(r) if r.start < r.end && r.end <= total => Ok(r),
        Some(r) => Err(Error::InvalidRange {
            vault: vault.to_owned(),
            what: format!("output of job {job_id} ({total} bytes)"),
            range: r,
            reason: "empty or past the end of the output".into(),
        }),
    }
}

/// Checks a single-request upload as Glacier does: a valid description,
/// the tree hash the client sent matches the data, and the archive is not
/// empty.
pub(crate) fn check_single_upload(
    vault: &str,
    description: &str,
    data: &[u8],
    tree_hash: TreeHash,
) -> Result<()> {
    check_description(vault, description)?;
    let actual = glacier_treehash::tree_hash(data);
    if actual != tree_hash {
        return Err(Error::ArchiveChecksumMismatch {
            vault: vault.to_owned(),
            upload_id: "single request".into(),
            expected: tree_hash,
            actual,
        });
    }
    if data.is_empty() {
        return Err(Error::Rejected {
            operation: "upload_archive",
            vault: vault.to_owned(),
            message: "an archive cannot be empty".into(),
        });
    }
    Ok(())
}
