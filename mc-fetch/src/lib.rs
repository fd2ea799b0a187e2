//! `mc-fetch` as a library: fetch sync databases from mirrors and turn them into records; ask
//! the AUR's RPC ([`aur`]) and fetch PKGBUILD repositories with git ([`aur_git`]), remembering
//! each package base's maintainer between fetches ([`aur_state`]).
//!
//! ```no_run
//! use minicluster::{cli::NetworkArgs, http::RetryPolicy};
//! let http = minicluster::http::Http::new(
//!     RetryPolicy::default(),
//!     std::time::Duration::from_secs(10),
//!     std::time::Duration::from_secs(10),
//! )?;
//! let servers = ["https://geo.mirror.pkgbuild.com/$repo/os/$arch".to_owned()];
//! let request = mc_fetch::repo::Request {
//!     servers: &servers,
//!     repo: "core",
//!     arch: "x86_64",
//!     files: false,
//!     limits: minicluster::syncdb::Limits::default(),
//! };
//! let count = mc_fetch::repo::fetch(&http, &request, |package| {
//!     println!("{:?}", package.map(|p| p.name));
//!     Ok(())
//! })?;
//! let aur = mc_fetch::aur::Aur::new(http, mc_fetch::aur::DEFAULT_AUR);
//! let found = aur.search("pacman", mc_fetch::aur::SearchBy::Name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aur;
pub mod aur_git;
pub mod aur_resolve;
pub mod aur_state;
pub mod cli;
pub mod repo;
pub mod upstream;

use std::{
    io::{self, IsTerminal},
    time::Duration,
};

use anyhow::Context;
use minicluster::{
    jsonl,
    record::{ErrorRecord, Record},
    report::Report,
    size::Size,
    syncdb::{self, Limits},
};

use crate::{
    aur_git::Checkouts,
    aur_resolve::{Official, Problem},
    cli::{AurCommand, Cli, CloneArgs, Command, InfoArgs, RepoArgs, SearchArgs},
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-fetch";

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Repo(args) => run_repo(&args),
        Command::Aur(args) => match args.command {
            AurCommand::Info(args) => run_aur_info(&args),
            AurCommand::Search(args) => run_aur_search(&args),
            AurCommand::Clone(args) => run_aur_clone(&args),
        },
        Command::Upstream(args) => upstream::run::run(&args),
    }
}

fn run_repo(args: &RepoArgs) -> anyhow::Result<u8> {
    let servers = args.servers()?;
    let http = args.network.client()?;
    let mut out = Report::stdout(TOOL);
    for repo in &args.repos {
        let request = repo::Request {
            servers: &servers,
            repo,
            arch: &args.arch,
            files: args.files,
            limits: Limits {
                entry_bytes: Size::pick(
                    args.max_entry_size,
                    args.max_entry_mib,
                    Size::mib(syncdb::DEFAULT_ENTRY_MIB),
                ),
                database_bytes: Size::pick(
                    args.max_db_size,
                    args.max_db_mib,
                    Size::mib(syncdb::DEFAULT_DATABASE_MIB),
                ),
            },
        };
        let fetched = repo::fetch(&http, &request, |entry| match entry {
            Ok(package) => {
                out.count("packages");
                out.write(&Record::Package(Box::new(package)))
            }
            Err(error) => out.error(ErrorRecord::new(
                TOOL,
                error.kind,
                error.to_string(),
                serde_json::json!({"repo": repo, "entry": error.folder}),
            )),
        });
        match fetched {
            Ok(total) => {
                if !args.quiet {
                    note(&format!("{repo}: {total} packages"));
                }
            }
            Err(error) => out.error(ErrorRecord::new(
                TOOL,
                error.kind(),
                error.to_string(),
                serde_json::json!({"repo": repo}),
            ))?,
        }
    }
    Ok(out.finish()?)
}

