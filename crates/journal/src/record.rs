//! One journal line: parsing every version, writing version B.

use std::fmt;

use glacier_treehash::TreeHash;

use crate::names::{ArchiveId, IdError, JobId, NameError, RelName};

/// The format version of a journal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// The oldest format: space separated, no mtime, no job id.
    V0,
    /// TAB separated; MTIME always a number.
    A,
    /// TAB separated; MTIME a number or `NONE`. The only version written.
    B,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V0 => "0",
            Version::A => "A",
            Version::B => "B",
        })
    }
}

/// One record of the journal.
///
/// Times are epoch seconds (UTC). Parsed from any version, written as
/// version B by [`Record::to_line`] and [`Record::write_line`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// An archive was uploaded.
    Created {
        /// When the record was written (for an inventory import: the
        /// archive's creation date).
        time: u64,
        /// The archive.
        archive_id: ArchiveId,
        /// Its size in bytes.
        size: u64,
        /// The file's modification time, if known (`NONE` in version B).
        mtime: Option<i64>,
        /// The archive's tree hash.
        treehash: TreeHash,
        /// The file it holds, relative to the synchronised directory.
        relname: RelName,
    },
    /// An archive was deleted.
    Deleted {
        /// When the record was written.
        time: u64,
        /// The archive.
        archive_id: ArchiveId,
        /// The file it held.
        relname: RelName,
    },
    /// An archive-retrieval job was started.
    RetrieveJob {
        /// When the job was started.
        time: u64,
        /// The archive.
        archive_id: ArchiveId,
        /// The job; `None` for version-0 lines, which did not record it
        /// (written back as an empty field).
        job_id: Option<JobId>,
    },
}

/// Why a line is not a journal record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is not valid UTF-8.
    #[error("not valid UTF-8 (at byte {valid_up_to} of the line)")]
    NotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The line is empty.
    #[error("empty line")]
    Empty,
    /// The line starts like a record of a later, unknown journal version.
    #[error("written by a newer journal version {version:?}, which this reader does not know")]
    FutureVersion {
        /// The version letter.
        version: char,
    },
    /// The line is in no known format.
    #[error(
        "not a journal record (expected 'B<TAB>', 'A<TAB>' or a version-0 line starting with a time)"
    )]
    UnknownFormat,
    /// The record type is not `CREATED`, `DELETED` or `RETRIEVE_JOB`.
    #[error("unknown record type {found:?} (expected CREATED, DELETED or RETRIEVE_JOB)")]
    UnknownType {
        /// The type field found.
        found: String,
    },
    /// A record has too few fields.
    #[error("{record} record of version {version} has {found} fields, expected {expected}")]
    FieldCount {
        /// The version.
        version: Version,
        /// The record type.
        record: &'static str,
        /// Fields found.
        found: usize,
        /// Fields expected.
        expected: usize,
    },
    /// A numeric or hash field is malformed.
    #[error("bad {field} {value:?}: {why}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// Its text.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The relative name is invalid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The archive or job id is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
}

const CREATED: &str = "CREATED";
const DELETED: &str = "DELETED";
const RETRIEVE_JOB: &str = "RETRIEVE_JOB";

impl Record {
    /// The record's time.
    pub fn time(&self) -> u64 {
        match self {
            Record::Created { time, .. }
            | Record::Deleted { time, .. }
            | Record::RetrieveJob { time, .. } => *time,
        }
    }

    /// The archive the record is about.
    pub fn archive_id(&self) -> &ArchiveId {
        match self {
            Record::Created { archive_id, .. }
            | Record::Deleted { archive_id, .. }
            | Record::RetrieveJob { archive_id, .. } => archive_id,
        }
    }

    /// Parses one line of any version, without its line terminator (a
    /// trailing CR is accepted and ignored).
    ///
    /// ```
    /// use journal::{Record, Version};
    ///
    /// let line = "B\t1700000000\tRETRIEVE_JOB\tarch1\tjob1";
    /// let (version, record) = Record::parse(line)?;
    /// assert_eq!(version, Version::B);
    /// assert_eq!(record.to_line(), line);
    /// # Ok::<(), journal::ParseError>(())
    /// ```
    pub fn parse(line: &str) -> Result<(Version, Record), ParseError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        match bytes {
            [] => Err(ParseError::Empty),
            [b'A', b'\t', ..] => parse_tabbed(Version::A, &line[2..]).map(|r| (Version::A, r)),
            [b'B', b'\t', ..] => parse_tabbed(Version::B, &line[2..]).map(|r| (Version::B, r)),
            [c @ b'C'..=b'Z', b'\t', ..] => Err(ParseError::FutureVersion {
                version: char::from(*c),
            }),
            [b'0'..=b'9', ..] => parse_v0(line).map(|r| (Version::V0, r)),
            _ => Err(ParseError::UnknownFormat),
        }
    }

    /// The version-B line of this record, without line terminator (also
    /// its [`Display`](fmt::Display) form).
    pub fn to_line(&self) -> String {
        self.to_string()
    }

    /// Appends the version-B line of this record, with its LF, to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = writeln!(out, "{self}");
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Created {
                time,
                archive_id,
                size,
                mtime,
                treehash,
                relname,
            } => {
                write!(f, "B\t{time}\t{CREATED}\t{archive_id}\t{size}\t")?;
                match mtime {
                    Some(m) => write!(f, "{m}")?,
                    None => f.write_str("NONE")?,
                }
                write!(f, "\t{treehash}\t{relname}")
            }
            Record::Deleted {
                time,
                archive_id,
                relname,
            } => write!(f, "B\t{time}\t{DELETED}\t{archive_id}\t{relname}"),
            Record::RetrieveJob {
                time,
                archive_id,
                job_id,
            } => {
                let job = job_id.as_ref().map_or("", JobId::as_str);
                write!(f, "B\t{time}\t{RETRIEVE_JOB}\t{archive_id}\t{job}")
            }
        }
    }
}

