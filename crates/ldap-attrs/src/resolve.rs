//! Names for the principals ACLs name: well-known SIDs from a table, uids
//! and gids through the system's NSS, SIDs (and, when NSS does not know
//! them, uids and gids) through LDAP or Active Directory; a cache in front
//! so a tree of millions of files costs one lookup per principal, and an
//! unreachable directory costs one warning, not a failed run.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ResolveError;
use crate::model::Principal;
use crate::sid::{Sid, WellKnownKind};

/// What a principal turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountClass {
    /// A user account.
    User,
    /// A group.
    Group,
    /// A well-known SID (Everyone, SYSTEM, CREATOR OWNER...).
    WellKnown,
}

impl AccountClass {
    /// `user`, `group` or `well_known`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountClass::User => "user",
            AccountClass::Group => "group",
            AccountClass::WellKnown => "well_known",
        }
    }

    /// The inverse of [`AccountClass::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(AccountClass::User),
            "group" => Some(AccountClass::Group),
            "well_known" => Some(AccountClass::WellKnown),
            _ => None,
        }
    }
}

/// A principal's name, as a resolver found it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    /// The name (`alice`, `EXAMPLE\alice` is not invented: AD's
    /// `sAMAccountName` as it is).
    pub name: String,
    /// User, group or well-known.
    pub class: AccountClass,
}

/// Finds names for principals.
pub trait Resolver: Send + Sync {
    /// The account of `p`, `Ok(None)` when this resolver does not know it
    /// (or does not handle its kind).
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError>;
}

/// Well-known SIDs (Everyone, SYSTEM, BUILTIN\Administrators, ...) from a
/// built-in table, and NFSv4 named principals, which are already names.
#[derive(Debug, Clone, Copy, Default)]
pub struct WellKnown;

impl Resolver for WellKnown {
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError> {
        Ok(match p {
            Principal::Sid(s) => s.well_known().map(|(name, kind)| Account {
                name: name.to_owned(),
                class: match kind {
                    WellKnownKind::Account => AccountClass::User,
                    _ => AccountClass::WellKnown,
                },
            }),
            // A name string that is not a number is the name.
            Principal::Nfs4User(s) if !is_number(s) => Some(Account {
                name: s.clone(),
                class: AccountClass::User,
            }),
            Principal::Nfs4Group(s) if !is_number(s) => Some(Account {
                name: s.clone(),
                class: AccountClass::Group,
            }),
            _ => None,
        })
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// uids and gids through the system's name service (`getpwuid_r`,
/// `getgrgid_r`: `/etc/passwd`, or sssd/LDAP when NSS is set up so); also
/// NFSv4 principals that are numbers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nss;

impl Resolver for Nss {
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError> {
        let (num, group) = match p {
            Principal::Uid(u) => (*u, false),
            Principal::Gid(g) => (*g, true),
            Principal::Nfs4User(s) if is_number(s) => match s.parse() {
                Ok(n) => (n, false),
                Err(_) => return Ok(None),
            },
            Principal::Nfs4Group(s) if is_number(s) => match s.parse() {
                Ok(n) => (n, true),
                Err(_) => return Ok(None),
            },
            _ => return Ok(None),
        };
        // NSS errors (a broken nsswitch backend) read as "unknown": the
        // number is still recorded.
        Ok(if group {
            nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(num))
                .ok()
                .flatten()
                .map(|g| Account {
                    name: g.name,
                    class: AccountClass::Group,
                })
        } else {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(num))
                .ok()
                .flatten()
                .map(|u| Account {
                    name: u.name,
                    class: AccountClass::User,
                })
        })
    }
}

/// Tries resolvers in order; the first that knows the principal wins. An
/// error of one is returned only when no later one knows it.
#[derive(Default)]
pub struct Chain(pub Vec<Box<dyn Resolver>>);

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chain({} resolvers)", self.0.len())
    }
}

impl Chain {
    /// Well-known SIDs, then NSS: what needs no directory.
    pub fn local() -> Self {
        Chain(vec![Box::new(WellKnown), Box::new(Nss)])
    }

    /// Adds a resolver at the end.
    #[must_use]
    pub fn then(mut self, r: impl Resolver + 'static) -> Self {
        self.0.push(Box::new(r));
        self
    }
}

