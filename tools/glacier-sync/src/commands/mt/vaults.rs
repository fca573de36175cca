//! `create-vault`, `delete-vault`, `list-vaults`.

use std::time::UNIX_EPOCH;

use anyhow::Context as _;
use serde_json::json;

use crate::cli::{CreateVaultArgs, DeleteVaultArgs, ListVaultsArgs, StoreArgs, VaultArgs};
use crate::commands::Ctx;
use crate::exit::Code;

fn target(ctx: &Ctx<'_>, name: &str, store: &StoreArgs) -> anyhow::Result<crate::store::Target> {
    ctx.vault(
        &VaultArgs {
            vault: Some(name.to_owned()),
            store: store.clone(),
        },
        None,
    )
}

pub(crate) fn create(ctx: &Ctx<'_>, args: &CreateVaultArgs) -> anyhow::Result<Code> {
    let t = target(ctx, &args.name, &args.store)?;
    t.store
        .create_vault(&t.vault)
        .with_context(|| format!("creating vault {:?}", t.vault))?;
    ctx.out.info(format!("created vault {}", t.vault));
    ctx.out.json(&json!({"created": t.vault}));
    Ok(Code::Success)
}

pub(crate) fn delete(ctx: &Ctx<'_>, args: &DeleteVaultArgs) -> anyhow::Result<Code> {
    let t = target(ctx, &args.name, &args.store)?;
    t.store
        .delete_vault(&t.vault)
        .with_context(|| format!("deleting vault {:?}", t.vault))?;
    ctx.out.info(format!("deleted vault {}", t.vault));
    ctx.out.json(&json!({"deleted": t.vault}));
    Ok(Code::Success)
}

pub(crate) fn list(ctx: &Ctx<'_>, args: &ListVaultsArgs) -> anyhow::Result<Code> {
    let (store, _) = ctx.store(&args.store)?;
    let vaults = store.list_vaults().context("listing vaults")?;
    let mut rows = Vec::new();
    for v in &vaults {
        let created = v
            .created
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        ctx.out.line(format!(
            "{}\t{} archives\t{} bytes",
            v.name, v.archives, v.size
        ));
        rows.push(
            json!({"name": v.name, "archives": v.archives, "size": v.size, "created": created}),
        );
    }
    ctx.out.json(&json!(rows));
    Ok(Code::Success)
}
