//! NFSv4 ACLs (`system.nfs4_acl`, XDR): any bytes must give an ACL or an
//! error, never a panic; what decodes encodes back to the same bytes'
//! meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(acl) = ldap_attrs::nfs4::decode(data) {
        let blob = ldap_attrs::nfs4::encode(&acl).expect("a decoded ACL encodes");
        assert_eq!(ldap_attrs::nfs4::decode(&blob).expect("our encoding decodes"), acl);
        let _ = acl.lines(&|_| None);
    }
});
