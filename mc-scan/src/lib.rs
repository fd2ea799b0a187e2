//! `mc-scan` as a library: built packages scanned for malware and packaging defects in one
//! streaming pass.
//!
//! [`scan::Scanner`] reads one package (any compression pacman reads) member by member and
//! sends each through [`yara`] rules (YARA-X, in-process), [`clamav`] (clamd or clamscan) and
//! the packaging checks of [`lint`] ([`mtree`], [`elf`]); [`run`] is the command line around
//! it: packages from arguments and stdin records, findings out, records forwarded.

pub mod budget;
pub mod clamav;
pub mod cli;
pub mod elf;
pub mod lint;
pub mod mtree;
pub mod pool;
pub mod scan;
pub mod yara;

use std::{
    collections::{BTreeSet, VecDeque},
    io::{self, IsTerminal},
    path::Path,
    time::Duration,
};

use minicluster::{
    cli::Load,
    jsonl,
    record::{ErrorRecord, FindingRecord, PackageRecord, Record, ScanEngine},
    report::{FAILED, Report},
    size::Size,
};

use crate::{
    clamav::{ClamAv, Clamd, Clamscan},
    cli::{Cli, Threshold},
    pool::Pool,
    scan::Options,
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-scan";

/// Runs the command line; returns the exit status.
pub fn run(cli: &Cli) -> anyhow::Result<u8> {
    let rules = yara::Rules::load(&cli.rules)?;
    if let Some(check) = &cli.explain {
        return explain(&rules, check);
    }
    let known = known_checks(&rules);
    if let Some(unknown) = cli
        .disable
        .iter()
        .find(|name| !known.contains(name.as_str()))
    {
        anyhow::bail!("--disable {unknown}: no such check, rule or engine (see --explain all)");
    }
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let clamav = match (&cli.clamd, cli.clamscan) {
        (Some(socket), _) => {
            let stream_limit = Size::pick(
                cli.clamd_max_stream_size,
                cli.clamd_max_stream_mib,
                cli::DEFAULT_CLAMD_MAX_STREAM,
            );
            ClamAv::Clamd(Clamd::new(socket, timeout, stream_limit))
        }
        // clamscan loads its whole database on every run: tens of seconds with the official one.
        (None, true) => {
            ClamAv::Clamscan(Clamscan::new(cli.clamav_database.as_deref(), timeout * 10))
        }
        (None, false) => ClamAv::Off,
    };
    let options = Options {
        disabled: cli.disable.iter().cloned().collect(),
        budget: std::sync::Arc::new(budget::Budget::new(Size::pick(
            cli.max_member_size,
            cli.max_member_mib,
            cli::DEFAULT_MAX_MEMBER,
        ))),
        yara_timeout: timeout,
    };
    // Two per core by default: much of a scan waits for clamd (on 2 CPUs, 2,000 packages and
    // a freshly started clamd: 4 jobs 5.5 s, 2 jobs 15 s; with clamd's cache warm 1.0 s and 1.5 s).
    let jobs = cli.jobs.count(Load::PerCore(2));
    std::thread::scope(|scope| {
        let mut session = Run {
            pool: Pool::start(scope, jobs, &rules, &clamav, &options),
            in_flight: jobs * 4,
            queue: VecDeque::new(),
            report: Report::stdout(TOOL),
            scanned: BTreeSet::new(),
            fail_on: cli.fail_on,
        };
        session.report.add("scanned", 0);
        session.report.add("findings", 0);
        for path in &cli.packages {
            let subject = serde_json::json!({ "path": path });
            session.scan(path, subject)?;
        }
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            for line in jsonl::read_lines(stdin.lock()) {
                match line {
                    Ok(line) => session.line(line)?,
                    Err(error) => session.push(Slot::Error(error.error_record(TOOL)))?,
                }
            }
        }
        session.finish()
    })
}

/// Every name `--disable` and `--explain` know.
fn known_checks(rules: &yara::Rules) -> BTreeSet<String> {
    let lint = lint::all().map(|check| check.name.to_owned());
    let yara = rules.describe().into_iter().map(|rule| rule.rule);
    // The engines, which `--disable` may name as a whole.
    ScanEngine::ALL
        .iter()
        .map(|engine| engine.as_str().to_owned())
        .chain(lint)
        .chain(yara)
        .chain(["clamav-not-scanned".to_owned()])
        .collect()
}

/// `--explain CHECK`: its engine, severity and description on stdout.
fn explain(rules: &yara::Rules, name: &str) -> anyhow::Result<u8> {
    let lint = lint::all().map(|check| {
        (
            ScanEngine::Lint.as_str(),
            check.name.to_owned(),
            check.severity.to_string(),
            check.description.to_owned(),
        )
    });
    let yara = rules.describe().into_iter().map(|rule| {
        (
            ScanEngine::Yara.as_str(),
            rule.rule,
            rule.severity,
            rule.description,
        )
    });
    let all: Vec<_> = lint.chain(yara).collect();
    let chosen: Vec<_> = all
        .iter()
        .filter(|(_, check, _, _)| name == "all" || check == name)
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("--explain {name}: no such check or rule (see --explain all)");
    }
    for (engine, check, severity, description) in chosen {
        println!("{check} ({engine}, {severity})\n    {description}\n");
    }
    Ok(minicluster::cli::EXIT_OK)
}

