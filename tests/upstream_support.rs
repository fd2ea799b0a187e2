//! A loopback upstream for the `mc-fetch upstream` tests: answers from code, with the headers
//! forges send (Link, ETag, rate limits), delays and hangs; counts requests. And the real
//! nvchecker, installed once from PyPI into a venv under the target folder (as buildbot is).

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::Duration,
};

/// A request as the handler sees it.
pub struct Asked {
    /// Path and query.
    pub target: String,
    /// `If-None-Match`, when sent.
    pub if_none_match: Option<String>,
}

/// An answer.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Answer {
    /// 200 with a body.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

type Handler = Arc<dyn Fn(&Asked) -> Answer + Send + Sync>;

/// A running loopback upstream; stops answering when dropped (its thread ends with the test).
pub struct Upstream {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    /// Starts a server that answers every request with `handler`.
    pub fn start(handler: impl Fn(&Asked) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let handler: Handler = Arc::new(handler);
        let requests = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (count, seen_log) = (Arc::clone(&requests), Arc::clone(&log));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, count, log) = (
                    Arc::clone(&handler),
                    Arc::clone(&count),
                    Arc::clone(&seen_log),
                );
                thread::spawn(move || drop(serve(stream, &*handler, &count, &log)));
            }
        });
        Self { url, requests, log }
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Every request target so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

fn serve(
    mut stream: TcpStream,
    handler: &(dyn Fn(&Asked) -> Answer + Send + Sync),
    count: &AtomicUsize,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let head = line.starts_with("HEAD ");
    let mut if_none_match = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? <= 2 {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_owned());
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut log) = log.lock() {
        log.push(target.clone());
    }
    let answer = handler(&Asked {
        target,
        if_none_match,
    });
    thread::sleep(answer.delay);
    let mut text = format!(
        "HTTP/1.1 {} Status\r\nConnection: close\r\nContent-Length: {}\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes())?;
    if !head {
        stream.write_all(&answer.body)?;
    }
    stream.flush()
}

/// What the venv installs: nvchecker with the extras its htmlparser (lxml) and jq sources need.
const NVCHECKER: &str = "nvchecker[htmlparser,jq]";

/// The real nvchecker's bin folder: a venv under the target folder, made once with
/// `pip install nvchecker[htmlparser,jq]` from PyPI.
pub fn nvchecker_bin() -> PathBuf {
    venv_bin("nvchecker-venv", &[NVCHECKER])
}

/// The bin folder of the venv `TARGET/NAME` holding `requirements` from PyPI: made once (a
/// file lock keeps parallel tests, in one process or several, from making it twice), and again when it was made for others.
pub fn venv_bin(name: &str, requirements: &[&str]) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::workspace().join("target"), PathBuf::from);
    let venv = target.join(name);
    let bin = venv.join("bin");
    // A file lock, not a mutex: nextest runs each test in a process of its own.
    std::fs::create_dir_all(&target).expect("the target folder");
    let lock = std::fs::File::create(target.join(format!("{name}.lock"))).expect("the venv lock");
    lock.lock().expect("the venv lock");
    // The marker names what was installed: a venv made for less is made again.
    let done = venv.join(".installed");
    let wanted = requirements.join(" ");
    if std::fs::read_to_string(&done).is_ok_and(|installed| installed == wanted) {
        return bin;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("runs python3");
    assert!(
        made.success(),
        "python3 -m venv failed: apt-get install python3-venv (see .ci/run)"
    );
    let installed = Command::new(bin.join("pip"))
        .args(["install", "--quiet"])
        .args(requirements)
        .status()
        .expect("runs pip");
    assert!(
        installed.success(),
        "pip install {wanted} failed (PyPI reachable?)"
    );
    std::fs::write(&done, wanted).expect("marks the venv complete");
    bin
}
