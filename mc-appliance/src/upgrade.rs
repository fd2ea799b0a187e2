//! `upgrade` and `downgrade`: the app's package moved to another version on every machine,
//! guarded by a live snapshot of each machine taken first. When the change or the health
//! checks after it fail, every machine goes back to its snapshot by itself and the record says
//! so (`rolled_back`); only a failed rollback leaves a named state.

use std::time::Instant;

use mc_vm::{SnapshotChange, SnapshotOptions};
use minicluster::record::{ApplianceRecord, Record};

use crate::{
    ApplianceError,
    ops::{self, Env},
    state::Appliance,
    steps::host_step,
};

/// The snapshot a change takes first, and deletes when it is over.
pub(crate) const SNAPSHOT: &str = "mc-appliance-before-change";

/// Which way a change goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// To a newer version (by default the newest).
    Upgrade,
    /// Back (by default to the version before the last change).
    Downgrade,
}

impl Direction {
    fn command(self) -> &'static str {
        match self {
            Self::Upgrade => "upgrade",
            Self::Downgrade => "downgrade",
        }
    }
}

/// What [`change_version`] installs.
#[derive(Clone, Debug)]
pub struct VersionOptions {
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// The version; without it, the newest the mirror has (upgrade) or the version before the
    /// last change (downgrade).
    pub to: Option<String>,
}

/// Snapshots every machine, installs the version on every machine, restarts and checks health;
/// on any failure reverts every machine to its snapshot and checks health again.
pub fn change_version(
    env: &mut Env,
    name: &str,
    options: &VersionOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let command = options.direction.command();
    let (_lock, mut appliance, app, vms) = ops::open(env, name)?;
    let to = match (&options.to, options.direction) {
        (Some(version), _) => version.clone(),
        (None, Direction::Upgrade) => String::new(),
        (None, Direction::Downgrade) => appliance.previous_version.clone().ok_or_else(|| {
            ApplianceError::Usage(format!(
                "{name} has no earlier version to go back to: give --to VERSION"
            ))
        })?,
    };
    let Some(before) = installed(&appliance, &app, &vms, command, env) else {
        return ops::failed_command(
            &appliance,
            &app,
            command,
            "the installed version is unknown",
            started,
        );
    };
    // Replicas first: a replica's snapshot is then never ahead of its primary's WAL.
    let order: Vec<usize> = appliance
        .replicas()
        .into_iter()
        .chain([appliance.primary])
        .collect();
    if !snapshot_all(
        env,
        &vms,
        &appliance,
        command,
        &order,
        SnapshotChange::Create,
    ) {
        drop_snapshots(env, &vms, &appliance, command, &order);
        return ops::failed_command(&appliance, &app, command, "the snapshot failed", started);
    }
    let mut phase = ops::phase(&appliance, &app, &vms, command);
    phase.vars.insert("version", to.clone());
    let changed = phase.run("change-version", env.sink) && phase.run("check-health", env.sink);
    if changed {
        drop_snapshots(env, &vms, &appliance, command, &order);
        let after = installed(&appliance, &app, &vms, command, env);
        appliance.previous_version = Some(before);
        let mut result = ops::running(env, &mut appliance, &app, command, started)?;
        result.version = after;
        result.rolled_back = Some(false);
        return Ok(result);
    }
    // The primary first: its replicas then reconnect to the state they were taken with.
    let primary_first: Vec<usize> = order.iter().rev().copied().collect();
    if !snapshot_all(
        env,
        &vms,
        &appliance,
        command,
        &primary_first,
        SnapshotChange::Revert,
    ) {
        return ops::fail(
            env,
            &mut appliance,
            &app,
            &format!("{command}-rollback-failed"),
            "mc-appliance down NAME, then up NAME and restore a backup",
            started,
        );
    }
    let reverted = ops::phase(&appliance, &app, &vms, command);
    let healthy = reverted.run("rollback", env.sink) && reverted.run("check-health", env.sink);
    drop_snapshots(env, &vms, &appliance, command, &order);
    let version = installed(&appliance, &app, &vms, command, env);
    let mut result = if healthy {
        ops::running(env, &mut appliance, &app, command, started)?
    } else {
        ops::fail(
            env,
            &mut appliance,
            &app,
            &format!("{command}-rollback-failed"),
            "mc-appliance check-health NAME; if it stays unhealthy, down NAME, up NAME and restore a backup",
            started,
        )?
    };
    result.ok = false;
    result.rolled_back = Some(true);
    result.message = Some(format!(
        "{command} to {} failed: every machine rolled back to its snapshot ({before})",
        if to.is_empty() {
            "the newest version"
        } else {
            &to
        }
    ));
    result.version = version;
    Ok(result)
}

/// The app's package version on the primary.
fn installed(
    appliance: &Appliance,
    app: &crate::catalog::App,
    vms: &mc_vm::State,
    command: &str,
    env: &mut Env,
) -> Option<String> {
    ops::phase(appliance, app, vms, command)
        .outputs("installed-version", env.sink)
        .and_then(|outputs| outputs.into_iter().next())
}

/// Creates, reverts to or deletes the change's snapshot of machine number `index`; a host step
/// record says how it went. Whether it did.
fn snapshot_step(
    env: &mut Env,
    vms: &mc_vm::State,
    appliance: &Appliance,
    command: &str,
    index: usize,
    change: SnapshotChange,
) -> bool {
    let started = Instant::now();
    let machine = &appliance.slots[index].machine;
    if change == SnapshotChange::Create {
        // A snapshot an interrupted change left behind would make the new one fail.
        let _ = mc_vm::snapshot(
            vms,
            machine,
            SnapshotChange::Delete,
            SNAPSHOT,
            &SnapshotOptions::default(),
        );
    }
    let done = mc_vm::snapshot(vms, machine, change, SNAPSHOT, &SnapshotOptions::default());
    let step = match change {
        SnapshotChange::Create => "snapshot",
        SnapshotChange::Revert => "revert-to-snapshot",
        SnapshotChange::Delete => "delete-snapshot",
    };
    let mut record = host_step(
        &appliance.name,
        command,
        step,
        started,
        done.map(|r| format!("{} {}", r.machine, r.snapshot))
            .map_err(|e| e.to_string()),
    );
    record.machine = Some(machine.clone());
    let ok = record.ok;
    env.sink.record(Record::ApplianceStep(record));
    ok
}

/// Makes `change` on machines `indices`, in that order, up to the first that fails; whether
/// every one did.
fn snapshot_all(
    env: &mut Env,
    vms: &mc_vm::State,
    appliance: &Appliance,
    command: &str,
    indices: &[usize],
    change: SnapshotChange,
) -> bool {
    indices
        .iter()
        .all(|&index| snapshot_step(env, vms, appliance, command, index, change))
}

/// Deletes the change's snapshots (a failure to is reported in its step, and harmless: the
/// next change deletes it first).
fn drop_snapshots(
    env: &mut Env,
    vms: &mc_vm::State,
    appliance: &Appliance,
    command: &str,
    order: &[usize],
) {
    for &index in order {
        snapshot_step(env, vms, appliance, command, index, SnapshotChange::Delete);
    }
}
