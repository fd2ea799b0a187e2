//! alpm and alpmfiles: versions and file names from the pacman sync databases under `dbpath`
//! (default `/var/lib/pacman`, `sync/REPO.db` and `sync/REPO.files`), as nvchecker's alpm
//! (pyalpm) and alpmfiles (`pacman -Flq`) sources read them.
//!
//! Each database is read once per run, before the checks ([`AlpmBatch::read`]), keeping only the
//! packages some entry asks about: a `.files` database holds every path of a repository, far
//! more than a check needs.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use minicluster::syncdb;

use super::{Context, Found, Release, SourceError, required};
use crate::upstream::config::Entry;

/// pacman's own database folder.
const DEFAULT_DBPATH: &str = "/var/lib/pacman";
/// The repositories nvchecker's alpm source tries, in order, without `repo` or `repos`.
const DEFAULT_REPOS: &[&str] = &["core", "extra", "multilib"];

/// What a package entry of a database holds for the checks.
#[derive(Clone, Debug, Default)]
struct Held {
    version: String,
    provides: Vec<String>,
    files: Vec<String>,
}

/// One database file, `dbpath/sync/REPO.db` or `.files`.
type DbFile = PathBuf;

/// The packages the alpm and alpmfiles entries ask about, read from their databases.
#[derive(Debug, Default)]
pub struct AlpmBatch {
    /// By database file: its packages by name, or why it could not be read.
    dbs: HashMap<DbFile, Result<HashMap<String, Held>, String>>,
}

impl AlpmBatch {
    /// Reads every database the alpm and alpmfiles entries name, once each, keeping the
    /// packages they ask about; other entries are passed over.
    pub fn read(entries: &[Entry]) -> Self {
        let mut wanted: BTreeMap<DbFile, BTreeSet<String>> = BTreeMap::new();
        for entry in entries {
            let Ok((name, files)) = asked(entry) else {
                continue;
            };
            for file in files {
                wanted.entry(file).or_default().insert(name.to_owned());
            }
        }
        let dbs = wanted
            .into_iter()
            .map(|(file, names)| {
                let read = read_db(&file, &names);
                (file, read)
            })
            .collect();
        Self { dbs }
    }

    /// The package `name` in the first of `files` that has it.
    fn find(&self, files: &[DbFile], name: &str) -> Result<Option<&Held>, SourceError> {
        for file in files {
            match self.dbs.get(file) {
                Some(Ok(packages)) => {
                    if let Some(held) = packages.get(name) {
                        return Ok(Some(held));
                    }
                }
                Some(Err(message)) => return Err(SourceError::Command(message.clone())),
                None => {}
            }
        }
        Ok(None)
    }
}

/// The package an entry asks about and the database files to look in, in order.
fn asked(entry: &Entry) -> Result<(&str, Vec<DbFile>), SourceError> {
    let dbpath = Path::new(entry.str("dbpath").unwrap_or(DEFAULT_DBPATH)).join("sync");
    match entry.source() {
        "alpm" => {
            let name = entry.str("alpm").unwrap_or(&entry.name);
            let repos: Vec<String> = match (entry.str("repo"), entry.options.get("repos")) {
                (Some(repo), _) => vec![repo.to_owned()],
                (None, Some(serde_json::Value::Array(repos))) if !repos.is_empty() => repos
                    .iter()
                    .filter_map(|repo| repo.as_str().map(str::to_owned))
                    .collect(),
                _ => DEFAULT_REPOS
                    .iter()
                    .map(|repo| (*repo).to_owned())
                    .collect(),
            };
            let files = repos
                .iter()
                .map(|repo| dbpath.join(format!("{repo}.db")))
                .collect();
            Ok((name, files))
        }
        "alpmfiles" => {
            let name = required(entry, "pkgname")?;
            let files = match entry.str("repo") {
                Some(repo) => vec![dbpath.join(format!("{repo}.files"))],
                // pacman -Fl looks in every repository; here every .files database, by name.
                None => every_files_db(&dbpath),
            };
            Ok((name, files))
        }
        other => Err(SourceError::Config(format!("not an alpm source: {other}"))),
    }
}

