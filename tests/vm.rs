//! mc-vm against the real QEMU 7.2: definitions, and a real guest booted under TCG.
//!
//! The guest is built by the test from Debian packages (`xtask::guest`: the `linux-image-amd64`
//! kernel unpacked with `dpkg -x`, a busybox initramfs with `qemu-ga`), into
//! `target/vm-guest`, where the kernel package stays cached between runs. A boot takes 10–30 s
//! under TCG, so the slow tests, named `vm_slow_*`, boot three times in all: one boot for
//! everything on a running machine, two for `try`.

use std::{
    fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Command, Stdio},
};

use pipeline_tests::{Run, bin, postgresql_image, require, run, workspace};
use serde_json::Value;

fn vm(state: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state", state.to_str().expect("UTF-8 temp path")];
    all.extend_from_slice(args);
    run(&bin("mc-vm"), &all, "")
}

/// The one record (`vm`, `vm_snapshot`) of a successful run, before its summary.
fn vm_ok(state: &Path, args: &[&str]) -> Value {
    let out = vm(state, args);
    assert_eq!(out.code, 0, "mc-vm {args:?}: {out:?}");
    assert_eq!(out.records.len(), 2, "{out:?}");
    assert_eq!(out.records[1]["type"], "summary", "{out:?}");
    out.records[0].clone()
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

    // A definition that does not parse is an error record; the others are still listed.
    fs::create_dir_all(state.join("broken")).expect("creates");
    fs::write(state.join("broken/machine.toml"), "memory_mib = 'lots'\n").expect("writes");
    let listed = vm(&state, &["list"]);
    assert_eq!(listed.code, 1, "{listed:?}");
    assert_eq!(listed.of_type("vm").len(), 2, "{listed:?}");
    let error = listed.of_type("error")[0];
    assert_eq!(
        (error["kind"].clone(), error["subject"]["machine"].clone()),
        ("bad_definition".into(), "broken".into()),
        "{error}"
    );

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

    // Snapshots need qcow2 disks; `try` needs an agent and every disk; both say so.
    let raw = dir.path().join("raw.img");
    fs::write(&raw, vec![0; 4096]).expect("writes");
    let raw = raw.to_str().expect("UTF-8");
    vm_ok(&state, &["define", "plain", "--disk", raw, "--agent"]);
    vm_ok(&state, &["define", "diskless"]);
    for (name, says) in [("plain", "raw.img is raw"), ("diskless", "it has no disk")] {
        let out = vm(&state, &["snapshot", "create", name, "s"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(says), "{out:?}");
    }
    let out = vm(&state, &["snapshot", "create", "plain", "1st"]);
    assert!(out.stderr.contains("bad snapshot name"), "{out:?}");
    let out = vm(&state, &["try", "diskless", "--run", "true"]);
    assert!(out.stderr.contains("has no guest agent"), "{out:?}");
    fs::remove_file(raw).expect("removes");
    let out = vm(&state, &["try", "plain", "--run", "true"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    assert!(!state.join("plain/try").exists());
}

/// Stops machine `name` when dropped, so a failing test leaves no QEMU behind.
struct DownOnDrop<'a>(&'a Path, &'a str);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        // After a passing test the machine is stopped already, and this finds nothing to do.
        let _ = Command::new(bin("mc-vm"))
            .args([
                "--state",
                self.0.to_str().unwrap_or_default(),
                "down",
                self.1,
            ])
            .args(["--timeout", "0"])
            .output();
    }
}

/// Fails unless `record` has exactly the fields mc-records(7) lists for it.
fn assert_fields(record: &Value, fields: &[&str]) {
    let mut keys: Vec<&str> = record
        .as_object()
        .expect("a record is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut fields = fields.to_vec();
    keys.sort_unstable();
    fields.sort_unstable();
    assert_eq!(keys, fields, "{record}");
}

/// The test guest, built once per run into `target/vm-guest` (the kernel package is cached).
fn guest() -> xtask::guest::Guest {
    require("qemu-system-x86_64", "qemu-system-x86");
    require("qemu-img", "qemu-utils");
    require("qemu-ga", "qemu-guest-agent");
    require("busybox", "busybox-static");
    xtask::guest::build(&workspace().join("target/vm-guest")).expect("guest builds")
}

/// A new qcow2 data disk of 64 MiB.
fn qcow2(path: &Path) {
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(path)
        .arg("64M")
        .status();
    assert!(made.is_ok_and(|s| s.success()), "qemu-img create {path:?}");
}

/// Defines machine `name` booting the test guest with `extra` options.
fn define_guest(state: &Path, guest: &xtask::guest::Guest, name: &str, extra: &[&str]) {
    let mut args = vec![
        "define",
        name,
        "--memory",
        "256",
        "--kernel",
        guest.kernel.to_str().expect("UTF-8"),
        "--initrd",
        guest.initrd.to_str().expect("UTF-8"),
        "--append",
        "console=ttyS0",
        "--agent",
    ];
    args.extend_from_slice(extra);
    vm_ok(state, &args);
}

/// A guest shell command writing `text` as the first line of sector 2048 of the data disk
/// (raw bytes: no filesystem needed to prove what snapshots and `try` keep).
fn write_sector(text: &str) -> String {
    format!("echo {text} | dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null")
}

/// The guest shell command printing that line.
const READ_SECTOR: &str = "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -n 1";

/// The first line of sector 2048 of the image at `disk`, read on the host.
fn sector_on_host(disk: &Path, scratch: &Path) -> String {
    let raw = scratch.join("disk.raw");
    let converted = Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(disk)
        .arg(&raw)
        .status();
    assert!(converted.is_ok_and(|s| s.success()));
    let bytes = fs::read(&raw).expect("raw image");
    let sector = &bytes[2048 * 512..2049 * 512];
    let line = sector.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).into_owned()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The slow VM test of a running machine: one TCG boot (15–30 s) covers up, status, exec,
/// a live snapshot and its revert on a qcow2 data disk, push and pull, the serial console, a
/// port forward, and down.
#[test]
fn vm_slow_a_debian_guest_boots_snapshots_reverts_copies_files_and_stops_cleanly() {
    let guest = guest();
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let data = dir.path().join("data.qcow2");
    qcow2(&data);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let forward = format!("{port}:80");
    define_guest(
        &state,
        &guest,
        "guest",
        &[
            "--disk",
            data.to_str().expect("UTF-8"),
            "--forward",
            &forward,
        ],
    );
    let _down = DownOnDrop(&state, "guest");

    let up = vm_ok(
        &state,
        &["up", "guest", "--wait", "agent", "--timeout", "120"],
    );
    let pid = up["pid"].as_u64().expect("a running machine has a pid");
    eprintln!(
        "up: accel {}, agent ready after {} ms, up took {} ms",
        up["accel"], up["agent_ready_ms"], up["elapsed_ms"]
    );
    assert_eq!(up["state"], "running");
    assert!(up["agent_ready_ms"].is_u64(), "{up}");
    assert_eq!(
        up["forwards"],
        serde_json::json!([format!("tcp:{port}:80")])
    );
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

    // Snapshot, change, revert: the first content is back.
    let sh = |command: &str| {
        let out = vm_ok(&state, &["exec", "guest", "--", "sh", "-c", command]);
        assert_eq!(out["exit_code"], 0, "{out}");
        out["stdout"].as_str().unwrap_or_default().to_owned()
    };
    sh(&write_sector("first"));
    let created = vm_ok(&state, &["snapshot", "create", "guest", "before"]);
    assert_fields(
        &created,
        &[
            "type",
            "machine",
            "snapshot",
            "action",
            "live",
            "vm_state_bytes",
            "created_at",
            "disks",
            "elapsed_ms",
        ],
    );
    assert_eq!(created["live"], true, "{created}");
    assert!(created["vm_state_bytes"].as_u64() > Some(0), "{created}");
    let taken = vm(&state, &["snapshot", "create", "guest", "before"]);
    assert_eq!(taken.code, 2, "{taken:?}");
    assert!(
        taken.stderr.contains("already has a snapshot before"),
        "{taken:?}"
    );
    sh(&write_sector("second"));
    assert_eq!(sh(READ_SECTOR), "second\n");
    let reverted = vm_ok(&state, &["snapshot", "revert", "guest", "before"]);
    assert_eq!(reverted["action"], "revert");
    assert_eq!(sh(READ_SECTOR), "first\n");
    let listed = vm(&state, &["snapshot", "list", "guest"]);
    let names: Vec<&Value> = listed
        .of_type("vm_snapshot")
        .iter()
        .map(|r| &r["snapshot"])
        .collect();
    assert_eq!(names, ["before"]);
    vm_ok(&state, &["snapshot", "delete", "guest", "before"]);
    assert!(
        vm(&state, &["snapshot", "list", "guest"])
            .of_type("vm_snapshot")
            .is_empty()
    );
    let gone = vm(&state, &["snapshot", "revert", "guest", "before"]);
    assert_eq!(gone.code, 2, "{gone:?}");
    assert!(gone.stderr.contains("has no snapshot before"), "{gone:?}");

    // Push and pull through the agent: more than one chunk, every byte value.
    let blob: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let local = dir.path().join("blob");
    let back = dir.path().join("back");
    fs::write(&local, &blob).expect("writes");
    let pushed = vm_ok(
        &state,
        &["push", "guest", local.to_str().expect("UTF-8"), "/tmp/blob"],
    );
    assert_eq!(pushed["size_bytes"], 600_000);
    assert_eq!(sh("wc -c < /tmp/blob").trim(), "600000");
    let pulled = vm_ok(
        &state,
        &["pull", "guest", "/tmp/blob", back.to_str().expect("UTF-8")],
    );
    assert_eq!(pulled["guest_path"], "/tmp/blob");
    assert!(
        fs::read(&back).expect("pulled") == blob,
        "pulled bytes differ"
    );
    let missing = vm(
        &state,
        &[
            "pull",
            "guest",
            "/nonexistent",
            back.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(missing.code, 2, "{missing:?}");

    // The serial console answers (the guest runs a shell on ttyS0).
    let mut console = Command::new(bin("mc-vm"))
        .args(["--state", state.to_str().expect("UTF-8")])
        .args(["console", "guest", "--until", "42", "--timeout", "60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mc-vm console starts");
    console
        .stdin
        .take()
        .expect("piped")
        .write_all(b"echo $((6*7))\n")
        .expect("writes");
    let answer = console.wait_with_output().expect("console finishes");
    assert!(answer.status.success(), "{answer:?}");
    assert!(
        String::from_utf8_lossy(&answer.stdout).contains("42"),
        "{answer:?}"
    );

    // On a terminal (script(1) gives it one) the console is interactive, and Ctrl-] leaves.
    let mut session = console_on_a_terminal(&state, "guest");
    let mut keys = session.stdin.take().expect("piped");
    let mut screen = session.stdout.take().expect("piped");
    let (seen, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0; 1024];
        while let Ok(read @ 1..) = screen.read(&mut buf) {
            let _ = seen.send(String::from_utf8_lossy(&buf[..read]).into_owned());
        }
    });
    keys.write_all(b"echo $((7*6))x\n").expect("types");
    let mut text = String::new();
    while !text.contains("42x") {
        match lines.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(more) => text.push_str(&more),
            Err(error) => panic!("no answer on the interactive console ({error}): {text:?}"),
        }
    }
    keys.write_all(&[0x1d]).expect("types Ctrl-]");
    let left = exits_within_30_s(&mut session, "Ctrl-] did not leave the console");
    assert!(left.success(), "{left:?}");

    // The port forward reaches a server in the guest.
    sh("mkdir -p /www && echo hello > /www/index.html && httpd -p 80 -h /www");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects to the forward");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    stream
        .write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
        .expect("asks");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.ends_with("hello\n"), "{reply}");

    let busy = vm(&state, &["try", "guest", "--run", "true"]);
    assert_eq!(busy.code, 2, "{busy:?}");
    assert!(busy.stderr.contains("is running"), "{busy:?}");

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
    for leftover in ["qmp.sock", "agent.sock", "console.sock", "qemu.pid"] {
        assert!(
            !state.join("guest").join(leftover).exists(),
            "{leftover} left behind"
        );
    }
    let console = fs::read_to_string(state.join("guest/console.log")).expect("console logged");
    let log = Command::new(bin("mc-vm"))
        .args([
            "--state",
            state.to_str().expect("UTF-8"),
            "console",
            "guest",
            "--log",
        ])
        .output()
        .expect("console --log runs");
    assert_eq!(String::from_utf8_lossy(&log.stdout), console);
    assert!(console.contains("init: qemu-ga on /dev/vport"), "{console}");

    // Stopped: snapshots of the disks alone, through qemu-img.
    let offline = vm_ok(&state, &["snapshot", "create", "guest", "cold"]);
    assert_eq!(
        (offline["live"].clone(), offline["vm_state_bytes"].clone()),
        (false.into(), 0.into())
    );
    vm_ok(&state, &["snapshot", "delete", "guest", "cold"]);
}

/// The slow VM test of `try`: two TCG boots of throwaway copies. A failing check leaves the
/// machine's disk byte-identical; passing checks with `--keep` commit the change into it.
#[test]
fn vm_slow_try_throws_a_failed_copy_away_and_keeps_a_passing_one() {
    let guest = guest();
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let data = dir.path().join("data.qcow2");
    qcow2(&data);
    define_guest(
        &state,
        &guest,
        "box",
        &["--disk", data.to_str().expect("UTF-8")],
    );
    let _down = DownOnDrop(&state, "box");
    let before = sha256(&data);

    let write = write_sector("upgraded");
    let check = format!("{READ_SECTOR} | grep upgraded");
    let failed = vm(
        &state,
        &[
            "try",
            "box",
            "--run",
            &write,
            "--check",
            &check,
            "--check",
            "echo broken >&2; exit 4",
            "--check",
            "sleep 600",
            "--check",
            "echo never runs",
            "--timeout",
            "120",
            "--step-timeout",
            "15",
        ],
    );
    assert_eq!(failed.code, 1, "{failed:?}");
    let verdict = failed.of_type("vm_try")[0];
    assert_eq!(verdict["verdict"], "failed", "{verdict}");
    assert_eq!(verdict["kept"], false);
    let steps = verdict["steps"].as_array().expect("steps");
    assert_fields(
        verdict,
        &[
            "type",
            "machine",
            "verdict",
            "kept",
            "agent_ready_ms",
            "steps",
            "elapsed_ms",
        ],
    );
    assert_fields(
        &steps[0],
        &[
            "step",
            "command",
            "exit_code",
            "stdout",
            "stderr",
            "error",
            "elapsed_ms",
        ],
    );
    // Every check runs after one fails; none after one that did not finish.
    assert_eq!(steps.len(), 4, "{verdict}");
    assert_eq!(
        (steps[0]["step"].clone(), steps[0]["exit_code"].clone()),
        ("run".into(), 0.into())
    );
    assert_eq!(steps[1]["stdout"], "upgraded\n");
    assert_eq!(
        (steps[2]["exit_code"].clone(), steps[2]["stderr"].clone()),
        (4.into(), "broken\n".into())
    );
    assert!(steps[3]["exit_code"].is_null(), "{verdict}");
    assert!(
        steps[3]["error"]
            .as_str()
            .is_some_and(|e| e.contains("did not finish within 15 s")),
        "{verdict}"
    );
    assert_eq!(
        sha256(&data),
        before,
        "a failed try wrote the machine's disk"
    );
    assert!(!state.join("box/try").exists(), "the copy was left behind");

    let kept = vm(
        &state,
        &[
            "try",
            "box",
            "--keep",
            "--run",
            &write,
            "--check",
            &check,
            "--timeout",
            "120",
        ],
    );
    assert_eq!(kept.code, 0, "{kept:?}");
    let verdict = kept.of_type("vm_try")[0];
    assert_eq!(
        (verdict["verdict"].clone(), verdict["kept"].clone()),
        ("passed".into(), true.into()),
        "{verdict}"
    );
    assert!(verdict["agent_ready_ms"].is_u64());
    assert_eq!(sector_on_host(&data, dir.path()), "upgraded");
    assert!(!state.join("box/try").exists(), "the copy was left behind");
    assert_eq!(vm_ok(&state, &["status", "box"])["state"], "stopped");

    // QEMU killed under a running step: a failed verdict saying so, soon, and nothing left.
    let promoted = sha256(&data);
    let slow = Command::new(bin("mc-vm"))
        .args(["--state", state.to_str().expect("UTF-8"), "try", "box"])
        .args(["--run", "echo step-started > /dev/ttyS0; sleep 600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mc-vm try starts");
    let console = state.join("box/try/console.log");
    let started = std::time::Instant::now();
    while !fs::read_to_string(&console).is_ok_and(|log| log.contains("step-started")) {
        assert!(started.elapsed().as_secs() < 120, "the step never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pid = fs::read_to_string(state.join("box/try/qemu.pid")).expect("the copy's pid");
    let killed = Command::new("kill").args(["-KILL", pid.trim()]).status();
    assert!(killed.is_ok_and(|status| status.success()));
    let out = pipeline_tests::parse_output(&slow.wait_with_output().expect("try finishes"));
    assert_eq!(out.code, 1, "{out:?}");
    let step = &out.of_type("vm_try")[0]["steps"][0];
    assert!(step["exit_code"].is_null(), "{step}");
    assert!(
        step["error"]
            .as_str()
            .is_some_and(|e| e.contains("connection closed")),
        "{step}"
    );
    assert!(
        !state.join("box/try").exists(),
        "the killed copy was left behind"
    );
    assert_eq!(sha256(&data), promoted);
}

#[test]
fn a_killed_qemu_a_silent_agent_a_vanished_disk_or_a_taken_port_leave_nothing_behind() {
    require("qemu-system-x86_64", "qemu-system-x86");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let disk = dir.path().join("data.img");
    fs::write(&disk, vec![0; 1 << 20]).expect("writes");
    // No kernel: QEMU runs SeaBIOS, which finds nothing to boot and idles; enough for QMP.
    vm_ok(&state, &["define", "bare", "--memory", "64", "--agent"]);
    let _down = DownOnDrop(&state, "bare");
    vm_ok(
        &state,
        &["define", "disky", "--disk", disk.to_str().expect("UTF-8")],
    );

    fs::remove_file(&disk).expect("removes");
    let out = vm(&state, &["up", "disky", "--accel", "tcg"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    assert!(!state.join("disky/qemu.pid").exists());

    // A forward to a host port someone else holds: QEMU refuses, and nothing is left.
    let taken = TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = taken.local_addr().expect("address").port();
    let forward = format!("{port}:22");
    vm_ok(
        &state,
        &["define", "clash", "--memory", "64", "--forward", &forward],
    );
    let out = vm(&state, &["up", "clash", "--accel", "tcg"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("QEMU did not start clash") && out.stderr.contains("forward"),
        "{out:?}"
    );
    for leftover in ["qemu.pid", "qmp.sock", "console.sock", "accel"] {
        assert!(
            !state.join("clash").join(leftover).exists(),
            "{leftover} left behind"
        );
    }
    drop(taken);

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
    // An interactive console (on script(1)'s terminal) leaves by itself when QEMU goes.
    let mut session = console_on_a_terminal(&state, "bare");
    let mut screen = session.stdout.take().expect("piped");
    let mut text = Vec::new();
    let mut buf = [0; 256];
    while !String::from_utf8_lossy(&text).contains("Ctrl-] leaves") {
        let read = screen.read(&mut buf).expect("reads the session");
        assert!(
            read > 0,
            "the console session ended: {:?}",
            String::from_utf8_lossy(&text)
        );
        text.extend_from_slice(&buf[..read]);
    }
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    assert!(killed.is_ok_and(|status| status.success()));
    let left = exits_within_30_s(&mut session, "the console stayed after QEMU went");
    let _ = screen.read_to_end(&mut text);
    assert!(left.success(), "{left:?}");
    assert!(
        String::from_utf8_lossy(&text).contains("the console closed"),
        "{text:?}"
    );

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

/// `mc-vm console NAME` on a terminal: script(1) (util-linux) gives it one.
fn console_on_a_terminal(state: &Path, name: &str) -> std::process::Child {
    Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} --state {} console {name}",
                bin("mc-vm").display(),
                state.display()
            ),
        ])
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1) runs (util-linux)")
}

/// How `child` ended, which must be within 30 s; else the test fails with `what`.
fn exits_within_30_s(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            return status;
        }
        assert!(started.elapsed().as_secs() < 30, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A qcow2 overlay over `base` at `path`: machines write there, the built image stays as built.
fn overlay(base: &str, path: &Path) -> String {
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base])
        .arg(path)
        .status();
    assert!(made.is_ok_and(|s| s.success()), "qemu-img create -b {base}");
    path.to_str().expect("UTF-8").to_owned()
}

/// The slow image and network test: `mc-vm image build` makes the PostgreSQL image from its
/// recipe (about 4 min the first time; the second build finds it cached), and two machines
/// booted from it at once under TCG (70-90 s) show what the recipe asked for (systemd running,
/// the guest agent, the pinned PostgreSQL serving from the data disk, the recipe's files and
/// users) and reach each other on a private network at their fixed addresses.
#[test]
fn vm_slow_an_image_from_a_recipe_boots_two_machines_that_reach_each_other_on_a_private_network() {
    let image = postgresql_image();
    assert_fields(
        &image,
        &[
            "type",
            "recipe",
            "recipe_hash",
            "dir",
            "cached",
            "root_disk",
            "root_disk_bytes",
            "data_disk",
            "kernel",
            "initrd",
            "append",
            "kernel_release",
            "packages",
            "manifest",
            "built_at",
            "elapsed_ms",
        ],
    );
    let again = postgresql_image();
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["recipe_hash"], image["recipe_hash"]);
    let manifest: Value = serde_json::from_str(
        &fs::read_to_string(image["manifest"].as_str().expect("path")).expect("manifest"),
    )
    .expect("JSON manifest");
    assert_eq!(manifest["packages"]["postgresql-15"], "15.18-0+deb12u1");
    assert!(
        manifest["packages"]["qemu-guest-agent"].is_string(),
        "{manifest}"
    );
    assert!(manifest["packages"]["systemd"].is_string());

    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let forward = format!("{port}:5432");
    for (name, address, extra) in [
        (
            "pg1",
            "lan:10.77.0.1/24",
            vec!["--forward", forward.as_str()],
        ),
        ("pg2", "lan:10.77.0.2/24", vec![]),
    ] {
        let path = |what: &str| image[what].as_str().expect("image field").to_owned();
        let root = overlay(
            &path("root_disk"),
            &dir.path().join(format!("{name}-root.qcow2")),
        );
        let data = overlay(
            &path("data_disk"),
            &dir.path().join(format!("{name}-data.qcow2")),
        );
        let (kernel, initrd, append) = (path("kernel"), path("initrd"), path("append"));
        let mut args = vec![
            "define", name, "--memory", "768", "--kernel", &kernel, "--initrd", &initrd,
            "--append", &append, "--disk", &root, "--disk", &data, "--agent", "--nic", address,
        ];
        args.extend(extra);
        let defined = vm_ok(&state, &args);
        assert_eq!(defined["nics"], serde_json::json!([address]), "{defined}");
    }
    let result = std::panic::catch_unwind(|| {
        for name in ["pg1", "pg2"] {
            let up = vm(&state, &["up", name, "--accel", "tcg"]);
            assert_eq!(up.code, 0, "{up:?}");
        }
        let exec = |name: &str, command: &str| {
            let out = vm_ok(
                &state,
                &["exec", name, "--timeout", "900", "--", "sh", "-c", command],
            );
            (
                out["exit_code"].as_i64().unwrap_or(-1),
                out["stdout"].as_str().unwrap_or_default().trim().to_owned(),
            )
        };
        let (_, running) = exec("pg1", "systemctl is-system-running --wait");
        assert!(
            running == "running",
            "{running}: {:?}",
            exec("pg1", "systemctl --failed")
        );
        assert_eq!(
            exec("pg1", "findmnt -n -o SOURCE /var/lib/postgresql").1,
            "/dev/vdb"
        );
        assert_eq!(
            exec("pg1", "stat -c %U /var/lib/postgresql/15/main").1,
            "postgres"
        );
        assert_eq!(exec("pg1", "id -nG dba").1, "dba postgres");
        let conf = exec("pg1", "cat /etc/postgresql/15/main/conf.d/appliance.conf").1;
        assert!(conf.contains("wal_level = replica"), "{conf}");
        let version = exec(
            "pg1",
            "runuser -u postgres -- psql -tAc 'show server_version'",
        );
        assert_eq!(version, (0, "15.18 (Debian 15.18-0+deb12u1)".to_owned()));
        // The forward reaches PostgreSQL's port from the host.
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        // The private network: each has its address, and reaches the other's PostgreSQL.
        exec("pg2", "systemctl is-system-running --wait");
        let address = exec("pg2", "ip -4 -o addr show ens16").1;
        assert!(address.contains("inet 10.77.0.2/24"), "{address}");
        let reach = exec(
            "pg2",
            "timeout 20 bash -c '</dev/tcp/10.77.0.1/5432' && echo open",
        );
        assert_eq!(reach, (0, "open".to_owned()));
        let back = exec(
            "pg1",
            "timeout 20 bash -c '</dev/tcp/10.77.0.2/5432' && echo open",
        );
        assert_eq!(back, (0, "open".to_owned()));
        // One machine stopped and started again rejoins: the switch never noticed.
        assert_eq!(vm(&state, &["down", "pg2"]).code, 0);
        assert!(vm(&state, &["up", "pg2", "--accel", "tcg"]).code == 0);
        exec("pg2", "systemctl is-system-running --wait");
        let again = exec(
            "pg2",
            "timeout 20 bash -c '</dev/tcp/10.77.0.1/5432' && echo open",
        );
        assert_eq!(again, (0, "open".to_owned()));
    });
    let downs: Vec<Run> = ["pg1", "pg2"]
        .iter()
        .map(|name| vm(&state, &["down", name]))
        .collect();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    for down in downs {
        assert_eq!(down.code, 0, "{down:?}");
    }
    // The network's switch stopped with its last machine.
    let switch_pid = state.join(".net/lan/qemu.pid");
    assert!(!switch_pid.exists(), "the switch still runs");
}
