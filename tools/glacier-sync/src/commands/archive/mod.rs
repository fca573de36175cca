//! The archive commands: `archive`, `find`, `where-is`, `retrieve`, `jobs`,
//! `watch`, `worker`, `catalog rebuild`, `catalog check`, one file each; the work is
//! the `archiver` crate's. What they share with each other and with
//! `backup` (catalog, vault, observer) is in `commands::flow`.

// One file per command; `archive` is the command of this family's name.
#[allow(clippy::module_inception)]
pub(crate) mod archive;
pub(crate) mod catalog_check;
pub(crate) mod catalog_rebuild;
pub(crate) mod cli;
pub(crate) mod find;
pub(crate) mod jobs;
pub(crate) mod retrieve;
pub(crate) mod watch;
pub(crate) mod where_is;
pub(crate) mod worker;
