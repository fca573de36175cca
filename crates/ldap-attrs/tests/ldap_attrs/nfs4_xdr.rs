//! NFSv4 ACLs packed by Python's own XDR packer (xdrlib), decoded entry by
//! entry and written back byte for byte.

use std::process::Command;

use ldap_attrs::nfs4_bits as b;
use ldap_attrs::{AceKind, AclFormat, Principal, nfs4};

use crate::{hex, require_tools, run, tools_dir};

fn xdr(aces: &[&str]) -> Vec<u8> {
    require_tools();
    hex(&run(Command::new("python3")
        .arg(tools_dir().join("nfs4acl.py"))
        .args(aces)))
}

#[test]
fn an_acl_packed_by_xdrlib_decodes_entry_by_entry() {
    let blob = xdr(&[
        "1:0:1:mallory@example.com",
        "0:0:1f01ff:OWNER@",
        "0:43:a9:staff@example.com",
        "0:c0:120081:10005",
        "1:40:2:GROUP@",
        "0:0:120088:EVERYONE@",
        "2:10:1:AUTHENTICATED@",
        "0:0:1:",
    ]);
    let acl = nfs4::decode(&blob).unwrap();
    assert_eq!(acl.format, AclFormat::Nfs4);
    let got: Vec<_> = acl
        .entries
        .iter()
        .map(|e| (e.kind, e.who.clone(), e.mask, e.flags))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                AceKind::Deny,
                Principal::Nfs4User("mallory@example.com".into()),
                b::READ_DATA,
                0
            ),
            (AceKind::Allow, Principal::Owner, 0x001f_01ff, 0),
            (
                AceKind::Allow,
                Principal::Nfs4Group("staff@example.com".into()),
                0xa9,
                b::IDENTIFIER_GROUP | b::FILE_INHERIT_ACE | b::DIRECTORY_INHERIT_ACE
            ),
            (
                AceKind::Allow,
                Principal::Nfs4Group("10005".into()),
                0x0012_0081,
                b::IDENTIFIER_GROUP | b::INHERITED_ACE
            ),
            (
                AceKind::Deny,
                Principal::OwningGroup,
                b::WRITE_DATA,
                b::IDENTIFIER_GROUP
            ),
            (AceKind::Allow, Principal::Everyone, 0x0012_0088, 0),
            (
                AceKind::Audit,
                Principal::Special("AUTHENTICATED@".into()),
                b::READ_DATA,
                b::SUCCESSFUL_ACCESS
            ),
            (
                AceKind::Allow,
                Principal::Nfs4User(String::new()),
                b::READ_DATA,
                0
            ),
        ]
    );
    assert!(acl.entries[3].is_inherited(AclFormat::Nfs4));
    assert_eq!(
        acl.lines(&|_| None)[0],
        "DENY mallory@example.com READ_DATA"
    );
    assert_eq!(acl.lines(&|_| None)[4], "DENY GROUP@ WRITE_DATA");
    assert_eq!(nfs4::encode(&acl).unwrap(), blob);
}

#[test]
fn a_who_that_is_not_utf8_or_runs_past_the_end_is_an_error() {
    let mut blob = xdr(&["0:0:1:abcd"]);
    let at = blob.len() - 4;
    blob[at] = 0xff;
    let e = nfs4::decode(&blob).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    let short = xdr(&["0:0:1:abcdefgh"]);
    assert!(nfs4::decode(&short[..short.len() - 4]).is_err());
}