/// Parses the part of an A or B line after `X<TAB>`.
fn parse_tabbed(version: Version, rest: &str) -> Result<Record, ParseError> {
    // TIME TYPE ... ; the last field (name or job id) is the rest of the line.
    let mut head = rest.splitn(3, '\t');
    let time = head.next().unwrap_or("");
    let kind = head.next();
    let tail = head.next();
    let (Some(kind), Some(tail)) = (kind, tail) else {
        return Err(match kind {
            Some(k) if is_type(k) => ParseError::FieldCount {
                version,
                record: match k {
                    CREATED => CREATED,
                    DELETED => DELETED,
                    _ => RETRIEVE_JOB,
                },
                found: 3,
                expected: if k == CREATED { 8 } else { 5 },
            },
            Some(k) => ParseError::UnknownType {
                found: k.to_owned(),
            },
            None => ParseError::UnknownFormat,
        });
    };
    let time = parse_u64("time", time)?;
    match kind {
        CREATED => parse_tabbed_created(version, time, tail),
        DELETED => {
            let Some((archive_id, relname)) = tail.split_once('\t') else {
                return Err(ParseError::FieldCount {
                    version,
                    record: DELETED,
                    found: 4,
                    expected: 5,
                });
            };
            Ok(Record::Deleted {
                time,
                archive_id: ArchiveId::new(archive_id)?,
                relname: RelName::new(relname)?,
            })
        }
        RETRIEVE_JOB => {
            let Some((archive_id, job_id)) = tail.split_once('\t') else {
                return Err(ParseError::FieldCount {
                    version,
                    record: RETRIEVE_JOB,
                    found: 4,
                    expected: 5,
                });
            };
            let job_id = if job_id.is_empty() {
                None
            } else {
                Some(JobId::new(job_id)?)
            };
            Ok(Record::RetrieveJob {
                time,
                archive_id: ArchiveId::new(archive_id)?,
                job_id,
            })
        }
        other => Err(ParseError::UnknownType {
            found: other.to_owned(),
        }),
    }
}

fn parse_tabbed_created(version: Version, time: u64, tail: &str) -> Result<Record, ParseError> {
    let fields: Vec<&str> = tail.splitn(5, '\t').collect();
    let [archive_id, size, mtime, treehash, relname] = fields[..] else {
        return Err(ParseError::FieldCount {
            version,
            record: CREATED,
            found: fields.len() + 3,
            expected: 8,
        });
    };
    let archive_id = ArchiveId::new(archive_id)?;
    let size = parse_u64("size", size)?;
    let mtime = match (version, mtime) {
        (Version::A, "NONE") => {
            return Err(ParseError::BadField {
                field: "mtime",
                value: mtime.to_owned(),
                why: "NONE is not allowed in version A",
            });
        }
        (_, "NONE") => None,
        _ => Some(parse_i64("mtime", mtime)?),
    };
    let treehash = parse_treehash(treehash)?;
    let relname = RelName::new(relname)?;
    // Version A wrote an invented mtime for archives imported from an
    // inventory without metadata; those have the archive id as name.
    let mtime = if version == Version::A && *relname == *archive_id {
        None
    } else {
        mtime
    };
    Ok(Record::Created {
        time,
        archive_id,
        size,
        mtime,
        treehash,
        relname,
    })
}

fn is_type(s: &str) -> bool {
    matches!(s, CREATED | DELETED | RETRIEVE_JOB)
}

