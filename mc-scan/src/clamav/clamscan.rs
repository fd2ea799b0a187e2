//! `clamscan -`: the fallback without clamd, one run per package.

use std::{
    io::{self, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use super::{ClamError, Hit};

/// `clamscan -` fed a tar of a package's files on stdin.
#[derive(Clone, Debug)]
pub struct Clamscan {
    database: Option<PathBuf>,
    timeout: Duration,
}

impl Clamscan {
    /// clamscan with its default databases, or those in `database`; each run is killed after
    /// `timeout`.
    pub fn new(database: Option<&Path>, timeout: Duration) -> Self {
        Self {
            database: database.map(Path::to_owned),
            timeout,
        }
    }

    /// Starts one run; the package's files are then added with [`ClamscanRun::add`].
    pub fn start(&self) -> Result<ClamscanRun, ClamError> {
        let mut command = Command::new("clamscan");
        command.args(["--no-summary", "--infected", "--stdout"]);
        if let Some(database) = &self.database {
            command.arg("--database").arg(database);
        }
        let mut child = command
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ClamError::Clamscan(format!("cannot run clamscan: {e}")))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let child = Arc::new(Mutex::new(child));
        // A clamscan that stops reading would block our writes for ever: past the deadline the
        // watchdog kills it, and the writes fail instead.
        let (done, finished) = mpsc::channel::<()>();
        let watched = Arc::clone(&child);
        let timeout = self.timeout;
        std::thread::spawn(move || {
            if finished.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                let _ = lock(&watched).kill();
            }
        });
        Ok(ClamscanRun {
            tar: Some(tar::Builder::new(stdin)),
            child,
            started: Instant::now(),
            deadline: Instant::now() + self.timeout,
            broken: None,
            _done: done,
        })
    }
}

/// One clamscan run over one package.
pub struct ClamscanRun {
    tar: Option<tar::Builder<std::process::ChildStdin>>,
    child: Arc<Mutex<Child>>,
    started: Instant,
    deadline: Instant,
    broken: Option<io::Error>,
    /// Dropped when the run ends, which tells the watchdog to stand down.
    _done: mpsc::Sender<()>,
}

fn lock(child: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    child
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ClamscanRun {
    /// Adds one file to the tar clamscan reads.
    pub fn add(&mut self, path: &str, data: &[u8]) {
        if self.broken.is_some() {
            return;
        }
        let Some(tar) = self.tar.as_mut() else { return };
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        let result = tar.append_data(&mut header, path, data);
        if let Err(error) = result {
            self.broken = Some(error);
        }
    }

    /// Closes clamscan's input and waits (up to the timeout) for its verdicts.
    pub fn finish(mut self) -> Result<Vec<Hit>, ClamError> {
        if let Some(tar) = self.tar.take() {
            // Dropping the builder's pipe ends clamscan's input.
            if let Err(error) = tar.into_inner().map(drop) {
                self.broken.get_or_insert(error);
            }
        }
        let status = loop {
            let mut child = lock(&self.child);
            match child.try_wait() {
                Ok(Some(_)) | Ok(None) if Instant::now() >= self.deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ClamError::Clamscan(format!(
                        "no verdict within {} s; killed",
                        (self.deadline - self.started).as_secs()
                    )));
                }
                Ok(Some(status)) => break status,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(error) => return Err(ClamError::Clamscan(error.to_string())),
            }
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        let mut child = lock(&self.child);
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        // 0: clean, 1: something found, 2: an error.
        match status.code() {
            Some(0 | 1) => Ok(stdout
                .lines()
                .filter_map(|line| line.strip_suffix(" FOUND"))
                .map(|line| line.rsplit_once(": ").map_or(line, |(_, sig)| sig))
                .map(|signature| Hit::Found {
                    member: None,
                    signature: signature.to_owned(),
                })
                .collect()),
            _ => Err(ClamError::Clamscan(format!(
                "exited with {status}: {}{}",
                stderr.trim(),
                self.broken
                    .map(|e| format!(" (writing its input: {e})"))
                    .unwrap_or_default()
            ))),
        }
    }
}
