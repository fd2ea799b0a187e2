//! mc-appliance against real PostgreSQL 15 in machines booted under TCG from the image of
//! `mc-vm/recipes/debian-postgresql.toml` (built once into `target/vm-image`, shared with
//! tests/vm.rs), with the host's `psql` as the client.

use std::{
    fs,
    io::BufRead,
    path::Path,
    process::{Command, Stdio},
};

use pipeline_tests::{Run, bin, parse_output, postgresql_image, require, run, workspace};
use serde_json::Value;

/// mc-appliance's arguments with its own state folder, the shared image folder and TCG.
fn arguments(state: &Path, args: &[&str]) -> Vec<String> {
    let images = workspace().join("target/vm-image");
    let mut all = vec![
        "--state".to_owned(),
        state.to_str().expect("UTF-8").to_owned(),
        "--images".to_owned(),
        images.to_str().expect("UTF-8").to_owned(),
        "--accel".to_owned(),
        "tcg".to_owned(),
    ];
    all.extend(args.iter().map(|&a| a.to_owned()));
    all
}

/// mc-appliance with its own state folder, the shared image folder and TCG.
fn appliance(state: &Path, args: &[&str]) -> Run {
    let all = arguments(state, args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = run(&bin("mc-appliance"), &all, "");
    timings(&out);
    out
}

/// Each step's time on stderr, where the slow test's log shows where the time goes.
fn timings(out: &Run) {
    for step in out.of_type("appliance_step") {
        eprintln!(
            "step {} {} {} ok={} {} ms",
            step["command"].as_str().unwrap_or_default(),
            step["step"].as_str().unwrap_or_default(),
            step["machine"].as_str().unwrap_or("host"),
            step["ok"],
            step["elapsed_ms"]
        );
    }
}

/// Runs mc-appliance and, once it has printed a line holding `marker`, `then`; what the
/// command did in all.
fn when_printed(state: &Path, args: &[&str], marker: &str, then: impl FnOnce()) -> Run {
    let mut child = Command::new(bin("mc-appliance"))
        .args(arguments(state, args))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mc-appliance starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut seen = String::new();
    let mut then = Some(then);
    let mut line = String::new();
    while stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line.contains(marker)
            && let Some(then) = then.take()
        {
            then();
        }
        seen.push_str(&line);
        line.clear();
    }
    assert!(then.is_none(), "no line with {marker}: {seen}");
    let mut out = child.wait_with_output().expect("mc-appliance ends");
    out.stdout = seen.into_bytes();
    let out = parse_output(&out);
    timings(&out);
    out
}

/// The `appliance` record of a command that must succeed; its steps all ok.
fn ok(state: &Path, args: &[&str]) -> Value {
    let out = appliance(state, args);
    assert_eq!(out.code, 0, "mc-appliance {args:?}: {out:?}");
    let result = out.of_type("appliance");
    assert_eq!(result.len(), 1, "{out:?}");
    assert!(
        out.of_type("appliance_step")
            .iter()
            .all(|s| s["ok"] == true),
        "{out:?}"
    );
    result[0].clone()
}

/// The `appliance` record of a command, whatever its exit code.
fn result(out: &Run) -> Value {
    let result = out.of_type("appliance");
    assert_eq!(result.len(), 1, "{out:?}");
    result[0].clone()
}

/// The elapsed time of a command, for the figures printed at the end (never asserted).
fn took(record: &Value) -> String {
    format!(
        "{:.1} s",
        record["elapsed_ms"].as_f64().unwrap_or(0.0) / 1000.0
    )
}

