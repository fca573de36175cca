//! A small driver for measurements and manual use (not a tool: the real
//! command line arrives with `glacier-sync archive`).
//!
//! ```text
//! pf-bundle walk ROOT...                 walk and print counts and time
//! pf-bundle bundle OUT_DIR ROOT...       walk, plan (defaults), write bundles
//! pf-bundle extract BUNDLE OUT_DIR [MEMBER...]
//! ```
//! Environment: `PF_THREADS`, `PF_LEVEL`, `PF_FRAME` (bytes),
//! `PF_MAX_FILES`, `PF_MAX_BYTES`, `PF_COMPRESSION` (zstd|gzip|none),
//! `PF_GROUP` (0: keep walk order inside frames, see
//! `BundleOptions::group_incompressible`), `PF_RAW` (0: compress random-looking
//! content too, see `BundleOptions::raw_frames`).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::path::PathBuf;
use std::time::Instant;

use bundler::{
    BundleLimits, BundleOptions, BundlePlan, Compression, ExtractOptions, FileSource, NameStyle,
    Selection, WalkOptions, Walker, extract_ranges, extract_stream, read_index,
    write_bundles_to_dir,
};

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = env("PF_THREADS", 0usize);
    match args.first().map(String::as_str) {
        Some("walk") => {
            let t = Instant::now();
            let w = Walker::new(WalkOptions {
                roots: args[1..].iter().map(PathBuf::from).collect(),
                threads,
                ..WalkOptions::default()
            })?
            .walk()?;
            let s = t.elapsed().as_secs_f64();
            println!(
                "walked {} entries ({} files, {} bytes) in {s:.3} s; {} unreadable, {} special",
                w.entries.len(),
                w.report.files,
                w.report.bytes,
                w.report.unreadable.len(),
                w.report.special_skipped()
            );
            // Exit without freeing 200k entries one by one.
            std::process::exit(0);
        }
        Some("bundle") => {
            let out = PathBuf::from(&args[1]);
            std::fs::create_dir_all(&out)?;
            let t = Instant::now();
            let w = Walker::new(WalkOptions {
                roots: args[2..].iter().map(PathBuf::from).collect(),
                threads,
                name_style: NameStyle::RelativeToRoot,
                ..WalkOptions::default()
            })?
            .walk()?;
            let walked = t.elapsed().as_secs_f64();
            let limits = BundleLimits {
                max_members: env("PF_MAX_FILES", 1000usize),
                max_bytes: env("PF_MAX_BYTES", 500u64 << 20),
            };
            let plan = BundlePlan::new(&w.entries, limits)?;
            let compression = match std::env::var("PF_COMPRESSION").as_deref() {
                Ok("gzip") => Compression::Gzip,
                Ok("none") => Compression::None,
                _ => Compression::Zstd,
            };
            let options = BundleOptions {
                compression,
                level: env("PF_LEVEL", 1),
                frame_size: env("PF_FRAME", 4usize << 20),
                threads,
                encryption: None,
                group_incompressible: env("PF_GROUP", 1u8) != 0,
                raw_frames: env("PF_RAW", 1u8) != 0,
            };
            let written = write_bundles_to_dir(&out, "bundle", &w.entries, &plan, &options)?;
            let s = t.elapsed().as_secs_f64();
            let bytes: u64 = written
                .iter()
                .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
                .sum();
            println!(
                "{} bundles, {} members, {} content bytes -> {bytes} bytes in {s:.3} s (walk {walked:.3} s), {:.0} MB/s",
                written.len(),
                w.entries.len(),
                w.report.bytes,
                w.report.bytes as f64 / s / 1e6
            );
            std::process::exit(0);
        }
        Some("extract") => {
            let bundle = PathBuf::from(&args[1]);
            let out = PathBuf::from(&args[2]);
            let t = Instant::now();
            let r = if args.len() > 3 {
                let src = FileSource::open(&bundle)?;
                let index = read_index(&src, None)?;
                extract_ranges(
                    &src,
                    &index,
                    &Selection::paths(args[3..].iter().map(String::as_bytes)),
                    &out,
                    &ExtractOptions::default(),
                )?
            } else {
                extract_stream(
                    std::fs::File::open(&bundle)?,
                    &Selection::All,
                    &out,
                    &ExtractOptions::default(),
                )?
            };
            println!("{r:?} in {:.3} s", t.elapsed().as_secs_f64());
        }
        _ => {
            eprintln!(
                "usage: pf-bundle walk ROOT... | bundle OUT_DIR ROOT... | extract BUNDLE OUT_DIR [MEMBER...]"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
