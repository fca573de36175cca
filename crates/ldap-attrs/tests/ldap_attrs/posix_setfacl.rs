//! Real POSIX ACLs: set with `setfacl`, read as xattrs by `getfattr` and
//! by [`SystemXattrs`], printed by `getfacl`; and ours written back.

use std::path::Path;
use std::process::Command;

use ldap_attrs::{
    Ace, Acl, AclFormat, AclSelection, Principal, SystemXattrs, Xattrs, apply, capture, posix,
};

use crate::{hex, require_tools, run};

/// The value of `name` of `file` as `getfattr -e hex` prints it.
fn getfattr(file: &Path, name: &str) -> Vec<u8> {
    let out = run(Command::new("getfattr")
        .args(["--absolute-names", "-e", "hex", "-n", name])
        .arg(file));
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=0x")))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    hex(line)
}

fn getfacl(file: &Path) -> String {
    run(Command::new("getfacl")
        .args(["-n", "--omit-header", "-E"])
        .arg(file))
    .trim_end()
    .to_owned()
        + "\n"
}

#[test]
fn acls_set_by_setfacl_decode_entry_by_entry() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("share");
    let file = dir.join("report.txt");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(&file, b"figures").unwrap();
    run(Command::new("chmod").arg("0640").arg(&file));
    run(Command::new("setfacl")
        .args(["-m", "u:1234:rw-,g:55:r--,u:4321:---,o::---"])
        .arg(&file));
    run(Command::new("setfacl")
        .args(["-m", "d:u:1234:rwx,d:g:55:r-x,d:o::---"])
        .arg(&dir));

    let blob = getfattr(&file, posix::ACCESS_XATTR);
    let from_tool = posix::decode(Some(&blob), None).unwrap();
    let got = capture(&SystemXattrs, &file, AclSelection::Auto).unwrap();
    assert_eq!(
        got.acls,
        vec![from_tool.clone()],
        "SystemXattrs reads what getfattr does"
    );
    let e = |who, perm| Ace::posix(who, perm, false);
    assert_eq!(
        from_tool.entries,
        vec![
            e(Principal::Owner, 6),
            e(Principal::Uid(1234), 6),
            e(Principal::Uid(4321), 0),
            e(Principal::OwningGroup, 4),
            e(Principal::Gid(55), 4),
            e(Principal::Mask, 6),
            e(Principal::Other, 0),
        ]
    );
    assert_eq!(posix::getfacl_text(&from_tool), getfacl(&file));
    assert_eq!(posix::encode(&from_tool).unwrap(), (Some(blob), None));

    // The directory: access entries from its mode, and a default ACL.
    let d = capture(&SystemXattrs, &dir, AclSelection::Posix).unwrap();
    assert_eq!(d.acls.len(), 1);
    let defaults: Vec<&Ace> = d.acls[0].entries.iter().filter(|e| e.default).collect();
    assert!(
        defaults.contains(&&Ace::posix(Principal::Uid(1234), 7, true)),
        "{defaults:?}"
    );
    assert!(
        defaults.contains(&&Ace::posix(Principal::Gid(55), 5, true)),
        "{defaults:?}"
    );
    // Its access entries are its mode bits (no xattr): getfacl prints them
    // first, then the default ACL, which is ours.
    let ours = posix::getfacl_text(&d.acls[0]);
    assert!(getfacl(&dir).ends_with(&ours), "{ours}");
    assert!(
        ours.starts_with("default:user::rwx\ndefault:user:1234:rwx\n"),
        "{ours}"
    );
    let default_blob = getfattr(&dir, posix::DEFAULT_XATTR);
    assert_eq!(posix::encode(&d.acls[0]).unwrap().1, Some(default_blob));
}

#[test]
fn an_acl_written_by_us_reads_back_through_getfacl() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let mut acl = Acl::new(AclFormat::Posix);
    acl.entries = vec![
        Ace::posix(Principal::Owner, 6, false),
        Ace::posix(Principal::Uid(4321), 4, false),
        Ace::posix(Principal::OwningGroup, 4, false),
        Ace::posix(Principal::Gid(77), 0, false),
        Ace::posix(Principal::Mask, 4, false),
        Ace::posix(Principal::Other, 0, false),
    ];
    apply(&SystemXattrs, &file, &acl).unwrap();
    assert_eq!(
        getfacl(&file),
        "user::rw-\nuser:4321:r--\ngroup::r--\ngroup:77:---\nmask::r--\nother::---\n"
    );
    assert_eq!(
        capture(&SystemXattrs, &file, AclSelection::Posix)
            .unwrap()
            .acls,
        vec![acl]
    );
}

#[test]
fn no_acl_and_not_supported_are_told_apart() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    // A file with only mode bits has no ACL attribute.
    assert_eq!(SystemXattrs.get(&file, posix::ACCESS_XATTR).unwrap(), None);
    let auto = capture(&SystemXattrs, &file, AclSelection::Auto).unwrap();
    assert!(
        auto.acls.is_empty() && auto.unsupported.is_empty(),
        "{auto:?}"
    );
    // The test filesystem (ext4, tmpfs) has no NFSv4 or CIFS ACLs.
    let e = SystemXattrs
        .get(&file, ldap_attrs::nfs4::XATTR)
        .unwrap_err();
    assert!(
        matches!(e, ldap_attrs::XattrError::NotSupported { .. }),
        "{e}"
    );
    let nfs4 = capture(&SystemXattrs, &file, AclSelection::Nfs4).unwrap();
    assert_eq!(nfs4.unsupported, vec![AclFormat::Nfs4]);
    let cifs = capture(&SystemXattrs, &file, AclSelection::Cifs).unwrap();
    assert_eq!(cifs.unsupported, vec![AclFormat::Nt]);
    // A missing file is an error, not "no ACL".
    assert!(
        capture(
            &SystemXattrs,
            &tmp.path().join("missing"),
            AclSelection::Auto
        )
        .is_err()
    );
}
