//! `mc-repo` as a library: pacman repositories made from packages, atomically and incrementally.
//!
//! [`repository::Repository`] opens, locks and writes a repository; [`update::Update`] stages
//! additions and removals and commits them at once; [`entry::Entry`] is one package's `desc` and
//! `files`; [`sync`] picks the packages a list asks for; [`check`] finds what is broken.

pub mod check;
pub mod cli;
pub mod entry;
pub mod interrupt;
pub mod lock;
pub mod repository;
pub mod sync;
pub mod update;

use std::{collections::BTreeMap, io, path::Path};

use anyhow::Context;
use minicluster::{
    cli::EXIT_OK,
    jsonl::{self, RecordWriter},
    openpgp::{Keyring, SigningKey},
    record::{
        ChangeAction, ChangeRecord, ErrorRecord, FindingRecord, PackageRecord, Record, Severity,
    },
    report::Report,
};

use crate::{
    cli::{AddArgs, CheckArgs, Cli, Command, RemoveArgs, RepoArg, SyncArgs, TrustArgs},
    repository::Repository,
    update::{Source, Trust, Update},
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-repo";

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Add(args) => run_add(&args),
        Command::Remove(args) => run_remove(&args),
        Command::List(args) => run_list(&args),
        Command::Check(args) => run_check(&args),
        Command::Sync(args) => run_sync(&args),
    }
}

/// Writes a change record, counted by its action.
fn write_change(report: &mut Report, change: ChangeRecord) -> io::Result<()> {
    report.count(change.action.as_str());
    report.write(&Record::Change(change))
}

/// The warnings about a package just staged, or why it was refused.
fn write_staged(
    report: &mut Report,
    outcome: Result<Vec<FindingRecord>, Box<ErrorRecord>>,
) -> io::Result<()> {
    match outcome {
        Ok(warnings) => warnings.into_iter().try_for_each(|warning| {
            report.count("warnings");
            report.write(&Record::Finding(warning))
        }),
        Err(error) => report.error(*error),
    }
}

/// The changes a commit made (told only now that they are made), or why it failed.
fn write_committed(report: &mut Report, update: Update<'_>) -> io::Result<()> {
    let repo = update.repository().name.clone();
    match update.commit() {
        Ok(committed) => {
            for change in committed.changes {
                write_change(report, change)?;
            }
            committed
                .afterwards
                .into_iter()
                .try_for_each(|error| report.error(error))
        }
        Err(error) => {
            let subject = serde_json::json!({ "repo": repo });
            report.error(ErrorRecord::new(
                TOOL,
                "commit_failed",
                error.to_string(),
                subject,
            ))
        }
    }
}

/// The signing key and keyring the options name, loaded.
struct TrustFiles {
    sign: Option<SigningKey>,
    verify: Option<Keyring>,
}

impl TrustFiles {
    fn load(args: &TrustArgs) -> anyhow::Result<Self> {
        Ok(Self {
            sign: args.sign.as_deref().map(load_key).transpose()?,
            verify: args.verify.as_deref().map(load_keyring).transpose()?,
        })
    }

    fn trust(&self) -> Trust<'_> {
        Trust {
            sign: self.sign.as_ref(),
            verify: self.verify.as_ref(),
        }
    }
}

fn load_key(path: &Path) -> anyhow::Result<SigningKey> {
    SigningKey::from_file(path).with_context(|| format!("signing key {}", path.display()))
}

fn load_keyring(path: &Path) -> anyhow::Result<Keyring> {
    Keyring::from_file(path).with_context(|| format!("keyring {}", path.display()))
}

