//! The query language.
//!
//! ```text
//! budget 2019                  every word must match (AND)
//! "final report"               the words in this order
//! -draft   -"old copy"         NOT
//! budg*                        a word that starts with "budg"
//! tag:NAME                     the file's archive or run carries the tag
//! path:GLOB                    the path matches the glob (`*`, `?`, `[a-z]`;
//!                              a glob without `/` is matched against the name)
//! under:/DIR                   the file is DIR or below it
//! size:>10M  size:<=4k  size:1M..2G  size:=0
//! mtime:<2020-01-01  mtime:>=2021-06-30T12:00:00Z  mtime:2019-01-01..2020-01-01
//! archive:ID                   catalog number or the store's archive id
//! run:ID                       catalog number or the run's uid
//! owner:NAME  group:NAME       the file's owner / group (a name, a number,
//!                              or an NT descriptor's owner: name or SID)
//! acl:NAME                     an ACL entry names the principal (a name,
//!                              `S-1-5-...`, `uid:N`, `gid:N`)
//! acl:deny                     an ACL entry denies something
//! ```
//!
//! Words match tokens of the path (directory names and words inside file
//! names: `Budget_2019-final.xlsx` holds `budget`, `2019`, `final`, `xlsx`),
//! the descriptions of the file's archive and run, and their tags. Any
//! clause can be negated with `-`; a value with spaces is quoted
//! (`path:"/data/My Files/*"`). Sizes take the binary units K, M, G, T, P
//! (optionally followed by `B` or `iB`); times are UTC dates, date-times, or
//! `@SECONDS` since the epoch; ranges `A..B` include A and exclude B.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::time::{format_time, parse_time};

/// A parsed query: clauses that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The clauses, all required.
    pub clauses: Vec<Clause>,
}

/// One clause of a [`Query`], possibly negated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clause {
    /// `-` in front: the clause must not hold.
    pub negated: bool,
    /// What must (or must not) hold.
    pub term: Term,
}

/// What a clause tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
#[non_exhaustive]
pub enum Term {
    /// A bare word (its tokens in sequence when it has several).
    Word(String),
    /// A word ending in `*`: the last token is a prefix.
    Prefix(String),
    /// A quoted phrase: its tokens in sequence.
    Phrase(String),
    /// `tag:NAME` (case-insensitive).
    Tag(String),
    /// `path:GLOB`.
    Path(String),
    /// `under:/DIR`.
    Under(String),
    /// `size:...` in bytes.
    Size(Range),
    /// `mtime:...` in seconds since the epoch.
    Mtime(Range),
    /// `archive:ID`.
    Archive(String),
    /// `run:ID`.
    Run(String),
    /// `owner:NAME` (case-insensitive; a number matches the uid).
    Owner(String),
    /// `group:NAME` (case-insensitive; a number matches the gid).
    Group(String),
    /// `acl:NAME`: an ACL entry names the principal.
    Acl(String),
    /// `acl:deny`: an ACL entry denies something.
    AclDeny,
}

/// A comparison against a number: `op value`, or `from..to` (half open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// `< n`
    Lt(i64),
    /// `<= n`
    Le(i64),
    /// `> n`
    Gt(i64),
    /// `>= n`
    Ge(i64),
    /// `= n`
    Eq(i64),
    /// `from <= x < to`
    Between(i64, i64),
}

impl Range {
    /// The SQL condition on `col`, with the numbers inlined (they are
    /// integers, never text).
    pub(crate) fn sql(self, col: &str) -> String {
        match self {
            Range::Lt(n) => format!("{col} < {n}"),
            Range::Le(n) => format!("{col} <= {n}"),
            Range::Gt(n) => format!("{col} > {n}"),
            Range::Ge(n) => format!("{col} >= {n}"),
            Range::Eq(n) => format!("{col} = {n}"),
            Range::Between(a, b) => format!("({col} >= {a} AND {col} < {b})"),
        }
    }
}

/// A query that does not parse: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query syntax error at column {column}: expected {expected}, found {found}")]
#[non_exhaustive]
pub struct QueryError {
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What the parser expected there.
    pub expected: String,
    /// What it found (quoted text, or "end of query").
    pub found: String,
}

