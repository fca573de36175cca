//! NFSv4 and CIFS ACLs with DENY entries through the archive engine:
//! captured by [`Capture`] while `archiver::archive` records a real tree
//! (the ACL xattrs handed in through [`MemoryXattrs`]: ext4 refuses
//! `system.nfs4_acl` and `system.cifs_acl`), found by `acl:deny` and
//! `acl:NAME`, shown by [`archive_acls::display`] (what `where-is` and
//! `find --json` print) with DENY entries in their place, and the same
//! after the catalog is rebuilt from the run's export in the vault.
//!
//! The blobs are packed here by hand from the layouts (XDR for NFSv4,
//! the self-relative security descriptor for CIFS), not by the crate's
//! encoders, so the decoders are checked against an independent writer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use archive_acls::Capture;
use archive_acls::display::{access_json, access_lines};
use archiver::glacier_multipart::{ArchiveStore, LocalStore};
use archiver::{ArchiveCatalog, ArchiveOptions, NoObserver, Sources, Vault};
use ldap_attrs::{
    Account, AccountClass, AclSelection, Cache, Chain, MemoryXattrs, Principal, ResolveError,
    Resolver, nfs4, nt,
};

// NFSv4 ACE types (RFC 7530 6.2.1.1) and flags.
const ALLOW: u32 = 0;
const DENY: u32 = 1;
const IDENTIFIER_GROUP: u32 = 0x40;
// Access masks: NT's FULL, READ (FILE_GENERIC_READ | EXECUTE) and CHANGE;
// NFSv4's bits have the same values.
const FULL: u32 = 0x001f_01ff;
const READ: u32 = 0x0012_00a9;
const WRITE_DATA: u32 = 0x2;

/// `system.nfs4_acl` as the Linux NFS client gives it: XDR, big-endian, a
/// `u32` count, then per ACE `type, flag, access_mask` (`u32` each) and
/// `who` as a `u32` length and its bytes zero-padded to a multiple of 4.
fn nfs4_blob(aces: &[(u32, u32, u32, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u32::try_from(aces.len()).unwrap().to_be_bytes());
    for (t, flags, mask, who) in aces {
        for v in [t, flags, mask] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&u32::try_from(who.len()).unwrap().to_be_bytes());
        b.extend_from_slice(who.as_bytes());
        b.resize(b.len().next_multiple_of(4), 0);
    }
    b
}

