//! The decisions of a run, without I/O: which pending base waits, which may start, and which is
//! settled without a build (a dependency failed, an earlier failure stopped the run, a finding
//! refuses it). [`crate::schedule`] does the building and the publishing around it.

use std::collections::BTreeMap;

use minicluster::record::{BuildRecord, BuildStatus, FindingRecord};

use crate::{order::Order, srcinfo::Base};

/// What to do with a pending base now.
#[derive(Debug, PartialEq)]
pub(crate) enum Decision {
    /// Its dependencies are still building.
    Wait,
    /// Everything it needs is built: build it (unless it is built already).
    Ready,
    /// Nothing to build: this is its record.
    Settled(Box<BuildRecord>),
}

/// How a run goes on after a failure, and what it refuses.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Policy {
    /// After a failed build, go on with every base that does not depend on it.
    pub(crate) keep_going: bool,
    /// Build bases that a finding of severity error names.
    pub(crate) ignore_findings: bool,
}

/// The pending bases in build order, the status of each finished one, and a cursor for one
/// pass over the pending bases.
pub(crate) struct Queue<'a> {
    bases: &'a [Base],
    order: &'a Order,
    refusals: &'a BTreeMap<String, FindingRecord>,
    policy: Policy,
    pending: Vec<&'a str>,
    cursor: usize,
    status: BTreeMap<String, BuildStatus>,
    /// An earlier build failed and `keep_going` is off.
    stopped: bool,
}

impl<'a> Queue<'a> {
    /// Every base of `order`, pending.
    pub(crate) fn new(
        bases: &'a [Base],
        order: &'a Order,
        refusals: &'a BTreeMap<String, FindingRecord>,
        policy: Policy,
    ) -> Self {
        Self {
            bases,
            order,
            refusals,
            policy,
            pending: order.bases.iter().map(String::as_str).collect(),
            cursor: 0,
            status: BTreeMap::new(),
            stopped: false,
        }
    }

    /// The base named `name`.
    pub(crate) fn base(&self, name: &str) -> &'a Base {
        self.bases
            .iter()
            .find(|base| base.name == name)
            .expect("ordered bases come from the set")
    }

    /// The records of the bases caught in a dependency cycle (every base of a cycle but the
    /// first, which repeats at its end), with the cycle's description: they fail.
    pub(crate) fn cycles(&self) -> Vec<(String, Vec<String>, BuildRecord)> {
        let mut failed = Vec::new();
        for cycle in &self.order.cycles {
            let message = format!("dependency cycle: {}", cycle.join(" → "));
            for name in &cycle[1..] {
                let record = not_built(self.base(name), BuildStatus::Failed, message.clone());
                failed.push((message.clone(), cycle.clone(), record));
            }
        }
        failed
    }

    /// Starts a new pass at the first pending base.
    pub(crate) fn rewind(&mut self) {
        self.cursor = 0;
    }

    /// From the cursor on, the first pending base that does not wait, and what to do with it;
    /// the cursor stays on it until [`Queue::take`] or [`Queue::pass`].
    pub(crate) fn next(&mut self) -> Option<(&'a str, Decision)> {
        while let Some(&name) = self.pending.get(self.cursor) {
            match self.decide(name) {
                Decision::Wait => self.cursor += 1,
                decision => return Some((name, decision)),
            }
        }
        None
    }

    /// Takes the base at the cursor out of the pending ones.
    pub(crate) fn take(&mut self) {
        self.pending.remove(self.cursor);
    }

    /// Leaves the base at the cursor pending (no build slot is free) and moves on.
    pub(crate) fn pass(&mut self) {
        self.cursor += 1;
    }

    /// Takes every pending base out, for when nothing runs that could unblock them.
    pub(crate) fn drain(&mut self) -> Vec<&'a str> {
        self.cursor = 0;
        std::mem::take(&mut self.pending)
    }

    /// Notes a base's record: its status decides its dependents, and a failure may stop the run.
    pub(crate) fn settle(&mut self, record: &BuildRecord) {
        self.stopped |= record.status == BuildStatus::Failed && !self.policy.keep_going;
        self.status.insert(record.base.clone(), record.status);
        self.pending.retain(|name| *name != record.base);
    }

    /// What to do with `name` now.
    fn decide(&self, name: &str) -> Decision {
        let base = self.base(name);
        let mut unfinished = false;
        for dep in &self.order.needs[name] {
            match self.status.get(dep) {
                Some(BuildStatus::Built) => {}
                Some(other) => {
                    let why = if *other == BuildStatus::Failed {
                        "failed"
                    } else {
                        "was skipped"
                    };
                    let reason = format!("dependency {dep} {why}");
                    return settled(base, BuildStatus::Skipped, reason);
                }
                None => unfinished = true,
            }
        }
        if self.stopped {
            let why = "an earlier build failed (--keep-going builds the rest)".to_owned();
            return settled(base, BuildStatus::Skipped, why);
        }
        if unfinished {
            return Decision::Wait;
        }
        if let Some(finding) = self
            .refusals
            .get(name)
            .filter(|_| !self.policy.ignore_findings)
        {
            let why = format!(
                "refused: mc-verify finding {} ({}); --ignore-findings builds it anyway",
                finding.check, finding.message
            );
            return settled(base, BuildStatus::Failed, why);
        }
        Decision::Ready
    }
}

