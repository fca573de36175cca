//! What the listing yields: data files with their dataset and storage.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::checksum::Checksum;

/// A point in time as PostgreSQL's `timestamp without time zone` holds it:
/// microseconds since 1970-01-01 00:00:00, no zone (Dataverse writes the
/// server's local time; the value is carried as it is, never shifted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The timestamp `micros` microseconds after 1970-01-01 00:00:00.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp { micros }
    }

    /// Microseconds after 1970-01-01 00:00:00 (negative before).
    pub const fn micros(self) -> i64 {
        self.micros
    }

    /// The same instant as a `SystemTime` (how the `postgres` crate reads
    /// and writes timestamps).
    pub fn to_system_time(self) -> SystemTime {
        let abs = Duration::from_micros(self.micros.unsigned_abs());
        if self.micros >= 0 {
            UNIX_EPOCH + abs
        } else {
            UNIX_EPOCH - abs
        }
    }

    /// From a `SystemTime`, to the microsecond (truncated).
    pub fn from_system_time(t: SystemTime) -> Self {
        let micros = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
        };
        Timestamp { micros }
    }

    /// Now, from the system clock.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (or with a `T`), as this type
    /// displays and PostgreSQL prints it.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
        let mut date_parts = date.splitn(3, '-');
        let year: i64 = date_parts.next()?.parse().ok()?;
        let month: u32 = date_parts.next()?.parse().ok()?;
        let day: u32 = date_parts.next()?.parse().ok()?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut time_parts = hms.splitn(3, ':');
        let hh: i64 = time_parts.next()?.parse().ok()?;
        let mm: i64 = time_parts.next()?.parse().ok()?;
        let ss: i64 = time_parts.next().unwrap_or("0").parse().ok()?;
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        let mut micros_frac: i64 = 0;
        if !frac.is_empty() {
            if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{frac:0<6}");
            micros_frac = padded[..6].parse().ok()?;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
        Some(Timestamp {
            micros: secs * 1_000_000 + micros_frac,
        })
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DD HH:MM:SS.ffffff`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.micros.div_euclid(1_000_000);
        let frac = self.micros.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

// Howard Hinnant's days-from-civil algorithms (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in 1..=31 and 1..=12 by construction.
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A dataset's persistent identifier: `protocol:authority/identifier`
/// (`doi:10.5072/FK2/ABCDEF`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetId {
    /// `doi`, `hdl`, `perma`, ... (may be empty in old databases).
    pub protocol: String,
    /// `10.5072`, ...
    pub authority: String,
    /// `FK2/ABCDEF`, ... (may itself contain `/`).
    pub identifier: String,
}

impl DatasetId {
    /// `protocol:authority/identifier`.
    pub fn new(
        protocol: impl Into<String>,
        authority: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Self {
        DatasetId {
            protocol: protocol.into(),
            authority: authority.into(),
            identifier: identifier.into(),
        }
    }

    /// `authority/identifier`: the original backup script's
    /// `datasetidentifier`, and the directory of the dataset's files.
    pub fn path(&self) -> String {
        format!("{}/{}", self.authority, self.identifier)
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.protocol.is_empty() {
            write!(f, "{}/{}", self.authority, self.identifier)
        } else {
            write!(
                f,
                "{}:{}/{}",
                self.protocol, self.authority, self.identifier
            )
        }
    }
}

/// A file's `dvobject.storageidentifier`, taken apart.
///
/// Dataverse 4.19 and later write `<driverId>://<rest>`; for file stores
/// `<rest>` is the storage id itself, for S3 stores `<bucket>:<storage id>`.
/// Older values without `://` belong to the `file` driver.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageIdentifier {
    /// The value as the database holds it (what the status table records).
    pub raw: String,
    /// The driver id: `file`, `s3`, or any store name the installation
    /// configured.
    pub driver: String,
    /// What follows `://` (the whole value for a legacy one).
    pub rest: String,
}

impl StorageIdentifier {
    /// Takes `raw` apart.
    pub fn parse(raw: &str) -> Self {
        match raw.split_once("://") {
            Some((driver, rest)) if !driver.is_empty() => StorageIdentifier {
                raw: raw.to_owned(),
                driver: driver.to_owned(),
                rest: rest.to_owned(),
            },
            _ => StorageIdentifier {
                raw: raw.to_owned(),
                driver: "file".to_owned(),
                rest: raw.to_owned(),
            },
        }
    }

    /// The storage id within the dataset's directory: `rest` after the
    /// last `:` (dropping an S3 bucket), as the original backup script did.
    pub fn storage_id(&self) -> &str {
        self.rest.rsplit(':').next().unwrap_or(&self.rest)
    }

    /// The bucket of an S3-style `<bucket>:<id>`, if any.
    pub fn bucket(&self) -> Option<&str> {
        self.rest.rsplit_once(':').map(|(b, _)| b)
    }
}

