//! `mc-verify`: see `mc-verify --help` and mc-verify(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_verify::cli::Cli::parse();
    minicluster::cli::exit(mc_verify::TOOL, mc_verify::run(cli))
}
