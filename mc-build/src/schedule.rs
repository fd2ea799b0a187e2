//! The order of a run in time: builds start as soon as the [`Queue`] says what they need is
//! built, up to `--jobs` at once on worker threads; their packages are published, and their
//! records written, on the calling thread as they end.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    time::Instant,
};

use minicluster::{
    record::{BuildRecord, BuildStatus, ErrorRecord, FindingRecord, PackageRecord},
    report::Report,
};

use crate::{
    TOOL,
    builder::{self, Attempt, Publisher, Workshop},
    cli::Cli,
    engine::{Engine, Ran, Request},
    order,
    queue::{Decision, Policy, Queue, not_built},
    reproducible,
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

/// A finished build from a worker thread.
struct Done {
    base: String,
    started: Instant,
    ran: Ran,
    verdict: Option<reproducible::Verdict>,
}

/// Starts builds as the [`Queue`] allows, up to `jobs` at once, on `engine`, and publishes
/// each on the calling thread as it ends.
pub(crate) struct Scheduler<'a> {
    pub(crate) cli: &'a Cli,
    pub(crate) set: &'a Set<'a>,
    pub(crate) engine: &'a dyn Engine,
    pub(crate) jobs: usize,
}

impl Scheduler<'_> {
    pub(crate) fn run(
        &self,
        workshop: &Workshop<'_>,
        publisher: &mut Publisher,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let policy = Policy {
            keep_going: self.cli.keep_going,
            ignore_findings: self.cli.ignore_findings,
        };
        let set = self.set;
        let mut queue = Queue::new(set.bases, &set.order, set.refusals, policy);
        for (message, cycle, record) in queue.cycles() {
            let subject = serde_json::json!({ "base": record.base, "cycle": cycle });
            // Its failed build record counts the base as failed.
            report.write_error(ErrorRecord::new(TOOL, "dependency_cycle", message, subject))?;
            finish(&mut queue, record, report)?;
        }
        let jobs = self.jobs;
        let (sender, receiver) = std::sync::mpsc::channel::<Done>();
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let mut running = 0;
            loop {
                queue.rewind();
                while let Some((name, decision)) = queue.next() {
                    let base = queue.base(name);
                    let record = match decision {
                        Decision::Wait => {
                            queue.pass();
                            continue;
                        }
                        Decision::Settled(record) => *record,
                        Decision::Ready => match publisher.already_built(base) {
                            Some(packages) => already_built(base, packages, workshop),
                            None if running < jobs => {
                                queue.take();
                                running += 1;
                                self.start(scope, workshop, base, sender.clone());
                                continue;
                            }
                            None => {
                                queue.pass();
                                continue;
                            }
                        },
                    };
                    finish(&mut queue, record, report)?;
                    // A settled base may unblock earlier ones: look again from the start.
                    queue.rewind();
                }
                if running == 0 {
                    // Only bases waiting on each other could be left; the order rules it out,
                    // but a base is never dropped without a record.
                    for name in queue.drain() {
                        let why = "its dependencies were never built".to_owned();
                        let record = not_built(queue.base(name), BuildStatus::Skipped, why);
                        finish(&mut queue, record, report)?;
                    }
                    break;
                }
                let done = receiver.recv().expect("a running build always reports");
                running -= 1;
                let record = self.published(done, workshop, publisher);
                finish(&mut queue, record, report)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Builds `base` on a worker thread of `scope`, which sends the result to `sender`.
    fn start<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        workshop: &'scope Workshop<'_>,
        base: &'scope Base,
        sender: std::sync::mpsc::Sender<Done>,
    ) {
        let folder = &self.set.folders[&base.name];
        let mut needed = builder::needed(base, self.set.bases, &self.set.providers);
        // What a coordinator names for a worker, whose set is this base alone.
        needed.extend(self.cli.deps.iter().filter(|d| !d.is_empty()).cloned());
        needed.sort();
        needed.dedup();
        let twice = self.cli.check_reproducible;
        let engine = self.engine;
        scope.spawn(move || {
            let started = Instant::now();
            let (ran, verdict) = if twice {
                let (outcome, verdict) = build_twice(workshop, base, folder, &needed);
                let ran = Ran {
                    outcome,
                    worker: None,
                    lost_workers: Vec::new(),
                };
                (ran, verdict)
            } else {
                let request = Request {
                    base,
                    folder,
                    needed: &needed,
                };
                (engine.build(&request), None)
            };
            let _ = sender.send(Done {
                base: base.name.clone(),
                started,
                ran,
                verdict,
            });
        });
    }

    /// The record of a finished build, its packages published first.
    fn published(
        &self,
        done: Done,
        workshop: &Workshop<'_>,
        publisher: &mut Publisher,
    ) -> BuildRecord {
        let base = self
            .set
            .bases
            .iter()
            .find(|base| base.name == done.base)
            .expect("a finished build is of the set");
        let (reproducible, first_difference) = done
            .verdict
            .map_or((None, None), |v| (Some(v.identical), v.first_difference));
        let outcome = done.ran.outcome.and_then(|out| publisher.publish(&out));
        let (status, reason, packages) = match outcome {
            Ok(packages) => (BuildStatus::Built, None, packages),
            Err(builder::Failure(reason)) => (BuildStatus::Failed, Some(reason), Vec::new()),
        };
        let built = status == BuildStatus::Built;
        BuildRecord {
            reason,
            elapsed_ms: u64::try_from(done.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            log_path: Some(workshop.log_path(&base.name).display().to_string()),
            packages,
            reproducible: reproducible.filter(|_| built),
            first_difference: first_difference.filter(|_| built),
            worker: done.ran.worker,
            lost_workers: done.ran.lost_workers,
            ..not_built(base, status, String::new())
        }
    }
}

/// The record of a base whose packages the repository holds already.
fn already_built(
    base: &Base,
    packages: Vec<PackageRecord>,
    workshop: &Workshop<'_>,
) -> BuildRecord {
    BuildRecord {
        reason: Some("already built".to_owned()),
        packages,
        log_path: Some(workshop.log_path(&base.name).display().to_string()),
        ..not_built(base, BuildStatus::Built, String::new())
    }
}

/// Settles a base in the queue and writes its records.
fn finish(queue: &mut Queue<'_>, record: BuildRecord, report: &mut Report) -> io::Result<()> {
    queue.settle(&record);
    crate::write_build(report, record)
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