/// Runs SQL through the host endpoint `url`; the rows, one per line.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What `sql` answers on the replica at `url` once it says `want`, or after five minutes
/// (replay under TCG on a loaded host is slow) what it says then.
fn replicated(url: &str, sql: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let seen = psql(url, sql);
        if seen == want || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn an_unknown_app_or_appliance_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = appliance(dir.path(), &["define", "db", "--app", "nextcloud"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unknown app \"nextcloud\""), "{out:?}");
    let out = appliance(dir.path(), &["up", "nosuch"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no appliance nosuch"), "{out:?}");
    // An app whose image recipe is missing: `up` says so before it starts anything.
    let catalog = dir.path().join("catalog");
    fs::create_dir_all(&catalog).expect("creates");
    let own = include_str!("../mc-appliance/catalog/postgresql.toml")
        .replace("name = \"postgresql\"", "name = \"mydb\"")
        .replace("image = \"debian-postgresql\"", "image = \"nosuch.toml\"");
    fs::write(catalog.join("mydb.toml"), own).expect("writes");
    let with_catalog = |args: &[&str]| {
        let mut all = vec!["--catalog", catalog.to_str().expect("UTF-8")];
        all.extend_from_slice(args);
        appliance(dir.path(), &all)
    };
    assert_eq!(with_catalog(&["define", "mine", "--app", "mydb"]).code, 0);
    let out = with_catalog(&["up", "mine"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("nosuch.toml") && out.stderr.contains("image recipe"),
        "{out:?}"
    );
    assert!(
        !dir.path().join("mine/vms").exists(),
        "no machine was defined"
    );
    let help = Command::new(bin("mc-appliance"))
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("postgresql: ")
            && help.contains("check-health, backup, restore, fail-over, upgrade, downgrade"),
        "{help}"
    );
}

/// syslog-ng, the receiver, on a UDP port of 127.0.0.1; each message it gets a line of `out`
/// (host, program, the step and outcome from the structured data, the message). Killed when
/// dropped.
struct SyslogNg {
    child: std::process::Child,
    port: u16,
    out: std::path::PathBuf,
}

impl SyslogNg {
    fn start(dir: &Path) -> Self {
        require("syslog-ng", "syslog-ng-core");
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port")
            .port();
        let out = dir.join("received.log");
        let config = dir.join("syslog-ng.conf");
        fs::write(
            &config,
            format!(
                "@version: 3.38\n\
                 options {{ use-dns(no); keep-hostname(yes); }};\n\
                 source s {{ network(ip(\"127.0.0.1\") port({port}) transport(\"udp\") flags(syslog-protocol)); }};\n\
                 destination d {{ file(\"{}\" template(\"${{HOST}} ${{PROGRAM}} ${{.SDATA.mc@32473.command}} ${{.SDATA.mc@32473.step}} ${{.SDATA.mc@32473.ok}} ${{MSG}}\\n\")); }};\n\
                 log {{ source(s); destination(d); }};\n",
                out.display()
            ),
        )
        .expect("writes");
        let control = dir.join("syslog-ng.ctl");
        let child = Command::new("syslog-ng")
            .arg("--foreground")
            .arg("--no-caps")
            .arg(format!("--cfgfile={}", config.display()))
            .arg(format!("--persist-file={}", dir.join("persist").display()))
            .arg(format!("--pidfile={}", dir.join("pid").display()))
            .arg(format!("--control={}", control.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("syslog-ng starts");
        // The control socket comes once the sources listen.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !control.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "syslog-ng did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, port, out }
    }

    /// The lines received once there are `n` of them (waiting up to 30 s).
    fn lines(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = fs::read_to_string(&self.out).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n || std::time::Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for SyslogNg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--logging syslog`: a command's steps and its result arrive at a real syslog-ng as RFC 5424
/// messages, one per record, the same records stdout has. `check-health` of an appliance that
/// is defined but not up makes them without a machine: each machine's first check fails.
#[test]
fn a_commands_steps_and_result_arrive_at_syslog_ng() {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = SyslogNg::start(dir.path());
    let state = dir.path().join("state");
    let address = format!("127.0.0.1:{}", receiver.port);
    let defined = appliance(
        &state,
        &[
            "define",
            "db",
            "--app",
            "postgresql",
            "--replicas",
            "1",
            "--logging",
            "syslog",
            "--syslog",
            &address,
        ],
    );
    assert_eq!(defined.code, 0, "{defined:?}");
    let out = appliance(&state, &["check-health", "db"]);
    assert_eq!(out.code, 1, "{out:?}");
    let steps = out.of_type("appliance_step");
    assert_eq!(steps.len(), 2, "one failed check per machine: {out:?}");
    // define's result, then check-health's two steps and its result.
    let lines = receiver.lines(4);
    assert_eq!(lines.len(), 4, "{lines:?}");
    // The password stays out of the log: the endpoints' URLs go without it.
    assert!(
        !lines.iter().any(|l| l.contains(
            defined.of_type("appliance")[0]["endpoints"]["primary"]
                .as_str()
                .and_then(|url| url.split(['@', ':']).nth(2))
                .expect("a password")
        )),
        "{lines:?}"
    );
    assert!(
        lines[0].starts_with("mc-appliance mc-appliance define  true {\"type\":\"appliance\""),
        "{lines:?}"
    );
    for (line, step) in lines[1..3].iter().zip(&steps) {
        let machine = step["machine"].as_str().expect("a machine");
        assert!(
            line.starts_with(&format!(
                "{machine} mc-appliance check-health service-up false {{"
            )),
            "{line}"
        );
        let message: Value = serde_json::from_str(line.splitn(6, ' ').nth(5).expect("a message"))
            .expect("the record's JSON");
        assert_eq!(&message, *step);
    }
    assert!(
        lines[3]
            .starts_with("mc-appliance mc-appliance check-health  false {\"type\":\"appliance\""),
        "{lines:?}"
    );
}

/// The slow appliance test, in the order of issue 12's list: a primary and a streaming replica
/// booted from the built image; rows written through the host endpoint, a backup, more rows,
/// health green; the primary's QEMU killed in the middle of a backup (which is then not
/// listed) and `fail-over --when-down` (the replica takes
/// writes, no committed row lost, the old primary rejoins with pg_rewind); a restore into a
/// fresh appliance holding exactly the backup's rows; an upgrade to bookworm-security's
/// PostgreSQL and a downgrade back to bookworm's with the rows intact; an upgrade whose health
/// check fails (a user catalogue's stricter check) rolled back by itself; `monitor --count 3`;
/// a backup altered by one byte refused; `cleanup` pruning backups past `--keep`; `down`
/// leaving no machine, socket or overlay. Prints the figures.
#[test]
#[ignore = "too slow for CI yet: one run on this 2-core machine under a load of 17 got through up, backup, check-health, the kill mid-backup and fail-over (its rejoin 16 min) and then waited too briefly for the rejoined replica; not yet a full green run"]
fn vm_slow_a_postgresql_primary_and_replica_back_up_fail_over_restore_upgrade_and_roll_back() {
    require("psql", "postgresql-client");
    postgresql_image();
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let backups = dir.path().join("backups");
    let defined = ok(
        &state,
        &["define", "db", "--app", "postgresql", "--replicas", "1"],
    );
    assert_eq!(defined["state"], "defined");
    let mut figures: Vec<String> = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let up = ok(&state, &["up", "db"]);
        assert_eq!(up["state"], "running");
        figures.push(format!(
            "up (2 machines, to replica streaming): {}",
            took(&up)
        ));
        let primary = up["endpoints"]["primary"]
            .as_str()
            .expect("a primary URL")
            .to_owned();
        let replica = up["endpoints"]["replica"]
            .as_str()
            .expect("a replica URL")
            .to_owned();
        psql(
            &primary,
            "create table t (n int primary key); insert into t select generate_series(1, 100)",
        );

        let to = backups.to_str().expect("UTF-8");
        let backup = ok(&state, &["backup", "db", "--to", to, "--keep", "2"]);
        figures.push(format!("backup: {}", took(&backup)));
        let file = backup["backup"].as_str().expect("a backup path").to_owned();
        assert!(Path::new(&file).is_file(), "{backup}");
        psql(&primary, "insert into t select generate_series(101, 150)");

        let health = ok(&state, &["check-health", "db"]);
        assert_eq!(health["verdict"], "healthy", "{health}");
        figures.push(format!("check-health: {}", took(&health)));
        // The replica streams: it has the rows.
        assert_eq!(replicated(&replica, "select count(*) from t", "150"), "150");

        // The primary dies in the middle of a backup: its QEMU killed outright once the dump
        // is made (its copy to the host, some MB through the guest agent, under way). The
        // backup fails and is not listed as complete: no manifest, nothing to restore.
        psql(
            &primary,
            "create table blob (b text); insert into blob select md5(random()::text) || md5(random()::text) from generate_series(1, 50000)",
        );
        let pid_file = state.join("db/vms/db-0/qemu.pid");
        let pid = fs::read_to_string(&pid_file).expect("the primary's pid");
        let mut killed_at = None;
        let cut = when_printed(
            &state,
            &["backup", "db", "--to", to],
            "\"step\":\"dump\"",
            || {
                killed_at = Some(std::time::Instant::now());
                let killed = Command::new("kill").args(["-KILL", pid.trim()]).status();
                assert!(killed.is_ok_and(|s| s.success()));
            },
        );
        let killed_at = killed_at.expect("killed");
        assert_eq!(cut.code, 1, "{cut:?}");
        assert!(result(&cut)["backup"].is_null(), "{cut:?}");
        let listed: Vec<_> = fs::read_dir(&backups)
            .expect("backups")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            listed.len(),
            2,
            "only the first backup and its manifest: {listed:?}"
        );
        let out = appliance(&state, &["fail-over", "db", "--when-down"]);
        let failed_over = result(&out);
        assert_eq!(out.code, 0, "{out:?}");
        let steps = out.of_type("appliance_step");
        assert!(
            steps
                .iter()
                .all(|s| s["ok"] == true || s["step"] == "primary-answers"),
            "{out:?}"
        );
        let new_primary = failed_over["endpoints"]["primary"]
            .as_str()
            .expect("URL")
            .to_owned();
        assert_eq!(
            new_primary, replica,
            "the primary endpoint moved to the old replica"
        );
        let promoted_ms: u64 = steps
            .iter()
            .filter(|s| {
                ["primary-answers", "promote", "accepts-writes"]
                    .contains(&s["step"].as_str().unwrap_or_default())
            })
            .map(|s| s["elapsed_ms"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(
            psql(&new_primary, "select count(*) from t"),
            "150",
            "no committed row lost"
        );
        psql(
            &new_primary,
            "insert into t values (151); drop table if exists blob",
        );
        figures.push(format!(
            "fail-over --when-down: {} in all (probe + promote: {:.1} s; kill to the row written on the new primary, rejoin included: {:.1} s)",
            took(&failed_over),
            promoted_ms as f64 / 1000.0,
            killed_at.elapsed().as_secs_f64()
        ));
        // The old primary rejoined as the replica and follows the new primary.
        assert_eq!(failed_over["endpoints"]["replica"], primary);
        assert_eq!(ok(&state, &["check-health", "db"])["verdict"], "healthy");
        assert_eq!(
            replicated(&primary, "select count(*) from t", "151"),
            "151",
            "the rejoined old primary replicates"
        );

        let restored = ok(&state, &["restore", "db", "--from", &file, "--into", "db2"]);
        figures.push(format!(
            "restore --into (boot included): {}",
            took(&restored)
        ));
        let restored_url = restored["endpoints"]["primary"]
            .as_str()
            .expect("URL")
            .to_owned();
        assert_eq!(
            psql(&restored_url, "select count(*), max(n) from t"),
            "100|100"
        );
        let down = ok(&state, &["down", "db2"]);
        assert_eq!(down["state"], "stopped");

        // A real minor upgrade (bookworm-security's newest) and back (bookworm's), rows kept.
        let rows = "select count(*), max(n) from t";
        let upgraded = ok(&state, &["upgrade", "db"]);
        figures.push(format!("upgrade: {}", took(&upgraded)));
        let version = upgraded["version"].as_str().expect("a version").to_owned();
        assert_ne!(version, "15.18-0+deb12u1", "{upgraded}");
        assert_eq!(upgraded["rolled_back"], false);
        let server = psql(&new_primary, "show server_version");
        assert!(server.contains(&version), "{server} is not {version}");
        assert_eq!(psql(&new_primary, rows), "151|151");
        let downgraded = ok(&state, &["downgrade", "db"]);
        figures.push(format!("downgrade: {}", took(&downgraded)));
        assert_eq!(downgraded["version"], "15.18-0+deb12u1", "{downgraded}");
        assert_eq!(
            psql(&new_primary, "show server_version"),
            "15.18 (Debian 15.18-0+deb12u1)"
        );
        assert_eq!(psql(&new_primary, rows), "151|151");

        // An upgrade whose health check fails (a user's catalogue allows nothing past 15.18)
        // rolls every machine back to its snapshot by itself.
        let catalog = dir.path().join("catalog");
        fs::create_dir_all(&catalog).expect("creates");
        let strict = format!(
            "{}\n[[phase.check-health]]\nstep = \"version-allowed\"\non = \"all\"\nrun = \"dpkg --compare-versions $(dpkg-query -W -f '${{Version}}' postgresql-15) le 15.18-0+deb12u1\"\n",
            include_str!("../mc-appliance/catalog/postgresql.toml")
        );
        fs::write(catalog.join("postgresql.toml"), strict).expect("writes");
        let out = appliance(
            &state,
            &[
                "--catalog",
                catalog.to_str().expect("UTF-8"),
                "upgrade",
                "db",
            ],
        );
        let rolled = result(&out);
        figures.push(format!("upgrade rolled back: {}", took(&rolled)));
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(rolled["rolled_back"], true, "{rolled}");
        assert_eq!(rolled["state"], "running", "{rolled}");
        assert_eq!(rolled["version"], "15.18-0+deb12u1", "{rolled}");
        assert!(
            out.of_type("appliance_step")
                .iter()
                .any(|s| s["step"] == "version-allowed" && s["ok"] == false),
            "{out:?}"
        );
        assert_eq!(
            psql(&new_primary, "show server_version"),
            "15.18 (Debian 15.18-0+deb12u1)"
        );
        assert_eq!(psql(&new_primary, rows), "151|151");
        assert_eq!(ok(&state, &["check-health", "db"])["verdict"], "healthy");

        // Three samples of every machine; the counters' rates from the second on.
        let out = appliance(
            &state,
            &["monitor", "db", "--interval", "1", "--count", "3"],
        );
        assert_eq!(out.code, 0, "{out:?}");
        figures.push(format!("monitor --count 3: {}", took(&result(&out))));
        let metrics = out.of_type("appliance_metrics");
        assert_eq!(metrics.len(), 6, "{out:?}");
        assert!(out.of_type("appliance_alert").is_empty(), "{out:?}");
        for sample in &metrics {
            for metric in [
                "connections",
                "lag_bytes",
                "transactions_total",
                "disk_used_percent",
            ] {
                assert!(sample[metric].is_number(), "{metric}: {sample}");
            }
        }
        assert!(
            metrics[2..]
                .iter()
                .all(|m| m["transactions_per_s"].is_number()),
            "{out:?}"
        );

        // One byte changed: restore refuses before it starts anything.
        let mut bytes = fs::read(&file).expect("backup");
        bytes[10] ^= 1;
        fs::write(&file, bytes).expect("writes");
        let refused = appliance(&state, &["restore", "db", "--from", &file, "--into", "db3"]);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(refused.stderr.contains("altered"), "{refused:?}");
        assert!(!state.join("db3").exists());

        // A second backup; cleanup keeps only it.
        let second = ok(&state, &["backup", "db", "--to", to]);
        let second = second["backup"].as_str().expect("a backup path").to_owned();
        let cleaned = ok(&state, &["cleanup", "db", "--backups", to, "--keep", "1"]);
        figures.push(format!("cleanup: {}", took(&cleaned)));
        assert!(!Path::new(&file).exists() && Path::new(&second).is_file());
    }));
    let down = appliance(&state, &["down", "db"]);
    // A failure between the restore and its own `down` would leave db2 running.
    if state.join("db2/vms").exists() {
        appliance(&state, &["down", "db2"]);
    }
    eprintln!("figures:\n  {}", figures.join("\n  "));
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(down.code, 0, "{down:?}");
    assert!(!state.join("db/vms").exists() && !state.join("db/disks").exists());
    let leftover = Command::new("pgrep")
        .args(["-f", state.to_str().expect("UTF-8")])
        .output()
        .expect("pgrep");
    assert!(
        leftover.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
}
