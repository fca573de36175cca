//! `fake-glacier [--job-delay SECONDS] [--access-key KEY:SECRET]...`: serves the fake Glacier vault API on
//! a free port of 127.0.0.1, prints `http://127.0.0.1:PORT` on the first
//! line of standard output, and serves until standard input closes or the
//! process is killed.
#![allow(clippy::print_stdout)] // the address is this tool's output

use std::io::Read as _;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut options = fake_glacier::FakeOptions::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--job-delay" => {
                let secs: f64 = args.next().ok_or("--job-delay needs SECONDS")?.parse()?;
                options.job_delay = Duration::from_secs_f64(secs);
            }
            "--access-key" => {
                let pair = args.next().ok_or("--access-key needs KEY:SECRET")?;
                let (key, secret) = pair
                    .split_once(':')
                    .ok_or("--access-key needs KEY:SECRET (the secret verifies the signatures)")?;
                options
                    .credentials
                    .push((key.to_owned(), secret.to_owned()));
            }
            _ => {
                return Err(format!(
                    "unknown argument {a:?}; usage: fake-glacier [--job-delay SECONDS] [--access-key KEY:SECRET]..."
                )
                .into());
            }
        }
    }
    let fake = fake_glacier::FakeGlacier::start(&options)?;
    println!("{}", fake.endpoint());
    // Serve until standard input reaches its end (or a signal ends us).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(fake);
    Ok(())
}
