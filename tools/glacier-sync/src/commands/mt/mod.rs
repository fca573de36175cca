//! mt-aws-glacier's commands, one file each, with its names and options.

pub(crate) mod check_local_hash;
pub(crate) mod download_inventory;
pub(crate) mod purge_vault;
pub(crate) mod restore;
pub(crate) mod restore_completed;
pub(crate) mod retrieve_inventory;
pub(crate) mod sync;
pub(crate) mod upload_file;
pub(crate) mod vaults;
