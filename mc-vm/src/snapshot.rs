//! `mc-vm snapshot`: internal qcow2 snapshots, through QMP jobs while the machine runs (memory
//! and devices included) and through `qemu-img` while it is stopped (disks only).
//!
//! Internal snapshots rather than external overlays: they live inside the machine's own images,
//! so a definition keeps naming the same files and a snapshot needs no bookkeeping of ours;
//! `try` is where overlays serve (a throwaway layer over the disks, see [`crate::trial`]).

use std::{path::PathBuf, time::Duration};

use minicluster::record::{SnapshotAction, VmSnapshotRecord};

use crate::{
    VmError,
    image::{self, ImageSnapshot, SnapshotChange},
    machine::{DiskFormat, LOCK_WAIT, Machine, State},
    qemu::{self, Files},
    qmp::{QMP_TIMEOUT, Qmp},
};

/// How [`snapshot`] waits.
#[derive(Clone, Debug)]
pub struct SnapshotOptions {
    /// How long QEMU's snapshot job may take.
    pub timeout: Duration,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
        }
    }
}

/// A record for every snapshot name found on the machine's disks, in the order of the first
/// disk's table.
pub fn snapshots(state: &State, name: &str) -> Result<Vec<VmSnapshotRecord>, VmError> {
    let machine = state.load(name)?;
    let disks = qcow2_disks(&machine)?;
    let mut records: Vec<VmSnapshotRecord> = Vec::new();
    for disk in &disks {
        for snapshot in image::snapshots(disk)? {
            match records.iter_mut().find(|r| r.snapshot == snapshot.name) {
                Some(record) => record.disks.push(disk.display().to_string()),
                None => {
                    let live = snapshot.vm_state_size > 0;
                    records.push(record(
                        &machine,
                        SnapshotAction::List,
                        live,
                        &snapshot,
                        disk,
                    ));
                }
            }
        }
    }
    Ok(records)
}

/// Creates, reverts to or deletes snapshot `tag` of every disk of machine `name`.
pub fn snapshot(
    state: &State,
    name: &str,
    change: SnapshotChange,
    tag: &str,
    options: &SnapshotOptions,
) -> Result<VmSnapshotRecord, VmError> {
    if !valid_tag(tag) {
        return Err(VmError::BadSnapshotName(tag.to_owned()));
    }
    let machine = state.load(name)?;
    let _lock = state.lock(name, LOCK_WAIT)?;
    let disks = qcow2_disks(&machine)?;
    let files = Files::new(state.dir(name)?);
    let live = files.running_pid().is_some();
    let existing = find(&disks, tag)?;
    match (change, existing.is_some()) {
        (SnapshotChange::Create, true) => {
            return Err(VmError::SnapshotExists {
                name: machine.name,
                snapshot: tag.to_owned(),
            });
        }
        (SnapshotChange::Create, false) => {}
        (SnapshotChange::Revert | SnapshotChange::Delete, _) => {
            // Every disk must hold it: reverting some disks and not others breaks the guest.
            for disk in &disks {
                if !image::snapshots(disk)?.iter().any(|s| s.name == tag) {
                    return Err(VmError::NoSnapshot {
                        name: machine.name,
                        snapshot: tag.to_owned(),
                        disk: disk.display().to_string(),
                    });
                }
            }
        }
    }
    if live {
        let devices: Vec<String> = (0..disks.len()).map(qemu::node_name).collect();
        Qmp::connect(&files.qmp(), QMP_TIMEOUT)?.snapshot(
            change,
            tag,
            &devices,
            options.timeout,
        )?;
    } else {
        for disk in &disks {
            image::snapshot(change, tag, disk)?;
        }
    }
    let action = action(change);
    let mut record = match find(&disks, tag)? {
        Some((snapshot, disk)) => record(&machine, action, live, &snapshot, &disk),
        None => VmSnapshotRecord {
            machine: machine.name.clone(),
            snapshot: tag.to_owned(),
            action,
            live,
            ..VmSnapshotRecord::default()
        },
    };
    record.disks = disks.iter().map(|d| d.display().to_string()).collect();
    Ok(record)
}

/// Whether `tag` is a plain snapshot name: a letter, then letters, digits, `-`, `_`, `.`.
fn valid_tag(tag: &str) -> bool {
    tag.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The record's name for `change`.
fn action(change: SnapshotChange) -> SnapshotAction {
    match change {
        SnapshotChange::Create => SnapshotAction::Create,
        SnapshotChange::Revert => SnapshotAction::Revert,
        SnapshotChange::Delete => SnapshotAction::Delete,
    }
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
    action: SnapshotAction,
    live: bool,
    snapshot: &ImageSnapshot,
    disk: &std::path::Path,
) -> VmSnapshotRecord {
    VmSnapshotRecord {
        machine: machine.name.clone(),
        snapshot: snapshot.name.clone(),
        action,
        live,
        vm_state_bytes: Some(snapshot.vm_state_size),
        created_at: Some(snapshot.created_at()),
        disks: vec![disk.display().to_string()],
        elapsed_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_start_with_a_letter_and_stay_plain() {
        for good in ["a", "before-upgrade", "s1.2_x"] {
            assert!(valid_tag(good), "{good}");
        }
        for bad in ["", "1st", "-x", "a b", "a/b", "é"] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }
}
