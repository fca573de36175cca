//! ACLs end to end through the binary: a tree with real POSIX ACLs (set
//! with `setfacl`, compared with `getfacl`) archived with `--acls auto`,
//! found by `acl:`, `owner:` and `group:`, restored by `retrieve --wait`
//! and `watch`, and still found after `catalog rebuild`; security
//! descriptors made by Samba and NFSv4 ACLs packed by Python's xdrlib
//! decoded by `acl decode` entry by entry (DENY, inherited and odd SIDs);
//! names through a real slapd (`scripts/services/slapd`), a directory that
//! is down, and a bind password that never shows; NFSv4 and CIFS ACLs
//! (handed in through the xattr reader: ext4 has neither) that a
//! retrieval onto ext4 lists in the sidecar; names cached in the catalog
//! serving later runs while the directory is unreachable, and a
//! directory stopped in the middle of a run.
//!
//! Needs `scripts/services/tools` (setfacl/getfacl, python3-samba) and
//! `scripts/services/slapd`; fails, never skips, without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::mt::{Env, ok};
use crate::{stderr, stdout};

/// The tools the tests use must be installed (scripts/services/tools).
fn require_tools() {
    assert!(
        std::env::var_os("PERMAFROST_TOOLS").is_some(),
        "PERMAFROST_TOOLS is not set: run `eval \"$(scripts/services/tools start)\"` (setfacl, getfacl, python3-samba) or scripts/test"
    );
}

/// The environment of the slapd service.
fn slapd_env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the directory with `eval \"$(scripts/services/slapd start)\"` or run scripts/test")
    })
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e} (see scripts/services/tools)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn setfacl(args: &[&str], path: &Path) {
    sh(Command::new("setfacl").args(args).arg(path));
}

/// Fails clearly when the filesystem of `dir` takes no POSIX ACLs.
fn require_acl_fs(dir: &Path) {
    require_tools();
    let probe = dir.join(".acl-probe");
    std::fs::write(&probe, b"").unwrap();
    let out = Command::new("setfacl")
        .args(["-m", "u:1:r"])
        .arg(&probe)
        .output()
        .expect("setfacl (apt-get install acl, or scripts/services/tools start)");
    assert!(
        out.status.success(),
        "the test filesystem under {} does not take POSIX ACLs (setfacl: {}); run the tests on one that does (ext4, xfs, btrfs, tmpfs with acl)",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&probe).unwrap();
}

/// `getfacl -R -n` of `rel` run in `root`: the same text for the same ACLs
/// whatever the root.
fn getfacl(root: &Path, rel: &str) -> String {
    sh(Command::new("getfacl")
        .args(["-R", "-n", "-p", rel])
        .current_dir(root))
}

