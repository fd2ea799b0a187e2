//! `mc-index`: see `mc-index --help` and mc-index(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_index::cli::Cli::parse();
    minicluster::cli::exit(mc_index::TOOL, mc_index::run(cli))
}
