//! The response cache of upstream checks, under `~/.cache/minicluster/upstream`.
//!
//! Every answer is kept: its body in `bodies/KEY`, its validators (`ETag`, `Last-Modified`),
//! `Link` and the time it was last confirmed in one index, `index.json`. An answer confirmed
//! within the freshness window (`--max-age`, or the server's `Cache-Control: max-age` when that
//! is longer) is used without asking; an older one is asked again with a conditional request,
//! and a 304 confirms it. `Cache-Control: no-cache` or `no-store` makes an answer never fresh.
//!
//! The index is written once at the end of a run and after every [`SAVE_EVERY`] changes (so an
//! interrupted run keeps most of what it learned), atomically and synced; bodies are written by
//! rename without a sync each, since the index records every body's SHA-256 and a body that
//! does not match it is not used: a crash costs requests, never a wrong answer.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, SystemTime},
};

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::http::{Reply, Request};

/// Index changes between two writes of the index during a run.
pub const SAVE_EVERY: usize = 500;

/// Answers not confirmed for this long are dropped from the index when it is written.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 24 * 3600);

/// The index file's name; a new layout gets a new name.
const INDEX: &str = "index-v1.json";

/// What the index keeps of one answer.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Meta {
    status: u16,
    etag: Option<String>,
    last_modified: Option<String>,
    link: Option<String>,
    /// The body file's SHA-256: a body that does not match is not used.
    body_sha256: String,
    /// When the server last sent or confirmed this answer (Unix seconds).
    confirmed_unix: u64,
    /// The server's `Cache-Control: max-age`; 0 for `no-cache`/`no-store`.
    server_max_age_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct Index {
    entries: HashMap<String, Meta>,
}

/// A cached answer for a request.
pub struct Hit {
    /// The request's key in the index.
    pub key: String,
    /// The answer as it was sent.
    pub reply: Reply,
    /// Whether it may be used without asking.
    pub fresh: bool,
}

/// The cache of one run.
pub struct Cache {
    dir: PathBuf,
    max_age: Duration,
    index: Mutex<(Index, usize)>,
}

