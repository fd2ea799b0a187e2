//! Starting QEMU in the background, and finding out whether it still runs.

use std::{
    ffi::OsString,
    fs, io,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{
    VmError,
    machine::{DiskFormat, Machine},
    network::{self, Network},
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

/// QEMU's arguments for `machine` with `files` and `accel`, its disks in `formats` (one per
/// disk, as [`DiskFormat::of`] found them): daemonized, with a pid file, QMP and console sockets,
/// and an agent channel when the machine has one.
pub fn command_line(
    machine: &Machine,
    files: &Files,
    accel: &str,
    formats: &[DiskFormat],
    networks: &[Network],
) -> Result<Vec<OsString>, String> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    push(&["-name", &machine.name, "-accel", &accel_option(accel)]);
    push(&["-m", &machine.memory_mib.to_string()]);
    push(&["-smp", &machine.cpus.to_string()]);
    push(&["-nodefaults", "-display", "none", "-daemonize"]);
    push(&["-pidfile", &files.pid().display().to_string()]);
    // A socket for `mc-vm console`, logged to a file whether anyone is connected or not.
    push(&[
        "-chardev",
        &format!(
            "socket,id=console,path={},server=on,wait=off,logfile={},logappend=off",
            escape(&files.console_socket()),
            escape(&files.console()),
        ),
    ]);
    push(&["-serial", "chardev:console"]);
    push(&[
        "-qmp",
        &format!("unix:{},server=on,wait=off", escape(&files.qmp())),
    ]);
    for (index, (disk, format)) in machine.disks.iter().zip(formats).enumerate() {
        push(&[
            "-drive",
            &format!(
                "file={},format={},if=virtio,node-name={}",
                escape(disk),
                format.name(),
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
        push(&["-netdev", &netdev]);
        push(&["-device", "virtio-net-pci,netdev=net"]);
    }
    let lan = network::machine_args(machine, networks)?;
    args.extend(lan.into_iter().map(OsString::from));
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    if machine.agent {
        push(&[
            "-chardev",
            &format!(
                "socket,path={},server=on,wait=off,id=agent",
                escape(&files.agent())
            ),
        ]);
        push(&["-device", "virtio-serial"]);
        push(&[
            "-device",
            &format!("virtserialport,chardev=agent,name={AGENT_PORT}"),
        ]);
    }
    // Paths as given (not through `display`): a kernel path need not be UTF-8.
    let files = [
        ("-kernel", machine.kernel.as_ref()),
        ("-initrd", machine.initrd.as_ref()),
    ];
    for (flag, path) in files {
        if let Some(path) = path {
            args.push(flag.into());
            args.push(path.into());
        }
    }
    let addresses = network::kernel_args(machine)?;
    let append: Vec<&str> = machine
        .append
        .iter()
        .map(String::as_str)
        .chain(Some(addresses.as_str()).filter(|a| !a.is_empty()))
        .collect();
    if !append.is_empty() {
        args.push("-append".into());
        args.push(append.join(" ").into());
    }
    Ok(args)
}

/// QEMU's `-accel` value: TCG's translation buffer cut to 256 MiB (QEMU's default is 1 GiB
/// per machine, which several machines on one host cannot afford).
fn accel_option(accel: &str) -> String {
    match accel {
        "tcg" => "tcg,tb-size=256".to_owned(),
        other => other.to_owned(),
    }
}

/// Starts `machine`'s QEMU in the background with `accel`, its cards on `networks` (one per
/// card, in order); returns its pid.
pub fn start(
    machine: &Machine,
    files: &Files,
    accel: &str,
    networks: &[Network],
) -> Result<u32, VmError> {
    let formats = machine
        .disks
        .iter()
        .map(|disk| DiskFormat::of(disk))
        .collect::<Result<Vec<_>, _>>()?;
    let failed = |message| VmError::Start {
        name: machine.name.clone(),
        message,
    };
    let args = command_line(machine, files, accel, &formats, networks).map_err(failed)?;
    let pid = daemonize(&args, files).map_err(failed)?;
    fs::write(files.accel(), accel).map_err(VmError::io("writing", &files.accel()))?;
    Ok(pid)
}

/// Runs QEMU with `args` (which must daemonize and write `files.pid()`); its pid once it runs
/// in the background, or why it did not start: its log, or that it hung. Nothing is left
/// running after a failure.
pub fn daemonize(args: &[OsString], files: &Files) -> Result<u32, String> {
    files.clean_up();
    let log = fs::File::create(files.log())
        .map_err(|error| format!("creating {}: {error}", files.log().display()))?;
    let mut child = Command::new(QEMU)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|error| format!("running {QEMU}: {error}"))?;
    let status = wait_daemonized(&mut child);
    let pid = files.running_pid();
    match (pid, status) {
        (Some(pid), Some(status)) if status.success() => Ok(pid),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            if let Some(pid) = pid {
                kill(pid);
            }
            files.clean_up();
            let log = fs::read_to_string(files.log()).unwrap_or_default();
            Err(start_failure(&log, status.is_none()))
        }
    }
}

/// Waits for the first QEMU process to exit: with `-daemonize` it does once the machine is set
/// up. It should not hang, but if it does, the start fails rather than mc-vm: `None` after
/// [`START_TIMEOUT`].
fn wait_daemonized(child: &mut Child) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if started.elapsed() < START_TIMEOUT => {
                thread::sleep(Duration::from_millis(20))
            }
            _ => return None,
        }
    }
}

