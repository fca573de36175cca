//! Where the catalog lives when no one says: the Permafrost data directory.

use std::path::PathBuf;

/// The catalog's file name in the data directory.
pub const DEFAULT_FILE_NAME: &str = "catalog.sqlite";

/// The Permafrost data directory: `$PERMAFROST_HOME`, else
/// `$XDG_DATA_HOME/permafrost`, else `$HOME/.local/share/permafrost`;
/// `None` when none of them is set. Every tool keeps its default catalog
/// there, so that they share one.
pub fn data_home() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|p| !p.is_empty());
    if let Some(p) = var("PERMAFROST_HOME") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = var("XDG_DATA_HOME") {
        return Some(PathBuf::from(p).join("permafrost"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".local/share/permafrost"))
}

/// The default catalog: [`DEFAULT_FILE_NAME`] in [`data_home`].
pub fn default_path() -> Option<PathBuf> {
    data_home().map(|d| d.join(DEFAULT_FILE_NAME))
}
