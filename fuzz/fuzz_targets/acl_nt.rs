//! NT security descriptors (`system.cifs_acl`) come from file servers: any
//! bytes must give an ACL or an error, never a panic, and a decoded ACL must
//! encode to bytes that decode to it again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(acl) = ldap_attrs::nt::decode(data) {
        let blob = ldap_attrs::nt::encode(&acl).expect("a decoded descriptor encodes");
        assert_eq!(ldap_attrs::nt::decode(&blob).expect("our encoding decodes"), acl);
        let _ = acl.lines(&|_| None);
    }
});
