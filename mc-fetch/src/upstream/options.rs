//! nvchecker's common options, applied to what a source found: `include_regex`,
//! `exclude_regex` and `ignored` filter a list, `sort_version_key` picks its highest, then
//! `prefix` is cut and `from_pattern`/`to_pattern` rewrite the version.

use super::{
    config::Entry,
    source::{Found, Release, SourceError},
    version::{self, SortKey},
};

/// The release an entry's options choose, or `None` when nothing is left.
pub fn choose(entry: &Entry, found: Found) -> Result<Option<Release>, SourceError> {
    let release = match found {
        Found::One(release) => Some(release),
        Found::Many(releases) => pick(entry, releases)?,
    };
    release
        .map(|mut release| {
            release.version = substitute(entry, &release.version)?;
            Ok(release)
        })
        .transpose()
}

fn pick(entry: &Entry, mut releases: Vec<Release>) -> Result<Option<Release>, SourceError> {
    if let Some(pattern) = entry.str("include_regex") {
        let regex = full_match(pattern)?;
        releases.retain(|release| regex.is_match(&release.version));
    }
    if let Some(pattern) = entry.str("exclude_regex") {
        let regex = full_match(pattern)?;
        releases.retain(|release| !regex.is_match(&release.version));
    }
    if let Some(ignored) = entry.str("ignored") {
        let ignored: Vec<&str> = ignored.split_whitespace().collect();
        releases.retain(|release| !ignored.contains(&release.version.as_str()));
    }
    let key = match entry.str("sort_version_key") {
        None => SortKey::default(),
        Some(name) => SortKey::from_name(name).ok_or_else(|| {
            SourceError::Config(format!("sort_version_key {name:?} is not supported"))
        })?,
    };
    let versions: Vec<String> = releases.iter().map(|r| r.version.clone()).collect();
    let Some(best) = version::highest(&versions, key) else {
        return Ok(None);
    };
    let index = versions
        .iter()
        .rposition(|v| std::ptr::eq(v, best))
        .unwrap_or(0);
    Ok(Some(releases.swap_remove(index)))
}

/// A pattern that must match the whole version, as Python's `re.fullmatch`.
fn full_match(pattern: &str) -> Result<regex::Regex, SourceError> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| SourceError::Config(format!("bad regex {pattern:?}: {e}")))
}

/// `prefix` cut from the front, then `from_pattern` replaced by `to_pattern` everywhere.
fn substitute(entry: &Entry, version: &str) -> Result<String, SourceError> {
    let mut version = match entry.str("prefix") {
        Some(prefix) => version.strip_prefix(prefix).unwrap_or(version).to_owned(),
        None => version.to_owned(),
    };
    if let Some(pattern) = entry.str("from_pattern") {
        let to = entry
            .str("to_pattern")
            .ok_or_else(|| SourceError::Config("from_pattern without to_pattern".to_owned()))?;
        let regex = regex::Regex::new(pattern)
            .map_err(|e| SourceError::Config(format!("bad regex {pattern:?}: {e}")))?;
        version = regex
            .replace_all(&version, python_replacement(to))
            .into_owned();
    }
    Ok(version)
}

/// Python's `\1` group references in a replacement, as Rust's regex writes them (`${1}`).
fn python_replacement(to: &str) -> String {
    let mut out = String::new();
    let mut chars = to.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut group = String::new();
                while let Some(digit) = chars.peek().copied().filter(char::is_ascii_digit) {
                    group.push(digit);
                    chars.next();
                }
                out.push_str(&format!("${{{group}}}"));
            }
            '\\' if chars.peek() == Some(&'\\') => {
                chars.next();
                out.push('\\');
            }
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(options: serde_json::Value) -> Entry {
        Entry {
            name: "x".to_owned(),
            config: "x.toml".into(),
            role: None,
            options: options.as_object().cloned().unwrap_or_default().into(),
        }
    }

    fn tags(names: &[&str]) -> Found {
        Found::Many(names.iter().map(|n| Release::plain(*n)).collect())
    }

    #[test]
    fn linux_arch_tags() {
        // The chaotic-aur linux entry: include_regex, then prefix, then from/to_pattern.
        let entry = entry(json!({
            "include_regex": r"v\d+(\.\d+)*-arch\d+",
            "from_pattern": "-([a-z])", "to_pattern": r".\1", "prefix": "v"
        }));
        let found = tags(&["v6.1-arch1", "v6.10.2-arch1", "v6.9-arch2", "v6.11-rc1"]);
        let chosen = choose(&entry, found).expect("valid").expect("some");
        assert_eq!(chosen.version, "6.10.2.arch1");
    }

    #[test]
    fn ignored_and_exclude() {
        let entry = entry(json!({"ignored": "2.0 1.9", "exclude_regex": ".*rc.*"}));
        let chosen = choose(&entry, tags(&["1.8", "1.9", "2.0", "2.1rc1"])).expect("ok");
        assert_eq!(chosen.map(|r| r.version).as_deref(), Some("1.8"));
        let none = choose(&entry, tags(&["2.0"])).expect("ok");
        assert_eq!(none, None);
    }
}
