//! What a package base needs and offers, read from its `.SRCINFO` without running the PKGBUILD.

use std::{collections::BTreeSet, path::Path};

use alpm_srcinfo::SourceInfoV1;
use alpm_types::SystemArchitecture;

/// One package of a base: its name, what it provides and what it needs at run time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Names it provides, version constraints stripped.
    pub provides: Vec<String>,
    /// Run-time dependencies, version constraints stripped.
    pub depends: Vec<String>,
}

/// A package base as the build order sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Base {
    /// Package base name.
    pub name: String,
    /// Full version: `[epoch:]pkgver-pkgrel`.
    pub version: String,
    /// Its packages (several for a split package).
    pub packages: Vec<Package>,
    /// Every name it needs to build: depends, makedepends and checkdepends of all its packages,
    /// constraints stripped, without the names it makes itself.
    pub needs: BTreeSet<String>,
}

/// Why a `.SRCINFO` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SrcinfoError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid `.SRCINFO`.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
}

/// Reads `folder/.SRCINFO` for `arch`.
pub fn read(folder: &Path, arch: SystemArchitecture) -> Result<Base, SrcinfoError> {
    let path = folder.join(".SRCINFO");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| SrcinfoError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown, arch)
}

/// Reads a `.SRCINFO` given as text; `name` says where it came from, for errors.
pub fn parse(text: &str, name: &str, arch: SystemArchitecture) -> Result<Base, SrcinfoError> {
    let info = SourceInfoV1::from_string(text).map_err(|e| SrcinfoError::Parse {
        path: name.to_owned(),
        message: e.to_string(),
    })?;
    let mut needs = BTreeSet::new();
    let mut packages = Vec::new();
    for merged in info.packages_for_architecture(arch) {
        needs.extend(merged.dependencies.iter().map(strip));
        needs.extend(merged.make_dependencies.iter().map(strip));
        needs.extend(merged.check_dependencies.iter().map(strip));
        packages.push(Package {
            name: merged.name.to_string(),
            provides: merged.provides.iter().map(strip).collect(),
            depends: merged.dependencies.iter().map(strip).collect(),
        });
    }
    for package in &packages {
        needs.remove(&package.name);
        for provided in &package.provides {
            needs.remove(provided);
        }
    }
    Ok(Base {
        name: info.base.name.to_string(),
        version: info.base.version.to_string(),
        packages,
        needs,
    })
}

/// A relation's name without its version constraint (`foo>=1.2` → `foo`).
pub fn strip(relation: &impl ToString) -> String {
    let text = relation.to_string();
    let end = text.find(['<', '>', '=']).unwrap_or(text.len());
    text[..end].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_packages_merge_their_needs_and_offers() {
        let text = "pkgbase = pair\n\tpkgver = 1.0\n\tpkgrel = 2\n\tarch = any\n\
                    \tmakedepends = tool>=3\n\tcheckdepends = tester\n\tdepends = pair-common\n\n\
                    pkgname = pair-common\n\tdepends = libc\n\tprovides = pair-data=1.0\n\n\
                    pkgname = pair-bin\n\tdepends = pair-common=1.0-2\n";
        let base = parse(text, "test", SystemArchitecture::X86_64).expect("valid");
        assert_eq!(
            (base.name.as_str(), base.version.as_str()),
            ("pair", "1.0-2")
        );
        let names: Vec<&str> = base.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["pair-common", "pair-bin"]);
        assert_eq!(base.packages[0].provides, ["pair-data"]);
        assert_eq!(
            base.needs.iter().map(String::as_str).collect::<Vec<_>>(),
            ["libc", "tester", "tool"]
        );
    }
}
