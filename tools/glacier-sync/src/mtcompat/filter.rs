//! mt-aws-glacier's file selection rules.
//!
//! Rules come from `--filter 'RULES'` (whitespace-separated `+PATTERN` and
//! `-PATTERN`), `--include PATTERN` and `--exclude PATTERN`, in command-line
//! order. The first rule that matches a file decides; a file no rule matches
//! is included.
//!
//! A pattern is matched against `/` followed by the file's relative path:
//!
//! - `**` matches any characters, `*` any characters except `/`, `?` one
//!   character except `/`; everything else matches itself;
//! - a pattern with a `/` that is not its last character is anchored at the
//!   root (`data/*.txt` and `/data/*.txt` both match only `/data/x.txt`);
//!   any other pattern matches a whole path component suffix
//!   (`*.txt` matches `/a/b/x.txt`);
//! - a pattern ending in `/` matches directories: a file is matched when one
//!   of the directories above it is (`tmp/` matches `/a/tmp/x`);
//! - a leading `!` negates the pattern: the rule applies where the pattern
//!   does not match.

use std::fmt;

/// Include or exclude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `+PATTERN`, `--include`.
    Include,
    /// `-PATTERN`, `--exclude`.
    Exclude,
}

/// One rule: an action and a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    action: Action,
    negated: bool,
    directory: bool,
    anchored: bool,
    /// The glob, with a leading `/` when anchored and without the trailing
    /// `/` of a directory pattern.
    glob: Vec<char>,
    source: String,
}

impl Rule {
    /// A rule from an action and a pattern as the user wrote it.
    pub fn new(action: Action, pattern: &str) -> Result<Rule, FilterError> {
        let (negated, rest) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let (directory, rest) = match rest.strip_suffix('/') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.is_empty() {
            return Err(FilterError::EmptyPattern {
                rule: pattern.to_owned(),
            });
        }
        let anchored = rest.contains('/');
        let mut glob = Vec::with_capacity(rest.len() + 1);
        if anchored && !rest.starts_with('/') {
            glob.push('/');
        }
        glob.extend(rest.chars());
        Ok(Rule {
            action,
            negated,
            directory,
            anchored,
            glob,
            source: pattern.to_owned(),
        })
    }

    /// The action of this rule.
    pub fn action(&self) -> Action {
        self.action
    }

    /// Whether the rule applies to the file at `relpath` (`a/b/c`, no
    /// leading slash).
    pub fn applies_to(&self, relpath: &str) -> bool {
        let path: Vec<char> = relpath.chars().collect();
        let hit = if self.directory {
            // Every directory above the file: "/a", "/a/b" for "a/b/c".
            path.iter()
                .enumerate()
                .any(|(i, c)| *c == '/' && self.matches_path(&path[..i]))
        } else {
            self.matches_path(&path)
        };
        hit != self.negated
    }

    /// Matches `/` + `rel` against the glob.
    fn matches_path(&self, rel: &[char]) -> bool {
        let mut full = Vec::with_capacity(rel.len() + 1);
        full.push('/');
        full.extend_from_slice(rel);
        if self.anchored {
            return glob_match(&self.glob, &full);
        }
        // Any suffix that starts right after a '/'.
        full.iter()
            .enumerate()
            .filter(|(_, c)| **c == '/')
            .any(|(i, _)| glob_match(&self.glob, &full[i + 1..]))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.action {
            Action::Include => '+',
            Action::Exclude => '-',
        };
        write!(f, "{sign}{}", self.source)
    }
}

/// An ordered list of rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    rules: Vec<Rule>,
}

impl Filter {
    /// A filter that includes everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the rules of one `--filter` value.
    pub fn add_filter_option(&mut self, rules: &str) -> Result<(), FilterError> {
        let mut words = rules.split_whitespace();
        while let Some(word) = words.next() {
            let (action, pattern) = if let Some(p) = word.strip_prefix('+') {
                (Action::Include, p)
            } else if let Some(p) = word.strip_prefix('-') {
                (Action::Exclude, p)
            } else {
                return Err(FilterError::MissingSign {
                    word: word.to_owned(),
                });
            };
            // `+ PATTERN` with a space is accepted too.
            let pattern = if pattern.is_empty() {
                words.next().ok_or_else(|| FilterError::EmptyPattern {
                    rule: word.to_owned(),
                })?
            } else {
                pattern
            };
            self.rules.push(Rule::new(action, pattern)?);
        }
        Ok(())
    }

    /// Appends one `--include` or `--exclude`.
    pub fn add(&mut self, action: Action, pattern: &str) -> Result<(), FilterError> {
        self.rules.push(Rule::new(action, pattern)?);
        Ok(())
    }

