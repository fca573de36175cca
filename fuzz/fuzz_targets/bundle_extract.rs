//! Whole-bundle extraction of arbitrary bytes (any compression, plain tar
//! included) into a scratch directory: errors are fine, panics and writes
//! outside the target are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let target = dir.path().join("t");
    let _ = bundler::extract_stream(
        data,
        &bundler::Selection::All,
        &target,
        &bundler::ExtractOptions::default(),
    );
    // Nothing may appear beside the target.
    let n = std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0);
    assert!(n <= 1, "extraction wrote outside its target");
});