impl Resolver for Chain {
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError> {
        let mut first_err = None;
        for r in &self.0 {
            match r.resolve(p) {
                Ok(Some(a)) => return Ok(Some(a)),
                Ok(None) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(None), Err)
    }
}

/// A password, never shown: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The password itself, for the bind.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach the directory.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// The DN to bind as; `None`: anonymous.
    pub bind_dn: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// Where searches start (`dc=example,dc=com`); subtree scope.
    pub base: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// Trust this CA (PEM) instead of the system's roots, for `ldaps://`
    /// and StartTLS.
    pub ca_file: Option<PathBuf>,
    /// Entries per page of [`Ldap::preload`]'s paged search (RFC 2696).
    pub page_size: i32,
    /// How long connecting and each operation may take.
    pub timeout: Duration,
    /// After the server was unreachable, lookups fail at once (no new
    /// connection) for this long.
    pub retry_after: Duration,
}

impl LdapConfig {
    /// Settings for `url` and `base`, anonymous, no TLS beyond what the URL
    /// says, pages of 500, 10 s timeout, 60 s before reconnecting after a
    /// failure.
    pub fn new(url: impl Into<String>, base: impl Into<String>) -> Self {
        LdapConfig {
            url: url.into(),
            bind_dn: None,
            password: None,
            base: base.into(),
            starttls: false,
            ca_file: None,
            page_size: 500,
            timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(60),
        }
    }

    /// Binds as `dn` with `password`.
    #[must_use]
    pub fn bind(mut self, dn: impl Into<String>, password: Secret) -> Self {
        self.bind_dn = Some(dn.into());
        self.password = Some(password);
        self
    }
}

struct LdapState {
    conn: Option<ldap3::LdapConn>,
    down_since: Option<(Instant, String)>,
    preloaded: Option<HashMap<Sid, Account>>,
}

/// Principals through an LDAP server or Active Directory: a SID by a
/// subtree search for `(objectSid=<escaped bytes>)` reading
/// `sAMAccountName` and `objectClass`; a uid or gid by `uidNumber` /
/// `gidNumber` of `posixAccount` / `posixGroup` entries (their `uid` /
/// `cn`). One connection, opened on first use and bound once; reopened
/// after it breaks, but not before [`LdapConfig::retry_after`].
pub struct Ldap {
    config: LdapConfig,
    state: Mutex<LdapState>,
    searches: AtomicU64,
}

impl fmt::Debug for Ldap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ldap")
            .field("config", &self.config)
            .field("searches", &self.searches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn tls_config(ca: &std::path::Path) -> Result<std::sync::Arc<rustls::ClientConfig>, ResolveError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| ResolveError::Config(format!("CA file {}: {e}", ca.display())))?;
    for c in certs {
        let c = c.map_err(|e| ResolveError::Config(format!("CA file {}: {e}", ca.display())))?;
        roots
            .add(c)
            .map_err(|e| ResolveError::Config(format!("CA file {}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(ResolveError::Config(format!(
            "CA file {}: no certificate in it",
            ca.display()
        )));
    }
    // The process's provider: ring, the only one built in (as for the
    // configuration ldap3 makes itself).
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

fn class_of(classes: &[String]) -> AccountClass {
    if classes.iter().any(|c| {
        let c = c.to_ascii_lowercase();
        c == "group" || c == "posixgroup" || c == "groupofnames" || c == "groupofuniquenames"
    }) {
        AccountClass::Group
    } else {
        AccountClass::User
    }
}

/// The values of `attr` as bytes, from either map (ldap3 puts a value in
/// `bin_attrs` only when it is not valid UTF-8).
fn values(e: &ldap3::SearchEntry, attr: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (k, v) in &e.attrs {
        if k.eq_ignore_ascii_case(attr) {
            out.extend(v.iter().map(|s| s.as_bytes().to_vec()));
        }
    }
    for (k, v) in &e.bin_attrs {
        if k.eq_ignore_ascii_case(attr) {
            out.extend(v.iter().cloned());
        }
    }
    out
}

fn text_values(e: &ldap3::SearchEntry, attr: &str) -> Vec<String> {
    values(e, attr)
        .into_iter()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .collect()
}

