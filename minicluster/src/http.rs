//! Downloads with retries and mirror failover, streamed to the caller.
//!
//! A download is handed to the caller as a reader while it arrives; the caller parses it on the
//! fly. When the transfer itself fails (connection refused or reset, a 5xx status, a body cut
//! short), the same URL is tried again after a growing pause; when the server answers with a
//! client error, or the bytes arrive but are wrong (a checksum mismatch, a corrupt archive), the
//! next mirror is tried. `file://` URLs and plain paths read local files, so a mirror can be a
//! folder.

use std::{
    io::{self, Read},
    path::Path,
    sync::{Arc, OnceLock},
    thread,
    time::{Duration, Instant},
};

/// How hard to try.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per URL for transfer failures (at least 1).
    pub attempts: u32,
    /// Pause before the second attempt; doubled for each further one.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_backoff: Duration::from_millis(250),
        }
    }
}

/// Why opening a URL failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The server answered with an error status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The transfer failed: connection, TLS, timeout, reset.
    #[error("{0}")]
    Transport(String),
    /// A local file could not be opened.
    #[error("{0}")]
    Local(#[from] io::Error),
}

impl OpenError {
    /// Whether trying the same URL again may help.
    fn is_transient(&self) -> bool {
        match self {
            Self::Status(code) => *code >= 500 || *code == 408 || *code == 429,
            Self::Transport(_) => true,
            Self::Local(_) => false,
        }
    }
}

/// Why a download failed on every mirror. Holds the last mirror's failure.
#[derive(Debug, thiserror::Error)]
pub enum FetchError<E: std::error::Error + 'static> {
    /// No URL was given.
    #[error("no URL to download from")]
    NoUrl,
    /// The URL could not be opened.
    #[error("{url}: {source}")]
    Open {
        /// The last URL tried.
        url: String,
        /// What went wrong.
        source: OpenError,
    },
    /// The body broke off or stalled while the caller read it (after the retries).
    #[error("{url}: {source}")]
    Transfer {
        /// The last URL tried.
        url: String,
        /// What the transfer said; `TimedOut` for a body that stalled.
        source: io::Error,
    },
    /// The body went on past the size the caller declared, or past the hard cap.
    #[error("{url}: {}", too_large(*.limit, *.declared))]
    TooLarge {
        /// The last URL tried.
        url: String,
        /// The bytes allowed.
        limit: u64,
        /// Whether `limit` is the size the caller declared (else it is the hard cap).
        declared: bool,
    },
    /// The download arrived but the caller rejected it.
    #[error("{url}: {source}")]
    Content {
        /// The last URL tried.
        url: String,
        /// What the caller's reader said.
        source: E,
    },
}

impl<E: std::error::Error + 'static> FetchError<E> {
    /// The last URL tried, if one was.
    pub fn url(&self) -> Option<&str> {
        match self {
            Self::NoUrl => None,
            Self::Open { url, .. }
            | Self::Transfer { url, .. }
            | Self::TooLarge { url, .. }
            | Self::Content { url, .. } => Some(url),
        }
    }

    /// What went wrong, without the URL: for a message whose subject already names it.
    pub fn cause(&self) -> String {
        match self {
            Self::NoUrl => self.to_string(),
            Self::Open { source, .. } => source.to_string(),
            Self::Transfer { source, .. } => source.to_string(),
            Self::TooLarge {
                limit, declared, ..
            } => too_large(*limit, *declared),
            Self::Content { source, .. } => source.to_string(),
        }
    }

    /// A stable snake_case name for error records; `content_kind` names caller errors.
    pub fn kind(&self, content_kind: impl Fn(&E) -> &'static str) -> &'static str {
        match self {
            Self::NoUrl => "no_url",
            Self::Open {
                source: OpenError::Status(404),
                ..
            } => "not_found",
            Self::Open {
                source: OpenError::Local(error),
                ..
            } if error.kind() == io::ErrorKind::NotFound => "not_found",
            Self::Open {
                source: OpenError::Status(_),
                ..
            } => "http_status",
            Self::Open { .. } => "download_failed",
            Self::Transfer { source, .. } if source.kind() == io::ErrorKind::TimedOut => "timeout",
            Self::Transfer { .. } => "download_failed",
            Self::TooLarge { declared: true, .. } => "size_mismatch",
            Self::TooLarge { .. } => "too_large",
            Self::Content { source, .. } => content_kind(source),
        }
    }
}

/// What [`FetchError::TooLarge`] says.
fn too_large(limit: u64, declared: bool) -> String {
    if declared {
        format!("the body is longer than the {limit} bytes declared")
    } else {
        format!("the body is longer than the limit of {limit} bytes")
    }
}

/// The most bytes a download may bring when its size is not declared: more than any package
/// or source Arch ships, far less than a disk. A body that goes on past it is cut off.
pub const MAX_DOWNLOAD_BYTES: u64 = 16 << 30;

/// A body slower than this many bytes per read timeout has stalled: a server that sends a
/// byte now and then never trips the timeout of each read, but must not hold a run forever.
const LOW_SPEED_BYTES: u64 = 1024;

