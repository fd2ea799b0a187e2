//! `mc-vm` as a library: QEMU machines defined in a state folder, started in the background and
//! driven only through QMP ([`qmp::Qmp`]) and the guest agent ([`agent::Agent`]).
//!
//! [`machine::State`] holds the definitions and locks; [`qemu`] starts QEMU and picks the
//! accelerator; [`image`] runs `qemu-img` for overlays and stopped machines' snapshots;
//! [`record`] has the output records; [`run`] is the command line.

pub mod agent;
pub mod cli;
mod error;
mod guest_io;
pub mod image;
pub mod machine;
pub mod qemu;
pub mod qmp;
pub mod record;
mod snapshot;
mod trial;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use minicluster::{
    cli::{EXIT_ITEM_FAILED, EXIT_OK},
    jsonl::RecordWriter,
    record::{ErrorRecord, VmRecord},
};

pub use crate::error::VmError;
use crate::{
    agent::Agent,
    cli::{Accel, Cli, Command, DefineArgs, DownArgs, ExecArgs, UpArgs, WaitFor},
    machine::{Machine, State},
    qemu::Files,
    qmp::Qmp,
    record::Output,
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-vm";

/// How long QMP may take to answer once QEMU runs.
const QMP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a command waits for another one to release the machine's lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let root = match cli.state {
        Some(root) => root,
        None => State::default_root().context("no --state, MC_VM_STATE or HOME")?,
    };
    let root = std::path::absolute(&root).with_context(|| format!("state {}", root.display()))?;
    let state = State::new(root);
    let mut out = RecordWriter::stdout();
    let started = Instant::now();
    let mut records = Vec::new();
    let vm = |record: VmRecord| Output::Vm(Box::new(record));
    match cli.command {
        Command::Define(args) => records.push(vm(define(&state, args)?)),
        Command::List => {
            for name in state.names()? {
                match state.load(&name) {
                    Ok(machine) => records.push(vm(describe(&state, &machine, "show")?)),
                    Err(error) => records.push(Output::Error(ErrorRecord {
                        tool: TOOL.to_owned(),
                        kind: "bad_definition".to_owned(),
                        message: error.to_string(),
                        subject: serde_json::json!({ "machine": name }),
                    })),
                }
            }
        }
        Command::Show(args) => {
            records.push(vm(describe(&state, &state.load(&args.name)?, "show")?));
        }
        Command::Up(args) => records.push(vm(up(&state, &args)?)),
        Command::Status(args) => records.push(vm(status(&state, &args.name)?)),
        Command::Exec(args) => records.push(vm(exec(&state, &args)?)),
        Command::Push(args) => records.push(vm(guest_io::push(&state, &args)?)),
        Command::Pull(args) => records.push(vm(guest_io::pull(&state, &args)?)),
        Command::Console(args) => return Ok(guest_io::console(&state, &args).map(|()| EXIT_OK)?),
        Command::Snapshot(command) => {
            let changed = snapshot::run(&state, &command)?;
            records.extend(changed.into_iter().map(Output::VmSnapshot));
        }
        Command::Try(args) => records.push(Output::VmTry(trial::run(&state, &args)?)),
        Command::Down(args) => records.push(vm(down(&state, &args)?)),
    }
    let mut code = EXIT_OK;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    for mut record in records {
        let failed = match &mut record {
            Output::Vm(record) => {
                record.elapsed_ms = elapsed_ms;
                record.exit_code.is_some_and(|code| code != 0)
            }
            Output::VmSnapshot(record) => {
                record.elapsed_ms = elapsed_ms;
                false
            }
            Output::VmTry(record) => record.verdict != "passed",
            Output::Error(_) => true,
        };
        if failed {
            code = EXIT_ITEM_FAILED;
        }
        out.write(&record)?;
    }
    out.flush()?;
    Ok(code)
}

/// Writes a definition; the files it names are made absolute and must exist.
fn define(state: &State, args: DefineArgs) -> Result<VmRecord, VmError> {
    let absolute =
        |path: PathBuf| std::path::absolute(&path).map_err(VmError::io("resolving", &path));
    let machine = Machine {
        name: args.name,
        memory_mib: args.memory,
        cpus: args.cpus,
        kernel: args.kernel.map(absolute).transpose()?,
        initrd: args.initrd.map(absolute).transpose()?,
        append: args.append,
        disks: args
            .disks
            .into_iter()
            .map(absolute)
            .collect::<Result<_, _>>()?,
        agent: args.agent,
        net: args.net,
        forwards: args.forwards,
    };
    machine.check_files()?;
    let dir = state.dir(&machine.name)?;
    std::fs::create_dir_all(&dir).map_err(VmError::io("creating", &dir))?;
    let _lock = state.lock(&machine.name, LOCK_WAIT)?;
    if let Some(pid) = Files::new(dir).running_pid() {
        return Err(VmError::AlreadyRunning {
            name: machine.name,
            pid,
        });
    }
    state.define(&machine)?;
    describe(state, &machine, "define")
}

/// The record of `machine`: its definition, and whether its QEMU runs.
fn describe(state: &State, machine: &Machine, action: &str) -> Result<VmRecord, VmError> {
    let files = Files::new(state.dir(&machine.name)?);
    let pid = files.running_pid();
    let path = |path: &Option<PathBuf>| path.as_ref().map(|p| p.display().to_string());
    Ok(VmRecord {
        name: machine.name.clone(),
        action: action.to_owned(),
        state: if pid.is_some() { "running" } else { "stopped" }.to_owned(),
        memory_mib: machine.memory_mib,
        cpus: machine.cpus,
        kernel: path(&machine.kernel),
        initrd: path(&machine.initrd),
        append: machine.append.clone(),
        disks: machine
            .disks
            .iter()
            .map(|d| d.display().to_string())
            .collect(),
        agent: machine.agent,
        net: machine.net || !machine.forwards.is_empty(),
        forwards: machine.forwards.iter().map(ToString::to_string).collect(),
        pid,
        accel: files.running_accel(),
        ..VmRecord::default()
    })
}

