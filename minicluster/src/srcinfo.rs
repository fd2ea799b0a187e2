//! `.SRCINFO`, the declarative form of a PKGBUILD, read with the ALPM project's `alpm-srcinfo`.
//!
//! A PKGBUILD is bash: sourcing it runs code. Every tool that needs to know what a PKGBUILD
//! declares reads its `.SRCINFO` through here instead.
//!
//! alpm-srcinfo is stricter than the tools around it: of 2,533 real `.SRCINFO` files (chaotic-aur)
//! it refuses 11. A text it refuses is read again after [`tidy`] makes of each line what a reader
//! splitting `key = value` lines, pacman and makepkg make of it (whitespace around `=` and values
//! trimmed, an unknown keyword ignored, an empty epoch read as `0` as vercmp reads it, an option
//! makepkg does not know dropped, a checksum that is no digest kept as one that never matches, as
//! makepkg's check would fail), and every such change is a [`Note`]. What makepkg itself refuses
//! to build (a `pkgver` holding `-`, `:` or `/`) stays refused, and so does an empty file.

use std::path::Path;

pub use alpm_srcinfo::SourceInfoV1;

/// Why a `.SRCINFO` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SrcinfoError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        error: std::io::Error,
    },
    /// The file is empty: there is nothing to read (regenerate it: `makepkg --printsrcinfo`).
    #[error("{0}: empty .SRCINFO (regenerate it with makepkg --printsrcinfo > .SRCINFO)")]
    Empty(String),
    /// The file is not valid `.SRCINFO`, even read as leniently as aurweb reads it.
    #[error("{path}: {message}")]
    Parse {
        /// The file (or where the text came from).
        path: String,
        /// What the parser said, with the offending line.
        message: String,
    },
}

/// A `.SRCINFO` read, and what had to be made of lines alpm-srcinfo refuses as written.
#[derive(Debug)]
pub struct Srcinfo {
    /// What it declares.
    pub info: SourceInfoV1,
    /// One note per line read otherwise than as written; empty for makepkg's own output.
    pub notes: Vec<Note>,
}

/// A line of a `.SRCINFO` read otherwise than as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// 1-based line number.
    pub line: usize,
    /// What was made of it, and why.
    pub message: String,
}

/// Reads `folder/.SRCINFO`.
pub fn read(folder: &Path) -> Result<SourceInfoV1, SrcinfoError> {
    read_noting(folder).map(|srcinfo| srcinfo.info)
}

/// Reads `folder/.SRCINFO`, with the notes about lines read otherwise than as written.
pub fn read_noting(folder: &Path) -> Result<Srcinfo, SrcinfoError> {
    let path = folder.join(".SRCINFO");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|error| SrcinfoError::Io {
        path: shown.clone(),
        error,
    })?;
    parse_noting(&text, &shown)
}

/// Reads a `.SRCINFO` given as text; `name` says where it came from, for errors.
pub fn parse(text: &str, name: &str) -> Result<SourceInfoV1, SrcinfoError> {
    parse_noting(text, name).map(|srcinfo| srcinfo.info)
}

/// Reads a `.SRCINFO` given as text, with the notes about lines read otherwise than as written.
pub fn parse_noting(text: &str, name: &str) -> Result<Srcinfo, SrcinfoError> {
    if text.trim().is_empty() {
        return Err(SrcinfoError::Empty(name.to_owned()));
    }
    let strict = match SourceInfoV1::from_string(text) {
        Ok(info) => {
            return Ok(Srcinfo {
                info,
                notes: Vec::new(),
            });
        }
        Err(error) => error,
    };
    let (tidied, notes) = tidy(text);
    match SourceInfoV1::from_string(&tidied) {
        Ok(info) => Ok(Srcinfo { info, notes }),
        // Still refused: alpm-srcinfo's first complaint, about the text as written.
        _ => Err(SrcinfoError::Parse {
            path: name.to_owned(),
            message: strict.to_string(),
        }),
    }
}

/// The keywords of the `.SRCINFO` format (without an `_ARCH` suffix) besides [`RELATIONS`] and
/// the checksums of [`DIGEST_LENGTHS`] and `cksums`.
const KEYWORDS: &[&str] = &[
    "pkgbase",
    "pkgname",
    "pkgver",
    "pkgrel",
    "epoch",
    "pkgdesc",
    "url",
    "license",
    "arch",
    "changelog",
    "install",
    "groups",
    "options",
    "backup",
    "validpgpkeys",
    "source",
    "noextract",
    "cksums",
];

