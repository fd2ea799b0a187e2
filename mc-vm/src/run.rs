//! The command line's edge: clap's arguments become the library's option structs, the records
//! go to stdout, and the exit status says whether any item failed.

use std::time::Duration;

use anyhow::Context;
use minicluster::{
    cli::EXIT_OK,
    record::{ErrorRecord, Record, TryVerdict},
    report::Report,
};

use crate::{
    DownOptions, PullOptions, SnapshotOptions, TOOL, TryOptions, UpOptions, api, build,
    cli::{Cli, Command, DefineArgs, ImageCommand, SnapshotCommand},
    console, guest_io,
    image::SnapshotChange,
    machine::{Machine, State},
    snapshot, trial,
};

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let root = match cli.state {
        Some(root) => root,
        None => State::default_root().context("no --state, MC_VM_STATE or HOME")?,
    };
    let root = std::path::absolute(&root).with_context(|| format!("state {}", root.display()))?;
    let state = State::new(root);
    let report = Report::stdout(TOOL);
    let vm = |record| Record::Vm(Box::new(record));
    let seconds = Duration::from_secs;
    let records = match cli.command {
        Command::Define(args) => vec![vm(api::define(&state, machine(args))?)],
        Command::List => api::list(&state)?
            .into_iter()
            .map(|(name, record)| match record {
                Ok(record) => vm(record),
                Err(error) => Record::Error(ErrorRecord::new(
                    TOOL,
                    "bad_definition",
                    error.to_string(),
                    serde_json::json!({ "machine": name }),
                )),
            })
            .collect(),
        Command::Show(args) => vec![vm(api::show(&state, &args.name)?)],
        Command::Up(args) => {
            let options = UpOptions {
                accel: args.accel,
                wait: args.wait,
                timeout: seconds(args.timeout),
            };
            vec![vm(api::up(&state, &args.name, &options)?)]
        }
        Command::Status(args) => vec![vm(api::status(&state, &args.name)?)],
        Command::Exec(args) => vec![vm(api::exec(
            &state,
            &args.name,
            &args.command,
            seconds(args.timeout),
        )?)],
        Command::Push(args) => vec![vm(guest_io::push(
            &state,
            &args.name,
            &args.local,
            &args.guest,
            seconds(args.timeout),
        )?)],
        Command::Pull(args) => {
            let options = PullOptions {
                max_bytes: args.max_size.get(),
                timeout: seconds(args.timeout),
            };
            vec![vm(guest_io::pull(
                &state,
                &args.name,
                &args.guest,
                &args.local,
                &options,
            )?)]
        }
        Command::Console(args) => return Ok(console::console(&state, &args).map(|()| EXIT_OK)?),
        Command::Snapshot(command) => {
            let (change, args) = match command {
                SnapshotCommand::List(args) => {
                    let listed = snapshot::snapshots(&state, &args.name)?;
                    return write(listed.into_iter().map(Record::VmSnapshot).collect(), report);
                }
                SnapshotCommand::Create(args) => (SnapshotChange::Create, args),
                SnapshotCommand::Revert(args) => (SnapshotChange::Revert, args),
                SnapshotCommand::Delete(args) => (SnapshotChange::Delete, args),
            };
            let options = SnapshotOptions {
                timeout: seconds(args.timeout),
            };
            vec![Record::VmSnapshot(snapshot::snapshot(
                &state,
                &args.name,
                change,
                &args.snapshot,
                &options,
            )?)]
        }
        Command::Try(args) => {
            let options = TryOptions {
                run: args.run,
                checks: args.checks,
                keep: args.keep,
                accel: args.accel,
                timeout: seconds(args.timeout),
                step_timeout: seconds(args.step_timeout),
            };
            vec![Record::VmTry(trial::try_change(
                &state, &args.name, &options,
            )?)]
        }
        Command::Image(ImageCommand::Build(args)) => {
            vec![Record::VmImage(build::build(&args.recipe, &args.out)?)]
        }
        Command::Down(args) => {
            let options = DownOptions {
                timeout: seconds(args.timeout),
            };
            vec![vm(api::down(&state, &args.name, &options)?)]
        }
    };
    write(records, report)
}

/// The definition `define` writes.
fn machine(args: DefineArgs) -> Machine {
    Machine {
        name: args.name,
        memory_mib: args.memory,
        cpus: args.cpus,
        kernel: args.kernel,
        initrd: args.initrd,
        append: args.append,
        disks: args.disks,
        agent: args.agent,
        net: args.net,
        forwards: args.forwards,
        nics: args.nics,
    }
}

/// Writes `records` with the run's wall time, then the summary: one count per machine, snapshot,
/// try or image; exit status 1 when a command in the guest or a try failed, or a record is an
/// error.
fn write(records: Vec<Record>, mut report: Report) -> anyhow::Result<u8> {
    let elapsed_ms = report.elapsed_ms();
    for mut record in records {
        let (key, failed) = match &mut record {
            Record::Vm(record) => {
                record.elapsed_ms = elapsed_ms;
                ("machines", record.exit_code.is_some_and(|code| code != 0))
            }
            Record::VmSnapshot(record) => {
                record.elapsed_ms = elapsed_ms;
                ("snapshots", false)
            }
            Record::VmTry(record) => ("tries", record.verdict != TryVerdict::Passed),
            Record::VmImage(_) => ("images", false),
            Record::Error(error) => {
                report.error(std::mem::take(error))?;
                continue;
            }
            _ => ("other", true),
        };
        report.count(key);
        if failed {
            report.mark_unsuccessful();
        }
        report.write(&record)?;
    }
    Ok(report.finish()?)
}