/// Starts a machine; on any failure after QEMU started, stops it again.
fn up(state: &State, args: &UpArgs) -> Result<VmRecord, VmError> {
    let machine = state.load(&args.name)?;
    machine.check_files()?;
    let _lock = state.lock(&args.name, LOCK_WAIT)?;
    let files = Files::new(state.dir(&args.name)?);
    if let Some(pid) = files.running_pid() {
        return Err(VmError::AlreadyRunning {
            name: machine.name,
            pid,
        });
    }
    if args.wait == WaitFor::Agent && !machine.agent {
        return Err(VmError::NoAgent(machine.name));
    }
    let agent_ready = boot(
        &machine,
        &files,
        args.accel,
        args.wait,
        Duration::from_secs(args.timeout),
    )?
    .1;
    let mut record = describe(state, &machine, "up")?;
    record.agent_ready_ms = agent_ready.map(millis);
    Ok(record)
}

/// Starts `machine`'s QEMU with `files` and waits for `wait`; on any failure after QEMU
/// started, stops it again. Returns the pid, and with [`WaitFor::Agent`] the time from the start
/// until the agent answered.
fn boot(
    machine: &Machine,
    files: &Files,
    accel: Accel,
    wait: WaitFor,
    timeout: Duration,
) -> Result<(u32, Option<Duration>), VmError> {
    let accel = match accel {
        Accel::Auto => qemu::probe_accel(machine, files.dir()),
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
    };
    let started = Instant::now();
    let pid = qemu::start(machine, files, accel)?;
    let ready = match wait {
        WaitFor::Started => Qmp::connect(&files.qmp(), QMP_TIMEOUT).map(|_| None),
        WaitFor::Agent => {
            Agent::connect(&files.agent(), timeout, pid).map(|_| Some(started.elapsed()))
        }
    };
    match ready {
        Ok(ready) => Ok((pid, ready)),
        Err(error) => {
            // Best effort: the error that matters is the one that stopped the start.
            let _ = stop(files, pid, Duration::ZERO);
            Err(error)
        }
    }
}

/// A duration in whole milliseconds, for records.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The running machine `name` with an agent: its definition and files.
fn running_with_agent(state: &State, name: &str) -> Result<(Machine, Files, u32), VmError> {
    let machine = state.load(name)?;
    if !machine.agent {
        return Err(VmError::NoAgent(machine.name));
    }
    let files = Files::new(state.dir(name)?);
    match files.running_pid() {
        Some(pid) => Ok((machine, files, pid)),
        None => Err(VmError::NotRunning(machine.name)),
    }
}

/// Asks QEMU for the run state.
fn status(state: &State, name: &str) -> Result<VmRecord, VmError> {
    let machine = state.load(name)?;
    let files = Files::new(state.dir(name)?);
    let mut record = describe(state, &machine, "status")?;
    if files.running_pid().is_none() {
        return Ok(record);
    }
    let mut qmp = Qmp::connect(&files.qmp(), QMP_TIMEOUT)?;
    record.state = qmp.status()?;
    record.qemu_version = Some(qmp.version.clone());
    Ok(record)
}

/// Runs a command in the guest.
fn exec(state: &State, args: &ExecArgs) -> Result<VmRecord, VmError> {
    let (machine, files, pid) = running_with_agent(state, &args.name)?;
    let timeout = Duration::from_secs(args.timeout);
    let _lock = state.lock(&args.name, timeout)?;
    let output = Agent::connect(&files.agent(), timeout, pid)?.exec(&args.command, timeout)?;
    let mut record = describe(state, &machine, "exec")?;
    record.command = Some(args.command.clone());
    record.exit_code = Some(output.exit_code);
    record.stdout = Some(String::from_utf8_lossy(&output.stdout).into_owned());
    record.stderr = Some(String::from_utf8_lossy(&output.stderr).into_owned());
    record.output_truncated = Some(output.truncated);
    Ok(record)
}

/// Stops a machine, and cleans up after one that is already gone.
fn down(state: &State, args: &DownArgs) -> Result<VmRecord, VmError> {
    let machine = state.load(&args.name)?;
    let _lock = state.lock(&args.name, LOCK_WAIT)?;
    let files = Files::new(state.dir(&args.name)?);
    match files.running_pid() {
        Some(pid) => stop(&files, pid, Duration::from_secs(args.timeout))?,
        None => files.clean_up(),
    }
    describe(state, &machine, "down")
}

/// ACPI powerdown, then after `grace` QMP `quit`, then SIGKILL; removes the sockets.
fn stop(files: &Files, pid: u32, grace: Duration) -> Result<(), VmError> {
    if !qemu::alive(pid) {
        files.clean_up();
        return Ok(());
    }
    let qmp = Qmp::connect(&files.qmp(), QMP_TIMEOUT);
    let mut gone = false;
    if let Ok(mut qmp) = qmp {
        if !grace.is_zero() && qmp.powerdown().is_ok() {
            gone = qemu::wait_gone(pid, grace);
        }
        if !gone && qmp.quit().is_ok() {
            gone = qemu::wait_gone(pid, QMP_TIMEOUT);
        }
    }
    if !gone {
        // QMP is gone or QEMU ignores it: the process still holds the machine's files.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        if !qemu::wait_gone(pid, QMP_TIMEOUT) {
            return Err(VmError::NoExit(pid));
        }
    }
    files.clean_up();
    Ok(())
}
