//! `mc-build`: see `mc-build --help` and mc-build(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_build::cli::Cli::parse();
    minicluster::cli::exit(mc_build::TOOL, mc_build::run(cli))
}
