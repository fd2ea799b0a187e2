//! `mc-fetch`: see `mc-fetch --help` and mc-fetch(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_fetch::cli::Cli::parse();
    minicluster::cli::exit(mc_fetch::TOOL, mc_fetch::run(cli))
}
