//! `mc-verify` as a library: fetch a PKGBUILD's sources into a cache, check every declared
//! checksum and OpenPGP signature, and report problems, without ever running the PKGBUILD.
//!
//! [`plan::plan`] reads `.SRCINFO`; [`verify::Fetcher`] fetches and checks the sources;
//! [`text::findings`] reads the PKGBUILD and install scriptlet as text; [`history::findings`]
//! compares with the commit fetched before, [`maintainer::findings`] with the maintainer.

pub mod aur_post;
pub mod cache;
pub mod cli;
pub mod hashing;
pub mod history;
pub mod keys;
pub mod maintainer;
pub mod plan;
pub mod report;
pub mod text;
pub mod vcs;
pub mod verify;

use std::{
    io::{self, IsTerminal},
    path::PathBuf,
    str::FromStr,
};

use alpm_types::SystemArchitecture;
use anyhow::Context;
use minicluster::{
    cli::NetworkArgs,
    jsonl,
    record::{ErrorRecord, FindingRecord, PkgbuildRecord, Record, Severity, Timestamp},
    report::{FAILED, Report},
};

use crate::{
    aur_post::{PostError, Poster, Session},
    cli::{CheckArgs, Cli, Command, ReportArgs},
    keys::Keys,
    verify::Fetcher,
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-verify";

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Some(Command::Report(args)) => run_report(&args),
        None => run_check(&cli.check),
    }
}

fn run_report(args: &ReportArgs) -> anyhow::Result<u8> {
    let poster = match (args.post, &args.cookie) {
        (false, _) => None,
        (true, None) => anyhow::bail!("--post needs --cookie FILE: the AUR login to post as"),
        (true, Some(cookie)) => {
            let session = Session::read(cookie)?;
            let http = NetworkArgs::default().client()?;
            Some(Poster::new(http, &args.aur_url, session))
        }
    };
    let mut report = Report::stdout(TOOL);
    let mut findings = Vec::new();
    for line in jsonl::read_lines(io::stdin().lock()) {
        match line {
            // Findings become comments; every other record goes on.
            Ok(line) => match line.record {
                Record::Finding(finding) => findings.push(finding),
                _ => report.forward(&line)?,
            },
            Err(error) => report.error(error.error_record(TOOL))?,
        }
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let comments = report::comments(&findings);
    report.add("comments", comments.len() as u64);
    report.add("posted", 0);
    report.add(FAILED, 0);
    for comment in &comments {
        if let Some(dir) = &args.out {
            let path = dir.join(format!("{}.md", comment.base.replace('/', "_")));
            std::fs::write(&path, &comment.markdown)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        report.write(&Record::Comment(comment.clone()))?;
        let Some(poster) = &poster else { continue };
        match poster.post(comment) {
            Ok(()) => report.count("posted"),
            Err(error) => {
                let subject =
                    serde_json::json!({"base": comment.base, "url": poster.url(&comment.base)});
                let record = ErrorRecord::new(TOOL, PostError::KIND, error.to_string(), subject);
                report.error(record)?;
            }
        }
    }
    Ok(report.finish()?)
}

fn run_check(cli: &CheckArgs) -> anyhow::Result<u8> {
    let arch = SystemArchitecture::from_str(&cli.arch)
        .map_err(|e| anyhow::anyhow!("--arch {}: {e}", cli.arch))?;
    let http = cli.network.client()?;
    let mut keys = Keys::load(&cli.keyring)?;
    let cache = match &cli.cache {
        Some(cache) => cache.clone(),
        None => minicluster::cli::cache_dir("sources")
            .context("no --cache, and neither XDG_CACHE_HOME nor HOME is set")?,
    };
    let mut report = Report::stdout(TOOL);
    let folders = if cli.folders.is_empty() {
        folders_from_stdin(&mut report)?
    } else {
        cli.folders
            .iter()
            .map(|folder| (folder.clone(), None))
            .collect()
    };
    let now = Timestamp::now().unix();
    report.add("pkgbuilds", folders.len() as u64);
    for key in ["sources", "findings", FAILED] {
        report.add(key, 0);
    }
    for (folder, fetched) in &folders {
        // Who maintains it is known without `.SRCINFO`, and matters most when that is broken.
        for finding in fetched.iter().flat_map(|f| maintainer::findings(f, now)) {
            write_finding(&mut report, finding)?;
        }
        let plan = match plan::plan(folder, &arch) {
            Ok(plan) => plan,
            Err(error) => {
                let subject = serde_json::json!({ "path": folder });
                report.error(ErrorRecord::new(
                    TOOL,
                    "bad_srcinfo",
                    error.to_string(),
                    subject,
                ))?;
                continue;
            }
        };
        if let Some(keyserver) = &cli.keyserver {
            keys.fetch_missing(&http, keyserver, &plan.valid_pgp_keys);
        }
        let fetcher = Fetcher {
            http: &http,
            cache: cache.clone(),
            max_bytes: cli.max_source_size.get(),
            keys: &keys,
        };
        let mut outcome = fetcher.check(folder, &plan);
        outcome.findings.extend(text::findings(folder, &plan));
        if let Some(previous) = fetched.as_ref().and_then(|f| f.previous_commit.as_ref()) {
            outcome
                .findings
                .extend(history::findings(folder, previous, &plan, &arch));
        }
        for source in outcome.sources {
            report.count("sources");
            report.write(&Record::Source(source))?;
        }
        for finding in outcome.findings {
            write_finding(&mut report, finding)?;
        }
    }
    Ok(report.finish()?)
}

/// Writes a finding; one of severity error counts as a failed item (exit status 1).
fn write_finding(report: &mut Report, finding: FindingRecord) -> io::Result<()> {
    report.count("findings");
    if finding.severity == Severity::Error {
        report.count(FAILED);
    }
    report.write(&Record::Finding(finding))
}

/// A PKGBUILD folder to check, with the `pkgbuild` record that named it, if one did.
type Folder = (PathBuf, Option<PkgbuildRecord>);

/// The folder of every `pkgbuild` record on stdin, with the record; other records pass through.
fn folders_from_stdin(report: &mut Report) -> anyhow::Result<Vec<Folder>> {
    let stdin = io::stdin();
    anyhow::ensure!(
        !stdin.is_terminal(),
        "no PKGBUILD_DIR given and no `pkgbuild` records on stdin (see --help)"
    );
    let mut folders = Vec::new();
    for line in jsonl::read_lines(stdin.lock()) {
        match line {
            Ok(line) => match line.record {
                Record::Pkgbuild(pkgbuild) => {
                    folders.push((PathBuf::from(&pkgbuild.path), Some(pkgbuild)));
                }
                _ => report.forward(&line)?,
            },
            Err(error) => report.error(error.error_record(TOOL))?,
        }
    }
    Ok(folders)
}
