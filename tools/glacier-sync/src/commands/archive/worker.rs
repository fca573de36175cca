//! `glacier-sync worker`: join archive runs shared by many hosts
//! (`archiver::distributed::Cluster::work`).

use archiver::human_bytes;
use serde_json::json;

use super::cli::WorkerArgs;
use crate::commands::Ctx;
use crate::exit::Code;

#[cfg(feature = "postgres")]
pub(crate) fn run(ctx: &Ctx<'_>, args: &WorkerArgs) -> anyhow::Result<Code> {
    use crate::commands::acl::cli::AclsArg;
    use crate::commands::flow::{Shown, cluster};
    let cluster = cluster(Some(&args.catalog), "worker")?;
    let mut cat = cluster.open_catalog()?;
    // Owners' names, as `archive` records them.
    let capture = std::sync::Arc::new(archive_acls::Capture::new(
        AclsArg::None.selection(),
        crate::commands::acl::names(ctx, false)?,
    ));
    capture.seed_from(cat.catalog())?;
    let mut options = archiver::distributed::WorkerOptions {
        run: args.run.clone(),
        follow: args.follow,
        entry_hook: Some(capture.clone()),
        ..archiver::distributed::WorkerOptions::default()
    };
    if let Some(j) = args.jobs {
        options.jobs = usize::from(j);
    }
    let endpoint_url = args.endpoint_url.clone();
    // The archiver's error, as its `Cluster::work` takes it.
    #[allow(clippy::result_large_err)]
    let open_vault = |spec: &archiver::distributed::RunSpec| {
        let store_args = crate::cli::StoreArgs {
            store: Some(spec.store.clone()),
            endpoint_url: endpoint_url.clone(),
        };
        let target =
            crate::store::open_vault(&spec.vault, &store_args, ctx.config).map_err(|e| {
                archiver::Error::InvalidEntry {
                    path: format!("{} vault {}: {e:#}", spec.store, spec.vault),
                    reason: "the run's store cannot be opened on this host",
                }
            })?;
        Ok(archiver::Vault::new(target.store, target.vault).of_location(target.remote))
    };
    let shown = Shown::new(ctx);
    let s = cluster.work(&options, &open_vault, &shown)?;
    capture.save_to(cat.catalog_mut())?;
    ctx.out.info(format!(
        "worked on {} units: {} files ({}) in {} bundles ({} stored){}",
        s.units,
        s.files,
        human_bytes(s.bytes),
        s.bundles,
        human_bytes(s.stored_bytes),
        if s.runs_closed.is_empty() {
            String::new()
        } else {
            format!("; ended run(s) {}", s.runs_closed.join(", "))
        }
    ));
    ctx.out.json(&json!({
        "units": s.units,
        "files": s.files,
        "bytes": s.bytes,
        "bundles": s.bundles,
        "stored_bytes": s.stored_bytes,
        "runs_closed": s.runs_closed,
    }));
    Ok(Code::Success)
}

#[cfg(not(feature = "postgres"))]
pub(crate) fn run(_: &Ctx<'_>, _: &WorkerArgs) -> anyhow::Result<Code> {
    Err(crate::exit::coded(
        Code::Usage,
        "worker needs a build with the `postgres` feature (a PostgreSQL catalog shared by the workers' hosts)",
    ))
}
