//! Round trips and totality: every ACL the model can hold encodes and
//! decodes back to itself; any bytes decode to a value or an error, and a
//! decoded value encodes to bytes that decode to it again.

use ldap_attrs::{
    Ace, AceKind, Acl, AclFormat, NtInfo, ObjectAce, Principal, Sid, nfs4, nt, posix,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn sid() -> impl Strategy<Value = Sid> {
    (any::<u8>(), 0u64..(1 << 48), vec(any::<u32>(), 0..=15)).prop_map(
        |(revision, authority, sub_authorities)| Sid {
            revision,
            authority,
            sub_authorities,
        },
    )
}

fn posix_ace(default: bool) -> impl Strategy<Value = Ace> {
    let who = prop_oneof![
        Just(Principal::Owner),
        Just(Principal::OwningGroup),
        Just(Principal::Mask),
        Just(Principal::Other),
        any::<u32>().prop_map(Principal::Uid),
        any::<u32>().prop_map(Principal::Gid),
    ];
    (who, 0u32..8).prop_map(move |(who, perm)| Ace::posix(who, perm, default))
}

fn posix_acl() -> impl Strategy<Value = Acl> {
    (vec(posix_ace(false), 0..12), vec(posix_ace(true), 0..12)).prop_map(|(a, d)| {
        let mut acl = Acl::new(AclFormat::Posix);
        acl.entries = a.into_iter().chain(d).collect();
        acl
    })
}

fn nfs4_ace() -> impl Strategy<Value = Ace> {
    let kind = prop_oneof![
        Just(AceKind::Allow),
        Just(AceKind::Deny),
        Just(AceKind::Audit),
        Just(AceKind::Alarm),
        (4u8..=255).prop_map(AceKind::Other),
    ];
    let name = "[a-z0-9._-]{0,12}(@[a-z.]{1,12})?";
    let who = prop_oneof![
        Just(Principal::Owner),
        Just(Principal::OwningGroup),
        Just(Principal::Everyone),
        prop::sample::select(vec!["INTERACTIVE@", "NETWORK@", "BATCH@", "AUTHENTICATED@"])
            .prop_map(|s| Principal::Special(s.to_owned())),
        name.prop_map(Principal::Nfs4User),
        name.prop_map(Principal::Nfs4Group),
    ];
    (kind, who, any::<u32>(), any::<u32>()).prop_map(|(kind, who, mask, flags)| {
        let flags = match who {
            Principal::Nfs4User(_) => flags & !ldap_attrs::nfs4_bits::IDENTIFIER_GROUP,
            Principal::Nfs4Group(_) => flags | ldap_attrs::nfs4_bits::IDENTIFIER_GROUP,
            _ => flags,
        };
        Ace::nfs4(kind, who, mask, flags)
    })
}

fn nfs4_acl() -> impl Strategy<Value = Acl> {
    vec(nfs4_ace(), 0..16).prop_map(|entries| {
        let mut acl = Acl::new(AclFormat::Nfs4);
        acl.entries = entries;
        acl
    })
}

const BASIC: &[u8] = &[
    0, 1, 2, 3, 9, 0x0a, 0x0d, 0x0e, 0x11, 0x12, 0x13, 0x14, 0x15,
];
const OBJECT: &[u8] = &[5, 6, 7, 8, 0x0b, 0x0c, 0x0f, 0x10];

fn nt_ace() -> impl Strategy<Value = Ace> {
    let basic = (
        prop::sample::select(BASIC),
        sid(),
        any::<u32>(),
        any::<u8>(),
        vec(any::<u8>(), 0..8),
    )
        .prop_map(|(t, sid, mask, flags, extra)| Ace {
            kind: nt::ace_kind(t),
            who: Principal::Sid(sid),
            mask,
            flags: u32::from(flags),
            default: false,
            nt_type: t,
            object: None,
            extra,
        });
    let object = (
        prop::sample::select(OBJECT),
        sid(),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
        any::<Option<[u8; 16]>>(),
        any::<Option<[u8; 16]>>(),
        vec(any::<u8>(), 0..8),
    )
        .prop_map(|(t, sid, mask, flags, oflags, ot, it, extra)| Ace {
            kind: nt::ace_kind(t),
            who: Principal::Sid(sid),
            mask,
            flags: u32::from(flags),
            default: false,
            nt_type: t,
            object: Some(ObjectAce {
                flags: (oflags & !3) | u32::from(ot.is_some()) | (u32::from(it.is_some()) << 1),
                object_type: ot,
                inherited_type: it,
            }),
            extra,
        });
    let unknown = (
        prop_oneof![Just(4u8), 0x16u8..=0xff],
        any::<u8>(),
        vec(any::<u8>(), 0..24),
    )
        .prop_map(|(t, flags, body)| Ace {
            kind: AceKind::Other(t),
            who: Principal::Unparsed,
            mask: 0,
            flags: u32::from(flags),
            default: false,
            nt_type: t,
            object: None,
            extra: body,
        });
    prop_oneof![4 => basic, 1 => object, 1 => unknown]
}

fn nt_acl() -> impl Strategy<Value = Acl> {
    (
        proptest::option::of(sid()),
        proptest::option::of(sid()),
        any::<u16>(),
        any::<u8>(),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
        vec(nt_ace(), 0..8),
        vec(nt_ace(), 0..4),
    )
        .prop_map(|(owner, group, control, rm, dacl, sacl, entries, audit)| {
            let mut acl = Acl::new(AclFormat::Nt);
            acl.owner = owner.map(Principal::Sid);
            acl.group = group.map(Principal::Sid);
            acl.nt = Some(NtInfo {
                control: control | ldap_attrs::nt_bits::SE_SELF_RELATIVE,
                rm_control: rm,
                dacl_revision: dacl,
                sacl_revision: sacl,
            });
            acl.entries = if dacl.is_some() { entries } else { Vec::new() };
            acl.audit = if sacl.is_some() { audit } else { Vec::new() };
            acl
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sids_round_trip_as_bytes_and_text(s in sid()) {
        prop_assert_eq!(Sid::from_bytes(&s.to_bytes()).unwrap(), s.clone());
        prop_assert_eq!(s.to_string().parse::<Sid>().unwrap(), s);
    }

    #[test]
    fn posix_acls_round_trip(acl in posix_acl()) {
        let (a, d) = posix::encode(&acl).unwrap();
        let back = posix::decode(a.as_deref(), d.as_deref()).unwrap();
        prop_assert_eq!(back, acl);
    }

    #[test]
    fn nfs4_acls_round_trip(acl in nfs4_acl()) {
        let blob = nfs4::encode(&acl).unwrap();
        prop_assert_eq!(blob.len() % 4, 0);
        prop_assert_eq!(nfs4::decode(&blob).unwrap(), acl);
    }

    #[test]
    fn nt_descriptors_round_trip(acl in nt_acl()) {
        let blob = nt::encode(&acl).unwrap();
        prop_assert_eq!(nt::decode(&blob).unwrap(), acl);
    }

    #[test]
    fn any_bytes_decode_or_fail_and_decoded_values_are_stable(bytes in vec(any::<u8>(), 0..256)) {
        for format in [AclFormat::Posix, AclFormat::Nfs4, AclFormat::Nt] {
            if let Ok(acl) = ldap_attrs::decode(format, &bytes) {
                let again = match format {
                    AclFormat::Posix => posix::encode(&acl).map(|(a, _)| a.unwrap_or_else(|| posix::encode_entries([]).unwrap())),
                    AclFormat::Nfs4 => nfs4::encode(&acl),
                    AclFormat::Nt => nt::encode(&acl),
                }.unwrap();
                prop_assert_eq!(ldap_attrs::decode(format, &again).unwrap(), acl);
            }
        }
    }

    #[test]
    fn mutated_descriptors_never_panic(acl in nt_acl(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut blob = nt::encode(&acl).unwrap();
        let i = at.index(blob.len());
        blob[i] = v;
        let _ = nt::decode(&blob);
    }
}
