//! `glacier-sync treehash`.

use std::io::{self, Write as _};
use std::path::Path;

use glacier_treehash::{TreeHash, tree_hash_file, tree_hash_reader};

use crate::cli::TreehashArgs;
use crate::exit::Code;

pub(crate) fn run(args: &TreehashArgs) -> anyhow::Result<Code> {
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        usize::from,
    );
    let mut code = Code::Success;
    let stdout = io::stdout();
    for path in &args.files {
        match hash_one(path, threads) {
            Ok(hash) => {
                let mut out = stdout.lock();
                writeln!(out, "{hash}  {}", path.display())?;
                out.flush()?;
            }
            Err(err) => {
                eprintln!("glacier-sync: {}: {err}", describe(path));
                code = Code::Failure;
            }
        }
    }
    Ok(code)
}

fn hash_one(path: &Path, threads: usize) -> io::Result<TreeHash> {
    if path == Path::new("-") {
        return tree_hash_reader(io::stdin().lock()).map(|(hash, _)| hash);
    }
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory (tree hashes are of files)",
        ));
    }
    tree_hash_file(path, threads)
}

fn describe(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        format!("'{}'", path.display())
    }
}
