//! `mc-vm` as a library: QEMU machines defined in a state folder, started in the background and
//! driven only through QMP ([`qmp::Qmp`]) and the guest agent ([`agent::Agent`]).
//!
//! [`machine::State`] holds the definitions and locks; [`qemu`] starts QEMU and picks the
//! accelerator; [`run`] is the command line.

pub mod agent;
pub mod cli;
pub mod machine;
pub mod qemu;
pub mod qmp;

use std::{
    io,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use minicluster::{
    cli::{EXIT_ITEM_FAILED, EXIT_OK},
    jsonl::RecordWriter,
    record::{Record, VmRecord},
};

use crate::{
    agent::Agent,
    cli::{Accel, Cli, Command, DefineArgs, DownArgs, ExecArgs, UpArgs, WaitFor},
    machine::{Machine, MachineError, State},
    qemu::Files,
    qmp::Qmp,
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-vm";

/// How long QMP may take to answer once QEMU runs.
const QMP_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong while driving a machine.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The definition or the state folder.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// A file or socket operation failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or socket.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// QEMU could not be run at all.
    #[error("running {program}: {source}")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// QEMU refused to start the machine.
    #[error("QEMU did not start {name}: {message}")]
    Start {
        /// The machine.
        name: String,
        /// QEMU's messages.
        message: String,
    },
    /// The machine does not run.
    #[error("machine {0} is not running")]
    NotRunning(String),
    /// The machine already runs.
    #[error("machine {name} is already running (pid {pid})")]
    AlreadyRunning {
        /// The machine.
        name: String,
        /// QEMU's pid.
        pid: u32,
    },
    /// The machine has no guest-agent channel.
    #[error("machine {0} has no guest agent (define it with --agent)")]
    NoAgent(String),
    /// A QMP command failed or QMP did not answer.
    #[error("QMP {}: {message}", path.display())]
    Qmp {
        /// The socket.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The guest agent failed a command.
    #[error("guest agent: {message}")]
    Agent {
        /// What failed.
        message: String,
    },
    /// The guest agent did not answer `guest-sync` in time.
    #[error("the guest agent did not answer within {seconds} s (last: {message})")]
    AgentTimeout {
        /// The timeout.
        seconds: u64,
        /// The last attempt's error.
        message: String,
    },
    /// `exec` was given no program.
    #[error("no command to run")]
    EmptyCommand,
    /// A command in the guest did not finish in time.
    #[error("{command:?} did not finish within {seconds} s")]
    ExecTimeout {
        /// The command.
        command: String,
        /// The timeout.
        seconds: u64,
    },
    /// QEMU did not exit after `quit`.
    #[error("QEMU (pid {0}) did not exit")]
    NoExit(u32),
}

impl VmError {
    fn io(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            context,
            path,
            source,
        }
    }
}

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
    match cli.command {
        Command::Define(args) => records.push(define(&state, args)?),
        Command::List => {
            for name in state.names()? {
                records.push(describe(&state, &state.load(&name)?, "show")?);
            }
        }
        Command::Show(args) => records.push(describe(&state, &state.load(&args.name)?, "show")?),
        Command::Up(args) => records.push(up(&state, &args)?),
        Command::Status(args) => records.push(status(&state, &args.name)?),
        Command::Exec(args) => records.push(exec(&state, &args)?),
        Command::Down(args) => records.push(down(&state, &args)?),
    }
    let mut code = EXIT_OK;
    for mut record in records {
        record.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if record.exit_code.is_some_and(|code| code != 0) {
            code = EXIT_ITEM_FAILED;
        }
        out.write(&Record::Vm(Box::new(record)))?;
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
    };
    machine.check_files()?;
    let dir = state.dir(&machine.name)?;
    std::fs::create_dir_all(&dir).map_err(VmError::io("creating", &dir))?;
    let _lock = state.lock(&machine.name)?;
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
        pid,
        accel: files.running_accel(),
        ..VmRecord::default()
    })
}

/// Starts a machine; on any failure after QEMU started, stops it again.
fn up(state: &State, args: &UpArgs) -> Result<VmRecord, VmError> {
    let machine = state.load(&args.name)?;
    machine.check_files()?;
    let _lock = state.lock(&args.name)?;
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
    let accel = match args.accel {
        Accel::Auto => qemu::probe_accel(&machine, &state.dir(&args.name)?),
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
    };
    let started = Instant::now();
    let pid = qemu::start(&machine, &files, accel)?;
    let timeout = Duration::from_secs(args.timeout);
    let ready = match args.wait {
        WaitFor::Started => Qmp::connect(&files.qmp(), QMP_TIMEOUT).map(|_| None),
        WaitFor::Agent => Agent::connect(&files.agent(), timeout).map(|_| Some(started.elapsed())),
    };
    let agent_ready = match ready {
        Ok(ready) => ready,
        Err(error) => {
            // Best effort: the error that matters is the one that stopped the start.
            let _ = stop(&files, pid, Duration::ZERO);
            return Err(error);
        }
    };
    let mut record = describe(state, &machine, "up")?;
    record.agent_ready_ms = agent_ready.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Ok(record)
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
    let machine = state.load(&args.name)?;
    if !machine.agent {
        return Err(VmError::NoAgent(machine.name));
    }
    let files = Files::new(state.dir(&args.name)?);
    if files.running_pid().is_none() {
        return Err(VmError::NotRunning(machine.name));
    }
    let timeout = Duration::from_secs(args.timeout);
    let output = Agent::connect(&files.agent(), timeout)?.exec(&args.command, timeout)?;
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
    let _lock = state.lock(&args.name)?;
    let files = Files::new(state.dir(&args.name)?);
    match files.running_pid() {
        Some(pid) => stop(&files, pid, Duration::from_secs(args.timeout))?,
        None => files.clean_up(),
    }
    describe(state, &machine, "down")
}

/// ACPI powerdown, then after `grace` QMP `quit`, then SIGKILL; removes the sockets.
fn stop(files: &Files, pid: u32, grace: Duration) -> Result<(), VmError> {
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
