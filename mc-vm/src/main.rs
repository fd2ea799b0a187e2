//! `mc-vm`: see `mc-vm --help` and mc-vm(1).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mc_vm::cli::Cli::parse();
    minicluster::cli::exit(mc_vm::TOOL, mc_vm::run(cli))
}