fn settled(base: &Base, status: BuildStatus, reason: String) -> Decision {
    Decision::Settled(Box::new(not_built(base, status, reason)))
}

/// A `build` record for a base that was not built now.
pub(crate) fn not_built(base: &Base, status: BuildStatus, reason: String) -> BuildRecord {
    BuildRecord {
        base: base.name.clone(),
        version: Some(base.version.clone()),
        status,
        reason: Some(reason),
        ..BuildRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use alpm_types::SystemArchitecture;

    use super::*;
    use crate::{order, srcinfo};

    /// A base `name` whose package depends on `depends`.
    fn base(name: &str, depends: &[&str]) -> Base {
        let mut text = format!("pkgbase = {name}\n\tpkgver = 1\n\tpkgrel = 1\n\tarch = any\n");
        for dep in depends {
            text.push_str(&format!("\tdepends = {dep}\n"));
        }
        text.push_str(&format!("\npkgname = {name}\n"));
        srcinfo::parse(&text, name, SystemArchitecture::X86_64).expect("a valid .SRCINFO")
    }

    fn record(name: &str, status: BuildStatus) -> BuildRecord {
        BuildRecord {
            base: name.to_owned(),
            status,
            ..BuildRecord::default()
        }
    }

    /// `lib`, then `app` needing it, then `tool` needing nothing.
    fn set() -> Vec<Base> {
        vec![base("app", &["lib"]), base("lib", &[]), base("tool", &[])]
    }

    /// One pass over the pending bases: the ones that do not wait, sorted by name.
    fn names(queue: &mut Queue<'_>) -> Vec<(String, Decision)> {
        queue.rewind();
        let mut seen = Vec::new();
        while let Some((name, decision)) = queue.next() {
            seen.push((name.to_owned(), decision));
            queue.pass();
        }
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        seen
    }

    #[test]
    fn a_base_waits_for_its_dependencies_then_is_ready() {
        let bases = set();
        let order = order::order(&bases);
        let refusals = BTreeMap::new();
        let mut queue = Queue::new(&bases, &order, &refusals, Policy::default());
        let ready: Vec<String> = names(&mut queue).into_iter().map(|(n, _)| n).collect();
        assert_eq!(ready, ["lib", "tool"], "app waits for lib");
        queue.settle(&record("lib", BuildStatus::Built));
        let ready: Vec<String> = names(&mut queue).into_iter().map(|(n, _)| n).collect();
        assert_eq!(ready, ["app", "tool"]);
    }

    #[test]
    fn a_failure_skips_its_dependents_and_stops_the_rest_unless_keep_going() {
        let bases = set();
        let order = order::order(&bases);
        let refusals = BTreeMap::new();
        for keep_going in [false, true] {
            let policy = Policy {
                keep_going,
                ..Policy::default()
            };
            let mut queue = Queue::new(&bases, &order, &refusals, policy);
            queue.settle(&record("lib", BuildStatus::Failed));
            let decisions = names(&mut queue);
            let status = |name: &str| match &decisions.iter().find(|(n, _)| n == name) {
                Some((_, Decision::Settled(record))) => Some(record.status),
                _ => None,
            };
            assert_eq!(status("app"), Some(BuildStatus::Skipped));
            let tool = if keep_going {
                None
            } else {
                Some(BuildStatus::Skipped)
            };
            assert_eq!(status("tool"), tool, "keep_going {keep_going}");
        }
    }

    #[test]
    fn a_refused_base_fails_unless_findings_are_ignored() {
        let bases = set();
        let order = order::order(&bases);
        let refusals = BTreeMap::from([("tool".to_owned(), FindingRecord::default())]);
        for ignore_findings in [false, true] {
            let policy = Policy {
                ignore_findings,
                ..Policy::default()
            };
            let mut queue = Queue::new(&bases, &order, &refusals, policy);
            let tool = names(&mut queue).into_iter().find(|(n, _)| n == "tool");
            let failed = matches!(tool, Some((_, Decision::Settled(ref r))) if r.status == BuildStatus::Failed);
            assert_eq!(failed, !ignore_findings);
        }
    }

    #[test]
    fn bases_in_a_cycle_fail() {
        let bases = vec![base("a", &["b"]), base("b", &["a"])];
        let order = order::order(&bases);
        let refusals = BTreeMap::new();
        let queue = Queue::new(&bases, &order, &refusals, Policy::default());
        let cycles = queue.cycles();
        assert!(!cycles.is_empty(), "{order:?}");
        assert!(
            cycles
                .iter()
                .all(|(_, _, r)| r.status == BuildStatus::Failed)
        );
    }
}
