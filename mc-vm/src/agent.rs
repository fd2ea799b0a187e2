//! The QEMU guest agent, through the `qapi` crate: `guest-sync` first, then commands.

use std::{
    io::BufReader,
    os::unix::net::UnixStream,
    path::Path,
    thread,
    time::{Duration, Instant},
};

use qapi::qga;

use crate::VmError;

/// How long one `guest-sync` attempt waits for its answer: until the guest's `qemu-ga` listens,
/// the request is lost, so the attempt is repeated on a new connection.
const SYNC_ATTEMPT: Duration = Duration::from_millis(1000);

/// The bytes one `guest-file-read` or `guest-file-write` carries (base64 makes the message a
/// third larger).
pub const CHUNK: usize = 256 * 1024;

/// What a command run in the guest did.
#[derive(Debug)]
pub struct ExecOutput {
    /// Its exit code, 128 + N when killed by signal N.
    pub exit_code: i64,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// Whether the agent cut either output at its cap.
    pub truncated: bool,
}

/// A connection to a guest agent that answered `guest-sync`.
pub struct Agent {
    inner: qapi::Qga<qapi::Stream<BufReader<UnixStream>, UnixStream>>,
}

impl Agent {
    /// Connects to the agent's socket at `path` and syncs, retrying until `timeout` while the
    /// QEMU of pid `qemu` runs.
    pub fn connect(path: &Path, timeout: Duration, qemu: u32) -> Result<Self, VmError> {
        let started = Instant::now();
        let mut attempt: i32 = 0;
        loop {
            attempt += 1;
            let last_error = match Self::try_sync(path, std::process::id() as i32 ^ attempt) {
                Ok(agent) => return Ok(agent),
                Err(error) => error,
            };
            if !crate::qemu::alive(qemu) {
                return Err(VmError::QemuGone(qemu));
            }
            if started.elapsed() >= timeout {
                return Err(VmError::AgentTimeout {
                    seconds: timeout.as_secs(),
                    message: last_error,
                });
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_sync(path: &Path, id: i32) -> Result<Self, String> {
        let stream = UnixStream::connect(path).map_err(|error| error.to_string())?;
        stream
            .set_read_timeout(Some(SYNC_ATTEMPT))
            .map_err(|error| error.to_string())?;
        let reader = stream.try_clone().map_err(|error| error.to_string())?;
        let mut inner = qapi::Qga::new(qapi::Stream::new(BufReader::new(reader), stream));
        let id = i64::from(id);
        inner
            .write_command(&qga::guest_sync { id })
            .map_err(|error| error.to_string())?;
        // A request of an earlier attempt can wait in the port until qemu-ga opens it, and its
        // answer comes first: skip answers to other ids (qapi's own guest_sync gives up on them).
        loop {
            match inner.read_response::<qga::guest_sync>() {
                Ok(answer) if answer == id => return Ok(Self { inner }),
                Ok(_) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
    }

    /// Runs `command` (program searched in the guest's PATH, then its arguments) and waits up
    /// to `timeout` for it to finish.
    pub fn exec(&mut self, command: &[String], timeout: Duration) -> Result<ExecOutput, VmError> {
        let (program, args) = command.split_first().ok_or(VmError::EmptyCommand)?;
        self.set_timeout(timeout)?;
        let started = Instant::now();
        let pid = self
            .execute(&qga::guest_exec {
                path: program.clone(),
                arg: Some(args.to_vec()),
                env: None,
                input_data: None,
                capture_output: Some(qga::GuestExecCaptureOutput::flag(true)),
            })?
            .pid;
        let mut pause = Duration::from_millis(20);
        loop {
            let status = self.execute(&qga::guest_exec_status { pid })?;
            if status.exited {
                let exit_code = status
                    .exitcode
                    .or(status.signal.map(|signal| 128 + signal))
                    .unwrap_or(-1);
                return Ok(ExecOutput {
                    exit_code,
                    stdout: status.out_data.unwrap_or_default(),
                    stderr: status.err_data.unwrap_or_default(),
                    truncated: status.out_truncated == Some(true)
                        || status.err_truncated == Some(true),
                });
            }
            if started.elapsed() >= timeout {
                return Err(VmError::ExecTimeout {
                    command: command.join(" "),
                    seconds: timeout.as_secs(),
                });
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Writes `data` to `path` in the guest (created or truncated), in base64 chunks of
    /// [`CHUNK`] bytes; the file is closed whatever happens.
    pub fn write_file(
        &mut self,
        path: &str,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), VmError> {
        self.set_timeout(timeout)?;
        let handle = self.open(path, "w")?;
        let written = data.chunks(CHUNK).try_for_each(|chunk| {
            let mut rest = chunk;
            while !rest.is_empty() {
                let reply = self.execute(&qga::guest_file_write {
                    handle,
                    buf_b64: rest.to_vec(),
                    count: None,
                })?;
                let count = usize::try_from(reply.count).unwrap_or(0).min(rest.len());
                if count == 0 {
                    return Err(VmError::Agent {
                        message: format!("guest-file-write to {path} wrote nothing"),
                    });
                }
                rest = &rest[count..];
            }
            Ok(())
        });
        let closed = self.execute(&qga::guest_file_close { handle }).map(drop);
        written.and(closed)
    }

    /// Reads the file at `path` in the guest, in chunks of [`CHUNK`] bytes, up to `limit`
    /// bytes; the file is closed whatever happens.
    pub fn read_file(
        &mut self,
        path: &str,
        limit: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, VmError> {
        self.set_timeout(timeout)?;
        let handle = self.open(path, "r")?;
        let mut data = Vec::new();
        let read = loop {
            let reply = match self.execute(&qga::guest_file_read {
                handle,
                count: Some(CHUNK as i64),
            }) {
                Ok(reply) => reply,
                Err(error) => break Err(error),
            };
            data.extend_from_slice(&reply.buf_b64);
            if data.len() as u64 > limit {
                break Err(VmError::Agent {
                    message: format!("{path} in the guest is larger than {limit} bytes"),
                });
            }
            if reply.eof || reply.count == 0 {
                break Ok(());
            }
        };
        let closed = self.execute(&qga::guest_file_close { handle }).map(drop);
        read.and(closed).map(|()| data)
    }

    fn open(&mut self, path: &str, mode: &str) -> Result<i64, VmError> {
        self.execute(&qga::guest_file_open {
            path: path.to_owned(),
            mode: Some(mode.to_owned()),
        })
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<(), VmError> {
        self.inner
            .inner()
            .get_ref_write()
            .set_read_timeout(Some(timeout))
            .map_err(|source| VmError::Agent {
                message: source.to_string(),
            })
    }

    fn execute<C: qapi::Command>(&mut self, command: &C) -> Result<C::Ok, VmError> {
        self.inner
            .execute(command)
            .map_err(|source| VmError::Agent {
                message: match source {
                    qapi::ExecuteError::Io(error)
                        if matches!(
                            error.kind(),
                            std::io::ErrorKind::UnexpectedEof
                                | std::io::ErrorKind::BrokenPipe
                                | std::io::ErrorKind::ConnectionReset
                        ) =>
                    {
                        format!("{}: the connection closed (QEMU stopped?)", C::NAME)
                    }
                    other => format!("{}: {other}", C::NAME),
                },
            })
    }
}
