//! ClamAV: `clamd` over its socket (INSTREAM, one session per package), or `clamscan` as the
//! slower fallback.
//!
//! clamd pays a few milliseconds per INSTREAM command (a thread, a spool file), which for the
//! small files most packages hold costs more than the scan. So members are sent in batches: a
//! small in-memory tar of consecutive members, up to clamd's stream limit, which clamd unpacks
//! and scans as one stream. A batch that matches is sent again member by member, so a finding
//! still names its member; clean batches, nearly all of them, cost one command each. clamscan
//! has no such protocol: the package's files go to its stdin as one tar, and a match names the
//! package only. Every read and write on the socket, and every clamscan run, has a timeout: a
//! clamd that is down or does not answer becomes an error, never a hang.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

/// How much of a member goes into one INSTREAM chunk.
const CHUNK_BYTES: usize = 1 << 20;

/// Why ClamAV could not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ClamError {
    /// The socket could not be reached (clamd not running, wrong path).
    #[error("cannot reach clamd at {socket}: {source}")]
    Unreachable {
        /// The socket.
        socket: PathBuf,
        /// What connecting said.
        source: io::Error,
    },
    /// clamd did not answer within the timeout.
    #[error("clamd at {socket} did not answer within {seconds} s")]
    Timeout {
        /// The socket.
        socket: PathBuf,
        /// The timeout in force.
        seconds: u64,
    },
    /// The conversation broke off.
    #[error("talking to clamd at {socket}: {source}")]
    Io {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// clamd answered something that is not a verdict.
    #[error("clamd answered {0:?}")]
    Reply(String),
    /// clamscan could not be run, or failed.
    #[error("clamscan: {0}")]
    Clamscan(String),
}

impl ClamError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "clamd_unreachable",
            Self::Timeout { .. } => "clamd_timeout",
            Self::Io { .. } | Self::Reply(_) => "clamd_failed",
            Self::Clamscan(_) => "clamscan_failed",
        }
    }
}

/// What ClamAV said about one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Clean,
    /// A signature matched.
    Found(String),
    /// clamd would not take it whole (its StreamMaxLength); not scanned.
    TooLarge,
}

/// Something ClamAV reported about a package's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A signature matched `member` (`None`: somewhere in the package, as clamscan reports).
    Found {
        /// The member, when known.
        member: Option<String>,
        /// The signature's name.
        signature: String,
    },
    /// The member is larger than clamd takes: not scanned.
    TooLarge(String),
}

/// A clamd on a Unix socket.
#[derive(Clone, Debug)]
pub struct Clamd {
    socket: PathBuf,
    timeout: Duration,
    max_stream_bytes: u64,
}

impl Clamd {
    /// A clamd at `socket`; `timeout` bounds every read and write, and members larger than
    /// `max_stream_bytes` (clamd's StreamMaxLength) are not sent.
    pub fn new(socket: &Path, timeout: Duration, max_stream_bytes: u64) -> Self {
        Self {
            socket: socket.to_owned(),
            timeout,
            max_stream_bytes,
        }
    }

    /// Opens a session: one connection for all members of a package.
    pub fn session(&self) -> Result<Session<'_>, ClamError> {
        let stream =
            UnixStream::connect(&self.socket).map_err(|source| ClamError::Unreachable {
                socket: self.socket.clone(),
                source,
            })?;
        let timeout = Some(self.timeout);
        stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            .map_err(|source| self.io_error(source))?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| self.io_error(e))?);
        let mut session = Session {
            clamd: self,
            stream,
            reader,
            batch: Vec::new(),
            batch_tar_bytes: 0,
        };
        session.send(b"zIDSESSION\0")?;
        Ok(session)
    }

    fn io_error(&self, source: io::Error) -> ClamError {
        if matches!(
            source.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            ClamError::Timeout {
                socket: self.socket.clone(),
                seconds: self.timeout.as_secs(),
            }
        } else {
            ClamError::Io {
                socket: self.socket.clone(),
                source,
            }
        }
    }
}

/// An open clamd session (`IDSESSION` … `END`), and the batch of members not sent yet.
pub struct Session<'a> {
    clamd: &'a Clamd,
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    batch: Vec<(String, Vec<u8>)>,
    /// The size of the batch as a tar.
    batch_tar_bytes: u64,
}

/// The bytes `size` bytes of content take in a tar: a header and whole blocks.
fn tar_bytes(size: u64) -> u64 {
    512 + size.div_ceil(512) * 512
}

/// The two zero blocks that end a tar.
const TAR_END: u64 = 1024;

