//! mc-netboot against real peers: QEMU 7.2's iPXE option ROM as the client, busybox `udhcpd` as
//! the network's own DHCP server, dnsmasq (with `mc-netboot dnsmasq-conf`) as the other
//! proxy-DHCP + TFTP server, and the installed machine's guest agent.
//!
//! The network is a bridge in a network namespace the test makes (root is needed): the server
//! side holds the bridge (10.77.0.1), a tap for QEMU's NIC and the servers; udhcpd runs in a
//! second namespace on a veth into the bridge, as a router would. The machine has an empty
//! virtio disk and no kernel: SeaBIOS finds no boot sector and boots the NIC's iPXE ROM. The
//! root it installs is the PostgreSQL test image (`mc-vm image build`, cached under
//! `target/vm-image`; `MC_NETBOOT_TEST_IMAGE` names an image folder built already).

use std::{
    fs,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use pipeline_tests::{Run, bin, postgresql_image, require, run};
use serde_json::Value;

const SERVER_IP: &str = "10.77.0.1";
/// serve's address, any free port.
const LISTEN: &[&str] = &["--listen", "10.77.0.1:0"];
const MAC: &str = "52:54:00:4e:42:01";
/// Debian's `ovmf`: UEFI for QEMU.
const OVMF: &str = "/usr/share/OVMF";

/// The machine's firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Firmware {
    Bios,
    Uefi,
}

fn netboot(args: &[&str]) -> Run {
    run(&bin("mc-netboot"), args, "")
}

/// The image folder the minimal installer writes onto the disk.
fn image_dir() -> PathBuf {
    match std::env::var_os("MC_NETBOOT_TEST_IMAGE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            postgresql_image()["dir"]
                .as_str()
                .expect("the vm_image record names its folder"),
        ),
    }
}

fn write_profile(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("profile.toml");
    fs::write(&path, body).expect("writes the profile");
    path
}

