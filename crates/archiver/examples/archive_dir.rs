//! Archive a directory into a local store, the way another program would
//! use the engine:
//!
//! ```text
//! cargo run -p archiver --example archive_dir -- DIR [DATA_DIR]
//! ```
//!
//! `DATA_DIR` (default `./archive-data`) receives the local store (vault
//! `default`) and the catalog. Run it twice: the second run archives only
//! what changed.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use archiver::glacier_multipart::LocalStore;
use archiver::{ArchiveCatalog, ArchiveOptions, NoObserver, Sources, Vault};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let dir = args.next().ok_or("usage: archive_dir DIR [DATA_DIR]")?;
    let data = args.next().unwrap_or_else(|| "archive-data".into());
    let data = std::path::PathBuf::from(data);

    let store = Arc::new(LocalStore::open(data.join("store"))?);
    let vault = Vault::new(store, archiver::DEFAULT_VAULT);
    let mut catalog = ArchiveCatalog::open(data.join("catalog.sqlite"))?;
    let options = ArchiveOptions::default().description("archive_dir example");
    let summary = archiver::archive(
        &Sources::roots([dir]),
        &options,
        &vault,
        &mut catalog,
        &NoObserver,
    )?;

    match &summary.run {
        Some(run) => println!(
            "run {run}: {} files, {} bytes in {} bundles ({} bytes stored)",
            summary.files, summary.bytes, summary.bundles, summary.stored_bytes
        ),
        None => println!(
            "nothing new or changed ({} entries unchanged)",
            summary.unchanged
        ),
    }
    Ok(())
}
