//! mt-aws-glacier filter rules: parsing any `--filter` value and matching
//! any path must never panic, and a parsed rule prints back as it was given.
#![no_main]

use glacier_sync::mtcompat::filter::Filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let (rules, path) = input.split_once('\n').unwrap_or((input, "a/b/c.txt"));
    let mut filter = Filter::new();
    if filter.add_filter_option(rules).is_ok() {
        let _ = filter.includes(path);
        for rule in filter.rules() {
            let printed = rule.to_string();
            let mut again = Filter::new();
            again.add_filter_option(&printed).expect("a printed rule parses again");
            assert_eq!(again.rules(), std::slice::from_ref(rule));
        }
    }
});