/// Version 0: `TIME CREATED ARCHIVEID SIZE TREEHASH RELNAME` (single spaces;
/// the name is the rest of the line), `TIME DELETED ARCHIVEID RELNAME` and
/// `TIME RETRIEVE_JOB ARCHIVEID` (separated by runs of whitespace).
fn parse_v0(line: &str) -> Result<Record, ParseError> {
    let (time, rest) = split_ws(line);
    let time = parse_u64("time", time)?;
    let (kind, rest) = split_ws(rest);
    match kind {
        CREATED => {
            // This one is single-space separated throughout.
            let Some(rest) = line
                .split_once(' ')
                .and_then(|(_, r)| r.strip_prefix("CREATED "))
            else {
                return Err(ParseError::UnknownFormat);
            };
            let fields: Vec<&str> = rest.splitn(4, ' ').collect();
            let [archive_id, size, treehash, relname] = fields[..] else {
                return Err(ParseError::FieldCount {
                    version: Version::V0,
                    record: CREATED,
                    found: fields.len() + 2,
                    expected: 6,
                });
            };
            Ok(Record::Created {
                time,
                archive_id: ArchiveId::new(archive_id)?,
                size: parse_u64("size", size)?,
                mtime: None,
                treehash: parse_treehash(treehash)?,
                relname: RelName::new(relname)?,
            })
        }
        DELETED => {
            let (archive_id, relname) = split_ws(rest);
            if archive_id.is_empty() || relname.is_empty() {
                return Err(ParseError::FieldCount {
                    version: Version::V0,
                    record: DELETED,
                    found: if archive_id.is_empty() { 2 } else { 3 },
                    expected: 4,
                });
            }
            Ok(Record::Deleted {
                time,
                archive_id: ArchiveId::new(archive_id)?,
                relname: RelName::new(relname)?,
            })
        }
        RETRIEVE_JOB => {
            let archive_id = rest.trim_end_matches(char::is_whitespace);
            if archive_id.is_empty() {
                return Err(ParseError::FieldCount {
                    version: Version::V0,
                    record: RETRIEVE_JOB,
                    found: 2,
                    expected: 3,
                });
            }
            Ok(Record::RetrieveJob {
                time,
                archive_id: ArchiveId::new(archive_id)?,
                job_id: None,
            })
        }
        "" => Err(ParseError::UnknownFormat),
        other => Err(ParseError::UnknownType {
            found: other.to_owned(),
        }),
    }
}

/// Splits off the first whitespace-free token and the whitespace after it.
fn split_ws(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start_matches(char::is_whitespace)),
        None => (s, ""),
    }
}

fn bad(field: &'static str, value: &str, why: &'static str) -> ParseError {
    ParseError::BadField {
        field,
        value: value.to_owned(),
        why,
    }
}

fn parse_u64(field: &'static str, s: &str) -> Result<u64, ParseError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, s, "expected 1 to 20 decimal digits"));
    }
    s.parse()
        .map_err(|_| bad(field, s, "too large for 64 bits"))
}

fn parse_i64(field: &'static str, s: &str) -> Result<i64, ParseError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            field,
            s,
            "expected an optional sign and 1 to 20 decimal digits, or NONE",
        ));
    }
    s.parse()
        .map_err(|_| bad(field, s, "out of the signed 64-bit range"))
}

fn parse_treehash(s: &str) -> Result<TreeHash, ParseError> {
    TreeHash::from_hex(s).map_err(|_| bad("tree hash", s, "expected 64 hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TH: &str = "15aad04dbdebee9ad90ba889d8eb3b9045be355fed57c62894bc2b1ae259c8c8";

    #[test]
    fn b_lines_round_trip_byte_exact() {
        for line in [
            format!("B\t1\tCREATED\tid1\t10\t-5\t{TH}\tdir/a b.txt"),
            format!("B\t1\tCREATED\tid1\t10\tNONE\t{TH}\tx"),
            "B\t2\tDELETED\tid1\tdir/a b.txt".to_owned(),
            "B\t3\tRETRIEVE_JOB\tid1\tjob 1".to_owned(),
            "B\t3\tRETRIEVE_JOB\tid1\t".to_owned(),
        ] {
            let (v, r) = Record::parse(&line).unwrap();
            assert_eq!(v, Version::B);
            assert_eq!(r.to_line(), line);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(Record::parse(""), Err(ParseError::Empty));
        assert_eq!(
            Record::parse("C\t1\tCREATED"),
            Err(ParseError::FutureVersion { version: 'C' })
        );
        assert_eq!(Record::parse("hello"), Err(ParseError::UnknownFormat));
        assert!(matches!(
            Record::parse("B\t1\tFOO\tx\ty"),
            Err(ParseError::UnknownType { .. })
        ));
        assert!(matches!(
            Record::parse("B\tx\tDELETED\tid\tn"),
            Err(ParseError::BadField { field: "time", .. })
        ));
        assert!(matches!(
            Record::parse("B\t99999999999999999999\tDELETED\tid\tn"),
            Err(ParseError::BadField { field: "time", .. })
        ));
        assert!(matches!(
            Record::parse(&format!("A\t1\tCREATED\tid\t1\tNONE\t{TH}\tn")),
            Err(ParseError::BadField { field: "mtime", .. })
        ));
        assert!(matches!(
            Record::parse("B\t1\tCREATED\tid\t1\t2\tzz\tn"),
            Err(ParseError::BadField {
                field: "tree hash",
                ..
            })
        ));
        assert!(matches!(
            Record::parse(&format!("B\t1\tCREATED\tid\t1\t2\t{TH}\t/abs")),
            Err(ParseError::Name(NameError::LeadingSlash { .. }))
        ));
        assert!(matches!(
            Record::parse("B\t1\tDELETED\tid"),
            Err(ParseError::FieldCount { .. })
        ));
    }
}