fn run_add(args: &AddArgs) -> anyhow::Result<u8> {
    let trust = TrustFiles::load(&args.update.trust)?;
    let mut repository = Repository::open(&args.repo.repo, args.files)?;
    interrupt::remove_temporaries_on_signals(repository.temporaries())?;
    let http = args.update.network.client()?;
    let mut report = Report::stdout(TOOL);
    let mut update = Update::new(
        &mut repository,
        &http,
        trust.trust(),
        args.update.remove_old,
    );
    if args.packages.is_empty() {
        let mut refusals = Refusals::default();
        for line in jsonl::read_lines(io::stdin().lock()) {
            match line {
                // Package records become change records; every other record goes on.
                Ok(line) => match line.record {
                    Record::Package(record) => match refusals.refusal(&record) {
                        Some(error) => report.error(error)?,
                        None => write_staged(&mut report, update.add(Source::Record(record)))?,
                    },
                    Record::Finding(ref finding) => {
                        if let Some(threshold) = args.refuse_findings {
                            refusals.note(finding, threshold);
                        }
                        report.forward(&line)?;
                    }
                    // A package a checker could not check (mc-scan: a member too large to
                    // read, clamd down) did not pass: its error counts as an error finding.
                    Record::Error(ref error) => {
                        if args.refuse_findings.is_some() {
                            refusals.note_error(error);
                        }
                        report.forward(&line)?;
                    }
                    _ => report.forward(&line)?,
                },
                Err(error) => report.error(error.error_record(TOOL))?,
            }
        }
    } else {
        for path in &args.packages {
            write_staged(&mut report, update.add(Source::Path(path.clone())))?;
        }
    }
    write_committed(&mut report, update)?;
    Ok(report.finish()?)
}

/// Findings seen on stdin that refuse the packages they name (`add --refuse-findings`).
#[derive(Default)]
struct Refusals {
    /// The first finding at or above the threshold, by package file path and by
    /// `name version`.
    findings: BTreeMap<String, FindingRecord>,
}

impl Refusals {
    fn note(&mut self, finding: &FindingRecord, threshold: Severity) {
        if !finding.at_least(threshold) {
            return;
        }
        let by_name = finding
            .package
            .as_ref()
            .zip(finding.version.as_ref())
            .map(|(name, version)| format!("{name} {version}"));
        for key in finding.path.clone().into_iter().chain(by_name) {
            self.findings.entry(key).or_insert_with(|| finding.clone());
        }
    }

    /// Notes an error record about a package (its `subject` naming the package's `path`, or its
    /// `name` and `version`) as a finding of severity `error`.
    fn note_error(&mut self, error: &ErrorRecord) {
        let field = |key: &str| error.subject.get(key).and_then(serde_json::Value::as_str);
        let finding = FindingRecord {
            check: error.kind.clone(),
            severity: Severity::Error,
            message: format!(
                "{} could not check it completely: {}",
                error.tool, error.message
            ),
            package: field("name").map(str::to_owned),
            version: field("version").map(str::to_owned),
            path: field("path").map(str::to_owned),
            ..FindingRecord::default()
        };
        self.note(&finding, Severity::Error);
    }

    /// The `refused_findings` error for `record`, when a finding names it.
    fn refusal(&self, record: &PackageRecord) -> Option<ErrorRecord> {
        let by_name = format!("{} {}", record.name, record.version);
        let finding = record
            .path
            .as_ref()
            .and_then(|path| self.findings.get(path))
            .or_else(|| self.findings.get(&by_name))?;
        let message = format!(
            "refused: {} finding {} in {}: {}",
            finding.severity,
            finding.check,
            finding.member.as_deref().unwrap_or("the package"),
            finding.message
        );
        Some(ErrorRecord::new(
            TOOL,
            "refused_findings",
            message,
            record.subject(),
        ))
    }
}

fn run_remove(args: &RemoveArgs) -> anyhow::Result<u8> {
    let sign = args.sign.as_deref().map(load_key).transpose()?;
    let mut repository = Repository::open_existing(&args.repo.repo)?;
    interrupt::remove_temporaries_on_signals(repository.temporaries())?;
    let http = minicluster::cli::NetworkArgs::default().client()?;
    let trust = Trust {
        sign: sign.as_ref(),
        verify: None,
    };
    let mut report = Report::stdout(TOOL);
    let mut update = Update::new(&mut repository, &http, trust, args.remove_files);
    for name in &args.names {
        if !update.remove(name) {
            let repo = &update.repository().name;
            let message = format!("{name} is not in repository {repo}");
            let subject = serde_json::json!({"repo": repo, "name": name});
            report.error(ErrorRecord::new(
                TOOL,
                "not_in_repository",
                message,
                subject,
            ))?;
        }
    }
    write_committed(&mut report, update)?;
    Ok(report.finish()?)
}

