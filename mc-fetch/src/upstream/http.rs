//! HTTP for upstream checks: a limit of requests at once per host, answers from the cache
//! ([`super::cache`]) while fresh and conditional requests (ETag / If-Modified-Since) after,
//! retries with backoff for transfer failures and 5xx, a timeout on every request, and rate
//! limits (403/429 with reset headers) waited out when the wait is short, reported when it is
//! not, and never hammered.
//!
//! The client is asynchronous: every check of a run waits on one thread (see
//! [`super::check`]), so what a run holds is its requests in flight, not a thread (with its
//! stack and malloc arena) per check.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use reqwest::{
    Client,
    header::{self, HeaderMap},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::cache::{Cache, Hit};

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
    /// Where answers are kept; `None` for no cache.
    pub cache_dir: Option<PathBuf>,
    /// How long a kept answer is used without asking again.
    pub max_age: Duration,
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
    /// The body is not the JSON the source asked for.
    #[error("{url}: malformed JSON: {message}")]
    Malformed {
        /// The URL.
        url: String,
        /// What the parser said.
        message: String,
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
            Self::Malformed { .. } => "malformed_reply",
        }
    }
}

/// What the server answered to a request.
enum Asked {
    /// 304: the kept answer holds.
    NotModified,
    /// A new answer.
    New(Reply),
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
    /// Answers used from the cache without a request, being fresh.
    pub fresh: AtomicU64,
}

