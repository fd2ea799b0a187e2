//! mc-vm against the real QEMU 7.2: definitions, and a real guest booted under TCG.
//!
//! The guest is built by the test from Debian packages (`xtask::guest`: the `linux-image-amd64`
//! kernel unpacked with `dpkg -x`, a busybox initramfs with `qemu-ga`), into
//! `target/vm-guest`, where the kernel package stays cached between runs. The boot test takes
//! 15–30 s under TCG, so there is one: it covers up, status, exec and down in one boot.

use std::{fs, path::Path};

use pipeline_tests::{Run, bin, require, run, workspace};
use serde_json::Value;

fn vm(state: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state", state.to_str().expect("UTF-8 temp path")];
    all.extend_from_slice(args);
    run(&bin("mc-vm"), &all, "")
}

/// The one `vm` record of a successful run.
fn vm_ok(state: &Path, args: &[&str]) -> Value {
    let out = vm(state, args);
    assert_eq!(out.code, 0, "mc-vm {args:?}: {out:?}");
    let records = out.of_type("vm");
    assert_eq!(records.len(), 1, "{out:?}");
    records[0].clone()
}

#[test]
fn define_list_and_show_write_and_read_the_definition() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let kernel = dir.path().join("vmlinuz");
    let disk = dir.path().join("data.img");
    fs::write(&kernel, b"not booted here").expect("writes");
    fs::write(&disk, b"").expect("writes");
    let kernel = kernel.to_str().expect("UTF-8");
    let disk = disk.to_str().expect("UTF-8");

    let defined = vm_ok(
        &state,
        &[
            "define", "web", "--memory", "300", "--cpus", "2", "--kernel", kernel,
        ],
    );
    vm_ok(
        &state,
        &["define", "db", "--disk", disk, "--disk", disk, "--agent"],
    );
    assert_eq!(defined["action"], "define");
    assert_eq!(defined["state"], "stopped");
    assert_eq!(defined["memory_mib"], 300);
    assert_eq!(defined["cpus"], 2);
    assert_eq!(defined["kernel"], kernel);
    assert_eq!(defined["agent"], false);
    assert!(defined["pid"].is_null() && defined["exit_code"].is_null());

    let toml = fs::read_to_string(state.join("web/machine.toml")).expect("definition written");
    assert!(toml.contains("memory_mib = 300"), "{toml}");

    let listed = vm(&state, &["list"]);
    let names: Vec<&Value> = listed.of_type("vm").iter().map(|r| &r["name"]).collect();
    assert_eq!(names, ["db", "web"]);

    let shown = vm_ok(&state, &["show", "db"]);
    assert_eq!(shown["action"], "show");
    assert_eq!(shown["disks"], serde_json::json!([disk, disk]));
    assert_eq!(shown["agent"], true);
    assert_eq!(shown["memory_mib"], 512);
}

