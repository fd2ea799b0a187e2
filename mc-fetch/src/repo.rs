//! Sync databases from mirrors.

use minicluster::{
    http::{FetchError, Http},
    mirror,
    record::PackageRecord,
    syncdb::{self, EntryResult, Served, SyncDbError},
};

/// Why a repository's database could not be fetched from any mirror.
#[derive(Debug, thiserror::Error)]
#[error("repository {repo}: {source}")]
pub struct RepoError {
    /// The repository.
    pub repo: String,
    /// The last mirror's failure.
    pub source: FetchError<SyncDbError>,
}

impl RepoError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        self.source.kind(|_| "bad_sync_db")
    }
}

/// Downloads `repo`'s sync database (its `.files` database when `files` is set) from the first
/// server that serves a readable one, and returns one result per entry, in name order.
///
/// Each package's `url` points at the first server, `mirror_urls` at the others.
pub fn fetch(
    http: &Http,
    servers: &[String],
    repo: &str,
    arch: &str,
    files: bool,
) -> Result<Vec<EntryResult>, RepoError> {
    let repo_urls: Vec<String> = servers
        .iter()
        .map(|server| mirror::repo_url(server, repo, arch))
        .collect();
    let error = |source| RepoError {
        repo: repo.to_owned(),
        source,
    };
    let db_urls = |name: &str| -> Vec<String> {
        repo_urls
            .iter()
            .map(|url| mirror::file_url(url, name))
            .collect()
    };
    let db_name = format!("{repo}.{}", if files { "files" } else { "db" });
    let entries = match http
        .fetch(&db_urls(&db_name), |body| syncdb::read_served(body))
        .map_err(error)?
    {
        Served::Entries(entries) => entries,
        // One level only: a link to a link is not a layout anyone serves.
        Served::LinkText(target) => {
            match http.fetch(&db_urls(&target), |body| syncdb::read_entries(body)) {
                Ok(entries) => entries,
                Err(source) => return Err(error(source)),
            }
        }
    };
    Ok(entries
        .iter()
        .map(|entry| {
            entry
                .package(repo)
                .map(|package| with_urls(package, &repo_urls))
        })
        .collect())
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
