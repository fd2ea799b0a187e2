//! `mc-index` as a library: stream pacman packages into a SQLite index, and query it.
//!
//! [`indexer::run`] fills a database from package records; [`query::run`] asks it; the schema is
//! [`store::SCHEMA`].

pub mod cli;
mod counts;
pub mod indexer;
pub mod plan;
mod progress;
pub mod query;
pub mod store;

use std::io;

use anyhow::Context;
use minicluster::{cli::EXIT_OK, jsonl::RecordWriter, report::Report};

use crate::cli::{Cli, Command, IndexArgs};

/// The tool's name in error records.
pub const TOOL: &str = "mc-index";

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        None => run_index(&cli.index),
        Some(Command::Schema) => {
            print!("{}", store::SCHEMA);
            Ok(EXIT_OK)
        }
        Some(Command::Query(args)) => {
            let store = store::Store::open_read_only(&args.db)?;
            let query = query::Query {
                pattern: args.pattern,
                packages: args.packages,
                repo: args.repo,
                ignore_case: args.ignore_case,
            };
            let matches = query::run(&store, &query, &mut RecordWriter::stdout())?;
            // Nothing matched is exit status 1, as for grep.
            Ok(minicluster::cli::status(matches == 0))
        }
    }
}

fn run_index(args: &IndexArgs) -> anyhow::Result<u8> {
    let db = args.db.clone().context("--db is required")?;
    let options = indexer::Options {
        db,
        jobs: args.jobs.unwrap_or_else(cli::default_jobs),
        files_db: args.files_db,
        max_member_bytes: args.max_member_size.get(),
        progress: !args.quiet,
    };
    let http = args.network.client()?;
    let stdin = io::BufReader::new(io::stdin());
    indexer::run(&options, &http, stdin, Report::stdout(TOOL))
}
