//! The [`Source`] seam: where data files are listed and read from.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::Mutex;

use crate::database::{DatabaseConfig, ListOptions, list_files};
use crate::error::{Error, Result};
use crate::model::DataFile;
use crate::store::Stores;

/// The files of a listing, in `createdate` order; an `Err` item ends it.
pub type Files<'a> = Box<dyn Iterator<Item = Result<DataFile>> + Send + 'a>;

/// A Dataverse installation as a backup sees it: a listing of data files
/// and a way to read each one.
pub trait Source: Send + Sync + fmt::Debug {
    /// The data files of non-harvested datasets, created at or after
    /// `options.created_since` when set, in `createdate` order then id.
    /// Streams: memory does not grow with the number of files.
    fn list(&self, options: &ListOptions) -> Result<Files<'_>>;

    /// Opens the object to back up (the preserved original of a tabular
    /// file).
    fn open(&self, file: &DataFile) -> Result<Box<dyn Read + Send>>;

    /// Where `file`'s object is, for messages.
    fn locate(&self, file: &DataFile) -> String;
}

/// A real installation: its PostgreSQL database and its stores.
#[derive(Debug, Clone)]
pub struct DataverseSource {
    database: DatabaseConfig,
    stores: Stores,
    fetch_size: usize,
}

impl DataverseSource {
    /// The installation whose database is `database` and whose files are in
    /// `stores`.
    pub fn new(database: DatabaseConfig, stores: Stores) -> Self {
        DataverseSource {
            database,
            stores,
            fetch_size: 1000,
        }
    }

    /// Fetches `n` rows at a time from the cursor (default 1000).
    #[must_use]
    pub fn fetch_size(mut self, n: usize) -> Self {
        self.fetch_size = n.max(1);
        self
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }
}

impl Source for DataverseSource {
    fn list(&self, options: &ListOptions) -> Result<Files<'_>> {
        let mut options = options.clone();
        if options.fetch_size == 0 {
            options.fetch_size = self.fetch_size;
        }
        Ok(Box::new(list_files(&self.database, &options)?))
    }

    fn open(&self, file: &DataFile) -> Result<Box<dyn Read + Send>> {
        self.stores.open(file)
    }

    fn locate(&self, file: &DataFile) -> String {
        match self.stores.resolve(file) {
            Ok((store, name)) => store.locate(file, &name),
            Err(e) => e.to_string(),
        }
    }
}

/// A fault a [`MemorySource`] injects into one file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceFault {
    /// Opening fails (a missing file, a denied read).
    Open,
    /// Reading fails after this many bytes.
    ReadAfter(u64),
    /// The content read differs from what was stored (one byte flipped).
    Corrupt,
}

/// An in-memory installation for tests: files, their contents, and faults
/// to inject by file id.
#[derive(Default)]
pub struct MemorySource {
    files: Mutex<Vec<DataFile>>,
    contents: Mutex<HashMap<i64, Vec<u8>>>,
    faults: Mutex<HashMap<i64, SourceFault>>,
    list_fails_after: Mutex<Option<usize>>,
}

impl fmt::Debug for MemorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySource")
            .field("files", &lock(&self.files).len())
            .finish_non_exhaustive()
    }
}

impl MemorySource {
    /// No files.
    pub fn new() -> Self {
        MemorySource::default()
    }

    /// Adds a file with its content (listing keeps `createdate`, id order).
    pub fn add(&self, file: DataFile, content: impl Into<Vec<u8>>) {
        let mut files = lock(&self.files);
        lock(&self.contents).insert(file.id, content.into());
        files.push(file);
        files.sort_by_key(|f| (f.created, f.id));
    }

    /// Injects `fault` into file `id`.
    pub fn inject(&self, id: i64, fault: SourceFault) {
        lock(&self.faults).insert(id, fault);
    }

    /// Removes the fault of file `id`.
    pub fn heal(&self, id: i64) {
        lock(&self.faults).remove(&id);
    }

    /// The listing fails (as a dropped database connection) after `n` files.
    pub fn fail_listing_after(&self, n: Option<usize>) {
        *lock(&self.list_fails_after) = n;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Source for MemorySource {
    fn list(&self, options: &ListOptions) -> Result<Files<'_>> {
        let files: Vec<DataFile> = lock(&self.files)
            .iter()
            .filter(|f| options.created_since.is_none_or(|t| f.created >= t))
            .cloned()
            .collect();
        let fail_after = *lock(&self.list_fails_after);
        let mut items: Vec<Result<DataFile>> = Vec::with_capacity(files.len() + 1);
        for (i, f) in files.into_iter().enumerate() {
            if fail_after == Some(i) {
                items.push(Err(Error::Injected {
                    what: format!("listing connection dropped after {i} files"),
                }));
                break;
            }
            items.push(Ok(f));
        }
        Ok(Box::new(items.into_iter()))
    }

    fn open(&self, file: &DataFile) -> Result<Box<dyn Read + Send>> {
        let fault = lock(&self.faults).get(&file.id).cloned();
        let path = self.locate(file);
        if fault == Some(SourceFault::Open) {
            return Err(Error::io(
                "opening",
                path,
                io::Error::new(io::ErrorKind::NotFound, "injected: no such file"),
            ));
        }
        let mut data = lock(&self.contents)
            .get(&file.id)
            .cloned()
            .ok_or_else(|| Error::io("opening", &path, io::ErrorKind::NotFound.into()))?;
        match fault {
            Some(SourceFault::Corrupt) => {
                if let Some(b) = data.first_mut() {
                    *b ^= 0x55;
                } else {
                    data.push(0);
                }
                Ok(Box::new(io::Cursor::new(data)))
            }
            Some(SourceFault::ReadAfter(n)) => Ok(Box::new(FailAfter {
                inner: io::Cursor::new(data),
                left: n,
            })),
            _ => Ok(Box::new(io::Cursor::new(data))),
        }
    }

    fn locate(&self, file: &DataFile) -> String {
        format!(
            "memory:{}/{}",
            file.dataset_dir(),
            file.object_name().unwrap_or_default()
        )
    }
}

/// A reader that fails with an I/O error once `left` bytes have been read.
#[derive(Debug)]
pub(crate) struct FailAfter<R> {
    pub(crate) inner: R,
    pub(crate) left: u64,
}

impl<R: Read> Read for FailAfter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("injected: read error"));
        }
        let max = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}
