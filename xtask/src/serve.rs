//! A static file server on loopback, with faults on demand, standing in for a pacman mirror.
//!
//! Tests tell it to fail chosen files in chosen ways (a status, a dropped connection, a body
//! cut short) a given number of times, which is how a flaky real mirror behaves. Routes answer
//! chosen paths from code instead of files, for servers that are not folders (the AUR's RPC).

use std::{
    collections::HashMap,
    fs::File,
    io::{self, BufRead, BufReader, Read, Write},
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
    /// Announce the whole length, send half the body, then say nothing for this long and
    /// close: a body that stalls halfway.
    StallBody(std::time::Duration),
    /// Send a body with no length that never ends (zeros, until the client goes away).
    Endless,
}

type Faults = Arc<Mutex<HashMap<String, Vec<Fault>>>>;

/// What a route answers.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A `200 OK` JSON answer.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type: "application/json".to_owned(),
            body: body.into(),
        }
    }
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;
type Routes = Arc<Mutex<Vec<(String, Handler)>>>;

/// What the server knows besides its folder; shared with every connection.
#[derive(Clone, Default)]
struct State {
    faults: Faults,
    routes: Routes,
    requests: Arc<Mutex<Vec<String>>>,
}

/// A running server. It stops when dropped.
///
/// Plain `std::net`, one thread per connection, kept alive as real mirrors do: a dropped or
/// truncated answer must really close the socket, which HTTP server crates (rightly) never let
/// a handler do.
pub struct MirrorServer {
    addr: SocketAddr,
    state: State,
    stopping: Arc<AtomicBool>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl MirrorServer {
    /// Serves `root` on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(root: &Path, addr: &str) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        let state = State::default();
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (state, stopping) = (state.clone(), Arc::clone(&stopping));
            let root = root.to_owned();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, state) = (root.clone(), state.clone());
                    // A client that went away is not the server's problem.
                    thread::spawn(move || drop(serve_connection(&root, stream, &state)));
                }
            })
        };
        Ok(Self {
            addr,
            state,
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
        if let Ok(mut map) = self.state.faults.lock() {
            map.entry(path.to_owned())
                .or_default()
                .extend_from_slice(faults);
        }
    }

    /// Answers requests whose path starts with `prefix` by calling `handler` with the request
    /// target (path and query, as the client sent them), instead of serving files. Faults set
    /// with [`MirrorServer::fail`] still come first; the first matching route wins.
    pub fn route(&self, prefix: &str, handler: impl Fn(&str) -> Reply + Send + Sync + 'static) {
        if let Ok(mut routes) = self.state.routes.lock() {
            routes.push((prefix.to_owned(), Arc::new(handler)));
        }
    }

    /// Every path requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .requests
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

fn serve_connection(root: &Path, mut stream: TcpStream, state: &State) -> io::Result<()> {
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
        if let Ok(mut log) = state.requests.lock() {
            log.push(path.clone());
        }
        let fault = state.faults.lock().ok().and_then(|mut faults| {
            let queue = faults.get_mut(&path)?;
            (!queue.is_empty()).then(|| queue.remove(0))
        });
        let handler = state.routes.lock().ok().and_then(|routes| {
            let (_, handler) = routes.iter().find(|(prefix, _)| path.starts_with(prefix))?;
            Some(Arc::clone(handler))
        });
        let content = match (fault, handler) {
            (Some(Fault::Drop | Fault::Stall(_) | Fault::Status(_)), _) => None,
            (_, Some(handler)) => Some(Content::from(handler(target))),
            (_, None) => Content::file(root, &path),
        };
        answer(content, &mut stream, fault)?;
        if fault.is_some() {
            return stream.shutdown(Shutdown::Both);
        }
    }
}

/// A body to send: a file, or a route's reply.
struct Content {
    status: u16,
    content_type: String,
    length: u64,
    body: Box<dyn Read>,
}

impl Content {
    /// The file `url_path` names under `root`, if there is one.
    fn file(root: &Path, url_path: &str) -> Option<Self> {
        let file = resolve(root, url_path)
            .and_then(|path| File::open(path).ok())
            .filter(|file| file.metadata().is_ok_and(|meta| meta.is_file()))?;
        Some(Self {
            status: 200,
            content_type: "application/octet-stream".to_owned(),
            length: file.metadata().ok()?.len(),
            body: Box::new(file),
        })
    }
}

impl From<Reply> for Content {
    fn from(reply: Reply) -> Self {
        Self {
            status: reply.status,
            content_type: reply.content_type,
            length: reply.body.len() as u64,
            body: Box::new(io::Cursor::new(reply.body)),
        }
    }
}

/// Answers one request; with a fault, the caller closes the connection afterwards.
fn answer(
    content: Option<Content>,
    stream: &mut TcpStream,
    fault: Option<Fault>,
) -> io::Result<()> {
    let closing = if fault.is_some() {
        "Connection: close\r\n"
    } else {
        ""
    };
    match (fault, content) {
        (Some(Fault::Drop), _) => {}
        (Some(Fault::Stall(pause)), _) => thread::sleep(pause),
        (Some(Fault::Status(code)), _) => empty_answer(stream, code, closing)?,
        (Some(Fault::Endless), _) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n{closing}\r\n"
            )?;
            // Ends with an error when the client hangs up, which is the only way it ends.
            io::copy(&mut io::repeat(0), stream)?;
        }
        (_, None) => empty_answer(stream, 404, closing)?,
        (_, Some(content)) => {
            let Content {
                status,
                content_type,
                length,
                body,
            } = content;
            let sent = if matches!(fault, Some(Fault::Truncate | Fault::StallBody(_))) {
                length / 2
            } else {
                length
            };
            let reason = if status == 200 { "OK" } else { "Status" };
            write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
                 Content-Length: {length}\r\n{closing}\r\n"
            )?;
            io::copy(&mut body.take(sent), stream)?;
            if let Some(Fault::StallBody(pause)) = fault {
                stream.flush()?;
                thread::sleep(pause);
            }
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