/// The shared client.
pub struct Http {
    client: Client,
    /// Made when a request first needs it (only httpheader does): each client keeps a thread.
    no_redirect: OnceLock<Client>,
    options: HttpOptions,
    cache: Option<Cache>,
    /// Each host's slots (`per_host` of them).
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
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
        Ok(Self {
            client: build_client(&options, reqwest::redirect::Policy::limited(10))?,
            no_redirect: OnceLock::new(),
            cache: options
                .cache_dir
                .as_deref()
                .map(|dir| Cache::open(dir, options.max_age)),
            options,
            hosts: Mutex::new(HashMap::new()),
            limited: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// Sends a request: answered from the cache while the kept answer is fresh, else asked
    /// (conditionally when one is kept) and the answer kept.
    pub async fn send(&self, request: &Request<'_>) -> Result<Reply, HttpError> {
        let cache = self.cache.as_ref().filter(|_| !request.head);
        let hit = cache.and_then(|cache| cache.lookup(&Cache::key(request)));
        if let Some(hit) = hit.as_ref().filter(|hit| hit.fresh) {
            self.counters.fresh.fetch_add(1, Ordering::Relaxed);
            return Ok(hit.reply.clone());
        }
        let reply = self.ask(request, hit.as_ref()).await?;
        // Kept after the host's slot is given back; a cache that cannot be written costs
        // requests next time, nothing more.
        if let Some(cache) = cache {
            let _ = match (&hit, &reply) {
                (Some(hit), Asked::NotModified) => cache.confirmed(&hit.key),
                (_, Asked::New(reply)) => cache.store(&Cache::key(request), reply),
                (None, Asked::NotModified) => Ok(()),
            };
        }
        match (reply, hit) {
            (Asked::New(reply), _) => Ok(reply),
            (Asked::NotModified, Some(hit)) => Ok(hit.reply),
            (Asked::NotModified, None) => Err(HttpError::Status {
                url: request.url.to_owned(),
                status: 304,
            }),
        }
    }

    /// Writes what the cache learned; call once at the end of a run.
    pub fn save_cache(&self) -> std::io::Result<()> {
        self.cache.as_ref().map_or(Ok(()), Cache::save)
    }

    /// Asks the server, holding one of the host's slots, with retries and rate limits.
    async fn ask(&self, request: &Request<'_>, hit: Option<&Hit>) -> Result<Asked, HttpError> {
        // Limits are per host and port: two services on one address are two hosts.
        let host = reqwest::Url::parse(request.url)
            .ok()
            .and_then(|url| {
                Some(format!(
                    "{}:{}",
                    url.host_str()?,
                    url.port_or_known_default()?
                ))
            })
            .unwrap_or_default();
        let _slot = self.enter(&host).await;
        // Checked once the slot is ours: the request before may just have met the limit.
        if let Some(reset) = self.limited_until(&host) {
            return Err(HttpError::RateLimited {
                url: request.url.to_owned(),
                status: 429,
                reset,
            });
        }
        let mut attempt = 1;
        loop {
            match self.attempt(request, hit.map(|hit| &hit.reply)).await {
                Ok(reply) if reply.status == 304 => {
                    self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                    return Ok(Asked::NotModified);
                }
                Ok(reply) if reply.status == 403 || reply.status == 429 => {
                    let Some(reset) = rate_limit_reset(&reply) else {
                        return Err(HttpError::Status {
                            url: request.url.to_owned(),
                            status: reply.status,
                        });
                    };
                    let wait = reset
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO);
                    if wait > self.options.max_rate_limit_wait || attempt >= self.options.attempts {
                        self.remember_limit(&host, reset);
                        return Err(HttpError::RateLimited {
                            url: request.url.to_owned(),
                            status: reply.status,
                            reset,
                        });
                    }
                    tokio::time::sleep(wait).await;
                }
                Ok(reply) if reply.status >= 500 && attempt < self.options.attempts => {
                    self.back_off(attempt).await;
                }
                Ok(reply) if reply.status >= 400 => {
                    return Err(HttpError::Status {
                        url: request.url.to_owned(),
                        status: reply.status,
                    });
                }
                Ok(reply) => return Ok(Asked::New(reply)),
                Err(HttpError::Transport { .. }) if attempt < self.options.attempts => {
                    self.back_off(attempt).await;
                }
                Err(error) => return Err(error),
            }
            attempt += 1;
        }
    }

    /// GETs a URL and parses its body as JSON.
    pub async fn json(
        &self,
        request: &Request<'_>,
    ) -> Result<(Reply, serde_json::Value), HttpError> {
        let reply = self.send(request).await?;
        let value = serde_json::from_slice(&reply.body).map_err(|e| HttpError::Malformed {
            url: request.url.to_owned(),
            message: e.to_string(),
        })?;
        Ok((reply, value))
    }

    async fn back_off(&self, attempt: u32) {
        let factor = 1u32 << (attempt - 1).min(6);
        tokio::time::sleep(self.options.first_backoff * factor).await;
    }

    async fn attempt(
        &self,
        request: &Request<'_>,
        cached: Option<&Reply>,
    ) -> Result<Reply, HttpError> {
        let client = if request.follow_redirects {
            &self.client
        } else if let Some(client) = self.no_redirect.get() {
            client
        } else {
            let client = build_client(&self.options, reqwest::redirect::Policy::none())?;
            self.no_redirect.get_or_init(|| client)
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
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // Read chunk by chunk, so a body past the limit is refused before it is all in memory.
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| HttpError::Transport {
                url: request.url.to_owned(),
                message: format!("reading the body: {}", describe(&error)),
            })?
        {
            if (body.len() + chunk.len()) as u64 > MAX_BODY_BYTES {
                return Err(HttpError::TooLarge {
                    url: request.url.to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
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

    /// Waits for a free slot on `host`; the slot is given back when the permit drops.
    async fn enter(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        let slots = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            let slots = hosts
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_host.max(1))));
            Arc::clone(slots)
        };
        // Never closed, so this is always a permit.
        slots.acquire_owned().await.ok()
    }
}

/// A client with the options' timeouts and proxy and this redirect policy.
fn build_client(
    options: &HttpOptions,
    redirects: reqwest::redirect::Policy,
) -> Result<Client, HttpError> {
    let mut builder = Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .user_agent(concat!("mc-fetch-upstream/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects);
    if let Some(proxy) = &options.proxy {
        let proxy = reqwest::Proxy::all(proxy).map_err(|e| HttpError::Setup(e.to_string()))?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| HttpError::Setup(e.to_string()))
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
