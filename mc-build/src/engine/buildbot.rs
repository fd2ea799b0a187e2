//! The buildbot engine: each ready base becomes a force build of the `mc-build` builder
//! ([`super::master_cfg`]) on an existing master, and the packages its worker made come back
//! through the master into `WORK/buildbot/inbox/KEY`, from where the scheduler publishes them.
//!
//! A build's inputs (base, version, PKGBUILD folder, cached sources, the set's packages it
//! installs) hash to its key. The build request forced for a key is noted in
//! `WORK/buildbot/KEY.request`, so a rerun attaches to a request still queued or running, and
//! takes the packages of one that succeeded, instead of starting it again. When a worker
//! vanishes mid-build, buildbot ends that build with `RETRY` and hands the request to another
//! worker; after [`MAX_TRIES`] lost workers the request is cancelled and the base fails.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
    sync::Mutex,
    thread,
    time::Duration,
};

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Engine, Ran, Request,
    client::{Client, ClientError},
    master_cfg::{BUILDER, DEFAULT_USER},
};
use crate::builder::{Failure, log_path};

/// Workers a build may lose before it fails.
pub const MAX_TRIES: usize = 3;
/// How often a running build is looked at.
const POLL: Duration = Duration::from_millis(500);
/// Failed looks in a row (the master restarting, say) before a build is given up.
const MAX_BLIND_POLLS: usize = 120;
/// buildbot's result codes.
const SUCCESS: i64 = 0;
const WARNINGS: i64 = 1;
const RETRY: i64 = 5;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildbotError {
    /// The master could not be used.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The token file could not be read.
    #[error("reading the token {path}: {source}")]
    Token {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The master has no `mc-build` builder.
    #[error(
        "buildbot master has no builder {BUILDER}: its master.cfg needs the one \
         mc_build::engine::master_cfg makes"
    )]
    NoBuilder,
}

/// Where the coordinator keeps what it hands to workers and gets back.
#[derive(Debug)]
pub struct Paths {
    /// mc-build's work folder (logs, request notes, inbox).
    pub work: PathBuf,
    /// mc-verify's source cache, as workers see it.
    pub sources: PathBuf,
    /// The run's repository database, where workers install dependencies from.
    pub repo: PathBuf,
}

/// A master's `mc-build` builder.
#[derive(Debug)]
pub struct Buildbot {
    client: Client,
    builder: u64,
    /// Workers configured for the builder.
    pub workers: usize,
    paths: Paths,
    names: Mutex<BTreeMap<u64, String>>,
}

#[derive(Deserialize)]
struct Builders {
    builders: Vec<Builder>,
}

#[derive(Deserialize)]
struct Builder {
    builderid: u64,
}

#[derive(Deserialize)]
struct Workers {
    workers: Vec<Worker>,
}

#[derive(Deserialize)]
struct Worker {
    name: String,
    configured_on: Vec<Builder>,
}

#[derive(Deserialize)]
struct BuildRequests {
    buildrequests: Vec<BuildRequest>,
}

#[derive(Deserialize)]
struct BuildRequest {
    complete: bool,
    results: Option<i64>,
}

#[derive(Deserialize)]
struct Builds {
    builds: Vec<Build>,
}

#[derive(Deserialize)]
struct Build {
    buildid: u64,
    workerid: u64,
    results: Option<i64>,
    state_string: String,
}

/// `USER:PASSWORD`, or a password alone for [`DEFAULT_USER`], from the token file.
pub fn read_token(path: &Path) -> Result<(String, String), BuildbotError> {
    let text = fs::read_to_string(path).map_err(|source| BuildbotError::Token {
        path: path.to_owned(),
        source,
    })?;
    let text = text.trim();
    Ok(match text.split_once(':') {
        Some((user, password)) => (user.to_owned(), password.to_owned()),
        None => (DEFAULT_USER.to_owned(), text.to_owned()),
    })
}

impl Buildbot {
    /// Logs in at `master` (with the token in `token`, if any) and finds the builder.
    pub fn connect(
        master: &str,
        token: Option<&Path>,
        paths: Paths,
    ) -> Result<Self, BuildbotError> {
        let login = token.map(read_token).transpose()?;
        let client = Client::connect(
            master,
            login.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        )?;
        let builders: Builders = client.get(&format!("builders?name={BUILDER}"))?;
        let builder = builders
            .builders
            .first()
            .ok_or(BuildbotError::NoBuilder)?
            .builderid;
        let workers: Workers = client.get("workers")?;
        let workers = workers
            .workers
            .iter()
            .filter(|w| w.configured_on.iter().any(|b| b.builderid == builder))
            .count();
        Ok(Self {
            client,
            builder,
            workers,
            paths,
            names: Mutex::default(),
        })
    }

