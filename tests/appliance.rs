//! mc-appliance against real PostgreSQL 15 in machines booted under TCG from the image of
//! `mc-vm/recipes/debian-postgresql.toml` (built once into `target/vm-image`, shared with
//! tests/vm.rs), with the host's `psql` as the client.

use std::{fs, path::Path, process::Command};

use pipeline_tests::{Run, bin, postgresql_image, require, run, workspace};
use serde_json::Value;

/// mc-appliance with its own state folder, the shared image folder and TCG.
fn appliance(state: &Path, args: &[&str]) -> Run {
    let images = workspace().join("target/vm-image");
    let mut all = vec![
        "--state",
        state.to_str().expect("UTF-8"),
        "--images",
        images.to_str().expect("UTF-8"),
        "--accel",
        "tcg",
    ];
    all.extend_from_slice(args);
    run(&bin("mc-appliance"), &all, "")
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

/// The slow appliance test, in the order of issue 12's list: a primary and a streaming replica
/// booted from the built image; rows written through the host endpoint, a backup, more rows,
/// health green; the primary's QEMU killed and `fail-over --when-down` (the replica takes
/// writes, no committed row lost, the old primary rejoins with pg_rewind); a restore into a
/// fresh appliance holding exactly the backup's rows; an upgrade to bookworm-security's
/// PostgreSQL and a downgrade back to bookworm's with the rows intact; an upgrade whose health
/// check fails (a user catalogue's stricter check) rolled back by itself; `monitor --count 3`;
/// a backup altered by one byte refused; `cleanup` pruning backups past `--keep`; `down`
/// leaving no machine, socket or overlay. Prints the figures.
#[test]
#[ignore = "not yet green end to end: one run under load passed up to the upgrade (45 min); downgrade, the rollback, monitor and cleanup have not run in a VM yet"]
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
        let mut seen = String::new();
        for _ in 0..30 {
            seen = psql(&replica, "select count(*) from t");
            if seen == "150" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        assert_eq!(seen, "150");

        // The primary dies: its QEMU killed outright.
        let pid_file = state.join("db/vms/db-0/qemu.pid");
        let pid = fs::read_to_string(&pid_file).expect("the primary's pid");
        let killed_at = std::time::Instant::now();
        let killed = Command::new("kill").args(["-KILL", pid.trim()]).status();
        assert!(killed.is_ok_and(|s| s.success()));
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
        psql(&new_primary, "insert into t values (151)");
        figures.push(format!(
            "fail-over --when-down: {} in all (probe + promote: {:.1} s; kill to the row written on the new primary, rejoin included: {:.1} s)",
            took(&failed_over),
            promoted_ms as f64 / 1000.0,
            killed_at.elapsed().as_secs_f64()
        ));
        // The old primary rejoined as the replica and follows the new primary.
        assert_eq!(failed_over["endpoints"]["replica"], primary);
        assert_eq!(ok(&state, &["check-health", "db"])["verdict"], "healthy");
        let mut seen = String::new();
        for _ in 0..30 {
            seen = psql(&primary, "select count(*) from t");
            if seen == "151" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        assert_eq!(seen, "151", "the rejoined old primary replicates");

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