#[test]
fn a_profile_with_a_missing_field_is_refused_before_anything_is_enrolled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = dir.path().join("served");
    let served = served.to_str().expect("UTF-8");
    let out = try_enroll(
        dir.path(),
        served,
        "hostname = \"node1\"\n[minimal]\nimage = \"/nonexistent\"\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("missing field `disk`"), "{out:?}");
    assert!(out.records.is_empty(), "{out:?}");
    assert!(
        !Path::new(served).join("machines").exists(),
        "nothing enrolled"
    );

    let out = netboot(&["enroll", "52:54:00", "--dir", served, "--profile", "x.toml"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("bad MAC address"), "{out:?}");
}

#[test]
fn help_teaches_the_chain_and_the_profile() {
    let out = Command::new(bin("mc-netboot"))
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("proxy-DHCP") && help.contains("--until-installed"),
        "{help}"
    );
    let out = Command::new(bin("mc-netboot"))
        .args(["enroll", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("[minimal]") && help.contains("0600"),
        "{help}"
    );
}

/// The test's network: two namespaces, a bridge, a tap, a veth; and the processes started in
/// them, killed (and the namespaces deleted) on drop, so a failing test leaves nothing behind.
struct Net {
    server: String,
    router: String,
    tap: String,
    children: Vec<Child>,
}

impl Net {
    fn new(tag: &str) -> Self {
        let id = std::process::id() % 100_000;
        let net = Self {
            server: format!("mcnb-{tag}-{id}"),
            router: format!("mcnb-{tag}-{id}-r"),
            tap: "tap0".to_owned(),
            children: Vec::new(),
        };
        let (veth_a, veth_b) = (format!("nb{id}a"), format!("nb{id}b"));
        let (s, r) = (net.server.as_str(), net.router.as_str());
        for command in [
            vec!["netns", "add", s],
            vec!["netns", "add", r],
            vec!["-n", s, "link", "set", "lo", "up"],
            vec!["-n", s, "link", "add", "br0", "type", "bridge"],
            vec!["-n", s, "addr", "add", "10.77.0.1/24", "dev", "br0"],
            vec!["-n", s, "link", "set", "br0", "up"],
            vec!["-n", s, "tuntap", "add", "dev", "tap0", "mode", "tap"],
            vec!["-n", s, "link", "set", "tap0", "master", "br0", "up"],
            vec![
                "link", "add", &veth_a, "type", "veth", "peer", "name", &veth_b,
            ],
            vec!["link", "set", &veth_a, "netns", s],
            vec!["link", "set", &veth_b, "netns", r],
            vec!["-n", s, "link", "set", &veth_a, "master", "br0", "up"],
            vec!["-n", r, "addr", "add", "10.77.0.2/24", "dev", &veth_b],
            vec!["-n", r, "link", "set", &veth_b, "up"],
        ] {
            let out = Command::new("ip").args(&command).output().expect("ip runs");
            assert!(out.status.success(), "ip {command:?}: {out:?}");
        }
        net
    }

    /// Starts `program` in namespace `ns`, its stdout and stderr into files in `logs`.
    fn spawn(&mut self, ns: &str, logs: &Path, name: &str, program: &Path, args: &[&str]) -> u32 {
        let out = fs::File::create(logs.join(format!("{name}.out"))).expect("creates");
        let err = fs::File::create(logs.join(format!("{name}.err"))).expect("creates");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("ip netns exec runs");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// The network's own DHCP server: busybox udhcpd in the router namespace.
    fn start_dhcp(&mut self, logs: &Path) {
        let veth = format!("nb{}b", std::process::id() % 100_000);
        let conf = logs.join("udhcpd.conf");
        let leases = logs.join("udhcpd.leases");
        fs::write(&leases, b"").expect("writes");
        fs::write(
            &conf,
            format!(
                "start 10.77.0.100\nend 10.77.0.150\ninterface {veth}\nlease_file {}\noption subnet 255.255.255.0\n",
                leases.display()
            ),
        )
        .expect("writes");
        let router = self.router.clone();
        let conf = conf.to_str().expect("UTF-8").to_owned();
        self.spawn(
            &router,
            logs,
            "udhcpd",
            Path::new("busybox"),
            &["udhcpd", "-f", &conf],
        );
    }

    /// `mc-netboot serve --until-installed` with `flags` (`--listen` among them, or
    /// `--interface`) in the server namespace; returns serve's pid once it listens, and its URL.
    fn start_serve(&mut self, logs: &Path, served: &str, flags: &[&str]) -> (u32, String) {
        let server = self.server.clone();
        let mut args = vec!["serve", "--dir", served, "--until-installed"];
        args.extend_from_slice(flags);
        let pid = self.spawn(&server, logs, "serve", &bin("mc-netboot"), &args);
        let started = Instant::now();
        loop {
            let listening = events(&records(&logs.join("serve.out")), "listening")
                .first()
                .and_then(|record| record["path"].as_str().map(str::to_owned));
            if let Some(url) = listening {
                return (pid, url.trim_end_matches('/').to_owned());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A QEMU machine with `firmware`, an empty 3 GiB disk, a NIC on the tap, no kernel: the
    /// firmware tries the disk, then the NIC (QEMU's iPXE ROM under SeaBIOS; OVMF's own PXE
    /// under UEFI). Returns QEMU's pid and the guest agent's socket.
    fn start_machine(&mut self, logs: &Path, firmware: Firmware) -> (u32, PathBuf) {
        let disk = logs.join("disk.qcow2");
        let out = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&disk)
            .arg("3G")
            .output()
            .expect("qemu-img runs");
        assert!(out.status.success(), "{out:?}");
        let agent = logs.join("qga.sock");
        let server = self.server.clone();
        let mut args = vec![
            "-accel".to_owned(),
            "tcg,tb-size=256".to_owned(),
            "-m".to_owned(),
            "1024".to_owned(),
            "-display".to_owned(),
            "none".to_owned(),
            "-monitor".to_owned(),
            "none".to_owned(),
            "-serial".to_owned(),
            format!("file:{}", logs.join("console.log").display()),
            "-drive".to_owned(),
            format!("file={},if=none,id=d0,format=qcow2", disk.display()),
            "-device".to_owned(),
            "virtio-blk-pci,drive=d0,bootindex=1".to_owned(),
            "-netdev".to_owned(),
            format!("tap,id=n0,ifname={},script=no,downscript=no", self.tap),
            "-device".to_owned(),
            // Under UEFI without QEMU's iPXE ROM: OVMF's own driver and PXE, as on a machine
            // with no iPXE in its firmware.
            format!(
                "virtio-net-pci,netdev=n0,mac={MAC},bootindex=2{}",
                if firmware == Firmware::Uefi {
                    ",romfile="
                } else {
                    ""
                }
            ),
            "-chardev".to_owned(),
            format!("socket,path={},server=on,wait=off,id=qga0", agent.display()),
            "-device".to_owned(),
            "virtio-serial".to_owned(),
            "-device".to_owned(),
            "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0".to_owned(),
        ];
        if firmware == Firmware::Uefi {
            // OVMF's code read-only, its variables in a copy of their own.
            let vars = logs.join("OVMF_VARS.fd");
            fs::copy(Path::new(OVMF).join("OVMF_VARS_4M.fd"), &vars).expect("copies OVMF_VARS");
            args.extend([
                "-drive".to_owned(),
                format!("if=pflash,format=raw,unit=0,readonly=on,file={OVMF}/OVMF_CODE_4M.fd"),
                "-drive".to_owned(),
                format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = self.spawn(
            &server,
            logs,
            "qemu",
            Path::new("qemu-system-x86_64"),
            &args,
        );
        (pid, agent)
    }

    /// Waits for the process `pid` (started by [`Net::spawn`]) to exit, up to `limit`.
    fn wait(&mut self, pid: u32, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        let child = self
            .children
            .iter_mut()
            .find(|c| c.id() == pid)
            .expect("ours");
        while started.elapsed() < limit {
            if let Some(status) = child.try_wait().expect("waits") {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        None
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.server, &self.router] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn records(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON record per line"))
        .collect()
}

fn events<'a>(records: &'a [Value], event: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["event"] == event).collect()
}

/// UEFI for QEMU, and the iPXE its PXE chain-loads.
fn require_uefi() {
    require_file(&format!("{OVMF}/OVMF_CODE_4M.fd"), "ovmf");
    require_file("/usr/lib/ipxe/ipxe.efi", "ipxe");
}

/// Fails, naming the Debian package, unless `path` is there.
fn require_file(path: &str, package: &str) {
    assert!(
        Path::new(path).is_file(),
        "{path} is not installed: apt-get install {package} (see .ci/run)"
    );
}

/// What `enroll` builds the installed disk with.
fn require_disk_tools() {
    require("qemu-img", "qemu-utils");
    require("sfdisk", "fdisk");
    require("mkfs.vfat", "dosfstools");
    require("mcopy", "mtools");
    require_file(
        "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
        "systemd-boot-efi",
    );
    require_file("/usr/lib/syslinux/mbr/mbr.bin", "syslinux-common");
}

/// What the machine runs on, and its installer.
fn require_peers() {
    require_disk_tools();
    require("qemu-system-x86_64", "qemu-system-x86");
    require("busybox", "busybox-static");
    require("extlinux", "extlinux");
    require("ip", "iproute2");
}

/// `mc-netboot enroll MAC` with a profile of `text`, written into `dir`.
fn try_enroll(dir: &Path, served: &str, text: &str) -> Run {
    let profile = write_profile(dir, text);
    let profile = profile.to_str().expect("UTF-8");
    netboot(&["enroll", MAC, "--dir", served, "--profile", profile])
}

fn enroll(logs: &Path, served: &str, profile: &str) -> Value {
    let out = try_enroll(logs, served, profile);
    assert_eq!(out.code, 0, "{out:?}");
    out.records[0].clone()
}

/// The whole chain with mc-netboot as the only boot server, under SeaBIOS: proxy-DHCP answer
/// to QEMU's iPXE ROM, TFTP `boot.ipxe`, the machine's script, kernel and installer over HTTP,
/// every installer step, `done`; then the machine reboots from its own disk (extlinux in the
/// root partition's boot sector) and its guest agent answers.
#[test]
fn vm_slow_a_machine_without_a_kernel_installs_over_the_network_and_boots_from_its_disk() {
    install_over_the_network(Firmware::Bios);
}

/// The same chain and the same disk under UEFI (OVMF): OVMF's PXE gets `ipxe.efi` from the
/// proxy and TFTP, that iPXE then `boot.ipxe`; the installed machine boots systemd-boot from
/// the disk's ESP.
#[test]
fn vm_slow_a_uefi_machine_installs_over_the_network_and_boots_systemd_boot_from_its_disk() {
    require_uefi();
    install_over_the_network(Firmware::Uefi);
}

/// Installs the test image on a machine with `firmware` and checks the records, the secrets,
/// and the installed system through its guest agent.
fn install_over_the_network(firmware: Firmware) {
    require_peers();
    let image = image_dir();
    let logs = tempfile::tempdir().expect("temp dir");
    let logs = logs.path();
    let served = logs.join("served");
    let served = served.to_str().expect("UTF-8");
    let password = "pw-not-on-any-command-line";
    let enrolled = enroll(
        logs,
        served,
        &format!(
            "hostname = \"node1\"\n[minimal]\nimage = \"{}\"\ndisk = \"/dev/vda\"\nroot_password = \"{password}\"\n",
            image.display()
        ),
    );
    assert_eq!(enrolled["event"], "enrolled", "{enrolled}");
    let machine_dir = Path::new(served).join("machines/52-54-00-4e-42-01");
    let mode = |path: &Path| fs::metadata(path).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&machine_dir), 0o700);
    assert_eq!(mode(&machine_dir.join("answer")), 0o600);
    let machine: Value =
        serde_json::from_slice(&fs::read(machine_dir.join("machine.json")).expect("reads"))
            .expect("JSON");
    let token = machine["token"].as_str().expect("a token").to_owned();

    let tag = match firmware {
        Firmware::Bios => "ok",
        Firmware::Uefi => "efi",
    };
    let mut net = Net::new(tag);
    net.start_dhcp(logs);
    let (serve, _) = net.start_serve(
        logs,
        served,
        &[LISTEN, &["--proxy-dhcp", "--timeout", "300"]].concat(),
    );
    let (qemu, agent) = net.start_machine(logs, firmware);
    let code = net.wait(serve, Duration::from_secs(600));
    let records = records(&logs.join("serve.out"));
    let console = fs::read_to_string(logs.join("console.log")).unwrap_or_default();
    let tail: String = console
        .lines()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        code,
        Some(0),
        "serve: {records:#?}\nconsole (last lines, reversed):\n{tail}"
    );

    let listening = &events(&records, "listening")[0];
    assert!(
        listening["path"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://10.77.0.1:")),
        "{listening}"
    );
    let dhcp = events(&records, "dhcp");
    let tftp = events(&records, "tftp");
    let mut boot_files = vec![("ipxe", "boot.ipxe")];
    if firmware == Firmware::Uefi {
        boot_files.insert(0, ("uefi", "ipxe.efi"));
    }
    for (client, file) in boot_files {
        assert!(
            dhcp.iter().any(|r| r["firmware"] == client
                && r["path"] == file
                && r["mac"] == MAC
                && r["ok"] == true),
            "{client}: {dhcp:#?}"
        );
        assert!(
            tftp.iter().any(|r| r["path"] == file && r["ok"] == true),
            "{file}: {tftp:#?}"
        );
    }
    let fetched: Vec<&str> = events(&records, "http")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    for path in [
        "/ipxe/52-54-00-4e-42-01",
        "/m/TOKEN/vmlinuz",
        "/m/TOKEN/initrd",
        "/m/TOKEN/answer",
        "/m/TOKEN/extents",
    ] {
        assert!(fetched.contains(&path), "{path} not in {fetched:?}");
    }
    let steps: Vec<&str> = events(&records, "step")
        .iter()
        .filter_map(|r| r["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "network",
            "answer",
            "disk",
            "write-disk",
            "configure",
            "boot-loader"
        ]
    );
    let done = events(&records, "done");
    assert_eq!(done.len(), 1, "{records:#?}");
    assert!(
        done[0]["log"]
            .as_str()
            .is_some_and(|log| log.contains("== boot-loader")),
        "{}",
        done[0]
    );
    let all = fs::read_to_string(logs.join("serve.out")).expect("reads");
    assert!(
        !all.contains(&token) && !all.contains(password),
        "secrets stay out of the records"
    );

    // Rebooted from its own disk: the agent of the installed system answers.
    let mut agent = mc_vm::agent::Agent::connect(&agent, Duration::from_secs(300), qemu)
        .expect("the installed machine's guest agent answers");
    let command: Vec<String> = [
        "/bin/sh",
        "-c",
        "hostname; cat /proc/cmdline; grep -c '^root:\\$6\\$' /etc/shadow; findmnt -no SOURCE /; \
         if [ -d /sys/firmware/efi ]; then ls /sys/firmware/efi/efivars | grep -c '^LoaderInfo-'; else echo bios; fi",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = agent
        .exec(&command, Duration::from_secs(60))
        .expect("guest-exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"node1"), "{stdout}");
    let root = disk_root(served);
    assert!(
        lines[1].contains(&format!("root={root}")) && !lines[1].contains("mc.url"),
        "the installed system, its root by PARTUUID, not the installer: {stdout}"
    );
    assert_eq!(
        lines.get(2),
        Some(&"1"),
        "root's password set, hashed: {stdout}"
    );
    assert_eq!(lines.get(3), Some(&"/dev/vda2"), "{stdout}");
    match firmware {
        // extlinux's BOOT_IMAGE is the kernel's path in the root.
        Firmware::Bios => assert!(
            lines[1].contains("/boot/vmlinuz-") && lines.get(4) == Some(&"bios"),
            "booted by extlinux: {stdout}"
        ),
        // systemd-boot sets LoaderInfo.
        Firmware::Uefi => assert_eq!(lines.get(4), Some(&"1"), "booted by systemd-boot: {stdout}"),
    }
}

/// The disk enroll built (from the only image in `served`).
fn prepared_disk(served: &str) -> PathBuf {
    let images = Path::new(served).join("images");
    fs::read_dir(&images)
        .expect("enroll prepared an image")
        .next()
        .expect("one image")
        .expect("readable")
        .path()
        .join("disk.raw")
}

/// The `root=` of the disk enroll built (the loader entry in its ESP says it).
fn disk_root(served: &str) -> String {
    let esp = format!("{}@@1M", prepared_disk(served).display());
    let out = Command::new("mtype")
        .args(["-i", &esp, "::/loader/entries/mc.conf"])
        .output()
        .expect("mtype runs");
    let entry = String::from_utf8_lossy(&out.stdout);
    entry
        .split_whitespace()
        .find_map(|word| word.strip_prefix("root="))
        .unwrap_or_else(|| panic!("no root= in the loader entry: {entry}"))
        .to_owned()
}

/// dnsmasq, configured by `dnsmasq-conf`, answers a UEFI machine's PXE with `ipxe.efi`, then
/// that iPXE with `boot.ipxe`, both by TFTP; `serve --no-tftp` serves the rest. The profile
/// names a disk the machine lacks, so the installer's `disk` step fails: `serve` reports it
/// failed with the installer's log and exits 1 instead of waiting.
#[test]
fn vm_slow_dnsmasq_serves_the_same_boot_and_a_failed_install_is_reported_with_its_log() {
    require_peers();
    require_uefi();
    require("dnsmasq", "dnsmasq-base");
    let image = image_dir();
    let logs = tempfile::tempdir().expect("temp dir");
    let logs = logs.path();
    let served = logs.join("served");
    let served = served.to_str().expect("UTF-8");
    enroll(
        logs,
        served,
        &format!(
            "hostname = \"node2\"\n[minimal]\nimage = \"{}\"\ndisk = \"/dev/vdz\"\n",
            image.display()
        ),
    );
    let conf = Command::new(bin("mc-netboot"))
        .args([
            "dnsmasq-conf",
            "--dir",
            served,
            "--listen",
            SERVER_IP,
            "--interface",
            "br0",
        ])
        .output()
        .expect("runs");
    assert!(conf.status.success(), "{conf:?}");
    let conf_path = logs.join("dnsmasq.conf");
    fs::write(&conf_path, &conf.stdout).expect("writes");

    let mut net = Net::new("dm");
    net.start_dhcp(logs);
    // serve writes boot.ipxe (with its HTTP port) into the TFTP root before it says it listens.
    let (serve, _) = net.start_serve(
        logs,
        served,
        &[LISTEN, &["--no-tftp", "--timeout", "300"]].concat(),
    );
    let conf_arg = format!("--conf-file={}", conf_path.display());
    let pid_arg = format!("--pid-file={}", logs.join("dnsmasq.pid").display());
    let server_ns = net.server.clone();
    net.spawn(
        &server_ns,
        logs,
        "dnsmasq",
        Path::new("dnsmasq"),
        &[
            "--keep-in-foreground",
            "--log-facility=-",
            "--user=root",
            &conf_arg,
            &pid_arg,
        ],
    );
    let (_qemu, _agent) = net.start_machine(logs, Firmware::Uefi);
    let code = net.wait(serve, Duration::from_secs(600));
    let records = records(&logs.join("serve.out"));
    let dnsmasq = fs::read_to_string(logs.join("dnsmasq.out")).unwrap_or_default()
        + &fs::read_to_string(logs.join("dnsmasq.err")).unwrap_or_default();
    assert_eq!(code, Some(1), "serve: {records:#?}\ndnsmasq: {dnsmasq}");

    for file in ["ipxe.efi", "boot.ipxe"] {
        assert!(
            dnsmasq.contains(&format!("sent {served}/tftp/{file}")),
            "dnsmasq answered and sent {file}: {dnsmasq}"
        );
    }
    assert!(
        events(&records, "dhcp").is_empty() && events(&records, "tftp").is_empty(),
        "dnsmasq did those: {records:#?}"
    );
    let fetched: Vec<&str> = events(&records, "http")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(
        fetched.contains(&"/ipxe/52-54-00-4e-42-01") && fetched.contains(&"/m/TOKEN/initrd"),
        "{fetched:?}"
    );
    let failed = events(&records, "failed");
    assert_eq!(failed.len(), 1, "{records:#?}");
    assert_eq!(failed[0]["step"], "disk");
    assert_eq!(failed[0]["ok"], false);
    assert!(
        failed[0]["log"]
            .as_str()
            .is_some_and(|log| log.contains("no disk /dev/vdz")),
        "{}",
        failed[0]
    );
    assert!(events(&records, "done").is_empty());
}

/// The server's protocols against curl, without a machine: TFTP (`boot.ipxe` with a block size
/// option, a missing file), the iPXE script, an answer only for the right token and only while
/// installing, the installer's reports; and with two machines enrolled, one that reports a
/// failure and one that goes silent, `--until-installed` ends with exit 1: the silent one is
/// failed after `--timeout` with the last log lines it sent.
#[test]
fn serve_answers_curl_and_a_silent_installer_times_out_with_its_last_log_lines() {
    require("curl", "curl");
    require("ip", "iproute2");
    require_disk_tools();
    let logs = tempfile::tempdir().expect("temp dir");
    let logs = logs.path();
    let image = logs.join("image");
    fs::create_dir_all(&image).expect("creates");
    let created = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(image.join("root.qcow2"))
        .arg("1M")
        .output()
        .expect("qemu-img runs");
    assert!(created.status.success(), "{created:?}");
    for file in ["vmlinuz", "initrd.img"] {
        fs::write(image.join(file), b"not booted here").expect("writes");
    }
    let served = logs.join("served");
    let served = served.to_str().expect("UTF-8");
    let profile = |host: &str| {
        format!(
            "hostname = \"{host}\"\n[minimal]\nimage = \"{}\"\ndisk = \"/dev/vda\"\n",
            image.display()
        )
    };
    enroll(logs, served, &profile("node-a"));
    let silent_mac = "52:54:00:4e:42:02";
    let path = write_profile(logs, &profile("node-b"));
    let out = netboot(&[
        "enroll",
        silent_mac,
        "--dir",
        served,
        "--profile",
        path.to_str().expect("UTF-8"),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let token = |mac: &str| {
        let file = Path::new(served)
            .join("machines")
            .join(mac)
            .join("machine.json");
        let machine: Value = serde_json::from_slice(&fs::read(file).expect("reads")).expect("JSON");
        machine["token"].as_str().expect("a token").to_owned()
    };
    let (failing, silent) = (token("52-54-00-4e-42-01"), token("52-54-00-4e-42-02"));

    check_disk(served);

    let mut net = Net::new("pr");
    let server = net.server.clone();
    // An interface without an IPv4 address (the tap) is refused; the bridge's is taken.
    let refused = Command::new("ip")
        .args(["netns", "exec", &server])
        .arg(bin("mc-netboot"))
        .args(["serve", "--dir", served, "--interface", "tap0"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("interface tap0 has no IPv4 address"),
        "{stderr}"
    );
    let (serve, base) = net.start_serve(logs, served, &["--interface", "br0", "--timeout", "5"]);
    assert!(base.starts_with("http://10.77.0.1:"), "{base}");
    let curl = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["netns", "exec", &server, "curl", "-sS"])
            .args(args)
            .output()
            .expect("curl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let (ok, script) = curl(&["--tftp-blksize", "1024", "tftp://10.77.0.1/boot.ipxe"]);
    assert!(
        ok && script.contains(&format!("chain {base}/ipxe/${{mac:hexhyp}}")),
        "{script}"
    );
    assert!(!curl(&["tftp://10.77.0.1/nosuch.efi"]).0);
    let (_, script) = curl(&[&format!("{base}/ipxe/{MAC}")]);
    assert!(
        script.contains(&format!("kernel {base}/m/{failing}/vmlinuz")),
        "{script}"
    );
    let (_, script) = curl(&[&format!("{base}/ipxe/52:54:00:99:99:99")]);
    assert!(
        script.contains("not enrolled") && script.contains("exit"),
        "{script}"
    );
    let (_, answer) = curl(&["-f", &format!("{base}/m/{failing}/answer")]);
    assert!(answer.contains("MC_DISK='/dev/vda'"), "{answer}");
    assert!(!curl(&["-f", &format!("{base}/m/not-a-token/answer")]).0);

    let report = |token: &str, what: &str, log: &str| {
        curl(&[
            "-f",
            "--data-binary",
            log,
            &format!("{base}/m/{token}/{what}"),
        ])
        .0
    };
    assert!(report(&failing, "step/network", "== network\n"));
    assert!(report(
        &failing,
        "failed/disk",
        "== disk\nno disk /dev/vda\n"
    ));
    assert!(
        !curl(&["-f", &format!("{base}/m/{failing}/answer")]).0,
        "no answer once finished"
    );
    assert!(report(&silent, "step/network", "== network\nlast words\n"));
    let code = net.wait(serve, Duration::from_secs(60));
    let records = records(&logs.join("serve.out"));
    assert_eq!(code, Some(1), "{records:#?}");

    let tftp = events(&records, "tftp");
    assert!(
        tftp.iter().any(|r| r["path"] == "boot.ipxe"
            && r["ok"] == true
            && r["size_bytes"].as_u64() == Some(script_len(&base))),
        "{tftp:#?}"
    );
    assert!(
        tftp.iter()
            .any(|r| r["path"] == "nosuch.efi" && r["ok"] == false),
        "{tftp:#?}"
    );
    let failed = events(&records, "failed");
    assert_eq!(failed.len(), 2, "{records:#?}");
    let of = |host: &str| {
        *failed
            .iter()
            .find(|r| r["machine"] == host)
            .expect("a failed record")
    };
    assert_eq!(of("node-a")["step"], "disk");
    assert!(
        of("node-a")["log"]
            .as_str()
            .is_some_and(|log| log.contains("no disk /dev/vda"))
    );
    assert_eq!(of("node-b")["step"], "timeout");
    assert!(
        of("node-b")["log"]
            .as_str()
            .is_some_and(|log| log.ends_with("last words")),
        "{}",
        of("node-b")
    );
    let all = fs::read_to_string(logs.join("serve.out")).expect("reads");
    assert!(
        !all.contains(&failing) && !all.contains(&silent),
        "tokens stay out of the records"
    );
}

/// The disk enroll built for the machines (the only image in `served`), as sfdisk and mtools
/// read it: an MBR with syslinux's boot code, the ESP (partition 1, type ef) with systemd-boot
/// on the removable media path and the loader entry naming the root partition, the root
/// (partition 2, active); the answer names that partition.
fn check_disk(served: &str) {
    let disk = prepared_disk(served);
    let out = Command::new("sfdisk")
        .arg("--dump")
        .arg(&disk)
        .output()
        .expect("sfdisk runs");
    let table = String::from_utf8_lossy(&out.stdout);
    let partitions: Vec<&str> = table.lines().filter(|l| l.contains(" : ")).collect();
    assert_eq!(partitions.len(), 2, "{table}");
    assert!(
        partitions[0].contains("start=        2048") && partitions[0].contains("type=ef"),
        "{table}"
    );
    assert!(
        partitions[1].contains("type=83") && partitions[1].contains("bootable"),
        "{table}"
    );
    let mut code = [0u8; 440];
    fs::File::open(&disk)
        .and_then(|mut file| file.read_exact(&mut code))
        .expect("reads");
    let mbr = fs::read("/usr/lib/syslinux/mbr/mbr.bin").expect("reads");
    assert_eq!(code[..], mbr[..440], "syslinux's boot code");
    let esp = format!("{}@@1M", disk.display());
    let out = Command::new("mdir")
        .args(["-b", "-i", &esp, "::/EFI/BOOT"])
        .output()
        .expect("mdir runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("BOOTX64.EFI"),
        "{out:?}"
    );
    let root = disk_root(served);
    let id = table
        .lines()
        .find_map(|l| l.strip_prefix("label-id: 0x"))
        .expect("a disk id");
    assert_eq!(root, format!("PARTUUID={id}-02"));
    let answer = fs::read_to_string(Path::new(served).join("machines/52-54-00-4e-42-01/answer"))
        .expect("reads");
    assert!(answer.contains("MC_ROOT_DEV='/dev/vda2'"), "{answer}");
    assert!(
        answer.contains(&format!("MC_APPEND='root={root} ")),
        "{answer}"
    );
}

/// The length of `boot.ipxe` for the server at `base`.
fn script_len(base: &str) -> u64 {
    mc_netboot::ipxe::boot_script(base).len() as u64
}

/// archinstall's own example answers (`archinstall/examples/*-sample.json` in its wheel from
/// PyPI, fetched once into the target folder; archinstall itself needs Python 3.12 and
/// pyparted 3.13, so it does not run here): its config passes `enroll`'s checks, its creds, whose
/// hashes are the placeholder `password_hash`, do not, and with real crypt hashes they do; a
/// config without `disk_config`, with a boot loader archinstall does not know, or with a
/// password in it is refused. Nothing boots.
#[test]
fn archinstall_profiles_are_checked_against_archinstalls_own_examples() {
    require("python3", "python3-venv");
    let samples = archinstall_examples();
    let logs = tempfile::tempdir().expect("temp dir");
    let logs = logs.path();
    let archiso = logs.join("archiso/arch/boot/x86_64");
    fs::create_dir_all(&archiso).expect("creates");
    for file in ["vmlinuz-linux", "initramfs-linux.img"] {
        fs::write(archiso.join(file), b"not booted here").expect("writes");
    }
    let served = logs.join("served");
    let served = served.to_str().expect("UTF-8");
    let config: Value =
        serde_json::from_slice(&fs::read(samples.join("config-sample.json")).expect("reads"))
            .expect("JSON");
    let mut creds: Value =
        serde_json::from_slice(&fs::read(samples.join("creds-sample.json")).expect("reads"))
            .expect("JSON");
    let attempt = |config: &Value, creds: &Value| {
        fs::write(logs.join("config.json"), config.to_string()).expect("writes");
        fs::write(logs.join("creds.json"), creds.to_string()).expect("writes");
        try_enroll(
            logs,
            served,
            &format!(
                "hostname = \"arch1\"\n[archinstall]\narchiso = \"{}\"\nconfig = \"config.json\"\ncreds = \"creds.json\"\n",
                logs.join("archiso").display()
            ),
        )
    };
    let out = attempt(&config, &creds);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("archinstall.creds") && out.stderr.contains("crypt hash"),
        "{out:?}"
    );

    let hash = "$6$salt$0123456789abcdef";
    creds["root_enc_password"] = hash.into();
    creds["users"][0]["enc_password"] = hash.into();
    let out = attempt(&config, &creds);
    assert_eq!(
        out.code, 0,
        "archinstall's example config with real hashes: {out:?}"
    );
    let dir = Path::new(served).join("machines/52-54-00-4e-42-01");
    for file in ["config.json", "creds.json", "machine.json"] {
        let mode = fs::metadata(dir.join(file))
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    let mut without_disk = config.clone();
    without_disk
        .as_object_mut()
        .expect("an object")
        .remove("disk_config");
    let out = attempt(&without_disk, &creds);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("missing field `disk_config`"),
        "{out:?}"
    );
    // The name archinstall 2.x (and its repository's stale schema.json) used; 4.0 exits on it.
    let mut old_boot_loader = config.clone();
    old_boot_loader["bootloader_config"]["bootloader"] = "systemd-bootctl".into();
    let out = attempt(&old_boot_loader, &creds);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("archinstall knows"), "{out:?}");
    let mut with_password = config;
    with_password["root_enc_password"] = hash.into();
    let out = attempt(&with_password, &creds);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("belongs in the creds file"), "{out:?}");
}

/// The folder of archinstall's example answers, from its newest wheel on PyPI (downloaded with
/// a venv's pip once into `target/archinstall`).
fn archinstall_examples() -> PathBuf {
    let dir = pipeline_tests::workspace().join("target/archinstall");
    let examples = dir.join("archinstall/examples");
    if examples.join("creds-sample.json").is_file() {
        return examples;
    }
    let venv = dir.join("venv");
    let status = |command: &mut Command| {
        let out = command.output().expect("runs");
        assert!(out.status.success(), "{command:?}: {out:?}");
    };
    status(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    // The wheel is for Python 3.12 and later; only its data files are read.
    status(
        Command::new(venv.join("bin/pip"))
            .args([
                "download",
                "-q",
                "--no-deps",
                "--python-version",
                "3.13",
                "--only-binary=:all:",
                "-d",
            ])
            .arg(&dir)
            .arg("archinstall"),
    );
    let unpack = "import glob, sys, zipfile\nwheel = sorted(glob.glob(sys.argv[1] + '/archinstall-*.whl'))[-1]\nz = zipfile.ZipFile(wheel)\nz.extractall(sys.argv[1], [n for n in z.namelist() if n.startswith('archinstall/examples/')])\n";
    status(Command::new("python3").args(["-c", unpack]).arg(&dir));
    let _ = fs::remove_dir_all(&venv);
    examples
}
