//! Splitting paths, descriptions and query words into search tokens.
//!
//! A text is cut into *runs* of alphanumeric characters (anything else
//! separates). A run is further cut into *parts* where letters meet digits
//! and where case changes (`fooBar`, `XMLFile`, `Budget2019`). Every part is
//! a token, lowercased, and so are spans of two or three adjacent parts and
//! the whole run, so `iPhoneBackup` is found by `iphone`, `phone`, `backup`
//! and `i phone`, and `Budget_2019-final.xlsx` by `budget`, `2019`, `final`
//! and `xlsx`.
//!
//! A query word is cut the same way; when it yields several tokens they must
//! appear in sequence (see [`phrase_matches`]).
//!
//! Tokens fold diacritics, as FTS5's `unicode61` tokenizer does with
//! `remove_diacritics 2`: `Résumé`, `resume` and `RESUME` are one token,
//! whether the name is composed (NFC) or decomposed (NFD, as macOS writes
//! it). Letters without a decomposition (`ß`, `ø`, CJK) stay as they are.
//! A change here changes every token: it needs a new index format
//! (index.rs) and a migration that recomputes the archives' tokens.

use unicode_normalization::UnicodeNormalization as _;

/// A combining diacritical mark (U+0300 to U+036F): what the accents of
/// Latin, Greek and Cyrillic letters decompose into. Part of a word, and
/// dropped from its tokens.
fn is_diacritic(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// Whether `c` belongs to a word (anything else separates words).
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || is_diacritic(c)
}

/// What kind of character a position holds, for part boundaries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    /// Letters without case (CJK, ...): never split inside.
    Other,
}

fn class(c: char) -> Class {
    if c.is_numeric() {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_lowercase() {
        Class::Lower
    } else {
        Class::Other
    }
}

/// One run of alphanumeric characters: its lowercased parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) parts: Vec<String>,
}

fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        let mut out = String::with_capacity(s.len());
        fold_into(&mut out, s);
        out
    }
}

/// Appends `tok` lowercased, its diacritics folded (`Ü` -> `u`).
fn fold_into(out: &mut String, tok: &str) {
    let lowered: String = tok.chars().flat_map(char::to_lowercase).collect();
    out.extend(lowered.nfd().filter(|c| !is_diacritic(*c)).nfc());
}

/// Byte ranges of the parts of one run (alphanumeric characters only).
fn part_bounds(run: &str, bounds: &mut Vec<(usize, usize)>) {
    bounds.clear();
    let mut start = 0;
    let mut prev: Option<Class> = None;
    let mut chars = run.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        if is_diacritic(c) {
            continue; // a decomposed accent: part of the letter before it
        }
        let cur = class(c);
        if let Some(prev) = prev {
            let boundary = match (prev, cur) {
                (Class::Digit, Class::Digit) => false,
                (Class::Digit, _)
                | (_, Class::Digit)
                | (Class::Lower | Class::Other, Class::Upper) => true,
                // "XMLFile": the boundary falls before the last capital.
                (Class::Upper, Class::Upper) => {
                    chars.peek().is_some_and(|&(_, n)| class(n) == Class::Lower)
                }
                _ => false,
            };
            if boundary {
                bounds.push((start, pos));
                start = pos;
            }
        }
        prev = Some(cur);
    }
    bounds.push((start, run.len()));
}

/// Cuts one run into its lowercased parts.
fn split_run(run: &str) -> Vec<String> {
    let mut bounds = Vec::new();
    part_bounds(run, &mut bounds);
    bounds.iter().map(|&(a, b)| lower(&run[a..b])).collect()
}

/// The runs of a text, in order.
pub(crate) fn runs(text: &str) -> Vec<Run> {
    text.split(|c: char| !word_char(c))
        .filter(|r| !r.is_empty())
        .map(|r| Run {
            parts: split_run(r),
        })
        .collect()
}

