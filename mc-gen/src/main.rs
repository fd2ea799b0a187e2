//! `mc-gen`: see `mc-gen --help` and mc-gen(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_gen::cli::Cli::parse();
    minicluster::cli::exit(mc_gen::TOOL, mc_gen::run(cli))
}
