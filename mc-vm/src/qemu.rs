//! Starting QEMU in the background, and finding out whether it still runs.

use std::{
    fs, io,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{
    VmError,
    machine::{DiskFormat, Machine},
};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// The virtio-serial port name `qemu-ga` looks for.
pub const AGENT_PORT: &str = "org.qemu.guest_agent.0";

/// How long QEMU may take to set a machine up and go to the background.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the KVM probe may take before KVM counts as not working.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The files of a machine's folder.
#[derive(Clone, Debug)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// The files in `dir`, which must be absolute: QEMU's `-daemonize` changes to `/`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The QMP socket.
    pub fn qmp(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }

    /// The guest agent's socket.
    pub fn agent(&self) -> PathBuf {
        self.dir.join("agent.sock")
    }

    /// The serial console's log: everything the guest wrote on its serial port since `up`.
    pub fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// The serial console's socket, for `mc-vm console`.
    pub fn console_socket(&self) -> PathBuf {
        self.dir.join("console.sock")
    }

    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// QEMU's own messages.
    pub fn log(&self) -> PathBuf {
        self.dir.join("qemu.log")
    }

    /// QEMU's pid file.
    pub fn pid(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }

    /// The accelerator the running QEMU uses.
    pub fn accel(&self) -> PathBuf {
        self.dir.join("accel")
    }

    /// The pid of the machine's QEMU when it runs.
    pub fn running_pid(&self) -> Option<u32> {
        let pid: u32 = fs::read_to_string(self.pid()).ok()?.trim().parse().ok()?;
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.starts_with("qemu-system") && alive(pid)).then_some(pid)
    }

    /// The accelerator of the running QEMU.
    pub fn running_accel(&self) -> Option<String> {
        self.running_pid()?;
        Some(fs::read_to_string(self.accel()).ok()?.trim().to_owned())
    }

    /// Removes the sockets and the pid and accel files of a QEMU that no longer runs.
    pub fn clean_up(&self) {
        for path in [
            self.qmp(),
            self.agent(),
            self.console_socket(),
            self.pid(),
            self.accel(),
        ] {
            // Absent files are what clean-up wants; anything else shows on the next start.
            let _ = fs::remove_file(path);
        }
    }
}

/// The accelerator to use: KVM when `/dev/kvm` exists and a probe boot runs guest code in time.
///
/// On some hosts `/dev/kvm` opens and QEMU starts, but the guest never gets far (nested
/// virtualisation): the probe boots the machine's own kernel under KVM and waits for its first
/// line on the serial port; without a kernel it waits for SeaBIOS to finish.
pub fn probe_accel(machine: &Machine, scratch: &Path) -> &'static str {
    if !Path::new("/dev/kvm").exists() {
        return "tcg";
    }
    let log = scratch.join("probe.log");
    let _ = fs::remove_file(&log);
    let mut command = Command::new(QEMU);
    command
        .args([
            "-accel",
            "kvm",
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
        ])
        .args(["-m", "128", "-serial"])
        .arg(format!("file:{}", log.display()));
    let needle = if let Some(kernel) = &machine.kernel {
        command
            .arg("-kernel")
            .arg(kernel)
            .args(["-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1"]);
        "Linux version"
    } else {
        command
            .args(["-debugcon", "file:/dev/stdout"])
            .args(["-global", "isa-debugcon.iobase=0x402"]);
        "No bootable device"
    };
    let works = run_probe(&mut command, &log, needle);
    let _ = fs::remove_file(&log);
    if works { "kvm" } else { "tcg" }
}

fn run_probe(command: &mut Command, log: &Path, needle: &str) -> bool {
    let Ok(mut child) = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let stdout = child.stdout.take();
    let debugcon = thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stdout) = stdout {
            let _ = io::Read::read_to_string(&mut stdout, &mut text);
        }
        text
    });
    let started = Instant::now();
    let mut works = false;
    while started.elapsed() < PROBE_TIMEOUT && !works {
        thread::sleep(Duration::from_millis(100));
        works = fs::read_to_string(log).is_ok_and(|text| text.contains(needle));
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    works || debugcon.join().is_ok_and(|text| text.contains(needle))
}

