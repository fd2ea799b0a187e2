//! A static file server on loopback, with faults on demand, standing in for a pacman mirror.
//!
//! Tests tell it to fail chosen files in chosen ways (a status, a dropped connection, a body
//! cut short) a given number of times, which is how a flaky real mirror behaves.

use std::{
    collections::HashMap,
    fs::File,
    io::{self, BufRead, BufReader, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    path::{Component, Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

/// How to fail a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and no body.
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Announce the whole length, send half the body, close.
    Truncate,
    /// Say nothing for this long, then close: a server that hangs.
    Stall(std::time::Duration),
}

type Faults = Arc<Mutex<HashMap<String, Vec<Fault>>>>;

/// A running server. It stops when dropped.
///
/// Plain `std::net`, one thread per connection, kept alive as real mirrors do: a dropped or
/// truncated answer must really close the socket, which HTTP server crates (rightly) never let
/// a handler do.
pub struct MirrorServer {
    addr: SocketAddr,
    faults: Faults,
    requests: Arc<Mutex<Vec<String>>>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl MirrorServer {
    /// Serves `root` on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(root: &Path, addr: &str) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        let faults = Faults::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (faults, requests, stopping) = (
                Arc::clone(&faults),
                Arc::clone(&requests),
                Arc::clone(&stopping),
            );
            let root = root.to_owned();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, faults, requests) =
                        (root.clone(), Arc::clone(&faults), Arc::clone(&requests));
                    // A client that went away is not the server's problem.
                    thread::spawn(move || {
                        drop(serve_connection(&root, stream, &faults, &requests))
                    });
                }
            })
        };
        Ok(Self {
            addr,
            faults,
            requests,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes the next requests for `path` (as in the URL: `/core/os/x86_64/core.db`) fail with
    /// `faults`, one each, in order.
    pub fn fail(&self, path: &str, faults: &[Fault]) {
        if let Ok(mut map) = self.faults.lock() {
            map.entry(path.to_owned())
                .or_default()
                .extend_from_slice(faults);
        }
    }

    /// Every path requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }

    /// Blocks until the process is killed (for `xtask serve`).
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Drop for MirrorServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        // Wake the blocked accept() so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve_connection(
    root: &Path,
    mut stream: TcpStream,
    faults: &Faults,
    requests: &Mutex<Vec<String>>,
) -> io::Result<()> {
    // Small answers must not wait for the client's delayed ACK (Nagle), or every request on a
    // kept-alive connection stalls for 40 ms.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        // The headers say nothing this server needs; read past them.
        let mut header = String::new();
        while reader.read_line(&mut header)? > 2 {
            header.clear();
        }
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or_default().to_owned();
        if let Ok(mut log) = requests.lock() {
            log.push(path.clone());
        }
        let fault = faults.lock().ok().and_then(|mut faults| {
            let queue = faults.get_mut(&path)?;
            (!queue.is_empty()).then(|| queue.remove(0))
        });
        if fault.is_some() {
            answer(root, &path, &mut stream, fault)?;
            return stream.shutdown(Shutdown::Both);
        }
        answer(root, &path, &mut stream, None)?;
    }
}

/// Answers one request; with a fault, the caller closes the connection afterwards.
fn answer(
    root: &Path,
    url_path: &str,
    stream: &mut TcpStream,
    fault: Option<Fault>,
) -> io::Result<()> {
    let file = resolve(root, url_path)
        .and_then(|path| File::open(path).ok())
        .filter(|file| file.metadata().is_ok_and(|meta| meta.is_file()));
    let closing = if fault.is_some() {
        "Connection: close\r\n"
    } else {
        ""
    };
    match (fault, file) {
        (Some(Fault::Drop), _) => {}
        (Some(Fault::Stall(pause)), _) => thread::sleep(pause),
        (Some(Fault::Status(code)), _) => empty_answer(stream, code, closing)?,
        (_, None) => empty_answer(stream, 404, closing)?,
        (_, Some(file)) => {
            let length = file.metadata()?.len();
            let sent = if fault == Some(Fault::Truncate) {
                length / 2
            } else {
                length
            };
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {length}\r\n{closing}\r\n"
            )?;
            io::copy(&mut io::Read::take(file, sent), stream)?;
        }
    }
    stream.flush()
}

fn empty_answer(stream: &mut TcpStream, code: u16, closing: &str) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {code} Status {code}\r\nContent-Length: 0\r\n{closing}\r\n"
    )
}

/// The file a URL path names under `root`, refusing anything that climbs out of it.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(url_path)
        .decode_utf8()
        .ok()?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
        .then(|| root.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_outside_the_root() {
        let root = Path::new("/srv/mirror");
        assert_eq!(resolve(root, "/core/a%3Ab"), Some(root.join("core/a:b")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), None);
    }
}
