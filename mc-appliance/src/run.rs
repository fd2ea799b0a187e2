//! The command line's edge: options into the library's structs, records to stdout as they
//! come, the exit status.

use anyhow::Context;
use minicluster::{
    cli::{EXIT_ITEM_FAILED, EXIT_OK},
    jsonl::RecordWriter,
    record::Record,
};

use std::time::Duration;

use crate::{
    catalog,
    cli::{Cli, Command, LoggingKind},
    logging::{Logging, Syslog},
    monitor::{self, CleanupOptions, MonitorOptions},
    ops::{self, BackupOptions, DefineOptions, Env, FailOverOptions, RestoreOptions, RunOptions},
    state::{Appliance, Folders},
    steps::Sink,
    upgrade::{self, Direction, VersionOptions},
};

/// Records straight to stdout, so a long command shows its steps as they finish; and to the
/// appliance's syslog receiver, if it has one.
struct Stdout(
    RecordWriter<std::io::Stdout>,
    Option<std::io::Error>,
    Option<Syslog>,
);

impl Sink for Stdout {
    fn record(&mut self, record: Record) {
        if let Some(syslog) = &mut self.2
            && let Err(error) = syslog.send(&record)
        {
            // Logging copies stdout: a receiver that is gone is said once, and logging stops.
            eprintln!("mc-appliance: {error}; not logging the rest of this command");
            self.2 = None;
        }
        if let Err(error) = self.0.write(&record) {
            self.1.get_or_insert(error);
        }
    }
}

/// The appliance's logging: what `define` is given, else what the appliance was defined with.
fn logging(command: &Command, folders: &Folders) -> Option<Logging> {
    match command {
        Command::Define(args) => args.logging.map(|kind| match kind {
            LoggingKind::Syslog => Logging::Syslog {
                address: args.syslog.clone(),
            },
        }),
        other => Appliance::load(folders, other.name()).ok()?.logging,
    }
}

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let folders = Folders::new(cli.state, cli.images).context("no --state/--images and no HOME")?;
    let apps = catalog::load(cli.catalog.as_deref())?;
    let logging = logging(&cli.command, &folders);
    let syslog = match &logging {
        Some(Logging::Syslog { address }) => Some(Syslog::connect(address)?),
        None => None,
    };
    let mut out = Stdout(RecordWriter::stdout(), None, syslog);
    let mut env = Env {
        folders: &folders,
        apps: &apps,
        sink: &mut out,
    };
    let run = RunOptions { accel: cli.accel };
    let result = match cli.command {
        Command::Define(args) => ops::define(
            &mut env,
            &args.name,
            &DefineOptions {
                app: args.app,
                replicas: args.replicas,
                logging,
            },
        ),
        Command::Up(args) => ops::up(&mut env, &args.name, run),
        Command::Down(args) => ops::down(&mut env, &args.name),
        Command::Status(args) => ops::status(&mut env, &args.name),
        Command::Show(args) => ops::show(&mut env, &args.name),
        Command::CheckHealth(args) => ops::check_health(&mut env, &args.name),
        Command::Backup(args) => ops::backup(
            &mut env,
            &args.name,
            &BackupOptions {
                to: args.to,
                keep: args.keep,
            },
        ),
        Command::Restore(args) => ops::restore(
            &mut env,
            &args.name,
            &RestoreOptions {
                from: args.from,
                into: args.into,
                run,
            },
        ),
        Command::FailOver(args) => ops::fail_over(
            &mut env,
            &args.name,
            FailOverOptions {
                when_down: args.when_down,
                run,
            },
        ),
        Command::Upgrade(args) => upgrade::change_version(
            &mut env,
            &args.name,
            &VersionOptions {
                direction: Direction::Upgrade,
                to: args.to,
            },
        ),
        Command::Downgrade(args) => upgrade::change_version(
            &mut env,
            &args.name,
            &VersionOptions {
                direction: Direction::Downgrade,
                to: args.to,
            },
        ),
        Command::Monitor(args) => monitor::monitor(
            &mut env,
            &args.name,
            MonitorOptions {
                interval: Duration::from_secs(args.interval),
                count: args.count,
            },
        ),
        Command::Cleanup(args) => monitor::cleanup(
            &mut env,
            &args.name,
            &CleanupOptions {
                backups: args.backups.zip(args.keep),
            },
        ),
    };
    let record = result?;
    let ok = record.ok;
    out.record(Record::Appliance(Box::new(record)));
    out.0.flush()?;
    if let Some(error) = out.1 {
        return Err(error).context("writing records");
    }
    Ok(if ok { EXIT_OK } else { EXIT_ITEM_FAILED })
}
