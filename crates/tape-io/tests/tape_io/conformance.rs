use tape_io::conformance::{self, Options};
use tape_io::{FileTape, FileTapeOptions, TapeDevice};

#[test]
fn file_tape_passes_the_btape_style_suite() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.tap");
    let opts = FileTapeOptions {
        capacity: Some(40 << 20),
        early_warning: 1 << 20,
        ..FileTapeOptions::default()
    };
    let mut open = || -> Result<Box<dyn TapeDevice>, tape_io::TapeError> {
        Ok(Box::new(FileTape::open_or_create(&p, opts.clone())?))
    };
    let report = conformance::run(
        &mut open,
        &Options {
            fill: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        report.passed,
        [
            "write-rewind-verify",
            "end-of-data-sequence",
            "short-buffer-rejected",
            "reposition-file-block",
            "tell-seek",
            "append-after-reopen",
            "space-forward-files",
            "space-back-files-and-records",
            "write-truncates",
            "fill-to-end-of-medium",
        ]
    );
    // 39 MiB to early warning in 64 KiB blocks (plus length words), and
    // one more block past it.
    let n = report.fill_blocks.unwrap();
    assert!((620..=625).contains(&n), "{n}");
}
