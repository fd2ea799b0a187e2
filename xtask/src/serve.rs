//! A static file server on loopback, with faults on demand, standing in for a pacman mirror.
//!
//! Tests tell it to fail chosen files in chosen ways (a status, a dropped connection, a body
//! cut short) a given number of times, which is how a flaky real mirror behaves.

use std::{
    collections::HashMap,
    fs::File,
    io::{self, Read, Write},
    net::SocketAddr,
    path::{Component, Path, PathBuf},
    sync::{Arc, Mutex},
    thread,
};

use tiny_http::{Header, Request, Response, Server};

/// How to fail a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and no body.
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Announce the whole length, send half the body, close.
    Truncate,
}

/// A running server. It stops when dropped.
pub struct MirrorServer {
    server: Arc<Server>,
    addr: SocketAddr,
    faults: Arc<Mutex<HashMap<String, Vec<Fault>>>>,
    requests: Arc<Mutex<Vec<String>>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl MirrorServer {
    /// Serves `root` on `addr` (`127.0.0.1:0` picks a free port) with `threads` workers.
    pub fn start(root: &Path, addr: &str, threads: usize) -> anyhow::Result<Self> {
        let server =
            Arc::new(Server::http(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?);
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("not an IP listener"))?;
        let faults: Arc<Mutex<HashMap<String, Vec<Fault>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let workers = (0..threads.max(1))
            .map(|_| {
                let (server, faults, requests) = (
                    Arc::clone(&server),
                    Arc::clone(&faults),
                    Arc::clone(&requests),
                );
                let root = root.to_owned();
                thread::spawn(move || {
                    for request in server.incoming_requests() {
                        let path = request
                            .url()
                            .split('?')
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        if let Ok(mut log) = requests.lock() {
                            log.push(path.clone());
                        }
                        let fault = faults.lock().ok().and_then(|mut faults| {
                            let queue = faults.get_mut(&path)?;
                            (!queue.is_empty()).then(|| queue.remove(0))
                        });
                        // A client that went away is not the server's problem.
                        let _ = respond(&root, &path, request, fault);
                    }
                })
            })
            .collect();
        Ok(Self {
            server,
            addr,
            faults,
            requests,
            workers,
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
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for MirrorServer {
    fn drop(&mut self) {
        self.server.unblock();
        for _ in 1..self.workers.len() {
            self.server.unblock();
        }
    }
}

fn respond(root: &Path, url_path: &str, request: Request, fault: Option<Fault>) -> io::Result<()> {
    let Some(file_path) = resolve(root, url_path) else {
        return request.respond(Response::empty(404));
    };
    match fault {
        Some(Fault::Status(code)) => request.respond(Response::empty(code)),
        Some(Fault::Drop) => {
            drop(request.into_writer());
            Ok(())
        }
        Some(Fault::Truncate) => {
            let body = std::fs::read(&file_path)?;
            let mut raw = request.into_writer();
            write!(
                raw,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            raw.write_all(&body[..body.len() / 2])?;
            raw.flush()
        }
        None => match File::open(&file_path) {
            Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => {
                let length = file
                    .metadata()
                    .map(|m| m.len())
                    .ok()
                    .and_then(|l| usize::try_from(l).ok());
                let content_type = Header::from_bytes("Content-Type", "application/octet-stream")
                    .map_err(|()| io::Error::other("static header"))?;
                request.respond(Response::new(
                    200.into(),
                    vec![content_type],
                    file.take(u64::MAX),
                    length,
                    None,
                ))
            }
            _ => request.respond(Response::empty(404)),
        },
    }
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
