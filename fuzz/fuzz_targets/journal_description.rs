//! The archive description decoder: never panics, and every description it
//! takes for ours encodes back (as mt2) to one that decodes to the same name
//! and mtime.
#![no_main]

use journal::{Description, MAX_DESCRIPTION_LEN, decode_description, encode_description};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let decoded = decode_description(&text);
    let Some(meta) = decoded.meta() else {
        assert_eq!(decoded, Description::Unknown);
        return;
    };
    let encoded = encode_description(meta).expect("a decoded description encodes again");
    assert!(encoded.len() <= MAX_DESCRIPTION_LEN);
    assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)));
    assert_eq!(decode_description(&encoded), Description::Mt2(meta.clone()));
});