    /// Whether the file at `relpath` is selected.
    pub fn includes(&self, relpath: &str) -> bool {
        self.rules
            .iter()
            .find(|r| r.applies_to(relpath))
            .is_none_or(|r| r.action == Action::Include)
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// A rule that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Each `--filter` word starts with `+` or `-`.
    #[error("filter rule '{word}' must start with '+' (include) or '-' (exclude)")]
    MissingSign {
        /// The word.
        word: String,
    },
    /// A rule without a pattern.
    #[error("filter rule '{rule}' has no pattern")]
    EmptyPattern {
        /// The rule.
        rule: String,
    },
}

/// Glob match of the whole `text`: `**` any characters, `*` any characters
/// but `/`, `?` one character but `/`. Iterative, with backtracking to the
/// last star.
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    // Backtracking state for the last `*` (cannot cross '/') and the last
    // `**` (can); a later star replaces the earlier one's state.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize, bool)> = None; // (pattern after star, text pos, crosses '/')
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    let double = pattern.get(p + 1) == Some(&'*');
                    let after = if double { p + 2 } else { p + 1 };
                    star = Some((after, t, double));
                    p = after;
                    continue;
                }
                '?' if text[t] != '/' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                c if c != '?' && c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Mismatch: let the last star swallow one more byte, if it can.
        match star {
            Some((after, st, double)) if double || text[st] != '/' => {
                star = Some((after, st + 1, double));
                p = after;
                t = st + 1;
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(rules: &str) -> Filter {
        let mut f = Filter::new();
        f.add_filter_option(rules).unwrap();
        f
    }

    fn glob_match(p: &str, t: &str) -> bool {
        super::glob_match(
            &p.chars().collect::<Vec<_>>(),
            &t.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn glob_basics() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "a/b.txt"));
        assert!(glob_match("**.txt", "a/b.txt"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(glob_match("/data/**", "/data/x/y"));
        assert!(!glob_match("/data/*", "/data/x/y"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("**/x", "/a/b/x"));
    }

    #[test]
    fn default_is_include_and_first_match_wins() {
        assert!(Filter::new().includes("anything/at/all"));
        let f = filter("+*.txt -*");
        assert!(f.includes("a/b/notes.txt"));
        assert!(!f.includes("a/b/photo.jpg"));
        let f = filter("-*.txt +*");
        assert!(!f.includes("notes.txt"));
        assert!(f.includes("photo.jpg"));
    }

    #[test]
    fn unanchored_matches_any_component_suffix() {
        let f = filter("-file.txt");
        assert!(!f.includes("file.txt"));
        assert!(!f.includes("a/b/file.txt"));
        assert!(f.includes("a/myfile.txt"));
    }

    #[test]
    fn a_slash_inside_anchors_at_the_root() {
        for rules in ["-data/*.log", "-/data/*.log"] {
            let f = filter(rules);
            assert!(!f.includes("data/x.log"), "{rules}");
            assert!(f.includes("other/data/x.log"), "{rules}");
            assert!(f.includes("data/sub/x.log"), "{rules}");
        }
        let f = filter("-data/**.log");
        assert!(!f.includes("data/sub/x.log"));
    }

    #[test]
    fn trailing_slash_matches_directories_above_the_file() {
        let f = filter("-tmp/");
        assert!(!f.includes("tmp/x"));
        assert!(!f.includes("a/tmp/b/x"));
        assert!(f.includes("a/tmp"), "a file named tmp is not a directory");
        assert!(f.includes("a/tmpx/y"));
        let f = filter("-/a/tmp/");
        assert!(!f.includes("a/tmp/x"));
        assert!(f.includes("b/a/tmp/x"));
    }

    #[test]
    fn negation() {
        // Exclude everything that is not a .txt file.
        let f = filter("-!*.txt");
        assert!(f.includes("a/notes.txt"));
        assert!(!f.includes("a/photo.jpg"));
    }

    #[test]
    fn non_ascii_and_spaces_in_names() {
        let f = filter("-*é*");
        assert!(!f.includes("dir/café au lait.txt"));
        assert!(f.includes("dir/cafe.txt"));
        // `?` is one character, even a two-byte one.
        let f = filter("-caf?.txt");
        assert!(!f.includes("x/café.txt"));
        assert!(f.includes("x/caféé.txt"));
    }

    #[test]
    fn include_and_exclude_options_interleave() {
        let mut f = Filter::new();
        f.add(Action::Include, "*.jpg").unwrap();
        f.add_filter_option("-photos/ +*.txt").unwrap();
        f.add(Action::Exclude, "*").unwrap();
        assert!(f.includes("photos/a.jpg"));
        assert!(!f.includes("photos/a.txt"));
        assert!(f.includes("docs/a.txt"));
        assert!(!f.includes("docs/a.pdf"));
        assert_eq!(f.rules().len(), 4);
        assert_eq!(f.rules()[1].to_string(), "-photos/");
    }

    #[test]
    fn parse_errors_name_the_rule() {
        let mut f = Filter::new();
        let err = f.add_filter_option("+*.txt *.jpg").unwrap_err();
        assert_eq!(
            err.to_string(),
            "filter rule '*.jpg' must start with '+' (include) or '-' (exclude)"
        );
        // A word that starts with a multi-byte character (found by fuzzing).
        let err = f.add_filter_option("é*").unwrap_err();
        assert!(matches!(err, FilterError::MissingSign { .. }));
        let err = f.add_filter_option("+").unwrap_err();
        assert!(matches!(err, FilterError::EmptyPattern { .. }));
        assert!(Rule::new(Action::Include, "/").is_err());
        // `+ PATTERN` with a space is one rule.
        let mut f = Filter::new();
        f.add_filter_option("+ *.txt - *").unwrap();
        assert_eq!(f.rules().len(), 2);
        assert!(f.includes("a.txt") && !f.includes("a.jpg"));
    }
}
