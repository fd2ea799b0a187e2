//! The command line of `mc-appliance`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mc_vm::Accel;
use minicluster::cli::EXIT_STATUS_HELP;

/// Service appliances in QEMU machines with one command set, answering in JSON lines.
///
/// An appliance is an application (from the catalogue: built in, or `--catalog DIR`) on one
/// primary machine and N replicas, on a private network of their own, each reachable from the
/// host on a forwarded port of 127.0.0.1. Its state lives in `$XDG_STATE_HOME/minicluster/
/// appliances/NAME` (else under `~/.local/state`), its image in `$XDG_CACHE_HOME/minicluster/
/// images` (else under `~/.cache`).
///
/// Every command prints one `appliance_step` record per step (guest command, exit code, time),
/// then one `appliance` record: state, `endpoints` (each role's client URL; they follow a
/// fail-over), `ok`. A command that fails part-way leaves a named state (`up-failed`,
/// `fail-over-failed`, ...) and its `recover` field names the command that gets out of it.
///
/// Example: `mc-appliance define db --app postgresql --replicas 1 && mc-appliance up db &&
/// psql "$(mc-appliance show db | jq -r .endpoints.primary)"`
#[derive(Debug, Parser)]
#[command(name = "mc-appliance", version, after_help = format!("{}\n{EXIT_STATUS_HELP}", crate::catalog::help()))]
pub struct Cli {
    /// The folder holding the appliances.
    #[arg(long, global = true, env = "MC_APPLIANCE_STATE", value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The folder the images are built in, one per recipe.
    #[arg(long, global = true, env = "MC_APPLIANCE_IMAGES", value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// A folder of appliance definitions (`APP.toml`) beside the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// The accelerator of the machines.
    #[arg(long, global = true, value_enum, default_value_t = Accel::Auto, env = "MC_VM_ACCEL")]
    pub accel: Accel,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Define an appliance: its app, its machines' names, addresses and ports, a password.
    #[command(after_help = EXIT_STATUS_HELP)]
    Define(DefineArgs),
    /// Build (or find) the image, start every machine, run the app's start-up steps (a
    /// replica is made from the primary).
    #[command(after_help = EXIT_STATUS_HELP)]
    Up(NameArg),
    /// Stop every machine and remove their disks: nothing runs and nothing is left but the
    /// definition (and backups); the next `up` starts fresh from the image.
    #[command(after_help = EXIT_STATUS_HELP)]
    Down(NameArg),
    /// The appliance with each machine's run state.
    #[command(after_help = EXIT_STATUS_HELP)]
    Status(NameArg),
    /// The appliance's definition and endpoints.
    #[command(after_help = EXIT_STATUS_HELP)]
    Show(NameArg),
    /// Run the app's health checks (one step record each); the verdict is `healthy` or
    /// `unhealthy` (exit status 1).
    #[command(after_help = EXIT_STATUS_HELP)]
    CheckHealth(NameArg),
    /// Back the primary up into `--to DIR`: the dump (zstd), then `NAME-TIME.json` with its
    /// sha256 (a backup without it is incomplete); `backup` in the record is the file.
    #[command(after_help = EXIT_STATUS_HELP)]
    Backup(BackupArgs),
    /// Restore a backup (refused when its sha256 does not match its manifest) into the
    /// appliance, or with `--into NEW` into a fresh appliance of the same app.
    #[command(after_help = EXIT_STATUS_HELP)]
    Restore(RestoreArgs),
    /// Promote the first replica, point the primary endpoint at it, and rejoin the old primary
    /// as a replica (pg_rewind for PostgreSQL). A primary that answers is stopped first; with
    /// `--when-down` a primary that answers is left as it is.
    #[command(name = "fail-over", after_help = EXIT_STATUS_HELP)]
    FailOver(FailOverArgs),
    /// Move every machine to a newer version of the app's package (`--to`, else the newest),
    /// after a live snapshot of each; restart and check health. Any failure rolls every
    /// machine back to its snapshot by itself (`rolled_back` in the record, exit status 1).
    #[command(after_help = EXIT_STATUS_HELP)]
    Upgrade(VersionArgs),
    /// Move every machine back to the version before the last upgrade (or `--to`), the data
    /// kept, guarded by snapshots like `upgrade`.
    #[command(after_help = EXIT_STATUS_HELP)]
    Downgrade(VersionArgs),
    /// Sample every machine each `--interval`: one `appliance_metrics` record per machine
    /// (PostgreSQL: connections, lag_bytes, transactions_per_s, disk_used_percent), an
    /// `appliance_alert` record for a machine that does not answer or a metric past the app's
    /// limits (exit status 1 when any was raised).
    #[command(after_help = EXIT_STATUS_HELP)]
    Monitor(MonitorArgs),
    /// Remove what piles up: old WAL, the journal past 16 MiB, staging files, snapshots an
    /// interrupted upgrade left, and with `--backups DIR --keep N` the backups past retention.
    #[command(after_help = EXIT_STATUS_HELP)]
    Cleanup(CleanupArgs),
}