    /// The note of the build request forced for `key`.
    fn note(&self, key: &str) -> PathBuf {
        self.paths
            .work
            .join("buildbot")
            .join(format!("{key}.request"))
    }

    fn inbox(&self, key: &str) -> PathBuf {
        self.paths.work.join("buildbot/inbox").join(key)
    }

    /// The build request noted for `key` if it is still worth waiting for: queued, running,
    /// or done with its packages in the inbox.
    fn noted(&self, key: &str) -> Option<u64> {
        let id: u64 = fs::read_to_string(self.note(key))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let found: BuildRequests = self.client.get(&format!("buildrequests/{id}")).ok()?;
        let request = found.buildrequests.first()?;
        let usable = !request.complete
            || (matches!(request.results, Some(SUCCESS | WARNINGS)) && self.inbox(key).is_dir());
        usable.then_some(id)
    }

    /// Forces a build of `request` under `key`; its build request's id, noted.
    fn force(&self, request: &Request<'_>, key: &str) -> Result<u64, Failure> {
        let folder = fs::canonicalize(request.folder)?;
        let inbox = self.inbox(key);
        if inbox.exists() {
            fs::remove_dir_all(&inbox)?;
        }
        let base = request.base;
        let params = json!({
            "builderid": self.builder.to_string(),
            "mc_base": base.name,
            "mc_version": base.version,
            "mc_commit": commit(&folder).unwrap_or_default(),
            "mc_folder": folder,
            "mc_sources": self.paths.sources,
            "mc_source_key": source_key(&self.paths.sources.join(&base.name))?,
            "mc_deps_repo": self.paths.repo,
            "mc_deps": request.needed.join(","),
            "mc_key": key,
            "mc_inbox": inbox,
        });
        let result = self
            .client
            .call(&format!("forceschedulers/{BUILDER}"), "force", params)?;
        // `[buildsetid, {builderid: buildrequestid}]`
        let id = result[1][self.builder.to_string()]
            .as_u64()
            .ok_or_else(|| Failure(format!("buildbot force answered {result}")))?;
        let note = self.note(key);
        fs::create_dir_all(self.paths.work.join("buildbot"))?;
        minicluster::file::write_atomic(&note, id.to_string().as_bytes(), false)?;
        Ok(id)
    }

    fn worker_name(&self, id: u64) -> String {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = names.get(&id) {
            return name.clone();
        }
        let Ok(found) = self.client.get::<Workers>(&format!("workers/{id}")) else {
            return format!("worker {id}");
        };
        let name = found
            .workers
            .first()
            .map_or_else(|| format!("worker {id}"), |w| w.name.clone());
        names.insert(id, name.clone());
        name
    }