fn construct(re: ldap3::ResultEntry) -> Option<ldap3::SearchEntry> {
    // `SearchEntry::construct` panics on a malformed entry; a broken
    // server must not take the run down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ldap3::SearchEntry::construct(re)
    }))
    .ok()
}

impl Ldap {
    /// A resolver for `config`; nothing is connected until the first
    /// lookup (or [`Ldap::check`]).
    pub fn new(config: LdapConfig) -> Self {
        Ldap {
            config,
            state: Mutex::new(LdapState {
                conn: None,
                down_since: None,
                preloaded: None,
            }),
            searches: AtomicU64::new(0),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Searches sent to the server so far (each page of a paged search
    /// counts once).
    pub fn searches(&self) -> u64 {
        self.searches.load(Ordering::Relaxed)
    }

    fn unreachable(&self, action: impl Into<String>, source: ldap3::LdapError) -> ResolveError {
        ResolveError::Unreachable {
            url: self.config.url.clone(),
            action: action.into(),
            source: Box::new(source),
        }
    }

    fn connect(&self) -> Result<ldap3::LdapConn, ResolveError> {
        let c = &self.config;
        let mut settings = ldap3::LdapConnSettings::new()
            .set_conn_timeout(c.timeout)
            .set_starttls(c.starttls);
        if let Some(ca) = &c.ca_file {
            settings = settings.set_config(tls_config(ca)?);
        }
        let mut conn = ldap3::LdapConn::with_settings(settings, &c.url)
            .map_err(|e| self.unreachable("connecting", e))?;
        if let Some(dn) = &c.bind_dn {
            let pw = c.password.as_ref().map_or("", Secret::expose);
            let action = format!("binding as {dn}");
            let res = conn
                .with_timeout(c.timeout)
                .simple_bind(dn, pw)
                .map_err(|e| self.unreachable(action.clone(), e))?;
            if res.rc != 0 {
                return Err(ResolveError::Refused {
                    url: c.url.clone(),
                    action,
                    code: res.rc,
                    message: res.text,
                });
            }
        }
        Ok(conn)
    }

    /// Runs `f` on the connection, connecting first when needed. A
    /// transport error drops the connection and marks the server down.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut ldap3::LdapConn, &Self) -> Result<T, ResolveError>,
    ) -> Result<T, ResolveError> {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((since, why)) = &st.down_since {
            if since.elapsed() < self.config.retry_after {
                return Err(ResolveError::Down {
                    url: self.config.url.clone(),
                    since: why.clone(),
                });
            }
            st.down_since = None;
        }
        if st.conn.is_none() {
            match self.connect() {
                Ok(c) => st.conn = Some(c),
                Err(e) => {
                    if e.is_retryable() {
                        st.down_since = Some((Instant::now(), e.to_string()));
                    }
                    return Err(e);
                }
            }
        }
        let conn = st.conn.as_mut().expect("connected just above");
        let res = f(conn, self);
        if let Err(e) = &res
            && matches!(e, ResolveError::Unreachable { .. })
        {
            st.conn = None;
            st.down_since = Some((Instant::now(), e.to_string()));
        }
        res
    }

    fn search_one(
        &self,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Option<ldap3::SearchEntry>, ResolveError> {
        self.with_conn(|conn, me| {
            me.searches.fetch_add(1, Ordering::Relaxed);
            let action = format!("searching {} for {filter}", me.config.base);
            let res = conn
                .with_timeout(me.config.timeout)
                .search(
                    &me.config.base,
                    ldap3::Scope::Subtree,
                    filter,
                    attrs.to_vec(),
                )
                .map_err(|e| me.unreachable(action.clone(), e))?;
            let ldap3::SearchResult(entries, result) = res;
            // 4: size limit exceeded (more than one match: take the first).
            if result.rc != 0 && result.rc != 4 {
                return Err(ResolveError::Refused {
                    url: me.config.url.clone(),
                    action,
                    code: result.rc,
                    message: result.text,
                });
            }
            Ok(entries.into_iter().find_map(construct))
        })
    }

    /// Connects and binds (when not connected yet), to report bad settings
    /// before a run.
    pub fn check(&self) -> Result<(), ResolveError> {
        self.with_conn(|_, _| Ok(()))
    }

    /// Reads every entry of the base that has an `objectSid`, with a paged
    /// search ([`LdapConfig::page_size`] entries a page), so that later SID
    /// lookups are answered from memory: for directories whose size limit
    /// is below their number of accounts, and for runs that meet most of
    /// them. Returns the number of accounts read.
    pub fn preload(&self) -> Result<usize, ResolveError> {
        let map = self.with_conn(|conn, me| {
            use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
            let action = format!("paged search of {} for (objectSid=*)", me.config.base);
            let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
                Box::new(EntriesOnly::new()),
                Box::new(PagedResults::new(me.config.page_size)),
            ];
            me.searches.fetch_add(1, Ordering::Relaxed);
            let mut stream = conn
                .with_timeout(me.config.timeout)
                .streaming_search_with(
                    adapters,
                    &me.config.base,
                    ldap3::Scope::Subtree,
                    "(objectSid=*)",
                    vec!["objectSid", "sAMAccountName", "objectClass", "cn", "uid"],
                )
                .map_err(|e| me.unreachable(action.clone(), e))?;
            let mut map = HashMap::new();
            loop {
                match stream.next() {
                    Ok(Some(re)) => {
                        if let Some(e) = construct(re)
                            && let Some((sid, acct)) = sid_account(&e)
                        {
                            map.insert(sid, acct);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(me.unreachable(action, e)),
                }
            }
            let result = stream.result();
            if result.rc != 0 {
                return Err(ResolveError::Refused {
                    url: me.config.url.clone(),
                    action,
                    code: result.rc,
                    message: result.text,
                });
            }
            Ok(map)
        })?;
        let n = map.len();
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .preloaded = Some(map);
        Ok(n)
    }
}

/// The SID and account of a directory entry.
fn sid_account(e: &ldap3::SearchEntry) -> Option<(Sid, Account)> {
    let sid = values(e, "objectSid")
        .into_iter()
        .find_map(|v| Sid::from_bytes(&v).ok())?;
    let name = text_values(e, "sAMAccountName")
        .into_iter()
        .chain(text_values(e, "uid"))
        .chain(text_values(e, "cn"))
        .next()?;
    Some((
        sid,
        Account {
            name,
            class: class_of(&text_values(e, "objectClass")),
        },
    ))
}

impl Resolver for Ldap {
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError> {
        match p {
            Principal::Sid(sid) => {
                {
                    let st = self
                        .state
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some(map) = &st.preloaded {
                        return Ok(map.get(sid).cloned());
                    }
                }
                let filter = format!("(objectSid={})", sid.ldap_filter_value());
                let Some(e) = self.search_one(
                    &filter,
                    &["objectSid", "sAMAccountName", "objectClass", "cn", "uid"],
                )?
                else {
                    return Ok(None);
                };
                Ok(sid_account(&e).map(|(_, a)| a))
            }
            Principal::Uid(u) => {
                let filter = format!("(&(objectClass=posixAccount)(uidNumber={u}))");
                Ok(self.search_one(&filter, &["uid", "cn"])?.and_then(|e| {
                    text_values(&e, "uid")
                        .into_iter()
                        .chain(text_values(&e, "cn"))
                        .next()
                        .map(|name| Account {
                            name,
                            class: AccountClass::User,
                        })
                }))
            }
            Principal::Gid(g) => {
                let filter = format!("(&(objectClass=posixGroup)(gidNumber={g}))");
                Ok(self.search_one(&filter, &["cn"])?.and_then(|e| {
                    text_values(&e, "cn")
                        .into_iter()
                        .next()
                        .map(|name| Account {
                            name,
                            class: AccountClass::Group,
                        })
                }))
            }
            _ => Ok(None),
        }
    }
}

/// What a [`Cache`] did in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Principals looked up (each at most once).
    pub lookups: u64,
    /// Answers from the cache.
    pub hits: u64,
    /// Lookups that failed (the principal stays unresolved for the run).
    pub failures: u64,
    /// Principals known to the cache.
    pub known: u64,
}

/// Remembers every answer of a resolver, so each principal is looked up
/// once; failures are remembered as "unresolved" too, and only the first
/// one is logged (as a `tracing` warning).
pub struct Cache<R> {
    inner: R,
    map: Mutex<HashMap<Principal, Option<Account>>>,
    stats: Mutex<CacheStats>,
    first_error: Mutex<Option<String>>,
}

impl<R> fmt::Debug for Cache<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_struct("Cache")
            .field("stats", &stats)
            .finish_non_exhaustive()
    }
}

impl<R: Resolver> Cache<R> {
    /// An empty cache in front of `inner`.
    pub fn new(inner: R) -> Self {
        Cache {
            inner,
            map: Mutex::new(HashMap::new()),
            stats: Mutex::new(CacheStats::default()),
            first_error: Mutex::new(None),
        }
    }

