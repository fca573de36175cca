//! ACLs in the archive commands: the name resolvers (`[ldap]` of
//! config.toml, or the environment), `acl show`, `acl decode`, and the
//! readable owner and ACL of catalog rows (where-is, find --json).

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use archive_acls::Capture;
use catalog::{Catalog, FileEntry, FileHit};
use ldap_attrs::{AclFormat, Cache, Chain, Ldap, LdapConfig, Secret};
use serde_json::{Value, json};

use super::cli::{AclDecodeArgs, AclShowArgs, BlobFormat};
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

/// The owner, group and ACLs of a catalog row, readable.
pub(crate) fn access_json(f: &FileEntry) -> Value {
    let who = |name: &Option<String>, num: Option<u32>| match (name, num) {
        (Some(n), _) => json!(n),
        (None, Some(n)) => json!(n),
        (None, None) => Value::Null,
    };
    json!({
        "owner": who(&f.owner, f.uid),
        "group": who(&f.group, f.gid),
        "acls": f.acls.iter().map(|a| json!({
            "format": a.format,
            "owner": a.owner_name.as_ref().or(a.owner.as_ref()),
            "group": a.group_name.as_ref().or(a.group.as_ref()),
            "entries": a.entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The lines where-is prints under a version: owner, then each ACL entry.
pub(crate) fn access_lines(f: &FileEntry) -> Vec<String> {
    let name = |n: &Option<String>, num: Option<u32>| {
        n.clone()
            .or_else(|| num.map(|u| u.to_string()))
            .unwrap_or_else(|| "?".into())
    };
    let mut out = vec![format!(
        "  owner {} group {}",
        name(&f.owner, f.uid),
        name(&f.group, f.gid)
    )];
    for a in &f.acls {
        if let Some(o) = a.owner_name.as_ref().or(a.owner.as_ref()) {
            out.push(format!("  {} OWNER {o}", a.format));
        }
        if let Some(g) = a.group_name.as_ref().or(a.group.as_ref()) {
            out.push(format!("  {} GROUP {g}", a.format));
        }
        for e in &a.entries {
            out.push(format!("  {} {}", a.format, e.text));
        }
    }
    out
}

/// A hit as JSON with its owner and ACLs.
pub(crate) fn hit_json(cat: &Catalog, h: &FileHit) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(h)?;
    if let (Some(obj), Some((_, f))) = (v.as_object_mut(), cat.file(h.id)?)
        && let Value::Object(access) = access_json(&f)
    {
        obj.extend(access);
    }
    Ok(v)
}

/// `acl show PATH...`.
pub(crate) fn show(ctx: &Ctx<'_>, args: &AclShowArgs) -> anyhow::Result<Code> {
    use std::os::unix::fs::MetadataExt as _;
    let capture = Capture::new(args.acls.selection(), names(ctx, true)?);
    let mut files = Vec::new();
    let mut failed = false;
    for p in &args.paths {
        let meta = match std::fs::symlink_metadata(p) {
            Ok(m) => m,
            Err(e) => {
                ctx.out.warn(format!("{}: {e}", p.display()));
                failed = true;
                continue;
            }
        };
        let mut row = FileEntry {
            path: p.display().to_string(),
            uid: Some(meta.uid()),
            gid: Some(meta.gid()),
            mode: meta.mode(),
            ..FileEntry::default()
        };
        archiver::EntryHook::before_record(&capture, p, &mut row);
        if !meta.file_type().is_symlink()
            && let Err(e) = capture.acls_of(p)
        {
            ctx.out.warn(format!("{}: {e}", p.display()));
            failed = true;
        }
        ctx.out
            .line(format!("{}  mode {:o}", p.display(), row.mode & 0o7777));
        for l in access_lines(&row) {
            ctx.out.line(l);
        }
        let mut v = access_json(&row);
        if let Some(o) = v.as_object_mut() {
            o.insert("path".into(), json!(row.path));
            o.insert("mode".into(), json!(format!("{:o}", row.mode & 0o7777)));
        }
        files.push(v);
    }
    let st = capture.stats();
    ctx.out.json(&json!({"files": files, "lookups": st.names}));
    Ok(if failed { Code::Failure } else { Code::Success })
}

/// `acl decode --format F FILE`.
pub(crate) fn decode(ctx: &Ctx<'_>, args: &AclDecodeArgs) -> anyhow::Result<Code> {
    let blob = if args.file == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading standard input")?;
        b
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let acl = match args.format {
        BlobFormat::Posix if args.default => ldap_attrs::posix::decode(None, Some(&blob)),
        BlobFormat::Posix => ldap_attrs::decode(AclFormat::Posix, &blob),
        BlobFormat::Nfs4 => ldap_attrs::decode(AclFormat::Nfs4, &blob),
        BlobFormat::Cifs => ldap_attrs::decode(AclFormat::Nt, &blob),
    }
    .map_err(|e| {
        coded(
            Code::Failure,
            format!("{}: not a {:?} ACL: {e}", args.file.display(), args.format),
        )
    })?;
    let names = Cache::new(Chain::local());
    let name = |p: &ldap_attrs::Principal| names.lookup(p).map(|a| a.name);
    let lines = acl.lines(&name);
    let entries: Vec<Value> = acl
        .entries
        .iter()
        .chain(&acl.audit)
        .map(|e| {
            json!({
                "kind": e.kind.label(),
                "who": archive_acls::principal_key(&e.who),
                "name": name(&e.who),
                "mask": e.mask,
                "rights": ldap_attrs::rights_text(acl.format, e.mask),
                "flags": e.flags,
                "flag_names": ldap_attrs::flags_text(acl.format, e.flags),
                "default": e.default,
                "inherited": e.is_inherited(acl.format),
                "text": e.text(acl.format, &name),
            })
        })
        .collect();
    let doc = json!({
        "format": acl.format,
        "owner": acl.owner.as_ref().map(archive_acls::principal_key),
        "group": acl.group.as_ref().map(archive_acls::principal_key),
        "control": acl.nt.map(|n| ldap_attrs::nt_bits::control_text(n.control)),
        "entries": entries,
        "lines": lines,
        "acl": acl,
    });
    // Always JSON on standard output (the command's purpose).
    crate::output::Output {
        json: true,
        ..ctx.out
    }
    .json(&doc);
    Ok(Code::Success)
}
