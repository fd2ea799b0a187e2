//! Checking every entry: nvchecker's `max_concurrency` checks at once, all of them waiting on
//! one thread as nvchecker's asyncio tasks do; each answer becomes an `upstream` record with
//! nvchecker's event, handed to the caller as soon as it is there; the newver file is written
//! once at the end, keeping the last good version of every entry whose check failed.

use std::{collections::HashMap, time::Duration};

use futures_util::{StreamExt as _, stream};
use minicluster::record::{Timestamp, UpstreamEvent, UpstreamRecord, UpstreamRole};
use serde_json::Value;

use super::{
    config::Entry,
    fields::Fields,
    options,
    source::{self, AurBatch, COMMON_KEYS, Context, SourceError},
    versionfile::{self, Versions},
};

/// nvchecker's default number of checks at once.
pub const DEFAULT_CONCURRENCY: usize = 20;

/// Versions the user has, from the oldver file and from `package` records on input.
#[derive(Debug, Default)]
pub struct Known {
    /// The oldver file.
    pub oldver: Versions,
    /// pkgver by package name and by package base, from `package` records.
    pub packages: HashMap<String, String>,
    /// The newver file as it was before this run: failed checks keep their entry.
    pub previous: Versions,
}

impl Known {
    /// The version the user has for an entry: a package record's for an entry that checks a
    /// package's own version, else the oldver file's.
    fn old_version(&self, entry: &Entry) -> Option<String> {
        let own = entry.role != Some(UpstreamRole::Trigger);
        own.then(|| self.packages.get(&entry.name).cloned())
            .flatten()
            .or_else(|| versionfile::version_of(&self.oldver, &entry.name).map(str::to_owned))
    }
}

/// What a run found: the new version file.
pub struct Outcome {
    /// The newver file's content.
    pub newver: Versions,
}

/// The runtime checks run on: one thread; DNS lookups (blocking calls) on at most
/// [`LOOKUP_THREADS`] more.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(LOOKUP_THREADS)
        .build()
}

/// Threads for blocking calls (reqwest's DNS lookups): each would keep its own malloc arena.
const LOOKUP_THREADS: usize = 4;

/// Checks every entry with `workers` at once; `emit` gets each record as its check ends. Only
/// `workers` checks exist at any time: the others are not started yet, so a run's memory does
/// not grow with its entries.
pub async fn run(
    ctx: &Context,
    entries: &[Entry],
    known: &Known,
    workers: usize,
    mut emit: impl FnMut(&UpstreamRecord),
) -> Outcome {
    let mut newver = Versions::new();
    let mut checks = stream::iter(entries)
        .map(|entry| check_one(ctx, entry, known))
        .buffer_unordered(workers.max(1));
    while let Some((record, fields)) = checks.next().await {
        if let Some(fields) = fields {
            newver.insert(record.name.clone(), fields);
        }
        emit(&record);
    }
    Outcome { newver }
}

/// One entry's record, and what the newver file keeps for it.
async fn check_one(
    ctx: &Context,
    entry: &Entry,
    known: &Known,
) -> (UpstreamRecord, Option<Fields>) {
    let mut record = UpstreamRecord {
        name: entry.name.clone(),
        source: entry.source().to_owned(),
        old_version: known.old_version(entry),
        config: Some(entry.config.display().to_string()),
        role: entry.role,
        extra: extra_keys(entry),
        ..UpstreamRecord::default()
    };
    let result = source::check(ctx, entry)
        .await
        .and_then(|found| options::choose(entry, found));
    record.checked_at = Some(Timestamp::now());
    let previous = known.previous.get(&entry.name).cloned();
    match result {
        Ok(Some(release)) => {
            record.event = if record.old_version.as_deref() == Some(release.version.as_str()) {
                UpstreamEvent::UpToDate
            } else {
                UpstreamEvent::Updated
            };
            let fields: Fields = [
                ("version", Some(&release.version)),
                ("url", release.url.as_ref()),
                ("revision", release.revision.as_ref()),
                ("gitref", release.gitref.as_ref()),
            ]
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), Value::from(value?.clone()))))
            .collect();
            record.version = Some(release.version);
            record.url = release.url;
            record.revision = release.revision;
            record.gitref = release.gitref;
            (record, Some(fields))
        }
        Ok(None) if entry.flag("missing_ok") => {
            record.event = UpstreamEvent::NoResult;
            (record, None)
        }
        Ok(None) => {
            record.event = UpstreamEvent::NoResult;
            record.error = Some("no version matched".to_owned());
            keep(record, previous)
        }
        Err(error) => {
            record.event = UpstreamEvent::Error;
            if let SourceError::Http(super::http::HttpError::RateLimited { reset, .. }) = &error {
                record.rate_limit_reset_at = Some(Timestamp::from(*reset));
            }
            record.error = Some(format!(
                "{}: source {}: {} ({})",
                entry.name,
                entry.source(),
                error,
                error.kind()
            ));
            keep(record, previous)
        }
    }
}

