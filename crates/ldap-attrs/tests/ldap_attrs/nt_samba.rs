//! NT security descriptors made by Samba (its SDDL parser and NDR
//! encoder, through Debian's python3-samba), decoded entry by entry, and
//! written back byte for byte.

use std::process::Command;

use ldap_attrs::nt_bits as b;
use ldap_attrs::{AceKind, Acl, AclFormat, Principal, Sid, nt};

use crate::{hex, require_tools, run, tools_dir};

/// Samba's descriptor for each SDDL string.
pub(crate) fn samba(sddl: &[&str]) -> Vec<Vec<u8>> {
    require_tools();
    let out = run(Command::new("/usr/bin/python3")
        .arg(tools_dir().join("sddl2sd.py"))
        .args(sddl));
    out.lines().map(hex).collect()
}

fn sid(s: &str) -> Principal {
    Principal::Sid(s.parse::<Sid>().unwrap())
}

const D1: &str = "S-1-5-21-1004336348-1177238915-682003330";

/// (kind, who, mask, flags) of each DACL entry.
fn entries(acl: &Acl) -> Vec<(AceKind, Principal, u32, u32)> {
    acl.entries
        .iter()
        .map(|e| (e.kind, e.who.clone(), e.mask, e.flags))
        .collect()
}

#[test]
fn a_share_descriptor_with_deny_and_inherited_entries() {
    let sddl = format!(
        "O:{D1}-1104G:{D1}-513D:PAI(D;;0x1f01ff;;;{D1}-1106)(A;OICI;0x1301bf;;;{D1}-1201)\
         (A;OICIID;0x1200a9;;;S-1-5-21-1-2-3-1100)(A;;0x1f01ff;;;SY)(A;;0x1f01ff;;;BA)(A;;0x1200a9;;;WD)"
    );
    let blob = &samba(&[&sddl])[0];
    let acl = nt::decode(blob).unwrap();
    assert_eq!(acl.format, AclFormat::Nt);
    assert_eq!(acl.owner, Some(sid(&format!("{D1}-1104"))));
    assert_eq!(acl.group, Some(sid(&format!("{D1}-513"))));
    let info = acl.nt.unwrap();
    for bit in [
        b::SE_SELF_RELATIVE,
        b::SE_DACL_PRESENT,
        b::SE_DACL_PROTECTED,
        b::SE_DACL_AUTO_INHERITED,
    ] {
        assert_ne!(
            info.control & bit,
            0,
            "control 0x{:x} lacks 0x{bit:x}",
            info.control
        );
    }
    assert_eq!(info.sacl_revision, None);
    let oici = u32::from(b::OBJECT_INHERIT_ACE | b::CONTAINER_INHERIT_ACE);
    assert_eq!(
        entries(&acl),
        vec![
            (AceKind::Deny, sid(&format!("{D1}-1106")), b::FULL, 0),
            (AceKind::Allow, sid(&format!("{D1}-1201")), b::CHANGE, oici),
            (
                AceKind::Allow,
                sid("S-1-5-21-1-2-3-1100"),
                b::READ,
                oici | u32::from(b::INHERITED_ACE)
            ),
            (AceKind::Allow, sid("S-1-5-18"), b::FULL, 0),
            (AceKind::Allow, sid("S-1-5-32-544"), b::FULL, 0),
            (AceKind::Allow, sid("S-1-1-0"), b::READ, 0),
        ]
    );
    assert!(acl.entries[2].is_inherited(AclFormat::Nt));
    assert!(acl.has_deny());
    let text = acl.lines(&|_| None);
    assert_eq!(text[2], format!("DENY {D1}-1106 FULL"));
    assert_eq!(
        text[3],
        format!("ALLOW {D1}-1201 CHANGE [OBJECT_INHERIT,CONTAINER_INHERIT]")
    );
    assert_eq!(nt::encode(&acl).unwrap(), *blob);
}

#[test]
fn audit_entries_odd_sids_object_aces_and_empty_dacls() {
    let blobs = samba(&[
        "O:BAG:SYD:(A;;0x1f01ff;;;BA)S:(AU;SAFA;0x1f01ff;;;WD)",
        "O:S-1-5-21-4294967295-4294967295-4294967295-4294967295G:S-1-5-32-545D:(D;IO;0x10000;;;S-1-3-0)(A;NP;0x2;;;S-1-5-21-0-0-0-0)",
        "D:(OA;;0x100;bf967aba-0de6-11d0-a285-00aa003049e2;;S-1-5-11)",
        "O:BAG:BAD:",
        "O:BAD:P",
    ]);
    let audit = nt::decode(&blobs[0]).unwrap();
    assert_eq!(audit.audit.len(), 1);
    let a = &audit.audit[0];
    assert_eq!((a.kind, a.mask), (AceKind::Audit, b::FULL));
    assert_eq!(a.flags, u32::from(b::SUCCESSFUL_ACCESS | b::FAILED_ACCESS));
    assert_ne!(audit.nt.unwrap().control & b::SE_SACL_PRESENT, 0);

    let odd = nt::decode(&blobs[1]).unwrap();
    assert_eq!(
        odd.owner,
        Some(sid("S-1-5-21-4294967295-4294967295-4294967295-4294967295"))
    );
    assert_eq!(
        entries(&odd),
        vec![
            (
                AceKind::Deny,
                sid("S-1-3-0"),
                b::DELETE,
                u32::from(b::INHERIT_ONLY_ACE)
            ),
            (
                AceKind::Allow,
                sid("S-1-5-21-0-0-0-0"),
                b::WRITE_DATA,
                u32::from(b::NO_PROPAGATE_INHERIT_ACE)
            ),
        ]
    );
    assert_eq!(
        odd.lines(&|_| None)[2],
        "DENY S-1-3-0 DELETE [INHERIT_ONLY]"
    );

    let object = nt::decode(&blobs[2]).unwrap();
    let o = &object.entries[0];
    assert_eq!(
        (o.kind, o.nt_type, o.who.clone()),
        (AceKind::Allow, 5, sid("S-1-5-11"))
    );
    let guid = o.object.as_ref().unwrap().object_type.unwrap();
    assert_eq!(&guid[..4], &[0xba, 0x7a, 0x96, 0xbf]);
    assert_eq!(object.owner, None);

    let empty = nt::decode(&blobs[3]).unwrap();
    assert!(empty.entries.is_empty() && !empty.is_null_dacl());
    assert!(!nt::decode(&blobs[4]).unwrap().is_null_dacl());

    for blob in &blobs {
        assert_eq!(nt::encode(&nt::decode(blob).unwrap()).unwrap(), *blob);
    }
}

#[test]
fn damaged_samba_descriptors_are_errors_not_panics() {
    let blob = samba(&[&format!(
        "O:{D1}-1104D:(D;;0x1f01ff;;;{D1}-1106)(A;;0x1200a9;;;WD)"
    )])
    .remove(0);
    for n in 0..blob.len() {
        let _ = nt::decode(&blob[..n]);
    }
    for i in 0..blob.len() {
        for v in [0u8, 0x7f, 0xff] {
            let mut b = blob.clone();
            b[i] = v;
            let _ = nt::decode(&b);
        }
    }
}
