//! Which paths a regular expression can possibly match, told by their file names.
//!
//! The index keeps every distinct file name once (`names`, see [`crate::store::file_name`]), so
//! running a filter over the names is cheap, and reading only the paths of the names that pass
//! is what makes a query fast. The regex still decides every path the names let through.
//! - A pattern matched against file names (pacman's rule for a pattern without `/`) is its own
//!   filter: a path matches only if its name does.
//! - A pattern matched against whole paths that is anchored at the end (`(^|/)__pycache__/$`)
//!   ends every match with one of its suffix literals (`regex-syntax` extracts them); the part
//!   of such a literal after its last inner `/` then ends the path's name (`__pycache__/`).
//! - A whole-path pattern anchored at the start (`^usr/bin/`) starts every match with one of its
//!   prefix literals: each is one range of a package's paths in `files_package`, so only those
//!   paths are read.
//! - Anything else (`lib/libz`, `y.*c`) reads every path.
//!
//! Some whole-path patterns are decided by the name alone ([`decided_by_name`]): then a question
//! about packages needs no path at all, only which packages have a name that matches.

use regex_syntax::{
    ParserBuilder,
    hir::{
        Hir, HirKind, Look,
        literal::{ExtractKind, Extractor},
    },
};

/// More alternatives than this and reading every path is as good.
const MAX_LITERALS: usize = 64;

/// How a query finds its candidate paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The paths whose file name the pattern matches (names of directories never do).
    FileNames,
    /// The paths whose name ends with one of these.
    NameSuffixes(Vec<String>),
    /// The paths that start with one of these.
    PathPrefixes(Vec<String>),
    /// Every path.
    Scan,
}

impl Plan {
    /// The plan for `pattern` (already known to be a valid regex), matched against whole paths
    /// or, with `basename`, against the part after their last `/`. The literals are those of
    /// the pattern as written; matching them without regard to case (as the query does for
    /// `-i`) covers every spelling a case-insensitive match can have.
    pub fn new(pattern: &str, basename: bool) -> Self {
        if basename {
            return Self::FileNames;
        }
        let Ok(hir) = ParserBuilder::new().build().parse(pattern) else {
            return Self::Scan;
        };
        if hir.properties().look_set_suffix().contains(Look::End) {
            return Self::name_suffixes(&hir);
        }
        if hir.properties().look_set_prefix().contains(Look::Start) {
            return Self::path_prefixes(&hir);
        }
        Self::Scan
    }

    /// Every match starts the path with one of the pattern's prefix literals.
    fn path_prefixes(hir: &Hir) -> Self {
        // The extractor may cut a character in two at the end; a shorter prefix is as good.
        let kept = literals(
            hir,
            ExtractKind::Prefix,
            whole_chars_from_start,
            |long, short| long.starts_with(short),
        );
        kept.map_or(Self::Scan, Self::PathPrefixes)
    }

    /// Every match ends the path's name with one of the pattern's suffix literals.
    fn name_suffixes(hir: &Hir) -> Self {
        let tail = |bytes: &[u8]| name_tail(&whole_chars(bytes)).to_owned();
        let kept = literals(hir, ExtractKind::Suffix, tail, |long, short| {
            long.ends_with(short)
        });
        kept.map_or(Self::Scan, Self::NameSuffixes)
    }
}

/// The literals of `kind` every match of `hir` has, each as `text` makes it, without those
/// that `covers` another one (a longer prefix of a shorter prefix adds no paths to it); `None`
/// when they do not narrow anything (none, too many, or an empty one, which lets every path in).
fn literals(
    hir: &Hir,
    kind: ExtractKind,
    text: impl Fn(&[u8]) -> String,
    covers: impl Fn(&str, &str) -> bool,
) -> Option<Vec<String>> {
    let seq = Extractor::new().kind(kind).extract(hir);
    let mut all: Vec<String> = seq
        .literals()?
        .iter()
        .map(|literal| text(literal.as_bytes()))
        .collect();
    all.sort();
    all.dedup();
    let kept: Vec<String> = all
        .iter()
        .filter(|long| {
            !all.iter()
                .any(|short| short != *long && covers(long, short))
        })
        .cloned()
        .collect();
    let narrows =
        !kept.is_empty() && kept.len() <= MAX_LITERALS && !kept.iter().any(String::is_empty);
    narrows.then_some(kept)
}