const FIELDS: &str =
    "one of tag:, path:, under:, size:, mtime:, archive:, run:, owner:, group:, acl:";

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn column(&self, byte: usize) -> usize {
        self.src[..byte].chars().count() + 1
    }

    fn err(&self, at: usize, expected: impl Into<String>, found: Option<&str>) -> QueryError {
        let found = match found {
            Some(f) if !f.is_empty() => format!("{f:?}"),
            _ => match self.src[at..].chars().next() {
                Some(c) => format!("{c:?}"),
                None => "end of query".to_owned(),
            },
        };
        QueryError {
            column: self.column(at),
            expected: expected.into(),
            found,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    /// A quoted string starting at the current `"`.
    fn quoted(&mut self) -> Result<&'a str, QueryError> {
        let open = self.pos;
        self.pos += 1;
        match self.src[self.pos..].find('"') {
            Some(end) => {
                let s = &self.src[self.pos..self.pos + end];
                self.pos += end + 1;
                Ok(s)
            }
            None => Err(QueryError {
                column: self.column(self.src.len()),
                expected: format!(
                    "a closing '\"' for the quote opened at column {}",
                    self.column(open)
                ),
                found: "end of query".to_owned(),
            }),
        }
    }

    /// Characters up to whitespace or a quote.
    fn bare(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '"' {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.src[start..self.pos]
    }

    fn value(&mut self) -> Result<(usize, &'a str), QueryError> {
        let at = self.pos;
        let v = if self.peek() == Some('"') {
            self.quoted()?
        } else {
            self.bare()
        };
        Ok((at, v))
    }

    fn clause(&mut self) -> Result<Clause, QueryError> {
        let start = self.pos;
        let negated = self.peek() == Some('-');
        if negated {
            self.pos += 1;
            if matches!(self.peek(), None | Some(' ' | '\t' | '\n' | '\r')) {
                return Err(self.err(self.pos, "a word, phrase or field after '-'", None));
            }
        }
        if self.peek() == Some('"') {
            let at = self.pos;
            let p = self.quoted()?;
            if crate::tokens::query_tokens(p).is_empty() {
                return Err(self.err(at, "a phrase with letters or digits", Some(p)));
            }
            return Ok(Clause {
                negated,
                term: Term::Phrase(p.to_owned()),
            });
        }
        let word_at = self.pos;
        // A field name is letters followed by ':'.
        let rest = &self.src[self.pos..];
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        if name_len > 0 && rest[name_len..].starts_with(':') {
            let name = &rest[..name_len];
            let known = [
                "tag", "path", "under", "size", "mtime", "archive", "run", "owner", "group", "acl",
            ];
            if !known.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(self.err(word_at, FIELDS, Some(&format!("{name}:"))));
            }
            self.pos += name_len + 1;
            let (at, v) = self.value()?;
            let term = field(self, &name.to_ascii_lowercase(), at, v)?;
            return Ok(Clause { negated, term });
        }
        let w = self.bare();
        if w.is_empty() {
            return Err(self.err(start, "a word, phrase or field", None));
        }
        let (body, prefix) = match w.strip_suffix('*') {
            Some(b) => (b, true),
            None => (w, false),
        };
        if crate::tokens::query_tokens(body).is_empty() {
            return Err(self.err(word_at, "a word with letters or digits", Some(w)));
        }
        let term = if prefix {
            Term::Prefix(body.to_owned())
        } else {
            Term::Word(body.to_owned())
        };
        Ok(Clause { negated, term })
    }
}

