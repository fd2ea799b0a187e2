//! The operations on machines, callable from Rust: each takes the [`State`], a machine's name
//! and a plain option struct, and returns the record the command line prints.
//!
//! Every operation takes the machine's lock for as long as it works on the machine, so two
//! programs (or two threads) driving one machine take turns.

use std::{path::PathBuf, time::Duration};

use clap::ValueEnum;
use minicluster::record::{VmAction, VmRecord};

use crate::{
    VmError,
    agent::Agent,
    machine::{LOCK_WAIT, Machine, State},
    network,
    power::{self, millis},
    qemu::Files,
    qmp::{QMP_TIMEOUT, Qmp},
};

/// The accelerator a machine starts with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Accel {
    /// KVM when a probe boot shows it works, else TCG.
    #[default]
    Auto,
    /// KVM, unprobed.
    Kvm,
    /// TCG, QEMU's emulator: slow, works everywhere.
    Tcg,
}

/// What [`up`] waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum WaitFor {
    /// Return once QEMU runs.
    #[default]
    Started,
    /// Return once the guest agent answers `guest-sync`.
    Agent,
}

/// How [`up`] starts a machine.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The accelerator.
    pub accel: Accel,
    /// What to wait for before returning.
    pub wait: WaitFor,
    /// How long to wait; on a timeout the machine is stopped again.
    pub timeout: Duration,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            accel: Accel::Auto,
            wait: WaitFor::Started,
            timeout: Duration::from_secs(120),
        }
    }
}

/// How [`down`] stops a machine.
#[derive(Clone, Debug)]
pub struct DownOptions {
    /// How long the guest may take to power off before QEMU is told to quit.
    pub timeout: Duration,
}

impl Default for DownOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
        }
    }
}

/// Writes `machine`'s definition (replacing the one of a stopped machine); the files it names
/// are made absolute and must exist.
pub fn define(state: &State, machine: Machine) -> Result<VmRecord, VmError> {
    let absolute =
        |path: PathBuf| std::path::absolute(&path).map_err(VmError::io("resolving", &path));
    let machine = Machine {
        kernel: machine.kernel.map(absolute).transpose()?,
        initrd: machine.initrd.map(absolute).transpose()?,
        disks: machine
            .disks
            .into_iter()
            .map(absolute)
            .collect::<Result<_, _>>()?,
        ..machine
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
    let before = state.load(&machine.name).ok();
    let left: Vec<String> = before
        .iter()
        .flat_map(|old| old.nics.iter().map(|nic| nic.network.clone()))
        .collect();
    network::kernel_args(&machine).map_err(|message| VmError::Network {
        name: machine.name.clone(),
        message,
    })?;
    network::join(state, &machine, &left)?;
    state.define(&machine)?;
    describe(state, &machine, VmAction::Define)
}

/// Machine `name`'s definition as a record.
pub fn show(state: &State, name: &str) -> Result<VmRecord, VmError> {
    describe(state, &state.load(name)?, VmAction::Show)
}

/// A defined machine's name and its record, or why its definition could not be read.
pub type Listed = (String, Result<VmRecord, VmError>);

/// Every defined machine's record, sorted by name; a definition that does not parse is an
/// error beside its name, and the others are still listed.
pub fn list(state: &State) -> Result<Vec<Listed>, VmError> {
    Ok(state
        .names()?
        .into_iter()
        .map(|name| {
            let record = show(state, &name);
            (name, record)
        })
        .collect())
}

/// The record of `machine`: its definition, and whether its QEMU runs.
pub(crate) fn describe(
    state: &State,
    machine: &Machine,
    action: VmAction,
) -> Result<VmRecord, VmError> {
    let files = Files::new(state.dir(&machine.name)?);
    let pid = files.running_pid();
    let path = |path: &Option<PathBuf>| path.as_ref().map(|p| p.display().to_string());
    Ok(VmRecord {
        name: machine.name.clone(),
        action,
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
        nics: machine
            .nics
            .iter()
            .map(|nic| format!("{}:{}", nic.network, nic.address))
            .collect(),
        pid,
        accel: files.running_accel(),
        ..VmRecord::default()
    })
}

/// Starts machine `name` in the background; on any failure after QEMU started, stops it
/// again.
pub fn up(state: &State, name: &str, options: &UpOptions) -> Result<VmRecord, VmError> {
    let machine = state.load(name)?;
    machine.check_files()?;
    let _lock = state.lock(name, LOCK_WAIT)?;
    let files = Files::new(state.dir(name)?);
    if let Some(pid) = files.running_pid() {
        return Err(VmError::AlreadyRunning {
            name: machine.name,
            pid,
        });
    }
    if options.wait == WaitFor::Agent && !machine.agent {
        return Err(VmError::NoAgent(machine.name));
    }
    let (_, agent_ready) = power::boot(
        state,
        &machine,
        &files,
        options.accel,
        options.wait,
        options.timeout,
    )?;
    let mut record = describe(state, &machine, VmAction::Up)?;
    record.agent_ready_ms = agent_ready.map(millis);
    Ok(record)
}

/// The running machine `name` with an agent: its definition, files and QEMU's pid.
pub(crate) fn running_with_agent(
    state: &State,
    name: &str,
) -> Result<(Machine, Files, u32), VmError> {
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

/// Machine `name`'s record; while it runs, with the run state and version QMP reports.
pub fn status(state: &State, name: &str) -> Result<VmRecord, VmError> {
    let machine = state.load(name)?;
    let files = Files::new(state.dir(name)?);
    let mut record = describe(state, &machine, VmAction::Status)?;
    if files.running_pid().is_none() {
        return Ok(record);
    }
    let mut qmp = Qmp::connect(&files.qmp(), QMP_TIMEOUT)?;
    record.state = qmp.status()?;
    record.qemu_version = Some(qmp.version.clone());
    Ok(record)
}

/// Runs `command` (the program, searched in the guest's PATH, then its arguments) in machine
/// `name` through the guest agent, waiting up to `timeout` for the agent and for the command.
/// A command that exits non-zero is no error: the record holds its exit code and output.
pub fn exec(
    state: &State,
    name: &str,
    command: &[String],
    timeout: Duration,
) -> Result<VmRecord, VmError> {
    let (machine, files, pid) = running_with_agent(state, name)?;
    let _lock = state.lock(name, timeout)?;
    let output = Agent::connect(&files.agent(), timeout, pid)?.exec(command, timeout)?;
    let mut record = describe(state, &machine, VmAction::Exec)?;
    record.command = Some(command.to_vec());
    record.exit_code = Some(output.exit_code);
    record.stdout = Some(String::from_utf8_lossy(&output.stdout).into_owned());
    record.stderr = Some(String::from_utf8_lossy(&output.stderr).into_owned());
    record.output_truncated = Some(output.truncated);
    Ok(record)
}

/// Stops machine `name`, and cleans up after one that is already gone.
pub fn down(state: &State, name: &str, options: &DownOptions) -> Result<VmRecord, VmError> {
    let machine = state.load(name)?;
    let _lock = state.lock(name, LOCK_WAIT)?;
    let files = Files::new(state.dir(name)?);
    match files.running_pid() {
        Some(pid) => power::stop(&files, pid, options.timeout)?,
        None => files.clean_up(),
    }
    power::release_networks(state, &machine)?;
    describe(state, &machine, VmAction::Down)
}
