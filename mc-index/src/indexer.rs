//! The indexing pipeline: records in, packages streamed and parsed in parallel, one writer.
//!
//! ```text
//! stdin ─▶ dispatcher ──jobs──▶ N download workers ──┐
//!              │ (unchanged, forwarded, bad lines)    ├──outcomes──▶ writer ─▶ SQLite, stdout
//!              └──────────────────────────────────────┘
//! ```
//! The dispatcher skips packages the index already holds with the same sha256 before anything is
//! downloaded. Workers stream each package through [`minicluster::package::read_package`] on
//! every core; only the writer touches the database. It writes what has arrived in one
//! transaction of whole packages (up to [`BATCH_ROWS`] paths, or what came in [`BATCH_WAIT`]),
//! and prints their records only once that is committed. Both channels are bounded, so at most
//! `2 × jobs` parsed packages wait in memory besides the batch, whatever the input size.

use std::{
    io::{BufRead, Write},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender},
    },
    thread,
    time::{Duration, Instant},
};

use minicluster::{
    http::Http,
    jsonl::{self, ReadError},
    package::{self, Expectations, PackageContents},
    record::{ErrorRecord, IndexSource, IndexStatus, PackageRecord, Record},
    report::Report,
};

use crate::{
    TOOL,
    counts::{ALL, FORWARDED, INDEXED, REPLACED, UNCHANGED},
    progress::Progress,
    store::{Batch, Existing, FileList, IndexedPackage, Store, StoreError},
};

/// A transaction holds at most about this many paths: one commit per package made the single
/// writer the bottleneck, while a batch this size still holds well under 100 MB.
const BATCH_ROWS: usize = 50_000;
/// How long the writer waits for more packages to join a batch before committing it.
const BATCH_WAIT: Duration = Duration::from_millis(200);

/// How to index.
#[derive(Clone, Debug)]
pub struct Options {
    /// The database file.
    pub db: PathBuf,
    /// Packages downloaded and parsed at once.
    pub jobs: usize,
    /// Take file lists from the records (`mc-fetch repo --files`) instead of downloading.
    pub files_db: bool,
    /// The largest size one package member may declare.
    pub max_member_bytes: u64,
    /// Show progress on stderr.
    pub progress: bool,
}

/// What happened to one input line.
enum Outcome {
    /// A record of another type, passed on unchanged.
    Forward(String),
    /// Already indexed with the same sha256.
    Unchanged(Box<PackageRecord>, Existing),
    /// Parsed, ready to be written.
    Ready(Box<IndexedPackage>),
    /// Failed; the error record says why.
    Failed(Box<ErrorRecord>),
}

