//! A run's output, the same in every tool: records written as they come (flushed per record on a
//! pipe), counts by outcome, a `summary` record at the end, and the exit status.
//!
//! Every `error` record a [`Report`] writes counts once under [`FAILED`], the one name of the
//! summary for failed items (`mc-build` used to say `errors`); a run with a failed item exits 1.
//! A tool that writes several records about one item, or that fails for a reason that is not an
//! error record (a finding that reached `--fail-on`, a build skipped), says so with
//! [`Report::write_error`] and [`Report::mark_unsuccessful`].
//!
//! A reader that goes away (`mc-index query | head`) is a normal end of a pipeline: the writes
//! fail with [`std::io::ErrorKind::BrokenPipe`], the tool stops, and [`crate::cli::exit`] turns
//! that into exit status 0; [`Report::finish`] does the same when only the summary is left.
//! A tool that writes records per command (`mc-vm`) makes one `Report` per command.
//!
//! ```
//! use minicluster::{record::{ErrorRecord, Record}, report::Report, jsonl::RecordWriter};
//! let mut out = Vec::new();
//! let mut report = Report::new("mc-demo", RecordWriter::new(&mut out, true));
//! report.count("checked");
//! report.error(ErrorRecord::new("mc-demo", "bad_input", "line 2", serde_json::Value::Null))?;
//! assert_eq!(report.finish()?, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::{
    collections::BTreeMap,
    io::{self, Write},
    time::Instant,
};

use serde::Serialize;

use crate::{
    cli::{EXIT_OK, status},
    jsonl::{Line, RecordWriter},
    record::{ErrorRecord, Record, SummaryRecord},
};

/// The summary count of items that failed, each counted once.
pub const FAILED: &str = "failed";

/// The output of one run of `tool`.
pub struct Report<W: Write = io::Stdout> {
    tool: &'static str,
    out: RecordWriter<W>,
    started: Instant,
    counts: BTreeMap<String, u64>,
    unsuccessful: bool,
}

impl Report<io::Stdout> {
    /// A report on standard output (see [`RecordWriter::stdout`] for its buffering).
    pub fn stdout(tool: &'static str) -> Self {
        Self::new(tool, RecordWriter::stdout())
    }
}

impl<W: Write> Report<W> {
    /// A report of `tool` on `out`; the run's time starts now.
    pub fn new(tool: &'static str, out: RecordWriter<W>) -> Self {
        Self {
            tool,
            out,
            started: Instant::now(),
            counts: BTreeMap::new(),
            unsuccessful: false,
        }
    }

    /// Writes one record without counting it.
    pub fn write(&mut self, record: &impl Serialize) -> io::Result<()> {
        self.out.write(record)
    }

    /// Forwards an input line this tool does not handle, unchanged.
    pub fn forward(&mut self, line: &Line) -> io::Result<()> {
        self.out.write_raw(&line.raw)
    }

    /// Writes a record given as its JSON text, unchanged.
    pub fn write_raw(&mut self, raw: &str) -> io::Result<()> {
        self.out.write_raw(raw)
    }

    /// Counts one more item under `key`.
    pub fn count(&mut self, key: &str) {
        self.add(key, 1);
    }

    /// Counts `n` more under `key` (a key counted 0 times still appears in the summary).
    pub fn add(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_owned()).or_default() += n;
    }

    /// The count under `key` so far.
    pub fn get(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// Writes an error record and counts one failed item.
    pub fn error(&mut self, error: ErrorRecord) -> io::Result<()> {
        self.count(FAILED);
        self.write_error(error)
    }

    /// Writes an error record about an item already counted as failed (its second error, or an
    /// item whose own record counts it).
    pub fn write_error(&mut self, error: ErrorRecord) -> io::Result<()> {
        self.unsuccessful = true;
        self.out.write(&Record::Error(error))
    }

    /// The run exits 1 though no item failed: a finding reached `--fail-on`, a build was skipped.
    pub fn mark_unsuccessful(&mut self) {
        self.unsuccessful = true;
    }

    /// Milliseconds since the run began.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Writes the summary record and flushes; returns the exit status: 1 when an item failed or
    /// the run was marked unsuccessful, else 0 (also when the reader has gone away).
    pub fn finish(mut self) -> io::Result<u8> {
        let code = status(self.unsuccessful || self.get(FAILED) > 0);
        let counts = self.counts.iter().map(|(key, n)| (key.as_str(), *n));
        let summary = SummaryRecord::new(self.tool, self.started, counts);
        match self
            .out
            .write(&Record::Summary(summary))
            .and_then(|()| self.out.flush())
        {
            Err(error) if crate::cli::is_broken_pipe(&error) => Ok(EXIT_OK),
            Err(error) => Err(error),
            Ok(()) => Ok(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(out: &[u8]) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON"))
            .collect()
    }

    fn error() -> ErrorRecord {
        ErrorRecord::new("mc-test", "bad", "bad", serde_json::Value::Null)
    }

    #[test]
    fn counts_end_in_the_summary_and_failures_give_status_1() {
        let mut out = Vec::new();
        let mut report = Report::new("mc-test", RecordWriter::new(&mut out, true));
        report.count("indexed");
        report.add("indexed", 2);
        report.add("unchanged", 0);
        report.error(error()).expect("writes");
        report.write_error(error()).expect("writes");
        assert_eq!(report.finish().expect("finishes"), 1);
        let records = lines(&out);
        assert_eq!(records.len(), 3);
        let summary = &records[2];
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["tool"], "mc-test");
        assert_eq!(
            (
                &summary["indexed"],
                &summary["unchanged"],
                &summary["failed"]
            ),
            (&3.into(), &0.into(), &1.into())
        );
    }

    #[test]
    fn a_clean_run_exits_0_and_an_unsuccessful_one_1() {
        let report = Report::new("mc-test", RecordWriter::new(Vec::new(), true));
        assert_eq!(report.finish().expect("finishes"), 0);
        let mut report = Report::new("mc-test", RecordWriter::new(Vec::new(), true));
        report.mark_unsuccessful();
        assert_eq!(report.finish().expect("finishes"), 1);
    }

    #[test]
    fn forwarded_lines_are_unchanged() {
        let mut out = Vec::new();
        let mut report = Report::new("mc-test", RecordWriter::new(&mut out, true));
        let raw = r#"{"type":"appliance", "name" : "a"}"#;
        let line = crate::jsonl::read_lines(raw.as_bytes())
            .next()
            .expect("a line")
            .expect("valid");
        report.forward(&line).expect("writes");
        drop(report);
        assert_eq!(String::from_utf8_lossy(&out), format!("{raw}\n"));
    }

    /// A writer whose reader has gone away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_closed_pipe_at_the_end_is_success() {
        let mut report = Report::new("mc-test", RecordWriter::new(Closed, true));
        report.count(FAILED);
        assert_eq!(report.finish().expect("a broken pipe is no error"), 0);
    }
}
