//! The command line of `mc-vm`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::{cli::EXIT_STATUS_HELP, size::Size};

use crate::{
    api::{Accel, WaitFor},
    machine::Forward,
    network::Nic,
};

/// QEMU machines driven through QMP and the QEMU guest agent, answering in JSON lines.
///
/// A machine is a TOML definition, `STATE/NAME/machine.toml`; while it runs, the same folder
/// holds its QMP socket (`qmp.sock`), guest-agent socket (`agent.sock`), serial console socket
/// (`console.sock`) and log (`console.log`, kept after `down`), QEMU's own log (`qemu.log`) and
/// pid file (`qemu.pid`); `try` keeps its throwaway copy in `STATE/NAME/try/`. Two mc-vm commands
/// on one machine are serialised by a lock on `STATE/NAME/lock` (a command waits up to 30 s for
/// it, `exec`, `push` and `pull` up to their `--timeout`).
///
/// Every wait has a timeout: a QEMU that was killed, an agent that never answers or a QMP
/// socket that closes is an error (exit status 2), and `up` and `try` stop what they started.
///
/// Every command but `console` prints records (see mc-records(7)): `vm`, `vm_snapshot` for
/// `snapshot`, `vm_try` for `try`.
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
    ///
    /// A definition that does not parse becomes an `error` record (kind `bad_definition`) and
    /// the others are still listed.
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
    /// Copy a file from the host into the guest through the guest agent.
    #[command(after_help = EXIT_STATUS_HELP)]
    Push(PushArgs),
    /// Copy a file from the guest to the host through the guest agent.
    #[command(after_help = EXIT_STATUS_HELP)]
    Pull(PullArgs),
    /// The serial console: talk to it, or print what the guest wrote on it since `up`.
    ///
    /// Interactive on a terminal (Ctrl-] leaves). With stdin from a pipe, sends it and prints
    /// what the guest answers until `--until` text shows up or `--timeout` passes.
    /// Prints the console's bytes, not records.
    #[command(after_help = EXIT_STATUS_HELP)]
    Console(ConsoleArgs),
    /// Internal snapshots of a machine's qcow2 disks.
    ///
    /// While the machine runs, QMP's `snapshot-save`/`snapshot-load`/`snapshot-delete` jobs
    /// take memory and device state too, and `revert` puts the running guest back to that
    /// moment. While it is stopped, `qemu-img snapshot` does it for the disks only. Every disk
    /// must be qcow2 (`qemu-img create -f qcow2 data.qcow2 1G`); the first holds the memory.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Test a change on a throwaway copy of a stopped machine before making it for real.
    ///
    /// Each disk gets a qcow2 overlay (the machine's own disks are opened read-only, never
    /// written); the copy boots, `--run` runs in it through the guest agent (`sh -c`), then
    /// every `--check`. One `vm_try` record gives the verdict and every step's output. Then
    /// the copy is thrown away; with `--keep`, when every step exited 0, it is committed into
    /// the machine's disks instead. Exit status 1 when the verdict is `failed`.
    ///
    /// Example: `mc-vm try arch --run 'pacman -Syu --noconfirm' --check 'systemctl
    /// is-system-running' --keep`
    #[command(after_help = EXIT_STATUS_HELP)]
    Try(TryArgs),
    /// Disk images for machines.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Stop a machine: ACPI power button first, QEMU `quit` after the timeout; cleans up.
    #[command(after_help = EXIT_STATUS_HELP)]
    Down(DownArgs),
}

/// The image operations.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a root disk (qcow2), a data disk, a kernel and an initramfs from a recipe.
    ///
    /// The recipe (TOML) names the base (`debian`: mmdebstrap from Debian's mirror; `arch`:
    /// pacstrap with the host's pacman configuration), packages with optional pinned versions,
    /// files, services to enable, users, and the folder that lives on the data disk. Every
    /// image gets systemd, qemu-guest-agent, a kernel and systemd-networkd (DHCP on QEMU's user
    /// network; fixed addresses from `ip=` on the kernel command line). No loop mounts:
    /// `mkfs.ext4 -d` makes the file systems. Needs root for the bootstrap.
    ///
    /// DIR is a cache keyed by the recipe's hash: when it holds the image of the same recipe
    /// already, nothing is built (`cached: true`). `DIR/manifest.json` lists every installed
    /// package's version. Prints one `vm_image` record.
    ///
    /// Example: `mc-vm image build postgresql.toml --out ~/.cache/minicluster/images/pg`
    #[command(after_help = EXIT_STATUS_HELP)]
    Build(ImageBuildArgs),
}

