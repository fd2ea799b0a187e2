//! `mc-vm try`: a throwaway copy of a stopped machine, booted over qcow2 overlays of its disks.
//!
//! Overlays (`qemu-img create -b DISK`) rather than internal snapshots: the machine's images are
//! only ever opened read-only, whatever the guest does, so a failed try cannot touch them, and
//! throwing the copy away is deleting a folder. `keep` commits the overlays with `qemu-img
//! commit` after the copy's QEMU has quit (so nothing has the images open and QEMU has flushed
//! everything); the guest runs `sync` first.
//!
//! The decisions (which steps run, when to stop, the verdict) are pure functions at the end;
//! [`try_change`] does the I/O around them.

use std::{
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use minicluster::record::{TryStep, TryStepKind, TryVerdict, VmTryRecord};

use crate::{
    VmError,
    agent::Agent,
    api::{Accel, WaitFor},
    image,
    machine::{LOCK_WAIT, Machine, State},
    power::{self, millis},
    qemu::Files,
};

/// What [`try_change`] runs in the copy.
#[derive(Clone, Debug)]
pub struct TryOptions {
    /// The change to test, a shell command (`sh -c`).
    pub run: String,
    /// Shell commands that must exit 0 afterwards; each runs even when one fails.
    pub checks: Vec<String>,
    /// Commit the copy into the machine's disks when the run and every check passed.
    pub keep: bool,
    /// The accelerator.
    pub accel: Accel,
    /// How long to wait for the copy's guest agent.
    pub timeout: Duration,
    /// How long each step may take.
    pub step_timeout: Duration,
}

impl TryOptions {
    /// Runs `run` with no checks and the default timeouts, thrown away afterwards.
    pub fn new(run: impl Into<String>) -> Self {
        Self {
            run: run.into(),
            checks: Vec::new(),
            keep: false,
            accel: Accel::Auto,
            timeout: Duration::from_secs(120),
            step_timeout: Duration::from_secs(1800),
        }
    }
}

/// The copy's folder and QEMU; dropping it stops QEMU and deletes the folder.
struct Copy {
    files: Files,
    dir: PathBuf,
    pid: Option<u32>,
    /// One overlay per disk of the machine, in its order.
    overlays: Vec<PathBuf>,
}

impl Copy {
    /// A fresh folder `dir` with an overlay over each of `machine`'s disks; what a killed
    /// earlier try left there is stopped and removed first.
    fn create(machine: &Machine, dir: PathBuf) -> Result<Self, VmError> {
        let files = Files::new(dir.clone());
        if let Some(pid) = files.running_pid() {
            power::stop(&files, pid, Duration::ZERO)?;
        }
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(VmError::io("creating", &dir))?;
        let mut copy = Self {
            files,
            dir,
            pid: None,
            overlays: Vec::new(),
        };
        for (index, disk) in machine.disks.iter().enumerate() {
            let overlay = image::overlay_path(&copy.dir, index);
            image::create_overlay(disk, &overlay)?;
            copy.overlays.push(overlay);
        }
        Ok(copy)
    }

    /// The copy's machine: `machine` on the overlays.
    fn machine(&self, machine: &Machine) -> Machine {
        Machine {
            name: format!("{}-try", machine.name),
            disks: self.overlays.clone(),
            // Off the machine's networks: its address there belongs to the machine.
            nics: Vec::new(),
            ..machine.clone()
        }
    }

    /// Syncs the guest, stops its QEMU and commits the overlays into the machine's disks.
    fn keep(mut self, mut agent: Agent, step_timeout: Duration) -> Result<(), VmError> {
        let sync = run_step(&mut agent, TryStepKind::Sync, "sync", step_timeout);
        if !sync.passed() {
            return Err(VmError::Agent {
                message: format!("sync before keeping the copy: {sync:?}"),
            });
        }
        drop(agent);
        if let Some(pid) = self.pid.take() {
            power::stop(&self.files, pid, Duration::ZERO)?;
        }
        self.overlays
            .iter()
            .try_for_each(|overlay| image::commit(overlay))
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // Best effort while unwinding from an error: the error itself is what gets reported.
            let _ = power::stop(&self.files, pid, Duration::ZERO);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `options.run` and the checks in a copy of machine `name`; the verdict record.
pub fn try_change(state: &State, name: &str, options: &TryOptions) -> Result<VmTryRecord, VmError> {
    let started = Instant::now();
    let machine = state.load(name)?;
    if !machine.agent {
        return Err(VmError::NoAgent(machine.name));
    }
    machine.check_files()?;
    let _lock = state.lock(name, LOCK_WAIT)?;
    if Files::new(state.dir(name)?).running_pid().is_some() {
        return Err(VmError::TryRunning(machine.name));
    }
    if options.keep {
        // Found out now rather than after the run: keeping writes every disk, one after the other.
        for disk in &machine.disks {
            fs::OpenOptions::new()
                .write(true)
                .open(disk)
                .map_err(VmError::io("opening for --keep", disk))?;
        }
    }
    let mut copy = Copy::create(&machine, state.dir(name)?.join("try"))?;
    let (pid, ready) = power::boot(
        state,
        &copy.machine(&machine),
        &copy.files,
        options.accel,
        WaitFor::Agent,
        options.timeout,
    )?;
    copy.pid = Some(pid);

    let mut agent = Agent::connect(&copy.files.agent(), options.timeout, pid)?;
    let mut steps: Vec<TryStep> = Vec::new();
    for (kind, command) in plan(options) {
        let step = run_step(&mut agent, kind, command, options.step_timeout);
        let stop = stops_after(&step);
        steps.push(step);
        if stop {
            break;
        }
    }
    let verdict = verdict(&steps, plan(options).len());
    let kept = verdict == TryVerdict::Passed && options.keep;
    if kept {
        copy.keep(agent, options.step_timeout)?;
    }
    Ok(VmTryRecord {
        machine: machine.name,
        verdict,
        kept,
        agent_ready_ms: ready.map(millis),
        steps,
        elapsed_ms: millis(started.elapsed()),
    })
}

/// Runs `command` with `sh -c` in the guest; a step that did not finish carries the error.
fn run_step(agent: &mut Agent, kind: TryStepKind, command: &str, timeout: Duration) -> TryStep {
    let started = Instant::now();
    let argv = ["sh".to_owned(), "-c".to_owned(), command.to_owned()];
    let mut step = TryStep {
        step: kind,
        command: command.to_owned(),
        ..TryStep::default()
    };
    match agent.exec(&argv, timeout) {
        Ok(output) => {
            step.exit_code = Some(output.exit_code);
            step.stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            step.stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        }
        Err(error) => step.error = Some(error.to_string()),
    }
    step.elapsed_ms = millis(started.elapsed());
    step
}

/// The steps in the order they run: the change, then every check.
fn plan(options: &TryOptions) -> Vec<(TryStepKind, &str)> {
    std::iter::once((TryStepKind::Run, options.run.as_str()))
        .chain(
            options
                .checks
                .iter()
                .map(|check| (TryStepKind::Check, check.as_str())),
        )
        .collect()
}

/// Whether no step runs after `step`: one that did not finish (the guest may be gone), or a
/// change that failed (checks of a failed change say nothing).
fn stops_after(step: &TryStep) -> bool {
    step.error.is_some() || (step.step == TryStepKind::Run && !step.passed())
}

/// `passed` when all `planned` steps ran and exited 0.
fn verdict(steps: &[TryStep], planned: usize) -> TryVerdict {
    if steps.len() == planned && steps.iter().all(TryStep::passed) {
        TryVerdict::Passed
    } else {
        TryVerdict::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: TryStepKind, exit_code: Option<i64>) -> TryStep {
        TryStep {
            step: kind,
            exit_code,
            error: exit_code.is_none().then(|| "timed out".to_owned()),
            ..TryStep::default()
        }
    }

    #[test]
    fn the_change_runs_first_then_every_check() {
        let options = TryOptions {
            checks: vec!["a".into(), "b".into()],
            ..TryOptions::new("change")
        };
        assert_eq!(
            plan(&options),
            [
                (TryStepKind::Run, "change"),
                (TryStepKind::Check, "a"),
                (TryStepKind::Check, "b")
            ]
        );
    }

    #[test]
    fn a_failed_change_or_an_unfinished_step_stops_the_try_a_failed_check_does_not() {
        assert!(stops_after(&step(TryStepKind::Run, Some(1))));
        assert!(stops_after(&step(TryStepKind::Check, None)));
        assert!(!stops_after(&step(TryStepKind::Check, Some(1))));
        assert!(!stops_after(&step(TryStepKind::Run, Some(0))));
    }

    #[test]
    fn only_every_planned_step_exiting_0_passes() {
        let ok = || step(TryStepKind::Check, Some(0));
        assert_eq!(verdict(&[ok(), ok()], 2), TryVerdict::Passed);
        assert_eq!(verdict(&[ok()], 2), TryVerdict::Failed, "a step never ran");
        let failed = step(TryStepKind::Check, Some(3));
        assert_eq!(verdict(&[ok(), failed], 2), TryVerdict::Failed);
    }
}