#[test]
fn a_missing_file_or_machine_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let missing = dir.path().join("missing.qcow2");
    let out = vm(
        &state,
        &["define", "x", "--disk", missing.to_str().expect("UTF-8")],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("disk") && out.stderr.contains("does not exist"),
        "{out:?}"
    );
    assert!(!state.join("x/machine.toml").exists());

    let out = vm(&state, &["show", "nosuch"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no machine nosuch"), "{out:?}");
    let out = vm(&state, &["define", "../escape"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("bad machine name"), "{out:?}");
}

#[test]
fn a_debian_guest_boots_under_tcg_runs_a_command_and_stops_cleanly() {
    require("qemu-system-x86_64", "qemu-system-x86");
    require("qemu-ga", "qemu-guest-agent");
    require("busybox", "busybox-static");
    let guest = xtask::guest::build(&workspace().join("target/vm-guest")).expect("guest builds");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    vm_ok(
        &state,
        &[
            "define",
            "guest",
            "--memory",
            "256",
            "--kernel",
            guest.kernel.to_str().expect("UTF-8"),
            "--initrd",
            guest.initrd.to_str().expect("UTF-8"),
            "--append",
            "console=ttyS0",
            "--agent",
        ],
    );

    let up = vm_ok(
        &state,
        &["up", "guest", "--wait", "agent", "--timeout", "90"],
    );
    let pid = up["pid"].as_u64().expect("a running machine has a pid");
    eprintln!(
        "up: accel {}, agent ready after {} ms, up took {} ms",
        up["accel"], up["agent_ready_ms"], up["elapsed_ms"]
    );
    assert_eq!(up["state"], "running");
    assert!(up["agent_ready_ms"].is_u64(), "{up}");
    assert!(state.join("guest/qmp.sock").exists());

    let again = vm(&state, &["up", "guest"]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("already running"), "{again:?}");

    let status = vm_ok(&state, &["status", "guest"]);
    assert_eq!(status["state"], "running");
    assert_eq!(
        status["qemu_version"].as_str().map(|v| v.starts_with("7.")),
        Some(true),
        "{status}"
    );

    let uname = vm_ok(&state, &["exec", "guest", "--", "uname", "-r"]);
    assert_eq!(uname["exit_code"], 0);
    assert_eq!(uname["stdout"], format!("{}\n", guest.release));
    let failing = vm(
        &state,
        &["exec", "guest", "--", "sh", "-c", "echo oops >&2; exit 3"],
    );
    assert_eq!(failing.code, 1, "{failing:?}");
    assert_eq!(failing.of_type("vm")[0]["exit_code"], 3);
    assert_eq!(failing.of_type("vm")[0]["stderr"], "oops\n");

    // The test guest's /init does not handle the ACPI button: down falls back to `quit`.
    let down = vm_ok(&state, &["down", "guest", "--timeout", "1"]);
    assert_eq!(down["state"], "stopped");
    assert!(down["pid"].is_null());
    // Gone, or a zombie nobody reaps: a daemonized QEMU is the orphan of whatever runs us.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "QEMU {pid} still runs: {stat}"
    );
    for leftover in ["qmp.sock", "agent.sock", "qemu.pid"] {
        assert!(
            !state.join("guest").join(leftover).exists(),
            "{leftover} left behind"
        );
    }
    let console = fs::read_to_string(state.join("guest/console.log")).expect("console logged");
    assert!(console.contains("init: qemu-ga on /dev/vport"), "{console}");
}

#[test]
fn a_killed_qemu_a_silent_agent_or_a_vanished_disk_leave_nothing_behind() {
    require("qemu-system-x86_64", "qemu-system-x86");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let disk = dir.path().join("data.img");
    fs::write(&disk, vec![0; 1 << 20]).expect("writes");
    // No kernel: QEMU runs SeaBIOS, which finds nothing to boot and idles; enough for QMP.
    vm_ok(&state, &["define", "bare", "--memory", "64", "--agent"]);
    vm_ok(
        &state,
        &["define", "disky", "--disk", disk.to_str().expect("UTF-8")],
    );

    fs::remove_file(&disk).expect("removes");
    let out = vm(&state, &["up", "disky", "--accel", "tcg"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    assert!(!state.join("disky/qemu.pid").exists());

    // Nothing in this guest answers the agent: `up --wait agent` gives up and stops QEMU.
    let out = vm(
        &state,
        &[
            "up",
            "bare",
            "--accel",
            "tcg",
            "--wait",
            "agent",
            "--timeout",
            "2",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("did not answer within 2 s"), "{out:?}");
    assert!(!state.join("bare/qemu.pid").exists() && !state.join("bare/qmp.sock").exists());

    let up = vm_ok(&state, &["up", "bare", "--accel", "tcg"]);
    let out = vm(&state, &["exec", "bare", "--timeout", "1", "--", "true"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("did not answer within 1 s"), "{out:?}");
    assert_eq!(up["accel"], "tcg");
    let pid = up["pid"].as_u64().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    assert!(killed.is_ok_and(|status| status.success()));
    std::thread::sleep(std::time::Duration::from_millis(300));

    assert_eq!(vm_ok(&state, &["status", "bare"])["state"], "stopped");
    let out = vm(&state, &["exec", "bare", "--", "true"]);
    assert_eq!(out.code, 2, "{out:?}");
    let down = vm_ok(&state, &["down", "bare"]);
    assert_eq!(down["state"], "stopped");
    for leftover in ["qmp.sock", "qemu.pid", "accel"] {
        assert!(
            !state.join("bare").join(leftover).exists(),
            "{leftover} left behind"
        );
    }
}
