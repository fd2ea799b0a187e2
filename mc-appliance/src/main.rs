//! `mc-appliance`: see `mc-appliance --help` and mc-appliance(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_appliance::cli::Cli::parse();
    minicluster::cli::exit(mc_appliance::TOOL, mc_appliance::run(cli))
}