/// Appends every token of `text` to `out`, separated by single spaces: the
/// parts of each run, then spans of two and three adjacent parts, then the
/// whole run (so `iPhoneBackup` gives `i phone backup iphone phonebackup
/// iphonebackup`), leaving out spans that hold a number (`mp3` gives `mp 3`:
/// queries never ask for them, see [`query_tokens`]). Allocation-free for ASCII text: this runs once per
/// inserted file.
pub(crate) fn index_text(text: &str, out: &mut String) {
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    for run in text.split(|c: char| !word_char(c)) {
        if run.is_empty() {
            continue;
        }
        part_bounds(run, &mut bounds);
        let k = bounds.len();
        for &(a, b) in &bounds {
            push_lower(out, &run[a..b]);
        }
        if k == 1 {
            continue;
        }
        // A query word is cut at letter/digit boundaries too, whatever its
        // case, so no query ever asks for a span holding digits and
        // letters: only spans of letter parts are tokens.
        let letters =
            |i: usize| !run[bounds[i].0..bounds[i].1].starts_with(|c: char| c.is_numeric());
        for len in 2..=k {
            if len <= MAX_SPAN || len == k {
                for first in 0..=k - len {
                    if (first..first + len).all(letters) {
                        push_lower(out, &run[bounds[first].0..bounds[first + len - 1].1]);
                    }
                }
            }
        }
    }
}

/// Spans of up to this many parts are indexed (and the whole run always).
const MAX_SPAN: usize = 3;

