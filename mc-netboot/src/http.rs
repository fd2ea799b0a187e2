//! A small HTTP/1.1 server for iPXE, the installer's busybox `wget` and `curl`: `GET` of files
//! and generated text, `POST` of the installer's reports; one thread per connection, one
//! request per connection (`Connection: close`), which every one of those clients handles.
//!
//! What a path means is the caller's [`Handler`]; this module only speaks the protocol.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read, Seek, SeekFrom, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use crate::NetbootError;

/// The largest request body taken (an installer's log).
const MAX_BODY: usize = 4 << 20;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string after `?`, if any.
    pub query: Option<String>,
    /// The body (`POST`).
    pub body: Vec<u8>,
    /// The client.
    pub peer: SocketAddr,
}

/// What to answer.
#[derive(Debug)]
pub enum Response {
    /// A whole file.
    File(PathBuf),
    /// `length` bytes of a file from `offset`.
    Part {
        /// The file.
        path: PathBuf,
        /// The first byte.
        offset: u64,
        /// How many bytes.
        length: u64,
    },
    /// A text with a status code (200, 404, ...).
    Text(u16, String),
}

/// Maps a request to a response; called from the connection's thread. It gets what was sent
/// (bytes, or an error) afterwards in [`Handler::sent`].
pub trait Handler: Send + Sync + 'static {
    /// The answer to `request`.
    fn respond(&self, request: &Request) -> Response;
    /// Called after the answer went out: the bytes of its body, or why it failed.
    fn sent(&self, request: &Request, result: Result<u64, String>);
}

/// Binds `address` for HTTP.
pub fn bind(address: SocketAddr) -> Result<TcpListener, NetbootError> {
    TcpListener::bind(address).map_err(|source| NetbootError::Listen {
        address: address.to_string(),
        what: "http",
        source,
    })
}

/// Answers connections on `listener` until the process ends.
pub fn serve(listener: TcpListener, handler: Arc<dyn Handler>) {
    for stream in listener.incoming().flatten() {
        let handler = Arc::clone(&handler);
        std::thread::spawn(move || connection(stream, &*handler));
    }
}

fn connection(stream: TcpStream, handler: &dyn Handler) {
    let Ok(peer) = stream.peer_addr() else { return };
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let mut reader = BufReader::new(&stream);
    let request = match read_request(&mut reader, peer) {
        Ok(request) => request,
        Err(message) => {
            let _ = write_text(&stream, 400, &message);
            return;
        }
    };
    let result = answer(&stream, handler.respond(&request));
    handler.sent(&request, result);
}

fn read_request(reader: &mut impl BufRead, peer: SocketAddr) -> Result<Request, String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err("bad request line".into());
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_err(|e| e.to_string())? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| "bad Content-Length")?;
        }
    }
    if length > MAX_BODY {
        return Err(format!("body over {MAX_BODY} bytes"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
        body,
        peer,
    })
}

fn answer(mut stream: &TcpStream, response: Response) -> Result<u64, String> {
    let (path, offset, length) = match response {
        Response::Text(status, text) => {
            return write_text(stream, status, &text).map_err(|e| e.to_string());
        }
        Response::File(path) => (path, 0, None),
        Response::Part {
            path,
            offset,
            length,
        } => (path, offset, Some(length)),
    };
    let (mut file, size) = match open_file(&path) {
        Ok(opened) => opened,
        Err(error) => {
            let _ = write_text(stream, 404, "not found\n");
            return Err(format!("{}: {error}", path.display()));
        }
    };
    let length = length.unwrap_or(size).min(size.saturating_sub(offset));
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let copied = std::io::copy(&mut file.take(length), &mut stream).map_err(|e| e.to_string())?;
    if copied < length {
        return Err(format!("the file ended after {copied} of {length} bytes"));
    }
    Ok(copied)
}

fn write_text(mut stream: &TcpStream, status: u16, text: &str) -> std::io::Result<u64> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    Ok(text.len() as u64)
}

/// Opens the regular file at `path` and says its size.
pub fn open_file(path: &Path) -> std::io::Result<(File, u64)> {
    let file = minicluster::file::open_regular(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}
