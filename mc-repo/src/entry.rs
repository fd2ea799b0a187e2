//! A repository entry: the `desc` and `files` texts pacman reads for one package.
//!
//! New entries are made from the package file itself (its `.PKGINFO`, size, sha256, payload
//! paths and detached signature), with the ALPM project's `alpm-repo-db` types, so what we write
//! is what the format specification says. Entries already in the repository are kept as the
//! texts they are: adding one package never re-reads the others.

use std::str::FromStr;

use alpm_repo_db::{
    desc::RepoDescFileV2,
    files::{RepoFiles, RepoFilesV1},
};
use alpm_types::Base64OpenPGPSignature;
use minicluster::{desc, package::PackageContents, record::PackageRecord, syncdb};

/// Why a package cannot become a repository entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// A `.PKGINFO` field is missing.
    #[error(".PKGINFO has no {0}")]
    Missing(&'static str),
    /// A field does not have the form the format requires.
    #[error("{field} {value:?}: {reason}")]
    Invalid {
        /// The `.PKGINFO` key.
        field: &'static str,
        /// Its value.
        value: String,
        /// What the ALPM types said.
        reason: String,
    },
    /// An entry already in the database is unreadable.
    #[error("{0}")]
    Existing(String),
}

/// One package of a repository.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Package name.
    pub name: String,
    /// Its full version, `[epoch:]pkgver-pkgrel`.
    pub version: String,
    /// Package file name.
    pub filename: String,
    /// The `desc` text.
    pub desc: String,
    /// The `files` text (`%FILES%` and paths), when known.
    pub files: Option<String>,
}

impl Entry {
    /// The tar folder of the entry, `NAME-VERSION`.
    pub fn folder(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// A new entry for a package file named `filename`, with its detached signature if any.
    pub fn from_package(
        contents: &PackageContents,
        filename: &str,
        signature: Option<&[u8]>,
    ) -> Result<Self, EntryError> {
        let desc = describe(contents, filename, signature)?;
        let mut paths: Vec<&str> = contents.entries.iter().map(|e| e.path.as_str()).collect();
        // As repo-add lists them: `bsdtar -tf | LC_ALL=C sort -u`.
        paths.sort_unstable();
        paths.dedup();
        let files = RepoFilesV1::try_from(
            paths
                .iter()
                .map(std::path::PathBuf::from)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| invalid("files", "", &e))?;
        Ok(Self {
            name: desc.name.to_string(),
            version: desc.version.to_string(),
            filename: filename.to_owned(),
            desc: desc.to_string(),
            files: Some(RepoFiles::V1(files).to_string()),
        })
    }

    /// An entry read back from a sync database.
    ///
    /// Only the name, version and file name are picked out; the texts are kept as they are, so
    /// reopening a large repository costs little more than decompressing it.
    pub fn from_existing(entry: syncdb::Entry) -> Result<Self, EntryError> {
        let unreadable = |what: &str| EntryError::Existing(format!("{}: no {what}", entry.folder));
        let text = entry.desc.ok_or_else(|| unreadable("desc"))?;
        let field = |name: &str| desc::first_value(&text, name).map(str::to_owned);
        Ok(Self {
            name: field("NAME").ok_or_else(|| unreadable("%NAME%"))?,
            version: field("VERSION").ok_or_else(|| unreadable("%VERSION%"))?,
            filename: field("FILENAME").unwrap_or_default(),
            files: entry.files,
            desc: text,
        })
    }

    /// The package record this entry describes, in repository `repo`.
    pub fn record(&self, repo: &str) -> PackageRecord {
        desc::package(repo, &self.desc).unwrap_or_else(|_| PackageRecord {
            repo: Some(repo.to_owned()),
            name: self.name.clone(),
            version: self.version.clone(),
            filename: Some(self.filename.clone()),
            ..PackageRecord::default()
        })
    }
}

fn describe(
    contents: &PackageContents,
    filename: &str,
    signature: Option<&[u8]>,
) -> Result<RepoDescFileV2, EntryError> {
    let required = |key: &'static str| contents.pkginfo(key).ok_or(EntryError::Missing(key));
    let name = required("pkgname")?;
    Ok(RepoDescFileV2 {
        file_name: parse("filename", filename)?,
        name: parse("pkgname", name)?,
        base: parse("pkgbase", contents.pkginfo("pkgbase").unwrap_or(name))?,
        version: parse("pkgver", required("pkgver")?)?,
        description: contents.pkginfo("pkgdesc").unwrap_or_default().into(),
        groups: contents.pkginfo_values("group"),
        compressed_size: contents.csize,
        installed_size: parse("size", contents.pkginfo("size").unwrap_or("0"))?,
        sha256_checksum: parse("sha256", &contents.sha256)?,
        pgp_signature: signature.map(base64_signature).transpose()?,
        url: contents
            .pkginfo("url")
            .filter(|url| !url.is_empty())
            .map(|url| parse("url", url))
            .transpose()?,
        license: parse_all(contents, "license")?,
        arch: parse("arch", required("arch")?)?,
        build_date: parse("builddate", required("builddate")?)?,
        packager: parse("packager", required("packager")?)?,
        replaces: parse_all(contents, "replaces")?,
        conflicts: parse_all(contents, "conflict")?,
        provides: parse_all(contents, "provides")?,
        dependencies: parse_all(contents, "depend")?,
        optional_dependencies: parse_all(contents, "optdepend")?,
        make_dependencies: parse_all(contents, "makedepend")?,
        check_dependencies: parse_all(contents, "checkdepend")?,
    })
}

fn parse<T: FromStr>(field: &'static str, value: &str) -> Result<T, EntryError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| invalid(field, value, &e))
}

fn parse_all<T: FromStr>(
    contents: &PackageContents,
    field: &'static str,
) -> Result<Vec<T>, EntryError>
where
    T::Err: std::fmt::Display,
{
    contents
        .pkginfo_values(field)
        .iter()
        .map(|value| parse(field, value))
        .collect()
}

fn invalid(field: &'static str, value: &str, reason: &dyn std::fmt::Display) -> EntryError {
    EntryError::Invalid {
        field,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

/// A detached signature as `%PGPSIG%` holds it: base64 of the binary `.sig` file.
fn base64_signature(signature: &[u8]) -> Result<Base64OpenPGPSignature, EntryError> {
    use base64::Engine;
    parse(
        "pgpsig",
        &base64::engine::general_purpose::STANDARD.encode(signature),
    )
}