/// Hex digits of each checksum kind's digest.
const DIGEST_LENGTHS: &[(&str, usize)] = &[
    ("md5sums", 32),
    ("sha1sums", 40),
    ("sha224sums", 56),
    ("sha256sums", 64),
    ("sha384sums", 96),
    ("sha512sums", 128),
    ("b2sums", 128),
];

const RELATIONS: &[&str] = &[
    "depends",
    "makedepends",
    "checkdepends",
    "optdepends",
    "provides",
    "conflicts",
    "replaces",
];

/// The text with each line alpm-srcinfo refuses made into what aurweb and pacman read it as,
/// and a note per line changed.
pub fn tidy(text: &str) -> (String, Vec<Note>) {
    let mut out = String::with_capacity(text.len());
    let mut notes = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut note = |message: String| {
            notes.push(Note {
                line: index + 1,
                message,
            });
        };
        let Some((key, value)) = line.split_once('=') else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let keyword = key.split('_').next().unwrap_or(key);
        let known = KEYWORDS.contains(&keyword)
            || RELATIONS.contains(&keyword)
            || DIGEST_LENGTHS.iter().any(|(kind, _)| *kind == keyword);
        if !known {
            note(format!(
                "unknown keyword {key:?} ignored (makepkg never writes it)"
            ));
            continue;
        }
        let indent = if matches!(key, "pkgbase" | "pkgname") {
            ""
        } else {
            "\t"
        };
        if line != format!("{indent}{key} = {value}") {
            note(format!(
                "{key}: whitespace around '=' or the value differs from makepkg's; read trimmed"
            ));
        }
        let read = if accepted(key, value) {
            value.to_owned()
        } else {
            match lenient(keyword, value) {
                Some((read, why)) => {
                    note(format!("{key} = {value:?}: {why}"));
                    match read {
                        Some(read) => read,
                        None => continue,
                    }
                }
                None => value.to_owned(),
            }
        };
        out.push_str(&format!("{indent}{key} = {read}\n"));
    }
    (out, notes)
}

/// Whether alpm-srcinfo takes `key = value` (tried in a package base of its own).
fn accepted(key: &str, value: &str) -> bool {
    if matches!(key, "pkgbase" | "pkgname" | "pkgver" | "pkgrel" | "arch") {
        return true;
    }
    // `source_x86_64` belongs to a package base built for x86_64.
    let arch = key.split_once('_').map_or("any", |(_, arch)| arch);
    let probe = format!(
        "pkgbase = probe\n\tpkgver = 1\n\tpkgrel = 1\n\tarch = {arch}\n\t{key} = {value}\n\npkgname = probe\n"
    );
    SourceInfoV1::from_string(&probe).is_ok()
}

/// What pacman and makepkg make of a value alpm-srcinfo refuses: the value to read (`None`:
/// the line is dropped) and why; `None` when they refuse it as well.
#[allow(clippy::type_complexity)]
fn lenient(keyword: &str, value: &str) -> Option<(Option<String>, &'static str)> {
    if keyword == "options" {
        return Some((
            None,
            "not an option makepkg knows (makepkg refuses it); ignored",
        ));
    }
    if let Some(&(_, length)) = DIGEST_LENGTHS.iter().find(|(kind, _)| *kind == keyword) {
        return Some((
            Some("0".repeat(length)),
            "not a digest: read as one that never matches, as makepkg's integrity check fails",
        ));
    }
    if RELATIONS.contains(&keyword) {
        // `name=:1.0` (makepkg writes it for `$epoch:$pkgver` with no epoch): pacman's vercmp
        // reads an empty epoch as 0.
        let split = value.find(['<', '>', '='])?;
        let (name, rest) = value.split_at(split);
        let operator_end = rest.find(|c| !matches!(c, '<' | '>' | '='))?;
        let (operator, version) = rest.split_at(operator_end);
        let version = version.strip_prefix(':')?;
        return Some((
            Some(format!("{name}{operator}0:{version}")),
            "empty epoch read as 0, as pacman's vercmp reads it",
        ));
    }
    None
}
