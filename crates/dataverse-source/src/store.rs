//! Dataverse's file stores, by driver id.
//!
//! Dataverse names each configured store (`dataverse.files.<id>.type`):
//! the id is the prefix of a file's storage identifier (`file://...`,
//! `s3://...`, `s3-east://...`) and the type says how to read it. The
//! backup tool maps ids to [`FileStore`]s in its configuration; this crate
//! provides the file-system store and, with the `s3` feature, the S3 store.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::DataFile;

/// One store of an installation: opens the stored object of a file.
pub trait FileStore: Send + Sync + fmt::Debug {
    /// The store type (`file`, `s3`, ...), for messages.
    fn kind(&self) -> &'static str;

    /// Opens the object to back up: `object_name` (the storage id, plus
    /// `.orig` for a preserved original) in the dataset's directory.
    fn open(&self, file: &DataFile, object_name: &str) -> Result<Box<dyn Read + Send>>;

    /// Where the object is, for messages (`/srv/files/10.5072/FK2/X/id`,
    /// `s3://bucket/10.5072/FK2/X/id`).
    fn locate(&self, file: &DataFile, object_name: &str) -> String;
}

/// Checks that a path built from database values stays below its root:
/// relative, no `..`, no empty name.
pub(crate) fn safe_relative(file: &DataFile, path: &str) -> Result<()> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\0')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(Error::UnsafePath {
            file_id: file.id,
            path: path.to_owned(),
        })
    }
}

/// A file-system store: `<directory>/<authority>/<identifier>/<storage id>`
/// (the `[Repository] FileSystemDirectory` of the original script, or
/// Dataverse's `dataverse.files.<id>.directory`).
#[derive(Debug, Clone)]
pub struct FileSystemStore {
    root: PathBuf,
}

impl FileSystemStore {
    /// The store whose dataset directories are under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileSystemStore { root: root.into() }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of an object, checked to stay below the root.
    pub fn path_of(&self, file: &DataFile, object_name: &str) -> Result<PathBuf> {
        let rel = format!("{}/{}", file.dataset_dir(), object_name);
        safe_relative(file, &rel)?;
        Ok(self.root.join(rel))
    }
}

impl FileStore for FileSystemStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn open(&self, file: &DataFile, object_name: &str) -> Result<Box<dyn Read + Send>> {
        let path = self.path_of(file, object_name)?;
        let f = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
        Ok(Box::new(PathReader { inner: f, path }))
    }

    fn locate(&self, file: &DataFile, object_name: &str) -> String {
        self.root
            .join(file.dataset_dir())
            .join(object_name)
            .display()
            .to_string()
    }
}

/// A reader whose errors name the file.
struct PathReader {
    inner: File,
    path: PathBuf,
}

impl Read for PathReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            std::io::Error::new(e.kind(), format!("reading {}: {e}", self.path.display()))
        })
    }
}

/// The stores of an installation by driver id.
#[derive(Debug, Clone, Default)]
pub struct Stores {
    by_id: BTreeMap<String, Arc<dyn FileStore>>,
}

impl Stores {
    /// No stores.
    pub fn new() -> Self {
        Stores::default()
    }

    /// Adds (or replaces) the store of driver id `id`.
    #[must_use]
    pub fn with(mut self, id: impl Into<String>, store: Arc<dyn FileStore>) -> Self {
        self.insert(id, store);
        self
    }

    /// Adds (or replaces) the store of driver id `id`.
    pub fn insert(&mut self, id: impl Into<String>, store: Arc<dyn FileStore>) {
        self.by_id.insert(id.into(), store);
    }

    /// The store of driver id `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn FileStore>> {
        self.by_id.get(id)
    }

    /// The configured driver ids.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// The store holding `file` and the object name within it.
    pub fn resolve(&self, file: &DataFile) -> Result<(&Arc<dyn FileStore>, String)> {
        let storage = file
            .storage
            .as_ref()
            .ok_or(Error::NoStorage { file_id: file.id })?;
        let store = self
            .get(&storage.driver)
            .ok_or_else(|| Error::UnknownDriver {
                driver: storage.driver.clone(),
                file_id: file.id,
                storage_identifier: storage.raw.clone(),
            })?;
        let name = file
            .object_name()
            .ok_or(Error::NoStorage { file_id: file.id })?;
        Ok((store, name))
    }

    /// Opens the object to back up of `file`.
    pub fn open(&self, file: &DataFile) -> Result<Box<dyn Read + Send>> {
        let (store, name) = self.resolve(file)?;
        store.open(file, &name)
    }
}