impl Cache {
    /// The cache in `dir`; answers confirmed within `max_age` are fresh (`Duration::ZERO`:
    /// every answer is asked again). A missing or unreadable index is an empty cache.
    pub fn open(dir: &Path, max_age: Duration) -> Self {
        let index = std::fs::read(dir.join(INDEX))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            dir: dir.to_owned(),
            max_age,
            index: Mutex::new((index, 0)),
        }
    }

    /// The request's key: its URL and headers (a token changes what the server may show; only
    /// its hash goes into the key).
    pub fn key(request: &Request<'_>) -> String {
        let mut hash = Sha256::new();
        hash.update(request.url.as_bytes());
        for (name, value) in &request.headers {
            hash.update(name.as_bytes());
            hash.update(Sha256::digest(value.as_bytes()));
        }
        hex::encode(hash.finalize())
    }

    /// The cached answer for `key`, if its body is there and whole.
    pub fn lookup(&self, key: &str) -> Option<Hit> {
        let meta = self.lock().0.entries.get(key).cloned()?;
        let body = std::fs::read(self.body_path(key)).ok()?;
        if hex::encode(Sha256::digest(&body)) != meta.body_sha256 {
            return None;
        }
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (header::ETAG, &meta.etag),
            (header::LAST_MODIFIED, &meta.last_modified),
            (header::LINK, &meta.link),
        ] {
            if let Some(value) = value {
                headers.insert(name, HeaderValue::from_str(value).ok()?);
            }
        }
        let window = meta
            .server_max_age_s
            .map_or(self.max_age, |server| match server {
                0 => Duration::ZERO,
                server => self.max_age.max(Duration::from_secs(server)),
            });
        let age = Duration::from_secs(unix_now().saturating_sub(meta.confirmed_unix));
        Some(Hit {
            key: key.to_owned(),
            reply: Reply {
                status: meta.status,
                headers,
                body,
            },
            fresh: age < window,
        })
    }

    /// Keeps a new answer (unless the server said `no-store`).
    pub fn store(&self, key: &str, reply: &Reply) -> std::io::Result<()> {
        let cache_control = reply.header(header::CACHE_CONTROL.as_str()).unwrap_or("");
        if directive(cache_control, "no-store") {
            return Ok(());
        }
        let body_sha256 = hex::encode(Sha256::digest(&reply.body));
        let unchanged = self
            .lock()
            .0
            .entries
            .get(key)
            .is_some_and(|meta| meta.body_sha256 == body_sha256);
        if !unchanged {
            let path = self.body_path(key);
            std::fs::create_dir_all(path.parent().unwrap_or(&self.dir))?;
            super::write_atomic(&path, &reply.body, false)?;
        }
        let text = |name: header::HeaderName| reply.header(name.as_str()).map(str::to_owned);
        let meta = Meta {
            status: reply.status,
            etag: text(header::ETAG),
            last_modified: text(header::LAST_MODIFIED),
            link: text(header::LINK),
            body_sha256,
            confirmed_unix: unix_now(),
            server_max_age_s: server_max_age(cache_control),
        };
        self.change(|index| {
            index.entries.insert(key.to_owned(), meta);
        })
    }

    /// The server confirmed (304) the cached answer for `key`: it is fresh again.
    pub fn confirmed(&self, key: &str) -> std::io::Result<()> {
        self.change(|index| {
            if let Some(meta) = index.entries.get_mut(key) {
                meta.confirmed_unix = unix_now();
            }
        })
    }

    /// Writes the index (atomically, synced), leaving out answers not confirmed for
    /// [`FORGET_AFTER`] and removing their bodies.
    pub fn save(&self) -> std::io::Result<()> {
        let forgotten = {
            let mut guard = self.lock();
            let oldest = unix_now().saturating_sub(FORGET_AFTER.as_secs());
            let forgotten: Vec<String> = guard
                .0
                .entries
                .iter()
                .filter(|(_, meta)| meta.confirmed_unix < oldest)
                .map(|(key, _)| key.clone())
                .collect();
            for key in &forgotten {
                guard.0.entries.remove(key);
            }
            guard.1 = 0;
            forgotten
        };
        std::fs::create_dir_all(&self.dir)?;
        // Serialized into the file under the lock: a copy of a 5,000-answer index would be
        // 2 MB, and nothing waits for the lock on a run's one thread.
        super::write_atomic_with(&self.dir.join(INDEX), true, |out| {
            serde_json::to_writer(out, &self.lock().0).map_err(std::io::Error::from)
        })?;
        for key in forgotten {
            // A body left behind costs disk space, nothing more.
            let _ = std::fs::remove_file(self.body_path(&key));
        }
        Ok(())
    }

    /// Applies a change to the index, writing it after every [`SAVE_EVERY`] changes.
    fn change(&self, apply: impl FnOnce(&mut Index)) -> std::io::Result<()> {
        let due = {
            let mut guard = self.lock();
            apply(&mut guard.0);
            guard.1 += 1;
            guard.1 >= SAVE_EVERY
        };
        if due { self.save() } else { Ok(()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Index, usize)> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn body_path(&self, key: &str) -> PathBuf {
        self.dir.join("bodies").join(key)
    }
}

/// Whether a `Cache-Control` value holds `name` (directives are case-insensitive).
fn directive(cache_control: &str, name: &str) -> bool {
    cache_control
        .split(',')
        .any(|part| part.trim().eq_ignore_ascii_case(name))
}

/// The seconds a `Cache-Control` value allows: `max-age=N`, 0 for `no-cache`/`no-store`.
fn server_max_age(cache_control: &str) -> Option<u64> {
    if directive(cache_control, "no-cache") || directive(cache_control, "no-store") {
        return Some(0);
    }
    cache_control.split(',').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: &str, cache_control: Option<&str>) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, HeaderValue::from_static("\"e1\""));
        if let Some(value) = cache_control {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_str(value).expect("header"),
            );
        }
        Reply {
            status: 200,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn fresh_within_max_age_and_kept_across_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(dir.path(), Duration::from_secs(3600));
        cache.store("k", &reply("one", None)).expect("stores");
        cache.save().expect("saves");
        let again = Cache::open(dir.path(), Duration::from_secs(3600));
        let hit = again.lookup("k").expect("cached");
        assert!(hit.fresh);
        assert_eq!(hit.reply.body, b"one");
        assert_eq!(hit.reply.header("etag"), Some("\"e1\""));
        let refreshing = Cache::open(dir.path(), Duration::ZERO);
        assert!(!refreshing.lookup("k").expect("cached").fresh);
    }

    #[test]
    fn the_server_decides_no_cache_and_longer_max_age() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(dir.path(), Duration::ZERO);
        cache
            .store("long", &reply("a", Some("public, max-age=86400")))
            .expect("stores");
        assert!(cache.lookup("long").expect("cached").fresh);
        let cache = Cache::open(dir.path(), Duration::from_secs(3600));
        cache
            .store("never", &reply("b", Some("no-cache")))
            .expect("stores");
        assert!(!cache.lookup("never").expect("cached").fresh);
        cache
            .store("nostore", &reply("c", Some("No-Store")))
            .expect("stores");
        assert!(cache.lookup("nostore").is_none());
    }

    #[test]
    fn a_body_that_does_not_match_the_index_is_not_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(dir.path(), Duration::from_secs(3600));
        cache.store("k", &reply("whole", None)).expect("stores");
        std::fs::write(dir.path().join("bodies/k"), "torn").expect("writes");
        assert!(cache.lookup("k").is_none());
    }
}