impl Session<'_> {
    /// Queues one member for scanning; returns what batches sent on the way found.
    pub fn add(&mut self, member: &str, data: &[u8]) -> Result<Vec<Hit>, ClamError> {
        let limit = self.clamd.max_stream_bytes;
        let size = data.len() as u64;
        if size > limit {
            return Ok(vec![Hit::TooLarge(member.to_owned())]);
        }
        let mut hits = Vec::new();
        if self.batch_tar_bytes + tar_bytes(size) + TAR_END > limit {
            hits.extend(self.flush()?);
        }
        if tar_bytes(size) + TAR_END > limit {
            // Fits clamd's limit only without a tar around it.
            if let Verdict::Found(signature) = self.instream(data)? {
                let member = Some(member.to_owned());
                hits.push(Hit::Found { member, signature });
            }
            return Ok(hits);
        }
        self.batch_tar_bytes += tar_bytes(size);
        self.batch.push((member.to_owned(), data.to_vec()));
        Ok(hits)
    }

    /// Sends what is left and ends the session.
    pub fn finish(mut self) -> Result<Vec<Hit>, ClamError> {
        let hits = self.flush()?;
        self.send(b"zEND\0")?;
        Ok(hits)
    }

    /// Sends the batch as one tar; when it matches, each member again, to name the members.
    fn flush(&mut self) -> Result<Vec<Hit>, ClamError> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_tar_bytes = 0;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tar = tar::Builder::new(Vec::new());
        for (index, (_, data)) in batch.iter().enumerate() {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // Numbered names: clamd only needs the files apart, and any member path fits.
            tar.append_data(&mut header, format!("m{index}"), data.as_slice())
                .map_err(|e| self.clamd.io_error(e))?;
        }
        let tar = tar.into_inner().map_err(|e| self.clamd.io_error(e))?;
        let signature = match self.instream(&tar)? {
            Verdict::Found(signature) => signature,
            Verdict::Clean | Verdict::TooLarge => return Ok(Vec::new()),
        };
        let mut hits = Vec::new();
        for (member, data) in &batch {
            if let Verdict::Found(signature) = self.instream(data)? {
                let member = Some(member.clone());
                hits.push(Hit::Found { member, signature });
            }
        }
        if hits.is_empty() {
            // Only the members together match: no one member to name.
            hits.push(Hit::Found {
                member: None,
                signature,
            });
        }
        Ok(hits)
    }

    /// Streams `data` to clamd and waits for its verdict.
    fn instream(&mut self, data: &[u8]) -> Result<Verdict, ClamError> {
        self.send(b"zINSTREAM\0")?;
        for chunk in data.chunks(CHUNK_BYTES) {
            let length = u32::try_from(chunk.len()).expect("chunks are 1 MiB");
            self.send(&length.to_be_bytes())?;
            self.send(chunk)?;
        }
        self.send(&0u32.to_be_bytes())?;
        let reply = self.reply()?;
        parse_reply(&reply)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), ClamError> {
        self.stream
            .write_all(bytes)
            .map_err(|e| self.clamd.io_error(e))
    }

    fn reply(&mut self) -> Result<String, ClamError> {
        let mut reply = Vec::new();
        let read = self
            .reader
            .read_until(0, &mut reply)
            .map_err(|e| self.clamd.io_error(e))?;
        if read == 0 || reply.last() != Some(&0) {
            return Err(ClamError::Reply(
                String::from_utf8_lossy(&reply).into_owned(),
            ));
        }
        reply.pop();
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }
}

/// `1: stream: OK`, `1: stream: Eicar-Signature FOUND`, `1: INSTREAM size limit exceeded. ERROR`.
fn parse_reply(reply: &str) -> Result<Verdict, ClamError> {
    // In a session every reply starts with the request's number.
    let text = reply
        .split_once(": ")
        .filter(|(id, _)| id.bytes().all(|b| b.is_ascii_digit()))
        .map_or(reply, |(_, rest)| rest);
    if text.contains("size limit exceeded") {
        return Ok(Verdict::TooLarge);
    }
    match text.strip_prefix("stream: ") {
        Some("OK") => Ok(Verdict::Clean),
        Some(found) if found.ends_with(" FOUND") => {
            Ok(Verdict::Found(found.trim_end_matches(" FOUND").to_owned()))
        }
        _ => Err(ClamError::Reply(reply.to_owned())),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_verdicts() {
        assert_eq!(parse_reply("1: stream: OK").ok(), Some(Verdict::Clean));
        assert_eq!(
            parse_reply("12: stream: Eicar-Test-Signature FOUND").ok(),
            Some(Verdict::Found("Eicar-Test-Signature".into()))
        );
        assert_eq!(
            parse_reply("3: INSTREAM size limit exceeded. ERROR").ok(),
            Some(Verdict::TooLarge)
        );
        assert!(parse_reply("1: UNKNOWN COMMAND").is_err());
    }

    #[test]
    fn a_missing_socket_is_unreachable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clamd = Clamd::new(&dir.path().join("none.sock"), Duration::from_secs(1), 1);
        let error = clamd.session().err().expect("no clamd there");
        assert_eq!(error.kind(), "clamd_unreachable");
    }
}