fn run_list(args: &RepoArg) -> anyhow::Result<u8> {
    let repository = Repository::open_to_read(&args.repo)?;
    let mut out = RecordWriter::stdout();
    for entry in repository.entries.values() {
        let mut record = entry.record(&repository.name);
        record.path = Some(repository.path(&entry.filename).display().to_string());
        out.write(&Record::Package(Box::new(record)))?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn run_check(args: &CheckArgs) -> anyhow::Result<u8> {
    let keyring = args.verify.as_deref().map(load_keyring).transpose()?;
    let repository = Repository::open_to_read(&args.repo.repo)?;
    let mut report = Report::stdout(TOOL);
    let problems = check::problems(&repository, keyring.as_ref());
    let checked = repository.entries.len() as u64;
    report.add("checked", checked);
    for problem in problems {
        report.error(problem)?;
    }
    Ok(report.finish()?)
}

fn run_sync(args: &SyncArgs) -> anyhow::Result<u8> {
    let list = std::fs::read_to_string(&args.list)
        .with_context(|| format!("list {}", args.list.display()))?;
    let wanted = sync::read_list(&list);
    let trust = TrustFiles::load(&args.update.trust)?;
    let mut repository = Repository::open(&args.repo.repo, true)?;
    interrupt::remove_temporaries_on_signals(repository.temporaries())?;
    let http = args.update.network.client()?;
    let mut report = Report::stdout(TOOL);
    let mut candidates: Vec<PackageRecord> = Vec::new();
    for line in jsonl::read_lines(io::stdin().lock()) {
        match line {
            // Package records are the candidates; every other record goes on.
            Ok(line) => match line.record {
                Record::Package(record) => candidates.push(*record),
                _ => report.forward(&line)?,
            },
            Err(error) => report.error(error.error_record(TOOL))?,
        }
    }
    let mut chosen = sync::newest(&wanted, candidates);
    let mut update = Update::new(
        &mut repository,
        &http,
        trust.trust(),
        args.update.remove_old,
    );
    for want in &wanted {
        if !chosen.contains_key(&want.name) {
            let message = format!("no package record offers {}", want.name);
            let subject = serde_json::json!({"name": want.name, "repo": want.repo});
            report.error(ErrorRecord::new(TOOL, "not_available", message, subject))?;
        }
    }
    let unlisted: Vec<String> = update
        .repository()
        .entries
        .keys()
        .filter(|name| !wanted.iter().any(|want| &want.name == *name))
        .cloned()
        .collect();
    for name in unlisted {
        update.remove(&name);
    }
    for (_, record) in std::mem::take(&mut chosen) {
        if let Some(held) = already_held(update.repository(), &record) {
            write_change(&mut report, held)?;
        } else {
            write_staged(&mut report, update.add(Source::Record(Box::new(record))))?;
        }
    }
    write_committed(&mut report, update)?;
    Ok(report.finish()?)
}

/// An `unchanged` record when the repository already holds this very package, so a sync does
/// not download or re-read what it has.
fn already_held(repository: &Repository, record: &PackageRecord) -> Option<ChangeRecord> {
    let entry = repository.entries.get(&record.name)?;
    let held = entry.record(&repository.name);
    let same =
        held.version == record.version && (record.sha256.is_none() || held.sha256 == record.sha256);
    same.then(|| ChangeRecord {
        action: ChangeAction::Unchanged,
        repo: repository.name.clone(),
        name: record.name.clone(),
        version: Some(held.version.clone()),
        old_version: Some(held.version),
        path: Some(repository.path(&entry.filename).display().to_string()),
    })
}