fn field(p: &Parser<'_>, name: &str, at: usize, v: &str) -> Result<Term, QueryError> {
    let nonempty = |what: &str| -> Result<String, QueryError> {
        if v.is_empty() {
            Err(p.err(at, format!("{what} after '{name}:'"), None))
        } else {
            Ok(v.to_owned())
        }
    };
    Ok(match name {
        "tag" => Term::Tag(nonempty("a tag name")?),
        "path" => Term::Path(nonempty("a glob")?),
        "under" => {
            let d = nonempty("an absolute directory")?;
            if !d.starts_with('/') {
                return Err(p.err(at, "an absolute directory (starting with '/')", Some(v)));
            }
            Term::Under(d)
        }
        "archive" => Term::Archive(nonempty("an archive number or id")?),
        "run" => Term::Run(nonempty("a run number or uid")?),
        "owner" => Term::Owner(nonempty("a user name or uid")?),
        "group" => Term::Group(nonempty("a group name or gid")?),
        "acl" if v.eq_ignore_ascii_case("deny") => Term::AclDeny,
        "acl" => Term::Acl(nonempty("a principal name, SID, uid:N or gid:N, or deny")?),
        "size" => Term::Size(range(p, at, v, "a size like 10M", parse_size)?),
        "mtime" => Term::Mtime(range(p, at, v, "a date like 2020-01-01", parse_time)?),
        _ => return Err(p.err(at, FIELDS, Some(name))),
    })
}

fn range(
    p: &Parser<'_>,
    at: usize,
    v: &str,
    what: &str,
    num: fn(&str) -> Option<i64>,
) -> Result<Range, QueryError> {
    type Make = fn(i64) -> Range;
    let ops: [(&str, Make); 5] = [
        ("<=", Range::Le),
        (">=", Range::Ge),
        ("<", Range::Lt),
        (">", Range::Gt),
        ("=", Range::Eq),
    ];
    for (op, make) in ops {
        if let Some(rest) = v.strip_prefix(op) {
            let at = at + op.len();
            return num(rest)
                .map(make)
                .ok_or_else(|| p.err(at, format!("{what} after '{op}'"), Some(rest)));
        }
    }
    if let Some((a, b)) = v.split_once("..") {
        let x = num(a).ok_or_else(|| p.err(at, format!("{what} before '..'"), Some(a)))?;
        let y =
            num(b).ok_or_else(|| p.err(at + a.len() + 2, format!("{what} after '..'"), Some(b)))?;
        return Ok(Range::Between(x, y));
    }
    num(v).map(Range::Eq).ok_or_else(|| {
        p.err(
            at,
            format!("a comparison (<, <=, >, >=, =) or {what}"),
            Some(v),
        )
    })
}

/// `10`, `10K`, `1.5M`, `2GiB`, `3gb`: bytes, binary units.
pub(crate) fn parse_size(s: &str) -> Option<i64> {
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    if num.is_empty() || num.starts_with('.') {
        return None;
    }
    let unit = unit.to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    if let Some((int, frac)) = num.split_once('.') {
        if frac.is_empty() || frac.contains('.') || frac.len() > 9 {
            return None;
        }
        let int: i64 = int.parse().ok()?;
        let f: i64 = frac.parse().ok()?;
        let scale = 10i64.pow(frac.len() as u32);
        int.checked_mul(mult)?
            .checked_add(f.checked_mul(mult)? / scale)
    } else {
        num.parse::<i64>().ok()?.checked_mul(mult)
    }
}

/// Parses a query.
///
/// # Errors
/// [`QueryError`] naming the column and what was expected there.
pub fn parse(src: &str) -> Result<Query, QueryError> {
    let mut p = Parser { src, pos: 0 };
    let mut clauses = Vec::new();
    loop {
        p.skip_space();
        if p.pos >= src.len() {
            break;
        }
        clauses.push(p.clause()?);
        if let Some(c) = p.peek()
            && !c.is_whitespace()
        {
            return Err(p.err(p.pos, "a space between clauses", None));
        }
    }
    Ok(Query { clauses })
}

impl FromStr for Query {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

fn fmt_value(f: &mut fmt::Formatter<'_>, v: &str) -> fmt::Result {
    if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"') {
        // Values with quotes cannot be written back; quoting keeps the rest.
        write!(f, "\"{}\"", v.replace('"', ""))
    } else {
        f.write_str(v)
    }
}

