//! SID, uid and gid lookups against a real slapd (scripts/services/slapd)
//! holding Active Directory's objectSid: plain, LDAPS and StartTLS, bad
//! credentials, paged reads past the server's size limit, and a directory
//! that stops in the middle of a run.

use std::process::Command;
use std::time::{Duration, Instant};

use ldap_attrs::{
    AccountClass, Cache, Chain, Ldap, LdapConfig, Principal, ResolveError, Resolver, Secret, Sid,
    nt,
};

use crate::{env, repo_root, run};

const SCRIPT: &str = "scripts/services/slapd";
const D1: &str = "S-1-5-21-1004336348-1177238915-682003330";

fn config(url: &str) -> LdapConfig {
    let base = env("PERMAFROST_LDAP_BASE", SCRIPT);
    let dn = env("PERMAFROST_LDAP_BIND_DN", SCRIPT);
    let pw = std::fs::read_to_string(env("PERMAFROST_LDAP_PASSWORD_FILE", SCRIPT)).unwrap();
    let mut c = LdapConfig::new(url, base).bind(dn, Secret::new(pw.trim_end()));
    c.timeout = Duration::from_secs(5);
    c
}

fn plain() -> LdapConfig {
    config(&env("PERMAFROST_LDAP_URL", SCRIPT))
}

fn sid(s: &str) -> Principal {
    Principal::Sid(s.parse::<Sid>().unwrap())
}

#[test]
fn sids_resolve_whether_or_not_their_bytes_are_utf8() {
    let ldap = Ldap::new(plain());
    // alice's SID bytes are not UTF-8; carol's are (ASCII, even).
    assert!(std::str::from_utf8(&format!("{D1}-1104").parse::<Sid>().unwrap().to_bytes()).is_err());
    assert!(std::str::from_utf8(&"S-1-5-21-1-2-3-1100".parse::<Sid>().unwrap().to_bytes()).is_ok());
    for (s, name, class) in [
        (format!("{D1}-1104"), "alice", AccountClass::User),
        (format!("{D1}-1106"), "mallory", AccountClass::User),
        (format!("{D1}-1201"), "staff", AccountClass::Group),
        (format!("{D1}-513"), "Domain Users", AccountClass::Group),
        (
            "S-1-5-21-1-2-3-1100".to_owned(),
            "carol",
            AccountClass::User,
        ),
        (
            "S-1-5-21-1-2-3-1200".to_owned(),
            "auditors",
            AccountClass::Group,
        ),
    ] {
        let a = ldap
            .resolve(&sid(&s))
            .unwrap()
            .unwrap_or_else(|| panic!("{s} not found"));
        assert_eq!((a.name.as_str(), a.class), (name, class), "{s}");
    }
    assert_eq!(ldap.resolve(&sid(&format!("{D1}-99999"))).unwrap(), None);
    // uids and gids of posixAccount / posixGroup entries.
    assert_eq!(
        ldap.resolve(&Principal::Uid(10004)).unwrap().unwrap().name,
        "carol"
    );
    assert_eq!(
        ldap.resolve(&Principal::Gid(20001)).unwrap().unwrap().name,
        "staff"
    );
    assert_eq!(ldap.resolve(&Principal::Uid(4_000_000)).unwrap(), None);
}

#[test]
fn a_descriptor_resolves_through_the_chain_with_one_lookup_per_principal() {
    // O: alice, DENY mallory, ALLOW staff, ALLOW Everyone (well-known: no lookup).
    let sddl =
        format!("O:{D1}-1104D:(D;;0x1;;;{D1}-1106)(A;;0x1301bf;;;{D1}-1201)(A;;0x1200a9;;;WD)");
    let sd = nt::decode(&crate::nt_samba::samba(&[&sddl])[0]).unwrap();
    let cache = Cache::new(Chain::local().then(Ldap::new(plain())));
    for _ in 0..1000 {
        let lines = sd.lines(&|p| cache.lookup(p).map(|a| a.name));
        assert_eq!(
            lines,
            [
                "OWNER alice",
                "DENY mallory READ_DATA",
                "ALLOW staff CHANGE",
                "ALLOW Everyone READ"
            ]
        );
    }
    let s = cache.stats();
    assert_eq!((s.lookups, s.failures), (4, 0), "{s:?}");
}