/// What `image build` builds.
#[derive(Args, Debug)]
pub struct ImageBuildArgs {
    /// The recipe (TOML).
    pub recipe: PathBuf,
    /// The image's folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The snapshot operations.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Take snapshot SNAP of every disk (and, while running, of memory and devices).
    #[command(after_help = EXIT_STATUS_HELP)]
    Create(SnapshotArgs),
    /// Print a `vm_snapshot` record for every snapshot of the machine's disks.
    #[command(after_help = EXIT_STATUS_HELP)]
    List(SnapshotListArgs),
    /// Put the disks (and, while running, the guest) back to snapshot SNAP.
    #[command(after_help = EXIT_STATUS_HELP)]
    Revert(SnapshotArgs),
    /// Delete snapshot SNAP from every disk.
    #[command(after_help = EXIT_STATUS_HELP)]
    Delete(SnapshotArgs),
}

/// A machine and one of its snapshots.
#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// The machine.
    pub name: String,
    /// The snapshot (a letter, then letters, digits, `-`, `_`, `.`).
    pub snapshot: String,
    /// Seconds to wait for QEMU's snapshot job.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Whose snapshots to list.
#[derive(Args, Debug)]
pub struct SnapshotListArgs {
    /// The machine.
    pub name: String,
}

/// A file to copy into the guest.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The machine.
    pub name: String,
    /// The file on the host.
    pub local: PathBuf,
    /// Where it goes in the guest (an absolute path; the folder must exist).
    pub guest: String,
    /// Seconds to wait for the agent, and for each chunk.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
}

/// A file to copy out of the guest.
#[derive(Args, Debug)]
pub struct PullArgs {
    /// The machine.
    pub name: String,
    /// The file in the guest.
    pub guest: String,
    /// Where it goes on the host (written beside, then renamed into place).
    pub local: PathBuf,
    /// The largest file accepted. SIZE is bytes, or a number with K, M, G or T (powers of
    /// 1024); `--max-bytes` is its old name.
    #[arg(long, alias = "max-bytes", default_value_t = Size::bytes(1 << 30), value_name = "SIZE")]
    pub max_size: Size,
    /// Seconds to wait for the agent, and for each chunk.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
}

/// How to use the console.
#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// The machine.
    pub name: String,
    /// Print the console log (`STATE/NAME/console.log`) and leave; works on a stopped machine.
    #[arg(long)]
    pub log: bool,
    /// With stdin from a pipe: stop as soon as the guest's answer contains this text.
    #[arg(long, value_name = "TEXT", conflicts_with = "log")]
    pub until: Option<String>,
    /// With stdin from a pipe: seconds to wait for the answer; with `--until`, not finding the
    /// text in time is an error.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
}

/// What `try` runs.
#[derive(Args, Debug)]
pub struct TryArgs {
    /// The machine; it must be stopped and have a guest agent.
    pub name: String,
    /// The change to test, a shell command run in the copy (`sh -c`).
    #[arg(long, value_name = "CMD")]
    pub run: String,
    /// A shell command that must exit 0 afterwards; repeatable, each runs even when one fails.
    #[arg(long = "check", value_name = "CMD")]
    pub checks: Vec<String>,
    /// Commit the copy into the machine's disks when the run and every check passed.
    #[arg(long)]
    pub keep: bool,
    /// The accelerator.
    #[arg(long, value_enum, default_value_t = Accel::Auto, env = "MC_VM_ACCEL")]
    pub accel: Accel,
    /// Seconds to wait for the copy's guest agent.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
    /// Seconds each step may take.
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    pub step_timeout: u64,
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
    /// Give the machine a network card (virtio-net) on QEMU's user-mode network: NAT to the
    /// host's network, guest address 10.0.2.15, gateway and DNS 10.0.2.2/10.0.2.3.
    #[arg(long)]
    pub net: bool,
    /// Forward TCP port HOST_PORT of the host's 127.0.0.1 to GUEST_PORT in the guest
    /// (`8080:80`, or `tcp:8080:80`); repeatable; implies `--net`.
    #[arg(long = "forward", value_name = "HOST_PORT:GUEST_PORT")]
    pub forwards: Vec<Forward>,
    /// A card on private network NETWORK with the guest's fixed address (`lan:10.77.0.2/24`);
    /// repeatable. The machines on one network reach each other (the network's switch, a QEMU
    /// without a machine, joins them over UDP on 127.0.0.1); the guest gets the address through
    /// `ip=` on its kernel command line (images of `mc-vm image build` apply it).
    #[arg(long = "nic", value_name = "NETWORK:ADDRESS/PREFIX")]
    pub nics: Vec<Nic>,
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
