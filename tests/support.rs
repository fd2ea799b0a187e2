//! What the end-to-end tests share: the built binaries, the real data, a served sample mirror,
//! and a pacman that runs in a temporary folder.
//!
//! The binaries are the ones `cargo build --workspace` leaves in the target folder (`make test`
//! builds them first); the peers are Debian's pacman, repo-add and bsdtar (`.ci/run` installs
//! them). A missing peer fails the test with a message saying what to install: a test that
//! quietly skips proves nothing.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

pub mod makepkg;
pub mod upstream_support;

use serde_json::Value;
use xtask::{sample, serve::MirrorServer};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/realdata`, where the project and CI keep real Arch data.
pub fn realdata() -> PathBuf {
    workspace().join("../shared/realdata")
}

/// A built binary of the workspace.
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (make test does)",
        path.display()
    );
    path
}

/// Fails unless `tool` is on PATH.
pub fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "{tool} is not installed: apt-get install {package} (see .ci/run)"
    );
}

/// A finished command: exit code, stdout as JSON records, stderr.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// One JSON value per stdout line.
    pub records: Vec<Value>,
    /// Standard error, for messages.
    pub stderr: String,
}

impl Run {
    /// The records of `kind` (`"package"`, `"error"`, ...).
    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.records.iter().filter(|r| r["type"] == kind).collect()
    }

    /// The summary record's count `key`.
    pub fn count(&self, key: &str) -> u64 {
        let summary = self.of_type("summary");
        summary
            .last()
            .and_then(|s| s[key].as_u64())
            .unwrap_or_else(|| panic!("no summary {key}: {self:?}"))
    }

    /// The summary record's count `key`, 0 when the summary does not mention it.
    pub fn count_or_zero(&self, key: &str) -> u64 {
        self.of_type("summary")
            .last()
            .and_then(|s| s[key].as_u64())
            .unwrap_or(0)
    }

    /// The `kind` of every error record, sorted.
    pub fn error_kinds(&self) -> Vec<String> {
        sorted_kinds(self.of_type("error"))
    }

    /// The error records `tool` wrote itself (a tool forwards the records it does not handle).
    pub fn errors_of(&self, tool: &str) -> Vec<&Value> {
        let errors = self.of_type("error").into_iter();
        errors.filter(|e| e["tool"] == tool).collect()
    }

    /// The `kind` of every error record `tool` wrote itself, sorted.
    pub fn error_kinds_of(&self, tool: &str) -> Vec<String> {
        sorted_kinds(self.errors_of(tool))
    }
}

fn sorted_kinds(errors: Vec<&Value>) -> Vec<String> {
    let mut kinds: Vec<String> = errors
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    kinds.sort();
    kinds
}

/// Runs `program args` with `stdin` as input.
pub fn run(program: &Path, args: &[&str], stdin: &str) -> Run {
    parse_output(&run_output(program, args, stdin))
}

/// Runs `program args` with `stdin` as input; its output as it came.
pub fn run_output(program: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let output = child.wait_with_output().expect("waits");
    let _ = writer.join();
    output
}

/// The records and exit code of a finished process.
pub fn parse_output(output: &Output) -> Run {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let records = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    Run {
        code: output.status.code().unwrap_or(-1),
        records,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `mc-fetch ARGS`.
pub fn fetch(args: &[&str]) -> Run {
    run(&bin("mc-fetch"), args, "")
}

/// `mc-index ARGS` with `records` on stdin.
pub fn index(args: &[&str], records: &str) -> Run {
    run(&bin("mc-index"), args, records)
}

/// Records back to JSON lines, for the next tool's stdin.
pub fn lines(records: &[&Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

/// A sample mirror on disk, served on loopback.
pub struct Mirror {
    /// The folder holding it.
    pub dir: tempfile::TempDir,
    /// The server.
    pub server: MirrorServer,
    /// What the generator wrote.
    pub summary: sample::Summary,
}

impl Mirror {
    /// Generates and serves a mirror made from `spec`.
    pub fn new(spec: &sample::Spec) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let summary = sample::write_mirror(dir.path(), spec).expect("sample mirror");
        let server = MirrorServer::start(dir.path(), "127.0.0.1:0").expect("server");
        Self {
            dir,
            server,
            summary,
        }
    }

    /// The default sample mirror (`core` and `extra`).
    pub fn sample() -> Self {
        Self::new(&sample::Spec::default())
    }

    /// Its pacman `Server` URL.
    pub fn server_url(&self) -> String {
        format!("{}/$repo/os/$arch", self.server.url())
    }

    /// The folder of `repo`'s packages.
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.dir.path().join(repo).join("os/x86_64")
    }
}

/// Debian's pacman, with its own root, database, keyring and configuration in a temporary folder.
pub struct Pacman {
    dir: tempfile::TempDir,
}

impl Pacman {
    /// A pacman that syncs `repos` from `server` (a `Server` URL), signatures off.
    pub fn new(server: &str, repos: &[&str]) -> Self {
        Self::configured(server, repos, "Never")
    }

    /// A pacman that requires signatures on databases and packages, trusting only the
    /// certificate `public_key` (armored), imported and locally signed with pacman-key.
    pub fn trusting(server: &str, repos: &[&str], public_key: &str, fingerprint: &str) -> Self {
        require("pacman-key", "pacman-package-manager");
        require("gpg", "gnupg");
        let pacman = Self::configured(server, repos, "Required");
        let key = pacman.dir.path().join("key.asc");
        std::fs::write(&key, public_key).expect("public key");
        let gpgdir = pacman.path("gnupg");
        let key = key.display().to_string();
        for args in [
            vec!["--init"],
            vec!["--add", &key],
            vec!["--lsign-key", fingerprint],
        ] {
            let output = Command::new("pacman-key")
                .args(["--gpgdir", &gpgdir])
                .args(&args)
                .output()
                .expect("pacman-key runs");
            assert!(
                output.status.success(),
                "pacman-key {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        pacman
    }

    fn configured(server: &str, repos: &[&str], sig_level: &str) -> Self {
        require("pacman", "pacman-package-manager");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = format!("[options]\nArchitecture = x86_64\nSigLevel = {sig_level}\n");
        for repo in repos {
            config.push_str(&format!("[{repo}]\nServer = {server}\n"));
        }
        for sub in ["root", "db", "cache", "gnupg"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("pacman folders");
        }
        std::fs::write(dir.path().join("pacman.conf"), config).expect("pacman.conf");
        Self { dir }
    }

    fn path(&self, sub: &str) -> String {
        self.dir.path().join(sub).display().to_string()
    }

    /// Runs `pacman ARGS`, failing the test when it fails; returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.try_run(args);
        assert!(
            output.status.success(),
            "pacman {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `pacman ARGS` and returns what happened.
    pub fn try_run(&self, args: &[&str]) -> Output {
        Command::new("pacman")
            .args([
                "--config",
                &self.path("pacman.conf"),
                "--root",
                &self.path("root"),
            ])
            .args([
                "--dbpath",
                &self.path("db"),
                "--cachedir",
                &self.path("cache"),
            ])
            .args(["--gpgdir", &self.path("gnupg"), "--noconfirm"])
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .expect("pacman runs")
    }

    /// The folder of its sync databases.
    pub fn sync_dir(&self) -> PathBuf {
        self.dir.path().join("db/sync")
    }

    /// The root it installs into.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

/// `mc-repo ARGS` with `records` on stdin.
pub fn repo(args: &[&str], records: &str) -> Run {
    run(&bin("mc-repo"), args, records)
}

/// `pacman -Si` output parsed: (repo, name) → field → value.
pub fn parse_pacman_info(text: &str) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut packages = BTreeMap::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut fields = BTreeMap::new();
        let mut last_key = String::new();
        for line in block.lines() {
            match line.split_once(" : ") {
                Some((key, value)) if !key.starts_with(' ') => {
                    last_key = key.trim().to_owned();
                    fields.insert(last_key.clone(), value.trim().to_owned());
                }
                // Continuation lines (optional dependencies) belong to the last field.
                _ => {
                    if let Some(value) = fields.get_mut(&last_key) {
                        value.push('\n');
                        value.push_str(line.trim());
                    }
                }
            }
        }
        let key = (
            fields.get("Repository").cloned().unwrap_or_default(),
            fields.get("Name").cloned().unwrap_or_default(),
        );
        packages.insert(key, fields);
    }
    packages
}

/// A record's list field the way `pacman -Si` prints it: joined by `separator`, `None` when empty.
pub fn pacman_list(values: &Value, separator: &str) -> String {
    let values: Vec<&str> = values
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if values.is_empty() {
        "None".to_owned()
    } else {
        values.join(separator)
    }
}

/// The PostgreSQL image of `mc-vm/recipes/debian-postgresql.toml`, built by `mc-vm image
/// build` into `target/vm-image/debian-postgresql` once: the folder is a cache keyed by the
/// recipe's hash, and mc-vm's lock on it makes test processes that ask at once take turns.
/// Returns the `vm_image` record.
pub fn postgresql_image() -> Value {
    require("mmdebstrap", "mmdebstrap");
    require("mkfs.ext4", "e2fsprogs");
    let recipe = workspace().join("mc-vm/recipes/debian-postgresql.toml");
    let out = workspace().join("target/vm-image/debian-postgresql");
    let built = run(
        &bin("mc-vm"),
        &[
            "image",
            "build",
            recipe.to_str().expect("UTF-8 path"),
            "--out",
            out.to_str().expect("UTF-8 path"),
        ],
        "",
    );
    assert_eq!(built.code, 0, "mc-vm image build: {built:?}");
    built.records[0].clone()
}