/// Runs the binary in `dir` with extra environment variables (and the
/// XDG config directory `dir/xdg`).
fn run_env(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glacier-sync"));
    cmd.args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env_remove("PERMAFROST_CONFIG")
        .stdin(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run glacier-sync")
}

/// The paths `find QUERY` answers, sorted.
fn find(dir: &Path, catalog: &Path, query: &str) -> Vec<String> {
    let cat = catalog.display().to_string();
    let out = run_env(
        dir,
        &["--json", "find", "--catalog", &cat, "--", query],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("find {query}: {e}: {}", stderr(&out)));
    let mut got: Vec<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    got
}

/// The share: a file with named-user and named-group entries (names from
/// the system's NSS: daemon is uid 1, bin gid 2, sys uid and gid 3), one
/// naming a uid no one has and one denying sys (`user:sys:---`), a file
/// whose named entries the mask takes all away (`chmod g=`), a directory
/// with a default ACL that denies the group sys and a file under it that
/// inherited it, and a file without ACLs.
///
/// POSIX ACLs have no DENY entries: a named entry that leaves its user or
/// group nothing is how they refuse someone (a process matching a named
/// user entry never falls through to `other::`), and that is what
/// `acl:deny` finds in them.
fn make_share(src: &Path) {
    let share = src.join("share");
    std::fs::create_dir_all(share.join("projects")).unwrap();
    std::fs::write(share.join("report.txt"), b"quarterly report\n").unwrap();
    std::fs::write(share.join("plain.txt"), b"no acl here\n").unwrap();
    std::fs::write(share.join("masked.txt"), b"nobody named may\n").unwrap();
    setfacl(
        &["-m", "u:daemon:rw-,g:bin:r--,u:4242:r--,u:sys:---,m::rw-"],
        &share.join("report.txt"),
    );
    sh(Command::new("chown")
        .arg("daemon:bin")
        .arg(share.join("report.txt")));
    // user:4444:rw- and group:4545:r-- under mask::--- (o::r-- still reads).
    setfacl(&["-m", "u:4444:rw-,g:4545:r--"], &share.join("masked.txt"));
    sh(Command::new("chmod")
        .arg("g=,o=r")
        .arg(share.join("masked.txt")));
    setfacl(&["-m", "u:daemon:r-x"], &share.join("projects"));
    setfacl(
        &[
            "-d",
            "-m",
            "u:daemon:rwx,g:bin:r-x,g:4343:rwx,g:sys:---,o::---",
        ],
        &share.join("projects"),
    );
    // Created after the default ACL: inherits it.
    std::fs::write(share.join("projects/plan.txt"), b"the plan\n").unwrap();
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn posix_acls_round_trip_through_archive_find_restore_and_rebuild() {
    let env = Env::local();
    let dir = env.tmp.path();
    std::fs::create_dir_all(env.path("src")).unwrap();
    require_acl_fs(&env.path("src"));
    make_share(&env.path("src"));
    let src = std::fs::canonicalize(env.path("src")).unwrap();
    let rel = src.strip_prefix("/").unwrap().join("share");
    let rel = rel.to_str().unwrap();
    let want = getfacl(Path::new("/"), rel);
    assert!(want.contains("user:1:rw-"), "{want}");
    assert!(want.contains("default:group:4343:rwx"), "{want}");
    assert!(want.contains("user:3:---"), "{want}");
    assert!(want.contains("default:group:3:---"), "{want}");
    assert!(
        want.contains("user:4444:rw-\t#effective:---"),
        "the mask takes everything from user:4444: {want}"
    );

    let catalog = env.path("catalog.sqlite");
    let cat = catalog.display().to_string();
    let vault = env.vault_spec();
    let store = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--vault", &vault, "--catalog", &cat]);
        env.run(&all)
    };
    let out = store(&["--json", "archive", "src", "--acls", "auto"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["files"], 4, "{v}");
    // report.txt, masked.txt and projects have ACLs; plan.txt inherited
    // an access ACL from the default one.
    assert_eq!(v["acls"]["with_acls"], 4, "{v}");
    assert_eq!(v["acls"]["failures"], 0, "{v}");

    let p = |r: &str| format!("{}/share/{r}", src.display());
    let report = p("report.txt");
    let projects = p("projects");
    let plan = p("projects/plan.txt");
    let masked = p("masked.txt");
    let plain = p("plain.txt");
    let queries: Vec<(&str, Vec<String>)> = vec![
        // Any entry naming daemon, access or default.
        (
            "acl:daemon",
            vec![projects.clone(), plan.clone(), report.clone()],
        ),
        ("acl:uid:4242", vec![report.clone()]),
        ("acl:gid:4343", vec![projects.clone(), plan.clone()]),
        (
            "acl:bin",
            vec![projects.clone(), plan.clone(), report.clone()],
        ),
        ("owner:daemon", vec![report.clone()]),
        ("owner:1", vec![report.clone()]),
        ("group:bin", vec![report.clone()]),
        (
            "acl:daemon -owner:daemon",
            vec![projects.clone(), plan.clone()],
        ),
        // Named entries that leave their principal nothing: user:sys:---
        // on report.txt, default:group:sys:--- on projects (and the
        // group:sys:--- plan.txt inherited from it), the masked entries of
        // masked.txt. Never the owner's, owning group's or other's
        // entries (default:other::--- of projects is no denial).
        (
            "acl:deny",
            vec![
                report.clone(),
                masked.clone(),
                projects.clone(),
                plan.clone(),
            ],
        ),
        (
            "acl:deny acl:sys",
            vec![report.clone(), projects.clone(), plan.clone()],
        ),
        ("acl:deny -acl:sys", vec![masked.clone()]),
        ("acl:uid:4444", vec![masked.clone()]),
        ("-acl:deny plain.txt", vec![plain.clone()]),
        ("acl:nobody-has-this-name", vec![]),
    ];
    for (q, want) in &queries {
        let mut want = want.clone();
        want.sort();
        assert_eq!(&find(dir, &catalog, q), &want, "{q}");
    }
    // where-is and find --json show the owner and the entries, named.
    let w = ok(&run_env(
        dir,
        &["where-is", "--catalog", &cat, &report],
        &[],
    ));
    for line in [
        "owner daemon group bin",
        "posix ALLOW daemon rw-",
        "posix ALLOW bin r--",
        "posix ALLOW uid:4242 r--",
        "posix DENY sys rwx (user:3:---)",
    ] {
        assert!(w.contains(line), "{line:?} in\n{w}");
    }
    let wm = ok(&run_env(
        dir,
        &["where-is", "--catalog", &cat, &masked],
        &[],
    ));
    for line in [
        "posix DENY uid:4444 rwx (user:4444:rw-, masked by mask::---)",
        "posix DENY gid:4545 rwx (group:4545:r--, masked by mask::---)",
        "posix ALLOW OTHER r--",
    ] {
        assert!(wm.contains(line), "{line:?} in\n{wm}");
    }
    let out = run_env(dir, &["--json", "find", "--catalog", &cat, "plan.txt"], &[]);
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let hit = &v["hits"][0];
    assert_eq!(hit["owner"], "root", "{hit}");
    let entries: Vec<&str> = hit["acls"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(entries.contains(&"ALLOW daemon rwx"), "{entries:?}");
    assert!(entries.contains(&"ALLOW gid:4343 rwx"), "{entries:?}");
    assert!(
        entries.contains(&"DENY sys rwx (group:3:---)"),
        "{entries:?}"
    );

    // retrieve --wait --same-owner: the same getfacl, owners included.
    ok(&store(&[
        "retrieve",
        &format!("under:{}", src.display()),
        "--to",
        "out",
        "--yes",
        "--wait",
        "--interval",
        "1",
        "--same-owner",
    ]));
    assert_eq!(getfacl(&env.path("out"), rel), want);
    assert!(
        !env.path("out").join(archive_acls::SIDECAR).exists(),
        "POSIX ACLs fit ext4: no sidecar"
    );

    // A job requested without waiting, completed by watch.
    ok(&store(&[
        "retrieve",
        "report.txt",
        "--to",
        "out2",
        "--yes",
        "--same-owner",
    ]));
    ok(&store(&["watch", "--once", "--same-owner"]));
    let one = format!("{rel}/report.txt");
    assert_eq!(
        getfacl(&env.path("out2"), &one),
        getfacl(Path::new("/"), &one)
    );

    // Lose the catalog, rebuild it from the vault: owners and entries back.
    let before: Vec<Vec<String>> = queries
        .iter()
        .map(|(q, _)| find(dir, &catalog, q))
        .collect();
    for f in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = std::fs::remove_file(env.path(f));
    }
    let _ = std::fs::remove_dir_all(env.path("catalog.sqlite.indexes"));
    ok(&store(&["catalog", "rebuild", "--interval", "1"]));
    for ((q, _), b) in queries.iter().zip(&before) {
        assert_eq!(&find(dir, &catalog, q), b, "{q} after catalog rebuild");
    }
    let w2 = ok(&run_env(
        dir,
        &["where-is", "--catalog", &cat, &report],
        &[],
    ));
    assert_eq!(
        w2.lines().filter(|l| l.contains("posix ")).count(),
        w.lines().filter(|l| l.contains("posix ")).count(),
        "{w}\n{w2}"
    );
    for line in [
        "owner daemon group bin",
        "posix ALLOW daemon rw-",
        "posix ALLOW uid:4242 r--",
        "posix DENY sys rwx (user:3:---)",
    ] {
        assert!(w2.contains(line), "{line:?} after rebuild in\n{w2}");
    }
    // And a restore through the rebuilt catalog puts the ACLs back.
    ok(&store(&[
        "retrieve",
        &format!("under:{}", src.display()),
        "--to",
        "out3",
        "--yes",
        "--wait",
        "--interval",
        "1",
        "--same-owner",
    ]));
    assert_eq!(getfacl(&env.path("out3"), rel), want);
}

/// The hex lines a tool prints, as bytes.
fn hex_lines(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

/// ldap-attrs' generators of blobs by independent tools.
fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/ldap-attrs/tests/ldap_attrs/tools")
}

/// `acl decode --format FORMAT` of `blob` with no directory configured
/// (names from NSS and the well-known table only): the JSON document.
fn decode(dir: &Path, format: &str, blob: &[u8]) -> serde_json::Value {
    decode_with(dir, format, blob, &[("PERMAFROST_LDAP_URL", "")])
}

/// `acl decode --format FORMAT` of `blob` with `vars` set.
fn decode_with(dir: &Path, format: &str, blob: &[u8], vars: &[(&str, &str)]) -> serde_json::Value {
    let out = decode_run(dir, format, blob, vars);
    serde_json::from_str(&ok(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn decode_run(dir: &Path, format: &str, blob: &[u8], vars: &[(&str, &str)]) -> Output {
    let f = dir.join(format!("blob.{format}"));
    std::fs::write(&f, blob).unwrap();
    run_env(
        dir,
        &["acl", "decode", "--format", format, f.to_str().unwrap()],
        vars,
    )
}

/// (kind, who, mask, flags, inherited) of each entry of a decoded blob.
fn entries(doc: &serde_json::Value) -> Vec<(String, String, u64, u64, bool)> {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["who"].as_str().unwrap().to_owned(),
                e["mask"].as_u64().unwrap(),
                e["flags"].as_u64().unwrap(),
                e["inherited"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn e(
    kind: &str,
    who: &str,
    mask: u64,
    flags: u64,
    inherited: bool,
) -> (String, String, u64, u64, bool) {
    (kind.into(), who.into(), mask, flags, inherited)
}

const D1: &str = "S-1-5-21-1004336348-1177238915-682003330";

/// Samba's descriptor for `sddl` (samba.dcerpc.security through Debian's
/// python3-samba: `tests/ldap_attrs/tools/sddl2sd.py` of ldap-attrs).
fn samba_sd(sddl: &str) -> Vec<u8> {
    require_tools();
    let out = sh(Command::new("/usr/bin/python3")
        .arg(tools_dir().join("sddl2sd.py"))
        .arg(sddl));
    hex_lines(&out).remove(0)
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn acl_decode_reads_samba_descriptors_entry_by_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let max = "-4294967295".repeat(14);
    // DENY first, an object ACE that denies, inherited and inherit-only
    // entries, a SID of 15 sub-authorities, the NULL SID, a mandatory
    // label, a 48-bit identifier authority, a SID whose bytes are UTF-8,
    // and a SACL.
    let sddl = format!(
        "O:{D1}-1104G:DUD:PAI(D;;0x1f01ff;;;{D1}-1106)\
         (OD;CI;RP;bf967a86-0de6-11d0-a285-00aa003049e2;;S-1-5-21-1-2-3-1101)\
         (A;OICIID;0x1301bf;;;{D1}-1201)(A;OICIIO;FA;;;CO)(A;;0x1200a9;;;S-1-5-21-1-2-3-1100)\
         (A;;FA;;;S-1-5-21{max})(A;;FR;;;S-1-0-0)(A;;FR;;;S-1-16-12288)(A;;FR;;;S-1-281474976710655-7)\
         S:(AU;SAFA;FA;;;WD)"
    );
    let blob = samba_sd(&sddl);
    let doc = decode(tmp.path(), "cifs", &blob);
    assert_eq!(doc["format"], "nt");
    assert_eq!(doc["owner"], format!("sid:{D1}-1104"));
    assert_eq!(doc["group"], format!("sid:{D1}-513"));
    let control: Vec<&str> = doc["control"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "DACL_PRESENT",
        "SACL_PRESENT",
        "DACL_PROTECTED",
        "DACL_AUTO_INHERITED",
        "SELF_RELATIVE",
    ] {
        assert!(control.contains(&c), "{c} in {control:?}");
    }
    // Samba 4.17: FA is 0x1ff, FR 0x120089; OI 1, CI 2, IO 8, ID 0x10,
    // SA 0x40, FA (audit) 0x80.
    assert_eq!(
        entries(&doc),
        vec![
            e("DENY", &format!("sid:{D1}-1106"), 0x001f_01ff, 0, false),
            e("DENY", "sid:S-1-5-21-1-2-3-1101", 0x10, 2, false),
            e("ALLOW", &format!("sid:{D1}-1201"), 0x0013_01bf, 0x13, true),
            e("ALLOW", "sid:S-1-3-0", 0x1ff, 0x0b, false),
            e("ALLOW", "sid:S-1-5-21-1-2-3-1100", 0x0012_00a9, 0, false),
            e("ALLOW", &format!("sid:S-1-5-21{max}"), 0x1ff, 0, false),
            e("ALLOW", "sid:S-1-0-0", 0x0012_0089, 0, false),
            e("ALLOW", "sid:S-1-16-12288", 0x0012_0089, 0, false),
            e("ALLOW", "sid:S-1-0xFFFFFFFFFFFF-7", 0x0012_0089, 0, false),
            e("AUDIT", "sid:S-1-1-0", 0x1ff, 0xc0, false),
        ]
    );
    let names: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rights"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..1], ["FULL"]);
    assert_eq!(names[2], "CHANGE");
    assert_eq!(names[4], "READ");
    let lines: Vec<&str> = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines[2], format!("DENY {D1}-1106 FULL"));
    assert_eq!(
        lines[4],
        format!("ALLOW {D1}-1201 CHANGE [OBJECT_INHERIT,CONTAINER_INHERIT,INHERITED]")
    );
    assert!(lines[5].starts_with("ALLOW CREATOR OWNER "), "{lines:?}");
    assert!(
        lines.contains(&"ALLOW S-1-5-21-1-2-3-1100 READ"),
        "{lines:?}"
    );

    // The object ACE keeps its GUID (as Samba packs it, little-endian
    // fields).
    let object = &doc["acl"]["entries"][1]["object"];
    assert_eq!(object["flags"], 1, "{object}");
    let guid: Vec<u64> = object["object_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(
        guid,
        [
            0x86, 0x7a, 0x96, 0xbf, 0xe6, 0x0d, 0xd0, 0x11, 0xa2, 0x85, 0x00, 0xaa, 0x00, 0x30,
            0x49, 0xe2
        ]
    );

    // Every truncation is a clear failure, never a crash.
    for n in [0, 10, 19, 40, blob.len() / 2, blob.len() - 1] {
        let f = tmp.path().join("short");
        std::fs::write(&f, &blob[..n]).unwrap();
        let out = run_env(
            tmp.path(),
            &["acl", "decode", "--format", "cifs", "short"],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{n} bytes: {}", stderr(&out));
        // The file, what it should have held, and where it went wrong.
        assert!(
            stderr(&out).contains(
                "short: not a self-relative NT security descriptor (the value of system.cifs_acl) (--format cifs): malformed "
            ) && stderr(&out).contains(" at byte "),
            "{}",
            stderr(&out)
        );
    }
}

/// Python's xdrlib packing of NFSv4 ACEs `TYPE:FLAGS:MASK:WHO`
/// (`tests/ldap_attrs/tools/nfs4acl.py` of ldap-attrs).
fn xdrlib_acl(aces: &[&str]) -> Vec<u8> {
    require_tools();
    let out = sh(Command::new("/usr/bin/python3")
        .arg(tools_dir().join("nfs4acl.py"))
        .args(aces));
    hex_lines(&out).remove(0)
}

#[test]
fn acl_decode_reads_xdrlib_nfs4_acls_and_setfacl_posix_values() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = xdrlib_acl(&[
        "1:0:1:mallory@example.com",
        "0:0:1f01ff:OWNER@",
        "0:43:a9:staff@example.com",
        "0:c0:120081:10005",
        "1:40:2:GROUP@",
        "0:0:120088:EVERYONE@",
        "2:10:1:AUTHENTICATED@",
    ]);
    let doc = decode(tmp.path(), "nfs4", &blob);
    assert_eq!(doc["format"], "nfs4");
    assert_eq!(
        entries(&doc),
        vec![
            e("DENY", "nfs4:mallory@example.com", 1, 0, false),
            e("ALLOW", "OWNER@", 0x001f_01ff, 0, false),
            e("ALLOW", "nfs4g:staff@example.com", 0xa9, 0x43, false),
            e("ALLOW", "nfs4g:10005", 0x0012_0081, 0xc0, true),
            e("DENY", "GROUP@", 2, 0x40, false),
            e("ALLOW", "EVERYONE@", 0x0012_0088, 0, false),
            e("AUDIT", "AUTHENTICATED@", 1, 0x10, false),
        ]
    );
    let lines: Vec<&str> = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines[0], "DENY mallory@example.com READ_DATA");
    assert_eq!(lines[4], "DENY GROUP@ WRITE_DATA");

    // A POSIX value as the kernel stores what setfacl set, read back with
    // getfattr (both independent of us).
    std::fs::create_dir(tmp.path().join("d")).unwrap();
    require_acl_fs(tmp.path());
    let d = tmp.path().join("d");
    setfacl(&["-m", "u:daemon:rwx,g:4343:r-x"], &d);
    setfacl(&["-d", "-m", "u:4242:r--"], &d);
    for (attr, default) in [
        ("system.posix_acl_access", false),
        ("system.posix_acl_default", true),
    ] {
        // `NAME=0x...` (--only-values would print the raw bytes).
        let dump = sh(Command::new("getfattr")
            .args(["--absolute-names", "-e", "hex", "-n", attr])
            .arg(&d));
        let hex = dump
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{attr}=0x")))
            .unwrap_or_else(|| panic!("{attr} in {dump}"));
        let blob = hex_lines(hex).remove(0);
        let f = tmp.path().join("posix.bin");
        std::fs::write(&f, &blob).unwrap();
        let mut args = vec!["acl", "decode", "--format", "posix", "posix.bin"];
        if default {
            args.push("--default");
        }
        let doc: serde_json::Value =
            serde_json::from_str(&ok(&run_env(tmp.path(), &args, &[]))).unwrap();
        let got: Vec<(String, String, u64, bool)> = doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["who"].as_str().unwrap().to_owned(),
                    e["mask"].as_u64().unwrap(),
                    e["default"].as_bool().unwrap(),
                )
            })
            .collect();
        let want: Vec<(&str, &str, u64)> = if default {
            vec![
                ("OWNER@", "", 7),
                ("uid:4242", "", 4),
                ("GROUP@", "", 5),
                ("MASK", "", 5),
                ("OTHER", "", 5),
            ]
        } else {
            vec![
                ("OWNER@", "", 7),
                ("uid:1", "", 7),
                ("GROUP@", "", 5),
                ("gid:4343", "", 5),
                ("MASK", "", 7),
                ("OTHER", "", 5),
            ]
        };
        let want: Vec<(String, String, u64, bool)> = want
            .into_iter()
            .map(|(w, _, m)| ("ALLOW".to_owned(), w.to_owned(), m, default))
            .collect();
        assert_eq!(got, want, "{attr}");
    }
}

/// A file whose ACL names slapd's alice (uidNumber 10001) and auditors
/// (gidNumber 20002), unknown to the system's NSS.
fn directory_share(dir: &Path) -> PathBuf {
    let share = dir.join("src/share");
    std::fs::create_dir_all(&share).unwrap();
    require_acl_fs(&share);
    let f = share.join("ledger.txt");
    std::fs::write(&f, b"ledger\n").unwrap();
    setfacl(&["-m", "u:10001:r--,g:20002:rw-"], &f);
    sh(Command::new("chown").arg("10004:20002").arg(&f));
    f
}

const PASSWORD: &str = "reader-password-not-logged";

/// Asserts the bind password is nowhere in `out` (or in `what`).
fn no_password(what: &str, bytes: &[u8]) {
    let hay = String::from_utf8_lossy(bytes);
    assert!(
        !hay.contains(PASSWORD),
        "the password shows in {what}:\n{hay}"
    );
}

#[test]
fn names_come_from_slapd_and_the_password_never_shows() {
    require_tools();
    let url = slapd_env("PERMAFROST_LDAP_URL");
    let base = slapd_env("PERMAFROST_LDAP_BASE");
    let bind = slapd_env("PERMAFROST_LDAP_BIND_DN");
    let pwfile = slapd_env("PERMAFROST_LDAP_PASSWORD_FILE");
    assert_eq!(std::fs::read_to_string(&pwfile).unwrap().trim(), PASSWORD);
    let env = Env::local();
    let dir = env.tmp.path();
    let file = directory_share(dir);
    let file_s = file.to_str().unwrap();

    // The password in config.toml ([ldap] of the XDG config), the rest too.
    std::fs::create_dir_all(dir.join("xdg/permafrost")).unwrap();
    std::fs::write(
        dir.join("xdg/permafrost/config.toml"),
        format!("[ldap]\nurl = \"{url}\"\nbase = \"{base}\"\nbind-dn = \"{bind}\"\npassword = \"{PASSWORD}\"\n"),
    )
    .unwrap();
    // The environment must not override it here.
    let clear: [(&str, &str); 5] = [
        ("PERMAFROST_LDAP_URL", ""),
        ("PERMAFROST_LDAP_BASE", ""),
        ("PERMAFROST_LDAP_BIND_DN", ""),
        ("PERMAFROST_LDAP_PASSWORD_FILE", ""),
        ("RUST_LOG", "trace"),
    ];
    let out = run_env(dir, &["-v", "--json", "acl", "show", file_s], &clear);
    let text = ok(&out);
    no_password("acl show -v (config.toml)", &out.stdout);
    no_password("acl show -v (config.toml) stderr", &out.stderr);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = &v["files"][0];
    assert_eq!(f["owner"], "carol", "{v}");
    assert_eq!(f["group"], "auditors", "{v}");
    let entries: Vec<&str> = f["acls"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(entries.contains(&"ALLOW alice r--"), "{entries:?}");
    assert!(entries.contains(&"ALLOW auditors rw-"), "{entries:?}");

    // The environment with a password file: archive names through it, and
    // neither output, -v logs nor the catalog hold the password.
    std::fs::remove_file(dir.join("xdg/permafrost/config.toml")).unwrap();
    let vars = [
        ("PERMAFROST_LDAP_URL", url.as_str()),
        ("PERMAFROST_LDAP_BASE", base.as_str()),
        ("PERMAFROST_LDAP_BIND_DN", bind.as_str()),
        ("PERMAFROST_LDAP_PASSWORD_FILE", pwfile.as_str()),
        ("RUST_LOG", "trace"),
    ];
    let vault = env.vault_spec();
    let cfg = env.path("glacier.cfg").display().to_string();
    let cat = env.path("catalog.sqlite").display().to_string();
    let out = run_env(
        dir,
        &[
            "-v",
            "archive",
            "src",
            "--acls",
            "auto",
            "--vault",
            &vault,
            "--catalog",
            &cat,
            "--config",
            &cfg,
        ],
        &vars,
    );
    ok(&out);
    no_password("archive -v", &out.stdout);
    no_password("archive -v stderr", &out.stderr);
    assert!(stderr(&out).contains("0 failed"), "{}", stderr(&out));
    let catalog = env.path("catalog.sqlite");
    assert_eq!(find(dir, &catalog, "acl:alice"), vec![file_s.to_owned()]);
    assert_eq!(find(dir, &catalog, "acl:auditors"), vec![file_s.to_owned()]);
    assert_eq!(find(dir, &catalog, "owner:carol"), vec![file_s.to_owned()]);
    // Every file of the catalog and the store.
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p != Path::new(&pwfile) {
                no_password(&p.display().to_string(), &std::fs::read(&p).unwrap());
            }
        }
    }
}

/// Runs `acl show` against a directory at `url` and checks the names stay
/// unresolved with exactly one warning and exit 0.
fn degrades(dir: &Path, file: &str, url: &str) {
    let vars = [
        ("PERMAFROST_LDAP_URL", url),
        ("PERMAFROST_LDAP_BASE", "dc=example,dc=test"),
        ("PERMAFROST_LDAP_BIND_DN", "cn=reader,dc=example,dc=test"),
        ("PERMAFROST_LDAP_PASSWORD", PASSWORD),
    ];
    let out = run_env(dir, &["--json", "acl", "show", file], &vars);
    let text = ok(&out);
    let err = stderr(&out);
    no_password("acl show against a dead directory", &out.stdout);
    no_password("acl show against a dead directory stderr", &out.stderr);
    let warnings = err
        .lines()
        .filter(|l| l.contains("WARN") || l.to_ascii_lowercase().contains("warning"))
        .count();
    assert_eq!(warnings, 1, "exactly one warning for {url}:\n{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = &v["files"][0];
    assert_eq!(f["owner"], 10004, "{v}");
    let entries: Vec<&str> = f["acls"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(entries.contains(&"ALLOW uid:10001 r--"), "{entries:?}");
    assert!(entries.contains(&"ALLOW gid:20002 rw-"), "{entries:?}");
}

#[test]
fn a_directory_that_is_down_leaves_names_unresolved_with_one_warning() {
    require_tools();
    slapd_env("PERMAFROST_LDAP_URL");
    let tmp = tempfile::tempdir().unwrap();
    let file = directory_share(tmp.path());
    let file = file.to_str().unwrap();
    // Nothing listens on port 1.
    degrades(tmp.path(), file, "ldap://127.0.0.1:1");
    // An archive run too: exit 0, one warning, the entries by number.
    let env = Env::local();
    let dir = env.tmp.path();
    let archived = directory_share(dir);
    let vault = env.vault_spec();
    let cfg = env.path("glacier.cfg").display().to_string();
    let cat = env.path("catalog.sqlite").display().to_string();
    let out = run_env(
        dir,
        &[
            "-v",
            "archive",
            "src",
            "--acls",
            "auto",
            "--vault",
            &vault,
            "--catalog",
            &cat,
            "--config",
            &cfg,
        ],
        &[
            ("PERMAFROST_LDAP_URL", "ldap://127.0.0.1:1"),
            ("PERMAFROST_LDAP_BASE", "dc=example,dc=test"),
            ("PERMAFROST_LDAP_BIND_DN", "cn=reader,dc=example,dc=test"),
            ("PERMAFROST_LDAP_PASSWORD", PASSWORD),
        ],
    );
    ok(&out);
    no_password("archive -v against a dead directory", &out.stderr);
    let err = stderr(&out);
    assert_eq!(err.matches("WARN").count(), 1, "{err}");
    assert!(err.contains("names stay unresolved"), "{err}");
    let archived = archived.to_str().unwrap().to_owned();
    let catalog = env.path("catalog.sqlite");
    assert_eq!(find(dir, &catalog, "acl:uid:10001"), vec![archived.clone()]);
    assert_eq!(find(dir, &catalog, "owner:10004"), vec![archived]);
    assert!(find(dir, &catalog, "acl:alice").is_empty());
    // A directory of our own, stopped before the run asks it.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services/slapd");
    let spawned = sh(Command::new(&script)
        .arg("spawn")
        .arg(tmp.path().join("slapd")));
    let (url, pid) = spawned.trim().split_once(' ').unwrap();
    // It answers while up.
    let vars = [
        ("PERMAFROST_LDAP_URL", url),
        ("PERMAFROST_LDAP_BASE", "dc=example,dc=test"),
        ("PERMAFROST_LDAP_BIND_DN", "cn=reader,dc=example,dc=test"),
        ("PERMAFROST_LDAP_PASSWORD", PASSWORD),
    ];
    let out = run_env(tmp.path(), &["--json", "acl", "show", file], &vars);
    assert!(
        ok(&out).contains("\"alice\"") || stdout(&out).contains("ALLOW alice"),
        "{}",
        stdout(&out)
    );
    sh(Command::new("kill").arg(pid));
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(url.trim_start_matches("ldap://").trim_end_matches('/'))
        .is_ok()
    {
        assert!(t0.elapsed().as_secs() < 10, "slapd {pid} did not stop");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    degrades(tmp.path(), file, url);
}

/// A SID's binary form (as in a security descriptor and in `objectSid`).
fn sid_bytes(text: &str) -> Vec<u8> {
    let p: Vec<&str> = text.split('-').collect();
    let subs: Vec<u32> = p[3..].iter().map(|s| s.parse().unwrap()).collect();
    let mut b = vec![
        p[1].parse::<u8>().unwrap(),
        u8::try_from(subs.len()).unwrap(),
    ];
    b.extend_from_slice(&p[2].parse::<u64>().unwrap().to_be_bytes()[2..]);
    for s in subs {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// Counts the warning lines of a run's standard error.
fn warnings(err: &str) -> usize {
    err.lines()
        .filter(|l| l.contains("WARN") || l.to_ascii_lowercase().contains("warning"))
        .count()
}

/// (who, name, text) of each entry of an `acl decode` document.
fn named(doc: &serde_json::Value) -> Vec<(String, Option<String>, String)> {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_owned(),
                e["name"].as_str().map(str::to_owned),
                e["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn acl_decode_names_sids_through_slapd_and_degrades_when_it_is_down() {
    require_tools();
    let url = slapd_env("PERMAFROST_LDAP_URL");
    let base = slapd_env("PERMAFROST_LDAP_BASE");
    let bind = slapd_env("PERMAFROST_LDAP_BIND_DN");
    let pwfile = slapd_env("PERMAFROST_LDAP_PASSWORD_FILE");
    let d2 = "S-1-5-21-1-2-3";
    // carol's SID is valid UTF-8 as bytes (ldap3 hands such values over
    // as text, not binary), alice's, mallory's and auditors' are not.
    assert!(std::str::from_utf8(&sid_bytes(&format!("{d2}-1100"))).is_ok());
    for s in [
        format!("{D1}-1104"),
        format!("{D1}-1106"),
        format!("{d2}-1200"),
    ] {
        assert!(std::str::from_utf8(&sid_bytes(&s)).is_err(), "{s}");
    }
    // Samba's descriptor: owner alice, group Domain Users; mallory denied
    // first, then carol, auditors, staff (inherited), a SID no one has,
    // Everyone and BUILTIN\Administrators.
    let blob = samba_sd(&format!(
        "O:{D1}-1104G:{D1}-513D:(D;;0x1f01ff;;;{D1}-1106)(A;;0x1f01ff;;;{d2}-1100)\
         (A;;0x1200a9;;;{d2}-1200)(A;OICIID;0x1301bf;;;{D1}-1201)(A;;FR;;;{d2}-9999)\
         (A;;0x1200a9;;;WD)(A;;0x1f01ff;;;BA)"
    ));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let want_names = [
        Some("mallory"),
        Some("carol"),
        Some("auditors"),
        Some("staff"),
        None,
        Some("Everyone"),
        Some("BUILTIN\\Administrators"),
    ];
    let check = |doc: &serde_json::Value, how: &str| {
        let got = named(doc);
        let names: Vec<Option<&str>> = got.iter().map(|(_, n, _)| n.as_deref()).collect();
        assert_eq!(names, want_names, "{how}: {got:?}");
        let lines: Vec<&str> = doc["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "OWNER alice",
                "GROUP Domain Users",
                "DENY mallory FULL",
                "ALLOW carol FULL",
                "ALLOW auditors READ",
                "ALLOW staff CHANGE [OBJECT_INHERIT,CONTAINER_INHERIT,INHERITED]",
                &format!(
                    "ALLOW {d2}-9999 READ_DATA|READ_EA|READ_ATTRIBUTES|READ_CONTROL|SYNCHRONIZE"
                ),
                "ALLOW Everyone READ",
                "ALLOW BUILTIN\\Administrators FULL",
            ],
            "{how}"
        );
        // Each domain principal asked once; the unknown one too.
        assert_eq!(doc["lookups"]["failures"], 0, "{how}: {doc}");
    };

    // Settings in config.toml's [ldap], the environment cleared.
    std::fs::create_dir_all(dir.join("xdg/permafrost")).unwrap();
    std::fs::write(
        dir.join("xdg/permafrost/config.toml"),
        format!("[ldap]\nurl = \"{url}\"\nbase = \"{base}\"\nbind-dn = \"{bind}\"\npassword-file = \"{pwfile}\"\n"),
    )
    .unwrap();
    let cleared = [
        ("PERMAFROST_LDAP_URL", ""),
        ("PERMAFROST_LDAP_BASE", ""),
        ("PERMAFROST_LDAP_BIND_DN", ""),
        ("PERMAFROST_LDAP_PASSWORD_FILE", ""),
        ("PERMAFROST_LDAP_PASSWORD", ""),
    ];
    let out = decode_run(dir, "cifs", &blob, &cleared);
    let doc: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(warnings(&stderr(&out)), 0, "{}", stderr(&out));
    check(&doc, "config.toml");
    std::fs::remove_file(dir.join("xdg/permafrost/config.toml")).unwrap();

    // The environment, with the password itself.
    let password = std::fs::read_to_string(&pwfile).unwrap();
    let vars = [
        ("PERMAFROST_LDAP_URL", url.as_str()),
        ("PERMAFROST_LDAP_BASE", base.as_str()),
        ("PERMAFROST_LDAP_BIND_DN", bind.as_str()),
        ("PERMAFROST_LDAP_PASSWORD_FILE", ""),
        ("PERMAFROST_LDAP_PASSWORD", password.trim()),
        ("RUST_LOG", "trace"),
    ];
    let out = decode_run(dir, "cifs", &blob, &vars);
    no_password("acl decode (environment)", &out.stdout);
    no_password("acl decode (environment) stderr", &out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    check(&doc, "environment");

    // Without a directory: the domain SIDs stay SIDs, the well-known
    // ones are still named, no warning.
    let doc = decode(dir, "cifs", &blob);
    let names: Vec<Option<String>> = named(&doc).into_iter().map(|(_, n, _)| n).collect();
    assert_eq!(
        names,
        [
            None,
            None,
            None,
            None,
            None,
            Some("Everyone".into()),
            Some("BUILTIN\\Administrators".into())
        ]
    );

    // A directory that does not answer: one warning, the same unresolved
    // names, exit 0.
    let dead = [
        ("PERMAFROST_LDAP_URL", "ldap://127.0.0.1:1"),
        ("PERMAFROST_LDAP_BASE", base.as_str()),
        ("PERMAFROST_LDAP_BIND_DN", bind.as_str()),
        ("PERMAFROST_LDAP_PASSWORD", PASSWORD),
        ("PERMAFROST_LDAP_PASSWORD_FILE", ""),
    ];
    let out = decode_run(dir, "cifs", &blob, &dead);
    let text = ok(&out);
    let err = stderr(&out);
    assert_eq!(warnings(&err), 1, "{err}");
    assert!(err.contains("ldap://127.0.0.1:1"), "{err}");
    no_password("acl decode against a dead directory", &out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let lines: Vec<&str> = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines[0], format!("OWNER {D1}-1104"));
    assert_eq!(lines[2], format!("DENY {D1}-1106 FULL"));
    assert_eq!(lines[7], "ALLOW Everyone READ");
}

/// The files' real xattrs (POSIX ACLs set with `setfacl`), with the
/// NFSv4 and CIFS values handed in: ext4 has neither, so a run on it
/// cannot otherwise capture them.
struct HandedIn(ldap_attrs::MemoryXattrs);

impl ldap_attrs::Xattrs for HandedIn {
    fn get(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, ldap_attrs::XattrError> {
        match self.0.get(path, name)? {
            Some(v) => Ok(Some(v)),
            None => ldap_attrs::SystemXattrs.get(path, name),
        }
    }

    fn set(&self, path: &Path, name: &str, value: &[u8]) -> Result<(), ldap_attrs::XattrError> {
        ldap_attrs::SystemXattrs.set(path, name, value)
    }
}

/// Archives `src` of `env` into its vault and catalog as `archive --acls
/// auto` does (the same `archive_acls::Capture` on the same engine), the
/// xattrs read through `xattrs`, `max_files` files a bundle.
fn archive_with(env: &Env, src: &Path, xattrs: HandedIn, max_files: u64) {
    use std::sync::Arc;
    let names = ldap_attrs::Cache::new(ldap_attrs::Chain::local());
    let capture = Arc::new(archive_acls::Capture::with_xattrs(
        ldap_attrs::AclSelection::Auto,
        names,
        Arc::new(xattrs),
    ));
    let vault = archiver::Vault::new(env.store(), crate::mt::VAULT);
    let mut cat = archiver::ArchiveCatalog::open(env.path("catalog.sqlite")).unwrap();
    capture.seed_from(cat.catalog()).unwrap();
    let options = archiver::ArchiveOptions::default()
        .max_files(max_files)
        .entry_hook(capture.clone())
        .run_option("acls", "auto");
    let s = archiver::archive(
        &archiver::Sources::roots([src]),
        &options,
        &vault,
        &mut cat,
        &archiver::NoObserver,
    )
    .unwrap();
    assert!(s.bundles >= 2, "{s:?}");
    capture.save_to(cat.catalog_mut()).unwrap();
    assert_eq!(capture.stats().failures, 0);
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn nfs4_and_cifs_acls_the_target_cannot_hold_go_to_a_sidecar_with_one_warning() {
    require_tools();
    let env = Env::local();
    let share = env.path("src/share");
    std::fs::create_dir_all(share.join("nfs")).unwrap();
    require_acl_fs(&share);
    let src = std::fs::canonicalize(env.path("src")).unwrap();
    let share = src.join("share");
    // NFSv4 ACLs packed by Python's xdrlib: mallory denied before the
    // allows, and staff denied after one; a security descriptor made by
    // Samba denying mallory in the middle of its DACL; a real POSIX ACL;
    // a file with none. Bundles of two files: several retrieval jobs.
    let blobs: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "nfs/deny-first.txt",
            ldap_attrs::nfs4::XATTR,
            xdrlib_acl(&[
                "1:0:1200a9:mallory@example.com",
                "0:0:1200a9:bob@example.com",
                "0:0:1f01ff:OWNER@",
            ]),
        ),
        (
            "nfs/allow-first.txt",
            ldap_attrs::nfs4::XATTR,
            xdrlib_acl(&[
                "0:0:1200a9:alice@example.com",
                "1:40:6:staff@example.com",
                "0:0:1200a9:EVERYONE@",
            ]),
        ),
        (
            "budget.xlsx",
            ldap_attrs::nt::XATTR,
            samba_sd(&format!(
                "O:{D1}-1104G:{D1}-513D:(A;;0x1200a9;;;{D1}-1201)(D;;0x1f01ff;;;{D1}-1106)(A;;0x1200a9;;;WD)"
            )),
        ),
    ];
    let handed = ldap_attrs::MemoryXattrs::new();
    for (rel, name, blob) in &blobs {
        std::fs::write(share.join(rel), format!("the {rel}\n")).unwrap();
        handed.put(share.join(rel), name, blob.clone());
    }
    std::fs::write(share.join("posix.txt"), b"posix\n").unwrap();
    setfacl(&["-m", "u:daemon:r--,g:bin:rw-"], &share.join("posix.txt"));
    std::fs::write(share.join("plain.txt"), b"plain\n").unwrap();
    archive_with(&env, &src, HandedIn(handed), 2);

    let cat = env.path("catalog.sqlite").display().to_string();
    let vault = env.vault_spec();
    let out = env.run(&[
        "retrieve",
        &format!("under:{}", src.display()),
        "--to",
        "out",
        "--yes",
        "--wait",
        "--interval",
        "1",
        "--vault",
        &vault,
        "--catalog",
        &cat,
    ]);
    ok(&out);
    let err = stderr(&out);
    // One warning for the run, however many jobs it took.
    assert_eq!(warnings(&err), 1, "{err}");
    assert!(
        err.contains("could not be written back (the target filesystem lacks their xattrs)")
            && err.contains(&format!(
                "listed in {}",
                env.path("out").join(archive_acls::SIDECAR).display()
            )),
        "{err}"
    );
    assert!(
        err.contains("ACLs: 1 written back, 3 listed in permafrost-acls.jsonl"),
        "{err}"
    );

    // Every file is back; the POSIX ACL is on it.
    let back = |rel: &str| {
        env.path("out")
            .join(share.strip_prefix("/").unwrap())
            .join(rel)
    };
    for (rel, _, _) in &blobs {
        assert_eq!(
            std::fs::read_to_string(back(rel)).unwrap(),
            format!("the {rel}\n")
        );
    }
    let rel_posix = share.join("posix.txt");
    let rel_posix = rel_posix.strip_prefix("/").unwrap().to_str().unwrap();
    assert_eq!(
        getfacl(&env.path("out"), rel_posix),
        getfacl(Path::new("/"), rel_posix)
    );

    // The sidecar: one line per ACL, naming the file and its entries in
    // order, with the value to write back by hand.
    let side = std::fs::read_to_string(env.path("out").join(archive_acls::SIDECAR)).unwrap();
    let lines: Vec<serde_json::Value> = side
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{side}");
    let by_path = |rel: &str| -> &serde_json::Value {
        let p = share.join(rel).display().to_string();
        lines
            .iter()
            .find(|l| l["path"] == p.as_str())
            .unwrap_or_else(|| panic!("{p} in the sidecar:\n{side}"))
    };
    let texts = |l: &serde_json::Value| -> Vec<String> {
        l["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    };
    let want: [(&str, &str, &str, Vec<String>); 3] = [
        (
            "nfs/deny-first.txt",
            "nfs4",
            "system.nfs4_acl",
            vec![
                "DENY mallory@example.com READ".into(),
                "ALLOW bob@example.com READ".into(),
                "ALLOW OWNER@ FULL".into(),
            ],
        ),
        (
            "nfs/allow-first.txt",
            "nfs4",
            "system.nfs4_acl",
            vec![
                "ALLOW alice@example.com READ".into(),
                "DENY staff@example.com WRITE_DATA|APPEND_DATA".into(),
                "ALLOW EVERYONE@ READ".into(),
            ],
        ),
        (
            "budget.xlsx",
            "nt",
            "system.cifs_acl",
            vec![
                format!("ALLOW {D1}-1201 READ"),
                format!("DENY {D1}-1106 FULL"),
                "ALLOW Everyone READ".into(),
            ],
        ),
    ];
    for (rel, format, xattr, entries) in &want {
        let l = by_path(rel);
        assert_eq!(l["format"], *format, "{l}");
        assert_eq!(l["xattr"], *xattr, "{l}");
        assert_eq!(&texts(l), entries, "{l}");
        assert!(
            l["reason"]
                .as_str()
                .unwrap()
                .ends_with(&format!("the filesystem does not support {xattr}")),
            "{l}"
        );
        let (_, _, blob) = blobs.iter().find(|(r, _, _)| r == rel).unwrap();
        let hex = blob.iter().fold(String::new(), |mut h, b| {
            use std::fmt::Write as _;
            let _ = write!(h, "{b:02x}");
            h
        });
        assert_eq!(l["acl"]["value"], hex.as_str(), "{rel}: the value as read");
    }
    let nt = by_path("budget.xlsx");
    assert_eq!(nt["owner"], format!("sid:{D1}-1104"), "{nt}");
    assert_eq!(nt["group"], format!("sid:{D1}-513"), "{nt}");
    assert!(
        !side.contains("posix.txt") && !side.contains("plain.txt"),
        "{side}"
    );
}

/// A local port nothing listens on (bound, then released).
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("ldap://127.0.0.1:{port}")
}

/// `--json archive src --acls auto` in `env` against the directory at
/// `url`: the run's JSON and its standard error.
fn archive_named(env: &Env, url: &str) -> (serde_json::Value, String) {
    let vault = env.vault_spec();
    let cfg = env.path("glacier.cfg").display().to_string();
    let cat = env.path("catalog.sqlite").display().to_string();
    let base = slapd_env("PERMAFROST_LDAP_BASE");
    let bind = slapd_env("PERMAFROST_LDAP_BIND_DN");
    let pwfile = slapd_env("PERMAFROST_LDAP_PASSWORD_FILE");
    let out = run_env(
        env.tmp.path(),
        &[
            "--json",
            "archive",
            "src",
            "--acls",
            "auto",
            "--vault",
            &vault,
            "--catalog",
            &cat,
            "--config",
            &cfg,
        ],
        &[
            ("PERMAFROST_LDAP_URL", url),
            ("PERMAFROST_LDAP_BASE", &base),
            ("PERMAFROST_LDAP_BIND_DN", &bind),
            ("PERMAFROST_LDAP_PASSWORD_FILE", &pwfile),
            ("PERMAFROST_LDAP_PASSWORD", ""),
        ],
    );
    let v = serde_json::from_str(&ok(&out)).unwrap();
    (v, stderr(&out))
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn names_cached_in_the_catalog_serve_later_runs_while_the_directory_is_down() {
    require_tools();
    let url = slapd_env("PERMAFROST_LDAP_URL");
    let env = Env::local();
    let dir = env.tmp.path();
    let catalog = env.path("catalog.sqlite");
    let cat = catalog.display().to_string();
    // Run 1, the directory up: ledger.txt owned by carol (uid 10004) and
    // auditors (gid 20002), alice (uid 10001) may read.
    let first = directory_share(dir);
    let first_s = first.to_str().unwrap().to_owned();
    let (v, err) = archive_named(&env, &url);
    assert_eq!(warnings(&err), 0, "{err}");
    assert_eq!(v["acls"]["names"]["failures"], 0, "{v}");
    assert!(v["acls"]["names"]["lookups"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(find(dir, &catalog, "owner:carol"), vec![first_s.clone()]);

    // Run 2, the directory gone (nothing listens on its port): a new
    // file naming the same principals and bob (uid 10002), whom run 1
    // never asked about.
    let dead = closed_port();
    let share = first.parent().unwrap();
    let second = share.join("second.txt");
    std::fs::write(&second, b"second\n").unwrap();
    setfacl(&["-m", "u:10001:r--,g:20002:rw-,u:10002:r--"], &second);
    sh(Command::new("chown").arg("10004:20002").arg(&second));
    let second_s = second.to_str().unwrap().to_owned();
    let (v, err) = archive_named(&env, &dead);
    assert_eq!(v["files"], 1, "{v}");
    // Only bob needed the directory: one lookup, failed, one warning.
    assert_eq!(warnings(&err), 1, "{err}");
    assert!(err.contains("names stay unresolved"), "{err}");
    assert_eq!(v["acls"]["names"]["lookups"], 1, "{v}");
    assert_eq!(v["acls"]["names"]["failures"], 1, "{v}");
    assert!(v["acls"]["names"]["hits"].as_u64().unwrap() >= 3, "{v}");
    no_password("archive against a dead directory", err.as_bytes());

    // The cached names are on the new file; bob stays a number.
    let both = {
        let mut b = vec![first_s.clone(), second_s.clone()];
        b.sort();
        b
    };
    assert_eq!(find(dir, &catalog, "owner:carol"), both);
    assert_eq!(find(dir, &catalog, "group:auditors"), both);
    assert_eq!(find(dir, &catalog, "acl:alice"), both);
    assert_eq!(find(dir, &catalog, "acl:auditors"), both);
    assert_eq!(find(dir, &catalog, "acl:uid:10002"), vec![second_s.clone()]);
    assert!(find(dir, &catalog, "acl:bob").is_empty());
    let w = ok(&run_env(
        dir,
        &["where-is", "--catalog", &cat, &second_s],
        &[],
    ));
    for line in [
        "owner carol group auditors",
        "posix ALLOW alice r--",
        "posix ALLOW uid:10002 r--",
        "posix ALLOW auditors rw-",
    ] {
        assert!(w.contains(line), "{line:?} in\n{w}");
    }
    let out = run_env(
        dir,
        &["--json", "find", "--catalog", &cat, "second.txt"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["hits"][0]["owner"], "carol", "{v}");
    assert_eq!(v["hits"][0]["group"], "auditors", "{v}");

    // Lose the catalog and rebuild it from the vault: the names come back
    // with the files (owners and groups with each row, the others with
    // the ACL entries naming them).
    for f in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = std::fs::remove_file(env.path(f));
    }
    let _ = std::fs::remove_dir_all(env.path("catalog.sqlite.indexes"));
    ok(&env.run(&[
        "catalog",
        "rebuild",
        "--interval",
        "1",
        "--vault",
        &env.vault_spec(),
        "--catalog",
        &cat,
    ]));
    assert_eq!(find(dir, &catalog, "owner:carol"), both);

    // Run 3, still down, only principals the rebuilt catalog knows: no
    // lookup, no warning.
    let third = share.join("third.txt");
    std::fs::write(&third, b"third\n").unwrap();
    setfacl(&["-m", "u:10001:rw-"], &third);
    sh(Command::new("chown").arg("10004:20002").arg(&third));
    let (v, err) = archive_named(&env, &closed_port());
    assert_eq!(v["files"], 1, "{v}");
    assert_eq!(warnings(&err), 0, "{err}");
    assert_eq!(v["acls"]["names"]["lookups"], 0, "{v}");
    let third_s = third.to_str().unwrap().to_owned();
    let w = ok(&run_env(
        dir,
        &["where-is", "--catalog", &cat, &third_s],
        &[],
    ));
    assert!(w.contains("owner carol group auditors"), "{w}");
    assert!(w.contains("posix ALLOW alice rw-"), "{w}");
}

/// Stops the process of this id when dropped (a directory a test
/// spawned, also when the test fails first).
struct Stop(String);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.0).status();
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one story, step by step
fn a_directory_stopped_in_the_middle_of_a_run_leaves_the_rest_unresolved_with_one_warning() {
    use std::fmt::Write as _;
    const N: usize = 600;
    require_tools();
    slapd_env("PERMAFROST_LDAP_URL");
    let env = Env::local();
    let dir = env.tmp.path();
    // 600 files, each readable by its own directory user (bulk0000...,
    // uid 30000 + i): one lookup each, in bundles of 10 files.
    let bulk = env.path("src/bulk");
    std::fs::create_dir_all(&bulk).unwrap();
    require_acl_fs(&bulk);
    let mut dump = String::new();
    for i in 0..N {
        std::fs::write(bulk.join(format!("f{i:04}.txt")), format!("{i}\n")).unwrap();
        let _ = write!(
            dump,
            "# file: src/bulk/f{i:04}.txt\nuser::rw-\nuser:{}:r--\ngroup::r--\nmask::r--\nother::r--\n\n",
            30000 + i
        );
    }
    std::fs::write(env.path("acls.txt"), dump).unwrap();
    sh(Command::new("setfacl")
        .arg("--restore=acls.txt")
        .current_dir(dir));

    // A directory of our own, stopped once five bundles are stored: the
    // engine names a bundle's files after storing it, so by then the
    // first four bundles' 38 files (src and src/bulk are members of the
    // first) are named, and the fifth's are being named.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services/slapd");
    let spawned = sh(Command::new(&script).arg("spawn").arg(dir.join("slapd")));
    let (url, pid) = spawned.trim().split_once(' ').unwrap();
    let slapd = Stop(pid.to_owned());
    let vault = env.vault_spec();
    let cfg = env.path("glacier.cfg").display().to_string();
    let cat = env.path("catalog.sqlite").display().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_glacier-sync"))
        .args([
            "--json",
            "archive",
            "src",
            "--acls",
            "auto",
            "--max-files",
            "10",
            "--jobs",
            "1",
            "--vault",
            &vault,
            "--catalog",
            &cat,
            "--config",
            &cfg,
        ])
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env_remove("PERMAFROST_CONFIG")
        .env("PERMAFROST_LDAP_URL", url)
        .env("PERMAFROST_LDAP_BASE", "dc=example,dc=test")
        .env("PERMAFROST_LDAP_BIND_DN", "cn=reader,dc=example,dc=test")
        .env("PERMAFROST_LDAP_PASSWORD", PASSWORD)
        .env_remove("PERMAFROST_LDAP_PASSWORD_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = env.store();
    let t0 = std::time::Instant::now();
    while store
        .describe_vault(crate::mt::VAULT)
        .map_or(0, |v| v.archives)
        < 5
    {
        assert!(
            t0.elapsed().as_secs() < 60,
            "five bundles not stored within a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(slapd);
    let out = child.wait_with_output().unwrap();
    let text = ok(&out);
    let err = stderr(&out);
    no_password("archive with the directory stopped", &out.stderr);
    assert_eq!(warnings(&err), 1, "{err}");
    assert!(err.contains("names stay unresolved"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["files"], N, "{v}");
    let names = &v["acls"]["names"];
    let failures = names["failures"].as_u64().unwrap();

    // Each file's entry: named while the directory answered, a number
    // after; nothing lost.
    let catalog = archiver::ArchiveCatalog::open(env.path("catalog.sqlite")).unwrap();
    let (mut named, mut numbered) = (0, 0);
    for i in 0..N {
        let p = std::fs::canonicalize(bulk.join(format!("f{i:04}.txt"))).unwrap();
        let hits = catalog.catalog().where_is(p.to_str().unwrap()).unwrap();
        assert_eq!(hits.len(), 1, "{}", p.display());
        let (_, row) = catalog.catalog().file(hits[0].id).unwrap().unwrap();
        let texts: Vec<&str> = row.acls[0]
            .entries
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        if texts.contains(&format!("ALLOW bulk{i:04} r--").as_str()) {
            named += 1;
        } else {
            assert!(
                texts.contains(&format!("ALLOW uid:{} r--", 30000 + i).as_str()),
                "{texts:?}"
            );
            numbered += 1;
        }
    }
    assert!(
        named >= 38,
        "the directory answered before it stopped: {named}"
    );
    assert!(numbered > 0, "lookups after it stopped failed: {v}");
    assert_eq!(
        numbered, failures,
        "each unresolved user is a failed lookup: {v}"
    );
}

/// What `acl show` does for a file on a CIFS mount (`Capture` through
/// the directory, then `archive_acls::display`), with the descriptor
/// handed in: `acl show` itself reads the file's own xattrs, and ext4 has
/// no `system.cifs_acl`.
#[test]
fn a_cifs_descriptor_is_named_through_slapd_as_acl_show_names_it() {
    use std::sync::Arc;
    require_tools();
    let url = slapd_env("PERMAFROST_LDAP_URL");
    let base = slapd_env("PERMAFROST_LDAP_BASE");
    let bind = slapd_env("PERMAFROST_LDAP_BIND_DN");
    let pwfile = slapd_env("PERMAFROST_LDAP_PASSWORD_FILE");
    let password = std::fs::read_to_string(&pwfile).unwrap();
    let d2 = "S-1-5-21-1-2-3";
    // Owner carol (a SID whose bytes are UTF-8), mallory denied first.
    let blob = samba_sd(&format!(
        "O:{d2}-1100G:{D1}-513D:(D;;0x1f01ff;;;{D1}-1106)(A;;0x1200a9;;;{d2}-1200)(A;;0x1200a9;;;WD)(A;;FR;;;{d2}-9999)"
    ));
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("budget.xlsx");
    std::fs::write(&f, b"budget\n").unwrap();
    let handed = ldap_attrs::MemoryXattrs::new();
    handed.put(&f, ldap_attrs::nt::XATTR, blob);
    let config = ldap_attrs::LdapConfig::new(url, base)
        .bind(bind, ldap_attrs::Secret::new(password.trim_end()));
    let names =
        ldap_attrs::Cache::new(ldap_attrs::Chain::local().then(ldap_attrs::Ldap::new(config)));
    let capture = archive_acls::Capture::with_xattrs(
        ldap_attrs::AclSelection::Auto,
        names,
        Arc::new(HandedIn(handed)),
    );
    let mut row = catalog::FileEntry {
        path: f.display().to_string(),
        ..catalog::FileEntry::default()
    };
    archiver::EntryHook::before_record(&capture, &f, &mut row);
    let lines = archive_acls::display::access_lines(&row);
    assert_eq!(
        lines[1..],
        [
            "  nt OWNER carol",
            "  nt GROUP Domain Users",
            "  nt DENY mallory FULL",
            "  nt ALLOW auditors READ",
            "  nt ALLOW Everyone READ",
            &format!(
                "  nt ALLOW {d2}-9999 READ_DATA|READ_EA|READ_ATTRIBUTES|READ_CONTROL|SYNCHRONIZE"
            ),
        ],
        "{lines:?}"
    );
    let json = archive_acls::display::access_json(&row);
    assert_eq!(json["acls"][0]["owner"], "carol", "{json}");
    assert_eq!(json["acls"][0]["entries"][0], "DENY mallory FULL", "{json}");
    // Each principal looked up once: carol, Domain Users, mallory,
    // auditors and the SID no one has through the directory, Everyone
    // from the table of well-known SIDs.
    let st = capture.stats();
    assert_eq!((st.names.lookups, st.names.failures), (6, 0), "{st:?}");
}
