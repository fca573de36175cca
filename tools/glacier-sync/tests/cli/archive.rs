//! The main job end to end: archive a generated tree, find, retrieve (whole
//! and ranged), rerun, kill -9 and rerun, rebuild the catalog from the
//! vault, encryption. The same functions run against the local directory
//! store and the fake Glacier HTTP service.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::mt::{Backend, Env, VAULT, ok};
use crate::{run, stderr, stdout};

/// Deterministic bytes that do not compress.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// A tree of `n` small files in nested directories (non-ASCII names, empty
/// files), a few named ones, and a directory of large files followed by a
/// small one.
fn make_tree(root: &Path, n: usize) {
    for i in 0..n {
        let dir = root.join(format!("d{:02}/sub{}/deep{}", i % 37, i % 5, i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let name = match i % 4 {
            0 => format!("file-{i}.txt"),
            1 => format!("résumé-{i}.txt"),
            2 => format!("日本語 {i}.dat"),
            _ => format!("notes_{i}.md"),
        };
        let body = if i % 97 == 0 {
            Vec::new()
        } else {
            format!("content of {i}\n").into_bytes()
        };
        std::fs::write(dir.join(name), body).unwrap();
    }
    let fin = root.join("finance");
    std::fs::create_dir_all(&fin).unwrap();
    std::fs::write(fin.join("Budget 2019 final.xlsx"), noise(1, 5000)).unwrap();
    std::fs::write(fin.join("Budget 2020.xlsx"), noise(2, 7000)).unwrap();
    std::fs::write(fin.join("quarterly report draft.txt"), b"draft\n").unwrap();
    let big = root.join("zbig");
    std::fs::create_dir_all(&big).unwrap();
    for k in 0..3 {
        std::fs::write(big.join(format!("large-{k}.bin")), noise(10 + k, 5 << 20)).unwrap();
    }
    std::fs::write(big.join("zz-small-needle.txt"), b"the needle\n").unwrap();
}

/// Regular files under `root`: relative path -> (content, mtime).
fn files(root: &Path) -> std::collections::BTreeMap<String, (Vec<u8>, i64)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, (std::fs::read(e.path()).unwrap(), m.mtime()));
            }
        }
    }
    out
}

struct Job<'a> {
    env: &'a Env,
    catalog: PathBuf,
}

