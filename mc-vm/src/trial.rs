//! `mc-vm try`: a throwaway copy of a stopped machine, booted over qcow2 overlays of its disks.
//!
//! Overlays (`qemu-img create -b DISK`) rather than internal snapshots: the machine's images are
//! only ever opened read-only, whatever the guest does, so a failed try cannot touch them, and
//! throwing the copy away is deleting a folder. `--keep` commits the overlays with `qemu-img
//! commit` after the copy's QEMU has quit (so nothing has the images open and QEMU has flushed
//! everything); the guest runs `sync` first.

use std::{
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use crate::{
    LOCK_WAIT, VmError,
    agent::Agent,
    boot,
    cli::{TryArgs, WaitFor},
    image,
    machine::{Machine, State},
    millis,
    qemu::Files,
    record::{Step, TryRecord},
    stop,
};

/// The copy's folder and QEMU; dropping it stops QEMU and deletes the folder.
struct Copy {
    files: Files,
    dir: PathBuf,
    pid: Option<u32>,
}

impl Drop for Copy {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // Best effort while unwinding from an error: the error itself is what gets reported.
            let _ = stop(&self.files, pid, Duration::ZERO);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `args.run` and the checks in a copy of the machine; the verdict record.
pub fn run(state: &State, args: &TryArgs) -> Result<TryRecord, VmError> {
    let started = Instant::now();
    let machine = state.load(&args.name)?;
    if !machine.agent {
        return Err(VmError::NoAgent(machine.name));
    }
    machine.check_files()?;
    let _lock = state.lock(&args.name, LOCK_WAIT)?;
    if Files::new(state.dir(&args.name)?).running_pid().is_some() {
        return Err(VmError::TryRunning(machine.name));
    }
    if args.keep {
        // Found out now rather than after the run: --keep writes every disk, one after the other.
        for disk in &machine.disks {
            fs::OpenOptions::new()
                .write(true)
                .open(disk)
                .map_err(VmError::io("opening for --keep", disk))?;
        }
    }
    let dir = state.dir(&args.name)?.join("try");
    let files = Files::new(dir.clone());
    // A killed earlier try may have left its QEMU and folder.
    if let Some(pid) = files.running_pid() {
        stop(&files, pid, Duration::ZERO)?;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(VmError::io("creating", &dir))?;
    let mut copy = Copy {
        files,
        dir,
        pid: None,
    };
    let mut overlays = Vec::new();
    for (index, disk) in machine.disks.iter().enumerate() {
        let overlay = image::overlay_path(&copy.dir, index);
        image::create_overlay(disk, &overlay)?;
        overlays.push(overlay);
    }
    let copy_machine = Machine {
        name: format!("{}-try", machine.name),
        disks: overlays.clone(),
        ..machine.clone()
    };
    let boot_timeout = Duration::from_secs(args.timeout);
    let (pid, ready) = boot(
        &copy_machine,
        &copy.files,
        args.accel,
        WaitFor::Agent,
        boot_timeout,
    )?;
    copy.pid = Some(pid);

    let mut agent = Agent::connect(&copy.files.agent(), boot_timeout, pid)?;
    let step_timeout = Duration::from_secs(args.step_timeout);
    let commands =
        std::iter::once(("run", &args.run)).chain(args.checks.iter().map(|c| ("check", c)));
    let mut steps: Vec<Step> = Vec::new();
    for (kind, command) in commands {
        let step = run_step(&mut agent, kind, command, step_timeout);
        let stop_here = step.error.is_some() || (kind == "run" && !step.passed());
        steps.push(step);
        if stop_here {
            break;
        }
    }
    let passed = steps.len() == 1 + args.checks.len() && steps.iter().all(Step::passed);
    let kept = passed && args.keep;
    if kept {
        let sync = run_step(&mut agent, "sync", "sync", step_timeout);
        if !sync.passed() {
            return Err(VmError::Agent {
                message: format!("sync before keeping the copy: {sync:?}"),
            });
        }
        drop(agent);
        if let Some(pid) = copy.pid.take() {
            stop(&copy.files, pid, Duration::ZERO)?;
        }
        for overlay in &overlays {
            image::commit(overlay)?;
        }
    }
    drop(copy);
    Ok(TryRecord {
        machine: machine.name,
        verdict: if passed { "passed" } else { "failed" }.to_owned(),
        kept,
        agent_ready_ms: ready.map(millis),
        steps,
        elapsed_ms: millis(started.elapsed()),
    })
}

/// Runs `command` with `sh -c` in the guest; a step that did not finish carries the error.
fn run_step(agent: &mut Agent, kind: &str, command: &str, timeout: Duration) -> Step {
    let started = Instant::now();
    let argv = ["sh".to_owned(), "-c".to_owned(), command.to_owned()];
    let mut step = Step {
        step: kind.to_owned(),
        command: command.to_owned(),
        ..Step::default()
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
