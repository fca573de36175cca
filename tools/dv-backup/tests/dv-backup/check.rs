//! The check of issue 16, end to end: an installation of a few hundred
//! files on a file store and an S3 store (moto), with tabular files and
//! their originals, a harvested dataset, files without a physical copy and
//! an unknown checksum type, backed up to SFTP (sshd) and, in a second
//! test, to a Permafrost store read back with glacier-sync. Each test then
//! checks that a second run writes nothing, that a file added is picked
//! up, that `--rerun` skips what is OK and retries the failures, and that a
//! run killed with SIGKILL is finished by the next with every file recorded
//! once and every copy intact.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::fixture::{Site, checksum, noise, stamps, stderr, stdout, tree};

/// Dataverse's checksum types, as `datafile.checksumtype` holds them.
const TYPES: [&str; 4] = ["MD5", "SHA1", "SHA256", "SHA512"];

/// What one data file must end as: its status, and (when `OK`) its copy.
struct Want {
    status: &'static str,
    dataset: String,
    /// `authority/identifier/storageid[.orig]` and the bytes there.
    copy: Option<(String, Vec<u8>)>,
}

struct Installation {
    site: Site,
    bucket: String,
    /// Dataset ids and their `authority/identifier`.
    datasets: Vec<(i64, String)>,
    /// By storage identifier (`datafile:<id>` for a file without one).
    want: BTreeMap<String, Want>,
    /// Seconds after 2024-01-01 of the next file's `createdate`.
    clock: u32,
}

impl Installation {
    fn created(&mut self) -> String {
        let s = self.clock;
        self.clock += 1;
        format!(
            "2024-01-{:02} {:02}:{:02}:{:02}",
            1 + s / 86_400,
            s / 3600 % 24,
            s / 60 % 60,
            s % 60
        )
    }

    /// A file on the file store (driver `file`), expected `OK`.
    fn on_disk(&mut self, ds: usize, sid: &str, content: &[u8], kind: &str) -> i64 {
        let created = self.created();
        let (id, dir) = self.datasets[ds].clone();
        let file = self.site.file(
            id,
            sid,
            Some(content),
            kind,
            Some(&checksum(kind, content)),
            &created,
        );
        self.ok(&format!("file://{sid}"), &dir, sid, content);
        file
    }

    /// A file on the S3 store (driver `s3`), expected `OK`.
    fn on_s3(&mut self, ds: usize, sid: &str, content: &[u8], kind: &str) -> i64 {
        let created = self.created();
        let (id, dir) = self.datasets[ds].clone();
        crate::s3::put(&self.bucket, &format!("{dir}/{sid}"), content);
        let storage = format!("s3://{}:{sid}", self.bucket);
        let file = self.site.insert_file(
            id,
            Some(&storage),
            kind,
            &checksum(kind, content),
            Some(len(content)),
            &created,
        );
        self.ok(&storage, &dir, sid, content);
        file
    }

    fn ok(&mut self, storage: &str, dir: &str, name: &str, content: &[u8]) {
        self.want.insert(
            storage.to_owned(),
            Want {
                status: "OK",
                dataset: dir.to_owned(),
                copy: Some((format!("{dir}/{name}"), content.to_vec())),
            },
        );
    }

    fn fails(&mut self, storage: &str, ds: usize, status: &'static str) {
        let dataset = self.datasets[ds].1.clone();
        self.want.insert(
            storage.to_owned(),
            Want {
                status,
                dataset,
                copy: None,
            },
        );
    }

