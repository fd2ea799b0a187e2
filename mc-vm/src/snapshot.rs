//! `mc-vm snapshot`: internal qcow2 snapshots, through QMP jobs while the machine runs (memory
//! and devices included) and through `qemu-img` while it is stopped (disks only).
//!
//! Internal snapshots rather than external overlays: they live inside the machine's own images,
//! so a definition keeps naming the same files and a snapshot needs no bookkeeping of ours;
//! `try` is where overlays serve (a throwaway layer over the disks, see [`crate::trial`]).

use std::{path::PathBuf, time::Duration};

use crate::{
    LOCK_WAIT, QMP_TIMEOUT, VmError,
    cli::{SnapshotArgs, SnapshotCommand},
    image::{self, ImageSnapshot, SnapshotOp},
    machine::{DiskFormat, Machine, State},
    qemu::{self, Files},
    qmp::Qmp,
    record::{SnapshotRecord, rfc3339},
};

/// Runs a `snapshot` subcommand: the record of the snapshot changed, or one per snapshot.
pub fn run(state: &State, command: &SnapshotCommand) -> Result<Vec<SnapshotRecord>, VmError> {
    let (what, args) = match command {
        SnapshotCommand::List(args) => return list(state, &args.name),
        SnapshotCommand::Create(args) => (Change::Create, args),
        SnapshotCommand::Revert(args) => (Change::Revert, args),
        SnapshotCommand::Delete(args) => (Change::Delete, args),
    };
    change(state, what, args).map(|record| vec![record])
}

/// A record for every snapshot name found on the machine's disks, in the order of the first
/// disk's table.
fn list(state: &State, name: &str) -> Result<Vec<SnapshotRecord>, VmError> {
    let machine = state.load(name)?;
    let disks = qcow2_disks(&machine)?;
    let mut records: Vec<SnapshotRecord> = Vec::new();
    for disk in &disks {
        for snapshot in image::snapshots(disk)? {
            match records.iter_mut().find(|r| r.snapshot == snapshot.name) {
                Some(record) => record.disks.push(disk.display().to_string()),
                None => {
                    let live = snapshot.vm_state_size > 0;
                    records.push(record(&machine, "list", live, &snapshot, disk));
                }
            }
        }
    }
    Ok(records)
}

/// What [`change`] does to a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Take it.
    Create,
    /// Go back to it.
    Revert,
    /// Delete it.
    Delete,
}

impl Change {
    /// The action's name in records.
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Revert => "revert",
            Self::Delete => "delete",
        }
    }
}

/// Creates, reverts to or deletes snapshot `args.snapshot` of every disk.
fn change(state: &State, change: Change, args: &SnapshotArgs) -> Result<SnapshotRecord, VmError> {
    let tag = &args.snapshot;
    let valid = !tag.is_empty()
        && tag.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(VmError::BadSnapshotName(tag.clone()));
    }
    let machine = state.load(&args.name)?;
    let _lock = state.lock(&args.name, LOCK_WAIT)?;
    let disks = qcow2_disks(&machine)?;
    let files = Files::new(state.dir(&args.name)?);
    let live = files.running_pid().is_some();
    let existing = find(&disks, tag)?;
    match (change, existing.is_some()) {
        (Change::Create, true) => {
            return Err(VmError::SnapshotExists {
                name: machine.name,
                snapshot: tag.clone(),
            });
        }
        (Change::Create, false) => {}
        (Change::Revert | Change::Delete, _) => {
            // Every disk must hold it: reverting some disks and not others breaks the guest.
            for disk in &disks {
                if !image::snapshots(disk)?.iter().any(|s| &s.name == tag) {
                    return Err(VmError::NoSnapshot {
                        name: machine.name,
                        snapshot: tag.clone(),
                        disk: disk.display().to_string(),
                    });
                }
            }
        }
    }
    let timeout = Duration::from_secs(args.timeout);
    if live {
        let devices: Vec<String> = (0..disks.len()).map(qemu::node_name).collect();
        Qmp::connect(&files.qmp(), QMP_TIMEOUT)?.snapshot(change, tag, &devices, timeout)?;
    } else {
        let op = match change {
            Change::Create => SnapshotOp::Create,
            Change::Revert => SnapshotOp::Apply,
            Change::Delete => SnapshotOp::Delete,
        };
        for disk in &disks {
            image::snapshot(op, tag, disk)?;
        }
    }
    let mut record = match find(&disks, tag)? {
        Some((snapshot, disk)) => record(&machine, change.name(), live, &snapshot, &disk),
        None => SnapshotRecord {
            machine: machine.name.clone(),
            snapshot: tag.clone(),
            action: change.name().to_owned(),
            live,
            ..SnapshotRecord::default()
        },
    };
    record.disks = disks.iter().map(|d| d.display().to_string()).collect();
    Ok(record)
}

/// The machine's disks, all of them qcow2, at least one.
fn qcow2_disks(machine: &Machine) -> Result<Vec<PathBuf>, VmError> {
    machine.check_files()?;
    let refuse = |reason: String| VmError::NotSnapshottable {
        name: machine.name.clone(),
        reason,
    };
    if machine.disks.is_empty() {
        return Err(refuse("it has no disk".to_owned()));
    }
    for disk in &machine.disks {
        if DiskFormat::of(disk)? != DiskFormat::Qcow2 {
            return Err(refuse(format!("{} is raw", disk.display())));
        }
    }
    Ok(machine.disks.clone())
}

/// Snapshot `tag` on the first disk that has it.
fn find(disks: &[PathBuf], tag: &str) -> Result<Option<(ImageSnapshot, PathBuf)>, VmError> {
    for disk in disks {
        if let Some(snapshot) = image::snapshots(disk)?.into_iter().find(|s| s.name == tag) {
            return Ok(Some((snapshot, disk.clone())));
        }
    }
    Ok(None)
}

fn record(
    machine: &Machine,
    action: &str,
    live: bool,
    snapshot: &ImageSnapshot,
    disk: &std::path::Path,
) -> SnapshotRecord {
    SnapshotRecord {
        machine: machine.name.clone(),
        snapshot: snapshot.name.clone(),
        action: action.to_owned(),
        live,
        vm_state_bytes: Some(snapshot.vm_state_size),
        created: Some(rfc3339(snapshot.date_sec)),
        disks: vec![disk.display().to_string()],
        elapsed_ms: 0,
    }
}