    /// Waits for build request `id` to complete; its builds and its result.
    fn wait(&self, id: u64, ran: &mut Ran) -> Result<(Vec<Build>, Option<i64>), Failure> {
        let mut blind = 0;
        loop {
            let looked = self
                .client
                .get::<Builds>(&format!("buildrequests/{id}/builds"))
                .and_then(|builds| {
                    let request: BuildRequests = self.client.get(&format!("buildrequests/{id}"))?;
                    Ok((builds.builds, request.buildrequests))
                });
            let (builds, requests) = match looked {
                Ok(seen) => seen,
                Err(_) if blind < MAX_BLIND_POLLS => {
                    blind += 1;
                    thread::sleep(POLL);
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            blind = 0;
            ran.lost_workers = builds
                .iter()
                .filter(|b| b.results == Some(RETRY))
                .map(|b| self.worker_name(b.workerid))
                .collect();
            ran.worker = builds.last().map(|b| self.worker_name(b.workerid));
            let request = requests
                .first()
                .ok_or_else(|| Failure(format!("buildbot lost build request {id}")))?;
            if request.complete {
                return Ok((builds, request.results));
            }
            if ran.lost_workers.len() >= MAX_TRIES {
                let path = format!("buildrequests/{id}");
                let _ = self.client.call(&path, "cancel", json!({}));
                return Err(Failure(format!(
                    "lost {} workers ({}); build request {id} cancelled",
                    ran.lost_workers.len(),
                    ran.lost_workers.join(", ")
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Why build `build` failed: the worker's own `build` record's reason when it printed one.
    fn reason(&self, build: &Build) -> String {
        let path = format!("builds/{}/steps/{BUILDER}/logs/stdio/raw", build.buildid);
        let worker_said = self.client.text(&path).ok().flatten().and_then(|log| {
            log.lines()
                .rev()
                .filter(|line| line.starts_with(r#"{"type":"build""#))
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find_map(|record| record["reason"].as_str().map(str::to_owned))
        });
        worker_said
            .unwrap_or_else(|| format!("buildbot build {}: {}", build.buildid, build.state_string))
    }

    fn run(&self, request: &Request<'_>, ran: &mut Ran) -> Result<PathBuf, Failure> {
        let key = key(request, &self.paths.sources)?;
        let id = match self.noted(&key) {
            Some(id) => id,
            None => self.force(request, &key)?,
        };
        let (builds, result) = self.wait(id, ran)?;
        let inbox = self.inbox(&key);
        let base = &request.base.name;
        // The worker's makepkg log, where a local build leaves it.
        let log = inbox.join(format!("{base}.log"));
        if log.is_file() {
            fs::copy(&log, log_path(&self.paths.work, base))?;
        }
        match (result, builds.last()) {
            (Some(SUCCESS | WARNINGS), _) => Ok(inbox),
            (_, Some(build)) => Err(Failure(format!(
                "on {}: {}",
                self.worker_name(build.workerid),
                self.reason(build)
            ))),
            (_, None) => Err(Failure(format!(
                "buildbot build request {id} ended without a build"
            ))),
        }
    }
}

impl Engine for Buildbot {
    fn build(&self, request: &Request<'_>) -> Ran {
        let mut ran = Ran {
            outcome: Err(Failure(String::new())),
            worker: None,
            lost_workers: Vec::new(),
        };
        ran.outcome = self.run(request, &mut ran);
        ran
    }
}

/// The git commit of a PKGBUILD folder that is a clone (as `mc-fetch aur` makes them).
fn commit(folder: &Path) -> Option<String> {
    if !folder.join(".git").exists() {
        return None;
    }
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Feeds every file under `dir` (but `.git`), by relative path and content, into `hash`.
fn hash_tree(hash: &mut Sha256, dir: &Path, prefix: &str) -> std::io::Result<()> {
    let mut entries: Vec<_> = match fs::read_dir(dir) {
        Ok(entries) => entries.collect::<Result<_, _>>()?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_name() == ".git" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            hash_tree(hash, &entry.path(), &format!("{name}/"))?;
        } else {
            hash.update(name.as_bytes());
            hash.update([0]);
            let mut file = fs::File::open(entry.path())?;
            let mut buffer = Vec::new();
            file.read_to_end(&mut buffer)?;
            hash.update((buffer.len() as u64).to_le_bytes());
            hash.update(&buffer);
        }
    }
    Ok(())
}

/// The SHA-256 of a base's cached sources (`CACHE/BASE`), names and contents: the key of what
/// mc-verify verified.
fn source_key(cached: &Path) -> std::io::Result<String> {
    let mut hash = Sha256::new();
    hash_tree(&mut hash, cached, "")?;
    Ok(hex::encode(hash.finalize()))
}

/// The key of a build's inputs.
fn key(request: &Request<'_>, sources: &Path) -> std::io::Result<String> {
    let mut hash = Sha256::new();
    let base = request.base;
    for part in [&base.name, &base.version, &request.needed.join(",")] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash_tree(&mut hash, request.folder, "")?;
    hash.update(source_key(&sources.join(&base.name))?.as_bytes());
    Ok(hex::encode(&hash.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srcinfo::Base;

    #[test]
    fn the_key_changes_with_the_pkgbuild_and_the_sources_and_only_with_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("a");
        let sources = dir.path().join("cache");
        fs::create_dir_all(&folder).expect("folder");
        fs::create_dir_all(sources.join("a")).expect("cache");
        fs::write(folder.join("PKGBUILD"), "pkgname=a").expect("PKGBUILD");
        let base = Base {
            name: "a".to_owned(),
            version: "1-1".to_owned(),
            ..Base::default()
        };
        let request = Request {
            base: &base,
            folder: &folder,
            needed: &[],
        };
        let first = key(&request, &sources).expect("key");
        assert_eq!(first, key(&request, &sources).expect("key"));
        fs::write(sources.join("a/a.tar.gz"), "data").expect("source");
        let with_source = key(&request, &sources).expect("key");
        assert_ne!(first, with_source);
        fs::write(folder.join("PKGBUILD"), "pkgname=a\n# changed").expect("PKGBUILD");
        assert_ne!(with_source, key(&request, &sources).expect("key"));
    }

    #[test]
    fn a_token_is_a_user_and_password_or_a_password_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        fs::write(&file, "ci:s3cret\n").expect("token");
        assert_eq!(
            read_token(&file).expect("read"),
            ("ci".to_owned(), "s3cret".to_owned())
        );
        fs::write(&file, "s3cret\n").expect("token");
        assert_eq!(read_token(&file).expect("read").0, DEFAULT_USER);
    }
}
