//! The `netboot` records a server writes, from every thread, one line each as it happens.

use std::sync::{Arc, Mutex};

use minicluster::{
    jsonl::RecordWriter,
    record::{NetbootEvent, NetbootRecord, Record, Timestamp},
};

/// What receives the records.
type Sink = Box<dyn FnMut(&Record) + Send>;

/// Where the server's threads send their records; cloning shares the one writer.
#[derive(Clone)]
pub struct Events {
    out: Arc<Mutex<Sink>>,
}

impl Events {
    /// Records to stdout, flushed after each line even into a file: a server runs for long,
    /// and whoever waits on its records (`tail -f`, a Makefile) must see each at once.
    pub fn stdout() -> Self {
        let mut writer = RecordWriter::new(std::io::stdout(), true);
        Self::to(move |record| {
            // A reader that went away must not stop the installations under way.
            let _ = writer.write(record);
        })
    }

    /// Records to `sink`.
    pub fn to(sink: impl FnMut(&Record) + Send + 'static) -> Self {
        Self {
            out: Arc::new(Mutex::new(Box::new(sink))),
        }
    }

    /// Writes `record`, stamped with the time now.
    pub fn emit(&self, mut record: NetbootRecord) {
        record.at = Timestamp::now();
        let record = Record::Netboot(Box::new(record));
        if let Ok(mut out) = self.out.lock() {
            out(&record);
        }
    }
}

/// A record of `event` with `message`; the caller fills in the rest.
pub fn record(event: NetbootEvent, message: impl Into<String>) -> NetbootRecord {
    NetbootRecord {
        event,
        ok: true,
        message: message.into(),
        at: Timestamp::now(),
        ..NetbootRecord::default()
    }
}
