//! `.PKGINFO` judged the way repo-add and pacman judge it, not the way the specification does.
//!
//! The ALPM project's types (alpm-types) are the specification: `packager` must be
//! `Name <email>`, `url` a URL, every relation `name[<op>version]`. repo-add checks none of it; it
//! refuses a package only when `pkgname` or `pkgver` is missing. makepkg itself writes values the
//! types refuse: without `PACKAGER` in makepkg.conf every package says
//! `packager = Unknown Packager`. Tools that take packages in therefore keep every value as it is
//! written, refuse only what would break pacman ([`required`]), and report what the
//! specification would not accept as warnings ([`unusual`]).
//!
//! What pacman 6.0.2 refuses was tried here: it installs packages whose name holds `@` or `+`,
//! whose `url` is not a URL, whose `builddate` and `size` are words and whose relations are free
//! text; it refuses a database entry whose folder `NAME-VERSION` does not split back into the
//! name and a version of exactly one `-` (`pkgver` without `-pkgrel`: "invalid name for database
//! entry"; `1-2-3`: "database is inconsistent: name mismatch").

use std::{fmt::Display, str::FromStr};

use alpm_types::{
    Architecture, FullVersion, Name, OptionalDependency, PackageRelation, Packager,
    RelationOrSoname, Url,
};

use crate::{
    keyvalue,
    record::{FindingRecord, Severity},
};

/// The check name of the warning findings [`Unusual::finding`] makes.
pub const CHECK: &str = "pkginfo-nonstandard";

/// Why a package cannot go into a repository pacman reads.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PkginfoError {
    /// `pkgname` or `pkgver` is missing or empty (repo-add: "Invalid package file").
    #[error(".PKGINFO has no {0}")]
    Missing(&'static str),
    /// The version does not have the `[epoch:]pkgver-pkgrel` shape pacman splits entries by.
    #[error(
        "pkgver {0:?} is not [epoch:]pkgver-pkgrel with exactly one '-': pacman cannot read its database entry"
    )]
    Version(String),
    /// A name or version holds a `/`: the database entry's folder would not be one folder.
    #[error("{field} {value:?} holds a '/'")]
    Slash {
        /// The `.PKGINFO` key.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// The name and full version of a package, when pacman can read an entry made of them.
pub fn required(pkginfo: &[(String, String)]) -> Result<(&str, &str), PkginfoError> {
    let value = |key: &'static str| {
        keyvalue::last(pkginfo, key)
            .filter(|value| !value.is_empty())
            .ok_or(PkginfoError::Missing(key))
    };
    let (name, version) = (value("pkgname")?, value("pkgver")?);
    for (field, value) in [("pkgname", name), ("pkgver", version)] {
        if value.contains('/') {
            return Err(PkginfoError::Slash {
                field,
                value: value.to_owned(),
            });
        }
    }
    let pkgrel = version.split_once('-').map(|(_, pkgrel)| pkgrel);
    if pkgrel.is_none_or(|pkgrel| pkgrel.contains('-')) {
        return Err(PkginfoError::Version(version.to_owned()));
    }
    Ok((name, version))
}

/// A `.PKGINFO` value pacman accepts but the specification does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unusual {
    /// The `.PKGINFO` key.
    pub field: String,
    /// The value, as written.
    pub value: String,
    /// What the specification's parser said.
    pub reason: String,
}

impl Unusual {
    /// A `warning` finding about package `name` `version` (of base `base`), the file `path`.
    pub fn finding(&self, base: &str, name: &str, version: &str, path: &str) -> FindingRecord {
        FindingRecord {
            base: base.to_owned(),
            check: CHECK.to_owned(),
            severity: Severity::Warning,
            message: self.to_string(),
            subject: Some(self.field.clone()),
            package: Some(name.to_owned()),
            version: Some(version.to_owned()),
            path: Some(path.to_owned()),
            member: Some(".PKGINFO".to_owned()),
            engine: None,
        }
    }
}

impl Display for Unusual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hint = if self.field == "packager" && self.value == "Unknown Packager" {
            " (makepkg's default when makepkg.conf sets no PACKAGER)"
        } else {
            ""
        };
        write!(
            f,
            "{} {:?} is not what the package format specifies{hint}; pacman and repo-add \
             accept it and it is kept as written: {}",
            self.field, self.value, self.reason
        )
    }
}