/// A SID in binary: revision 1, the sub-authority count, the 48-bit
/// identifier authority big-endian, the sub-authorities little-endian.
fn sid(text: &str) -> Vec<u8> {
    let p: Vec<&str> = text.split('-').collect();
    assert_eq!((p[0], p[1]), ("S", "1"), "{text}");
    let subs: Vec<u32> = p[3..].iter().map(|s| s.parse().unwrap()).collect();
    let mut b = vec![1, u8::try_from(subs.len()).unwrap()];
    b.extend_from_slice(&p[2].parse::<u64>().unwrap().to_be_bytes()[2..]);
    for s in subs {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// A self-relative NT security descriptor ([MS-DTYP] 2.4.6), everything
/// little-endian: `revision 1, sbz1 0, control: u16` (`DACL_PRESENT |
/// SELF_RELATIVE`), the offsets of owner, group, SACL (0: none) and DACL
/// as `u32`, then the owner and group SIDs and the DACL: `revision 2,
/// sbz1, size: u16, count: u16, sbz2: u16` and its ACEs, each `type: u8`
/// (0 `ACCESS_ALLOWED`, 1 `ACCESS_DENIED`), `flags: u8, size: u16, mask: u32`
/// and the SID.
fn security_descriptor(owner: &str, group: &str, aces: &[(u8, u8, u32, &str)]) -> Vec<u8> {
    let (o, g) = (sid(owner), sid(group));
    let mut dacl = Vec::new();
    for (t, flags, mask, who) in aces {
        let s = sid(who);
        dacl.extend_from_slice(&[*t, *flags]);
        dacl.extend_from_slice(&u16::try_from(8 + s.len()).unwrap().to_le_bytes());
        dacl.extend_from_slice(&mask.to_le_bytes());
        dacl.extend_from_slice(&s);
    }
    let owner_at = 20u32;
    let group_at = owner_at + u32::try_from(o.len()).unwrap();
    let dacl_at = group_at + u32::try_from(g.len()).unwrap();
    let mut b = vec![1, 0];
    b.extend_from_slice(&(0x8000u16 | 0x0004).to_le_bytes());
    for off in [owner_at, group_at, 0, dacl_at] {
        b.extend_from_slice(&off.to_le_bytes());
    }
    b.extend_from_slice(&o);
    b.extend_from_slice(&g);
    b.extend_from_slice(&[2, 0]);
    b.extend_from_slice(&u16::try_from(8 + dacl.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&u16::try_from(aces.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&dacl);
    b
}

const DOMAIN: &str = "S-1-5-21-1-2-3";

/// The directory of the test: the domain SIDs the blobs name (behind the
/// well-known SIDs and NSS, as the tool chains them). NFSv4 principals
/// other than numbers are names already (`alice@example.com`); numbers
/// are named by NSS.
struct Directory;

impl Resolver for Directory {
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError> {
        let user = |n: &str| {
            Some(Account {
                name: n.to_owned(),
                class: AccountClass::User,
            })
        };
        let group = |n: &str| {
            Some(Account {
                name: n.to_owned(),
                class: AccountClass::Group,
            })
        };
        Ok(match p {
            Principal::Sid(s) => match s.to_string().strip_prefix(DOMAIN) {
                Some("-1100") => user("carol"),
                Some("-1106") => user("mallory"),
                Some("-1200") => group("auditors"),
                Some("-513") => group("Domain Users"),
                _ => None,
            },
            _ => None,
        })
    }
}

struct Share {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    vault: Vault,
    catalog: PathBuf,
    /// catalog path -> the blob its xattr holds.
    blobs: Vec<(String, &'static str, Vec<u8>)>,
}

impl Share {
    fn path(&self, rel: &str) -> String {
        self.root.join(rel).display().to_string()
    }

    fn catalog(&self) -> ArchiveCatalog {
        ArchiveCatalog::open(&self.catalog).unwrap()
    }
}

/// The files and their ACLs (`alice` is `alice@example.com`, and so on;
/// mallory, carol and auditors are SIDs of the domain):
/// - `nfs/deny-first.txt`: `DENY alice READ, ALLOW bob READ, ALLOW
///   OWNER@ FULL`;
/// - `nfs/allow-first.txt`: `ALLOW alice READ`, then `DENY staff
///   WRITE_DATA` (a group), `ALLOW EVERYONE@ READ`;
/// - `nfs/allowed.txt`: `ALLOW alice READ`, `ALLOW 1 READ` (uid 1,
///   daemon: a server that does not map ids), `ALLOW EVERYONE@ READ` (no
///   deny);
/// - `cifs/budget.xlsx`: owner carol, group Domain Users; `ALLOW auditors
///   READ, DENY mallory FULL, ALLOW Everyone READ` (the deny in the
///   middle, kept there);
/// - `cifs/open.txt`: owner carol; `ALLOW Everyone READ`;
/// - `plain.txt`: no ACL.
fn share() -> (Share, Arc<MemoryXattrs>) {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["src/nfs", "src/cifs"] {
        std::fs::create_dir_all(tmp.path().join(d)).unwrap();
    }
    let root = std::fs::canonicalize(tmp.path().join("src")).unwrap();
    let d = |r: &str| format!("{DOMAIN}-{r}");
    let blobs: Vec<(String, &'static str, Vec<u8>)> = vec![
        (
            "nfs/deny-first.txt".into(),
            nfs4::XATTR,
            nfs4_blob(&[
                (DENY, 0, READ, "alice@example.com"),
                (ALLOW, 0, READ, "bob@example.com"),
                (ALLOW, 0, FULL, "OWNER@"),
            ]),
        ),
        (
            "nfs/allow-first.txt".into(),
            nfs4::XATTR,
            nfs4_blob(&[
                (ALLOW, 0, READ, "alice@example.com"),
                (DENY, IDENTIFIER_GROUP, WRITE_DATA, "staff@example.com"),
                (ALLOW, 0, READ, "EVERYONE@"),
            ]),
        ),
        (
            "nfs/allowed.txt".into(),
            nfs4::XATTR,
            nfs4_blob(&[
                (ALLOW, 0, READ, "alice@example.com"),
                (ALLOW, 0, READ, "1"),
                (ALLOW, 0, READ, "EVERYONE@"),
            ]),
        ),
        (
            "cifs/budget.xlsx".into(),
            nt::XATTR,
            security_descriptor(
                &d("1100"),
                &d("513"),
                &[
                    (0, 0, READ, &d("1200")),
                    (1, 0, FULL, &d("1106")),
                    (0, 0, READ, "S-1-1-0"),
                ],
            ),
        ),
        (
            "cifs/open.txt".into(),
            nt::XATTR,
            security_descriptor(&d("1100"), &d("513"), &[(0, 0, READ, "S-1-1-0")]),
        ),
    ];
    let x = Arc::new(MemoryXattrs::new());
    for (rel, name, blob) in &blobs {
        std::fs::write(root.join(rel), format!("{rel}\n")).unwrap();
        x.put(root.join(rel), name, blob.clone());
    }
    std::fs::write(root.join("plain.txt"), b"no acl\n").unwrap();
    let store: Arc<dyn ArchiveStore> =
        Arc::new(LocalStore::open(tmp.path().join("store")).unwrap());
    let vault = Vault::new(store, "v");
    let catalog = tmp.path().join("catalog.sqlite");
    (
        Share {
            _tmp: tmp,
            root,
            vault,
            catalog,
            blobs,
        },
        x,
    )
}

/// Archives the share with `--acls auto` through `xattrs`; the capture.
fn archive(s: &Share, xattrs: Arc<MemoryXattrs>) -> Arc<Capture<Chain>> {
    let names = Cache::new(Chain::local().then(Directory));
    let capture = Arc::new(Capture::with_xattrs(AclSelection::Auto, names, xattrs));
    let mut cat = s.catalog();
    capture.seed_from(cat.catalog()).unwrap();
    let options = ArchiveOptions::default().entry_hook(capture.clone());
    let summary = archiver::archive(
        &Sources::roots([&s.root]),
        &options,
        &s.vault,
        &mut cat,
        &NoObserver,
    )
    .unwrap();
    assert_eq!(summary.files, 6);
    assert!(summary.catalog_export.is_some());
    capture.save_to(cat.catalog_mut()).unwrap();
    capture
}

/// The paths a query finds, sorted.
fn find(s: &Share, q: &str) -> Vec<String> {
    let cat = s.catalog();
    let page = cat
        .catalog()
        .search_str(q, archiver::catalog::Page::first(1000))
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    assert!(page.next.is_none());
    let mut got: Vec<String> = page.hits.into_iter().map(|h| h.path).collect();
    got.sort();
    got
}

/// The catalog row of `path` (one version).
fn row(s: &Share, path: &str) -> catalog::FileEntry {
    let cat = s.catalog();
    let hits = cat.catalog().where_is(path).unwrap();
    assert_eq!(hits.len(), 1, "{path}: {hits:?}");
    cat.catalog().file(hits[0].id).unwrap().unwrap().1
}

/// What the queries answer, what where-is prints and find --json holds.
type Answers = (Vec<Vec<String>>, Vec<Vec<String>>, Vec<serde_json::Value>);

const QUERIES: &[&str] = &[
    "acl:deny",
    "acl:alice@example.com",
    "acl:deny acl:alice@example.com",
    "acl:mallory",
    "acl:deny acl:mallory",
    "acl:staff@example.com",
    "acl:daemon",
    "acl:nfs4:bob@example.com",
    "acl:sid:S-1-5-21-1-2-3-1106",
    "acl:auditors -acl:deny",
    "acl:Everyone -acl:deny",
    "-acl:deny",
    "owner:carol",
    "group:\"Domain Users\"",
];

fn answers(s: &Share) -> Answers {
    let files = [
        "nfs/deny-first.txt",
        "nfs/allow-first.txt",
        "nfs/allowed.txt",
        "cifs/budget.xlsx",
        "cifs/open.txt",
        "plain.txt",
    ];
    (
        QUERIES.iter().map(|q| find(s, q)).collect(),
        files
            .iter()
            .map(|f| access_lines(&row(s, &s.path(f))))
            .collect(),
        files
            .iter()
            .map(|f| access_json(&row(s, &s.path(f))))
            .collect(),
    )
}

fn entries(json: &serde_json::Value) -> Vec<&str> {
    json["acls"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn nfs4_and_cifs_denies_are_found_shown_in_order_and_survive_a_rebuild() {
    let (s, handed) = share();
    let capture = archive(&s, handed);
    let st = capture.stats();
    // Six files and the directories nfs and cifs.
    assert_eq!((st.files, st.with_acls, st.failures), (8, 5, 0), "{st:?}");

    let at = |r: &str| s.path(r);
    let want: Vec<Vec<String>> = vec![
        // acl:deny: exactly the files with a DENY entry, wherever it is.
        vec![
            at("cifs/budget.xlsx"),
            at("nfs/allow-first.txt"),
            at("nfs/deny-first.txt"),
        ],
        // acl:alice: denied, allowed before a deny, allowed.
        vec![
            at("nfs/allow-first.txt"),
            at("nfs/allowed.txt"),
            at("nfs/deny-first.txt"),
        ],
        // Files that deny something and name alice (allow-first allows
        // her and denies staff).
        vec![at("nfs/allow-first.txt"), at("nfs/deny-first.txt")],
        vec![at("cifs/budget.xlsx")],
        vec![at("cifs/budget.xlsx")],
        vec![at("nfs/allow-first.txt")],
        vec![at("nfs/allowed.txt")],
        // By principal key as well as by name.
        vec![at("nfs/deny-first.txt")],
        vec![at("cifs/budget.xlsx")],
        vec![],
        vec![at("cifs/open.txt")],
        // Everything else, the directories too.
        vec![
            at("cifs"),
            at("cifs/open.txt"),
            at("nfs"),
            at("nfs/allowed.txt"),
            at("plain.txt"),
        ],
        // The descriptor's owner and group, named.
        vec![at("cifs/budget.xlsx"), at("cifs/open.txt")],
        vec![at("cifs/budget.xlsx"), at("cifs/open.txt")],
    ];
    let before = answers(&s);
    for ((q, got), want) in QUERIES.iter().zip(&before.0).zip(&want) {
        assert_eq!(got, want, "{q}");
    }

    // The entries as lines, in the order of the blob.
    let lines = |i: usize| -> Vec<&str> {
        before.1[i]
            .iter()
            .filter(|l| !l.starts_with("  owner "))
            .map(|l| l.trim_start())
            .collect()
    };
    assert_eq!(
        lines(0),
        [
            "nfs4 DENY alice@example.com READ",
            "nfs4 ALLOW bob@example.com READ",
            "nfs4 ALLOW OWNER@ FULL"
        ]
    );
    assert_eq!(
        lines(1),
        [
            "nfs4 ALLOW alice@example.com READ",
            "nfs4 DENY staff@example.com WRITE_DATA",
            "nfs4 ALLOW EVERYONE@ READ",
        ]
    );
    assert_eq!(
        lines(2),
        [
            "nfs4 ALLOW alice@example.com READ",
            "nfs4 ALLOW daemon READ",
            "nfs4 ALLOW EVERYONE@ READ"
        ]
    );
    assert_eq!(
        lines(3),
        [
            "nt OWNER carol",
            "nt GROUP Domain Users",
            "nt ALLOW auditors READ",
            "nt DENY mallory FULL",
            "nt ALLOW Everyone READ",
        ]
    );
    assert_eq!(lines(5), Vec::<&str>::new());
    // find --json: the same entries, the descriptor's owner and group.
    assert_eq!(
        entries(&before.2[0]),
        [
            "DENY alice@example.com READ",
            "ALLOW bob@example.com READ",
            "ALLOW OWNER@ FULL"
        ]
    );
    assert_eq!(
        entries(&before.2[3]),
        [
            "ALLOW auditors READ",
            "DENY mallory FULL",
            "ALLOW Everyone READ"
        ]
    );
    let nt = &before.2[3]["acls"][0];
    assert_eq!(
        (&nt["format"], &nt["owner"], &nt["group"]),
        (
            &serde_json::json!("nt"),
            &serde_json::json!("carol"),
            &serde_json::json!("Domain Users")
        )
    );
    assert_eq!(before.2[5]["acls"], serde_json::json!([]));

    // The catalog keeps each ACL as the xattr held it (what a restore
    // writes back), the entries with their kind, key and name.
    for (rel, name, blob) in &s.blobs {
        let r = row(&s, &at(rel));
        assert_eq!(r.acls.len(), 1, "{rel}");
        let a = &r.acls[0];
        assert_eq!(
            a.format,
            if *name == nfs4::XATTR { "nfs4" } else { "nt" },
            "{rel}"
        );
        assert_eq!(a.value.as_ref(), Some(blob), "{rel}: the value as read");
    }
    let denied = &row(&s, &at("nfs/deny-first.txt")).acls[0].entries[0];
    assert_eq!(
        (
            denied.kind.as_str(),
            denied.allow,
            denied.principal.as_str(),
            denied.name.as_deref(),
            denied.rights
        ),
        (
            "deny",
            false,
            "nfs4:alice@example.com",
            Some("alice@example.com"),
            READ
        )
    );
    let mallory = &row(&s, &at("cifs/budget.xlsx")).acls[0].entries[1];
    assert_eq!(
        (
            mallory.kind.as_str(),
            mallory.principal.as_str(),
            mallory.name.as_deref()
        ),
        ("deny", "sid:S-1-5-21-1-2-3-1106", Some("mallory"))
    );
    // The names are remembered for later runs.
    let known = s.catalog().catalog().principals().unwrap();
    for (key, name) in [
        ("nfs4:alice@example.com", "alice@example.com"),
        ("nfs4g:staff@example.com", "staff@example.com"),
        ("nfs4:1", "daemon"),
        ("sid:S-1-5-21-1-2-3-1106", "mallory"),
        ("sid:S-1-5-21-1-2-3-1100", "carol"),
    ] {
        assert!(
            known.iter().any(|k| k.key == key && k.name == name),
            "{key} = {name} in {known:?}"
        );
    }

    // Lose the catalog; rebuild it from the run's export in the vault.
    for f in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = std::fs::remove_file(s.catalog.with_file_name(f));
    }
    let _ = std::fs::remove_dir_all(s.catalog.with_file_name("catalog.sqlite.indexes"));
    assert!(find(&s, "acl:deny").is_empty(), "the catalog is gone");
    let mut cat = s.catalog();
    let rebuilt =
        archiver::rebuild_catalog(&s.vault, &mut cat, Duration::from_millis(10), &NoObserver)
            .unwrap();
    assert_eq!(rebuilt.imported_runs, 1, "{rebuilt:?}");
    drop(cat);
    let after = answers(&s);
    for (i, q) in QUERIES.iter().enumerate() {
        assert_eq!(after.0[i], before.0[i], "{q} after the rebuild");
    }
    assert_eq!(after.1, before.1, "where-is lines after the rebuild");
    assert_eq!(after.2, before.2, "find --json after the rebuild");
    for (rel, _, blob) in &s.blobs {
        assert_eq!(
            row(&s, &at(rel)).acls[0].value.as_ref(),
            Some(blob),
            "{rel} after the rebuild"
        );
    }
}

/// The decoders read the hand-packed blobs as the layouts say (checked
/// without the catalog, so a failure above points at the right layer).
#[test]
fn the_hand_packed_blobs_decode_entry_by_entry() {
    let blob = nfs4_blob(&[
        (ALLOW, 0, READ, "alice@example.com"),
        (DENY, IDENTIFIER_GROUP, WRITE_DATA, "staff@example.com"),
    ]);
    // 4 + 2 * 12 + (4 + 20) + (4 + 20): names padded from 17 to 20.
    assert_eq!(blob.len(), 76);
    let acl = nfs4::decode(&blob).unwrap();
    let got: Vec<(ldap_attrs::AceKind, String, u32)> = acl
        .entries
        .iter()
        .map(|e| (e.kind, e.who.to_string(), e.mask))
        .collect();
    assert_eq!(
        got,
        [
            (ldap_attrs::AceKind::Allow, "alice@example.com".into(), READ),
            (
                ldap_attrs::AceKind::Deny,
                "group:staff@example.com".into(),
                WRITE_DATA
            ),
        ]
    );
    let sd = security_descriptor(
        "S-1-5-21-1-2-3-1100",
        "S-1-5-21-1-2-3-513",
        &[(1, 0, FULL, "S-1-5-21-1-2-3-1106"), (0, 0, READ, "S-1-1-0")],
    );
    let acl = nt::decode(&sd).unwrap();
    assert_eq!(
        acl.owner.as_ref().map(ToString::to_string).as_deref(),
        Some("S-1-5-21-1-2-3-1100")
    );
    let got: Vec<(ldap_attrs::AceKind, String, u32)> = acl
        .entries
        .iter()
        .map(|e| (e.kind, e.who.to_string(), e.mask))
        .collect();
    assert_eq!(
        got,
        [
            (
                ldap_attrs::AceKind::Deny,
                "S-1-5-21-1-2-3-1106".into(),
                FULL
            ),
            (ldap_attrs::AceKind::Allow, "S-1-1-0".into(), READ),
        ]
    );
    // The crate's encoder writes the same bytes back.
    assert_eq!(nt::encode(&acl).unwrap(), sd);
    assert_eq!(nfs4::encode(&nfs4::decode(&blob).unwrap()).unwrap(), blob);
}
