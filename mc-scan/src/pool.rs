//! Packages scanned on several threads at once, their outcomes handed back in input order.
//!
//! Most of a scan's time is spent waiting: for clamd's verdicts, for the disk. Each worker has
//! its own YARA scanner and clamd session, so while one waits another decompresses and matches.

use std::{
    collections::BTreeMap,
    fs::File,
    io::BufReader,
    sync::{Arc, Mutex, mpsc},
    thread::Scope,
};

use crate::{
    clamav::ClamAv,
    scan::{Options, Outcome, Scanner},
    yara,
};

/// A package to scan: its id, the open file and the name findings give it.
type Job = (u64, File, String);

/// Worker threads and the outcomes they have handed back.
pub struct Pool {
    jobs: Option<mpsc::SyncSender<Job>>,
    outcomes: mpsc::Receiver<(u64, Outcome)>,
    arrived: BTreeMap<u64, Outcome>,
    next: u64,
}

impl Pool {
    /// Starts `workers` threads in `scope`, each with a scanner over `rules`.
    pub fn start<'scope, 'env: 'scope>(
        scope: &'scope Scope<'scope, 'env>,
        workers: usize,
        rules: &'env yara::Rules,
        clamav: &ClamAv,
        options: &Options,
    ) -> Self {
        let (jobs, queue) = mpsc::sync_channel::<Job>(workers * 2);
        let queue = Arc::new(Mutex::new(queue));
        let (done, outcomes) = mpsc::channel();
        for _ in 0..workers.max(1) {
            let (queue, done) = (Arc::clone(&queue), done.clone());
            let (clamav, options) = (clamav.clone(), options.clone());
            scope.spawn(move || {
                // A YARA-X scanner stays on the thread that made it.
                let mut scanner = Scanner::new(rules, clamav, options);
                loop {
                    let job = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    let Ok((id, file, name)) = job else { break };
                    let outcome = scanner.scan(BufReader::new(file), &name);
                    if done.send((id, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            jobs: Some(jobs),
            outcomes,
            arrived: BTreeMap::new(),
            next: 0,
        }
    }

    /// Queues the package in `file`; returns its id (ids count up from 0).
    pub fn submit(&mut self, file: File, name: String) -> u64 {
        let id = self.next;
        self.next += 1;
        if let Some(jobs) = &self.jobs {
            // Fails only when every worker is gone; `take` then reports the package as lost.
            let _ = jobs.send((id, file, name));
        }
        id
    }

    /// The outcome of package `id`, when it has arrived; with `wait`, waits for it.
    pub fn take(&mut self, id: u64, wait: bool) -> Option<Outcome> {
        while let Ok((done, outcome)) = self.outcomes.try_recv() {
            self.arrived.insert(done, outcome);
        }
        if wait {
            while !self.arrived.contains_key(&id) {
                match self.outcomes.recv() {
                    Ok((done, outcome)) => {
                        self.arrived.insert(done, outcome);
                    }
                    Err(_) => return Some(Outcome::lost()),
                }
            }
        }
        self.arrived.remove(&id)
    }

    /// No more packages: lets the workers end once the queue is empty.
    pub fn close(&mut self) {
        self.jobs = None;
    }
}
