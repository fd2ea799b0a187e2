//! `mc-repo sync`: which packages a list file asks for, and the newest version of each.

use std::{cmp::Ordering, collections::BTreeMap};

use minicluster::{record::PackageRecord, vercmp::vercmp};

/// One line of a list file: `name`, or `repo/name` to take the package from that repository only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The repository it must come from, if the line names one.
    pub repo: Option<String>,
    /// The package name.
    pub name: String,
}

/// The names a list file asks for, in file order; blank lines and `#` comments are skipped.
pub fn read_list(text: &str) -> Vec<Wanted> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('/') {
            Some((repo, name)) => Wanted {
                repo: Some(repo.to_owned()),
                name: name.to_owned(),
            },
            None => Wanted {
                repo: None,
                name: line.to_owned(),
            },
        })
        .collect()
}

/// The newest candidate (vercmp order) for each wanted name, by name; names with no candidate
/// are missing from the map.
pub fn newest(
    wanted: &[Wanted],
    candidates: Vec<PackageRecord>,
) -> BTreeMap<String, PackageRecord> {
    let mut chosen: BTreeMap<String, PackageRecord> = BTreeMap::new();
    for candidate in candidates {
        let asked = wanted.iter().any(|want| {
            want.name == candidate.name
                && want
                    .repo
                    .as_ref()
                    .is_none_or(|repo| candidate.repo.as_ref() == Some(repo))
        });
        if !asked {
            continue;
        }
        let newer = chosen.get(&candidate.name).is_none_or(|current| {
            // pacman's order on any version a record holds (alpm-types refuses some pacman compares).
            vercmp(&candidate.version, &current.version) == Ordering::Greater
        });
        if newer {
            chosen.insert(candidate.name.clone(), candidate);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(repo: &str, name: &str, version: &str) -> PackageRecord {
        PackageRecord {
            repo: Some(repo.to_owned()),
            name: name.to_owned(),
            version: version.to_owned(),
            ..PackageRecord::default()
        }
    }

    #[test]
    fn list_files_name_packages_and_repositories() {
        let list = read_list("# mine\nzlib\n\n  core/bash  # the shell\n");
        assert_eq!(
            list,
            [
                Wanted {
                    repo: None,
                    name: "zlib".into()
                },
                Wanted {
                    repo: Some("core".into()),
                    name: "bash".into()
                },
            ]
        );
    }

    #[test]
    fn the_newest_version_wins_epochs_included() {
        let wanted = read_list("zlib\ncore/bash\n");
        let chosen = newest(
            &wanted,
            vec![
                record("core", "zlib", "1.3-2"),
                record("extra", "zlib", "1:1.2-1"),
                record("core", "zlib", "1.10-1"),
                record("extra", "bash", "9.0-1"),
                record("core", "bash", "5.2-1"),
                record("core", "unlisted", "1-1"),
            ],
        );
        assert_eq!(chosen["zlib"].version, "1:1.2-1");
        assert_eq!(
            chosen["bash"].version, "5.2-1",
            "only core's bash was asked for"
        );
        assert!(!chosen.contains_key("unlisted"));
    }

    /// A version alpm-types refuses (a `-` in the pkgver, an empty epoch) is compared as pacman
    /// compares it, not put below every other.
    #[test]
    fn versions_pacman_compares_but_alpm_types_refuses_keep_their_place() {
        let wanted = read_list(
            "stockfish
profiles
",
        );
        let chosen = newest(
            &wanted,
            vec![
                record("core", "stockfish", "20260630-60888387-1"),
                record("core", "stockfish", "20260630-1"),
                record("core", "profiles", "r15.0-1"),
                record("core", "profiles", ":r16.a95ec3a-1"),
            ],
        );
        assert_eq!(chosen["stockfish"].version, "20260630-60888387-1");
        assert_eq!(chosen["profiles"].version, ":r16.a95ec3a-1");
    }
}