    /// The resolver behind.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Adds known answers (from a catalog of earlier runs).
    pub fn seed(&self, known: impl IntoIterator<Item = (Principal, Account)>) {
        let mut m = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (p, a) in known {
            m.insert(p, Some(a));
        }
    }

    /// The name of `p`, or `None` when no resolver knows it or the lookup
    /// failed. Never an error.
    pub fn lookup(&self, p: &Principal) -> Option<Account> {
        if let Some(hit) = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(p)
        {
            self.stats
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .hits += 1;
            return hit.clone();
        }
        // Principals relative to the file need no lookup.
        p.key()?;
        let answer = match self.inner.resolve(p) {
            Ok(a) => a,
            Err(e) => {
                self.stats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .failures += 1;
                let mut first = self
                    .first_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if first.is_none() {
                    tracing::warn!(principal = %p, error = %e, "names stay unresolved: the lookup failed (further failures are not logged)");
                    *first = Some(e.to_string());
                }
                None
            }
        };
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .lookups += 1;
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(p.clone(), answer.clone());
        answer
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        let mut s = *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.known = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|a| a.is_some())
            .count() as u64;
        s
    }

    /// The first lookup error of the run, as text.
    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every principal resolved so far, with its account.
    pub fn resolved(&self) -> Vec<(Principal, Account)> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(|(p, a)| a.clone().map(|a| (p.clone(), a)))
            .collect()
    }
}