/// A shared HTTP client.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::blocking::Client,
    retry: RetryPolicy,
    max_download: u64,
    timeouts: (Duration, Duration),
    /// The client for [`Http::post_form`], made on first use: a reqwest client starts a thread,
    /// and most runs never post.
    poster: Arc<OnceLock<reqwest::blocking::Client>>,
}

/// What a server answered to [`Http::post_form`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostReply {
    /// The HTTP status, 2xx or 3xx.
    pub status: u16,
    /// The `Location` header of a redirect, as sent (often a path without a host).
    pub location: Option<String>,
}

impl Http {
    /// A client with the given retry policy; `connect_timeout` bounds each connection attempt,
    /// `read_timeout` each wait for bytes, so a stalled mirror never hangs a run.
    pub fn new(
        retry: RetryPolicy,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Self, OpenError> {
        let timeouts = (connect_timeout, read_timeout);
        let client = client_builder(timeouts)
            .build()
            .map_err(|e| OpenError::Transport(e.to_string()))?;
        Ok(Self {
            client,
            retry,
            max_download: MAX_DOWNLOAD_BYTES,
            timeouts,
            poster: Arc::default(),
        })
    }

    /// Posts `fields` as an HTML form (`application/x-www-form-urlencoded`) to `url`, with
    /// `cookie` as the `Cookie` header, once: a post is not repeated, as it may have been
    /// acted on. Redirects are not followed but returned, since where a form redirects to is
    /// often the only answer (a login page, or the page just changed). A status other than
    /// 2xx or 3xx is [`OpenError::Status`].
    pub fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        cookie: &str,
    ) -> Result<PostReply, OpenError> {
        let transport = |e: reqwest::Error| OpenError::Transport(error_chain(&e.without_url()));
        let poster = match self.poster.get() {
            Some(poster) => poster,
            None => {
                let built = client_builder(self.timeouts)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(transport)?;
                self.poster.get_or_init(|| built)
            }
        };
        let response = poster
            .post(url)
            .header(reqwest::header::COOKIE, cookie)
            .form(fields)
            .send()
            .map_err(transport)?;
        let status = response.status();
        if !(status.is_success() || status.is_redirection()) {
            return Err(OpenError::Status(status.as_u16()));
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(PostReply {
            status: status.as_u16(),
            location,
        })
    }

    /// Opens one URL once: an HTTP(S) body, or a local file for `file://` URLs and paths.
    pub fn open(&self, url: &str) -> Result<Box<dyn Read + Send>, OpenError> {
        if let Some(path) = local_path(url) {
            return Ok(Box::new(crate::file::open_regular(Path::new(path))?));
        }
        let response = self
            .client
            .get(url)
            .send()
            // The URL is said once, by whoever reports the error, not again by reqwest.
            .map_err(|e| OpenError::Transport(error_chain(&e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(OpenError::Status(status.as_u16()));
        }
        Ok(Box::new(response))
    }

    /// The same client with another cap on downloads of undeclared size.
    #[must_use]
    pub fn with_max_download(mut self, bytes: u64) -> Self {
        self.max_download = bytes;
        self
    }

    /// Streams the first URL that works to `consume`, retrying and failing over as the module
    /// documentation describes, and returns what `consume` made of it. The body is cut off at
    /// the hard cap ([`MAX_DOWNLOAD_BYTES`]).
    pub fn fetch<T, E: std::error::Error + 'static>(
        &self,
        urls: &[String],
        consume: impl FnMut(&mut (dyn Read + Send)) -> Result<T, E>,
    ) -> Result<T, FetchError<E>> {
        self.fetch_sized(urls, None, consume)
    }

    /// As [`Http::fetch`], for a body of the declared `size` (a package's `csize`): one that
    /// goes on past it is cut off there and the next mirror is tried. A body that stalls (no
    /// byte within the read timeout, or fewer than a kilobyte per timeout) is a transfer
    /// failure, retried and then failed over like a reset connection.
    pub fn fetch_sized<T, E: std::error::Error + 'static>(
        &self,
        urls: &[String],
        size: Option<u64>,
        mut consume: impl FnMut(&mut (dyn Read + Send)) -> Result<T, E>,
    ) -> Result<T, FetchError<E>> {
        let mut last = FetchError::NoUrl;
        for url in urls {
            for attempt in 0..self.retry.attempts.max(1) {
                if attempt > 0 {
                    thread::sleep(self.retry.first_backoff * 2u32.pow(attempt - 1));
                }
                let body = match self.open(url) {
                    Ok(body) => body,
                    Err(source) => {
                        let transient = source.is_transient();
                        last = FetchError::Open {
                            url: url.clone(),
                            source,
                        };
                        if transient {
                            continue;
                        }
                        break;
                    }
                };
                let mut reader = TransferReader {
                    inner: body,
                    failure: None,
                    remaining: size.unwrap_or(self.max_download),
                    overran: false,
                    window: (Duration::ZERO, 0),
                    read_timeout: self.timeouts.1,
                };
                let consumed = consume(&mut reader);
                let url = url.clone();
                let limit = size.unwrap_or(self.max_download);
                match (consumed, reader.failure, reader.overran) {
                    (Ok(value), _, false) => return Ok(value),
                    (_, _, true) => {
                        let declared = size.is_some();
                        last = FetchError::TooLarge {
                            url,
                            limit,
                            declared,
                        };
                        break;
                    }
                    (Err(_), Some(source), false) => {
                        last = FetchError::Transfer { url, source };
                    }
                    (Err(source), None, false) => {
                        last = FetchError::Content { url, source };
                        break;
                    }
                }
            }
        }
        Err(last)
    }
}

/// The settings every client of [`Http`] shares: a user agent, and timeouts for connecting and
/// for each wait for bytes.
fn client_builder(
    (connect_timeout, read_timeout): (Duration, Duration),
) -> reqwest::blocking::ClientBuilder {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("minicluster/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        // The blocking client applies this to each read, not to the whole transfer.
        .timeout(read_timeout)
}

/// Watches the body as the caller reads it: remembers how the transfer underneath failed (so
/// a broken-off download is retried while bad content is not), cuts the body off at its size
/// limit, and ends a body that trickles slower than [`LOW_SPEED_BYTES`] per read timeout.
struct TransferReader {
    inner: Box<dyn Read + Send>,
    failure: Option<io::Error>,
    remaining: u64,
    overran: bool,
    /// Time spent waiting for the body in the current window, and the bytes it brought (the
    /// caller's own time between reads does not count).
    window: (Duration, u64),
    read_timeout: Duration,
}

impl TransferReader {
    fn fail(&mut self, error: io::Error) -> io::Error {
        let copy = io::Error::new(error.kind(), error.to_string());
        self.failure = Some(error);
        copy
    }
}

impl Read for TransferReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.overran || self.failure.is_some() {
            return Err(io::Error::other("the download was cut off"));
        }
        // At the limit, one more byte tells a body that ends from one that goes on.
        let mut probe = [0u8; 1];
        let room = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let target: &mut [u8] = if room == 0 {
            &mut probe
        } else {
            let len = buf.len().min(room);
            &mut buf[..len]
        };
        let asked = Instant::now();
        let read = match self.inner.read(target) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Err(error),
            Err(error) => {
                let error = if is_timeout(&error) {
                    io::Error::new(io::ErrorKind::TimedOut, error_chain(&error))
                } else {
                    error
                };
                return Err(self.fail(error));
            }
        };
        if room == 0 && read > 0 {
            self.overran = true;
            return Err(io::Error::other("the body goes on past its size limit"));
        }
        self.remaining -= read as u64;
        let (waited, bytes) = &mut self.window;
        *waited += asked.elapsed();
        *bytes += read as u64;
        if *waited >= self.read_timeout {
            if *bytes < LOW_SPEED_BYTES && read > 0 {
                let message = format!(
                    "the body stalled: {bytes} bytes in {} s",
                    self.read_timeout.as_secs()
                );
                return Err(self.fail(io::Error::new(io::ErrorKind::TimedOut, message)));
            }
            self.window = (Duration::ZERO, 0);
        }
        Ok(read)
    }
}