fn every_files_db(dir: &Path) -> Vec<DbFile> {
    let mut files: Vec<DbFile> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|item| item.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "files"))
        .collect();
    files.sort();
    files
}

/// The packages of one database whose names are in `names`.
fn read_db(file: &Path, names: &BTreeSet<String>) -> Result<HashMap<String, Held>, String> {
    let input = match std::fs::File::open(file) {
        Ok(input) => input,
        // A repository without a database holds no package, as pacman sees it.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => return Err(format!("reading {}: {error}", file.display())),
    };
    let repo = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut packages = HashMap::new();
    syncdb::stream_entries(input, syncdb::Limits::default(), |entry| {
        // The folder is NAME-PKGVER-PKGREL: skip the others before parsing their members.
        let entry = match entry {
            Ok(entry) if names.contains(folder_name(&entry.folder)) => entry,
            _ => return Ok(()),
        };
        if let Ok(package) = entry.package(&repo) {
            packages.insert(
                package.name,
                Held {
                    version: package.version,
                    provides: package.provides,
                    files: package.files.unwrap_or_default(),
                },
            );
        }
        Ok(())
    })
    .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(packages)
}

/// The package name of a database folder `NAME-PKGVER-PKGREL`.
fn folder_name(folder: &str) -> &str {
    folder.rsplitn(3, '-').nth(2).unwrap_or(folder)
}

/// alpm: the package's version (`[epoch:]pkgver-pkgrel`), or that of one of its `provides`.
pub fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let (name, files) = asked(entry)?;
    let held = ctx
        .alpm
        .find(&files, name)?
        .ok_or_else(|| SourceError::Malformed("package not found in the ALPM database".into()))?;
    let version = match entry.str("provided") {
        None => held.version.clone(),
        Some(provided) => held
            .provides
            .iter()
            .filter_map(|item| item.split_once('='))
            .find(|(what, _)| *what == provided)
            .map(|(_, version)| version.to_owned())
            .ok_or_else(|| SourceError::Malformed("provides element not found".into()))?,
    };
    let version = if entry.flag("strip_release") {
        version
            .split_once('-')
            .map_or(version.as_str(), |(pkgver, _)| pkgver)
            .to_owned()
    } else {
        version
    };
    Ok(Found::One(Release::plain(version)))
}

/// alpmfiles: the first of the package's paths (no leading `/`) that `filename` matches
/// whole; its group when it has one, else the path.
pub fn check_files(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let (name, files) = asked(entry)?;
    let pattern = required(entry, "filename")?;
    let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| SourceError::Config(format!("bad regex {pattern:?}: {e}")))?;
    if regex.captures_len() > 2 {
        return Err(SourceError::Config("multi-group regex".to_owned()));
    }
    let held = ctx.alpm.find(&files, name)?.ok_or_else(|| {
        SourceError::Malformed(format!("package {name} not found in a files database"))
    })?;
    let strip_dir = entry.flag("strip_dir");
    held.files
        .iter()
        .find_map(|path| {
            let path = path.trim_start_matches('/');
            let candidate = if strip_dir {
                path.rsplit('/').next().unwrap_or(path)
            } else {
                path
            };
            let captures = regex.captures(candidate)?;
            Some(
                captures
                    .get(1)
                    .map_or(candidate, |group| group.as_str())
                    .to_owned(),
            )
        })
        .map(|version| Found::One(Release::plain(version)))
        .ok_or_else(|| SourceError::Malformed("no file matches specified regex".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(folder_name("glibc-2.40-1"), "glibc");
        assert_eq!(folder_name("xorg-server-1:21.1.13-1"), "xorg-server");
    }
}
