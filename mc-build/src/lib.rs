//! `mc-build` as a library: package bases built in dependency order, unprivileged and offline.
//!
//! [`srcinfo`] reads what each base needs and offers, [`order`] sorts the set and names its
//! cycles, [`sandbox`] holds the isolation [`sandbox::Backend`] (bubblewrap here; its module
//! documentation says how another backend fits in), [`engine`] who runs the builds (this
//! machine, or a buildbot master's workers), [`deps`] the private pacman root for dependencies
//! the set built, [`builder`] prepares, builds and publishes one base, and [`reproducible`]
//! compares two builds. [`run`] is the command line; the scheduling of builds
//! (`--jobs`) is private to it.

pub mod builder;
pub mod cli;
pub mod deps;
pub mod engine;
pub mod order;
mod queue;
pub mod reproducible;
pub mod sandbox;
mod schedule;
pub mod srcinfo;

use std::{
    collections::BTreeMap,
    io::{self, IsTerminal},
    path::{Path, PathBuf},
};

use alpm_types::SystemArchitecture;
use anyhow::Context;
use mc_repo::repository::Repository;
use minicluster::{
    cli::{Load, NetworkArgs},
    jsonl,
    record::{BuildRecord, BuildStatus, ErrorRecord, FindingRecord, Record, Severity},
    report::{FAILED, Report},
};

use crate::{
    builder::{Publisher, Workshop},
    cli::{Cli, EngineKind},
    engine::{
        Engine,
        buildbot::{Buildbot, Paths, read_token},
        master_cfg::MasterConfig,
    },
    sandbox::{Bubblewrap, BuildUser},
    srcinfo::Base,
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-build";

/// What the run reads: PKGBUILD folders and mc-verify's findings of severity error.
#[derive(Debug, Default)]
struct Input {
    folders: Vec<PathBuf>,
    refusals: BTreeMap<String, FindingRecord>,
}

/// Writes a build's package records, then its build record, counted by status (and as
/// `unreproducible`). A failed build counts under `failed`, as error records do; a skipped one
/// makes the run exit 1 too.
fn write_build(report: &mut Report, build: BuildRecord) -> io::Result<()> {
    report.count(build.status.as_str());
    if build.status == BuildStatus::Skipped {
        report.mark_unsuccessful();
    }
    if build.reproducible == Some(false) {
        report.count("unreproducible");
    }
    for package in &build.packages {
        report.write(&Record::Package(Box::new(package.clone())))?;
    }
    report.write(&Record::Build(build))
}

/// Writes the summary (also on stderr) and gives the exit status.
fn finish(report: Report) -> anyhow::Result<u8> {
    let [built, failed, skipped] = ["built", FAILED, "skipped"].map(|key| report.get(key));
    eprintln!(
        "{TOOL}: {built} built, {failed} failed, {skipped} skipped in {:.1} s",
        report.elapsed_ms() as f64 / 1000.0
    );
    Ok(report.finish()?)
}

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    if cli.print_master_cfg {
        print!("{}", master_cfg(&cli)?);
        return Ok(0);
    }
    let no_home = "neither XDG_CACHE_HOME nor HOME is set";
    let work = cli
        .work
        .clone()
        .or_else(|| minicluster::cli::cache_dir("build"))
        .with_context(|| format!("no --work, and {no_home}"))?;
    // mc-verify's source cache.
    let sources = cli
        .sources
        .clone()
        .or_else(|| minicluster::cli::cache_dir("sources"))
        .with_context(|| format!("no --sources, and {no_home}"))?;
    let repo = cli
        .repo
        .clone()
        .unwrap_or_else(|| work.join("repo/mc-build.db.tar.zst"));
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let user = if is_root() {
        Some(BuildUser::lookup(&cli.build_user).with_context(|| {
            format!(
                "running as root, and build user {} does not exist",
                cli.build_user
            )
        })?)
    } else {
        None
    };
    let mut report = Report::stdout(TOOL);
    let mut input = Input {
        folders: cli.folders.clone(),
        ..Input::default()
    };
    if !io::stdin().is_terminal() {
        read_stdin(&mut input, &mut report)?;
    }
    let mut bases: Vec<Base> = Vec::new();
    let mut folders: BTreeMap<String, PathBuf> = BTreeMap::new();
    for folder in &input.folders {
        match srcinfo::read(folder, SystemArchitecture::X86_64) {
            Ok(base) if folders.contains_key(&base.name) => {}
            Ok(base) => {
                folders.insert(base.name.clone(), folder.clone());
                bases.push(base);
            }
            Err(error) => report.error(ErrorRecord::new(
                TOOL,
                "bad_srcinfo",
                error.to_string(),
                serde_json::json!({ "path": folder }),
            ))?,
        }
    }
    let backend = Bubblewrap {
        user: user.clone(),
        packager: cli.packager.clone(),
    };
    // Before the repository is touched: a master that cannot be used publishes nothing.
    let buildbot = match (cli.engine, &cli.master) {
        (EngineKind::Buildbot, Some(master)) => {
            Some(connect(master, &cli, &work, &sources, &repo)?)
        }
        _ => None,
    };
    let repository =
        Repository::open(&repo, true).with_context(|| format!("repository {}", repo.display()))?;
    let (repo_dir, repo_name) = match &cli.deps_repo {
        Some(path) => deps_repo(path)?,
        None => (repository.dir.clone(), repository.name.clone()),
    };
    let workshop = Workshop {
        work,
        sources,
        repo_dir,
        repo_name,
        backend: &backend,
        user,
    };
    let (engine, jobs): (&dyn Engine, usize) = match &buildbot {
        Some(buildbot) => (buildbot, cli.jobs.jobs.unwrap_or(buildbot.workers).max(1)),
        None => (&workshop, cli.jobs.count(Load::AllCores)),
    };
    let mut publisher = Publisher::new(repository, NetworkArgs::default().client()?)
        .with_context(|| format!("repository {}", repo.display()))?;
    let set = schedule::Set {
        order: order::order(&bases),
        providers: order::providers(&bases),
        bases: &bases,
        folders: &folders,
        refusals: &input.refusals,
    };
    schedule::Scheduler {
        cli: &cli,
        set: &set,
        engine,
        jobs,
    }
    .run(&workshop, &mut publisher, &mut report)?;
    finish(report)
}

