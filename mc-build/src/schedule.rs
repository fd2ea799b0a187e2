//! The order of a run in time: builds start as soon as what they need is built, up to `--jobs`
//! at once on worker threads; their packages are published, and their records written, on the
//! calling thread as they end.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    time::Instant,
};

use minicluster::record::{BuildRecord, ErrorRecord, FindingRecord};

use crate::{
    Report, TOOL,
    builder::{self, Attempt, Publisher, Workshop},
    cli::Cli,
    order, reproducible,
    srcinfo::Base,
};

/// The set of bases to build and what is known about it.
pub(crate) struct Set<'a> {
    pub(crate) bases: &'a [Base],
    pub(crate) folders: &'a BTreeMap<String, PathBuf>,
    pub(crate) refusals: &'a BTreeMap<String, FindingRecord>,
    pub(crate) order: order::Order,
    pub(crate) providers: order::Providers,
}

impl Set<'_> {
    fn base(&self, name: &str) -> &Base {
        self.bases
            .iter()
            .find(|base| base.name == name)
            .expect("ordered bases come from the set")
    }
}

/// A finished build from a worker thread.
struct Done {
    base: String,
    started: Instant,
    outcome: Result<PathBuf, builder::Failure>,
    verdict: Option<reproducible::Verdict>,
}

/// Starts builds as their dependencies are built, up to `--jobs` at once, and publishes each
/// on the main thread as it ends.
pub(crate) struct Scheduler<'a> {
    pub(crate) cli: &'a Cli,
    pub(crate) set: &'a Set<'a>,
    /// `built`, `failed` or `skipped` per finished base.
    pub(crate) status: BTreeMap<String, String>,
    /// An earlier build failed and --keep-going was not given.
    pub(crate) stopped: bool,
}

