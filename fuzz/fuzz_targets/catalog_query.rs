//! The catalog's query parser on arbitrary text: it never panics, an error
//! points inside the text (or just past it), and a parsed query written back
//! in canonical form parses to the same query.
#![no_main]

use catalog::query::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(text) {
        Ok(q) => {
            let canonical = q.to_string();
            let again = parse(&canonical).expect("the canonical form parses");
            assert_eq!(again, q, "{text:?} -> {canonical:?}");
            let _ = catalog::query_tokens(text);
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e} for {text:?}");
            assert!(!e.expected.is_empty());
        }
    }
});