#[test]
fn ldaps_and_starttls_verify_the_server_against_the_ca() {
    let ca = env("PERMAFROST_LDAP_CA", SCRIPT);
    let mut ldaps = config(&env("PERMAFROST_LDAPS_URL", SCRIPT));
    ldaps.ca_file = Some(ca.clone().into());
    assert_eq!(
        Ldap::new(ldaps.clone())
            .resolve(&sid(&format!("{D1}-1105")))
            .unwrap()
            .unwrap()
            .name,
        "bob"
    );
    let mut starttls = plain();
    starttls.starttls = true;
    starttls.ca_file = Some(ca.into());
    assert_eq!(
        Ldap::new(starttls)
            .resolve(&sid(&format!("{D1}-1105")))
            .unwrap()
            .unwrap()
            .name,
        "bob"
    );
    // Without the test CA the system's roots do not trust the server.
    ldaps.ca_file = None;
    let e = Ldap::new(ldaps).check().unwrap_err();
    assert!(matches!(e, ResolveError::Unreachable { .. }), "{e}");
    let mut bad = plain();
    bad.ca_file = Some("/nonexistent/ca.pem".into());
    assert!(matches!(
        Ldap::new(bad).check().unwrap_err(),
        ResolveError::Config(_)
    ));
}

#[test]
fn a_wrong_password_is_refused_and_never_shown() {
    let mut c = plain();
    c.password = Some(Secret::new("wrong-password-xyzzy"));
    let ldap = Ldap::new(c);
    let e = ldap.check().unwrap_err();
    assert!(matches!(e, ResolveError::Refused { code: 49, .. }), "{e}");
    assert!(!e.is_retryable());
    let shown = format!("{e} {e:?} {ldap:?}");
    assert!(!shown.contains("wrong-password-xyzzy"), "{shown}");
    // Anonymous users may not read the directory: nothing is found.
    let mut anon = plain();
    anon.bind_dn = None;
    anon.password = None;
    assert!(
        Ldap::new(anon)
            .resolve(&sid(&format!("{D1}-1104")))
            .is_err()
    );
}

#[test]
fn a_paged_preload_reads_past_the_size_limit() {
    let mut c = plain();
    c.page_size = 50;
    let ldap = Ldap::new(c);
    let n = ldap.preload().unwrap();
    assert_eq!(n, 1208, "8 named accounts and 1200 bulk ones");
    let searches = ldap.searches();
    // Answers come from memory now, even for accounts past the 100th.
    assert_eq!(
        ldap.resolve(&sid("S-1-5-21-7-7-7-6199"))
            .unwrap()
            .unwrap()
            .name,
        "bulk1199"
    );
    assert_eq!(
        ldap.resolve(&sid("S-1-5-21-1-2-3-1100"))
            .unwrap()
            .unwrap()
            .name,
        "carol"
    );
    assert_eq!(ldap.searches(), searches);
    // A search that is not paged stops at the limit (100) but still answers.
    let one = Ldap::new(plain());
    assert_eq!(
        one.resolve(&sid("S-1-5-21-7-7-7-6150"))
            .unwrap()
            .unwrap()
            .name,
        "bulk1150"
    );
}

/// Stops the spawned slapd when the test ends, however it ends.
struct Stop(i32);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

#[test]
fn a_directory_that_stops_mid_run_leaves_names_unresolved_with_one_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(Command::new(repo_root().join(SCRIPT))
        .arg("spawn")
        .arg(tmp.path()));
    let (url, pid) = out.trim().split_once(' ').unwrap();
    let pid: i32 = pid.parse().unwrap();
    let _stop = Stop(pid);
    let mut c = config(url);
    c.retry_after = Duration::from_secs(3600);
    let cache = Cache::new(Chain::local().then(Ldap::new(c)));
    assert_eq!(
        cache.lookup(&sid(&format!("{D1}-1104"))).unwrap().name,
        "alice"
    );
    assert_eq!(
        cache.lookup(&sid(&format!("{D1}-1105"))).unwrap().name,
        "bob"
    );

    run(Command::new("kill").arg(pid.to_string()));
    let gone = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
        && gone.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    let started = Instant::now();
    let mut unresolved = 0;
    for i in 0..200 {
        if cache
            .lookup(&sid(&format!("S-1-5-21-7-7-7-{}", 5000 + i)))
            .is_none()
        {
            unresolved += 1;
        }
    }
    assert_eq!(unresolved, 200);
    // Known names stay known; well-known ones need no directory.
    assert_eq!(
        cache.lookup(&sid(&format!("{D1}-1104"))).unwrap().name,
        "alice"
    );
    assert_eq!(
        cache.lookup(&Principal::Sid(Sid::everyone())).unwrap().name,
        "Everyone"
    );
    let s = cache.stats();
    assert_eq!(s.failures, 200, "{s:?}");
    assert!(
        cache.first_error().unwrap().contains(url),
        "{:?}",
        cache.first_error()
    );
    // Down after the first failure: the others fail at once, without a new
    // connection each.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