impl Job<'_> {
    /// A command that talks to the store: vault, catalog and store options.
    fn store_cmd(&self, args: &[&str]) -> Output {
        let vault = self.env.vault_spec();
        let cat = self.catalog.display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--vault", &vault, "--catalog", &cat]);
        self.env.run(&all)
    }

    /// A command that only reads the catalog.
    fn cat_cmd(&self, args: &[&str]) -> Output {
        let cat = self.catalog.display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--catalog", &cat]);
        run(self.env.tmp.path(), &all, None)
    }

    /// The paths `find` answers, in order.
    fn find(&self, query: &str) -> Vec<String> {
        let cat = self.catalog.display().to_string();
        let out = run(
            self.env.tmp.path(),
            &[
                "--json",
                "find",
                "--catalog",
                &cat,
                "--limit",
                "100000",
                "--",
                query,
            ],
            None,
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("find {query}: {e}: {}", stderr(&out)));
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn src_abs(env: &Env) -> PathBuf {
    std::fs::canonicalize(env.path("src")).unwrap()
}

/// Sizes of the outputs of the vault's finished archive-retrieval jobs.
fn job_outputs(env: &Env) -> Vec<(Option<std::ops::Range<u64>>, u64, u64)> {
    let store = env.store();
    store
        .list_jobs(VAULT)
        .unwrap()
        .into_iter()
        .filter_map(|j| match j.request {
            glacier_multipart::JobRequest::ArchiveRetrieval { range, .. } => Some((
                range,
                j.output_size.unwrap_or(0),
                j.archive_size.unwrap_or(0),
            )),
            _ => None,
        })
        .collect()
}

#[allow(clippy::too_many_lines)] // one story, step by step
pub(crate) fn main_job(env: &Env) {
    make_tree(&env.path("src"), 10_000);
    let src = src_abs(env);
    let job = Job {
        env,
        catalog: env.path("catalog.sqlite"),
    };
    // Dry run: counts and the cost picture, nothing stored.
    let out = job.store_cmd(&["archive", "src", "--max-files", "200", "--dry-run"]);
    let text = ok(&out);
    assert!(text.contains("10007 files"), "{text}");
    assert!(
        text.contains("Deep Archive") && text.contains("2026"),
        "{text}"
    );
    assert_eq!(env.archive_count(), 0);

    let out = job.store_cmd(&[
        "--json",
        "archive",
        "src",
        "-t",
        "projects,legacy",
        "-s",
        "old server",
        "--max-files",
        "200",
        "-j",
        "3",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["files"], 10_007);
    let bundles = v["bundles"].as_u64().unwrap();
    assert!(bundles >= 50, "{bundles} bundles");
    assert_eq!(
        env.archive_count(),
        bundles + 1,
        "bundles and the catalog export"
    );

    // find: a word, a phrase, a tag, a negation.
    let budget = format!("{}/finance/Budget 2019 final.xlsx", src.display());
    let budget20 = format!("{}/finance/Budget 2020.xlsx", src.display());
    assert_eq!(job.find("budget"), vec![budget.clone(), budget20.clone()]);
    assert_eq!(job.find("\"budget 2019\""), vec![budget.clone()]);
    assert_eq!(job.find("budget -final"), vec![budget20.clone()]);
    assert_eq!(
        job.find("résumé-41"),
        vec![format!("{}/d04/sub1/deep2/résumé-41.txt", src.display())]
    );
    let tagged = job.find("tag:projects");
    assert!(
        tagged.len() > 10_007,
        "files and directories: {}",
        tagged.len()
    );
    let human = stdout(&job.cat_cmd(&["find", "quarterly"]));
    assert!(
        human.starts_with(&format!(
            "{}/finance/quarterly report draft.txt\t",
            src.display()
        )),
        "{human}"
    );
    // The mtime is UTC text the query language reads back, not epoch seconds.
    let mtime = human
        .split('\t')
        .find_map(|f| f.strip_prefix("mtime "))
        .unwrap_or_else(|| panic!("no mtime field: {human}"));
    assert!(
        mtime.len() >= 10 && &mtime[4..5] == "-" && &mtime[7..8] == "-",
        "{human}"
    );
    let w = ok(&job.cat_cmd(&["where-is", &budget]));
    assert!(w.starts_with(&budget), "{w}");

    // Retrieve a handful into an empty directory: byte-identical, mtimes.
    let out = job.store_cmd(&[
        "retrieve",
        "finance",
        "--to",
        "out",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    ok(&out);
    let want = files(&src.join("finance"));
    let got_root = env
        .path("out")
        .join(src.strip_prefix("/").unwrap())
        .join("finance");
    assert_eq!(files(&got_root), want);
    let jobs = ok(&job.cat_cmd(&["jobs"]));
    assert!(jobs.contains("Downloaded"), "{jobs}");

    // One small file behind large ones: only its ranges are fetched.
    let needle = src.join("zbig/zz-small-needle.txt");
    let before = job_outputs(env).len();
    let out = job.store_cmd(&[
        "--json",
        "retrieve",
        "--path",
        needle.to_str().unwrap(),
        "--to",
        "out2",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    let text = ok(&out);
    let first_doc = text.split("\n}\n").next().unwrap().to_owned() + "\n}";
    let v: serde_json::Value = serde_json::from_str(&first_doc).unwrap();
    let a = &v["plan"]["archives"][0];
    assert!(a["range"].is_array(), "a ranged job: {a}");
    assert!(a["bytes"].as_u64().unwrap() <= 2 << 20, "{a}");
    assert!(a["size"].as_u64().unwrap() > 15 << 20, "{a}");
    let outputs = job_outputs(env);
    assert_eq!(outputs.len(), before + 1);
    // The job on the large bundle: a range, served at that size only.
    let r = (
        a["range"][0].as_u64().unwrap(),
        a["range"][1].as_u64().unwrap(),
    );
    let served: Vec<_> = outputs.iter().filter(|o| o.0 == Some(r.0..r.1)).collect();
    assert_eq!(served.len(), 1, "{outputs:?}");
    assert!(
        served[0].1 <= 2 << 20 && served[0].2 > 15 << 20,
        "{outputs:?}"
    );
    let got = env.path("out2").join(needle.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(got).unwrap(), b"the needle\n");

    // --dry-run prints the plan and CSV, requests nothing; --max-cost refuses.
    let n_jobs = job_outputs(env).len();
    let out = job.store_cmd(&["retrieve", "budget", "--to", "out3", "--dry-run"]);
    let text = ok(&out);
    assert!(
        text.lines().all(|l| l.starts_with(&format!("{VAULT},"))),
        "{text}"
    );
    // The plan's price: Glacier's for the vault API, nothing for a local
    // directory (whose jobs are ready at once), with Glacier's shown beside.
    let out = job.store_cmd(&[
        "--json",
        "retrieve",
        "tag:projects",
        "--to",
        "out3",
        "--dry-run",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let plan = &plan["plan"];
    assert!(plan["glacier_usd"].as_f64().unwrap() > 0.0, "{plan}");
    let local = matches!(env.backend, Backend::Local);
    assert_eq!(plan["local_store"], local, "{plan}");
    assert_eq!(plan["usd"].as_f64().unwrap() == 0.0, local, "{plan}");
    if !local {
        let out = job.store_cmd(&[
            "retrieve",
            "tag:projects",
            "--to",
            "out3",
            "--max-cost",
            "0.000000001",
            "--yes",
        ]);
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    }
    assert_eq!(job_outputs(env).len(), n_jobs);

    // A second run archives only what changed.
    let out = job.store_cmd(&["--json", "archive", "src", "--max-files", "200"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["files"], 0);
    std::fs::write(src.join("finance/Budget 2020.xlsx"), b"revised").unwrap();
    std::fs::write(src.join("finance/new memo.txt"), b"memo").unwrap();
    let out = job.store_cmd(&["--json", "archive", "src", "--max-files", "200"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["files"], 2, "{v}");
    // A change of ctime alone (chmod) counts as a change.
    let quarterly = src.join("finance/quarterly report draft.txt");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::set_permissions(
        &quarterly,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = job.store_cmd(&["--json", "archive", "src", "--max-files", "200"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["files"], 1, "{v}");
    assert_eq!(
        job.find("memo"),
        vec![format!("{}/finance/new memo.txt", src.display())]
    );

    // Lose the catalog; rebuild it from the vault alone.
    let queries = [
        "budget",
        "\"budget 2019\"",
        "budget -final",
        "tag:projects",
        "日本語",
    ];
    let answers: Vec<Vec<String>> = queries.iter().map(|q| job.find(q)).collect();
    for f in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = std::fs::remove_file(env.path(f));
    }
    std::fs::remove_dir_all(env.path("catalog.sqlite.indexes")).unwrap();
    ok(&job.store_cmd(&["catalog", "rebuild", "--interval", "1"]));
    for (q, a) in queries.iter().zip(&answers) {
        let mut got = job.find(q);
        let mut a = a.clone();
        got.sort();
        a.sort();
        assert_eq!(got, a, "{q}");
    }
    // And a retrieval through the rebuilt catalog (whole bundles now).
    ok(&job.store_cmd(&[
        "retrieve",
        "\"budget 2019\"",
        "--to",
        "out4",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]));
    let got = env.path("out4").join(budget.trim_start_matches('/'));
    assert_eq!(std::fs::read(got).unwrap(), noise(1, 5000));
}

pub(crate) fn killed_archive_resumes(env: &Env) {
    make_tree(&env.path("src"), 3000);
    let job = Job {
        env,
        catalog: env.path("catalog.sqlite"),
    };
    let vault = env.vault_spec();
    let cat = job.catalog.display().to_string();
    let mut args = vec![
        "archive".to_owned(),
        "src".into(),
        "--max-files".into(),
        "20".into(),
        "-j".into(),
        "2".into(),
        "--vault".into(),
        vault.clone(),
        "--catalog".into(),
        cat.clone(),
    ];
    args.extend(env.store_opts());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args(&args)
        .current_dir(env.tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it mid-run, once some bundles are stored.
    let t0 = std::time::Instant::now();
    while env.archive_count() < 20 && t0.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(env.archive_count() < 160, "killed before the end");
    let out = job.store_cmd(&["--json", "archive", "src", "--max-files", "20", "-j", "2"]);
    ok(&out);
    // Every file once in the catalog.
    let all = job.find(&format!("under:{}", src_abs(env).display()));
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no duplicates");
    let c = catalog::Catalog::open(&job.catalog).unwrap();
    let mut stored = 0;
    let runs = c.runs().unwrap();
    for r in &runs {
        assert!(r.ended.is_some(), "every run closed");
        for a in c.archives_of_run(r.id).unwrap() {
            if a.info.state == catalog::ArchiveState::Stored {
                stored += 1;
            }
        }
    }
    // Every archive in the vault is a stored bundle or a run's export.
    assert_eq!(env.archive_count(), stored + runs.len() as u64);
    let n_files = files(&env.path("src")).len();
    let file_hits = all
        .iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .count();
    assert_eq!(file_hits, n_files);
}

pub(crate) fn encrypted(env: &Env) {
    std::fs::create_dir_all(env.path("src/secret")).unwrap();
    std::fs::write(env.path("src/secret/plans.txt"), b"top secret plans\n").unwrap();
    std::fs::write(env.path("src/secret/more.bin"), noise(5, 100_000)).unwrap();
    let (identity, recipient) = bundler::generate_x25519();
    std::fs::write(env.path("key.txt"), format!("{identity}\n")).unwrap();
    let job = Job {
        env,
        catalog: env.path("catalog.sqlite"),
    };
    ok(&job.store_cmd(&["archive", "src", "--encrypt-to", &recipient]));
    // Without the identity: a clear failure, nothing extracted.
    let out = job.store_cmd(&[
        "retrieve",
        "plans",
        "--to",
        "out",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--identity"), "{}", stderr(&out));
    // With it: the same job completes.
    ok(&job.store_cmd(&["watch", "--once", "-i", "key.txt"]));
    let src = src_abs(env);
    let got = env
        .path("out")
        .join(src.strip_prefix("/").unwrap())
        .join("secret/plans.txt");
    assert_eq!(std::fs::read(got).unwrap(), b"top secret plans\n");
    // The age CLI decrypts a downloaded bundle.
    let hit = job.find("plans");
    assert_eq!(hit.len(), 1);
    let out = job.cat_cmd(&["--json", "find", "plans"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let archive_id = v["hits"][0]["archive_id"].as_str().unwrap().to_owned();
    let store = env.store();
    let jid = store
        .initiate_job(VAULT, &glacier_multipart::JobRequest::archive(archive_id))
        .unwrap();
    let data = store.get_job_output(VAULT, &jid, None).unwrap().data;
    std::fs::write(env.path("bundle.age"), data).unwrap();
    let sh = format!(
        "age -d -i key.txt bundle.age | zstd -dc | tar -xOf - {}",
        src.join("secret/plans.txt")
            .strip_prefix("/")
            .unwrap()
            .display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&sh)
        .current_dir(env.tmp.path())
        .output()
        .expect("sh with age, zstd and tar (apt-get install age zstd)");
    assert_eq!(out.stdout, b"top secret plans\n", "{}", stderr(&out));
}

#[test]
fn local_main_job() {
    main_job(&Env::local());
}

#[test]
fn local_killed_archive_resumes() {
    killed_archive_resumes(&Env::local());
}

#[test]
fn local_encrypted() {
    encrypted(&Env::local());
}

#[test]
fn fake_main_job() {
    main_job(&Env::fake());
}

#[test]
fn fake_killed_archive_resumes() {
    killed_archive_resumes(&Env::fake());
}

#[test]
fn fake_encrypted() {
    encrypted(&Env::fake());
}

#[test]
fn s3_main_job() {
    main_job(&Env::s3());
}

#[test]
fn s3_killed_archive_resumes() {
    killed_archive_resumes(&Env::s3());
}

#[test]
fn s3_encrypted() {
    encrypted(&Env::s3());
}