/// A failed entry keeps its last good version in the newver file, and its record says so.
fn keep(mut record: UpstreamRecord, previous: Option<Fields>) -> (UpstreamRecord, Option<Fields>) {
    if let Some(fields) = &previous {
        record.version = fields
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned);
        record.kept_last_good = record.version.is_some();
    }
    (record, previous)
}

/// The entry's keys that neither nvchecker's common options nor its source read.
fn extra_keys(entry: &Entry) -> std::collections::BTreeMap<String, Value> {
    let source_keys = source_keys(entry.source());
    entry
        .options
        .iter()
        .filter(|(key, _)| {
            !COMMON_KEYS.contains(&key.as_str()) && !source_keys.contains(&key.as_str())
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The keys each source reads, besides the common ones.
fn source_keys(source: &str) -> &'static [&'static str] {
    match source {
        "github" => &[
            "github",
            "host",
            "branch",
            "path",
            "use_latest_release",
            "use_max_tag",
            "use_max_release",
            "include_prereleases",
            "use_release_name",
            "use_latest_tag",
            "use_commit",
            "query",
        ],
        "gitlab" | "gitea" | "bitbucket" => &[
            "gitlab",
            "gitea",
            "bitbucket",
            "host",
            "branch",
            "use_max_tag",
            "use_latest_release",
        ],
        "git" => &["git", "use_commit", "branch"],
        "regex" => &["url", "regex", "encoding", "post_data", "post_data_type"],
        "httpheader" => &["url", "regex", "header", "method", "follow_redirects"],
        "htmlparser" => &[
            "url",
            "xpath",
            "encoding",
            "post_data",
            "post_data_type",
            "is_xml",
        ],
        "jq" => &["url", "filter", "post_data", "post_data_type"],
        "alpm" => &[
            "alpm",
            "repo",
            "repos",
            "dbpath",
            "strip_release",
            "provided",
        ],
        "alpmfiles" => &["pkgname", "filename", "repo", "dbpath", "strip_dir"],
        "pypi" => &["pypi", "use_pre_release"],
        "npm" => &["npm"],
        "cratesio" => &["cratesio", "use_pre_release"],
        "aur" => &["aur", "strip_release", "use_last_modified"],
        "archpkg" => &["archpkg", "strip_release", "provided"],
        "cpan" => &["cpan"],
        "go" => &["go"],
        "manual" => &["manual"],
        "cmd" => &["cmd"],
        _ => &[],
    }
}

/// Reads the pacman databases the alpm and alpmfiles entries name, before the checks start.
pub fn prefetch_alpm(ctx: &mut Context, entries: &[Entry]) {
    ctx.alpm = source::AlpmBatch::read(entries);
}

/// Asks the AUR about every aur entry in batches, before the checks start.
pub async fn prefetch_aur(ctx: &mut Context, entries: &[Entry]) {
    let names: Vec<String> = entries
        .iter()
        .filter(|entry| entry.source() == "aur")
        .map(|entry| AurBatch::name(entry).to_owned())
        .collect();
    if !names.is_empty() {
        let base = ctx.base("aur", "https://aur.archlinux.org");
        ctx.aur = AurBatch::ask(&ctx.http, &base, &names).await;
    }
}

/// The timeout of commands (git, cmd): nvchecker's http_timeout is for requests; commands get
/// three times as long, since a clone's ls-remote on a slow forge takes longer than one request.
pub fn command_timeout(http_timeout: Duration) -> Duration {
    http_timeout * 3
}
