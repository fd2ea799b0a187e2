//! From package names to package bases through `info`, and with dependencies: the AUR packages
//! that the named ones need to build, recursively, minus what official repositories provide.

use std::collections::{HashMap, HashSet};

use minicluster::record::{AurPackageRecord, ErrorRecord, PackageRecord};

use crate::{
    TOOL,
    aur::{self, Aur, RpcError},
};

/// The most names one resolution asks for: far more than any real dependency tree, and a
/// stop for an RPC server that invents new dependencies forever.
const MAX_NAMES: usize = 10_000;

/// Names that official repositories provide: package names and their `provides`, read from
/// `package` records (`mc-fetch repo`).
#[derive(Debug, Default)]
pub struct Official {
    names: HashSet<String>,
}

impl Official {
    /// Adds a package's name and what it provides.
    pub fn add(&mut self, package: &PackageRecord) {
        self.names.insert(package.name.clone());
        let provides = package.provides.iter().map(|p| relation_name(p));
        self.names.extend(provides.map(str::to_owned));
    }

    /// Whether no package was added.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether an official package provides `name`.
    pub fn provides(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// The name a relation is about: `python>=3.11` → `python`, `libfoo.so=1-64` → `libfoo.so`.
pub fn relation_name(relation: &str) -> &str {
    relation
        .split(['<', '>', '=', ':'])
        .next()
        .unwrap_or_default()
        .trim()
}

/// Something a resolution could not settle; each becomes an error record.
#[derive(Debug)]
pub enum Problem {
    /// An `info` request failed.
    Rpc {
        /// The names it asked for.
        names: Vec<String>,
        /// Why it failed.
        error: RpcError,
    },
    /// A name that was asked for is not in the AUR.
    NotFound(String),
    /// A dependency is not in the AUR, no official package provides it, and no AUR package
    /// found provides it either.
    Unresolved {
        /// The dependency's name.
        name: String,
        /// The package that needs it.
        required_by: String,
    },
    /// The dependencies went on past [`MAX_NAMES`] names.
    TooManyNames,
}

impl Problem {
    /// The error record that reports it.
    pub fn record(&self) -> ErrorRecord {
        let (kind, subject) = match self {
            Self::Rpc { names, error } => {
                (aur::error_kind(error), serde_json::json!({"names": names}))
            }
            Self::NotFound(name) => ("not_found", serde_json::json!({"name": name})),
            Self::Unresolved { name, required_by } => (
                "unresolved_dependency",
                serde_json::json!({"name": name, "required_by": required_by}),
            ),
            Self::TooManyNames => ("too_many_dependencies", serde_json::Value::Null),
        };
        ErrorRecord::new(TOOL, kind, self.to_string(), subject)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rpc { error, .. } => write!(f, "{}", aur::describe(error)),
            Self::NotFound(name) => write!(f, "{name} is not in the AUR"),
            Self::Unresolved { name, required_by } => write!(
                f,
                "{required_by} needs {name}, which neither the AUR nor the official packages given \
                 on stdin provide"
            ),
            Self::TooManyNames => write!(f, "stopped after {MAX_NAMES} names"),
        }
    }
}

/// What a resolution found.
#[derive(Debug, Default)]
pub struct Resolution {
    /// The AUR packages found: those named first, then their dependencies, level by level.
    pub packages: Vec<AurPackageRecord>,
    /// What could not be settled.
    pub problems: Vec<Problem>,
}

impl Resolution {
    /// The first package found of each package base, each base once, in order. What the RPC
    /// says of a base (maintainer, submitter, last change) is the same for all its packages.
    pub fn base_packages(&self) -> Vec<&AurPackageRecord> {
        let mut seen = HashSet::new();
        self.packages
            .iter()
            .filter(|package| seen.insert(package.base.as_str()))
            .collect()
    }

    /// The package bases of the packages found, each once, in order.
    pub fn bases(&self) -> Vec<&str> {
        let packages = self.base_packages().into_iter();
        packages.map(|package| package.base.as_str()).collect()
    }
}

/// Looks `names` up; with `official`, also the AUR packages their `depends`, `makedepends` and
/// `checkdepends` name (versions stripped) unless an official package provides them, recursively.
/// Every name is asked for once, so dependency cycles end.
pub fn resolve(aur: &Aur, names: &[String], official: Option<&Official>) -> Resolution {
    let mut resolution = Resolution::default();
    let mut asked: HashSet<String> = HashSet::new();
    let mut missing_dependencies = Vec::new();
    let mut wanted: Vec<(String, Option<String>)> =
        names.iter().map(|name| (name.clone(), None)).collect();
    while !wanted.is_empty() {
        wanted.retain(|(name, _)| asked.insert(name.clone()));
        if asked.len() > MAX_NAMES {
            resolution.problems.push(Problem::TooManyNames);
            break;
        }
        let level = std::mem::take(&mut wanted);
        let required_by: HashMap<&str, &str> = level
            .iter()
            .filter_map(|(name, parent)| Some((name.as_str(), parent.as_deref()?)))
            .collect();
        let names: Vec<String> = level.iter().map(|(name, _)| name.clone()).collect();
        for batch in aur.info(&names) {
            for name in batch.missing() {
                match required_by.get(name) {
                    None => resolution.problems.push(Problem::NotFound(name.to_owned())),
                    Some(parent) => {
                        missing_dependencies.push((name.to_owned(), (*parent).to_owned()));
                    }
                }
            }
            let packages = match batch.result {
                Ok(packages) => packages,
                Err(error) => {
                    let names = batch.names;
                    resolution.problems.push(Problem::Rpc { names, error });
                    continue;
                }
            };
            for package in packages {
                if let Some(official) = official {
                    let needs = package
                        .depends
                        .iter()
                        .chain(&package.makedepends)
                        .chain(&package.checkdepends)
                        .map(|relation| relation_name(relation))
                        .filter(|name| !name.is_empty() && !official.provides(name));
                    let needs = needs.filter(|name| !asked.contains(*name));
                    wanted.extend(needs.map(|name| (name.to_owned(), Some(package.name.clone()))));
                }
                resolution.packages.push(package);
            }
        }
    }
    let found: HashSet<&str> = resolution
        .packages
        .iter()
        .flat_map(|p| {
            std::iter::once(p.name.as_str()).chain(p.provides.iter().map(|r| relation_name(r)))
        })
        .collect();
    let unresolved = missing_dependencies
        .into_iter()
        .filter(|(name, _)| !found.contains(name.as_str()))
        .map(|(name, required_by)| Problem::Unresolved { name, required_by })
        .collect::<Vec<_>>();
    resolution.problems.extend(unresolved);
    resolution
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_names_lose_versions_and_reasons() {
        for (relation, name) in [
            ("python>=3.11", "python"),
            ("glibc", "glibc"),
            ("libfoo.so=1-64", "libfoo.so"),
            ("qt6-base<7", "qt6-base"),
            ("bash: for scripts", "bash"),
            ("", ""),
        ] {
            assert_eq!(relation_name(relation), name);
        }
    }

    #[test]
    fn official_packages_provide_their_names_and_provides() {
        let mut official = Official::default();
        official.add(&PackageRecord {
            name: "bash".into(),
            provides: vec!["sh=5.2".into()],
            ..PackageRecord::default()
        });
        assert!(official.provides("bash") && official.provides("sh"));
        assert!(!official.provides("zsh"));
    }
}
