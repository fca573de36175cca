//! mt-aws-glacier's commands, one file each, with its names and options.

pub(crate) mod vaults;
