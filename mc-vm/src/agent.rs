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
    /// Connects to the agent's socket at `path` and syncs, retrying until `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, VmError> {
        let started = Instant::now();
        let mut attempt: i32 = 0;
        loop {
            attempt += 1;
            let last_error = match Self::try_sync(path, std::process::id() as i32 ^ attempt) {
                Ok(agent) => return Ok(agent),
                Err(error) => error,
            };
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
        inner.guest_sync(id).map_err(|error| error.to_string())?;
        Ok(Self { inner })
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
                message: format!("{}: {source}", C::NAME),
            })
    }
}