fn run_aur_info(args: &InfoArgs) -> anyhow::Result<u8> {
    let aur = args.rpc.client()?;
    let mut out = Report::stdout(TOOL);
    for batch in aur.info(&args.names) {
        for name in batch.missing() {
            out.error(Problem::NotFound(name.to_owned()).record())?;
        }
        match batch.result {
            Ok(packages) => {
                for package in packages {
                    out.count("aur_packages");
                    out.write(&Record::AurPackage(Box::new(package)))?;
                }
            }
            Err(error) => {
                let names = batch.names;
                out.error(Problem::Rpc { names, error }.record())?;
            }
        }
    }
    Ok(out.finish()?)
}

fn run_aur_search(args: &SearchArgs) -> anyhow::Result<u8> {
    let aur = args.rpc.client()?;
    let mut out = Report::stdout(TOOL);
    match aur.search(&args.term, args.by) {
        Ok(packages) => {
            for package in packages {
                out.count("aur_packages");
                out.write(&Record::AurPackage(Box::new(package)))?;
            }
        }
        Err(error) => out.error(ErrorRecord::new(
            TOOL,
            aur::error_kind(&error),
            aur::describe(&error),
            serde_json::json!({"term": args.term, "by": args.by.as_str()}),
        ))?,
    }
    Ok(out.finish()?)
}

fn run_aur_clone(args: &CloneArgs) -> anyhow::Result<u8> {
    aur_git::git_version().context("mc-fetch aur clone needs git (apt-get install git)")?;
    let source = args.git_source().map_err(anyhow::Error::msg)?;
    let work = args
        .work_dir()
        .context("no --work given, and neither XDG_CACHE_HOME nor HOME is set")?;
    std::fs::create_dir_all(&work)
        .with_context(|| format!("creating work folder {}", work.display()))?;
    let work = std::path::absolute(&work)?;
    let aur = args.rpc.client()?;
    let mut out = Report::stdout(TOOL);
    let official = if args.deps {
        let official = read_official(&mut out)?;
        if official.is_empty() && !args.quiet {
            note("no package records on stdin: every official dependency will be unresolved");
        }
        Some(official)
    } else {
        None
    };
    let resolution = aur_resolve::resolve(&aur, &args.names, official.as_ref());
    for problem in &resolution.problems {
        out.error(problem.record())?;
    }
    let timeout = Duration::from_secs(args.rpc.network.timeout);
    let checkouts = Checkouts::new(work, source.clone(), timeout);
    for package in resolution.base_packages() {
        let base = package.base.as_str();
        match checkouts.update(base) {
            Ok(mut record) => {
                let problems = aur_state::remember(&mut record, package);
                if !args.quiet {
                    note(&match record.previous_commit {
                        None => format!("{base}: cloned"),
                        Some(_) => format!("{base}: {} files changed", record.files_changed.len()),
                    });
                }
                let subject = serde_json::json!({"base": base, "path": record.path});
                out.count("pkgbuilds");
                out.write(&Record::Pkgbuild(record))?;
                for problem in problems {
                    let message = problem.to_string();
                    out.error(ErrorRecord::new(
                        TOOL,
                        problem.kind(),
                        message,
                        subject.clone(),
                    ))?;
                }
            }
            Err(error) => out.error(ErrorRecord::new(
                TOOL,
                error.kind(),
                error.to_string(),
                serde_json::json!({"base": base, "git_url": source.url(base)}),
            ))?,
        }
    }
    Ok(out.finish()?)
}

/// What official repositories provide, from `package` records on stdin (unless stdin is a
/// terminal). Lines that are not records become `bad_input` errors.
fn read_official(out: &mut Report) -> io::Result<Official> {
    let mut official = Official::default();
    if io::stdin().is_terminal() {
        return Ok(official);
    }
    for line in jsonl::read_lines(io::stdin().lock()) {
        match line {
            Ok(line) => {
                if let Record::Package(package) = line.record {
                    official.add(&package);
                }
            }
            Err(error) => out.error(error.error_record(TOOL))?,
        }
    }
    Ok(official)
}

/// A progress line on stderr, only when someone is watching.
fn note(message: &str) {
    if io::stderr().is_terminal() {
        eprintln!("{TOOL}: {message}");
    }
}