/// Every value of `pkginfo` the specification would refuse, in file order.
pub fn unusual(pkginfo: &[(String, String)]) -> Vec<Unusual> {
    pkginfo
        .iter()
        .filter_map(|(key, value)| {
            let reason = match key.as_str() {
                "pkgname" | "pkgbase" => refusal::<Name>(value),
                "pkgver" => refusal::<FullVersion>(value),
                "packager" => refusal::<Packager>(value),
                "url" if !value.is_empty() => refusal::<Url>(value),
                "arch" => refusal::<Architecture>(value),
                "builddate" => refusal::<i64>(value),
                "size" => refusal::<u64>(value),
                "depend" | "provides" => refusal::<RelationOrSoname>(value),
                "makedepend" | "checkdepend" | "conflict" | "replaces" => {
                    refusal::<PackageRelation>(value)
                }
                "optdepend" => refusal::<OptionalDependency>(value),
                _ => None,
            }?;
            Some(Unusual {
                field: key.clone(),
                value: value.clone(),
                reason,
            })
        })
        .collect()
}

/// What the parser of `T` says about `value`, when it refuses it, on one line: the parsers
/// draw the value with a caret under the fault, which a finding's message cannot show, so the
/// words beside the caret are kept.
fn refusal<T: FromStr>(value: &str) -> Option<String>
where
    T::Err: Display,
{
    let error = value.parse::<T>().err()?.to_string();
    let headline = error
        .lines()
        .find_map(|line| line.trim().strip_prefix("error:"))
        .or_else(|| error.lines().next())
        .unwrap_or_default()
        .trim();
    let at_caret = error
        .lines()
        .find_map(|line| line.split_once("^ ").map(|(_, words)| words.trim()));
    Some(match at_caret {
        Some(words) if words != headline => format!("{headline}: {words}"),
        _ => headline.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        keyvalue::parse(text)
    }

    #[test]
    fn makepkgs_defaults_are_accepted_with_a_warning() {
        let pkginfo = pairs(
            "pkgname = hello\npkgbase = hello\npkgver = 1.0-1\nurl = \n\
             packager = Unknown Packager\narch = any\nsize = 3\nbuilddate = 1796240643\n",
        );
        assert_eq!(required(&pkginfo), Ok(("hello", "1.0-1")));
        let warnings = unusual(&pkginfo);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].field, "packager");
        let message = warnings[0].to_string();
        assert!(message.contains("makepkg's default"), "{message}");
        assert!(message.contains("'<'"), "{message}");
    }

    #[test]
    fn what_pacman_installs_is_only_unusual() {
        let pkginfo = pairs(
            "pkgname = Weird@Name+x\npkgver = a.b_c-x\nurl = not a url\nbuilddate = tomorrow\n\
             size = huge\ndepend = foo bar\noptdepend = baz:no space\nprovides = =:r16\n",
        );
        assert_eq!(required(&pkginfo), Ok(("Weird@Name+x", "a.b_c-x")));
        let fields: Vec<String> = unusual(&pkginfo).into_iter().map(|u| u.field).collect();
        assert!(
            ["url", "builddate", "size"]
                .iter()
                .all(|f| fields.iter().any(|x| x == f)),
            "{fields:?}"
        );
    }

    #[test]
    fn what_breaks_pacman_is_refused() {
        for (text, error) in [
            ("pkgver = 1-1\n", PkginfoError::Missing("pkgname")),
            ("pkgname = a\npkgver = \n", PkginfoError::Missing("pkgver")),
            (
                "pkgname = a\npkgver = 1.0\n",
                PkginfoError::Version("1.0".into()),
            ),
            (
                "pkgname = a\npkgver = 1-2-3\n",
                PkginfoError::Version("1-2-3".into()),
            ),
            (
                "pkgname = a/b\npkgver = 1-1\n",
                PkginfoError::Slash {
                    field: "pkgname",
                    value: "a/b".into(),
                },
            ),
        ] {
            assert_eq!(required(&pairs(text)), Err(error), "{text}");
        }
    }

    #[test]
    fn a_key_given_twice_means_its_last_value_as_in_repo_add() {
        let pkginfo = pairs("pkgname = first\npkgname = second\npkgver = 1-1\n");
        assert_eq!(required(&pkginfo), Ok(("second", "1-1")));
    }
}
