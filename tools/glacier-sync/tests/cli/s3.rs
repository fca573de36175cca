//! S3 stores (`s3://`) through the binary against the S3 test server (moto,
//! from `scripts/services/moto`): the other forms of `--vault` and
//! `list-vaults`, pricing per class, and an
//! independent client (boto3) reading what a sync wrote.

use crate::mt::{Env, VAULT, make_tree, ok};
use crate::{run, stderr, stdout};

pub(crate) use test_services::s3_endpoint as endpoint;

/// The store at `location` on the test server, opened directly.
pub(crate) fn store(location: &str) -> glacier_multipart::S3Store {
    let mut o = glacier_multipart::S3Options::from_location(location).unwrap();
    o.connect.endpoint_url = Some(endpoint());
    o.connect.region = Some("us-east-1".into());
    o.connect.static_credentials = Some(("testing".into(), "testing".into()));
    glacier_multipart::S3Store::connect(&o).unwrap()
}

fn cfg(dir: &std::path::Path) -> String {
    let p = dir.join("s3.cfg");
    std::fs::write(&p, "key=testing\nsecret=testing\nregion=us-east-1\n").unwrap();
    p.display().to_string()
}

#[test]
fn vaults_in_s3_locations_and_list_vaults_shows_the_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = cfg(dir);
    let bucket = fresh_bucket();
    let ep = endpoint();
    let common = ["--config", &cfg, "--endpoint-url", &ep];
    for v in ["photos", "music"] {
        let spec = format!("s3://{bucket}/team/{v}?class=GLACIER");
        let mut args = vec!["create-vault", &spec];
        args.extend(common);
        ok(&run(dir, &args, None));
    }
    let store_loc = format!("s3://{bucket}/team");
    let mut args = vec!["--json", "list-vaults", "--store", &store_loc];
    args.extend(common);
    let v: serde_json::Value = serde_json::from_str(&ok(&run(dir, &args, None))).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["music", "photos"], "{v}");
    // A vault with no name, and a store option glacier-sync does not know.
    let spec = format!("s3://{bucket}");
    let mut args = vec!["create-vault", &spec];
    args.extend(common);
    assert_eq!(run(dir, &args, None).status.code(), Some(2));
    let spec = format!("s3://{bucket}/x?class=COLD");
    let mut args = vec!["create-vault", &spec];
    args.extend(common);
    let out = run(dir, &args, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("COLD"), "{}", stderr(&out));
}

