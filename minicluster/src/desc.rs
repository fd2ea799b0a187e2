//! The `desc` and `files` entries of a sync database, read the way pacman reads them.
//!
//! `alpm-repo-db` parses these into strict typed structs, and refuses entries that pacman reads
//! without complaint: 240 of the 3,503 entries of the real 2019 official databases have no
//! `%BASE%` (repo-add left it out when it equalled `%NAME%`), and v1 entries without `%PGPSIG%`
//! occur in personal repositories. Here a `desc` is what pacman's `sync_db_read` makes of it: a
//! list of `%SECTION%` headers, each followed by value lines up to a blank line; unknown sections
//! are kept and ignored, only `%NAME%` and `%VERSION%` are required.

use std::collections::BTreeMap;

use crate::record::PackageRecord;

/// Why a `desc` entry cannot describe a package.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DescError {
    /// A value line stands before any `%SECTION%` header.
    #[error("line {line}: value outside of any %SECTION%")]
    ValueOutsideSection {
        /// 1-based line number.
        line: usize,
    },
    /// A required section is absent or empty.
    #[error("missing %{0}% section")]
    Missing(&'static str),
}

/// The sections of a `desc` (or `files`) entry: section name → value lines.
pub type Sections = BTreeMap<String, Vec<String>>;

/// Splits an entry into its sections.
pub fn sections(text: &str) -> Result<Sections, DescError> {
    let mut sections = Sections::new();
    let mut current: Option<&mut Vec<String>> = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            current = None;
        } else if let Some(name) = section_header(line) {
            current = Some(sections.entry(name.to_owned()).or_default());
        } else if let Some(values) = current.as_mut() {
            values.push(line.to_owned());
        } else {
            return Err(DescError::ValueOutsideSection { line: index + 1 });
        }
    }
    Ok(sections)
}

fn section_header(line: &str) -> Option<&str> {
    let name = line.strip_prefix('%')?.strip_suffix('%')?;
    (!name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    .then_some(name)
}

/// The first value of section `name`, found without splitting the whole entry.
pub fn first_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut lines = text.lines();
    lines.find(|line| line.strip_prefix('%').and_then(|l| l.strip_suffix('%')) == Some(name))?;
    lines
        .next()
        .map(|value| value.trim_end_matches('\r'))
        .filter(|value| !value.is_empty())
}

/// The paths of a `files` entry (its `%FILES%` section).
pub fn files(text: &str) -> Result<Vec<String>, DescError> {
    Ok(sections(text)?.remove("FILES").unwrap_or_default())
}

/// A package record from a `desc` entry of repository `repo`.
pub fn package(repo: &str, text: &str) -> Result<PackageRecord, DescError> {
    let mut sections = sections(text)?;
    let mut take_list = |name: &str| sections.remove(name).unwrap_or_default();
    let name = take_list("NAME").into_iter().next();
    let version = take_list("VERSION").into_iter().next();
    let (name, version) = match (name, version) {
        (Some(name), Some(version)) => (name, version),
        (None, _) => return Err(DescError::Missing("NAME")),
        (_, None) => return Err(DescError::Missing("VERSION")),
    };
    let mut take = |section: &str| sections.remove(section).and_then(|v| v.into_iter().next());
    let record = PackageRecord {
        repo: Some(repo.to_owned()),
        base: take("BASE").or_else(|| Some(name.clone())),
        arch: take("ARCH"),
        filename: take("FILENAME"),
        sha256: take("SHA256SUM").map(|sum| sum.to_ascii_lowercase()),
        csize: number(take("CSIZE")),
        isize: number(take("ISIZE")),
        builddate: number(take("BUILDDATE")),
        packager: take("PACKAGER"),
        desc: take("DESC"),
        url_upstream: take("URL"),
        name,
        version,
        ..PackageRecord::default()
    };
    let mut take_list = |name: &str| sections.remove(name).unwrap_or_default();
    Ok(PackageRecord {
        depends: take_list("DEPENDS"),
        makedepends: take_list("MAKEDEPENDS"),
        checkdepends: take_list("CHECKDEPENDS"),
        optdepends: take_list("OPTDEPENDS"),
        provides: take_list("PROVIDES"),
        conflicts: take_list("CONFLICTS"),
        replaces: take_list("REPLACES"),
        groups: take_list("GROUPS"),
        licenses: take_list("LICENSE"),
        ..record
    })
}

/// A numeric section as pacman reads it: digits, else unknown. pacman does not refuse the
/// entry for such a value: `_alpm_strtoofft` logs it and stores -1 for a size (`pacman -Si`
/// shows "-1.00 B" for `big` or ` 42 `), and a date neither in seconds nor readable is 0.
fn number<T: std::str::FromStr>(value: Option<String>) -> Option<T> {
    value
        .filter(|text| text.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESC: &str = "%FILENAME%\nzlib-1:1.3-1-x86_64.pkg.tar.zst\n\n%NAME%\nzlib\n\n\
        %VERSION%\n1:1.3-1\n\n%CSIZE%\n100\n\n%SHA256SUM%\nABCD\n\n%DEPENDS%\nglibc\nbash>=5\n\n\
        %XDATA%\npkgtype=pkg\n\n";

    #[test]
    fn reads_fields_and_defaults_base_to_name() {
        let package = package("core", DESC).expect("valid desc");
        assert_eq!(package.name, "zlib");
        assert_eq!(package.version, "1:1.3-1");
        assert_eq!(package.base.as_deref(), Some("zlib"));
        assert_eq!(package.csize, Some(100));
        assert_eq!(package.sha256.as_deref(), Some("abcd"));
        assert_eq!(package.depends, ["glibc", "bash>=5"]);
        assert_eq!(
            package.filename.as_deref(),
            Some("zlib-1:1.3-1-x86_64.pkg.tar.zst")
        );
    }

    #[test]
    fn first_values_are_found_directly() {
        assert_eq!(first_value(DESC, "VERSION"), Some("1:1.3-1"));
        assert_eq!(first_value(DESC, "DEPENDS"), Some("glibc"));
        assert_eq!(first_value(DESC, "BASE"), None);
        assert_eq!(first_value("%NAME%\n\n", "NAME"), None);
    }

    #[test]
    fn missing_name_and_stray_values_are_errors() {
        assert_eq!(
            package("core", "%VERSION%\n1-1\n"),
            Err(DescError::Missing("NAME"))
        );
        assert_eq!(
            package("core", "oops\n%NAME%\na\n"),
            Err(DescError::ValueOutsideSection { line: 1 })
        );
    }

    /// pacman reads such an entry: `pacman -Si` shows both sizes as -1 and the date as 1970.
    #[test]
    fn numbers_that_are_not_numbers_are_unknown_not_errors() {
        let text = "%NAME%\na\n\n%VERSION%\n1-1\n\n%CSIZE%\nbig\n\n%ISIZE%\n 42 \n\n\
            %BUILDDATE%\nMon Jan  5 10:00:00 2009\n";
        let package = package("core", text).expect("read");
        assert_eq!(
            (package.csize, package.isize, package.builddate),
            (None, None, None)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let text: String = (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ['%', 'N', 'A', 'M', 'E', '\n', 'x', '1', ':'][(seed % 9) as usize]
                })
                .collect();
            let _ = package("fuzz", &text);
        }
    }
}
