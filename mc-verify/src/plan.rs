//! What a `.SRCINFO` asks makepkg to fetch for one architecture, read without running anything.
//!
//! The PKGBUILD is bash: sourcing it runs code. `.SRCINFO` is its declarative form, read here with
//! the ALPM project's `alpm-srcinfo` parser.

use std::{collections::BTreeMap, path::Path};

use alpm_types::{Source, SystemArchitecture, url::VcsInfo};
use minicluster::srcinfo::{self, SourceInfoV1};

/// One source to fetch and check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSource {
    /// The file name makepkg gives it (the `name::` prefix, else the URL's or path's last part).
    pub file: String,
    /// The location as written, without `name::`.
    pub location: String,
    /// `local` (shipped beside the PKGBUILD), or the URL's scheme: `http`, `https`, `ftp`,
    /// `file`, or the VCS: `git`, `svn`, `hg`, `bzr`, `fossil`.
    pub kind: String,
    /// Declared checksums by algorithm; `None` for `SKIP`.
    pub expected: BTreeMap<String, Option<String>>,
    /// For a version-control source: the revision its fragment names (`#tag=v1`) and, for git,
    /// whether it must be signed (`?signed`).
    pub vcs: Option<VcsInfo>,
}

impl PlannedSource {
    /// Whether this is a version-control source (`git+https://...`), which has no fixed bytes.
    pub fn is_vcs(&self) -> bool {
        self.vcs.is_some()
    }

    /// Whether this is a git source whose tag or commit must be signed (`?signed`).
    pub fn is_signed_git(&self) -> bool {
        matches!(self.vcs, Some(VcsInfo::Git { signed: true, .. }))
    }

    /// Whether this is a detached signature of another source.
    pub fn is_signature(&self) -> bool {
        [".sig", ".asc", ".sign"]
            .iter()
            .any(|ext| self.file.ends_with(ext))
    }
}

/// The sources of a package base for one architecture, and its trusted signers.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Package base name.
    pub base: String,
    /// Its full version as `.SRCINFO` declares it.
    pub version: String,
    /// Sources, in `.SRCINFO` order: common ones first, then the architecture's.
    pub sources: Vec<PlannedSource>,
    /// `validpgpkeys`: fingerprints (upper-case hex) whose signatures are accepted.
    pub valid_pgp_keys: Vec<String>,
    /// The `install` scriptlet, if one.
    pub install: Option<String>,
}

/// Why a `.SRCINFO` could not be planned.
pub use minicluster::srcinfo::SrcinfoError as PlanError;

/// Reads `folder/.SRCINFO` and plans its sources for `arch`.
pub fn plan(folder: &Path, arch: &SystemArchitecture) -> Result<Plan, PlanError> {
    Ok(from_srcinfo(&srcinfo::read(folder)?, arch))
}

/// Plans a `.SRCINFO` given as text; `name` says where it came from, for errors.
pub fn plan_text(text: &str, name: &str, arch: &SystemArchitecture) -> Result<Plan, PlanError> {
    Ok(from_srcinfo(&srcinfo::parse(text, name)?, arch))
}

fn from_srcinfo(info: &SourceInfoV1, arch: &SystemArchitecture) -> Plan {
    let base = &info.base;
    let mut sources = merge(
        &base.sources,
        [
            ("md5", strings(&base.md5_checksums)),
            ("sha1", strings(&base.sha1_checksums)),
            ("sha224", strings(&base.sha224_checksums)),
            ("sha256", strings(&base.sha256_checksums)),
            ("sha384", strings(&base.sha384_checksums)),
            ("sha512", strings(&base.sha512_checksums)),
            ("b2", strings(&base.b2_checksums)),
        ],
    );
    if let Some(specific) = base.architecture_properties.get(arch) {
        sources.extend(merge(
            &specific.sources,
            [
                ("md5", strings(&specific.md5_checksums)),
                ("sha1", strings(&specific.sha1_checksums)),
                ("sha224", strings(&specific.sha224_checksums)),
                ("sha256", strings(&specific.sha256_checksums)),
                ("sha384", strings(&specific.sha384_checksums)),
                ("sha512", strings(&specific.sha512_checksums)),
                ("b2", strings(&specific.b2_checksums)),
            ],
        ));
    }
    Plan {
        base: base.name.to_string(),
        version: base.version.to_string(),
        sources,
        valid_pgp_keys: base
            .pgp_fingerprints
            .iter()
            .map(|key| key.to_string().to_ascii_uppercase())
            .collect(),
        install: base.install.as_ref().map(|path| path.to_string()),
    }
}

