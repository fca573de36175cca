//! What the archive-flow commands (archive, retrieve, watch, catalog,
//! backup) share and that is no command of its own: the data directory's
//! catalog and vault, the observer that turns the flows' events into
//! messages and progress bars, the `--max-cost` refusal, and paths made
//! absolute for the catalog.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use archiver::{ArchiveCatalog, Notice, Observer, RunStarted, Transfer, Vault, Warning};
use catalog::Catalog;

use crate::commands::Ctx;
use crate::output::Output;
use crate::store;

use crate::commands::archive::cli::Place;

/// The catalog path: `--catalog`, else `catalog.sqlite` in the data
/// directory.
pub(crate) fn catalog_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p.to_owned()),
        None => Ok(archiver::data_home()?.join(catalog::DEFAULT_FILE_NAME)),
    }
}

/// The variable naming a file whose first line is the password of a
/// PostgreSQL catalog (tried before `PGPASSWORD` and `~/.pgpass`).
pub(crate) const PASSWORD_FILE_VAR: &str = "PERMAFROST_CATALOG_PASSWORD_FILE";

/// `--catalog`'s value when it names a PostgreSQL catalog
/// (`postgres://…` or `postgresql://…`).
pub(crate) fn postgres_location(given: Option<&Path>) -> Option<&str> {
    given
        .and_then(Path::to_str)
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Opens (creating) the catalog with what is kept beside it: an SQLite
/// file with its side files, or a PostgreSQL database (its side values in
/// it; job downloads in `work/` under the data directory).
pub(crate) fn open_records(given: Option<&Path>) -> anyhow::Result<ArchiveCatalog> {
    if let Some(location) = postgres_location(given) {
        let work = archiver::data_home()?.join("work");
        let password_file = std::env::var_os(PASSWORD_FILE_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        return ArchiveCatalog::open_location(location, password_file.as_deref(), &work)
            .context("opening the catalog");
    }
    let path = catalog_path(given)?;
    ArchiveCatalog::open(&path).with_context(|| format!("opening the catalog {}", path.display()))
}

/// The PostgreSQL catalog `--catalog` names, for runs shared by many
/// hosts; a usage error naming `option` for any other catalog.
#[cfg(feature = "postgres")]
pub(crate) fn cluster(
    given: Option<&Path>,
    option: &str,
) -> anyhow::Result<archiver::distributed::Cluster> {
    let Some(location) = postgres_location(given) else {
        return Err(crate::exit::coded(
            crate::exit::Code::Usage,
            format!(
                "{option} needs a catalog every worker's host shares: --catalog postgres://USER@HOST:PORT/DB (the catalog here is {}, an SQLite file of this host)",
                given.map_or_else(|| "the default".to_owned(), |p| p.display().to_string())
            ),
        ));
    };
    let work = archiver::data_home()?.join("work");
    let password_file = std::env::var_os(PASSWORD_FILE_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    archiver::distributed::Cluster::new(location, password_file.as_deref(), &work)
        .context("opening the catalog")
}

/// Opens (creating) the catalog alone.
pub(crate) fn open_catalog(given: Option<&Path>) -> anyhow::Result<Catalog> {
    Ok(open_records(given)?.into_catalog())
}

/// Opens the vault of `place` (default: the embedded local store, vault
/// `default`).
pub(crate) fn open_vault(ctx: &Ctx<'_>, place: &Place) -> anyhow::Result<Vault> {
    let target = if let Some(v) = place.vault.as_deref() {
        store::open_vault(v, &place.store, ctx.config)?
    } else {
        let none = crate::cli::StoreArgs {
            store: None,
            endpoint_url: None,
        };
        store::open_vault(&archiver::default_vault_location()?, &none, ctx.config)?
    };
    Ok(Vault::new(target.store, target.vault).of_location(target.remote))
}

/// Messages on standard error and progress bars for the flows' events.
pub(crate) struct Shown {
    out: Output,
    bars: bool,
}

impl Shown {
    pub(crate) fn new(ctx: &Ctx<'_>) -> Shown {
        Shown {
            out: ctx.out,
            bars: ctx.progress_visible(),
        }
    }
}

impl Observer for Shown {
    fn run_started(&self, r: &RunStarted) {
        self.out.info(format!(
            "archiving {} files ({}) in {} bundles to vault {} of {} (run {})",
            r.files,
            archiver::human_bytes(r.bytes),
            r.bundles,
            r.vault,
            r.store,
            r.uid
        ));
    }

    fn progress(&self, t: &Transfer<'_>) -> Box<dyn glacier_multipart::Progress + '_> {
        Box::new(crate::progress::Bar::new(t.label(), self.bars))
    }

    fn notice(&self, n: &Notice) {
        self.out.info(n);
    }

    fn warning(&self, w: &Warning) {
        match w {
            Warning::OtherVault { .. } => self.out.warn(format!("{w} (pass --vault)")),
            Warning::JobExpired { .. } => {
                self.out.warn(format!("{w} with `glacier-sync retrieve`"));
            }
            _ => self.out.warn(w),
        }
    }
}

/// Refuses a retrieval plan whose estimated cost exceeds `--max-cost`
/// (exit 5, nothing requested).
pub(crate) fn refuse_over_cost(
    plan: &archiver::RetrievePlan,
    max: Option<f64>,
) -> anyhow::Result<()> {
    match max {
        Some(max) if plan.exceeds(max) => Err(crate::exit::coded(
            crate::exit::Code::CostLimit,
            format!(
                "the estimated cost ${:.4} exceeds --max-cost {max}; nothing requested",
                plan.usd
            ),
        )),
        _ => Ok(()),
    }
}

/// `p` as an absolute path string (relative to the current directory),
/// without resolving links: the file may no longer exist.
pub(crate) fn absolute(p: &std::path::Path) -> String {
    let abs = if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_owned(), |d| d.join(p))
    };
    let s = abs.display().to_string();
    if s.len() > 1 {
        s.trim_end_matches('/').to_owned()
    } else {
        s
    }
}
