//! ACLs in the tool: `acl show`, `acl decode` (their command line in
//! `cli`), the name resolvers (`ldap`), and the owner and ACLs of catalog
//! hits for find and where-is (the text itself is `archive_acls::display`).

pub(crate) mod cli;
mod ldap;

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use archive_acls::Capture;
use archive_acls::display::{access_json, access_lines};
use catalog::{Catalog, FileEntry, FileHit};
use ldap_attrs::AclFormat;
use serde_json::{Value, json};

use crate::commands::Ctx;
use crate::exit::{Code, coded};
use cli::{AclDecodeArgs, AclShowArgs, BlobFormat};

pub(crate) use ldap::names;

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
            format!(
                "{}: not {} (--format {}): {e}",
                args.file.display(),
                args.format.expected(args.default),
                args.format.as_str()
            ),
        )
    })?;
    // Names as `archive --acls` would give them: well-known SIDs, NSS, and
    // the directory of `[ldap]` when one is configured.
    let names = names(ctx, true)?;
    let name = |p: &ldap_attrs::Principal| names.lookup(p).map(|a| a.name);
    let lines = acl.lines(&name);
    // A POSIX entry that leaves a named principal nothing is a DENY (see
    // `Acl::denies`); audit entries are what they say.
    let entries: Vec<Value> = acl
        .entries
        .iter()
        .map(|e| (e, acl.effective_kind(e), acl.entry_text(e, &name)))
        .chain(
            acl.audit
                .iter()
                .map(|e| (e, e.kind, e.text(acl.format, &name))),
        )
        .map(|(e, kind, text)| {
            json!({
                "kind": kind.label(),
                "who": archive_acls::principal_key(&e.who),
                "name": name(&e.who),
                "mask": e.mask,
                "rights": ldap_attrs::rights_text(acl.format, e.mask),
                "flags": e.flags,
                "flag_names": ldap_attrs::flags_text(acl.format, e.flags),
                "default": e.default,
                "inherited": e.is_inherited(acl.format),
                "text": text,
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
        "lookups": names.stats(),
    });
    // Always JSON on standard output (the command's purpose).
    crate::output::Output {
        json: true,
        ..ctx.out
    }
    .json(&doc);
    Ok(Code::Success)
}
