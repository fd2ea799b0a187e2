//! Sync databases from mirrors.
//!
//! A database is downloaded to an anonymous temporary file and read through once under its
//! [`Limits`] before anything is printed, so a mirror serving a broken or oversized database
//! hands over to the next one; then it is read again, one entry at a time, and each entry goes
//! to the caller as soon as it is parsed. Nothing holds more than one entry.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{self, Read, Seek},
};

use minicluster::{
    http::{FetchError, Http},
    mirror,
    record::PackageRecord,
    size::Size,
    syncdb::{self, Entry, EntryError, EntryResult, Limits, Served, SyncDbError},
};

/// Why a repository's database could not be fetched from any mirror.
#[derive(Debug, thiserror::Error)]
#[error("repository {repo}: {source}")]
pub struct RepoError {
    /// The repository.
    pub repo: String,
    /// The last mirror's failure (or, once one was read, the failure of reading it again).
    pub source: FetchError<SyncDbError>,
}

impl RepoError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        self.source.kind(SyncDbError::kind)
    }
}

/// What to fetch: a repository of an architecture, from servers in failover order.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// pacman `Server` URLs with `$repo` and `$arch`.
    pub servers: &'a [String],
    /// The repository (`core`).
    pub repo: &'a str,
    /// The architecture, for `$arch`.
    pub arch: &'a str,
    /// The `.files` database instead of `.db`.
    pub files: bool,
    /// Bounds of one entry and of the whole database.
    pub limits: Limits,
}

/// Downloads the request's sync database from the first server that serves a readable one, and
/// hands `each` one result per entry, in the database's order; returns how many there were.
///
/// Each package's `url` points at the first server, `mirror_urls` at the others. A folder that
/// appears twice, or a package name an earlier entry already had, is an error for the later
/// entry: pacman keeps the first.
pub fn fetch(
    http: &Http,
    request: &Request<'_>,
    mut each: impl FnMut(EntryResult) -> io::Result<()>,
) -> Result<usize, RepoError> {
    let repo_urls: Vec<String> = request
        .servers
        .iter()
        .map(|server| mirror::repo_url(server, request.repo, request.arch))
        .collect();
    let error = |source| RepoError {
        repo: request.repo.to_owned(),
        source,
    };
    let db_urls = |name: &str| -> Vec<String> {
        repo_urls
            .iter()
            .map(|url| mirror::file_url(url, name))
            .collect()
    };
    let db_name = format!(
        "{}.{}",
        request.repo,
        if request.files { "files" } else { "db" }
    );
    let limits = request.limits;
    let file = match http
        .fetch(&db_urls(&db_name), |body| {
            syncdb::read_served(body, |db| spool(db, limits))
        })
        .map_err(error)?
    {
        Served::Entries(file) => file,
        // One level only: a link to a link is not a layout anyone serves.
        Served::LinkText(target) => http
            .fetch(&db_urls(&target), |body| spool(body, limits))
            .map_err(error)?,
    };
    let mut unique = Unique::default();
    syncdb::stream_entries(file, limits, |entry| {
        let result = entry.and_then(|entry| {
            unique.folder(&entry)?;
            let package = entry.package(request.repo)?;
            unique.name(&entry.folder, package)
        });
        each(result.map(|package| with_urls(package, &repo_urls)))
    })
    .map_err(|source| {
        let url = format!("the downloaded copy of {db_name}");
        error(FetchError::Content { url, source })
    })
}

/// Copies a database to an anonymous temporary file and reads it through once, so that what is
/// printed later comes from a database known to be whole and within its bounds.
fn spool(db: &mut (dyn Read + Send), limits: Limits) -> Result<File, SyncDbError> {
    let mut file = tempfile::tempfile().map_err(SyncDbError::Local)?;
    // Compression never makes a tar larger than the bound of its contents.
    let copied = io::copy(
        &mut db.take(limits.database_bytes.saturating_add(1)),
        &mut file,
    )
    .map_err(SyncDbError::Archive)?;
    if copied > limits.database_bytes {
        return Err(SyncDbError::TooLarge {
            limit: Size::bytes(limits.database_bytes),
        });
    }
    file.rewind().map_err(SyncDbError::Local)?;
    syncdb::stream_entries(&mut file, limits, |_| Ok(()))?;
    file.rewind().map_err(SyncDbError::Local)?;
    Ok(file)
}

/// The folders and package names seen so far in one database.
#[derive(Default)]
struct Unique {
    folders: HashSet<String>,
    names: HashMap<String, String>,
}

impl Unique {
    fn folder(&mut self, entry: &Entry) -> Result<(), EntryError> {
        if self.folders.insert(entry.folder.clone()) {
            return Ok(());
        }
        Err(EntryError {
            folder: entry.folder.clone(),
            kind: "duplicate_entry",
            problem: "the folder appears a second time in the database".to_owned(),
        })
    }

    fn name(&mut self, folder: &str, package: PackageRecord) -> EntryResult {
        match self.names.get(&package.name) {
            Some(first) => Err(EntryError {
                folder: folder.to_owned(),
                kind: "duplicate_name",
                problem: format!("package {} already came from {first}", package.name),
            }),
            None => {
                self.names.insert(package.name.clone(), folder.to_owned());
                Ok(package)
            }
        }
    }
}

fn with_urls(package: PackageRecord, repo_urls: &[String]) -> PackageRecord {
    let Some(filename) = package.filename.as_deref() else {
        return package;
    };
    let mut urls = repo_urls.iter().map(|url| mirror::file_url(url, filename));
    PackageRecord {
        url: urls.next(),
        mirror_urls: urls.collect(),
        ..package
    }
}