fn fmt_range(f: &mut fmt::Formatter<'_>, r: Range, show: fn(i64) -> String) -> fmt::Result {
    match r {
        Range::Lt(x) => write!(f, "<{}", show(x)),
        Range::Le(x) => write!(f, "<={}", show(x)),
        Range::Gt(x) => write!(f, ">{}", show(x)),
        Range::Ge(x) => write!(f, ">={}", show(x)),
        Range::Eq(x) => write!(f, "={}", show(x)),
        Range::Between(from, to) => write!(f, "{}..{}", show(from), show(to)),
    }
}

impl fmt::Display for Clause {
    /// The canonical text of the clause, which parses back to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("-")?;
        }
        match &self.term {
            Term::Word(w) => f.write_str(w),
            Term::Prefix(w) => write!(f, "{w}*"),
            Term::Phrase(p) => write!(f, "\"{p}\""),
            Term::Tag(v) => {
                f.write_str("tag:")?;
                fmt_value(f, v)
            }
            Term::Path(v) => {
                f.write_str("path:")?;
                fmt_value(f, v)
            }
            Term::Under(v) => {
                f.write_str("under:")?;
                fmt_value(f, v)
            }
            Term::Archive(v) => {
                f.write_str("archive:")?;
                fmt_value(f, v)
            }
            Term::Run(v) => {
                f.write_str("run:")?;
                fmt_value(f, v)
            }
            Term::Owner(v) => {
                f.write_str("owner:")?;
                fmt_value(f, v)
            }
            Term::Group(v) => {
                f.write_str("group:")?;
                fmt_value(f, v)
            }
            Term::Acl(v) => {
                f.write_str("acl:")?;
                fmt_value(f, v)
            }
            Term::AclDeny => f.write_str("acl:deny"),
            Term::Size(r) => {
                f.write_str("size:")?;
                fmt_range(f, *r, |n| n.to_string())
            }
            Term::Mtime(r) => {
                f.write_str("mtime:")?;
                fmt_range(f, *r, format_time)
            }
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_everything() {
        let q = parse(r#"budget 2019 "final report" -draft tag:fin path:*.xlsx under:/data size:>10M mtime:<2020-01-01 archive:7 run:abc budg*"#).unwrap();
        assert_eq!(q.clauses.len(), 12);
        assert_eq!(q.clauses[4].term, Term::Tag("fin".into()));
        assert!(q.clauses[3].negated);
        assert_eq!(q.clauses[7].term, Term::Size(Range::Gt(10 << 20)));
        assert_eq!(q.clauses[8].term, Term::Mtime(Range::Lt(1_577_836_800)));
        assert_eq!(q.clauses[11].term, Term::Prefix("budg".into()));
        assert_eq!(parse(&q.to_string()).unwrap(), q);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1.5M"), Some(3 << 19));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("2gb"), Some(2 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1.2.3"), None);
    }

    #[test]
    fn errors_name_position() {
        let e = parse("budget size:>abc").unwrap_err();
        assert_eq!(e.column, 14);
        assert!(e.expected.contains("size"), "{e}");
        let e = parse("a \"open").unwrap_err();
        assert!(e.expected.contains("closing"), "{e}");
        let e = parse("colour:red").unwrap_err();
        assert_eq!(e.column, 1);
        let e = parse("a - b").unwrap_err();
        assert_eq!(e.column, 4);
        let e = parse("mtime:2020-13-01").unwrap_err();
        assert_eq!(e.column, 7);
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_round_trips(text in r#"[a-zA-Z0-9 :"*<>=.@/_\-äÜ報]{0,40}"#) {
            match parse(&text) {
                Ok(q) => proptest::prop_assert_eq!(parse(&q.to_string()), Ok(q)),
                Err(e) => proptest::prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1),
            }
        }

        #[test]
        fn fields_round_trip(
            field in "(tag|path|under|size|mtime|archive|run)",
            value in r"[a-z0-9 <>=.@/:*\-]{0,20}",
            negated in proptest::bool::ANY,
        ) {
            let text = format!("{}{field}:\"{value}\"", if negated { "-" } else { "" });
            if let Ok(q) = parse(&text) {
                proptest::prop_assert_eq!(parse(&q.to_string()), Ok(q));
            }
        }
    }
}
