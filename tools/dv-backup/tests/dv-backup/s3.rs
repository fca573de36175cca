//! An installation whose files are on S3 stores (moto,
//! `scripts/services/moto`) and a file store, backed up to a local
//! directory: every copy compared byte for byte, a missing object
//! recorded `FAIL_READ` with its name.

use std::fs;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::fixture::{Site, md5, sha256, stderr, stdout};

use test_services::s3_endpoint as endpoint;
use test_services::s3_request as raw_http;

pub(crate) fn bucket(name: &str) {
    assert_eq!(
        raw_http("PUT", &format!("/{name}"), b""),
        200,
        "bucket {name}"
    );
}

pub(crate) fn put(bucket: &str, key: &str, data: &[u8]) {
    assert_eq!(
        raw_http("PUT", &format!("/{bucket}/{key}"), data),
        200,
        "object {bucket}/{key}"
    );
}

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one installation, its run and every check of it
fn files_on_s3_and_file_stores_are_backed_up_and_a_missing_object_fails_read() {
    let mut site = Site::new("s3");
    // Bucket names are global on the server: one pair per site.
    let main_bucket = site.name.replace('_', "-");
    let east_bucket = format!("{main_bucket}-east");
    bucket(&main_bucket);
    bucket(&east_bucket);
    let ds_a = site.dataset("10.5072", "FK2/S3AAAA");
    let ds_b = site.dataset("10.5072", "FK2/S3BBBB");

    // On the file store.
    site.file(
        ds_a,
        "f1",
        Some(b"a file on disk"),
        "MD5",
        None,
        "2024-02-01 00:00:01",
    );
    // On driver `s3` (the default s3 store: bucket from the identifier).
    let big = content(3 << 20, 7);
    put(&main_bucket, "10.5072/FK2/S3AAAA/s3big", &big);
    site.insert_file(
        ds_a,
        Some(&format!("s3://{main_bucket}:s3big")),
        "SHA-256",
        &sha256(&big),
        Some(i64::try_from(big.len()).unwrap()),
        "2024-02-01 00:00:02",
    );
    let small = b"small object on s3".to_vec();
    put(&main_bucket, "10.5072/FK2/S3BBBB/s3small", &small);
    site.insert_file(
        ds_b,
        Some(&format!("s3://{main_bucket}:s3small")),
        "MD5",
        &md5(&small),
        Some(i64::try_from(small.len()).unwrap()),
        "2024-02-01 00:00:03",
    );
    // A tabular file on s3: its original is the `.orig` object.
    let original = b"the uploaded spreadsheet, on s3".to_vec();
    put(&main_bucket, "10.5072/FK2/S3BBBB/s3tab", b"x\ty\n");
    put(&main_bucket, "10.5072/FK2/S3BBBB/s3tab.orig", &original);
    let tab = site.insert_file(
        ds_b,
        Some(&format!("s3://{main_bucket}:s3tab")),
        "MD5",
        &md5(&original),
        Some(4),
        "2024-02-01 00:00:04",
    );
    site.dv
        .execute(
            "INSERT INTO datatable (datafile_id, originalfileformat, originalfilesize, unf) VALUES ($1, 'application/vnd.ms-excel', $2, 'UNF:6:x')",
            &[&tab, &i64::try_from(original.len()).unwrap()],
        )
        .unwrap();
    // On a store of another driver id, mapped to type s3 in the config,
    // whose configured bucket is read whatever the identifier names.
    let east = content(70_000, 3);
    put(&east_bucket, "10.5072/FK2/S3AAAA/east1", &east);
    site.insert_file(
        ds_a,
        Some("s3-east://renamed-bucket:east1"),
        "MD5",
        &md5(&east),
        Some(i64::try_from(east.len()).unwrap()),
        "2024-02-01 00:00:05",
    );
    // Recorded on s3, but the object is not there.
    site.insert_file(
        ds_b,
        Some(&format!("s3://{main_bucket}:s3gone")),
        "MD5",
        &md5(b"lost"),
        Some(4),
        "2024-02-01 00:00:06",
    );

    let backup = format!(
        "StorageType: directory\nBackupDirectory: {}\n",
        site.backup.display()
    );
    let config = site.config(&backup, true, false);
    let url = endpoint();
    let text = format!(
        "{}\n[Store.s3]\nType: s3\nEndpointUrl: {url}\nRegion: us-east-1\nPathStyle: true\n\
         \n[Store.s3-east]\nType: s3\nBucket: {east_bucket}\nEndpointUrl: {url}\nRegion: us-east-1\n",
        fs::read_to_string(&config).unwrap()
    );
    fs::write(&config, text).unwrap();

    let o = site.run(&config, &["run", "-j", "3"]);
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "one file failed: {out}\n{}",
        stderr(&o)
    );
    assert!(
        out.contains("6 files processed; 0 skipped; 5 success, 1 failed"),
        "{out}"
    );
    // The missing object: FAIL_READ naming driver, bucket and key.
    let gone_line = out
        .lines()
        .find(|l| l.contains("s3gone"))
        .unwrap_or_else(|| panic!("a line for the missing object in {out}"));
    for needle in [
        "FAIL_READ",
        "store 's3'",
        &format!("s3://{main_bucket}/10.5072/FK2/S3BBBB/s3gone"),
        "no such object",
    ] {
        assert!(gone_line.contains(needle), "{needle:?} in {gone_line}");
    }

    let statuses = site.statuses();
    let want = [
        ("file://f1".to_owned(), "OK"),
        (format!("s3://{main_bucket}:s3big"), "OK"),
        (format!("s3://{main_bucket}:s3small"), "OK"),
        (format!("s3://{main_bucket}:s3tab"), "OK"),
        ("s3-east://renamed-bucket:east1".to_owned(), "OK"),
        (format!("s3://{main_bucket}:s3gone"), "FAIL_READ"),
    ];
    for (sid, status) in &want {
        assert_eq!(
            statuses.get(sid).map(String::as_str),
            Some(*status),
            "{sid} in {statuses:?}"
        );
    }
    assert_eq!(statuses.len(), want.len(), "{statuses:?}");

    // Every copy, byte for byte, where a restore looks for it.
    let copies: [(&str, &[u8]); 5] = [
        ("10.5072/FK2/S3AAAA/f1", b"a file on disk"),
        ("10.5072/FK2/S3AAAA/s3big", &big),
        ("10.5072/FK2/S3BBBB/s3small", &small),
        ("10.5072/FK2/S3BBBB/s3tab.orig", &original),
        ("10.5072/FK2/S3AAAA/east1", &east),
    ];
    for (path, data) in copies {
        let got = fs::read(site.backup.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            got == data,
            "{path}: {} bytes, want {}",
            got.len(),
            data.len()
        );
    }
    assert!(!site.backup.join("10.5072/FK2/S3BBBB/s3gone").exists());

    // The object appears; a rerun copies just that one.
    put(&main_bucket, "10.5072/FK2/S3BBBB/s3gone", b"lost");
    let o = site.run(&config, &["run", "--rerun"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("6 files processed; 5 skipped; 1 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        fs::read(site.backup.join("10.5072/FK2/S3BBBB/s3gone")).unwrap(),
        b"lost"
    );
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `eval \"$(scripts/services/moto start)\"` (scripts/test does)"
        )
    })
}

