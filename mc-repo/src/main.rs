//! `mc-repo`: see `mc-repo --help` and mc-repo(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_repo::cli::Cli::parse();
    minicluster::cli::exit(mc_repo::TOOL, mc_repo::run(cli))
}
