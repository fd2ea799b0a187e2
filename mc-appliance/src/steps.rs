//! Running an app's phases: each step's placeholders filled in, run (`bash -o pipefail -c`)
//! through the guest agent on the machines it names (at once), one `appliance_step` record per
//! machine; the first step that fails on any machine stops the phase.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use minicluster::record::{ApplianceStepRecord, Record};

use crate::{
    catalog::{App, On, Step},
    state::Appliance,
};

/// How long one step may take in the guest (a base backup or an upgrade under TCG is slow).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(900);

/// Where records go as they are made: stdout for the command line, a list for a library
/// caller.
pub trait Sink {
    /// Takes one record.
    fn record(&mut self, record: Record);
}

impl Sink for Vec<Record> {
    fn record(&mut self, record: Record) {
        self.push(record);
    }
}

/// `template` with each `{key}` of `vars` replaced; unknown placeholders stay as written (a
/// shell's `${x}` is left alone).
pub fn fill(template: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut text = template.to_owned();
    for (key, value) in vars {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

/// What a phase runs with.
pub struct Phase<'a> {
    /// The appliance.
    pub appliance: &'a Appliance,
    /// Its app.
    pub app: &'a App,
    /// Its machines' mc-vm state.
    pub vms: &'a mc_vm::State,
    /// The command, for records.
    pub command: &'a str,
    /// Placeholders beyond the per-machine `{address}`.
    pub vars: BTreeMap<&'static str, String>,
}

impl Phase<'_> {
    /// Runs phase `name`'s steps; whether every one succeeded.
    pub fn run(&self, name: &str, sink: &mut dyn Sink) -> bool {
        self.outputs(name, sink).is_some()
    }

    /// Runs phase `name`'s steps: what each printed (one per step and machine), or `None`
    /// when one failed. A step runs on all its machines at once (each guest is a QEMU of its
    /// own: on a host with a core per machine a step on `all` takes the time of one), and
    /// its records come in the machines' order.
    pub fn outputs(&self, name: &str, sink: &mut dyn Sink) -> Option<Vec<String>> {
        let mut outputs = Vec::new();
        for step in self.app.steps(name) {
            let machines: Vec<usize> = match step.on {
                On::Primary => vec![self.appliance.primary],
                On::Replicas => self.appliance.replicas(),
                On::All => (0..self.appliance.slots.len()).collect(),
            };
            let records: Vec<ApplianceStepRecord> = std::thread::scope(|scope| {
                let running: Vec<_> = machines
                    .iter()
                    .map(|&index| scope.spawn(move || self.step(step, index)))
                    .collect();
                running
                    .into_iter()
                    .map(|thread| thread.join().expect("a step's thread does not panic"))
                    .collect()
            });
            let ok = records.iter().all(|r| r.ok);
            for record in records {
                outputs.push(record.output.clone());
                sink.record(Record::ApplianceStep(record));
            }
            if !ok {
                return None;
            }
        }
        Some(outputs)
    }

    /// Runs `step` (its placeholders filled) on machine number `index`: the step's record.
    pub fn step(&self, step: &Step, index: usize) -> ApplianceStepRecord {
        let mut vars = self.vars.clone();
        vars.insert("address", self.appliance.slots[index].address.clone());
        self.exec(&step.step, index, fill(&step.run, &vars))
    }

    /// Runs `command` on machine number `index`: the step's record.
    pub fn exec(&self, step: &str, index: usize, command: String) -> ApplianceStepRecord {
        let started = Instant::now();
        let slot = &self.appliance.slots[index];
        // bash, not sh: a step's pipeline fails when any part of it does (pipefail).
        let argv = ["bash", "-o", "pipefail", "-c", &command].map(str::to_owned);
        let mut record = ApplianceStepRecord {
            appliance: self.appliance.name.clone(),
            command: self.command.to_owned(),
            step: step.to_owned(),
            machine: Some(slot.machine.clone()),
            role: Some(self.appliance.role(index, &self.app.roles)),
            guest_command: Some(command),
            ..ApplianceStepRecord::default()
        };
        match mc_vm::exec(self.vms, &slot.machine, &argv, STEP_TIMEOUT) {
            Ok(vm) => {
                record.exit_code = vm.exit_code;
                record.ok = vm.exit_code == Some(0);
                let stdout = vm.stdout.unwrap_or_default();
                let stderr = vm.stderr.unwrap_or_default();
                record.output = if record.ok {
                    stdout
                } else {
                    format!("{stdout}{stderr}")
                }
                .trim()
                .to_owned();
            }
            Err(error) => record.output = error.to_string(),
        }
        record.elapsed_ms = millis(started);
        record
    }
}

/// A step on the host (building the image, copying a backup): its record from what happened.
pub fn host_step(
    appliance: &str,
    command: &str,
    step: &str,
    started: Instant,
    result: Result<String, String>,
) -> ApplianceStepRecord {
    let ok = result.is_ok();
    ApplianceStepRecord {
        appliance: appliance.to_owned(),
        command: command.to_owned(),
        step: step.to_owned(),
        ok,
        output: result.unwrap_or_else(|error| error),
        elapsed_ms: millis(started),
        ..ApplianceStepRecord::default()
    }
}

/// Milliseconds since `started`.
pub fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_shell_variables_left_alone() {
        let vars = BTreeMap::from([
            ("password", "s3cret".to_owned()),
            ("replicas", "1".to_owned()),
        ]);
        assert_eq!(
            fill(
                "PGPASSWORD='{password}' [ \"$n\" -ge {replicas} ] ${HOME} {other}",
                &vars
            ),
            "PGPASSWORD='s3cret' [ \"$n\" -ge 1 ] ${HOME} {other}"
        );
    }
}
