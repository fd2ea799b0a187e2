//! The command line of `mc-vm`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use minicluster::cli::EXIT_STATUS_HELP;

/// QEMU machines driven through QMP and the QEMU guest agent, answering in JSON lines.
///
/// A machine is a TOML definition, `STATE/NAME/machine.toml`; while it runs, the same folder
/// holds its QMP socket (`qmp.sock`), guest-agent socket (`agent.sock`), serial console log
/// (`console.log`), QEMU's own log (`qemu.log`) and pid file (`qemu.pid`). Two mc-vm commands on
/// one machine are serialised by a lock on `STATE/NAME/lock`.
///
/// Every command prints `vm` records (see mc-records(7)).
///
/// Example: `mc-vm define web --kernel vmlinuz --initrd initrd.img --agent && mc-vm up web --wait
/// agent && mc-vm exec web -- uname -r`
#[derive(Debug, Parser)]
#[command(name = "mc-vm", version, after_help = EXIT_STATUS_HELP)]
pub struct Cli {
    /// The folder holding the machines.
    #[arg(long, global = true, env = "MC_VM_STATE", value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The operations on machines.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a machine's definition (replacing an existing one of a stopped machine).
    #[command(after_help = EXIT_STATUS_HELP)]
    Define(DefineArgs),
    /// Print a record for every defined machine.
    #[command(after_help = EXIT_STATUS_HELP)]
    List,
    /// Print a machine's definition as a record.
    #[command(after_help = EXIT_STATUS_HELP)]
    Show(NameArg),
    /// Start a machine in the background.
    #[command(after_help = EXIT_STATUS_HELP)]
    Up(UpArgs),
    /// Ask a running machine's QEMU for its run state (QMP `query-status`).
    #[command(after_help = EXIT_STATUS_HELP)]
    Status(NameArg),
    /// Run a command in the guest through the guest agent; prints its exit code and output.
    #[command(after_help = EXIT_STATUS_HELP)]
    Exec(ExecArgs),
    /// Stop a machine: ACPI power button first, QEMU `quit` after the timeout; cleans up.
    #[command(after_help = EXIT_STATUS_HELP)]
    Down(DownArgs),
}

/// A machine's name.
#[derive(Args, Debug)]
pub struct NameArg {
    /// The machine.
    pub name: String,
}

/// What `define` writes.
#[derive(Args, Debug)]
pub struct DefineArgs {
    /// The machine's name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Memory in MiB.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub memory: u64,
    /// Virtual CPUs.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub cpus: u32,
    /// A kernel to boot directly (QEMU `-kernel`).
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,
    /// The initramfs for `--kernel`.
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// The kernel command line for `--kernel`.
    #[arg(long, value_name = "STR", requires = "kernel")]
    pub append: Option<String>,
    /// A disk image (qcow2 or raw, by its contents), attached as virtio-blk; repeatable.
    #[arg(long = "disk", value_name = "FILE")]
    pub disks: Vec<PathBuf>,
    /// Give the machine a guest-agent channel (virtio-serial port `org.qemu.guest_agent.0`).
    #[arg(long)]
    pub agent: bool,
}

/// The accelerator `up` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Accel {
    /// KVM when a probe boot shows it works, else TCG.
    Auto,
    /// KVM, unprobed.
    Kvm,
    /// TCG, QEMU's emulator: slow, works everywhere.
    Tcg,
}

/// What `up` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WaitFor {
    /// Return once QEMU runs.
    Started,
    /// Return once the guest agent answers `guest-sync`.
    Agent,
}

/// How `up` starts a machine.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// The machine.
    pub name: String,
    /// The accelerator.
    #[arg(long, value_enum, default_value_t = Accel::Auto, env = "MC_VM_ACCEL")]
    pub accel: Accel,
    /// What to wait for before returning.
    #[arg(long, value_enum, default_value_t = WaitFor::Started)]
    pub wait: WaitFor,
    /// Seconds to wait; on a timeout the machine is stopped again.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
}

/// A command for the guest.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The machine.
    pub name: String,
    /// Seconds to wait for the agent and for the command.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    /// The program (searched in the guest's PATH) and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// How `down` stops a machine.
#[derive(Args, Debug)]
pub struct DownArgs {
    /// The machine.
    pub name: String,
    /// Seconds to wait for the guest to power off before QEMU is told to quit.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}
