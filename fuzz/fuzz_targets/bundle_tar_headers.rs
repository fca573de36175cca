//! The bundler's strict tar header reader on arbitrary bytes: it must
//! return an error, never panic or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bundler::fuzz_tar_headers(data);
});
