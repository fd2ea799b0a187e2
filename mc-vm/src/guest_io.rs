//! Files in and out of the guest through the agent: `push` and `pull`.

use std::{fs, path::Path, time::Duration};

use minicluster::record::{VmAction, VmRecord};

use crate::{
    VmError,
    agent::Agent,
    api::{describe, running_with_agent},
    machine::State,
};

/// How [`pull`] copies.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
    /// How long to wait for the agent, and for each chunk.
    pub timeout: Duration,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Copies the host file `local` to `guest` in machine `name` (an absolute path whose folder
/// exists), waiting up to `timeout` for the agent and for each chunk.
pub fn push(
    state: &State,
    name: &str,
    local: &Path,
    guest: &str,
    timeout: Duration,
) -> Result<VmRecord, VmError> {
    let (machine, files, pid) = running_with_agent(state, name)?;
    let data = fs::read(local).map_err(VmError::io("reading", local))?;
    let _lock = state.lock(name, timeout)?;
    Agent::connect(&files.agent(), timeout, pid)?.write_file(guest, &data, timeout)?;
    copied(state, &machine, VmAction::Push, local, guest, data.len())
}

/// Copies the file `guest` of machine `name` to `local` on the host: written beside it, then
/// renamed into place.
pub fn pull(
    state: &State,
    name: &str,
    guest: &str,
    local: &Path,
    options: &PullOptions,
) -> Result<VmRecord, VmError> {
    let (machine, files, pid) = running_with_agent(state, name)?;
    let timeout = options.timeout;
    let _lock = state.lock(name, timeout)?;
    let data = Agent::connect(&files.agent(), timeout, pid)?.read_file(
        guest,
        options.max_bytes,
        timeout,
    )?;
    let mut partial = local.to_owned().into_os_string();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    fs::write(&partial, &data).map_err(VmError::io("writing", &partial))?;
    fs::rename(&partial, local).map_err(VmError::io("renaming", &partial))?;
    copied(state, &machine, VmAction::Pull, local, guest, data.len())
}

fn copied(
    state: &State,
    machine: &crate::machine::Machine,
    action: VmAction,
    local: &std::path::Path,
    guest: &str,
    size: usize,
) -> Result<VmRecord, VmError> {
    let mut record = describe(state, machine, action)?;
    record.local_path = Some(
        std::path::absolute(local)
            .unwrap_or_else(|_| local.to_owned())
            .display()
            .to_string(),
    );
    record.guest_path = Some(guest.to_owned());
    record.size_bytes = Some(size as u64);
    Ok(record)
}
