//! HTTP for upstream checks: a limit of requests at once per host, conditional requests
//! (ETag / If-Modified-Since) against a cache on disk, retries with backoff for transfer
//! failures and 5xx, a timeout on every request, and rate limits (403/429 with reset headers)
//! waited out when the wait is short, reported when it is not, and never hammered.

use std::{
    collections::HashMap,
    io::{Read, Write},
    path::PathBuf,
    sync::{
        Condvar, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use reqwest::{
    blocking::Client,
    header::{self, HeaderMap, HeaderValue},
};
use sha2::{Digest, Sha256};

/// Bodies larger than this are cut off with an error: no version page is this big.
const MAX_BODY_BYTES: u64 = 32 << 20;

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Seconds a request may take, connection to last byte.
    pub timeout: Duration,
    /// Attempts per request for transfer failures and 5xx.
    pub attempts: u32,
    /// Pause before the second attempt; doubled for each further one.
    pub first_backoff: Duration,
    /// Requests at once to one host.
    pub per_host: usize,
    /// The longest rate-limit reset this client waits for; a later reset fails the request.
    pub max_rate_limit_wait: Duration,
    /// Where conditional-request state and bodies are kept; `None` for no cache.
    pub cache_dir: Option<PathBuf>,
    /// A proxy for every request.
    pub proxy: Option<String>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client could not be set up (a bad proxy URL).
    #[error("setting up HTTP: {0}")]
    Setup(String),
    /// The transfer failed on every attempt (connection, timeout, reset).
    #[error("{url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        message: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// A rate limit stops requests to this host until `reset`.
    #[error("{url}: rate limited (HTTP {status}) until {}", httpdate::fmt_http_date(*reset))]
    RateLimited {
        /// The URL.
        url: String,
        /// 403 or 429.
        status: u16,
        /// When requests may start again.
        reset: SystemTime,
    },
    /// The body was larger than any version page.
    #[error("{url}: body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge {
        /// The URL.
        url: String,
    },
}

impl HttpError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Setup(_) => "bad_setup",
            Self::Transport { .. } => "network",
            Self::Status { .. } => "http_status",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooLarge { .. } => "too_large",
        }
    }
}

/// A response's status, the headers sources read, and its body.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The final status (a 304 is answered from the cache as the cached status).
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Counts of what the client did, for the run's summary.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent (every attempt).
    pub requests: AtomicU64,
    /// Answers of 304 Not Modified, served from the cache.
    pub not_modified: AtomicU64,
}

/// The shared client.
pub struct Http {
    client: Client,
    no_redirect: Client,
    options: HttpOptions,
    busy: Mutex<HashMap<String, usize>>,
    freed: Condvar,
    /// Hosts under a rate limit, until when.
    limited: Mutex<HashMap<String, SystemTime>>,
    /// What was done.
    pub counters: Counters,
}

/// One request.
#[derive(Clone, Debug, Default)]
pub struct Request<'a> {
    /// The URL.
    pub url: &'a str,
    /// Extra headers (`Authorization`, `Accept`).
    pub headers: Vec<(&'static str, String)>,
    /// HEAD instead of GET.
    pub head: bool,
    /// Whether to follow redirects (the httpheader source looks at them itself).
    pub follow_redirects: bool,
}

impl<'a> Request<'a> {
    /// A plain GET that follows redirects.
    pub fn get(url: &'a str) -> Self {
        Self {
            url,
            follow_redirects: true,
            ..Self::default()
        }
    }

