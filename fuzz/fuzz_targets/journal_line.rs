//! The journal line parser: never panics, and whatever it accepts, of any
//! version, round-trips through the version-B line it writes.
#![no_main]

use journal::{Record, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(line) = std::str::from_utf8(input) else {
        return;
    };
    let Ok((version, record)) = Record::parse(line) else {
        return;
    };
    let written = record.to_line();
    assert!(!written.contains('\n'));
    let (again_version, again) = Record::parse(&written).expect("a written line parses");
    assert_eq!(again_version, Version::B);
    assert_eq!(again, record, "version {version} line {line:?} did not round-trip");
    assert_eq!(again.to_line(), written, "version B is written byte-exact");
});