/// Indexes every package record of `input`, writing result records and the summary to `report`.
///
/// Returns the exit status (1 when some package failed); an `Err` means the run could not go on
/// (the database failed, or stdout closed).
pub fn run(
    options: &Options,
    http: &Http,
    input: impl BufRead + Send + 'static,
    mut report: Report<impl Write>,
) -> anyhow::Result<u8> {
    for key in ALL {
        report.add(key, 0);
    }
    let mut store = Store::open(&options.db)?;
    let lookup = Store::open_read_only(&options.db)?;
    let jobs = options.jobs.max(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<PackageRecord>(jobs);
    let (outcome_tx, outcome_rx) = mpsc::sync_channel::<Outcome>(jobs);
    let files_db = options.files_db;
    let dispatch_tx = outcome_tx.clone();
    thread::spawn(move || dispatch(input, &lookup, files_db, &job_tx, &dispatch_tx));
    let job_rx = Arc::new(Mutex::new(job_rx));
    for _ in 0..jobs {
        let (job_rx, outcome_tx) = (Arc::clone(&job_rx), outcome_tx.clone());
        let (http, options) = (http.clone(), options.clone());
        thread::spawn(move || {
            // Hold the lock only to receive, so workers download in parallel.
            let next = || job_rx.lock().ok()?.recv().ok();
            while let Some(job) = next() {
                if outcome_tx.send(download(&http, &options, job)).is_err() {
                    break;
                }
            }
        });
    }
    drop(outcome_tx);
    let mut progress = Progress::new(options.progress);
    // The loop ends when every thread has finished. On a fatal error the threads are left
    // behind, not joined: the dispatcher may be blocked reading a stdin that never ends, and
    // the process is about to exit anyway.
    write_all(&mut store, &outcome_rx, &mut report, &mut progress)?;
    progress.finish(&report);
    Ok(report.finish()?)
}

/// Reads input lines and routes each: to the workers, or straight to the writer.
fn dispatch(
    input: impl BufRead,
    lookup: &Store,
    files_db: bool,
    jobs: &SyncSender<PackageRecord>,
    outcomes: &SyncSender<Outcome>,
) {
    for line in jsonl::read_lines(input) {
        let outcome = match line {
            Err(error) => {
                let fatal = matches!(error, ReadError::Io(_));
                let record = Outcome::Failed(Box::new(error.error_record(TOOL)));
                if outcomes.send(record).is_err() || fatal {
                    return;
                }
                continue;
            }
            Ok(line) => match line.record {
                Record::Package(package) => match route(*package, lookup, files_db) {
                    Route::Download(package) => {
                        if jobs.send(*package).is_err() {
                            return;
                        }
                        continue;
                    }
                    Route::Done(outcome) => outcome,
                },
                _ => Outcome::Forward(line.raw),
            },
        };
        if outcomes.send(outcome).is_err() {
            return;
        }
    }
}

enum Route {
    Download(Box<PackageRecord>),
    Done(Outcome),
}

fn route(package: PackageRecord, lookup: &Store, files_db: bool) -> Route {
    let existing = match package.repo.as_deref() {
        Some(repo) if !package.name.is_empty() => lookup.existing(repo, &package.name),
        _ => Ok(None),
    };
    let existing = match existing {
        Ok(existing) => existing,
        Err(error) => return Route::Done(store_failed(&package, &error)),
    };
    let wanted = if files_db {
        IndexSource::FilesDb
    } else {
        IndexSource::Package
    };
    if let Some(existing) = existing.filter(|existing| is_current(existing, &package, wanted)) {
        return Route::Done(Outcome::Unchanged(Box::new(package), existing));
    }
    if !files_db {
        return Route::Download(Box::new(package));
    }
    Route::Done(match package.files.clone() {
        Some(paths) => Outcome::Ready(Box::new(IndexedPackage {
            record: PackageRecord {
                files: None,
                ..package
            },
            pkginfo: Vec::new(),
            buildinfo: Vec::new(),
            files: FileList::Paths(paths),
        })),
        None => failed(
            "no_file_list",
            "--files-db needs records with a file list: use `mc-fetch repo --files`".to_owned(),
            package.subject(),
        ),
    })
}

/// Whether the index already holds this very package file, from a source at least as good as
/// the one asked for (a package read in full beats a `.files` entry).
fn is_current(existing: &Existing, package: &PackageRecord, wanted: IndexSource) -> bool {
    let same_file = existing.sha256.is_some() && existing.sha256 == package.sha256;
    same_file && (existing.source == IndexSource::Package || wanted == IndexSource::FilesDb)
}

/// Streams one package from its URLs (or path) and parses it.
fn download(http: &Http, options: &Options, package: PackageRecord) -> Outcome {
    let urls = match &package.path {
        Some(path) => vec![path.clone()],
        None => package.download_urls(),
    };
    if urls.is_empty() {
        return failed(
            "no_location",
            "package record has neither \"url\" nor \"path\"".to_owned(),
            package.subject(),
        );
    }
    let expect = Expectations {
        sha256: package.sha256.clone(),
        csize: package.csize,
        max_member_bytes: options.max_member_bytes,
    };
    match http.fetch_sized(&urls, package.csize, |body| {
        package::read_package(body, &expect)
    }) {
        Ok(contents) => Outcome::Ready(Box::new(describe(package, contents))),
        Err(error) => failed(
            error.kind(package::PackageError::kind),
            error.to_string(),
            package.subject(),
        ),
    }
}

/// The package as the index stores it: the record's fields, completed from `.PKGINFO` (records
/// given by path carry nothing else).
fn describe(record: PackageRecord, contents: PackageContents) -> IndexedPackage {
    let text = |value: Option<String>, key: &str| {
        value.or_else(|| contents.pkginfo(key).map(str::to_owned))
    };
    let list = |values: Vec<String>, key: &str| {
        if values.is_empty() {
            contents.pkginfo_values(key)
        } else {
            values
        }
    };
    let name = Some(record.name).filter(|name| !name.is_empty());
    let version = Some(record.version).filter(|version| !version.is_empty());
    let record = PackageRecord {
        repo: record.repo.or_else(|| Some("local".to_owned())),
        name: text(name, "pkgname").unwrap_or_default(),
        version: text(version, "pkgver").unwrap_or_default(),
        base: text(record.base, "pkgbase"),
        arch: text(record.arch, "arch"),
        sha256: Some(contents.sha256.clone()),
        csize: Some(contents.csize),
        isize: record.isize.or_else(|| contents.pkginfo_number("size")),
        builddate: record
            .builddate
            .or_else(|| contents.pkginfo_number("builddate")),
        packager: text(record.packager, "packager"),
        desc: text(record.desc, "pkgdesc"),
        url_upstream: text(record.url_upstream, "url"),
        depends: list(record.depends, "depend"),
        makedepends: list(record.makedepends, "makedepend"),
        checkdepends: list(record.checkdepends, "checkdepend"),
        optdepends: list(record.optdepends, "optdepend"),
        provides: list(record.provides, "provides"),
        conflicts: list(record.conflicts, "conflict"),
        replaces: list(record.replaces, "replaces"),
        groups: list(record.groups, "group"),
        licenses: list(record.licenses, "license"),
        files: None,
        ..record
    };
    IndexedPackage {
        record,
        files: FileList::Members(contents.entries),
        pkginfo: contents.pkginfo,
        buildinfo: contents.buildinfo,
    }
}

/// Writes outcomes in batches as they come until every sender is gone.
fn write_all(
    store: &mut Store,
    outcomes: &Receiver<Outcome>,
    report: &mut Report<impl Write>,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    while let Ok(first) = outcomes.recv() {
        let batch = gather(first, outcomes);
        let mut batch_store = store.batch()?;
        let mut records = Vec::with_capacity(batch.len());
        for outcome in batch {
            records.push(settle(&mut batch_store, outcome, progress)?);
        }
        batch_store.commit()?;
        // Only now are they true: a record printed is a package committed.
        for record in records {
            match record {
                Printed::Raw(raw) => {
                    report.count(FORWARDED);
                    report.write_raw(&raw)?;
                }
                Printed::Package(record, status) => {
                    report.count(match status {
                        IndexStatus::Indexed => INDEXED,
                        IndexStatus::Replaced => REPLACED,
                        IndexStatus::Unchanged => UNCHANGED,
                    });
                    report.write(&Record::Package(record))?;
                }
                Printed::Error(error) => report.error(*error)?,
            }
        }
        progress.show(report);
    }
    Ok(())
}

/// `first` and whatever follows within [`BATCH_WAIT`], up to [`BATCH_ROWS`] paths.
fn gather(first: Outcome, outcomes: &Receiver<Outcome>) -> Vec<Outcome> {
    let deadline = Instant::now() + BATCH_WAIT;
    let mut rows = first.rows();
    let mut batch = vec![first];
    while rows < BATCH_ROWS {
        match outcomes.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(next) => {
                rows += next.rows();
                batch.push(next);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    batch
}

impl Outcome {
    /// Rows it adds to a transaction, roughly.
    fn rows(&self) -> usize {
        match self {
            Self::Ready(package) => package.files.len() + 1,
            _ => 1,
        }
    }
}

/// What goes to stdout for one outcome, once its batch is committed (boxed: a record is far
/// larger than a forwarded line).
enum Printed {
    /// A record of another type, forwarded.
    Raw(String),
    /// A package's result record, counted by its status.
    Package(Box<PackageRecord>, IndexStatus),
    /// An item that failed.
    Error(Box<ErrorRecord>),
}

/// Writes one outcome into the batch; returns what to print for it.
fn settle(
    batch: &mut Batch<'_>,
    outcome: Outcome,
    progress: &mut Progress,
) -> anyhow::Result<Printed> {
    Ok(match outcome {
        Outcome::Forward(raw) => Printed::Raw(raw),
        Outcome::Unchanged(package, existing) => result_record(
            *package,
            IndexStatus::Unchanged,
            existing.source,
            existing.file_count,
        ),
        Outcome::Ready(package) => {
            let existing = match package.record.repo.as_deref() {
                Some(repo) => batch.existing(repo, &package.record.name)?,
                None => None,
            };
            let source = package.files.source();
            let file_count = package.files.len() as u64;
            let status = match existing.filter(|e| is_current(e, &package.record, source)) {
                Some(_) => IndexStatus::Unchanged,
                None if package.record.name.is_empty() => {
                    return Ok(Printed::Error(Box::new(ErrorRecord::new(
                        TOOL,
                        "not_a_package",
                        ".PKGINFO has no pkgname",
                        package.record.subject(),
                    ))));
                }
                None => batch.write(&package)?,
            };
            progress.package(package.record.csize.unwrap_or(0));
            result_record(package.record, status, source, file_count)
        }
        Outcome::Failed(error) => Printed::Error(error),
    })
}

fn result_record(
    package: PackageRecord,
    status: IndexStatus,
    source: IndexSource,
    file_count: u64,
) -> Printed {
    let record = PackageRecord {
        index_status: Some(status),
        indexed_from: Some(source),
        file_count: Some(file_count),
        files: None,
        ..package
    };
    Printed::Package(Box::new(record), status)
}

fn failed(kind: &str, message: String, subject: serde_json::Value) -> Outcome {
    Outcome::Failed(Box::new(ErrorRecord::new(TOOL, kind, message, subject)))
}

fn store_failed(package: &PackageRecord, error: &StoreError) -> Outcome {
    failed("database", error.to_string(), package.subject())
}