    /// The same request, to another URL.
    pub fn at<'b>(&self, url: &'b str) -> Request<'b> {
        Request {
            url,
            headers: self.headers.clone(),
            head: self.head,
            follow_redirects: self.follow_redirects,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl Http {
    /// A client with these options.
    pub fn new(options: HttpOptions) -> Result<Self, HttpError> {
        let build = |redirects: reqwest::redirect::Policy| {
            let mut builder = Client::builder()
                .timeout(options.timeout)
                .connect_timeout(options.timeout)
                .user_agent(concat!("mc-fetch-upstream/", env!("CARGO_PKG_VERSION")))
                .redirect(redirects);
            if let Some(proxy) = &options.proxy {
                let proxy =
                    reqwest::Proxy::all(proxy).map_err(|e| HttpError::Setup(e.to_string()))?;
                builder = builder.proxy(proxy);
            }
            builder.build().map_err(|e| HttpError::Setup(e.to_string()))
        };
        Ok(Self {
            client: build(reqwest::redirect::Policy::limited(10))?,
            no_redirect: build(reqwest::redirect::Policy::none())?,
            options,
            busy: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
            limited: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// Sends a request, answering from the cache when the server says nothing changed.
    pub fn send(&self, request: &Request<'_>) -> Result<Reply, HttpError> {
        let host = reqwest::Url::parse(request.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        if let Some(reset) = self.limited_until(&host) {
            return Err(HttpError::RateLimited {
                url: request.url.to_owned(),
                status: 429,
                reset,
            });
        }
        let _slot = self.enter(&host);
        let cache = (!request.head)
            .then(|| {
                self.options
                    .cache_dir
                    .as_ref()
                    .map(|dir| Cached::at(dir, request))
            })
            .flatten();
        let cached = cache.as_ref().and_then(Cached::load);
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(request, cached.as_ref());
            match outcome {
                Ok(reply) if reply.status == 304 => {
                    self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                    if let Some(cached) = cached {
                        return Ok(cached);
                    }
                    return Err(HttpError::Status {
                        url: request.url.to_owned(),
                        status: 304,
                    });
                }
                Ok(reply) if reply.status == 403 || reply.status == 429 => {
                    match rate_limit_reset(&reply) {
                        Some(reset) => {
                            let wait = reset
                                .duration_since(SystemTime::now())
                                .unwrap_or(Duration::ZERO);
                            if wait > self.options.max_rate_limit_wait
                                || attempt >= self.options.attempts
                            {
                                self.remember_limit(&host, reset);
                                return Err(HttpError::RateLimited {
                                    url: request.url.to_owned(),
                                    status: reply.status,
                                    reset,
                                });
                            }
                            std::thread::sleep(wait);
                        }
                        None => {
                            return Err(HttpError::Status {
                                url: request.url.to_owned(),
                                status: reply.status,
                            });
                        }
                    }
                }
                Ok(reply) if reply.status >= 500 && attempt < self.options.attempts => {
                    self.back_off(attempt);
                }
                Ok(reply) if reply.status >= 400 => {
                    return Err(HttpError::Status {
                        url: request.url.to_owned(),
                        status: reply.status,
                    });
                }
                Ok(reply) => {
                    if let Some(cache) = &cache {
                        // A cache that cannot be written costs requests next time, nothing more.
                        let _ = cache.store(&reply);
                    }
                    return Ok(reply);
                }
                Err(HttpError::Transport { .. }) if attempt < self.options.attempts => {
                    self.back_off(attempt);
                }
                Err(error) => return Err(error),
            }
            attempt += 1;
        }
    }

    /// GETs a URL and parses its body as JSON.
    pub fn json(&self, request: &Request<'_>) -> Result<(Reply, serde_json::Value), String> {
        let reply = self.send(request).map_err(|e| e.to_string())?;
        let value = serde_json::from_slice(&reply.body)
            .map_err(|e| format!("{}: malformed JSON: {e}", request.url))?;
        Ok((reply, value))
    }

    fn back_off(&self, attempt: u32) {
        let factor = 1u32 << (attempt - 1).min(6);
        std::thread::sleep(self.options.first_backoff * factor);
    }

    fn attempt(&self, request: &Request<'_>, cached: Option<&Reply>) -> Result<Reply, HttpError> {
        let client = if request.follow_redirects {
            &self.client
        } else {
            &self.no_redirect
        };
        let mut builder = if request.head {
            client.head(request.url)
        } else {
            client.get(request.url)
        };
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if let Some(cached) = cached {
            if let Some(etag) = cached.headers.get(header::ETAG) {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(modified) = cached.headers.get(header::LAST_MODIFIED) {
                builder = builder.header(header::IF_MODIFIED_SINCE, modified);
            }
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let transport = |error: reqwest::Error| HttpError::Transport {
            url: request.url.to_owned(),
            message: describe(&error),
        };
        let response = builder.send().map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        response
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|error| HttpError::Transport {
                url: request.url.to_owned(),
                message: format!("reading the body: {error}"),
            })?;
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(HttpError::TooLarge {
                url: request.url.to_owned(),
            });
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn limited_until(&self, host: &str) -> Option<SystemTime> {
        let limited = self.limited.lock().unwrap_or_else(|e| e.into_inner());
        limited
            .get(host)
            .copied()
            .filter(|reset| *reset > SystemTime::now())
    }

    fn remember_limit(&self, host: &str, reset: SystemTime) {
        let mut limited = self.limited.lock().unwrap_or_else(|e| e.into_inner());
        limited.insert(host.to_owned(), reset);
    }

    /// Waits for a free slot on `host`; the slot is given back when the guard drops.
    fn enter(&self, host: &str) -> Slot<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while busy.get(host).copied().unwrap_or(0) >= self.options.per_host.max(1) {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy.entry(host.to_owned()).or_default() += 1;
        Slot {
            http: self,
            host: host.to_owned(),
        }
    }
}

struct Slot<'a> {
    http: &'a Http,
    host: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut busy = self.http.busy.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = busy.get_mut(&self.host) {
            *count = count.saturating_sub(1);
        }
        self.http.freed.notify_all();
    }
}

/// reqwest's error with its causes: "error sending request" alone says nothing.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// When a 403/429 answer's rate limit ends: `Retry-After` (seconds or a date), else GitHub's
/// `X-RateLimit-Reset` (Unix seconds) when `X-RateLimit-Remaining` is 0. `None` for a 403
/// that is not a rate limit.
fn rate_limit_reset(reply: &Reply) -> Option<SystemTime> {
    if let Some(after) = reply.header("retry-after") {
        if let Ok(seconds) = after.trim().parse::<u64>() {
            return Some(SystemTime::now() + Duration::from_secs(seconds));
        }
        if let Ok(date) = httpdate::parse_http_date(after) {
            return Some(date);
        }
    }
    let exhausted = reply.header("x-ratelimit-remaining").map(str::trim) == Some("0");
    let reset = reply
        .header("x-ratelimit-reset")?
        .trim()
        .parse::<u64>()
        .ok()?;
    (exhausted || reply.status == 429).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(reset))
}

/// A cached response: its headers as JSON beside its body.
struct Cached {
    meta: PathBuf,
    body: PathBuf,
}

impl Cached {
    fn at(dir: &std::path::Path, request: &Request<'_>) -> Self {
        let mut hash = Sha256::new();
        hash.update(request.url.as_bytes());
        for (name, value) in &request.headers {
            // A token changes what the server may show; its value itself is not kept.
            hash.update(name.as_bytes());
            hash.update(Sha256::digest(value.as_bytes()));
        }
        let key = hex::encode(hash.finalize());
        Self {
            meta: dir.join(format!("{key}.json")),
            body: dir.join(format!("{key}.body")),
        }
    }

    fn load(&self) -> Option<Reply> {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&self.meta).ok()?).ok()?;
        let body = std::fs::read(&self.body).ok()?;
        let mut headers = HeaderMap::new();
        for name in [header::ETAG, header::LAST_MODIFIED, header::LINK] {
            if let Some(value) = meta.get(name.as_str()).and_then(|v| v.as_str()) {
                headers.insert(name, HeaderValue::from_str(value).ok()?);
            }
        }
        let status = u16::try_from(meta.get("status")?.as_u64()?).ok()?;
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    fn store(&self, reply: &Reply) -> std::io::Result<()> {
        let etag = reply.header(header::ETAG.as_str());
        let modified = reply.header(header::LAST_MODIFIED.as_str());
        if etag.is_none() && modified.is_none() {
            return Ok(());
        }
        let meta = serde_json::json!({
            "status": reply.status,
            "etag": etag,
            "last-modified": modified,
            "link": reply.header(header::LINK.as_str()),
        });
        let dir = self.meta.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)?;
        write_atomic(&self.body, &reply.body)?;
        write_atomic(&self.meta, meta.to_string().as_bytes())
    }
}

/// Writes a file whole or not at all: a temp file in the same folder, synced, renamed.
pub fn write_atomic(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(data)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}