/// Whether `pattern` (a whole-path pattern, case-sensitive) matches a path exactly when it
/// matches `/` followed by the path's name (see [`crate::store::file_name`]), so the name
/// decides: `L$` and `(^|/)L$`, where the literal `L` has no `/` but maybe a last one
/// (`(^|/)__pycache__/$`).
///
/// Why: a path is `D` + `N`, where the directory part `D` is empty or ends with `/` and the name
/// `N` has no `/` but maybe a last one. `L` has no inner `/`, so it cannot reach across the `/`
/// that ends `D`: `D N` ends with `L` exactly when `N` does, and ends with `/L` or is `L`
/// exactly when `N` is `L`; `/N` gives the same answers.
pub fn decided_by_name(pattern: &str) -> bool {
    let Ok(hir) = ParserBuilder::new().build().parse(pattern) else {
        return false;
    };
    let HirKind::Concat(parts) = hir.kind() else {
        return false;
    };
    let (start, rest) = match parts.as_slice() {
        [start, literal, end] => (Some(start), [literal, end]),
        [literal, end] => (None, [literal, end]),
        _ => return false,
    };
    let [literal, end] = rest;
    let (HirKind::Literal(literal), HirKind::Look(Look::End)) = (literal.kind(), end.kind()) else {
        return false;
    };
    let inner = literal.0.strip_suffix(b"/").unwrap_or(&literal.0);
    !inner.is_empty() && !inner.contains(&b'/') && start.is_none_or(is_start_or_slash)
}

/// Whether `hir` is `(^|/)`, captured or not, in either order.
fn is_start_or_slash(hir: &Hir) -> bool {
    let hir = match hir.kind() {
        HirKind::Capture(capture) => &capture.sub,
        _ => hir,
    };
    let HirKind::Alternation(branches) = hir.kind() else {
        return false;
    };
    let is_start = |hir: &Hir| matches!(hir.kind(), HirKind::Look(Look::Start));
    let is_slash = |hir: &Hir| matches!(hir.kind(), HirKind::Literal(l) if &*l.0 == b"/");
    match branches.as_slice() {
        [a, b] => (is_start(a) && is_slash(b)) || (is_slash(a) && is_start(b)),
        _ => false,
    }
}

/// The part of a path's end `literal` that lies in the path's last component: after its last
/// `/` but the final one (`lib/python3/` → `python3/`, `/__pycache__/` → `__pycache__/`).
fn name_tail(literal: &str) -> &str {
    let inner = literal.strip_suffix('/').unwrap_or(literal);
    inner
        .rfind('/')
        .map_or(literal, |slash| &literal[slash + 1..])
}

/// The longest start of an extracted prefix literal that is whole characters.
fn whole_chars_from_start(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(error) => String::from_utf8_lossy(&bytes[..error.valid_up_to()]).into_owned(),
    }
}

