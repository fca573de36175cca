//! Any bytes as a SIMH tape image, a part header block or a label block:
//! reading, spacing and parsing must return errors, never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tape_io::label::Label;
use tape_io::target::PartHeader;
use tape_io::{FileTape, FileTapeOptions, TapeDevice};

fuzz_target!(|input: &[u8]| {
    let _ = PartHeader::from_block(input);
    let _ = Label::from_block(input);
    let path = std::env::temp_dir().join(format!("fuzz-tape-{}.tap", std::process::id()));
    if std::fs::write(&path, input).is_err() {
        return;
    }
    let opts = FileTapeOptions {
        write_protected: true,
        ..FileTapeOptions::default()
    };
    let Ok(mut tape) = FileTape::open(&path, opts) else {
        return;
    };
    let mut buf = vec![0u8; 4096];
    for _ in 0..(input.len() + 4) {
        match tape.read_block(&mut buf) {
            Ok(_) | Err(tape_io::TapeError::BufferTooSmall { .. } | tape_io::TapeError::BadRecord { .. }) => {}
            Err(_) => break,
        }
    }
    let _ = tape.space_files(-2);
    let _ = tape.space_records(-3);
    let _ = tape.tell();
    let _ = tape.end_of_data();
    let _ = tape.status();
    let _ = tape.rewind();
    let _ = tape.space_files(3);
    let _ = tape.seek(2);
    let _ = std::fs::remove_file(&path);
});