/// Starts `machine`'s QEMU in the background with `accel`; returns its pid.
pub fn start(machine: &Machine, files: &Files, accel: &str) -> Result<u32, VmError> {
    files.clean_up();
    let log = fs::File::create(files.log()).map_err(VmError::io("creating", &files.log()))?;
    let mut command = Command::new(QEMU);
    command
        .args(["-name", &machine.name, "-accel", accel])
        .args(["-m", &machine.memory_mib.to_string()])
        .args(["-smp", &machine.cpus.to_string()])
        .args(["-nodefaults", "-display", "none", "-daemonize"])
        .arg("-pidfile")
        .arg(files.pid())
        // A socket for `mc-vm console`, logged to a file whether anyone is connected or not.
        .arg("-chardev")
        .arg(format!(
            "socket,id=console,path={},server=on,wait=off,logfile={},logappend=off",
            escape(&files.console_socket()),
            escape(&files.console()),
        ))
        .args(["-serial", "chardev:console"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", escape(&files.qmp())));
    if let Some(kernel) = &machine.kernel {
        command.arg("-kernel").arg(kernel);
    }
    if let Some(initrd) = &machine.initrd {
        command.arg("-initrd").arg(initrd);
    }
    if let Some(append) = &machine.append {
        command.args(["-append", append]);
    }
    for (index, disk) in machine.disks.iter().enumerate() {
        let format = DiskFormat::of(disk)?.name();
        command.args([
            "-drive",
            &format!(
                "file={},format={format},if=virtio,node-name={}",
                escape(disk),
                node_name(index)
            ),
        ]);
    }
    if machine.net || !machine.forwards.is_empty() {
        let mut netdev = "user,id=net".to_owned();
        for forward in &machine.forwards {
            netdev.push_str(&format!(
                ",hostfwd=tcp:127.0.0.1:{}-:{}",
                forward.host_port, forward.guest_port
            ));
        }
        command
            .args(["-netdev", &netdev])
            .args(["-device", "virtio-net-pci,netdev=net"]);
    }
    if machine.agent {
        command
            .arg("-chardev")
            .arg(format!(
                "socket,path={},server=on,wait=off,id=agent",
                escape(&files.agent())
            ))
            .args(["-device", "virtio-serial"])
            .args([
                "-device",
                &format!("virtserialport,chardev=agent,name={AGENT_PORT}"),
            ]);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|source| VmError::Spawn {
            program: QEMU,
            source,
        })?;
    // With -daemonize the first process exits once the machine is set up; it should not hang,
    // but if it does, the start fails rather than mc-vm.
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < START_TIMEOUT => {
                thread::sleep(Duration::from_millis(20))
            }
            _ => break None,
        }
    };
    let pid = files.running_pid();
    match (pid, status) {
        (Some(pid), Some(status)) if status.success() => {
            fs::write(files.accel(), accel).map_err(VmError::io("writing", &files.accel()))?;
            Ok(pid)
        }
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            if let Some(pid) = pid {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            files.clean_up();
            let log = fs::read_to_string(files.log()).unwrap_or_default();
            let mut message = log.trim().to_owned();
            if status.is_none() {
                message = format!("no answer within {} s. {message}", START_TIMEOUT.as_secs());
            }
            Err(VmError::Start {
                name: machine.name.clone(),
                message,
            })
        }
    }
}

/// The QEMU block node name of the machine's disk number `index`, for QMP commands.
pub fn node_name(index: usize) -> String {
    format!("disk{index}")
}

/// `path` as a value in QEMU's option syntax, which doubles commas inside values.
fn escape(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// Whether process `pid` exists and is not a zombie: a daemonized QEMU's parent is whatever
/// reaps orphans, which in a container may never do so.
pub fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        !matches!(state, None | Some('Z' | 'X'))
    })
}

/// Waits until process `pid` is gone, up to `timeout`; whether it is gone.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let started = Instant::now();
    loop {
        if !alive(pid) {
            return true;
        }
        if started.elapsed() >= timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}