impl Scheduler<'_> {
    pub(crate) fn run(
        mut self,
        workshop: &Workshop<'_>,
        publisher: &mut Publisher,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        for cycle in &self.set.order.cycles {
            let message = format!("dependency cycle: {}", cycle.join(" → "));
            for name in &cycle[1..] {
                report.error(ErrorRecord::new(
                    TOOL,
                    "dependency_cycle",
                    message.clone(),
                    serde_json::json!({ "base": name, "cycle": cycle }),
                ))?;
                let record = not_built(self.set.base(name), "failed", message.clone());
                self.finish(record, report)?;
            }
        }
        let mut pending: Vec<&str> = self
            .set
            .order
            .bases
            .iter()
            .map(String::as_str)
            .filter(|name| !self.status.contains_key(*name))
            .collect();
        let jobs = self.cli.jobs.max(1);
        let (sender, receiver) = std::sync::mpsc::channel::<Done>();
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let mut running = 0;
            loop {
                let mut index = 0;
                while index < pending.len() {
                    let name = pending[index];
                    match self.decide(name, publisher, workshop) {
                        Decision::Wait => index += 1,
                        Decision::Start if running >= jobs => index += 1,
                        Decision::Start => {
                            pending.remove(index);
                            running += 1;
                            let sender = sender.clone();
                            let base = self.set.base(name);
                            let folder = &self.set.folders[name];
                            let needed = builder::needed(base, self.set.bases, &self.set.providers);
                            let twice = self.cli.check_reproducible;
                            scope.spawn(move || {
                                let started = Instant::now();
                                let (outcome, verdict) = if twice {
                                    build_twice(workshop, base, folder, &needed)
                                } else {
                                    let once = Attempt::default();
                                    (workshop.build(base, folder, &needed, once), None)
                                };
                                let base = base.name.clone();
                                let _ = sender.send(Done {
                                    base,
                                    started,
                                    outcome,
                                    verdict,
                                });
                            });
                        }
                        Decision::Record(record) => {
                            pending.remove(index);
                            self.finish(*record, report)?;
                            // A finished base may unblock earlier entries: look again.
                            index = 0;
                        }
                    }
                }
                if running == 0 {
                    // Only bases waiting on each other could be left; the order rules it out,
                    // but a base is never dropped without a record.
                    for name in pending.drain(..) {
                        let why = "its dependencies were never built".to_owned();
                        self.finish(not_built(self.set.base(name), "skipped", why), report)?;
                    }
                    break;
                }
                let done = receiver.recv().expect("a running build always reports");
                running -= 1;
                let record = self.published(done, workshop, publisher);
                self.finish(record, report)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// What to do with `name` now.
    fn decide(&self, name: &str, publisher: &Publisher, workshop: &Workshop<'_>) -> Decision {
        let base = self.set.base(name);
        let mut unfinished = false;
        for dep in &self.set.order.needs[name] {
            match self.status.get(dep).map(String::as_str) {
                Some("built") => {}
                Some(other) => {
                    let why = if other == "failed" {
                        "failed"
                    } else {
                        "was skipped"
                    };
                    let reason = format!("dependency {dep} {why}");
                    return Decision::Record(Box::new(not_built(base, "skipped", reason)));
                }
                None => unfinished = true,
            }
        }
        if self.stopped {
            let why = "an earlier build failed (--keep-going builds the rest)".to_owned();
            return Decision::Record(Box::new(not_built(base, "skipped", why)));
        }
        if unfinished {
            return Decision::Wait;
        }
        if let Some(finding) = self
            .set
            .refusals
            .get(name)
            .filter(|_| !self.cli.ignore_findings)
        {
            let why = format!(
                "refused: mc-verify finding {} ({}); --ignore-findings builds it anyway",
                finding.check, finding.message
            );
            return Decision::Record(Box::new(not_built(base, "failed", why)));
        }
        if let Some(packages) = publisher.already_built(base) {
            return Decision::Record(Box::new(BuildRecord {
                reason: Some("already built".to_owned()),
                packages,
                log_path: Some(workshop.log_path(name).display().to_string()),
                ..not_built(base, "built", String::new())
            }));
        }
        Decision::Start
    }

    /// The record of a finished build, its packages published first.
    fn published(
        &self,
        done: Done,
        workshop: &Workshop<'_>,
        publisher: &mut Publisher,
    ) -> BuildRecord {
        let base = self.set.base(&done.base);
        let (reproducible, first_difference) = done
            .verdict
            .map_or((None, None), |v| (Some(v.identical), v.first_difference));
        let outcome = done.outcome.and_then(|out| publisher.publish(&out));
        let (status, reason, packages) = match outcome {
            Ok(packages) => ("built", None, packages),
            Err(builder::Failure(reason)) => ("failed", Some(reason), Vec::new()),
        };
        BuildRecord {
            status: status.to_owned(),
            reason,
            duration_ms: u64::try_from(done.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            log_path: Some(workshop.log_path(&base.name).display().to_string()),
            packages,
            reproducible: reproducible.filter(|_| status == "built"),
            first_difference: first_difference.filter(|_| status == "built"),
            ..not_built(base, status, String::new())
        }
    }

    fn finish(&mut self, record: BuildRecord, report: &mut Report) -> io::Result<()> {
        self.stopped |= record.status == "failed" && !self.cli.keep_going;
        self.status
            .insert(record.base.clone(), record.status.clone());
        report.build(record)
    }
}

/// `--check-reproducible`: builds `base` twice with one `SOURCE_DATE_EPOCH` and compares. The
/// first build's packages (moved aside to `WORK/bases/BASE.first`) are the ones published.
fn build_twice(
    workshop: &Workshop<'_>,
    base: &Base,
    folder: &Path,
    needed: &[String],
) -> (
    Result<PathBuf, builder::Failure>,
    Option<reproducible::Verdict>,
) {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let first = Attempt {
        source_date_epoch: Some(epoch),
        rebuild: false,
    };
    let kept = workshop
        .work
        .join("bases")
        .join(format!("{}.first", base.name));
    let result = (|| {
        let out = workshop.build(base, folder, needed, first)?;
        if kept.exists() {
            std::fs::remove_dir_all(&kept)?;
        }
        std::fs::rename(&out, &kept)?;
        let again = Attempt {
            rebuild: true,
            ..first
        };
        let second = workshop.build(base, folder, needed, again)?;
        let verdict = reproducible::compare(&kept, &second)?;
        Ok::<_, builder::Failure>(verdict)
    })();
    match result {
        Ok(verdict) => (Ok(kept), Some(verdict)),
        Err(failure) => (Err(failure), None),
    }
}

/// What the scheduler does with a pending base.
enum Decision {
    /// Its dependencies are still building.
    Wait,
    /// Build it.
    Start,
    /// Nothing to build: this is its record.
    Record(Box<BuildRecord>),
}

/// A `build` record for a base that was not built now.
fn not_built(base: &Base, status: &str, reason: String) -> BuildRecord {
    BuildRecord {
        base: base.name.clone(),
        version: Some(base.version.clone()),
        status: status.to_owned(),
        reason: Some(reason),
        ..BuildRecord::default()
    }
}
