//! SIDs come from LDAP servers (binary `objectSid` values) and from users
//! (text): neither form may panic, and both round-trip.
#![no_main]

use ldap_attrs::Sid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sid) = Sid::from_bytes(data) {
        assert_eq!(sid.to_bytes(), data);
        assert_eq!(sid.to_string().parse::<Sid>().expect("our text parses"), sid);
        let _ = sid.ldap_filter_value();
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(sid) = text.parse::<Sid>()
    {
        assert_eq!(Sid::from_bytes(&sid.to_bytes()).expect("our bytes parse"), sid);
    }
});