impl<R: Resolver> Resolver for Cache<R> {
    fn resolve(&self, p: &Principal) -> Result<Option<Account>, ResolveError> {
        Ok(self.lookup(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing(AtomicU64);

    impl Resolver for Failing {
        fn resolve(&self, _: &Principal) -> Result<Option<Account>, ResolveError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(ResolveError::Config("test".into()))
        }
    }

    #[test]
    fn well_known_and_nss_need_no_directory() {
        let c = Chain::local();
        let everyone = c
            .resolve(&Principal::Sid(Sid::everyone()))
            .unwrap()
            .unwrap();
        assert_eq!(everyone.name, "Everyone");
        assert_eq!(everyone.class, AccountClass::WellKnown);
        let root = c.resolve(&Principal::Uid(0)).unwrap().unwrap();
        assert_eq!(root.name, "root");
        assert_eq!(
            c.resolve(&Principal::Gid(0)).unwrap().unwrap().class,
            AccountClass::Group
        );
        assert_eq!(
            c.resolve(&Principal::Nfs4User("0".into()))
                .unwrap()
                .unwrap()
                .name,
            "root"
        );
    }

    #[test]
    fn a_failing_resolver_is_asked_once_per_principal() {
        let cache = Cache::new(Chain::local().then(Failing(AtomicU64::new(0))));
        let sid: Sid = "S-1-5-21-9-9-9-1000".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(cache.lookup(&Principal::Sid(sid.clone())), None);
        }
        assert_eq!(
            cache.lookup(&Principal::Sid(Sid::everyone())).unwrap().name,
            "Everyone"
        );
        let s = cache.stats();
        assert_eq!((s.lookups, s.hits, s.failures, s.known), (2, 4, 1, 1));
        assert!(cache.first_error().is_some());
    }

    #[test]
    fn secrets_do_not_print() {
        let c =
            LdapConfig::new("ldap://127.0.0.1:1", "dc=x").bind("cn=admin", Secret::new("hunter2"));
        let shown = format!("{c:?} {}", c.password.as_ref().unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
