//! `mc-scan`: see `mc-scan --help` and mc-scan(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_scan::cli::Cli::parse();
    minicluster::cli::exit(mc_scan::TOOL, mc_scan::run(&cli))
}
