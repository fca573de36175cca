//! POSIX ACL xattrs (`system.posix_acl_access` / `_default`): any bytes must
//! give entries or an error, never a panic; what decodes encodes back to the
//! same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = ldap_attrs::posix::decode_entries(data, false) {
        assert_eq!(ldap_attrs::posix::encode_entries(&entries).expect("decoded entries encode"), data);
    }
});
