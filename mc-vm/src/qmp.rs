//! QMP, QEMU's control protocol, through the `qapi` crate.
//!
//! `qapi` 0.15 is generated from a newer QEMU schema than Debian's 7.2; the replies and events
//! used here (`query-status`, `system_powerdown`, `quit`, `snapshot-save`, `snapshot-load`,
//! `snapshot-delete`, `query-jobs`, `job-dismiss`; `POWERDOWN`, `SHUTDOWN`, `STOP`, `RESUME`,
//! `JOB_STATUS_CHANGE`) decode against 7.2 as they are (the extra `singlestep` field of 7.2's
//! `query-status` is ignored), so no raw `Command` implementation is needed yet: tests/vm.rs
//! runs them against the real QEMU. One gap is closed here instead: qapi panics on a socket that
//! closes before the greeting, so [`Qmp::over`] looks for the greeting first.

use std::{
    io::{BufRead, BufReader},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use qapi::qmp;

use crate::{VmError, image::SnapshotChange};

/// How long QMP may take to answer once QEMU runs.
pub const QMP_TIMEOUT: Duration = Duration::from_secs(10);

/// A QMP connection after the capabilities handshake.
pub struct Qmp {
    inner: qapi::Qmp<qapi::Stream<BufReader<UnixStream>, UnixStream>>,
    /// The QEMU version the greeting reports.
    pub version: String,
    /// The socket, for messages.
    path: PathBuf,
}

impl Qmp {
    /// Connects to the socket at `path`, retrying until `timeout` while QEMU sets it up.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, VmError> {
        let started = Instant::now();
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(_) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(VmError::io("connecting to", path)(source)),
            }
        };
        stream
            .set_read_timeout(Some(timeout))
            .map_err(VmError::io("setting a timeout on", path))?;
        let mut qmp = Self::over(stream).map_err(|error| match error {
            VmError::Qmp { message, .. } => VmError::Qmp {
                path: path.to_owned(),
                message,
            },
            other => other,
        })?;
        qmp.path = path.to_owned();
        Ok(qmp)
    }

    /// Greets QEMU over a connected stream (the capabilities handshake).
    pub fn over(stream: UnixStream) -> Result<Self, VmError> {
        let reader = stream.try_clone().map_err(|source| VmError::Qmp {
            path: Default::default(),
            message: source.to_string(),
        })?;
        let mut reader = BufReader::new(reader);
        // qapi panics on a socket that closes before the greeting: look for one first.
        let closed = reader.fill_buf().map_err(|source| VmError::Qmp {
            path: Default::default(),
            message: format!("waiting for the greeting: {source}"),
        })?;
        if closed.is_empty() {
            return Err(VmError::Qmp {
                path: Default::default(),
                message: "the socket closed before QEMU's greeting".to_owned(),
            });
        }
        let mut inner = qapi::Qmp::new(qapi::Stream::new(reader, stream));
        let greeting = inner.handshake().map_err(|source| VmError::Qmp {
            path: Default::default(),
            message: format!("handshake: {source}"),
        })?;
        let qemu = greeting.version.qemu;
        Ok(Self {
            inner,
            version: format!("{}.{}.{}", qemu.major, qemu.minor, qemu.micro),
            path: PathBuf::new(),
        })
    }

    fn execute<C: qapi::Command>(&mut self, command: &C) -> Result<C::Ok, VmError> {
        self.inner.execute(command).map_err(|source| VmError::Qmp {
            path: self.path.clone(),
            message: format!("{}: {source}", C::NAME),
        })
    }

    /// The run state (`running`, `paused`, `shutdown`, ...).
    pub fn status(&mut self) -> Result<String, VmError> {
        let info = self.execute(&qmp::query_status {})?;
        Ok(serde_json::to_value(info.status)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default())
    }

    /// Presses the ACPI power button.
    pub fn powerdown(&mut self) -> Result<(), VmError> {
        self.execute(&qmp::system_powerdown {}).map(drop)
    }

    /// Tells QEMU to quit at once.
    pub fn quit(&mut self) -> Result<(), VmError> {
        self.execute(&qmp::quit {}).map(drop)
    }

    /// Runs the snapshot job for `change` of snapshot `tag` on the disks of `devices` and waits
    /// up to `timeout` for it. `create` saves memory and device state into the first device's
    /// image too, and the guest goes on running; `revert` puts memory, devices and disks back,
    /// and a running guest goes on from there.
    pub fn snapshot(
        &mut self,
        change: SnapshotChange,
        tag: &str,
        devices: &[String],
        timeout: Duration,
    ) -> Result<(), VmError> {
        let job_id = format!("mc-vm-{}-{tag}", change.name());
        let (tag, devices) = (tag.to_owned(), devices.to_vec());
        let vmstate = devices.first().cloned().unwrap_or_default();
        match change {
            SnapshotChange::Create => self.execute(&qmp::snapshot_save {
                job_id: job_id.clone(),
                tag,
                vmstate,
                devices,
            })?,
            SnapshotChange::Revert => self.execute(&qmp::snapshot_load {
                job_id: job_id.clone(),
                tag,
                vmstate,
                devices,
            })?,
            SnapshotChange::Delete => self.execute(&qmp::snapshot_delete {
                job_id: job_id.clone(),
                tag,
                devices,
            })?,
        };
        self.finish_job(&job_id, timeout)
    }

    /// Waits for job `id` to conclude (polling `query-jobs`), dismisses it, and returns its
    /// error as a [`VmError::Qmp`]. Snapshot jobs are created with manual dismissal, so a
    /// concluded job stays listed until dismissed.
    fn finish_job(&mut self, id: &str, timeout: Duration) -> Result<(), VmError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let jobs = self.execute(&qmp::query_jobs {})?;
            // The JOB_STATUS_CHANGE events qapi queues while we poll say nothing query-jobs
            // does not.
            self.inner.events().for_each(drop);
            let job = jobs.into_iter().find(|job| job.id == id);
            match job {
                Some(job) if job.status == qmp::JobStatus::concluded => {
                    self.execute(&qmp::job_dismiss { id: id.to_owned() })?;
                    return match job.error {
                        None => Ok(()),
                        Some(message) => Err(VmError::Qmp {
                            path: self.path.clone(),
                            message: format!("job {id}: {message}"),
                        }),
                    };
                }
                Some(_) => {}
                None => {
                    return Err(VmError::Qmp {
                        path: self.path.clone(),
                        message: format!("job {id} vanished"),
                    });
                }
            }
            if started.elapsed() >= timeout {
                // Left running: QEMU finishes or fails it; the next command's query sees it.
                return Err(VmError::Qmp {
                    path: self.path.clone(),
                    message: format!("job {id} did not finish within {} s", timeout.as_secs()),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, Write};

    use super::*;

    /// What Debian's QEMU 7.2.22 said, recorded: the greeting, then one reply per command, with a
    /// `POWERDOWN` event arriving before the `query-status` reply.
    const QEMU_7_2: &[&str] = &[
        r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}"#,
        r#"{"return": {}}"#,
        r#"{"timestamp": {"seconds": 1795625962, "microseconds": 883159}, "event": "POWERDOWN"}"#,
        r#"{"return": {"status": "running", "singlestep": false, "running": true}}"#,
        r#"{"return": {}}"#,
    ];

    #[test]
    fn a_socket_that_closes_is_an_error_not_a_panic_or_a_hang() {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        drop(theirs);
        let error = Qmp::over(ours).err().expect("no greeting");
        assert!(error.to_string().contains("closed before"), "{error}");

        // Closed after the greeting, while a command waits for its reply.
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let qemu = std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(theirs.try_clone().expect("clones"));
            let mut writer = theirs;
            writeln!(writer, "{}", QEMU_7_2[0]).expect("greets");
            let mut line = String::new();
            reader.read_line(&mut line).expect("reads qmp_capabilities");
            writeln!(writer, "{}", QEMU_7_2[1]).expect("replies");
        });
        let mut qmp = Qmp::over(ours).expect("handshake");
        qemu.join().expect("fake QEMU ran");
        let error = qmp.status().expect_err("no reply");
        assert!(error.to_string().contains("query-status"), "{error}");
    }

    #[test]
    fn a_recorded_qemu_7_2_session_decodes() {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let qemu = std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(theirs.try_clone().expect("clones"));
            let mut writer = theirs;
            let mut commands = Vec::new();
            writeln!(writer, "{}", QEMU_7_2[0]).expect("greets");
            for replies in [&QEMU_7_2[1..2], &QEMU_7_2[2..4], &QEMU_7_2[4..5]] {
                let mut line = String::new();
                reader.read_line(&mut line).expect("reads a command");
                commands.push(line);
                for reply in replies {
                    writeln!(writer, "{reply}").expect("replies");
                }
            }
            commands
        });
        let mut qmp = Qmp::over(ours).expect("handshake");
        assert_eq!(qmp.version, "7.2.22");
        assert_eq!(qmp.status().expect("query-status"), "running");
        qmp.quit().expect("quit");
        let commands = qemu.join().expect("fake QEMU ran");
        let names: Vec<String> = commands
            .iter()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).expect("JSON")["execute"]
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [r#""qmp_capabilities""#, r#""query-status""#, r#""quit""#]
        );
    }
}
