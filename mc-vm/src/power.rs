//! Booting a machine's QEMU and waiting for it, and stopping it again: ACPI powerdown, then
//! QMP `quit`, then SIGKILL.

use std::time::{Duration, Instant};

use crate::{
    VmError,
    agent::Agent,
    api::{Accel, WaitFor},
    machine::{Machine, State},
    network,
    qemu::{self, Files},
    qmp::{QMP_TIMEOUT, Qmp},
};

/// Starts `machine`'s QEMU with `files` and waits for `wait`; on any failure after QEMU
/// started, stops it again. Returns the pid, and with [`WaitFor::Agent`] the time from the start
/// until the agent answered.
pub fn boot(
    state: &State,
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
    let mut networks = Vec::new();
    for nic in &machine.nics {
        network::ensure_switch(state, &nic.network)?;
        networks.push(network::load(state, &nic.network)?);
    }
    let started = Instant::now();
    let pid = match qemu::start(machine, files, accel, &networks) {
        Ok(pid) => pid,
        Err(error) => {
            let _ = release_networks(state, machine);
            return Err(error);
        }
    };
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
            let _ = release_networks(state, machine);
            Err(error)
        }
    }
}

/// ACPI powerdown, then after `grace` QMP `quit`, then SIGKILL; removes the sockets.
pub fn stop(files: &Files, pid: u32, grace: Duration) -> Result<(), VmError> {
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
        qemu::kill(pid);
        if !qemu::wait_gone(pid, QMP_TIMEOUT) {
            return Err(VmError::NoExit(pid));
        }
    }
    files.clean_up();
    Ok(())
}

/// Stops the switches of `machine`'s networks that no running machine uses any more.
pub fn release_networks(state: &State, machine: &Machine) -> Result<(), VmError> {
    machine
        .nics
        .iter()
        .try_for_each(|nic| network::release(state, &nic.network))
}

/// A duration in whole milliseconds, for records.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
