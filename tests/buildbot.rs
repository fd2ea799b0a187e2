//! `mc-build --engine buildbot` end to end: a real buildbot master, its master.cfg printed by
//! `mc-build --print-master-cfg`, and real workers on 127.0.0.1 (buildbot from PyPI, pinned, in
//! a venv made once under the target folder). Each worker runs the real mc-build, whose makepkg
//! runs in its bubblewrap sandbox as an unprivileged user; what the master knows (which worker
//! built what, when) is read back over its REST API.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use pipeline_tests::{
    Pacman, Run, bin,
    makepkg::{Pkg, Set},
    parse_output,
    upstream_support::venv_bin,
};
use serde_json::Value;

/// What the venv installs: the master with its web server (REST and JSON-RPC), and the worker.
const BUILDBOT: &[&str] = &[
    "buildbot==4.3.0",
    "buildbot-www==4.3.0",
    "buildbot-worker==4.3.0",
];
/// The password of the master's `mc-build` user.
const PASSWORD: &str = "test-secret";

/// A free loopback port (free when asked; nothing else here binds ports at random).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds loopback");
    listener.local_addr().expect("address").port()
}

/// A master and its workers, each a process group of its own, killed when dropped.
struct Cluster {
    url: String,
    dir: PathBuf,
    master: Child,
    workers: BTreeMap<String, Child>,
}

/// Kills the process group `child` leads (a worker's build commands are in it too).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

fn spawn_group(command: &mut Command, log: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let log = fs::File::create(log).expect("log file");
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("starts")
}

impl Cluster {
    /// A master with `names` as workers in `set`'s folder, of which the first `started` run.
    fn start(set: &Set, names: &[&str], started: usize) -> Self {
        let venv = venv_bin("buildbot-venv", BUILDBOT);
        let dir = set.path("buildbot");
        let master_dir = dir.join("master");
        fs::create_dir_all(&dir).expect("the cluster's folder");
        let created = Command::new(venv.join("buildbot"))
            .args(["create-master", "--quiet"])
            .arg(&master_dir)
            .output()
            .expect("runs buildbot");
        // create-master says success even when it failed.
        assert!(
            master_dir.join("buildbot.tac").exists(),
            "create-master: {created:?}"
        );
        let (worker_port, www_port) = (free_port(), free_port());
        // The master.cfg mc-build prints, with this mc-build on the workers.
        let token = dir.join("token");
        fs::write(&token, format!("mc-build:{PASSWORD}\n")).expect("token");
        let mut args = vec![
            "--print-master-cfg".to_owned(),
            "--master".to_owned(),
            format!("http://127.0.0.1:{www_port}"),
            "--worker-port".to_owned(),
            worker_port.to_string(),
            "--token".to_owned(),
            token.display().to_string(),
        ];
        for name in names {
            args.extend(["--worker".to_owned(), format!("{name}:{name}-pass")]);
        }
        let config = mc_build(&args);
        assert!(config.status.success(), "--print-master-cfg: {config:?}");
        fs::write(master_dir.join("master.cfg"), &config.stdout).expect("master.cfg");
        let master = spawn_group(
            Command::new(venv.join("buildbot"))
                .args(["start", "--nodaemon"])
                .arg(&master_dir),
            &dir.join("master.log"),
        );
        let mut cluster = Self {
            url: format!("http://127.0.0.1:{www_port}"),
            dir: dir.clone(),
            master,
            workers: BTreeMap::new(),
        };
        for name in &names[..started] {
            let worker_dir = dir.join(name);
            let created = Command::new(venv.join("buildbot-worker"))
                .args(["create-worker", "--quiet"])
                .arg(&worker_dir)
                .arg(format!("127.0.0.1:{worker_port}"))
                .args([*name, &format!("{name}-pass")])
                .output()
                .expect("runs buildbot-worker");
            assert!(created.status.success(), "create-worker: {created:?}");
            let child = spawn_group(
                Command::new(venv.join("buildbot-worker"))
                    .args(["start", "--nodaemon"])
                    .arg(&worker_dir),
                &dir.join(format!("{name}.log")),
            );
            cluster.workers.insert((*name).to_owned(), child);
        }
        cluster.wait_for(
            |c| !c.api("workers").is_null() && c.connected() == started,
            "the master and its workers",
        );
        cluster
    }