/// Logs in at the buildbot master and finds its `mc-build` builder; paths go to its workers
/// absolute.
fn connect(
    master: &str,
    cli: &Cli,
    work: &Path,
    sources: &Path,
    repo: &Path,
) -> anyhow::Result<Buildbot> {
    let paths = Paths {
        work: std::path::absolute(work)?,
        sources: std::path::absolute(sources)?,
        repo: std::path::absolute(repo)?,
    };
    Ok(Buildbot::connect(master, cli.token.as_deref(), paths)?)
}

/// `--print-master-cfg`: the master.cfg for `--master`, `--worker`s and `--token`.
fn master_cfg(cli: &Cli) -> anyhow::Result<String> {
    let login = cli.token.as_deref().map(read_token).transpose()?;
    let mc_build = std::env::current_exe().context("finding this mc-build")?;
    let config = MasterConfig::for_master(
        cli.master.as_deref().unwrap_or_default(),
        &cli.workers,
        cli.worker_port,
        login,
        mc_build.display().to_string(),
    )?;
    Ok(config.render())
}

/// The folder and name of `--deps-repo DIR/NAME.db.tar.EXT`.
fn deps_repo(path: &Path) -> anyhow::Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.split_once(".db.tar"))
        .map(|(name, _)| name.to_owned())
        .filter(|name| !name.is_empty())
        .with_context(|| format!("--deps-repo {}: not DIR/NAME.db.tar.EXT", path.display()))?;
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok((dir, name))
}

/// Reads `pkgbuild` and `finding` records from stdin, forwarding every line.
fn read_stdin(input: &mut Input, report: &mut Report) -> anyhow::Result<()> {
    for line in jsonl::read_lines(io::stdin().lock()) {
        match line {
            Ok(line) => {
                report.forward(&line)?;
                match line.record {
                    Record::Pkgbuild(pkgbuild) => input.folders.push(PathBuf::from(pkgbuild.path)),
                    Record::Finding(finding) if finding.severity == Severity::Error => {
                        input
                            .refusals
                            .entry(finding.base.clone())
                            .or_insert(finding);
                    }
                    _ => {}
                }
            }
            Err(error) => report.error(error.error_record(TOOL))?,
        }
    }
    Ok(())
}

/// Whether this process runs as root (then makepkg must run as the build user).
fn is_root() -> bool {
    // /proc/self is owned by the process's effective user; no libc call needed.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}
