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
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use alpm_types::SystemArchitecture;
use anyhow::Context;
use minicluster::{
    cli::NetworkArgs,
    jsonl::{self, RecordWriter},
    record::{ErrorRecord, PkgbuildRecord, Record, SummaryRecord},
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
    let started = Instant::now();
    let poster = match (args.post, &args.cookie) {
        (false, _) => None,
        (true, None) => anyhow::bail!("--post needs --cookie FILE: the AUR login to post as"),
        (true, Some(cookie)) => {
            let session = Session::read(cookie)?;
            let http = NetworkArgs::default().client()?;
            Some(Poster::new(http, &args.aur_url, session))
        }
    };
    let mut out = RecordWriter::stdout();
    let mut findings = Vec::new();
    for line in jsonl::read_lines(io::stdin().lock()) {
        match line {
            Ok(line) => {
                if let Record::Finding(finding) = line.record {
                    findings.push(finding);
                }
            }
            Err(error) => out.write(&Record::Error(error.error_record(TOOL)))?,
        }
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let comments = report::comments(&findings);
    let (mut posted, mut failed) = (0u64, 0u64);
    for comment in &comments {
        if let Some(dir) = &args.out {
            let path = dir.join(format!("{}.md", comment.base.replace('/', "_")));
            std::fs::write(&path, &comment.markdown)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        out.write(&Record::Comment(comment.clone()))?;
        let Some(poster) = &poster else { continue };
        match poster.post(comment) {
            Ok(()) => posted += 1,
            Err(error) => {
                failed += 1;
                let subject =
                    serde_json::json!({"base": comment.base, "url": poster.url(&comment.base)});
                let record = ErrorRecord::new(TOOL, PostError::KIND, error.to_string(), subject);
                out.write(&Record::Error(record))?;
            }
        }
    }
    finish(
        &mut out,
        started,
        [
            ("comments", comments.len() as u64),
            ("posted", posted),
            ("failed", failed),
        ],
        failed,
    )
}

fn run_check(cli: &CheckArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let arch = SystemArchitecture::from_str(&cli.arch)
        .map_err(|e| anyhow::anyhow!("--arch {}: {e}", cli.arch))?;
    let http = cli.network.client()?;
    let mut keys = Keys::load(&cli.keyring)?;
    let cache = match &cli.cache {
        Some(cache) => cache.clone(),
        None => minicluster::cli::cache_dir("sources")
            .context("no --cache, and neither XDG_CACHE_HOME nor HOME is set")?,
    };
    let mut out = RecordWriter::stdout();
    let folders = if cli.folders.is_empty() {
        folders_from_stdin(&mut out)?
    } else {
        cli.folders
            .iter()
            .map(|folder| (folder.clone(), None))
            .collect()
    };
    let now = unix_now();
    let (mut sources, mut findings, mut failed) = (0u64, 0u64, 0u64);
    for (folder, fetched) in &folders {
        // Who maintains it is known without `.SRCINFO`, and matters most when that is broken.
        for finding in fetched.iter().flat_map(|f| maintainer::findings(f, now)) {
            findings += 1;
            out.write(&Record::Finding(finding))?;
        }
        let plan = match plan::plan(folder, &arch) {
            Ok(plan) => plan,
            Err(error) => {
                failed += 1;
                let subject = serde_json::json!({ "path": folder });
                out.write(&Record::Error(ErrorRecord::new(
                    TOOL,
                    "bad_srcinfo",
                    error.to_string(),
                    subject,
                )))?;
                continue;
            }
        };
        if let Some(keyserver) = &cli.keyserver {
            keys.fetch_missing(&http, keyserver, &plan.valid_pgp_keys);
        }
        let fetcher = Fetcher {
            http: &http,
            cache: cache.clone(),
            max_bytes: cli.max_source_size,
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
            sources += 1;
            out.write(&Record::Source(source))?;
        }
        for finding in outcome.findings {
            findings += 1;
            failed += u64::from(finding.severity == "error");
            out.write(&Record::Finding(finding))?;
        }
    }
    finish(
        &mut out,
        started,
        [
            ("pkgbuilds", folders.len() as u64),
            ("sources", sources),
            ("findings", findings),
            ("failed", failed),
        ],
        failed,
    )
}

/// A PKGBUILD folder to check, with the `pkgbuild` record that named it, if one did.
type Folder = (PathBuf, Option<PkgbuildRecord>);

/// The folder of every `pkgbuild` record on stdin, with the record; other records pass through.
fn folders_from_stdin(out: &mut RecordWriter<io::Stdout>) -> anyhow::Result<Vec<Folder>> {
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
                _ => out.write_raw(&line.raw)?,
            },
            Err(error) => out.write(&Record::Error(error.error_record(TOOL)))?,
        }
    }
    Ok(folders)
}

/// The current time in Unix seconds (0 on a clock before 1970).
fn unix_now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    })
}

/// Writes the summary record of a run that began at `started`; the exit status says whether
/// `failed` items failed.
fn finish<'a>(
    out: &mut RecordWriter<io::Stdout>,
    started: Instant,
    counts: impl IntoIterator<Item = (&'a str, u64)>,
    failed: u64,
) -> anyhow::Result<u8> {
    out.write(&Record::Summary(SummaryRecord::new(TOOL, started, counts)))?;
    out.flush()?;
    Ok(minicluster::cli::status(failed > 0))
}