    /// A tabular file: the derived `.tab` at the storage identifier, the
    /// uploaded original beside it as `.orig`; Dataverse records the
    /// original's checksum. Only the original is backed up.
    fn tabular(&mut self, ds: usize, sid: &str, on_s3: bool) {
        let tab = format!("var1\tvar2\n{sid}\t2\n").into_bytes();
        let original = format!("var1,var2\r\n{sid},2\r\n(the uploaded CSV)\r\n").into_bytes();
        let created = self.created();
        let (id, dir) = self.datasets[ds].clone();
        let storage = if on_s3 {
            crate::s3::put(&self.bucket, &format!("{dir}/{sid}"), &tab);
            crate::s3::put(&self.bucket, &format!("{dir}/{sid}.orig"), &original);
            format!("s3://{}:{sid}", self.bucket)
        } else {
            let d = self.site.files.join(&dir);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join(sid), &tab).unwrap();
            fs::write(d.join(format!("{sid}.orig")), &original).unwrap();
            format!("file://{sid}")
        };
        let file = self.site.insert_file(
            id,
            Some(&storage),
            "MD5",
            &checksum("MD5", &original),
            Some(len(&tab)),
            &created,
        );
        self.site
            .dv
            .execute(
                "INSERT INTO datatable (datafile_id, originalfileformat, originalfilesize, originalfilename, unf, casequantity, varquantity) \
                 VALUES ($1, 'text/csv', $2, $3, 'UNF:6:AvELPR5QTaBbnq6S22Msow==', 1, 2)",
                &[&file, &len(&original), &format!("{sid}.csv")],
            )
            .unwrap();
        self.ok(&storage, &dir, &format!("{sid}.orig"), &original);
    }

    /// Every copy the destination must hold, by relative path: the OK
    /// files', and with `unverified` also the copy of the file whose
    /// checksum type is unknown (SFTP writes it, then cannot verify it;
    /// a store does not archive it).
    fn copies(&self, unverified: bool) -> BTreeMap<String, Vec<u8>> {
        self.want
            .values()
            .filter(|w| w.status == "OK" || unverified)
            .filter_map(|w| w.copy.clone())
            .collect()
    }

    fn count(&self, status: &str) -> usize {
        self.want.values().filter(|w| w.status == status).count()
    }

    /// The status table holds exactly the wanted rows: one per file, its
    /// status and dataset, and the destination's method on every row.
    fn assert_table(&self, method: &str) {
        let got: BTreeMap<String, (String, String, String)> = self
            .site
            .backup_db()
            .query(
                "SELECT storageidentifier, status, datasetidentifier, lastbackupmethod FROM datafilestatus",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect();
        let want: BTreeMap<String, (String, String, String)> = self
            .want
            .iter()
            .map(|(sid, w)| {
                (
                    sid.clone(),
                    (w.status.to_owned(), w.dataset.clone(), method.to_owned()),
                )
            })
            .collect();
        if got != want {
            let extra: Vec<_> = got
                .iter()
                .filter(|(k, v)| want.get(*k) != Some(v))
                .collect();
            let missing: Vec<_> = want
                .iter()
                .filter(|(k, v)| got.get(*k) != Some(v))
                .collect();
            panic!(
                "status table differs: got but not wanted {extra:?}; wanted but not got {missing:?}"
            );
        }
    }
}

fn len(data: &[u8]) -> i64 {
    i64::try_from(data.len()).unwrap()
}

/// Compares a destination's files with the wanted copies: the same paths,
/// every byte the same, nothing else (no partial copy left behind).
fn assert_copies(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) {
    let got_paths: Vec<&String> = got.keys().collect();
    let want_paths: Vec<&String> = want.keys().collect();
    if got_paths != want_paths {
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        panic!("copies differ: unexpected {extra:?}; missing {missing:?}");
    }
    for (path, data) in want {
        assert!(
            got[path] == *data,
            "{path}: {} bytes, want {} bytes ({})",
            got[path].len(),
            data.len(),
            if got[path].len() == data.len() {
                "same size, other bytes"
            } else {
                "other size"
            }
        );
    }
}

