//! `monitor` and `cleanup`.
//!
//! `monitor` samples every machine each interval through the app's `monitor` phase, whose
//! steps print `NAME=NUMBER` lines: one `appliance_metrics` record per machine and sample,
//! counters (`X_total`) turned into rates (`X_per_s`) against the sample before, and an
//! `appliance_alert` record for a machine that does not answer or a metric past one of the
//! app's limits. `cleanup` runs the app's `cleanup` phase, deletes snapshots an interrupted
//! upgrade left, and with `--backups DIR --keep N` the backups past retention.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use minicluster::{
    record::{
        ApplianceAlertRecord, ApplianceMetricsRecord, ApplianceRecord, ApplianceStepRecord, Record,
    },
    time::Timestamp,
};

use crate::{
    ApplianceError,
    ops::{self, Env},
    state::Appliance,
    steps::host_step,
};

/// How often and how long [`monitor`] samples.
#[derive(Clone, Copy, Debug)]
pub struct MonitorOptions {
    /// Between samples.
    pub interval: Duration,
    /// How many samples; `None`: until stopped.
    pub count: Option<u64>,
}

/// Samples every machine `options.count` times; the `appliance` record at the end is `ok`
/// when no alert was raised.
pub fn monitor(
    env: &mut Env,
    name: &str,
    options: MonitorOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (appliance, app) = ops::load(env, name)?;
    let vms = ops::vms(env.folders, name)?;
    let phase = ops::phase(&appliance, &app, &vms, "monitor");
    let mut before: Vec<Option<(Instant, BTreeMap<String, f64>)>> =
        vec![None; appliance.slots.len()];
    let mut alerts = 0;
    let mut sample = 0;
    while options.count.is_none_or(|count| sample < count) {
        if sample > 0 {
            std::thread::sleep(options.interval);
        }
        sample += 1;
        for (index, last) in before.iter_mut().enumerate() {
            let role = appliance.role(index, &app.roles);
            let time = Timestamp::now();
            let taken = Instant::now();
            let mut metrics = BTreeMap::new();
            let mut failed = None;
            for step in app.steps("monitor") {
                let record = phase.step(step, index);
                if !record.ok {
                    failed = Some(record);
                    break;
                }
                metrics.extend(parse_metrics(&record.output));
            }
            let machine = appliance.slots[index].machine.clone();
            let mut raise = |alert: &str, message: String| {
                alerts += 1;
                env.sink
                    .record(Record::ApplianceAlert(ApplianceAlertRecord {
                        appliance: appliance.name.clone(),
                        machine: machine.clone(),
                        role: role.clone(),
                        raised_at: time,
                        alert: alert.to_owned(),
                        message,
                    }));
            };
            if let Some(step) = failed {
                raise("no-answer", format!("{}: {}", step.step, step.output));
                *last = None;
                continue;
            }
            let rates = last
                .as_ref()
                .map(|(at, old)| rates(old, &metrics, taken.duration_since(*at)))
                .unwrap_or_default();
            *last = Some((taken, metrics.clone()));
            metrics.extend(rates);
            for alert in &app.alert {
                if let Some(value) = metrics.get(&alert.metric).filter(|v| **v > alert.above) {
                    raise(
                        &alert.name,
                        format!("{} is {value}, above {}", alert.metric, alert.above),
                    );
                }
            }
            env.sink
                .record(Record::ApplianceMetrics(ApplianceMetricsRecord {
                    appliance: appliance.name.clone(),
                    machine,
                    role,
                    sampled_at: time,
                    metrics,
                }));
        }
    }
    let mut result = ops::record(&appliance, &app, "monitor", Some(&vms), started);
    result.ok = alerts == 0;
    if alerts > 0 {
        result.message = Some(format!("{alerts} alerts"));
    }
    Ok(result)
}

/// `NAME=NUMBER` lines; anything else is left out.
fn parse_metrics(output: &str) -> BTreeMap<String, f64> {
    output
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter_map(|(name, value)| Some((name.trim().to_owned(), value.trim().parse().ok()?)))
        .collect()
}

/// `X_per_s` for each counter `X_total` of both samples.
fn rates(
    before: &BTreeMap<String, f64>,
    now: &BTreeMap<String, f64>,
    between: Duration,
) -> BTreeMap<String, f64> {
    let seconds = between.as_secs_f64();
    now.iter()
        .filter_map(|(name, value)| {
            let stem = name.strip_suffix("_total")?;
            let old = before.get(name)?;
            (seconds > 0.0).then(|| (format!("{stem}_per_s"), (value - old) / seconds))
        })
        .collect()
}

/// What [`cleanup`] removes besides the app's own leftovers.
#[derive(Clone, Debug, Default)]
pub struct CleanupOptions {
    /// The folder of this appliance's backups, and how many of them to keep.
    pub backups: Option<(PathBuf, usize)>,
}

/// Runs the app's `cleanup` phase, deletes leftover snapshots, prunes backups.
pub fn cleanup(
    env: &mut Env,
    name: &str,
    options: &CleanupOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (_lock, appliance, app, vms) = ops::open(env, name)?;
    let mut ok = ops::phase(&appliance, &app, &vms, "cleanup").run("cleanup", env.sink);
    for slot in &appliance.slots {
        let step = stale_snapshots(&appliance, &vms, &slot.machine);
        ok &= step.ok;
        env.sink.record(Record::ApplianceStep(step));
    }
    if let Some((dir, keep)) = &options.backups {
        let pruning = Instant::now();
        let pruned = ops::prune(dir, name, *keep);
        let step = host_step(
            name,
            "cleanup",
            "old-backups",
            pruning,
            pruned
                .map(|gone| format!("{gone} removed, {keep} kept at most"))
                .map_err(|e| e.to_string()),
        );
        ok &= step.ok;
        env.sink.record(Record::ApplianceStep(step));
    }
    let mut result = ops::record(&appliance, &app, "cleanup", None, started);
    result.ok = ok;
    Ok(result)
}

/// Deletes the snapshots an interrupted upgrade or downgrade left on `machine`.
fn stale_snapshots(
    appliance: &Appliance,
    vms: &mc_vm::State,
    machine: &str,
) -> ApplianceStepRecord {
    let started = Instant::now();
    let deleted = mc_vm::snapshots(vms, machine).and_then(|found| {
        let stale: Vec<String> = found
            .into_iter()
            .map(|s| s.snapshot)
            .filter(|s| s == crate::upgrade::SNAPSHOT)
            .collect();
        for tag in &stale {
            mc_vm::snapshot(
                vms,
                machine,
                mc_vm::SnapshotChange::Delete,
                tag,
                &mc_vm::SnapshotOptions::default(),
            )?;
        }
        Ok(stale.len())
    });
    let mut step = host_step(
        &appliance.name,
        "cleanup",
        "old-snapshots",
        started,
        deleted
            .map(|n| format!("{n} removed"))
            .map_err(|e| e.to_string()),
    );
    step.machine = Some(machine.to_owned());
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_lines_parse_and_counters_become_rates() {
        let before = parse_metrics("connections=2\ntransactions_total=100\nnoise\nx=abc\n");
        assert_eq!(
            before,
            BTreeMap::from([
                ("connections".to_owned(), 2.0),
                ("transactions_total".to_owned(), 100.0)
            ])
        );
        let now = parse_metrics("connections=3\ntransactions_total=150");
        assert_eq!(
            rates(&before, &now, Duration::from_secs(2)),
            BTreeMap::from([("transactions_per_s".to_owned(), 25.0)])
        );
        assert!(rates(&before, &now, Duration::ZERO).is_empty());
    }
}
