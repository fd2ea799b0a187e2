//! A one-line progress display on stderr, for people watching a terminal.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use minicluster::report::{FAILED, Report};

use crate::counts::{INDEXED, REPLACED, UNCHANGED};

/// Redraws at most this often.
const INTERVAL: Duration = Duration::from_millis(250);

/// Progress of an indexing run.
pub struct Progress {
    enabled: bool,
    started: Instant,
    last_drawn: Option<Instant>,
    bytes: u64,
}

impl Progress {
    /// A display that draws only when `wanted` and stderr is a terminal.
    pub fn new(wanted: bool) -> Self {
        Self {
            enabled: wanted && std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
            bytes: 0,
        }
    }

    /// Counts a package of `bytes` read.
    pub fn package(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    /// Redraws the line if it is due.
    pub fn show(&mut self, counts: &Report<impl Write>) {
        if self.last_drawn.is_none_or(|at| at.elapsed() >= INTERVAL) {
            self.draw(counts);
        }
    }

    /// Draws the final counts and ends the line.
    pub fn finish(&mut self, counts: &Report<impl Write>) {
        if self.enabled {
            self.draw(counts);
            eprintln!();
        }
    }

    fn draw(&mut self, counts: &Report<impl Write>) {
        if !self.enabled {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let megabytes = self.bytes as f64 / 1e6;
        eprint!(
            "\rmc-index: {} indexed, {} unchanged, {} failed, {megabytes:.1} MB at {:.1} MB/s  ",
            counts.get(INDEXED) + counts.get(REPLACED),
            counts.get(UNCHANGED),
            counts.get(FAILED),
            megabytes / seconds,
        );
        let _ = std::io::stderr().flush();
    }
}
