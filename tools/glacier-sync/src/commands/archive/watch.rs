//! `glacier-sync watch`: poll pending retrieval jobs; download, verify,
//! decrypt and extract each completed one (`archiver::watch`).

use std::time::Duration;

use anyhow::Context as _;
use archiver::{ArchiveCatalog, Vault, WatchOptions, WatchOutcome};
use bundler::Decryption;

use super::cli::{DecryptArgs, WatchArgs};
use crate::commands::Ctx;
use crate::commands::flow::{Shown, open_records, open_vault};
use crate::exit::Code;

pub(crate) fn run(ctx: &Ctx<'_>, args: &WatchArgs) -> anyhow::Result<Code> {
    let mut cat = open_records(args.place.catalog.as_deref())?;
    let vault = open_vault(ctx, &args.place)?;
    watch(
        ctx,
        &vault,
        &mut cat,
        args.interval,
        args.once,
        &args.decrypt,
    )
}

/// Polls until no job is pending (or once: exit 6 while some are).
pub(crate) fn watch(
    ctx: &Ctx<'_>,
    vault: &Vault,
    cat: &mut ArchiveCatalog,
    interval: u64,
    once: bool,
    decrypt: &DecryptArgs,
) -> anyhow::Result<Code> {
    let decryption = match &decrypt.identity {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading the identity file {}", p.display()))?;
            Some(Decryption::identity_file(&text).with_context(|| p.display().to_string())?)
        }
        None => None,
    };
    let restore = std::sync::Arc::new(archive_acls::Restore::default());
    let options = WatchOptions {
        interval: Duration::from_secs(interval),
        once,
        decryption,
        restore_owners: decrypt.same_owner.then_some(true),
        after_extract: Some(restore.clone()),
        ..WatchOptions::default()
    };
    let result = archiver::watch(vault, cat, &options, &Shown::new(ctx));
    let st = restore.stats();
    if st.applied + st.sidecar + st.failed > 0 {
        ctx.out.info(format!(
            "ACLs: {} written back, {} listed in {} (not supported by the target filesystem), {} failed",
            st.applied,
            st.sidecar,
            archive_acls::SIDECAR,
            st.failed
        ));
    }
    match result {
        Ok(WatchOutcome::Done) => Ok(Code::Success),
        Ok(_) => Ok(Code::Pending),
        Err(archiver::Error::Extract {
            job,
            archive_id,
            identity_given: false,
            source,
        }) => Err(anyhow::Error::new(*source).context(format!(
            "extracting job {job} (archive {archive_id}) (an encrypted bundle needs --identity FILE)"
        ))),
        Err(e) => Err(e.into()),
    }
}
