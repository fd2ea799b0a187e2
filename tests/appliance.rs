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
    let help = Command::new(bin("mc-appliance"))
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("postgresql: ") && help.contains("check-health, backup, restore, fail-over"),
        "{help}"
    );
}

/// The slow appliance test: a primary and a streaming replica booted from the built image;
/// rows written through the host endpoint, a backup, more rows, health green, a fail-over (the
/// replica takes writes, no committed row lost, the old primary rejoins), a restore into a
/// fresh appliance holding exactly the backup's rows, a backup altered by one byte refused, and
/// `down` leaving no machine, socket or overlay.
#[test]
fn vm_slow_a_postgresql_primary_and_replica_back_up_fail_over_and_restore() {
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
    let result = std::panic::catch_unwind(|| {
        let up = ok(&state, &["up", "db"]);
        assert_eq!(up["state"], "running");
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

        let backup = ok(
            &state,
            &[
                "backup",
                "db",
                "--to",
                backups.to_str().expect("UTF-8"),
                "--keep",
                "2",
            ],
        );
        let file = backup["backup"].as_str().expect("a backup path").to_owned();
        assert!(Path::new(&file).is_file(), "{backup}");
        psql(&primary, "insert into t select generate_series(101, 150)");

        let health = ok(&state, &["check-health", "db"]);
        assert_eq!(health["verdict"], "healthy", "{health}");
        // The replica streams: it has the rows, and refuses writes.
        let mut seen = String::new();
        for _ in 0..30 {
            seen = psql(&replica, "select count(*) from t");
            if seen == "150" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        assert_eq!(seen, "150");

        let failed_over = ok(&state, &["fail-over", "db"]);
        let new_primary = failed_over["endpoints"]["primary"]
            .as_str()
            .expect("URL")
            .to_owned();
        assert_eq!(
            new_primary, replica,
            "the primary endpoint moved to the old replica"
        );
        assert_eq!(
            psql(&new_primary, "select count(*) from t"),
            "150",
            "no committed row lost"
        );
        psql(&new_primary, "insert into t values (151)");
        assert_eq!(ok(&state, &["check-health", "db"])["verdict"], "healthy");

        let restored = ok(&state, &["restore", "db", "--from", &file, "--into", "db2"]);
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

        // One byte changed: restore refuses before it starts anything.
        let mut bytes = fs::read(&file).expect("backup");
        bytes[10] ^= 1;
        fs::write(&file, bytes).expect("writes");
        let refused = appliance(&state, &["restore", "db", "--from", &file, "--into", "db3"]);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(refused.stderr.contains("altered"), "{refused:?}");
        assert!(!state.join("db3").exists());
    });
    let down = appliance(&state, &["down", "db"]);
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
