//! Which paths a regular expression can possibly match, as a query of the trigram index.
//!
//! Every match of a regex starts with one of its prefix literals and ends with one of its suffix
//! literals (`regex-syntax` extracts both sets). When either set is finite and each of its
//! literals has at least three characters, a path that matches must contain one of them, and
//! so every trigram of it: the index narrows the paths to those, and the regex still decides
//! each one. A regex anchored at the start (`^usr/`) or end (`__pycache__/$`) of every match
//! gains the marks the index puts around each path (char 2 before, char 3 after), so the
//! literal says where in the path it must be. Anything else (`.`, `[a-z]+\.so`) reads every
//! path.

use regex_syntax::{
    ParserBuilder,
    hir::{
        Hir, Look,
        literal::{ExtractKind, Extractor, Seq},
    },
};

/// Put before every path in the trigram index.
pub const START_MARK: char = '\u{2}';
/// Put after every path in the trigram index.
pub const END_MARK: char = '\u{3}';

/// The index has trigrams: a literal needs this many characters to be looked up.
const MIN_CHARS: usize = 3;
/// More alternatives than this and scanning is as good (a case-insensitive pattern can expand
/// to many spellings).
const MAX_LITERALS: usize = 64;

/// How a query finds its candidate paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The paths holding one of these literals (marks included), found in the trigram index.
    Literals(Vec<String>),
    /// Every path.
    Scan,
}

impl Plan {
    /// The plan for `pattern` (already known to be a valid regex), matched against whole paths
    /// or, with `basename`, against the part after their last `/`.
    pub fn new(pattern: &str, ignore_case: bool, basename: bool) -> Self {
        let Ok(hir) = ParserBuilder::new()
            .case_insensitive(ignore_case)
            .build()
            .parse(pattern)
        else {
            return Self::Scan;
        };
        // A file name starts after a `/`, and ends where the path does.
        let start = if basename { '/' } else { START_MARK };
        let prefixes = literals(&hir, ExtractKind::Prefix, start);
        let suffixes = literals(&hir, ExtractKind::Suffix, start);
        let best = [prefixes, suffixes]
            .into_iter()
            .flatten()
            .max_by_key(|set| (shortest(set), std::cmp::Reverse(set.len())));
        best.map_or(Self::Scan, Self::Literals)
    }

    /// The FTS5 query for the candidates: the trigrams of each literal ANDed, the literals ORed.
    pub fn fts_query(&self) -> Option<String> {
        let Self::Literals(literals) = self else {
            return None;
        };
        let alternatives: Vec<String> = literals
            .iter()
            .map(|literal| {
                let chars: Vec<char> = literal.chars().collect();
                let mut trigrams: Vec<String> = chars
                    .windows(MIN_CHARS)
                    .map(|window| {
                        let trigram: String = window.iter().collect();
                        format!("\"{}\"", trigram.replace('"', "\"\""))
                    })
                    .collect();
                trigrams.sort();
                trigrams.dedup();
                format!("({})", trigrams.join(" AND "))
            })
            .collect();
        Some(alternatives.join(" OR "))
    }
}

/// The literals of `kind` every match holds, marked where the regex is anchored; `None` when
/// they cannot narrow the search.
fn literals(hir: &Hir, kind: ExtractKind, start: char) -> Option<Vec<String>> {
    let properties = hir.properties();
    let anchored = match kind {
        ExtractKind::Prefix => properties.look_set_prefix().contains(Look::Start),
        _ => properties.look_set_suffix().contains(Look::End),
    };
    let seq: Seq = Extractor::new().kind(kind.clone()).extract(hir);
    let mut found: Vec<String> = Vec::new();
    for literal in seq.literals()? {
        let text = text_of(literal.as_bytes(), &kind);
        let marked = match (&kind, anchored) {
            (ExtractKind::Prefix, true) => format!("{start}{text}"),
            (_, true) => format!("{text}{END_MARK}"),
            (_, false) => text.to_owned(),
        };
        if marked.chars().count() < MIN_CHARS {
            return None;
        }
        found.push(marked);
    }
    // Spellings that differ only in ASCII case find the same rows: the index ignores case.
    found
        .iter_mut()
        .for_each(|text| text.make_ascii_lowercase());
    found.sort();
    found.dedup();
    // A literal that holds another one adds no rows to it.
    let kept: Vec<String> = found
        .iter()
        .filter(|text| {
            !found
                .iter()
                .any(|other| other != *text && text.contains(other.as_str()))
        })
        .cloned()
        .collect();
    (!kept.is_empty() && kept.len() <= MAX_LITERALS).then_some(kept)
}

/// The longest whole-character text of an extracted literal, which the extractor may have cut
/// inside a character: a prefix keeps its start, a suffix its end (the ends anchors touch).
fn text_of<'a>(bytes: &'a [u8], kind: &ExtractKind) -> &'a str {
    let start = match kind {
        ExtractKind::Prefix => 0,
        _ => (0..bytes.len())
            .find(|&at| std::str::from_utf8(&bytes[at..]).is_ok())
            .unwrap_or(bytes.len()),
    };
    let rest = &bytes[start..];
    match std::str::from_utf8(rest) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&rest[..error.valid_up_to()]).unwrap_or_default(),
    }
}

fn shortest(set: &[String]) -> usize {
    set.iter()
        .map(|text| text.chars().count())
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(pattern: &str) -> Plan {
        Plan::new(pattern, false, false)
    }

    fn literals(list: &[&str]) -> Plan {
        Plan::Literals(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn an_end_anchored_directory_name_is_looked_up_at_the_end_of_paths() {
        assert_eq!(plan("(^|/)__pycache__/$"), literals(&["__pycache__/\u{3}"]));
    }

    #[test]
    fn a_start_anchor_marks_the_literal() {
        assert_eq!(plan("^usr/lib/"), literals(&["\u{2}usr/lib/"]));
    }

    #[test]
    fn alternations_give_one_literal_each() {
        assert_eq!(
            plan("(libfoo|libbar)\\.so"),
            literals(&["libbar.so", "libfoo.so"])
        );
    }

    #[test]
    fn case_insensitive_spellings_collapse() {
        assert_eq!(Plan::new("README", true, true), literals(&["readme"]));
    }

    #[test]
    fn a_file_name_starts_after_a_slash() {
        assert_eq!(
            Plan::new("^libz\\.so", false, true),
            literals(&["/libz.so"])
        );
    }

    #[test]
    fn patterns_without_a_long_enough_literal_scan() {
        for pattern in [".", "[a-z]+", "ab|cd", "x.*y", "(?s).*"] {
            assert_eq!(plan(pattern), Plan::Scan, "{pattern}");
        }
    }

    #[test]
    fn the_fts_query_ands_trigrams_and_quotes_them() {
        let query = literals(&["a\"bcd"]).fts_query();
        assert_eq!(
            query.as_deref(),
            Some("(\"\"\"bc\" AND \"a\"\"b\" AND \"bcd\")")
        );
    }
}
