//! clamd over its Unix socket: one session per package, members sent in batches.

use std::{
    io::{self, BufRead, BufReader, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    time::Duration,
};

use super::{ClamError, Hit};

/// How much of a member goes into one INSTREAM chunk.
const CHUNK_BYTES: usize = 1 << 20;

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
pub fn parse_reply(reply: &str) -> Result<Verdict, ClamError> {
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
