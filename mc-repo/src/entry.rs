//! A repository entry: the `desc` and `files` texts pacman reads for one package.
//!
//! New entries are made from the package file itself (its `.PKGINFO`, size, sha256, payload
//! paths and detached signature) the way repo-add makes them: every value as the package
//! writes it, in repo-add's order of sections. The ALPM project's types would refuse packages
//! that repo-add and pacman take (makepkg's own default `packager = Unknown Packager`, for one):
//! [`minicluster::pkginfo`] refuses only what pacman cannot read and reports the rest as
//! [`minicluster::pkginfo::Unusual`]. Entries already in the repository are kept as the texts
//! they are: adding one package never re-reads the others.

use minicluster::{
    desc,
    package::PackageContents,
    pkginfo::{self, PkginfoError},
    record::PackageRecord,
    syncdb,
};

/// repo-add's limit for a detached package signature ("Invalid package signature file").
const MAX_SIGNATURE_BYTES: usize = 16384;

/// Why a package cannot become a repository entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Its `.PKGINFO` cannot make an entry pacman reads.
    #[error(transparent)]
    Pkginfo(#[from] PkginfoError),
    /// Its detached signature is not one repo-add would put into `%PGPSIG%`.
    #[error("{0}")]
    Signature(&'static str),
    /// A file or member name holds a line break, which would split its line of `desc` or
    /// `files`.
    #[error("{what} {value:?} holds a line break")]
    LineBreak {
        /// `file name` or `member path`.
        what: &'static str,
        /// The name.
        value: String,
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
        let (name, version) = pkginfo::required(&contents.pkginfo)?;
        let mut paths: Vec<&str> = contents.entries.iter().map(|e| e.path.as_str()).collect();
        let names = std::iter::once(("file name", filename))
            .chain(paths.iter().map(|path| ("member path", *path)));
        for (what, value) in names {
            if value.contains(['\n', '\r']) {
                let value = value.to_owned();
                return Err(EntryError::LineBreak { what, value });
            }
        }
        // As repo-add lists them: `bsdtar -tf | LC_ALL=C sort -u`.
        paths.sort_unstable();
        paths.dedup();
        let mut files = String::from("%FILES%\n");
        for path in paths {
            files.push_str(path);
            files.push('\n');
        }
        Ok(Self {
            name: normalize(name),
            version: normalize(version),
            filename: filename.to_owned(),
            desc: describe(contents, filename, signature)?,
            files: Some(files),
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

/// The `desc` text repo-add writes for the package, without the `%MD5SUM%` that pacman 6.1's
/// alpm-repo-desc v2 dropped.
fn describe(
    contents: &PackageContents,
    filename: &str,
    signature: Option<&[u8]>,
) -> Result<String, EntryError> {
    let one =
        |key: &str| -> Vec<String> { contents.pkginfo(key).map(normalize).into_iter().collect() };
    let all = |key: &str| -> Vec<String> {
        contents
            .pkginfo_values(key)
            .iter()
            .map(|value| normalize(value))
            .collect()
    };
    let name = one("pkgname");
    let sections: [(&str, Vec<String>); 22] = [
        ("FILENAME", vec![filename.to_owned()]),
        ("NAME", name.clone()),
        // repo-add leaves %BASE% out without a pkgbase; pacman then takes the name.
        (
            "BASE",
            contents
                .pkginfo("pkgbase")
                .map_or(name, |base| vec![normalize(base)]),
        ),
        ("VERSION", one("pkgver")),
        ("DESC", one("pkgdesc")),
        ("GROUPS", all("group")),
        ("CSIZE", vec![contents.csize.to_string()]),
        ("ISIZE", one("size")),
        ("SHA256SUM", vec![contents.sha256.clone()]),
        (
            "PGPSIG",
            signature
                .map(base64_signature)
                .transpose()?
                .into_iter()
                .collect(),
        ),
        ("URL", one("url")),
        ("LICENSE", all("license")),
        ("ARCH", one("arch")),
        ("BUILDDATE", one("builddate")),
        ("PACKAGER", one("packager")),
        ("REPLACES", all("replaces")),
        ("CONFLICTS", all("conflict")),
        ("PROVIDES", all("provides")),
        ("DEPENDS", all("depend")),
        ("OPTDEPENDS", all("optdepend")),
        ("MAKEDEPENDS", all("makedepend")),
        ("CHECKDEPENDS", all("checkdepend")),
    ];
    let mut desc = String::new();
    for (section, values) in sections {
        // An empty value would end the section early for pacman; an empty section is left out.
        let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            continue;
        }
        desc.push_str(&format!("%{section}%\n"));
        for value in values {
            desc.push_str(&value);
            desc.push('\n');
        }
        desc.push('\n');
    }
    Ok(desc)
}

/// A value with every run of white space made one space, as repo-add writes it.
fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A detached signature as `%PGPSIG%` holds it: base64 of the binary `.sig` file. repo-add
/// refuses armored signatures (pacman reads only binary ones) and signatures over 16 KiB.
fn base64_signature(signature: &[u8]) -> Result<String, EntryError> {
    use base64::Engine;
    if signature.starts_with(b"-----BEGIN PGP SIGNATURE") {
        return Err(EntryError::Signature(
            "an armored signature (.sig): pacman reads only binary signatures",
        ));
    }
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(EntryError::Signature(
            "a signature (.sig) over 16 KiB: not a detached package signature",
        ));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(signature))
}