/// A tabular file's preserved original (`datatable.originalfileformat`):
/// Dataverse keeps the uploaded file beside the tab-separated version it
/// made, under the storage id plus `.orig`, and the file's checksum and
/// the content to back up are the original's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Original {
    /// The original's MIME type (`application/x-stata`, ...).
    pub format: String,
    /// Its size, when recorded (`datatable.originalfilesize`).
    pub size: Option<u64>,
}

/// The suffix of a preserved original in the store and in the backup.
pub const ORIGINAL_SUFFIX: &str = ".orig";

/// One data file of the installation, as the listing yields it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataFile {
    /// `datafile.id` (= its `dvobject.id`).
    pub id: i64,
    /// The dataset's `dvobject.id`.
    pub dataset_db_id: i64,
    /// Its dataset's persistent identifier.
    pub dataset: DatasetId,
    /// The dataset directory in the store when it differs from
    /// `dataset.path()` (a dataset whose PID changed keeps its files under
    /// the alternative identifier marked as storage location).
    pub storage_dir: Option<String>,
    /// Where the file is stored; `None` when the database holds no storage
    /// identifier (no physical copy to back up).
    pub storage: Option<StorageIdentifier>,
    /// `dvobject.createdate`.
    pub created: Timestamp,
    /// Size in bytes (`datafile.filesize`, or the original's size).
    pub size: Option<u64>,
    /// The recorded checksum (of the original, for tabular files).
    pub checksum: Checksum,
    /// `datafile.contenttype`.
    pub content_type: String,
    /// The preserved original of a tabular file.
    pub original: Option<Original>,
}

impl DataFile {
    /// A file with the given id, dataset, storage identifier and checksum;
    /// created at the epoch, size unknown, `application/octet-stream`, not
    /// tabular. The fields are public: change what a test needs.
    pub fn new(id: i64, dataset: DatasetId, storage_identifier: &str, checksum: Checksum) -> Self {
        DataFile {
            id,
            dataset_db_id: 0,
            dataset,
            storage_dir: None,
            storage: Some(StorageIdentifier::parse(storage_identifier)),
            created: Timestamp::from_micros(0),
            size: None,
            checksum,
            content_type: "application/octet-stream".to_owned(),
            original: None,
        }
    }

    /// The dataset's directory within a store: `authority/identifier`
    /// (or the storage-location identifier's).
    pub fn dataset_dir(&self) -> String {
        self.storage_dir
            .clone()
            .unwrap_or_else(|| self.dataset.path())
    }

    /// The name of the object to back up within the dataset's directory:
    /// the storage id, plus `.orig` for a preserved original. `None`
    /// without a storage identifier.
    pub fn object_name(&self) -> Option<String> {
        let storage = self.storage.as_ref()?;
        let mut name = storage.storage_id().to_owned();
        if self.original.is_some() {
            name.push_str(ORIGINAL_SUFFIX);
        }
        Some(name)
    }

    /// The path of the backup copy, relative to a destination's root:
    /// `authority/identifier/storageid` (plus `.orig` for a preserved
    /// original). `None` without a storage identifier.
    pub fn backup_path(&self) -> Option<String> {
        Some(format!("{}/{}", self.dataset.path(), self.object_name()?))
    }

    /// `authority/identifier`, the status table's `datasetidentifier`.
    pub fn dataset_identifier(&self) -> String {
        self.dataset.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for s in [
            "1970-01-01 00:00:00.000000",
            "2024-02-29 13:45:01.123456",
            "1969-12-31 23:59:59.999999",
            "2000-03-01 00:00:00.000001",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.to_string(), s);
            assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
        }
        assert_eq!(
            Timestamp::parse("2024-01-02T03:04:05.5")
                .unwrap()
                .to_string(),
            "2024-01-02 03:04:05.500000"
        );
        assert_eq!(Timestamp::parse("2024-13-01 00:00:00"), None);
        assert!(
            Timestamp::parse("2024-01-01 00:00:00").unwrap()
                < Timestamp::parse("2024-01-01 00:00:00.000001").unwrap()
        );
    }

    #[test]
    fn storage_identifiers() {
        let f = StorageIdentifier::parse("file://18b39722140-50eb7d3c5ece");
        assert_eq!(
            (f.driver.as_str(), f.storage_id()),
            ("file", "18b39722140-50eb7d3c5ece")
        );
        assert_eq!(f.bucket(), None);
        let s = StorageIdentifier::parse("s3-east://my-bucket:18b39722140-50eb7d3c5ece");
        assert_eq!(s.driver, "s3-east");
        assert_eq!(s.bucket(), Some("my-bucket"));
        assert_eq!(s.storage_id(), "18b39722140-50eb7d3c5ece");
        let legacy = StorageIdentifier::parse("14e7d2a3a3c-8c1b2f3e4d5a");
        assert_eq!(legacy.driver, "file");
        assert_eq!(legacy.storage_id(), "14e7d2a3a3c-8c1b2f3e4d5a");
    }
}
