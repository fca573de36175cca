//! The command line of `acl show`, `acl decode`, and `archive --acls`'s
//! choice of ACLs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Which ACLs `--acls` captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AclsArg {
    /// Whatever the filesystem has (POSIX, NFSv4, CIFS).
    Auto,
    /// POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`).
    Posix,
    /// NFSv4 ACLs (`system.nfs4_acl`).
    Nfs4,
    /// CIFS security descriptors (`system.cifs_acl`).
    Cifs,
    /// None.
    None,
}

impl AclsArg {
    pub(crate) fn selection(self) -> ldap_attrs::AclSelection {
        use ldap_attrs::AclSelection as S;
        match self {
            AclsArg::Auto => S::Auto,
            AclsArg::Posix => S::Posix,
            AclsArg::Nfs4 => S::Nfs4,
            AclsArg::Cifs => S::Cifs,
            AclsArg::None => S::None,
        }
    }
}

/// ACLs: what `archive --acls` would capture, and raw blobs decoded.
///
/// The directory that names SIDs is configured in config.toml's `[ldap]`
/// table (url, base, bind-dn, password or password-file, starttls,
/// ca-file) or the environment (`PERMAFROST_LDAP_URL`, `_BASE`, `_BIND_DN`,
/// `_PASSWORD`, `_PASSWORD_FILE`, `_STARTTLS`, `_CA_FILE`), never the command
/// line.
#[derive(Debug, Args)]
pub(crate) struct AclArgs {
    #[command(subcommand)]
    pub(crate) command: AclCommand,
}

/// The acl subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AclCommand {
    /// Show the owner and ACLs of files as `archive --acls` would capture
    /// them, names resolved (text, or --json).
    Show(AclShowArgs),
    /// Decode a raw ACL blob (an xattr value) to JSON, names resolved as
    /// `acl show` resolves them.
    Decode(AclDecodeArgs),
}

/// See [`AclCommand::Show`].
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct AclShowArgs {
    /// Files and directories.
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Which ACLs to read.
    #[arg(long = "acls", value_enum, default_value_t = AclsArg::Auto)]
    pub(crate) acls: AclsArg,
}

/// The formats `acl decode` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BlobFormat {
    /// An NT security descriptor, self-relative (`system.cifs_acl`).
    Cifs,
    /// An NFSv4 ACL, XDR (`system.nfs4_acl`).
    Nfs4,
    /// A POSIX ACL xattr value (`system.posix_acl_access` or `_default`).
    Posix,
}

impl BlobFormat {
    /// The value of `--format`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BlobFormat::Cifs => "cifs",
            BlobFormat::Nfs4 => "nfs4",
            BlobFormat::Posix => "posix",
        }
    }

    /// What a blob of this format is, for errors ("not a ...").
    pub(crate) fn expected(self, default: bool) -> &'static str {
        match (self, default) {
            (BlobFormat::Cifs, _) => {
                "a self-relative NT security descriptor (the value of system.cifs_acl)"
            }
            (BlobFormat::Nfs4, _) => "an XDR-encoded NFSv4 ACL (the value of system.nfs4_acl)",
            (BlobFormat::Posix, false) => "a POSIX ACL (the value of system.posix_acl_access)",
            (BlobFormat::Posix, true) => {
                "a POSIX default ACL (the value of system.posix_acl_default)"
            }
        }
    }
}

/// See [`AclCommand::Decode`].
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct AclDecodeArgs {
    /// The blob's format.
    #[arg(long = "format", value_enum)]
    pub(crate) format: BlobFormat,
    /// The file holding the raw blob (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// A POSIX blob is a default ACL (`system.posix_acl_default`).
    #[arg(long = "default")]
    pub(crate) default: bool,
}
