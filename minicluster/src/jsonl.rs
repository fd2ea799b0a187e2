//! Reading and writing JSON lines.
//!
//! Input is read line by line so a bad line can be named by its number and the rest still read.
//! Output is flushed after every record when it goes to a pipe, so the next tool in a pipeline
//! starts working at once; to a file it is block-buffered.

use std::io::{self, BufRead, BufWriter, IsTerminal, Write};

use serde::Serialize;

use crate::record::{ErrorRecord, Record};

/// One input line: its number, its text, and the record it holds.
#[derive(Debug)]
pub struct Line {
    /// 1-based line number in the input.
    pub number: u64,
    /// The line as read, without its line ending.
    pub raw: String,
    /// The parsed record; [`Record::Other`] for types this tool does not handle.
    pub record: Record,
}

/// Why an input line could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input could not be read at all.
    #[error("reading input: {0}")]
    Io(#[from] io::Error),
    /// A line is not a JSON record.
    #[error("line {number}: not a JSON record: {source}")]
    Json {
        /// 1-based line number.
        number: u64,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
}

impl ReadError {
    /// The `bad_input` error record `tool` writes for this failure; `subject.line` names the
    /// line.
    pub fn error_record(&self, tool: &str) -> ErrorRecord {
        let subject = match self {
            Self::Json { number, .. } => serde_json::json!({ "line": number }),
            Self::Io(_) => serde_json::Value::Null,
        };
        ErrorRecord::new(tool, "bad_input", self.to_string(), subject)
    }
}

/// Reads records from `input`, one per line; blank lines are skipped.
pub fn read_lines(input: impl BufRead) -> impl Iterator<Item = Result<Line, ReadError>> {
    input
        .lines()
        .zip(1..)
        .filter(|(line, _)| line.as_ref().map_or(true, |text| !text.trim().is_empty()))
        .map(|(line, number)| {
            let raw = line?;
            match serde_json::from_str(&raw) {
                Ok(record) => Ok(Line {
                    number,
                    raw,
                    record,
                }),
                Err(source) => Err(ReadError::Json { number, source }),
            }
        })
}

/// Writes records, one per line.
pub struct RecordWriter<W: Write> {
    out: BufWriter<W>,
    flush_each: bool,
}

impl RecordWriter<io::Stdout> {
    /// A writer on standard output: flushed per record unless stdout is a regular file.
    pub fn stdout() -> Self {
        let flush_each = !is_regular_file_stdout();
        Self::new(io::stdout(), flush_each)
    }
}

/// Whether stdout is redirected to a file, where block buffering is safe and faster.
fn is_regular_file_stdout() -> bool {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        return false;
    }
    std::fs::metadata("/dev/stdout").is_ok_and(|meta| meta.is_file())
}

impl<W: Write> RecordWriter<W> {
    /// A writer on `out`; `flush_each` flushes after every record.
    pub fn new(out: W, flush_each: bool) -> Self {
        Self {
            out: BufWriter::new(out),
            flush_each,
        }
    }

    /// Writes one record.
    pub fn write(&mut self, record: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.end_line()
    }

    /// Writes a record that this tool forwards unchanged.
    pub fn write_raw(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.end_line()
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn end_line(&mut self) -> io::Result<()> {
        self.out.write_all(b"\n")?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_numbered_and_the_rest_is_read() {
        let input = "{\"type\":\"package\",\"name\":\"a\"}\nnot json\n\n{\"type\":\"x\"}\n";
        let lines: Vec<_> = read_lines(input.as_bytes()).collect();
        assert_eq!(lines.len(), 3);
        assert!(matches!(&lines[1], Err(ReadError::Json { number: 2, .. })));
        let Ok(last) = &lines[2] else {
            panic!("line 4 is valid");
        };
        assert_eq!((last.number, &last.record), (4, &Record::Other));
    }

    #[test]
    fn writer_ends_each_record_with_a_newline() {
        let mut buffer = Vec::new();
        {
            let mut writer = RecordWriter::new(&mut buffer, true);
            writer.write_raw("{\"type\":\"x\"}").expect("writes");
            writer
                .write(&serde_json::json!({"type": "y"}))
                .expect("writes");
        }
        assert_eq!(
            String::from_utf8_lossy(&buffer),
            "{\"type\":\"x\"}\n{\"type\":\"y\"}\n"
        );
    }
}