#[test]
fn an_independent_client_reads_what_a_sync_wrote() {
    let env = Env::s3();
    make_tree(&env);
    ok(&env.sync(&[]));
    let state = env.journal_state("journal.log");
    let crate::mt::Backend::S3(bucket) = &env.backend else {
        unreachable!()
    };
    let python = std::env::var("PERMAFROST_MOTO_PYTHON").unwrap_or_else(|_| {
        panic!("PERMAFROST_MOTO_PYTHON is not set: run `eval \"$(scripts/services/moto start)\"`")
    });
    let script = "import sys, json, boto3\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='t', aws_secret_access_key='t', region_name='us-east-1')\n\
        out = []\n\
        for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix='site/photos/'):\n\
        \x20   for o in page.get('Contents', []):\n\
        \x20       h = s3.head_object(Bucket=sys.argv[2], Key=o['Key'], ChecksumMode='ENABLED')\n\
        \x20       out.append({'key': o['Key'], 'class': o.get('StorageClass'), 'meta': h['Metadata'], 'crc': h.get('ChecksumCRC64NVME')})\n\
        print(json.dumps(out))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, &endpoint(), bucket])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let archives: Vec<&serde_json::Value> = objects
        .iter()
        .filter(|o| {
            let k = o["key"].as_str().unwrap();
            let name = k.rsplit('/').next().unwrap();
            !name.starts_with('.') && !name.ends_with(".treehash") && !k.contains("/.")
        })
        .collect();
    assert_eq!(archives.len(), state.archive_count(), "{objects:?}");
    for a in &archives {
        assert_eq!(a["class"], "DEEP_ARCHIVE", "{a}");
        assert!(a["crc"].as_str().is_some_and(|c| !c.is_empty()), "{a}");
        let desc = a["meta"]["description"].as_str().unwrap();
        assert!(desc.starts_with("mt2 "), "{a}");
        let id = a["key"].as_str().unwrap().rsplit('/').next().unwrap();
        let archive = state
            .files()
            .map(|f| f.latest())
            .find(|x| x.archive_id.as_str() == id)
            .unwrap_or_else(|| panic!("{id} is not in the journal"));
        if let Some(h) = a["meta"]["treehash"].as_str() {
            assert_eq!(h, archive.treehash.to_hex(), "{a}");
        }
    }
    // The store itself agrees, and the class shows in the restore estimate.
    assert_eq!(
        env.store().describe_vault(VAULT).unwrap().archives,
        state.archive_count() as u64
    );
    std::fs::create_dir(env.path("back")).unwrap();
    let vault = env.vault_spec();
    let plan = ok(&env.run(&[
        "--json",
        "restore",
        "--dir",
        "back",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--max-number-of-files",
        "100",
        "--tier",
        "bulk",
        "--dry-run",
    ]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert!(plan["estimated_cost_usd"].as_f64().unwrap() > 0.0, "{plan}");
    // Deep Archive has no Expedited tier: refused before anything is asked.
    let out = env.run(&[
        "restore",
        "--dir",
        "back",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--max-number-of-files",
        "100",
        "--tier",
        "expedited",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn purge_vault_dry_run_shows_the_early_deletion_charge_of_the_class() {
    let env = Env::s3();
    make_tree(&env);
    ok(&env.sync(&[]));
    let vault = env.vault_spec();
    let out = env.run(&[
        "--json",
        "purge-vault",
        "--vault",
        &vault,
        "--journal",
        "journal.log",
        "--dry-run",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["class"], "S3 Glacier Deep Archive", "{v}");
    assert_eq!(v["minimum_days"], 180, "{v}");
    assert!(v["early_deletion_usd"].as_f64().unwrap() > 0.0, "{v}");
    assert!(
        stderr(&out).contains("younger than the 180-day minimum of S3 Glacier Deep Archive"),
        "{}",
        stderr(&out)
    );
    assert!(env.store().describe_vault(VAULT).unwrap().archives > 0);
}

/// `create-vault` checks the bucket and writes only its zero-byte marker
/// (`PREFIX/VAULT/.vault`, what makes an empty prefix a vault): no bucket is
/// created, nothing else is stored.
#[test]
fn create_vault_checks_the_bucket_and_writes_only_its_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = cfg(dir);
    let bucket = fresh_bucket();
    let ep = endpoint();
    let spec = format!("s3://{bucket}/team/photos?class=DEEP_ARCHIVE");
    ok(&run(
        dir,
        &[
            "create-vault",
            &spec,
            "--config",
            &cfg,
            "--endpoint-url",
            &ep,
        ],
        None,
    ));
    let python = std::env::var("PERMAFROST_MOTO_PYTHON").unwrap_or_else(|_| {
        panic!("PERMAFROST_MOTO_PYTHON is not set: run `eval \"$(scripts/services/moto start)\"`")
    });
    let script = "import sys, json, boto3\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='t', aws_secret_access_key='t', region_name='us-east-1')\n\
        objs = s3.list_objects_v2(Bucket=sys.argv[2]).get('Contents', [])\n\
        names = [b['Name'] for b in s3.list_buckets()['Buckets']]\n\
        print(json.dumps({'objects': [[o['Key'], o['Size']] for o in objs], 'missing_exists': 'gs-never-created' in names}))\n";
    // And one into a bucket that does not exist: refused, not created.
    let missing = "s3://gs-never-created/team/photos";
    let out = run(
        dir,
        &[
            "create-vault",
            missing,
            "--config",
            &cfg,
            "--endpoint-url",
            &ep,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = std::process::Command::new(python)
        .args(["-c", script, &ep, &bucket])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["objects"],
        serde_json::json!([["team/photos/.vault", 0]]),
        "{v}"
    );
    assert_eq!(v["missing_exists"], false, "{v}");
}

/// The check: an archive of a few thousand files into
/// `DEEP_ARCHIVE`, read by an independent client (boto3: storage class, our
/// tree hash in the metadata, the CRC64NVME S3 stored), then one file back
/// through restore, byte-identical.
#[test]
fn an_archive_into_deep_archive_is_read_by_boto3_and_a_file_comes_back() {
    let env = Env::s3();
    let src = env.path("src");
    for i in 0..3000 {
        let d = src.join(format!("d{:02}", i % 40));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let needle: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("d07/the-needle.bin"), &needle).unwrap();
    let vault = env.vault_spec();
    let out = ok(&env.run(&[
        "--json",
        "archive",
        "src",
        "--vault",
        &vault,
        "--catalog",
        "cat.sqlite",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["files"], 3001, "{v}");
    let crate::mt::Backend::S3(bucket) = &env.backend else {
        unreachable!()
    };
    let python = std::env::var("PERMAFROST_MOTO_PYTHON").unwrap_or_else(|_| {
        panic!("PERMAFROST_MOTO_PYTHON is not set: run `eval \"$(scripts/services/moto start)\"`")
    });
    let script = "import sys, json, boto3\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='t', aws_secret_access_key='t', region_name='us-east-1')\n\
        out = []\n\
        for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix='site/photos/'):\n\
        \x20   for o in page.get('Contents', []):\n\
        \x20       name = o['Key'].rsplit('/', 1)[-1]\n\
        \x20       if name.startswith('.') or name.endswith('.treehash') or '/.' in o['Key']: continue\n\
        \x20       h = s3.head_object(Bucket=sys.argv[2], Key=o['Key'], ChecksumMode='ENABLED')\n\
        \x20       out.append({'key': o['Key'], 'class': o.get('StorageClass'), 'meta': h['Metadata'], 'crc': h.get('ChecksumCRC64NVME')})\n\
        print(json.dumps(out))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, &endpoint(), bucket])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!objects.is_empty());
    assert_eq!(objects.len() as u64, env.archive_count(), "{objects:?}");
    for o in &objects {
        assert_eq!(o["class"], "DEEP_ARCHIVE", "{o}");
        assert!(o["crc"].as_str().is_some_and(|c| !c.is_empty()), "{o}");
        let th = o["meta"]["treehash"].as_str().unwrap_or("");
        assert!(
            th.len() == 64 && th.bytes().all(|b| b.is_ascii_hexdigit()),
            "{o}"
        );
    }
    // One file back through a restore, byte-identical.
    ok(&env.run(&[
        "retrieve",
        "needle",
        "--vault",
        &vault,
        "--catalog",
        "cat.sqlite",
        "--to",
        "out",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]));
    let abs = std::fs::canonicalize(src.join("d07/the-needle.bin")).unwrap();
    let got = env
        .path("out")
        .join(abs.display().to_string().trim_start_matches('/'));
    assert_eq!(std::fs::read(got).unwrap(), needle);
}

/// Bytes replaced behind our back (same length, one byte flipped, written
/// by another client with the same class and metadata): `retrieve` fails
/// verification naming the object, and nothing is extracted.
#[test]
fn replaced_bytes_fail_retrieve_naming_the_object_and_nothing_is_extracted() {
    let env = Env::s3();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let needle: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(src.join("the-needle.bin"), &needle).unwrap();
    let vault = env.vault_spec();
    ok(&env.run(&[
        "archive",
        "src",
        "--vault",
        &vault,
        "--catalog",
        "cat.sqlite",
    ]));
    let crate::mt::Backend::S3(bucket) = &env.backend else {
        unreachable!()
    };
    let python = std::env::var("PERMAFROST_MOTO_PYTHON").unwrap_or_else(|_| {
        panic!("PERMAFROST_MOTO_PYTHON is not set: run `eval \"$(scripts/services/moto start)\"`")
    });
    let script = "import sys, json, time, boto3\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='t', aws_secret_access_key='t', region_name='us-east-1')\n\
        keys = []\n\
        for o in s3.list_objects_v2(Bucket=sys.argv[2], Prefix='site/photos/').get('Contents', []):\n\
        \x20   name = o['Key'].rsplit('/', 1)[-1]\n\
        \x20   if name.startswith('.') or name.endswith('.treehash') or '/.' in o['Key']: continue\n\
        \x20   h = s3.head_object(Bucket=sys.argv[2], Key=o['Key'])\n\
        \x20   s3.restore_object(Bucket=sys.argv[2], Key=o['Key'], RestoreRequest={'Days': 1})\n\
        \x20   body = bytearray(s3.get_object(Bucket=sys.argv[2], Key=o['Key'])['Body'].read())\n\
        \x20   body[len(body) // 2] ^= 1\n\
        \x20   s3.put_object(Bucket=sys.argv[2], Key=o['Key'], Body=bytes(body), StorageClass='DEEP_ARCHIVE', Metadata=h['Metadata'])\n\
        \x20   keys.append(o['Key'])\n\
        print(json.dumps(keys))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, &endpoint(), bucket])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!keys.is_empty());
    let out = env.run(&[
        "retrieve",
        "needle",
        "--vault",
        &vault,
        "--catalog",
        "cat.sqlite",
        "--to",
        "out",
        "--yes",
        "--wait",
        "--interval",
        "1",
    ]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        keys.iter().any(|k| err.contains(k.as_str())),
        "{keys:?}: {err}"
    );
    let extracted = walk(&env.path("out"));
    assert!(extracted.is_empty(), "extracted {extracted:?}");
}

/// Regular files under `dir` (none when it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A new, empty bucket on the S3 test server.
pub(crate) fn fresh_bucket() -> String {
    test_services::s3_fresh_bucket("gs")
}