/// Checksums as text: `None` for `SKIP`.
fn strings<T: std::fmt::Display>(checksums: &[T]) -> Vec<Option<String>> {
    checksums
        .iter()
        .map(|sum| Some(sum.to_string().to_ascii_lowercase()).filter(|sum| sum != "skip"))
        .collect()
}

fn merge<const N: usize>(
    sources: &[Source],
    sums: [(&str, Vec<Option<String>>); N],
) -> Vec<PlannedSource> {
    sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            let expected = sums
                .iter()
                .filter_map(|(algorithm, list)| {
                    Some(((*algorithm).to_owned(), list.get(index)?.clone()))
                })
                .collect();
            describe(source, expected)
        })
        .collect()
}

fn describe(source: &Source, expected: BTreeMap<String, Option<String>>) -> PlannedSource {
    let (location, kind, vcs) = match source {
        Source::File { location, .. } => (location.display().to_string(), "local".to_owned(), None),
        Source::SourceUrl { source_url, .. } => {
            let url: &url::Url = source_url.url.as_ref();
            let kind = match &source_url.vcs_info {
                Some(VcsInfo::Bzr { .. }) => "bzr",
                Some(VcsInfo::Fossil { .. }) => "fossil",
                Some(VcsInfo::Git { .. }) => "git",
                Some(VcsInfo::Hg { .. }) => "hg",
                Some(VcsInfo::Svn { .. }) => "svn",
                None => url.scheme(),
            };
            (
                url.to_string(),
                kind.to_owned(),
                source_url.vcs_info.clone(),
            )
        }
    };
    let file = source.filename().map_or_else(
        || file_name(&location, vcs.is_some()),
        |name| name.display().to_string(),
    );
    PlannedSource {
        file,
        location,
        kind,
        expected,
        vcs,
    }
}

/// The file name makepkg gives a source without `name::` (`get_filename`): everything after the
/// last `/`, query and fragment included (`download?id=1`; a query such as `?f=/..` can make it
/// `..` or empty, which [`crate::cache::plain_name`] then refuses); for VCS sources the last path
/// part without fragment, query and `.git` suffix.
fn file_name(location: &str, vcs: bool) -> String {
    if !vcs {
        return location.rsplit('/').next().unwrap_or_default().to_owned();
    }
    let name = location.split(['#', '?']).next().unwrap_or_default();
    let name = name
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    name.strip_suffix(".git").unwrap_or(name).to_owned()
}

#[cfg(test)]
mod tests {
    use alpm_types::url::GitFragment;

    use super::*;

    #[test]
    fn git_sources_keep_their_fragment_and_signed_query() {
        let text = "pkgbase = app\n\tpkgver = 1.0\n\tpkgrel = 1\n\tarch = x86_64\n\
                    \tsource = src::git+https://example.org/app.git#tag=v1?signed\n\
                    \tsource = git+https://example.org/lib.git\n\
                    \tsha256sums = SKIP\n\tsha256sums = SKIP\n\npkgname = app\n";
        let plan = plan_text(text, "test", &SystemArchitecture::X86_64).expect("plan");
        let [tagged, floating] = plan.sources.as_slice() else {
            panic!("{:?}", plan.sources);
        };
        assert_eq!(
            (
                tagged.file.as_str(),
                tagged.location.as_str(),
                tagged.kind.as_str()
            ),
            ("src", "https://example.org/app.git", "git")
        );
        assert_eq!(
            tagged.vcs,
            Some(VcsInfo::Git {
                fragment: Some(GitFragment::Tag("v1".to_owned())),
                signed: true
            })
        );
        assert!(tagged.is_signed_git() && !floating.is_signed_git());
        // As makepkg's get_filename names them.
        assert_eq!(file_name("https://x.org/get?id=1", false), "get?id=1");
        assert_eq!(file_name("https://x.org/get?f=/..", false), "..");
        assert_eq!(file_name("https://x.org/dir/", false), "");
        assert_eq!(floating.file, "lib");
        assert_eq!(
            floating.vcs,
            Some(VcsInfo::Git {
                fragment: None,
                signed: false
            })
        );
    }
}