    /// Waits (up to two minutes) until `ready`, else fails saying what for.
    fn wait_for(&self, ready: impl Fn(&Self) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ready(self) {
            let log = fs::read_to_string(self.dir.join("master.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "waited for {what}; master:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `GET /api/v2/PATH`; `null` while the master does not answer.
    fn api(&self, path: &str) -> Value {
        let http = minicluster::cli::NetworkArgs::default()
            .client()
            .expect("client");
        let mut text = String::new();
        match http.open(&format!("{}/api/v2/{path}", self.url)) {
            Ok(mut body) => {
                let _ = body.read_to_string(&mut text);
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }
            Err(_) => Value::Null,
        }
    }

    fn connected(&self) -> usize {
        self.api("workers")["workers"]
            .as_array()
            .map_or(0, |workers| {
                workers
                    .iter()
                    .filter(|w| w["connected_to"].as_array().is_some_and(|c| !c.is_empty()))
                    .count()
            })
    }

    /// Every build the master ran, with its base, worker name, start and end.
    fn builds(&self) -> Vec<Seen> {
        let names: BTreeMap<u64, String> = self.api("workers")["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| Some((w["workerid"].as_u64()?, w["name"].as_str()?.to_owned())))
            .collect();
        self.api("builds?property=mc_base")["builds"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| Seen {
                id: b["buildid"].as_u64().unwrap_or_default(),
                base: b["properties"]["mc_base"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                worker: b["workerid"]
                    .as_u64()
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_default(),
                started_at: b["started_at"].as_u64().unwrap_or_default(),
                complete_at: b["complete_at"].as_u64(),
            })
            .collect()
    }

    /// The token file for `password`.
    fn token(&self, password: &str) -> String {
        let path = self.dir.join(format!("token-{password}"));
        fs::write(&path, format!("mc-build:{password}\n")).expect("token");
        path.display().to_string()
    }

    /// mc-build's arguments for this master, with `password`.
    fn args(&self, set: &Set, password: &str, folders: &[String]) -> Vec<String> {
        let token = self.token(password);
        let engine = [
            "--engine", "buildbot", "--master", &self.url, "--token", &token,
        ];
        set.args(&engine, folders)
    }

    fn kill_worker(&mut self, name: &str) {
        if let Some(mut child) = self.workers.remove(name) {
            kill_group(&mut child);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.workers.values_mut() {
            kill_group(child);
        }
        kill_group(&mut self.master);
    }
}

/// A build as the master saw it.
#[derive(Debug)]
struct Seen {
    id: u64,
    base: String,
    worker: String,
    started_at: u64,
    complete_at: Option<u64>,
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        found.push(entry.path());
        found.extend(walk(&entry.path()));
    }
    found
}

fn mc_build(args: &[String]) -> Output {
    Command::new(bin("mc-build"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs mc-build")
}

fn build_of<'a>(run: &'a Run, base: &str) -> &'a Value {
    run.of_type("build")
        .into_iter()
        .find(|r| r["base"] == base)
        .unwrap_or_else(|| panic!("no build record for {base}: {run:?}"))
}

/// Each package a run made: name, version and the files it holds, as pacman lists them.
fn contents(run: &Run, pacman: &Pacman) -> BTreeMap<String, (String, String)> {
    run.of_type("package")
        .iter()
        .map(|package| {
            let path = package["path"].as_str().expect("a path");
            let files = pacman.run(&["-Qlp", path]);
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            let version = package["version"].as_str().unwrap_or_default().to_owned();
            (name, (version, files))
        })
        .collect()
}

#[test]
fn a_set_builds_on_two_workers_as_it_builds_here_and_pacman_installs_it() {
    let set = Set::new();
    let cluster = Cluster::start(&set, &["w1", "w2"], 2);
    // bb-a, bb-c and bb-d are ready at once, in that order; two workers take bb-a and bb-c,
    // and bb-d starts when bb-a ends, while bb-c still sleeps.
    let folders = vec![
        set.add(&Pkg {
            base: "bb-a",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "bb-b",
            depends: &["bb-a"],
            build: "grep -qx bb-a \"$MC_BUILD_DEPS_ROOT/usr/share/bb-a/data\"",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "bb-c",
            build: "sleep 8",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "bb-d",
            build: "sleep 2",
            ..Pkg::default()
        }),
    ];
    let remote = parse_output(&mc_build(&cluster.args(&set, PASSWORD, &folders)));
    assert_eq!(remote.code, 0, "{remote:?}");
    for base in ["bb-a", "bb-b", "bb-c", "bb-d"] {
        let record = build_of(&remote, base);
        assert_eq!(record["status"], "built", "{record}");
        assert_eq!(record["lost_workers"], serde_json::json!([]), "{record}");
        let log = record["log_path"].as_str().expect("a log");
        let text = fs::read_to_string(log).expect("the worker's log came back");
        assert!(text.contains("Finished making"), "{text}");
    }
    let seen = cluster.builds();
    let of = |base: &str| {
        seen.iter()
            .find(|b| b.base == base)
            .unwrap_or_else(|| panic!("the master never built {base}: {seen:?}"))
    };
    let (c, d) = (of("bb-c"), of("bb-d"));
    assert_ne!(c.worker, d.worker, "{seen:?}");
    let end = |b: &Seen| b.complete_at.unwrap_or(u64::MAX);
    assert!(
        c.started_at <= end(d) && d.started_at <= end(c),
        "bb-c and bb-d never built at the same time: {seen:?}"
    );
    assert!(of("bb-b").started_at >= end(of("bb-a")), "{seen:?}");
    for base in ["bb-a", "bb-b", "bb-c", "bb-d"] {
        assert_eq!(
            build_of(&remote, base)["worker"].as_str(),
            Some(of(base).worker.as_str()),
            "the record names the worker the master used"
        );
    }

    // The same set built here: the same packages.
    let local_args = vec![
        "--work".to_owned(),
        set.path("local").display().to_string(),
        "--sources".to_owned(),
        set.path("cache").display().to_string(),
    ];
    let local = parse_output(&mc_build(&[local_args, folders.clone()].concat()));
    assert_eq!(local.code, 0, "{local:?}");
    let pacman = Pacman::new(
        &format!("file://{}", set.repo_dir().display()),
        &["mc-build"],
    );
    assert_eq!(contents(&remote, &pacman), contents(&local, &pacman));
    pacman.run(&["-Sy"]);
    pacman.run(&["-S", "bb-b", "bb-c", "bb-d"]);
    for name in ["bb-a", "bb-b", "bb-c", "bb-d"] {
        let data = pacman.root().join(format!("usr/share/{name}/data"));
        assert_eq!(
            fs::read_to_string(&data).ok().as_deref(),
            Some(format!("{name}\n").as_str())
        );
    }

    // A rerun starts nothing at the master.
    let again = parse_output(&mc_build(&cluster.args(&set, PASSWORD, &folders)));
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.count("built"), 4, "{again:?}");
    assert_eq!(cluster.builds().len(), seen.len());
}

/// The build of `base` the master runs, once it is inside the `mc-build` step (a worker lost
/// before, while buildbot still prepares it, leaves the build hanging: buildbot/buildbot#6405).
fn running(cluster: &Cluster, base: &str) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let in_step = |build: &Seen| {
            cluster.api(&format!("builds/{}/steps", build.id))["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|step| {
                    step["name"] == "mc-build"
                        && step["started_at"].is_u64()
                        && step["complete"] == false
                })
        };
        if let Some(build) = cluster
            .builds()
            .into_iter()
            .find(|b| b.base == base && b.complete_at.is_none() && in_step(b))
        {
            return build;
        }
        assert!(Instant::now() < deadline, "{base} never started building");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_build_whose_worker_is_killed_is_retried_on_the_other_and_a_rerun_attaches() {
    let set = Set::new();
    let mut cluster = Cluster::start(&set, &["w1", "w2"], 2);
    // The build goes on once the test opens the gate, outside /tmp so that the sandbox (its own
    // /tmp, the rest of the system read-only) sees it; for a minute at most.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| pipeline_tests::workspace().join("target"), PathBuf::from);
    let gate = target.join(format!("buildbot-gate-{}", std::process::id()));
    let _ = fs::remove_file(&gate);
    let wait = format!(
        // `return`, not `exit`: build() runs in makepkg's own shell.
        "i=0; until test -e '{}'; do i=$((i + 1)); test $i -lt 300 || return 1; sleep 0.2; done",
        gate.display()
    );
    let folders = vec![set.add(&Pkg {
        base: "bb-slow",
        build: &wait,
        ..Pkg::default()
    })];
    let args = cluster.args(&set, PASSWORD, &folders);

    // The coordinator dies while its build runs: the rerun waits for that same build.
    let mut first = Command::new(bin("mc-build"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mc-build starts");
    let victim = running(&cluster, "bb-slow");
    first.kill().expect("kills mc-build");
    let _ = first.wait();
    let rerun = Command::new(bin("mc-build"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mc-build starts");

    // Then its worker dies too, and the retry may finish.
    cluster.kill_worker(&victim.worker);
    fs::write(&gate, "").expect("opens the gate");
    let run = parse_output(&rerun.wait_with_output().expect("finishes"));
    let _ = fs::remove_file(&gate);
    let log = fs::read_to_string(set.path("work/logs/bb-slow.log")).unwrap_or_default();
    let inbox: Vec<_> = walk(&set.path("work/buildbot"));
    assert_eq!(run.code, 0, "{run:?}\n{log}\n{inbox:?}");
    let record = build_of(&run, "bb-slow");
    assert_eq!(record["status"], "built", "{record}");
    assert_eq!(record["lost_workers"], serde_json::json!([victim.worker]));
    let other = cluster.workers.keys().next().expect("one worker is left");
    assert_eq!(record["worker"].as_str(), Some(other.as_str()), "{record}");
    let seen = cluster.builds();
    assert_eq!(
        seen.len(),
        2,
        "one build lost with its worker, one retry, none for the rerun: {seen:?}"
    );
    assert!(
        fs::read_dir(set.repo_dir())
            .expect("the repository")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("bb-slow-1.0-1")),
        "the retried build was published"
    );
}

#[test]
fn a_wrong_token_or_an_unreachable_master_is_a_clear_error_and_publishes_nothing() {
    let set = Set::new();
    let cluster = Cluster::start(&set, &["w1"], 0);
    let folders = vec![set.add(&Pkg {
        base: "bb-never",
        ..Pkg::default()
    })];
    let wrong = mc_build(&cluster.args(&set, "wrong-secret", &folders));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the login"), "{stderr}");

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let token = cluster.token(PASSWORD);
    let engine = [
        "--engine", "buildbot", "--master", &nobody, "--token", &token,
    ];
    let unreachable = mc_build(&set.args(&engine, &folders));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");

    assert!(!set.repo_dir().exists(), "a repository was made");
    assert!(cluster.builds().is_empty(), "the master built something");
}
