//! Runs of the real binary.

use std::fs;
use std::time::Duration;

use crate::fixture::{Site, mails_containing, md5, sshd, stderr, stdout};

pub(crate) fn ssh_backup(site: &Site, extra: &str) -> String {
    let s = sshd();
    format!(
        "StorageType: ssh\nSshHost: 127.0.0.1\nSshPort: {}\nSshUsername: root\nBackupDirectory: {}\nSshKey: {}\nSshKnownHosts: {}\n{extra}",
        s.port,
        site.backup.display(),
        s.key,
        s.known_hosts
    )
}

#[test]
#[allow(clippy::too_many_lines)] // one site's life: first run, nothing new, a new file, a rerun
fn sftp_backup_with_the_original_status_table_and_email() {
    let mut site = Site::new("sftp");
    let tag = site.name.clone();
    let ds_a = site.dataset("10.5072", "FK2/AAAAAA");
    let ds_b = site.dataset("10.5072", "FK2/BBBBBB");
    let ds_h = site.dataset_harvested("10.9999", "HARV", Some(&format!("{tag}-oai")));
    site.file(
        ds_a,
        "a1",
        Some(b"first file"),
        "MD5",
        None,
        "2024-01-01 00:00:01.5",
    );
    site.file(
        ds_b,
        "b1",
        Some(&vec![9u8; 300_000]),
        "MD5",
        None,
        "2024-01-01 00:00:02",
    );
    // A tabular file: the .tab in the store, the original beside it.
    let dir = site.dataset_dir(ds_a);
    fs::write(dir.join("t1"), b"x\ty\n1\t2\n").unwrap();
    fs::write(dir.join("t1.orig"), b"the uploaded spreadsheet").unwrap();
    let t = site.insert_file(
        ds_a,
        Some("file://t1"),
        "MD5",
        &md5(b"the uploaded spreadsheet"),
        Some(9),
        "2024-01-01 00:00:03",
    );
    site.dv
        .execute(
            "INSERT INTO datatable (datafile_id, originalfileformat, originalfilesize, unf) VALUES ($1, 'application/vnd.ms-excel', 24, 'UNF:6:x')",
            &[&t],
        )
        .unwrap();
    let missing = format!("{tag}-missing");
    site.file(
        ds_a,
        &missing,
        None,
        "MD5",
        Some(&md5(b"lost")),
        "2024-01-01 00:00:04",
    );
    site.file(
        ds_b,
        "u1",
        Some(b"odd"),
        "CRC32",
        Some("deadbeef"),
        "2024-01-01 00:00:05",
    );
    let unstored = site.insert_file(
        ds_b,
        None,
        "MD5",
        &md5(b"never stored"),
        None,
        "2024-01-01 00:00:06",
    );
    site.file(
        ds_h,
        "h1",
        Some(b"harvested"),
        "MD5",
        None,
        "2024-01-01 00:00:07",
    );

    let config = site.config(&ssh_backup(&site, ""), true, true);
    let o = site.run(&config, &["run", "-j", "3"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("6 files processed; 0 skipped; 3 success, 3 failed"),
        "{out}"
    );
    assert!(
        out.contains("FAIL_READ: 2")
            && out.contains("FAIL_VERIFY: 1")
            && out.contains("no storage identifier"),
        "{out}"
    );
    assert!(
        out.contains("CRC32"),
        "the unknown checksum type is named: {out}"
    );

    let root = site.backup.clone();
    let backup = |p: &str| fs::read(root.join(p)).ok();
    assert_eq!(backup("10.5072/FK2/AAAAAA/a1").unwrap(), b"first file");
    assert_eq!(backup("10.5072/FK2/BBBBBB/b1").unwrap(), vec![9u8; 300_000]);
    assert_eq!(
        backup("10.5072/FK2/AAAAAA/t1.orig").unwrap(),
        b"the uploaded spreadsheet"
    );
    assert_eq!(
        backup("10.5072/FK2/AAAAAA/t1"),
        None,
        "the derived .tab is not the backup"
    );
    assert_eq!(
        backup("10.9999/HARV/h1"),
        None,
        "harvested files are skipped"
    );

    let statuses = site.statuses();
    let want: Vec<(&str, &str)> = vec![
        ("file://a1", "OK"),
        ("file://b1", "OK"),
        ("file://t1", "OK"),
        ("file://u1", "FAIL_VERIFY"),
    ];
    for (sid, st) in &want {
        assert_eq!(
            statuses.get(*sid).map(String::as_str),
            Some(*st),
            "{statuses:?}"
        );
    }
    assert_eq!(
        statuses
            .get(&format!("file://{missing}"))
            .map(String::as_str),
        Some("FAIL_READ")
    );
    // The file without storage identifier is recorded under its id.
    assert_eq!(
        statuses
            .get(&format!("datafile:{unstored}"))
            .map(String::as_str),
        Some("FAIL_READ"),
        "{statuses:?}"
    );
    assert_eq!(statuses.len(), 6, "{statuses:?}");
    let row = site
        .backup_db()
        .query_one(
            "SELECT datasetidentifier, lastbackupmethod, to_char(createdate, 'YYYY-MM-DD HH24:MI:SS.MS') FROM datafilestatus WHERE storageidentifier = 'file://a1'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "10.5072/FK2/AAAAAA");
    assert_eq!(row.get::<_, String>(1), "ssh");
    assert_eq!(row.get::<_, String>(2), "2024-01-01 00:00:01.500");

    let mails = mails_containing(&missing);
    assert_eq!(mails.len(), 1, "one report mailed");
    assert!(
        mails[0].contains("Dataverse datafile backup report"),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains("6 files processed; 0 skipped; 3 success, 3 failed"),
        "{}",
        mails[0]
    );

    // Nothing new: nothing written.
    let before: (i64, Option<String>) = {
        let r = site
            .backup_db()
            .query_one(
                "SELECT count(*), max(lastbackuptime)::text FROM datafilestatus",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let o = site.run(&config, &["run", "--no-email"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 files processed; 0 skipped; 0 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    let after: (i64, Option<String>) = {
        let r = site
            .backup_db()
            .query_one(
                "SELECT count(*), max(lastbackuptime)::text FROM datafilestatus",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(before, after);

    // A new file is picked up.
    site.file(
        ds_a,
        "a2",
        Some(b"added later"),
        "MD5",
        None,
        "2024-02-01 00:00:00",
    );
    let o = site.run(&config, &["run", "--no-email"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 files processed; 0 skipped; 1 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert_eq!(backup("10.5072/FK2/AAAAAA/a2").unwrap(), b"added later");

    // --rerun retries only what is not OK; the lost file came back.
    fs::write(site.dataset_dir(ds_a).join(&missing), b"lost").unwrap();
    let o = site.run(&config, &["run", "--rerun", "--no-email"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("7 files processed; 4 skipped; 1 success, 2 failed"),
        "{out}"
    );
    assert_eq!(
        site.statuses()
            .get(&format!("file://{missing}"))
            .map(String::as_str),
        Some("OK")
    );

    // status --failed says why.
    let o = site.run(&config, &["status", "--failed"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("FAIL_VERIFY") && out.contains("CRC32"),
        "{out}"
    );
    assert!(!out.contains("file://a1"), "{out}");
}

#[test]
fn sftp_verifies_by_reading_back_when_asked() {
    let mut site = Site::new("readback");
    let ds_a = site.dataset("10.5072", "FK2/RB");
    site.file(
        ds_a,
        "r1",
        Some(b"read me back"),
        "SHA256",
        Some(&crate::fixture::sha256(b"read me back")),
        "2024-01-01 00:00:00",
    );
    let config = site.config(&ssh_backup(&site, "SshVerify: readback\n"), true, false);
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        fs::read(site.backup.join("10.5072/FK2/RB/r1")).unwrap(),
        b"read me back"
    );
}

#[test]
fn sftp_verifies_many_files_of_every_type_on_the_host() {
    // Remote verification (the default) runs every checksum command of a
    // connection in one shell on the host: 40 files over 2 connections,
    // the four types mixed, one name that needs quoting.
    let mut site = Site::new("remotesum");
    let ds = site.dataset("10.5072", "FK2/RS");
    let kinds = ["MD5", "SHA1", "SHA256", "SHA512"];
    let mut names = Vec::new();
    for i in 0..40 {
        let kind = kinds[i % kinds.len()];
        let name = if i == 7 {
            "it's a file".to_owned()
        } else {
            format!("rs{i:02}")
        };
        let body = format!("file {i} checked with {kind}\n").repeat(i + 1);
        let sum = crate::fixture::checksum(kind, body.as_bytes());
        site.file(
            ds,
            &name,
            Some(body.as_bytes()),
            kind,
            Some(&sum),
            &format!("2024-01-01 00:00:{i:02}"),
        );
        names.push((name, body));
    }
    let config = site.config(&ssh_backup(&site, ""), true, false);
    let o = site.run(&config, &["run", "-j", "2"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("40 files processed; 0 skipped; 40 success, 0 failed"),
        "{out}"
    );
    // Verified by the host's commands, not by the read-back fallback.
    assert!(
        !stderr(&o).contains("reading copies back"),
        "{}",
        stderr(&o)
    );
    for (name, body) in &names {
        assert_eq!(
            fs::read(site.backup.join("10.5072/FK2/RS").join(name)).unwrap(),
            body.as_bytes(),
            "{name}"
        );
    }
    let statuses = site.statuses();
    assert_eq!(statuses.len(), 40);
    assert!(statuses.values().all(|s| s == "OK"), "{statuses:?}");
}

#[test]
fn a_wrong_ssh_port_is_a_destination_error() {
    let mut site = Site::new("badport");
    let ds_a = site.dataset("10.5072", "FK2/BP");
    site.file(ds_a, "p1", Some(b"x"), "MD5", None, "2024-01-01 00:00:00");
    let s = sshd();
    let text = format!(
        "StorageType: ssh\nSshHost: 127.0.0.1\nSshPort: 1\nSshUsername: root\nBackupDirectory: /tmp\nSshKey: {}\nSshKnownHosts: {}\n",
        s.key, s.known_hosts
    );
    let config = site.config(&text, true, false);
    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("127.0.0.1:1"), "{}", stderr(&o));
    assert!(site.statuses().is_empty());
}

#[test]
fn sqlite_status_directory_destination_in_parallel() {
    let mut site = Site::new("sqlite");
    let ds_a = site.dataset("10.5072", "FK2/PAR");
    for i in 0..150 {
        let content = format!("file number {i}").repeat(i + 1);
        site.file(
            ds_a,
            &format!("p{i:03}"),
            Some(content.as_bytes()),
            "MD5",
            None,
            &format!("2024-01-01 00:{:02}:{:02}", i / 60, i % 60),
        );
    }
    let text = format!(
        "StorageType: directory\nBackupDirectory: {}\n",
        site.backup.display()
    );
    let config = site.config(&text, false, false);

    let o = site.run(&config, &["run", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("150 would be backed up"),
        "{}",
        stdout(&o)
    );
    assert!(!site.backup.exists(), "a dry run copies nothing");
    assert!(
        !site.tmp.path().join("dv-backup-status.sqlite").exists(),
        "a dry run records nothing"
    );

    let o = site.run(&config, &["run", "-j", "8", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["success"], 150);
    assert_eq!(report["failed"], 0);
    for i in [0usize, 77, 149] {
        let want = format!("file number {i}").repeat(i + 1);
        assert_eq!(
            fs::read_to_string(site.backup.join(format!("10.5072/FK2/PAR/p{i:03}"))).unwrap(),
            want
        );
    }
    let o = site.run(&config, &["status"]);
    assert!(
        stdout(&o).starts_with("150 files recorded in table datafilestatus in "),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("150 OK"), "{}", stdout(&o));
    let o = site.run(&config, &["status", "--failed", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 0);
    assert_eq!(v["counts"]["OK"], 150);
}

#[test]
fn a_run_killed_mid_way_is_finished_by_the_next() {
    let mut site = Site::new("kill");
    let ds_a = site.dataset("10.5072", "FK2/KILL");
    let n = 300;
    for i in 0..n {
        let content = vec![(i % 251) as u8; 200_000];
        site.file(
            ds_a,
            &format!("k{i:03}"),
            Some(&content),
            "MD5",
            None,
            &format!("2024-01-01 00:{:02}:{:02}", i / 60, i % 60),
        );
    }
    let text = format!(
        "StorageType: directory\nBackupDirectory: {}\n",
        site.backup.display()
    );
    let config = site.config(&text, true, false);
    let at_kill = site.kill_run_after(&config, &["run", "-j", "2"], 10, Duration::from_secs(60));
    assert!(
        at_kill < n,
        "killed with {at_kill} of {n} files recorded: too late"
    );
    assert!(site.statuses().values().all(|s| s == "OK"));

    let o = site.run(&config, &["run", "-j", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let statuses = site.statuses();
    assert_eq!(statuses.len(), n);
    assert!(statuses.values().all(|s| s == "OK"), "{statuses:?}");
    for i in 0..n {
        let got = fs::read(site.backup.join(format!("10.5072/FK2/KILL/k{i:03}"))).unwrap();
        assert_eq!(got, vec![(i % 251) as u8; 200_000], "file {i}");
    }
    // And a third run has nothing left to do.
    let o = site.run(&config, &["run"]);
    assert!(stdout(&o).contains("0 files processed"), "{}", stdout(&o));
}

/// A site that ran the original before Dataverse 4.19: its rows name
/// file-store files by their bare storage identifiers, which Dataverse has
/// since prefixed with `file://`. Those rows are the files' own: a default
/// run starts after them, `--rerun` skips the OK one and retries the
/// failed one, and no file gets a second row.
#[test]
fn rows_the_original_wrote_before_dataverse_4_19_are_the_files_own() {
    let mut site = Site::new("legacy");
    let ds = site.dataset("10.5072", "FK2/LEGACY");
    site.file(
        ds,
        "14e7d2a3a3c-8c1b2f3e4d5a",
        Some(b"backed up in 2017"),
        "MD5",
        None,
        "2017-05-01 10:00:00",
    );
    site.file(
        ds,
        "14e7d2a3a3c-000000failed",
        Some(b"unreadable in 2017"),
        "MD5",
        None,
        "2017-05-01 10:00:01",
    );
    site.file(ds, "new1", Some(b"new"), "MD5", None, "2024-01-01 00:00:00");
    // The original's table (its backupdb.sql) and rows, as it wrote them.
    site.backup_db()
        .batch_execute(
            "CREATE TABLE datafilestatus (id serial PRIMARY KEY, datasetidentifier varchar(255), \
             storageidentifier varchar(255) UNIQUE, status varchar(255), createdate timestamp, \
             lastbackuptime timestamp, lastbackupmethod varchar(16)); \
             INSERT INTO datafilestatus (id, datasetidentifier, storageidentifier, status, createdate, lastbackuptime, lastbackupmethod) VALUES \
             (7, '10.5072/FK2/LEGACY', '14e7d2a3a3c-8c1b2f3e4d5a', 'OK', '2017-05-01 10:00:00', '2017-05-02 03:00:00', 'ssh'), \
             (8, '10.5072/FK2/LEGACY', '14e7d2a3a3c-000000failed', 'FAIL_READ', '2017-05-01 10:00:01', '2017-05-02 03:00:00', 'ssh'); \
             SELECT setval('datafilestatus_id_seq', 8);",
        )
        .unwrap();
    let config = site.config(&ssh_backup(&site, ""), true, false);

    let o = site.run(&config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("1 files processed; 0 skipped; 1 success, 0 failed"),
        "only the file created after the original's newest row: {}",
        stdout(&o)
    );

    let o = site.run(&config, &["run", "--rerun"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("3 files processed; 2 skipped; 1 success, 0 failed"),
        "the original's OK row is skipped, its failure retried: {}",
        stdout(&o)
    );
    let rows: Vec<(i32, String, String, String)> = site
        .backup_db()
        .query(
            "SELECT id, storageidentifier, status, lastbackupmethod FROM datafilestatus ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let row = |id: i32, sid: &str, status: &str, method: &str| {
        (id, sid.to_owned(), status.to_owned(), method.to_owned())
    };
    assert_eq!(rows.len(), 3, "one row per file: {rows:?}");
    assert_eq!(
        rows[0],
        row(7, "14e7d2a3a3c-8c1b2f3e4d5a", "OK", "ssh"),
        "untouched"
    );
    assert_eq!(
        rows[1],
        row(8, "file://14e7d2a3a3c-000000failed", "OK", "ssh"),
        "the original's row carried on under the current identifier"
    );
    assert_eq!(rows[2].1, "file://new1");
    assert_eq!(
        fs::read(
            site.backup
                .join("10.5072/FK2/LEGACY/14e7d2a3a3c-000000failed")
        )
        .unwrap(),
        b"unreadable in 2017"
    );
    assert!(
        !site
            .backup
            .join("10.5072/FK2/LEGACY/14e7d2a3a3c-8c1b2f3e4d5a")
            .exists(),
        "the file the original backed up is not copied again"
    );
}