/// Why a start failed, from QEMU's log and whether it hung.
fn start_failure(log: &str, hung: bool) -> String {
    let message = log.trim();
    if hung {
        format!("no answer within {} s. {message}", START_TIMEOUT.as_secs())
    } else {
        message.to_owned()
    }
}

/// Sends SIGKILL to process `pid`; whether it is gone is for the caller to wait for.
pub fn kill(pid: u32) {
    // A process that is already gone is what the caller wants.
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Forward;

    fn machine() -> Machine {
        Machine {
            name: "db".to_owned(),
            memory_mib: 1024,
            cpus: 2,
            kernel: Some(PathBuf::from("/img/vmlinuz")),
            initrd: Some(PathBuf::from("/img/initrd.img")),
            append: Some("root=/dev/vda console=ttyS0".to_owned()),
            disks: vec![
                PathBuf::from("/img/root,1.qcow2"),
                PathBuf::from("/img/data.raw"),
            ],
            agent: true,
            net: false,
            forwards: vec![Forward {
                host_port: 5432,
                guest_port: 5432,
            }],
            nics: Vec::new(),
        }
    }

    fn line(machine: &Machine) -> Vec<String> {
        let files = Files::new(PathBuf::from("/state/db"));
        command_line(
            machine,
            &files,
            "tcg",
            &[DiskFormat::Qcow2, DiskFormat::Raw],
            &[],
        )
        .expect("no networks to miss")
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
    }

    /// The value after `flag`, for each time it appears.
    fn values<'a>(line: &'a [String], flag: &str) -> Vec<&'a str> {
        line.windows(2)
            .filter(|pair| pair[0] == flag)
            .map(|pair| pair[1].as_str())
            .collect()
    }

    #[test]
    fn the_command_line_names_every_disk_socket_and_forward() {
        let line = line(&machine());
        assert_eq!(values(&line, "-m"), ["1024"]);
        assert_eq!(values(&line, "-accel"), ["tcg,tb-size=256"]);
        assert_eq!(values(&line, "-smp"), ["2"]);
        assert_eq!(
            values(&line, "-drive"),
            [
                "file=/img/root,,1.qcow2,format=qcow2,if=virtio,node-name=disk0",
                "file=/img/data.raw,format=raw,if=virtio,node-name=disk1",
            ]
        );
        assert_eq!(
            values(&line, "-netdev"),
            ["user,id=net,hostfwd=tcp:127.0.0.1:5432-:5432"]
        );
        assert_eq!(
            values(&line, "-qmp"),
            ["unix:/state/db/qmp.sock,server=on,wait=off"]
        );
        assert!(
            values(&line, "-device")
                .contains(&"virtserialport,chardev=agent,name=org.qemu.guest_agent.0")
        );
        assert_eq!(values(&line, "-kernel"), ["/img/vmlinuz"]);
        assert_eq!(values(&line, "-append"), ["root=/dev/vda console=ttyS0"]);
        assert_eq!(values(&line, "-pidfile"), ["/state/db/qemu.pid"]);
    }

    #[test]
    fn no_agent_no_network_and_no_kernel_leave_their_options_out() {
        let bare = Machine {
            kernel: None,
            initrd: None,
            append: None,
            agent: false,
            forwards: Vec::new(),
            disks: Vec::new(),
            ..machine()
        };
        let line = line(&bare);
        for flag in ["-netdev", "-kernel", "-initrd", "-append", "-drive"] {
            assert!(values(&line, flag).is_empty(), "{flag}: {line:?}");
        }
        assert_eq!(values(&line, "-chardev").len(), 1, "console only: {line:?}");
    }

    #[test]
    fn a_hung_start_says_so_before_qemus_words() {
        assert_eq!(start_failure("  bad drive\n", false), "bad drive");
        assert!(start_failure("", true).starts_with("no answer within 30 s"));
    }
}