impl Command {
    /// The appliance the command is about (for `restore --into`, the backup's).
    pub fn name(&self) -> &str {
        match self {
            Self::Define(args) => &args.name,
            Self::Up(args)
            | Self::Down(args)
            | Self::Status(args)
            | Self::Show(args)
            | Self::CheckHealth(args) => &args.name,
            Self::Backup(args) => &args.name,
            Self::Restore(args) => &args.name,
            Self::FailOver(args) => &args.name,
            Self::Upgrade(args) | Self::Downgrade(args) => &args.name,
            Self::Monitor(args) => &args.name,
            Self::Cleanup(args) => &args.name,
        }
    }
}

/// How `monitor` samples.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// The appliance.
    pub name: String,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10, value_name = "S")]
    pub interval: u64,
    /// Stop after N samples (else run until stopped).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// What `cleanup` removes besides the guests' leftovers.
#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// The appliance.
    pub name: String,
    /// The folder of the appliance's backups.
    #[arg(long, value_name = "DIR", requires = "keep")]
    pub backups: Option<PathBuf>,
    /// How many of its newest complete backups to keep there.
    #[arg(long, value_name = "N", requires = "backups")]
    pub keep: Option<usize>,
}

/// Which version `upgrade` or `downgrade` installs.
#[derive(Args, Debug)]
pub struct VersionArgs {
    /// The appliance.
    pub name: String,
    /// The package version (Debian's, like `15.20-0+deb12u1`).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
}

/// An appliance's name.
#[derive(Args, Debug)]
pub struct NameArg {
    /// The appliance.
    pub name: String,
}

/// What `define` lays out.
#[derive(Args, Debug)]
pub struct DefineArgs {
    /// The appliance's name (a letter, then letters, digits, `-`).
    pub name: String,
    /// The application, from the catalogue.
    #[arg(long)]
    pub app: String,
    /// Machines besides the primary.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub replicas: u32,
    /// Log every command's steps and result besides stdout: `syslog` sends each as an RFC 5424
    /// message (UDP) to `--syslog`.
    #[arg(long, value_enum, value_name = "KIND")]
    pub logging: Option<LoggingKind>,
    /// The syslog receiver of `--logging syslog`.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:514")]
    pub syslog: String,
}

/// Where `--logging` sends the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoggingKind {
    /// A syslog receiver (`--syslog HOST:PORT`).
    Syslog,
}

/// Where `backup` puts the backup.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The appliance.
    pub name: String,
    /// The folder.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Keep only the newest N complete backups of this appliance there.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
}

/// What `restore` restores.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The appliance the backup was taken of (or the one to restore into).
    pub name: String,
    /// The backup file.
    #[arg(long, value_name = "BACKUP")]
    pub from: PathBuf,
    /// A new appliance to restore into instead.
    #[arg(long, value_name = "NEW-NAME")]
    pub into: Option<String>,
}

/// When `fail-over` acts.
#[derive(Args, Debug)]
pub struct FailOverArgs {
    /// The appliance.
    pub name: String,
    /// Only when the primary does not answer.
    #[arg(long)]
    pub when_down: bool,
}