fn push_lower(out: &mut String, tok: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    if tok.is_ascii() {
        out.extend(tok.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        fold_into(out, tok);
    }
}

/// The tokens a query word or phrase stands for, in order: the parts of each
/// run (a lowercase query word without inner boundaries, like `iphone`,
/// matches an indexed span of parts).
pub fn query_tokens(text: &str) -> Vec<String> {
    runs(text).into_iter().flat_map(|r| r.parts).collect()
}

/// Whether the indexed tokens `doc` (from [`index_text`]) hold every token
/// of `pattern` (tokens separated by spaces, the last one a prefix when the
/// pattern ends with `*`): what the full-text index answers for a file it
/// holds, computed on one file's path.
pub(crate) fn doc_has(doc: &str, pattern: &str) -> bool {
    let (pattern, prefix) = match pattern.strip_suffix('*') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let want: Vec<&str> = pattern.split(' ').filter(|t| !t.is_empty()).collect();
    want.iter().enumerate().all(|(i, w)| {
        doc.split(' ').any(|t| {
            if prefix && i + 1 == want.len() {
                t.starts_with(w)
            } else {
                t == *w
            }
        })
    })
}

/// Whether `tokens` (from [`query_tokens`]) occur in sequence in `text`, the
/// last one as a prefix when `prefix_last`. A token matches a span of
/// adjacent parts of a run (one part, several, or the whole run);
/// consecutive tokens must cover consecutive spans, within a run or across
/// the end of one run and the start of the next.
pub fn phrase_matches(text: &str, tokens: &[String], prefix_last: bool) -> bool {
    if tokens.is_empty() {
        return true;
    }
    let runs = runs(text);
    let eq = |cand: &str, i: usize| {
        if prefix_last && i + 1 == tokens.len() {
            cand.starts_with(tokens[i].as_str())
        } else {
            cand == tokens[i]
        }
    };
    // Matches tokens[i..] starting at run r, part p: token i may cover any
    // span of parts p..=q of run r.
    #[allow(clippy::items_after_statements)] // reads best beside its one use
    fn go(
        runs: &[Run],
        tokens_len: usize,
        eq: &dyn Fn(&str, usize) -> bool,
        i: usize,
        r: usize,
        p: usize,
    ) -> bool {
        if i == tokens_len {
            return true;
        }
        let Some(run) = runs.get(r) else {
            return false;
        };
        let mut span = String::new();
        for q in p..run.parts.len() {
            span.push_str(&run.parts[q]);
            if eq(&span, i) {
                let (nr, np) = if q + 1 < run.parts.len() {
                    (r, q + 1)
                } else {
                    (r + 1, 0)
                };
                if go(runs, tokens_len, eq, i + 1, nr, np) {
                    return true;
                }
            }
        }
        false
    }
    (0..runs.len()).any(|start| {
        (0..runs[start].parts.len()).any(|p| go(&runs, tokens.len(), &eq, 0, start, p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(s: &str) -> String {
        let mut out = String::new();
        index_text(s, &mut out);
        out
    }

    fn q(s: &str) -> Vec<String> {
        query_tokens(s)
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            idx("/data/Finance/Budget_2019-final.xlsx"),
            "data finance budget 2019 final xlsx"
        );
        assert_eq!(
            idx("XMLFile iPhone mp3"),
            "xml file xmlfile i phone iphone mp 3"
        );
        assert_eq!(
            idx("iPhoneBackup"),
            "i phone backup iphone phonebackup iphonebackup"
        );
        assert_eq!(idx("aBcDe"), "a bc de abc bcde abcde");
        assert_eq!(
            idx("aBcDeFg"),
            "a bc de fg abc bcde defg abcde bcdefg abcdefg"
        );
        assert_eq!(
            idx("Überweisung_MÜLLER 報告書.docx"),
            "uberweisung muller 報告書 docx"
        );
    }

    #[test]
    fn diacritics_fold_composed_or_not() {
        let composed = "Résumé Ångström-Straße ÇA.pdf";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        for text in [composed, &decomposed] {
            assert_eq!(idx(text), "resume angstrom straße ca pdf");
        }
        assert_eq!(q("RÉSUMÉ"), ["resume"]);
        assert_eq!(q("résumé"), q("resume"));
        assert!(phrase_matches(&decomposed, &q("resume angstrom"), false));
        // Letters without a decomposition, and marks of other scripts, stay.
        assert_eq!(idx("søster 한국어 किताब"), "søster 한국어 किताब");
    }

    #[test]
    fn every_query_token_of_a_path_span_is_indexed() {
        // A query typed from any run of adjacent parts of a path, in its
        // case, in lower or in upper case, asks only for indexed tokens.
        let mut paths: Vec<String> = crate::synth::synthetic_tree(5, 3000)
            .map(|f| f.path)
            .collect();
        paths.extend(
            [
                "/x/iPhoneBackup2019v2.tar",
                "/y/XMLFile_mp3Player/ABC123def",
                "/z/Überweisung_MÜLLER 報告書2.docx",
            ]
            .map(String::from),
        );
        let mut bounds = Vec::new();
        for path in &paths {
            let mut doc = String::new();
            index_text(path, &mut doc);
            let have: std::collections::HashSet<&str> = doc.split(' ').collect();
            for run in path
                .split(|c: char| !word_char(c))
                .filter(|r| !r.is_empty())
            {
                part_bounds(run, &mut bounds);
                for i in 0..bounds.len() {
                    for j in i..bounds.len() {
                        let span = &run[bounds[i].0..bounds[j].1];
                        for q in [span.to_owned(), span.to_lowercase(), span.to_uppercase()] {
                            for t in query_tokens(&q) {
                                assert!(have.contains(t.as_str()), "{path}: {q:?} asks for {t:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn phrases() {
        let t = "/data/Finance/Budget_2019-final.xlsx";
        assert!(phrase_matches(t, &q("budget 2019"), false));
        assert!(phrase_matches(t, &q("budget2019"), false));
        assert!(phrase_matches(t, &q("finance budget"), false));
        assert!(!phrase_matches(t, &q("2019 budget"), false));
        assert!(phrase_matches(t, &q("2019 fin"), true));
        assert!(!phrase_matches(t, &q("2019 fin"), false));
        let t = "Foo BarBaz Qux";
        assert!(phrase_matches(t, &q("foo bar"), false));
        assert!(phrase_matches(t, &q("foo barbaz"), false));
        assert!(phrase_matches(t, &q("baz qux"), false));
        assert!(phrase_matches(t, &q("barbaz qux"), false));
        assert!(!phrase_matches(t, &q("bar qux"), false));
        let t = "/x/iPhoneBackup.tar";
        for ok in [
            "iphone",
            "iphone backup",
            "phonebackup",
            "iphonebackup tar",
            "i phone backup",
            "x iphone",
        ] {
            assert!(phrase_matches(t, &q(ok), false), "{ok}");
        }
        assert!(!phrase_matches(t, &q("phone i"), false));
        assert!(phrase_matches(t, &q("iphoneb"), true));
    }
}
