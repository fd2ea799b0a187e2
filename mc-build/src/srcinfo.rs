//! What a package base needs and offers, read from its `.SRCINFO` without running the PKGBUILD.

use std::{collections::BTreeSet, path::Path};

use alpm_types::SystemArchitecture;
pub use minicluster::srcinfo::SrcinfoError;
use minicluster::srcinfo::{self, SourceInfoV1};

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

/// Reads `folder/.SRCINFO` for `arch`.
pub fn read(folder: &Path, arch: SystemArchitecture) -> Result<Base, SrcinfoError> {
    Ok(describe(&srcinfo::read(folder)?, arch))
}

/// Reads a `.SRCINFO` given as text; `name` says where it came from, for errors.
pub fn parse(text: &str, name: &str, arch: SystemArchitecture) -> Result<Base, SrcinfoError> {
    Ok(describe(&srcinfo::parse(text, name)?, arch))
}

fn describe(info: &SourceInfoV1, arch: SystemArchitecture) -> Base {
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
    Base {
        name: info.base.name.to_string(),
        version: info.base.version.to_string(),
        packages,
        needs,
    }
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
