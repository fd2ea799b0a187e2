//! `mc-netboot`: see `mc-netboot --help` and mc-netboot(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_netboot::cli::Cli::parse();
    minicluster::cli::exit(mc_netboot::TOOL, mc_netboot::run(cli))
}
