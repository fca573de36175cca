//! The name resolvers of the ACL commands and `archive --acls`: well-known
//! SIDs, NSS, and the directory of `[ldap]` in config.toml (or the
//! environment).

use ldap_attrs::{Cache, Chain, Ldap, LdapConfig, Secret};

use crate::commands::Ctx;
use crate::exit::{Code, coded};

/// An `[ldap]` setting: the environment (`PERMAFROST_LDAP_<KEY>`) wins
/// over the file.
fn setting(file: Option<&glacier_sync::settings::ConfigFile>, key: &str) -> Option<String> {
    let env = format!(
        "PERMAFROST_LDAP_{}",
        key.to_ascii_uppercase().replace('-', "_")
    );
    std::env::var(&env)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| file.and_then(|f| f.ldap(key)))
}

/// The directory's settings, when a URL is configured.
fn ldap_config(ctx: &Ctx<'_>) -> anyhow::Result<Option<LdapConfig>> {
    use glacier_sync::settings;
    let flag = ctx.config_flag.filter(|p| crate::defaults::is_toml(p));
    let file = match settings::locate(flag) {
        Some((path, found)) => {
            settings::load(&path, found).map_err(|e| coded(Code::Config, e.to_string()))?
        }
        None => None,
    };
    let file = file.as_ref();
    let Some(url) = setting(file, "url") else {
        return Ok(None);
    };
    let base = setting(file, "base").ok_or_else(|| {
        coded(
            Code::Config,
            "[ldap] url is set but base is not (config.toml [ldap] base, or PERMAFROST_LDAP_BASE)",
        )
    })?;
    let mut c = LdapConfig::new(url, base);
    if let Some(dn) = setting(file, "bind-dn") {
        let password = match (setting(file, "password"), setting(file, "password-file")) {
            (Some(p), _) => p,
            (None, Some(f)) => std::fs::read_to_string(&f)
                .map_err(|e| {
                    coded(
                        Code::Config,
                        format!("[ldap] password-file {f}: cannot read it: {e}"),
                    )
                })?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
            (None, None) => String::new(),
        };
        c = c.bind(dn, Secret::new(password));
    }
    c.starttls =
        setting(file, "starttls").is_some_and(|v| matches!(v.as_str(), "true" | "1" | "yes"));
    c.ca_file = setting(file, "ca-file").map(Into::into);
    Ok(Some(c))
}

/// The run's name cache: well-known SIDs, NSS, then the directory when
/// `ldap` and one is configured.
pub(crate) fn names(ctx: &Ctx<'_>, ldap: bool) -> anyhow::Result<Cache<Chain>> {
    let mut chain = Chain::local();
    if ldap && let Some(c) = ldap_config(ctx)? {
        tracing::debug!(url = %c.url, base = %c.base, bind_dn = ?c.bind_dn, "names through LDAP");
        chain = chain.then(Ldap::new(c));
    }
    Ok(Cache::new(chain))
}