/// What is written at one place of the output, in input order.
enum Slot {
    /// A record read, forwarded as it came.
    Forward(String),
    /// An error about an input.
    Error(ErrorRecord),
    /// A package being scanned: its findings and errors come when its outcome does.
    Scan {
        /// Its id in the pool.
        id: u64,
        /// What error records say it is.
        subject: serde_json::Value,
        /// Its file, as findings name it.
        shown: String,
    },
}

/// One run: the workers, the output in order, the counts.
struct Run {
    pool: Pool,
    /// How many packages may be scanned ahead of the output.
    in_flight: usize,
    queue: VecDeque<Slot>,
    report: Report,
    /// Package files scanned already: mc-build prints a package both alone and in its build
    /// record, and it is scanned once.
    scanned: BTreeSet<String>,
    /// `--fail-on`: a finding at least this severe makes the run exit 1.
    fail_on: Threshold,
}

impl Run {
    /// Queues `slot`, then writes every slot at the head of the queue that is ready.
    fn push(&mut self, slot: Slot) -> io::Result<()> {
        self.queue.push_back(slot);
        let scanning = self
            .queue
            .iter()
            .filter(|slot| matches!(slot, Slot::Scan { .. }))
            .count();
        self.write_ready(scanning >= self.in_flight)
    }

    /// Writes the slots at the head of the queue whose records are known; with `wait`, waits
    /// for the first package's outcome on the way.
    fn write_ready(&mut self, wait: bool) -> io::Result<()> {
        let mut wait = wait;
        while let Some(slot) = self.queue.pop_front() {
            match slot {
                Slot::Forward(raw) => self.report.write_raw(&raw)?,
                Slot::Error(error) => self.report.error(error)?,
                Slot::Scan { id, subject, shown } => match self.pool.take(id, wait) {
                    Some(outcome) => {
                        self.outcome(&outcome, &subject, &shown)?;
                        wait = false;
                    }
                    None => {
                        self.queue.push_front(Slot::Scan { id, subject, shown });
                        return Ok(());
                    }
                },
            }
        }
        Ok(())
    }

    /// A record from stdin: packages in it scanned, then the record forwarded.
    fn line(&mut self, line: jsonl::Line) -> anyhow::Result<()> {
        match &line.record {
            Record::Package(package) => self.record(package)?,
            Record::Build(build) => {
                for package in &build.packages {
                    self.record(package)?;
                }
            }
            _ => {}
        }
        self.push(Slot::Forward(line.raw))?;
        Ok(())
    }

    fn record(&mut self, package: &PackageRecord) -> anyhow::Result<()> {
        let Some(path) = &package.path else {
            let message = format!(
                "package {} {} has no local path: mc-scan reads package files (download it first)",
                package.name, package.version
            );
            let error = ErrorRecord::new(TOOL, "not_local", message, package.subject());
            self.push(Slot::Error(error))?;
            return Ok(());
        };
        self.scan(Path::new(path), package.subject())
    }

    fn scan(&mut self, path: &Path, subject: serde_json::Value) -> anyhow::Result<()> {
        let shown = path.display().to_string();
        if !self.scanned.insert(shown.clone()) {
            return Ok(());
        }
        let slot = match std::fs::File::open(path) {
            Ok(file) => Slot::Scan {
                id: self.pool.submit(file, shown.clone()),
                subject,
                shown,
            },
            Err(error) => {
                let message = format!("opening {shown}: {error}");
                Slot::Error(ErrorRecord::new(TOOL, "unreadable", message, subject))
            }
        };
        self.push(slot)?;
        Ok(())
    }

    /// A package's findings and errors.
    fn outcome(
        &mut self,
        outcome: &scan::Outcome,
        subject: &serde_json::Value,
        shown: &str,
    ) -> io::Result<()> {
        self.report.count("scanned");
        self.report.add("package_bytes", outcome.bytes);
        for finding in &outcome.findings {
            self.finding(finding)?;
        }
        let mut failed = false;
        for engine in &outcome.engine_errors {
            failed = true;
            let record =
                ErrorRecord::new(TOOL, &engine.kind, engine.message.clone(), subject.clone());
            self.report.write_error(record)?;
        }
        if let Some(error) = &outcome.read_error {
            failed = true;
            let message = format!("{shown}: {error}");
            let record = ErrorRecord::new(TOOL, error.kind(), message, subject.clone());
            self.report.write_error(record)?;
        }
        // A package counts once as failed, however many of its engines failed.
        if failed {
            self.report.count(FAILED);
        }
        Ok(())
    }

    fn finding(&mut self, finding: &FindingRecord) -> io::Result<()> {
        self.report.count("findings");
        self.report.count(&format!("findings_{}", finding.severity));
        if self
            .fail_on
            .is_some_and(|threshold| finding.at_least(threshold))
        {
            self.report.mark_unsuccessful();
        }
        self.report.write(&Record::Finding(finding.clone()))
    }

    fn finish(mut self) -> anyhow::Result<u8> {
        self.pool.close();
        while !self.queue.is_empty() {
            self.write_ready(true)?;
        }
        Ok(self.report.finish()?)
    }
}
