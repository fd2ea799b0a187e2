//! `mc-fetch` as a library: fetch sync databases from mirrors and turn them into records.
//!
//! ```no_run
//! use minicluster::{cli::NetworkArgs, http::RetryPolicy};
//! let http = minicluster::http::Http::new(
//!     RetryPolicy::default(),
//!     std::time::Duration::from_secs(10),
//!     std::time::Duration::from_secs(10),
//! )?;
//! let servers = ["https://geo.mirror.pkgbuild.com/$repo/os/$arch".to_owned()];
//! let packages = mc_fetch::repo::fetch(&http, &servers, "core", "x86_64", false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cli;
pub mod repo;

use std::io::{self, IsTerminal};

use minicluster::{
    cli::{EXIT_ITEM_FAILED, EXIT_OK},
    jsonl::RecordWriter,
    record::{ErrorRecord, Record},
};

use crate::cli::{Cli, Command, RepoArgs};

/// The tool's name in error records.
pub const TOOL: &str = "mc-fetch";

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Repo(args) => run_repo(&args),
    }
}

fn run_repo(args: &RepoArgs) -> anyhow::Result<u8> {
    let servers = args.servers()?;
    let http = args.network.client()?;
    let mut out = RecordWriter::stdout();
    let mut failed = false;
    for repo in &args.repos {
        match repo::fetch(&http, &servers, repo, &args.arch, args.files) {
            Ok(entries) => {
                let total = entries.len();
                for entry in entries {
                    let record = entry.map(|package| Record::Package(Box::new(package)));
                    let record = record.unwrap_or_else(|error| {
                        failed = true;
                        Record::Error(ErrorRecord::new(
                            TOOL,
                            "bad_entry",
                            error.to_string(),
                            serde_json::json!({"repo": repo, "entry": error.folder}),
                        ))
                    });
                    out.write(&record)?;
                }
                if !args.quiet {
                    note(&format!("{repo}: {total} packages"));
                }
            }
            Err(error) => {
                failed = true;
                out.write(&Record::Error(ErrorRecord::new(
                    TOOL,
                    error.kind(),
                    error.to_string(),
                    serde_json::json!({"repo": repo}),
                )))?;
            }
        }
    }
    out.flush()?;
    Ok(if failed { EXIT_ITEM_FAILED } else { EXIT_OK })
}

/// A progress line on stderr, only when someone is watching.
fn note(message: &str) {
    if io::stderr().is_terminal() {
        eprintln!("{TOOL}: {message}");
    }
}