/// The installation: 4 datasets plus a harvested one, 200 files on the
/// file store and 100 on the S3 store (every checksum type, sizes 0 to
/// 3 MiB), a tabular file on each, and the four failures: a file missing
/// on each store (`FAIL_READ`), a file with no storage identifier
/// (`FAIL_READ`, under `datafile:<id>`), an unknown checksum type
/// (`FAIL_VERIFY`). Returns it and the config's `[Store.s3]` section.
#[allow(clippy::too_many_lines)] // the whole installation, file by file
fn installation(tag: &str) -> (Installation, String) {
    let mut site = Site::new(tag);
    let bucket = site.name.replace('_', "-");
    crate::s3::bucket(&bucket);
    let datasets: Vec<(i64, String)> = (0..4)
        .map(|n| {
            let ident = format!("FK2/CHK{n}X{tag}").to_uppercase();
            (site.dataset("10.5072", &ident), format!("10.5072/{ident}"))
        })
        .collect();
    let harvested = site.dataset_harvested("10.9999", "HARVESTED", Some("oai-elsewhere"));
    let mut inst = Installation {
        site,
        bucket,
        datasets,
        want: BTreeMap::new(),
        clock: 0,
    };
    for i in 0..200usize {
        let size = match i {
            0 => 0,
            57 => 2 << 20,
            _ => i * 997 % 20_000,
        };
        let sid = format!("18c4f{i:05x}-0a1b2c3d4e5f");
        inst.on_disk(i % 4, &sid, &noise(size, i as u64 + 1), TYPES[i % 4]);
    }
    for j in 0..100usize {
        let size = if j == 33 {
            3 << 20
        } else {
            j * 1231 % 30_000 + 1
        };
        let sid = format!("18c50{j:05x}-9f8e7d6c5b4a");
        inst.on_s3(
            j % 4,
            &sid,
            &noise(size, 10_000 + j as u64),
            TYPES[(j + 1) % 4],
        );
    }
    inst.tabular(1, "18c6000001-tabular0disk", false);
    inst.tabular(2, "18c6000002-tabular00s3", true);

    // A harvested dataset: its files are the remote repository's.
    let hdir = inst.site.dataset_dir(harvested);
    fs::create_dir_all(&hdir).unwrap();
    for h in 0..3 {
        let created = inst.created();
        inst.site.file(
            harvested,
            &format!("harv{h}"),
            Some(b"harvested"),
            "MD5",
            None,
            &created,
        );
    }

    // Recorded on each store, not there.
    let created = inst.created();
    let ds0 = inst.datasets[0].0;
    inst.site.insert_file(
        ds0,
        Some("file://18c7000000-gone0disk"),
        "MD5",
        &checksum("MD5", b"found again"),
        Some(11),
        &created,
    );
    inst.fails("file://18c7000000-gone0disk", 0, "FAIL_READ");
    let created = inst.created();
    let gone_s3 = format!("s3://{}:18c7000001-gone00s3", inst.bucket);
    let ds3 = inst.datasets[3].0;
    inst.site.insert_file(
        ds3,
        Some(&gone_s3),
        "SHA256",
        &checksum("SHA256", b"x"),
        Some(1),
        &created,
    );
    inst.fails(&gone_s3, 3, "FAIL_READ");
    // No physical copy at all: no storage identifier.
    let created = inst.created();
    let ds1 = inst.datasets[1].0;
    let unstored = inst.site.insert_file(
        ds1,
        None,
        "MD5",
        &checksum("MD5", b"never stored"),
        None,
        &created,
    );
    inst.fails(&format!("datafile:{unstored}"), 1, "FAIL_READ");
    // A checksum type the tool does not know.
    let created = inst.created();
    let ds2 = inst.datasets[2].0;
    inst.site.file(
        ds2,
        "18c7000003-crc32",
        Some(b"checked how?"),
        "CRC32",
        Some("0d5f5c7f"),
        &created,
    );
    inst.fails("file://18c7000003-crc32", 2, "FAIL_VERIFY");
    let dir = inst.datasets[2].1.clone();
    inst.want.get_mut("file://18c7000003-crc32").unwrap().copy =
        Some((format!("{dir}/18c7000003-crc32"), b"checked how?".to_vec()));

    let s3 = format!(
        "\n[Store.s3]\nType: s3\nEndpointUrl: {}\nRegion: us-east-1\nPathStyle: true\n",
        test_services::s3_endpoint()
    );
    (inst, s3)
}

