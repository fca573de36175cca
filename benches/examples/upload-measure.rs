//! Uploads one file once and prints the throughput, for measuring peak
//! memory with `/usr/bin/time -f %M` (see `benches/measure-upload.sh`).
//!
//! ```text
//! upload-measure local|fake|s3 FILE CONCURRENCY [PART_MIB]
//! ```
//!
//! `fake` talks to the fake Glacier endpoint in `GLACIER_ENDPOINT`, or
//! starts one in this process. `s3` uploads with the S3 store (class
//! `STANDARD`, CRC64NVME on every part) to the existing bucket
//! `S3_BUCKET` at `S3_ENDPOINT` (the moto test server in
//! `benches/measure-upload.sh`).
#![allow(clippy::print_stdout)] // a measuring tool: it reports on stdout
#![allow(clippy::cast_precision_loss)] // MiB/s for a report

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use fake_glacier::{FakeGlacier, FakeOptions};
use glacier_multipart::{
    ArchiveStore, GlacierOptions, GlacierStore, LocalStore, NoProgress, S3Class, S3Options,
    S3Store, UploadOptions, Uploader,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: upload-measure local|fake|s3 FILE CONCURRENCY [PART_MIB]".into());
    }
    let file = PathBuf::from(&args[2]);
    let concurrency: usize = args[3].parse()?;
    let part_mib: u64 = args.get(4).map_or(Ok(16), |s| s.parse())?;
    let dir = tempfile::tempdir_in(file.parent().unwrap_or(std::path::Path::new(".")))?;
    let fake;
    let store: Arc<dyn ArchiveStore> = match args[1].as_str() {
        "local" => Arc::new(LocalStore::open(dir.path())?),
        "fake" => {
            // A fake in another process (GLACIER_ENDPOINT) keeps its memory
            // out of this process's peak; otherwise start one here.
            let endpoint = if let Ok(e) = std::env::var("GLACIER_ENDPOINT") {
                e
            } else {
                fake = FakeGlacier::start(&FakeOptions::default())?;
                fake.endpoint()
            };
            Arc::new(GlacierStore::connect(&GlacierOptions {
                region: Some("us-east-1".into()),
                endpoint_url: Some(endpoint),
                static_credentials: Some(("AKIDMEASURE".into(), "secret".into())),
                ..GlacierOptions::default()
            })?)
        }
        "s3" => {
            let mut o = S3Options::new(std::env::var("S3_BUCKET")?);
            o.class = S3Class::Standard;
            o.connect.endpoint_url = Some(std::env::var("S3_ENDPOINT")?);
            o.connect.region = Some("us-east-1".into());
            o.connect.static_credentials = Some(("measure".into(), "measure".into()));
            Arc::new(S3Store::connect(&o)?)
        }
        other => return Err(format!("unknown store {other}").into()),
    };
    store.create_vault("measure")?;
    let options = UploadOptions {
        part_size: part_mib << 20,
        concurrency,
        ..UploadOptions::default()
    };
    let started = Instant::now();
    let a = Uploader::new(Arc::clone(&store), options).upload_file(
        "measure",
        &file,
        "measure",
        &NoProgress,
    )?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} concurrency={concurrency} part={part_mib}MiB size={} time={secs:.2}s throughput={:.1}MiB/s treehash={}",
        args[1],
        a.size,
        a.size as f64 / secs / f64::from(1 << 20),
        a.tree_hash
    );
    Ok(())
}