/// Whether a read failed because no byte came within the read timeout.
fn is_timeout(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::TimedOut
        || error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
}

fn local_path(url: &str) -> Option<&str> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(path);
    }
    (!url.contains("://")).then_some(url)
}

/// The error and its causes on one line: reqwest's own message hides the interesting part.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> Http {
        let retry = RetryPolicy {
            attempts: 2,
            first_backoff: Duration::from_millis(1),
        };
        Http::new(retry, Duration::from_secs(2), Duration::from_secs(2)).expect("client")
    }

    #[test]
    fn local_files_fail_over_to_the_next_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good");
        std::fs::write(&good, "payload").expect("write");
        let urls = [
            dir.path().join("missing").display().to_string(),
            format!("file://{}", good.display()),
        ];
        let text = http()
            .fetch(&urls, |reader| {
                let mut text = String::new();
                reader.read_to_string(&mut text).map(|_| text)
            })
            .expect("second URL works");
        assert_eq!(text, "payload");
    }

    #[test]
    fn a_body_is_cut_at_its_declared_size_or_at_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("long");
        std::fs::write(&file, [0u8; 100]).expect("write");
        let urls = [file.display().to_string()];
        let drain = |reader: &mut (dyn Read + Send)| io::copy(reader, &mut io::sink());
        let capped = http().with_max_download(10).fetch(&urls, drain);
        assert_eq!(
            capped.map_err(|e| e.kind(|_| "other")).err(),
            Some("too_large")
        );
        let declared = http().fetch_sized(&urls, Some(10), drain);
        assert_eq!(
            declared.map_err(|e| e.kind(|_| "other")).err(),
            Some("size_mismatch")
        );
        assert_eq!(http().fetch_sized(&urls, Some(100), drain).ok(), Some(100));
    }

    #[test]
    fn refused_connections_are_reported() {
        let urls = ["http://127.0.0.1:9/nothing".to_owned()];
        let result = http().fetch(&urls, |_| Ok::<_, io::Error>(()));
        assert!(matches!(result, Err(FetchError::Open { .. })), "{result:?}");
    }
}