/// Puts an object on the authenticating S3 server as its allowed user,
/// with boto3 from moto's venv (that server checks signatures).
fn put_signed(bucket: &str, key: &str, data: &[u8]) {
    let script = "import sys, boto3\n\
        ep, a, s, b, k = sys.argv[1:]\n\
        boto3.client('s3', endpoint_url=ep, region_name='us-east-1', aws_access_key_id=a, \
        aws_secret_access_key=s).put_object(Bucket=b, Key=k, Body=sys.stdin.buffer.read())\n";
    let mut child = Command::new(var("PERMAFROST_MOTO_PYTHON"))
        .args(["-c", script])
        .arg(var("PERMAFROST_S3_AUTH_ENDPOINT"))
        .arg(var("PERMAFROST_S3_AUTH_KEY"))
        .arg(var("PERMAFROST_S3_AUTH_SECRET"))
        .args([bucket, key])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    assert!(child.wait().unwrap().success(), "putting {bucket}/{key}");
}

/// The credentials of an S3 store are refused (moto's authenticating
/// server, a user with no policy): that file is `FAIL_READ` naming driver,
/// bucket, key and the refusal, the run exits 1 (some files failed), and
/// the other files, one on the same server under the allowed user's
/// profile, are backed up.
#[test]
#[allow(clippy::too_many_lines)] // one installation, its run and every check of it
fn refused_s3_credentials_are_fail_read_and_the_other_files_are_backed_up() {
    let mut site = Site::new("s3denied");
    let auth_bucket = var("PERMAFROST_S3_AUTH_BUCKET");
    let ident = format!("FK2/{}", site.name.to_uppercase());
    let ds = site.dataset("10.5072", &ident);
    let dir = format!("10.5072/{ident}");
    site.file(
        ds,
        "d1",
        Some(b"on disk"),
        "MD5",
        None,
        "2024-03-01 00:00:01",
    );
    let allowed = content(40_000, 5);
    put_signed(&auth_bucket, &format!("{dir}/ok1"), &allowed);
    site.insert_file(
        ds,
        Some(&format!("s3-auth://{auth_bucket}:ok1")),
        "MD5",
        &md5(&allowed),
        Some(i64::try_from(allowed.len()).unwrap()),
        "2024-03-01 00:00:02",
    );
    // The object is there: what is refused is the access, not a key.
    let locked = b"readable by the allowed user only".to_vec();
    put_signed(&auth_bucket, &format!("{dir}/locked1"), &locked);
    site.insert_file(
        ds,
        Some(&format!("s3-locked://{auth_bucket}:locked1")),
        "MD5",
        &md5(&locked),
        Some(i64::try_from(locked.len()).unwrap()),
        "2024-03-01 00:00:03",
    );

    let backup = format!(
        "StorageType: directory\nBackupDirectory: {}\n",
        site.backup.display()
    );
    let config = site.config(&backup, true, false);
    let url = var("PERMAFROST_S3_AUTH_ENDPOINT");
    let text = format!(
        "{}\n[Store.s3-auth]\nType: s3\nEndpointUrl: {url}\nRegion: us-east-1\nProfile: allowed\n\
         \n[Store.s3-locked]\nType: s3\nEndpointUrl: {url}\nRegion: us-east-1\n",
        fs::read_to_string(&config).unwrap()
    );
    fs::write(&config, text).unwrap();
    // No credentials in the environment: the store without a profile gets
    // the default profile, the user without any policy.
    fs::write(
        site.tmp.path().join("aws-credentials"),
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
             [allowed]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            var("PERMAFROST_S3_DENIED_KEY"),
            var("PERMAFROST_S3_DENIED_SECRET"),
            var("PERMAFROST_S3_AUTH_KEY"),
            var("PERMAFROST_S3_AUTH_SECRET"),
        ),
    )
    .unwrap();
    let o = site
        .command(&config, &["run", "-j", "2"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("3 files processed; 0 skipped; 2 success, 1 failed")
            && out.contains("FAIL_READ: 1"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("locked1"))
        .unwrap_or_else(|| panic!("a line for the refused object in {out}"));
    for needle in [
        "FAIL_READ",
        "store 's3-locked'",
        &format!("s3://{auth_bucket}/{dir}/locked1"),
        "access denied",
        "AccessDenied",
    ] {
        assert!(line.contains(needle), "{needle:?} in {line}");
    }
    for secret in ["PERMAFROST_S3_DENIED_SECRET", "PERMAFROST_S3_AUTH_SECRET"] {
        assert!(!out.contains(&var(secret)) && !stderr(&o).contains(&var(secret)));
    }

    let statuses = site.statuses();
    let want = [
        ("file://d1".to_owned(), "OK"),
        (format!("s3-auth://{auth_bucket}:ok1"), "OK"),
        (format!("s3-locked://{auth_bucket}:locked1"), "FAIL_READ"),
    ];
    assert_eq!(
        statuses,
        want.iter()
            .map(|(k, v)| (k.clone(), (*v).to_owned()))
            .collect(),
    );
    let why: String = site
        .backup_db()
        .query_one(
            "SELECT message FROM dvbackup_failure WHERE storageidentifier = $1",
            &[&want[2].0],
        )
        .unwrap()
        .get(0);
    assert!(
        why.contains("access denied") && why.contains("s3-locked"),
        "{why}"
    );
    assert_eq!(
        fs::read(site.backup.join(format!("{dir}/d1"))).unwrap(),
        b"on disk"
    );
    assert!(fs::read(site.backup.join(format!("{dir}/ok1"))).unwrap() == allowed);
    assert!(!site.backup.join(format!("{dir}/locked1")).exists());
}