/// The longest end of an extracted suffix literal that is whole characters (the extractor may
/// cut one in two at the start).
fn whole_chars(bytes: &[u8]) -> String {
    let start = (0..bytes.len())
        .find(|&at| std::str::from_utf8(&bytes[at..]).is_ok())
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(pattern: &str) -> Plan {
        Plan::new(pattern, false)
    }

    fn suffixes(list: &[&str]) -> Plan {
        Plan::NameSuffixes(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn an_end_anchored_directory_name_is_found_by_its_name() {
        assert_eq!(plan("(^|/)__pycache__/$"), suffixes(&["__pycache__/"]));
        assert_eq!(plan("/__pycache__/$"), suffixes(&["__pycache__/"]));
    }

    #[test]
    fn only_the_last_component_of_a_literal_names_the_file() {
        assert_eq!(plan("^usr/lib/python3\\.12/$"), suffixes(&["python3.12/"]));
        assert_eq!(plan("/lib/libz\\.so\\.1$"), suffixes(&["libz.so.1"]));
    }

    #[test]
    fn alternations_give_one_suffix_each() {
        assert_eq!(
            plan("/not__pycache__/$|^usr/lib/python3\\.12/$"),
            suffixes(&["not__pycache__/", "python3.12/"])
        );
        assert_eq!(
            plan("(/x/libfoo|libbar)\\.so$"),
            suffixes(&["libbar.so", "libfoo.so"])
        );
    }

    #[test]
    fn a_suffix_that_ends_another_one_keeps_the_shorter() {
        assert_eq!(plan("/(a|ba)\\.so$"), suffixes(&["a.so"]));
    }

    #[test]
    fn file_name_patterns_filter_names_themselves() {
        assert_eq!(Plan::new("^libz\\.so", true), Plan::FileNames);
    }

    #[test]
    fn a_name_ending_or_being_a_literal_decides_alone() {
        for pattern in [
            "(^|/)__pycache__/$",
            "(?:/|^)__pycache__/$",
            "__pycache__/$",
            "\\.py$",
        ] {
            assert!(decided_by_name(pattern), "{pattern}");
        }
        for pattern in [
            "^__pycache__/$",
            "a/__pycache__/$",
            "(^|/)lib/python/$",
            "(^|x)__pycache__/$",
            "(^|/)__pycache__/",
            "(?i)(^|/)__pycache__/$",
            "(^|/)(a|b)/$",
            "/$",
        ] {
            assert!(!decided_by_name(pattern), "{pattern}");
        }
    }

    /// The claim of `decided_by_name`, checked: for every path, the pattern on the path and on
    /// `/` + its name agree.
    #[test]
    fn the_name_gives_the_answer_the_path_gives() {
        let paths = [
            "__pycache__/",
            "usr/__pycache__/",
            "usr/lib/not__pycache__/",
            "usr/lib/__pycache__/x.pyc",
            "usr/lib/__pycache__/__pycache__/",
            "a.py",
            "usr/lib/a.py",
            "usr/lib/a.py/",
            "usr/lib/a.pyc",
        ];
        for pattern in ["(^|/)__pycache__/$", "__pycache__/$", "\\.py$", "\\.py/$"] {
            assert!(decided_by_name(pattern), "{pattern}");
            let regex = regex::Regex::new(pattern).expect("valid");
            for path in paths {
                let by_name = format!("/{}", crate::store::file_name(path));
                assert_eq!(
                    regex.is_match(path),
                    regex.is_match(&by_name),
                    "{pattern} on {path}"
                );
            }
        }
    }

    #[test]
    fn start_anchored_patterns_read_the_paths_of_their_prefixes() {
        let prefixes =
            |list: &[&str]| Plan::PathPrefixes(list.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(plan("^usr/bin/"), prefixes(&["usr/bin/"]));
        assert_eq!(
            plan("^usr/(bin|lib)/x"),
            prefixes(&["usr/bin/x", "usr/lib/x"])
        );
        assert_eq!(plan("^(usr/|usr/lib/)"), prefixes(&["usr/"]));
        assert_eq!(plan("^usr/[a-z]+/"), prefixes(&["usr/"]));
    }

    #[test]
    fn whole_path_patterns_without_an_anchored_literal_scan() {
        for pattern in [
            "lib/libz",
            "/.*$",
            "a/b|c/d$",
            "x/[a-z]+$",
            "/$|^u/",
            "^u/|a/",
            "^.*/bin/",
        ] {
            assert_eq!(plan(pattern), Plan::Scan, "{pattern}");
        }
    }
}
