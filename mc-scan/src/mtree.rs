//! The `.MTREE` makepkg writes: what every member should be, to compare with what it is.
//!
//! bsdtar's mtree dialect as makepkg asks for it: `/set` and `/unset` lines carry defaults,
//! entry lines are `./PATH key=value...`, paths escape unusual bytes as `\ooo` (octal). Only
//! the keys the comparison needs are kept: type, mode, size, sha256digest and link.
//! [`differences`] says how a member disagrees with its entry.

use std::{collections::BTreeMap, io::Read};

use minicluster::{
    compress,
    package::{EntryKind, Member},
};

/// The largest `.MTREE` read (decompressed); makepkg's are a few MB for the largest packages.
const MAX_MTREE_BYTES: u64 = 256 << 20;

/// What `.MTREE` says about one path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// `file`, `dir`, `link`.
    pub kind: String,
    /// Permission bits.
    pub mode: Option<u32>,
    /// Size in bytes (files).
    pub size: Option<u64>,
    /// SHA-256 of the content (files), lower-case hex.
    pub sha256: Option<String>,
    /// Target of a link.
    pub link: Option<String>,
}

/// Every path `.MTREE` lists, without `./` and without a trailing `/`.
pub fn parse(text: &str) -> BTreeMap<String, Expected> {
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();
    let mut entries = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_ascii_whitespace();
        let Some(first) = words.next() else { continue };
        match first {
            _ if first.starts_with('#') => {}
            "/set" => {
                for (key, value) in words.filter_map(|w| w.split_once('=')) {
                    defaults.insert(key.to_owned(), value.to_owned());
                }
            }
            "/unset" => {
                for key in words {
                    defaults.remove(key);
                }
            }
            path => {
                let mut keys = defaults.clone();
                for (key, value) in words.filter_map(|w| w.split_once('=')) {
                    keys.insert(key.to_owned(), value.to_owned());
                }
                let path = unescape(path.strip_prefix("./").unwrap_or(path));
                let get = |key: &str| keys.get(key).cloned();
                entries.insert(
                    path.trim_end_matches('/').to_owned(),
                    Expected {
                        kind: get("type").unwrap_or_else(|| "file".to_owned()),
                        mode: get("mode").and_then(|m| u32::from_str_radix(&m, 8).ok()),
                        size: get("size").and_then(|s| s.parse().ok()),
                        sha256: get("sha256digest").map(|s| s.to_ascii_lowercase()),
                        link: get("link").map(|l| unescape(&l)),
                    },
                );
            }
        }
    }
    entries
}

/// `\040` and friends back to bytes.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The entries of a `.MTREE` member as it is in the package (gzip-compressed).
pub fn read(data: &[u8]) -> std::io::Result<BTreeMap<String, Expected>> {
    let mut text = String::new();
    compress::decompress(data)?
        .take(MAX_MTREE_BYTES)
        .read_to_string(&mut text)?;
    Ok(parse(&text))
}

/// How `member` differs from what `.MTREE` says, if it does.
pub fn differences(expected: &Expected, member: &Member, sha256: Option<&str>) -> Option<String> {
    let kind = match member.kind {
        EntryKind::File | EntryKind::Hardlink => "file",
        EntryKind::Dir => "dir",
        EntryKind::Link => "link",
        EntryKind::Other => return None,
    };
    let mut problems = Vec::new();
    if expected.kind != kind {
        problems.push(format!("type {kind}, .MTREE says {}", expected.kind));
    }
    if let Some(mode) = expected
        .mode
        .filter(|&m| kind != "link" && m != member.mode)
    {
        problems.push(format!("mode {:o}, .MTREE says {mode:o}", member.mode));
    }
    if member.kind == EntryKind::File {
        if let Some(size) = expected.size.filter(|&s| s != member.size) {
            problems.push(format!("size {}, .MTREE says {size}", member.size));
        }
        if let (Some(want), Some(have)) = (expected.sha256.as_deref(), sha256)
            && want != have
        {
            problems.push(format!("sha256 {have}, .MTREE says {want}"));
        }
    }
    if kind == "link" && expected.link.is_some() && expected.link != member.link_target {
        problems.push(format!(
            "link to {:?}, .MTREE says {:?}",
            member.link_target.as_deref().unwrap_or_default(),
            expected.link.as_deref().unwrap_or_default()
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_entries_combine() {
        let text = "#mtree\n/set type=file uid=0 gid=0 mode=644\n\
                    ./.PKGINFO time=1.0 size=10 sha256digest=AB\n\
                    ./usr time=1.0 mode=755 type=dir\n\
                    ./usr/bin/a\\040b time=1.0 mode=4755 size=3 sha256digest=cd\n\
                    ./usr/bin/l time=1.0 mode=777 type=link link=a\\040b\n";
        let entries = parse(text);
        assert_eq!(entries[".PKGINFO"].sha256.as_deref(), Some("ab"));
        assert_eq!(entries[".PKGINFO"].mode, Some(0o644));
        assert_eq!(entries["usr"].kind, "dir");
        assert_eq!(entries["usr/bin/a b"].mode, Some(0o4755));
        assert_eq!(entries["usr/bin/a b"].size, Some(3));
        assert_eq!(entries["usr/bin/l"].link.as_deref(), Some("a b"));
    }
}