fn with_s3(config: &Path, s3: &str) {
    let text = format!("{}{s3}", fs::read_to_string(config).unwrap());
    fs::write(config, text).unwrap();
}

/// Everything after the first run's checks, the same for both
/// destinations: `copies` reads what the destination holds now, `stored`
/// lists its files with size and time (for "nothing new written").
#[allow(clippy::too_many_lines)] // the scenario, phase by phase
fn the_rest_of_the_check(
    inst: &mut Installation,
    config: &Path,
    method: &str,
    copies: &dyn Fn(&str) -> BTreeMap<String, Vec<u8>>,
    stored: &dyn Fn() -> BTreeMap<String, (u64, std::time::SystemTime)>,
) {
    // A second run: nothing to do, nothing written (rows are stamped to
    // the second: wait one, so that a rewrite would show).
    std::thread::sleep(Duration::from_millis(1100));
    let rows = inst.site.status_rows();
    let files = stored();
    let o = inst.site.run(config, &["run", "-j", "4"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("0 files processed; 0 skipped; 0 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert!(inst.site.status_rows() == rows, "the status table changed");
    assert!(stored() == files, "the destination changed");

    // A file added on each store is picked up, and only those.
    let added_disk = "18c8000000-added0disk";
    let added_s3 = "18c8000001-added00s3";
    inst.on_disk(3, added_disk, b"added to the file store later", "SHA1");
    inst.on_s3(0, added_s3, &noise(50_000, 77), "SHA512");
    let o = inst.site.run(config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("2 files processed; 0 skipped; 2 success, 0 failed"),
        "{}",
        stdout(&o)
    );
    inst.assert_table(method);

    // --rerun lists every file, skips the OK ones (their rows untouched)
    // and retries the failures: the lost file is back and is copied.
    let gone_dir = inst.want["file://18c7000000-gone0disk"].dataset.clone();
    let dir = inst.site.files.join(&gone_dir);
    fs::write(dir.join("18c7000000-gone0disk"), b"found again").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let before = inst.site.status_rows();
    let o = inst.site.run(config, &["run", "--rerun", "-j", "4"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let total = inst.want.len();
    let ok = inst.count("OK");
    assert!(
        out.contains(&format!(
            "{total} files processed; {ok} skipped; 1 success, {} failed",
            total - ok - 1
        )),
        "{out}"
    );
    let after = inst.site.status_rows();
    for (sid, row) in &before {
        if inst.want[sid].status == "OK" {
            assert_eq!(after.get(sid), Some(row), "{sid}: an OK row was rewritten");
        }
    }
    inst.ok(
        "file://18c7000000-gone0disk",
        &gone_dir,
        "18c7000000-gone0disk",
        b"found again",
    );
    inst.assert_table(method);

    // 160 new files; a run killed with SIGKILL part-way, then run again.
    let first_new = inst.want.len();
    let mut new = Vec::new();
    for k in 0..160usize {
        let sid = format!("18c9{k:06x}-killed0run");
        let content = noise(120_000 + k, 50_000 + k as u64);
        if k % 2 == 0 {
            inst.on_disk(k % 4, &sid, &content, TYPES[k % 4]);
            new.push(format!("file://{sid}"));
        } else {
            inst.on_s3(k % 4, &sid, &content, TYPES[k % 4]);
            new.push(format!("s3://{}:{sid}", inst.bucket));
        }
    }
    assert_eq!(inst.want.len(), first_new + 160);
    let at_kill =
        inst.site
            .kill_run_after(config, &["run", "-j", "2"], 10, Duration::from_secs(120));
    assert!(
        at_kill < 160,
        "killed with {at_kill} of 160 recorded: too late"
    );
    let statuses = inst.site.statuses();
    for sid in &new[..at_kill] {
        assert_eq!(
            statuses.get(sid).map(String::as_str),
            Some("OK"),
            "files are recorded in createdate order, only when verified"
        );
    }
    assert!(
        new[at_kill..].iter().all(|s| !statuses.contains_key(s)),
        "nothing past the kill is recorded"
    );
    let o = inst.site.run(config, &["run", "-j", "3"]);
    let left = 160 - at_kill;
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "{left} files processed; 0 skipped; {left} success, 0 failed"
        )),
        "every file not recorded at the kill is backed up once: {}",
        stdout(&o)
    );

    // The end: the table exactly, every copy compared, nothing else there,
    // and nothing left to do.
    inst.assert_table(method);
    assert_copies(&copies("final"), &inst.copies(method == "ssh"));
    let o = inst.site.run(config, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("0 files processed"), "{}", stdout(&o));
}

/// The first run's report and statuses, the same for both destinations.
fn first_run(inst: &Installation, config: &Path, method: &str) {
    let o = inst.site.run(config, &["run", "-j", "4"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let total = inst.want.len();
    let ok = inst.count("OK");
    assert_eq!((total, ok), (306, 302));
    assert!(
        out.contains("306 files processed; 0 skipped; 302 success, 4 failed"),
        "{out}"
    );
    assert!(
        out.contains("FAIL_READ: 3") && out.contains("FAIL_VERIFY: 1"),
        "{out}"
    );
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("a line naming {needle} in {out}"))
            .to_owned()
    };
    let unknown = line("18c7000003-crc32");
    assert!(
        unknown.contains("FAIL_VERIFY") && unknown.contains("unknown checksum type \"CRC32\""),
        "{unknown}"
    );
    assert!(line("no storage identifier").contains("FAIL_READ"), "{out}");
    let gone = line("18c7000001-gone00s3");
    assert!(
        gone.contains("FAIL_READ")
            && gone.contains("store 's3'")
            && gone.contains("no such object"),
        "{gone}"
    );
    assert!(line("18c7000000-gone0disk").contains("FAIL_READ"), "{out}");
    assert!(
        !out.contains("HARVESTED"),
        "harvested files are not listed: {out}"
    );
    inst.assert_table(method);
}

#[test]
fn the_check_over_sftp() {
    let (mut inst, s3) = installation("chksftp");
    let config = inst
        .site
        .config(&crate::runs::ssh_backup(&inst.site, ""), true, false);
    with_s3(&config, &s3);
    first_run(&inst, &config, "ssh");
    let backup = inst.site.backup.clone();
    assert_copies(&tree(&backup), &inst.copies(true));
    let b2 = backup.clone();
    the_rest_of_the_check(
        &mut inst,
        &config,
        "ssh",
        &move |_| tree(&backup),
        &move || stamps(&b2),
    );
}

#[test]
fn the_check_into_a_store() {
    let (mut inst, s3) = installation("chkstore");
    let store = inst.site.tmp.path().join("store");
    let config = inst.site.config(
        &crate::store::store_backup(&inst.site, &store, "BatchFiles: 40\nMaxFiles: 10\n"),
        true,
        false,
    );
    with_s3(&config, &s3);
    first_run(&inst, &config, "store");
    // Read back with glacier-sync, by paths alone: the closures cannot
    // borrow the site the scenario changes.
    let dir = inst.site.tmp.path().to_owned();
    let retrieve = move |out: &str| {
        crate::store::retrieve_under(&dir, &store, "/10.5072", out);
        tree(&dir.join(out))
    };
    assert_copies(&retrieve("first"), &inst.copies(false));
    let store = inst.site.tmp.path().join("store");
    the_rest_of_the_check(&mut inst, &config, "store", &retrieve, &move || {
        stamps(&store)
    });
}
