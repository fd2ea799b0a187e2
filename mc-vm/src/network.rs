//! Private networks of machines: one Ethernet segment per network, with a fixed address for
//! each machine on it, and no change to the host's network (no root, no bridge, no tap).
//!
//! Each network has a switch: a QEMU without a machine (`-M none`) whose emulated hub joins one
//! UDP socket netdev per member (`-netdev socket,udp=...` + `-netdev hubport,netdev=...`). Each
//! member's QEMU has a socket netdev sending to its port on the switch, so a frame from one
//! machine reaches every other. UDP rather than QEMU's TCP `listen=`/`connect=` pairs: a member
//! can stop and start again (a fail-over, a revert) without the others noticing, and the order
//! machines start in does not matter. The host's loopback multicast would need the `MULTICAST`
//! flag on `lo`, which containers often lack.
//!
//! `STATE/.net/NAME/network.toml` holds the members and their ports (picked free when a machine
//! joins); the switch's pid file and log are beside it. The switch starts with the first member
//! and stops with the last; it restarts when the members changed.

use std::{ffi::OsString, fs, net::UdpSocket, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    VmError,
    machine::{Machine, MachineError, State},
    qemu::{self, Files},
};

/// A machine's card on a private network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    /// The network's name.
    pub network: String,
    /// The machine's address on it with its prefix length (`10.77.0.2/24`).
    pub address: String,
}

impl std::str::FromStr for Nic {
    type Err = String;

    /// `NETWORK:ADDRESS/PREFIX`, e.g. `lan:10.77.0.2/24`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (network, address) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected NETWORK:ADDRESS/PREFIX"))?;
        let nic = Self {
            network: network.to_owned(),
            address: address.to_owned(),
        };
        nic.ipv4()?;
        Ok(nic)
    }
}

impl Nic {
    /// The address and its netmask (`10.77.0.2`, `255.255.255.0`).
    pub fn ipv4(&self) -> Result<(std::net::Ipv4Addr, std::net::Ipv4Addr), String> {
        let bad = || format!("{:?}: expected an IPv4 address/prefix", self.address);
        let (address, prefix) = self.address.split_once('/').ok_or_else(bad)?;
        let address: std::net::Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u32 = prefix
            .parse()
            .ok()
            .filter(|&p| (1..=32).contains(&p))
            .ok_or_else(bad)?;
        let mask = u32::MAX << (32 - prefix);
        Ok((address, mask.into()))
    }
}

/// The PCI slot of a machine's card number `index` on a private network: fixed, so that the
/// guest names it `ens{slot}` whatever else the machine has.
pub fn slot(index: usize) -> usize {
    16 + index
}

/// The guest's name for that card: systemd's predictable name from the slot number QEMU's
/// ACPI tables give each PCI slot (`ens16`; checked in a Debian bookworm guest).
pub fn guest_interface(index: usize) -> String {
    format!("ens{}", slot(index))
}

/// The card's MAC address: QEMU's prefix, then bytes of a hash of the machine and network,
/// so it stays the same across starts and differs between machines.
pub fn mac(machine: &str, network: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{machine}\0{network}").as_bytes());
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        digest[0], digest[1], digest[2]
    )
}

/// The kernel command line that gives the guest its fixed addresses: systemd-network-generator
/// turns each `ip=` into a `.network` file (images made by `mc-vm image build` enable it).
pub fn kernel_args(machine: &Machine) -> Result<String, String> {
    let mut args = Vec::new();
    for (index, nic) in machine.nics.iter().enumerate() {
        let (address, mask) = nic.ipv4()?;
        args.push(format!(
            "ip={address}:::{mask}::{}:off",
            guest_interface(index)
        ));
    }
    Ok(args.join(" "))
}

/// A network's members and their ports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The members, in the order they joined.
    #[serde(default)]
    pub members: Vec<Member>,
}

/// One machine on a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The machine.
    pub machine: String,
    /// The switch's UDP port for this machine on 127.0.0.1.
    pub switch_port: u16,
    /// The machine's own UDP port on 127.0.0.1.
    pub machine_port: u16,
}

impl Network {
    /// The member `machine`.
    pub fn member(&self, machine: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.machine == machine)
    }

    /// The switch's QEMU arguments, for its `files`: one UDP port and hub port per member.
    pub fn switch_command_line(&self, name: &str, files: &Files) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "-name",
            &format!("net-{name}"),
            "-M",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-daemonize",
            "-pidfile",
            &files.pid().display().to_string(),
        ]
        .iter()
        .map(OsString::from)
        .collect();
        for (index, member) in self.members.iter().enumerate() {
            args.push("-netdev".into());
            args.push(
                format!(
                    "socket,id=port{index},udp=127.0.0.1:{},localaddr=127.0.0.1:{}",
                    member.machine_port, member.switch_port
                )
                .into(),
            );
            args.push("-netdev".into());
            args.push(format!("hubport,id=hub{index},hubid=0,netdev=port{index}").into());
        }
        args
    }
}

/// The QEMU arguments of `machine`'s cards on private networks: for card `index`, a UDP socket
/// to its port on the network's switch, on a fixed PCI slot and MAC.
pub fn machine_args(machine: &Machine, networks: &[Network]) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for (index, (nic, network)) in machine.nics.iter().zip(networks).enumerate() {
        let member = network.member(&machine.name).ok_or_else(|| {
            format!(
                "{} is not a member of network {}",
                machine.name, nic.network
            )
        })?;
        args.push("-netdev".to_owned());
        args.push(format!(
            "socket,id=lan{index},udp=127.0.0.1:{},localaddr=127.0.0.1:{}",
            member.switch_port, member.machine_port
        ));
        args.push("-device".to_owned());
        args.push(format!(
            "virtio-net-pci,netdev=lan{index},mac={},addr={:#x}",
            mac(&machine.name, &nic.network),
            slot(index)
        ));
    }
    Ok(args)
}

/// The folder of network `name`.
fn dir(state: &State, name: &str) -> Result<PathBuf, MachineError> {
    // The same rules as a machine's name; `.net` cannot be a machine's folder.
    let checked = state.dir(name)?;
    let base = checked.parent().map(|p| p.join(".net")).unwrap_or_default();
    Ok(base.join(name))
}

/// Reads network `name` (empty when it has no members yet).
pub fn load(state: &State, name: &str) -> Result<Network, VmError> {
    let path = dir(state, name)?.join("network.toml");
    match fs::read_to_string(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Network::default()),
        Err(error) => Err(VmError::io("reading", &path)(error)),
        Ok(text) => toml::from_str(&text).map_err(|error| VmError::Network {
            name: name.to_owned(),
            message: format!("{}: {error}", path.display()),
        }),
    }
}

/// Makes `machine` a member of each of its networks (new ports for a new member) and takes it
/// out of networks it no longer names.
pub fn join(state: &State, machine: &Machine, left: &[String]) -> Result<(), VmError> {
    for nic in &machine.nics {
        change(state, &nic.network, |network| {
            if network.member(&machine.name).is_none() {
                network.members.push(Member {
                    machine: machine.name.clone(),
                    switch_port: free_udp_port()?,
                    machine_port: free_udp_port()?,
                });
            }
            Ok(())
        })?;
    }
    for name in left {
        if !machine.nics.iter().any(|nic| &nic.network == name) {
            change(state, name, |network| {
                network.members.retain(|m| m.machine != machine.name);
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Changes network `name`'s definition under its lock, atomically.
fn change(
    state: &State,
    name: &str,
    edit: impl FnOnce(&mut Network) -> Result<(), VmError>,
) -> Result<(), VmError> {
    let dir = dir(state, name)?;
    fs::create_dir_all(&dir).map_err(VmError::io("creating", &dir))?;
    let _lock = lock(&dir)?;
    let mut network = load(state, name)?;
    edit(&mut network)?;
    let path = dir.join("network.toml");
    let partial = dir.join("network.toml.partial");
    let text = toml::to_string(&network).unwrap_or_default();
    fs::write(&partial, text).map_err(VmError::io("writing", &partial))?;
    fs::rename(&partial, &path).map_err(VmError::io("renaming", &partial))
}

fn lock(dir: &std::path::Path) -> Result<fs::File, VmError> {
    let path = dir.join("lock");
    let file = fs::File::create(&path).map_err(VmError::io("creating", &path))?;
    file.lock().map_err(VmError::io("locking", &path))?;
    Ok(file)
}

/// A UDP port on 127.0.0.1 that is free now.
fn free_udp_port() -> Result<u16, VmError> {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map_err(VmError::io("binding", "127.0.0.1:0".as_ref()))?;
    Ok(socket.port())
}

/// Starts the switch of network `name` unless it runs with its current members already.
pub fn ensure_switch(state: &State, name: &str) -> Result<(), VmError> {
    let dir = dir(state, name)?;
    fs::create_dir_all(&dir).map_err(VmError::io("creating", &dir))?;
    let _lock = lock(&dir)?;
    let network = load(state, name)?;
    let files = Files::new(dir.clone());
    let args = network.switch_command_line(name, &files);
    let signature: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let signature = signature.join(" ");
    let running = dir.join("running");
    if let Some(pid) = files.running_pid() {
        if fs::read_to_string(&running).is_ok_and(|s| s == signature) {
            return Ok(());
        }
        stop_switch(&files, pid)?;
    }
    qemu::daemonize(&args, &files).map_err(|message| VmError::Network {
        name: name.to_owned(),
        message,
    })?;
    fs::write(&running, signature).map_err(VmError::io("writing", &running))
}

/// Stops the switch of network `name` when none of its members runs.
pub fn release(state: &State, name: &str) -> Result<(), VmError> {
    let dir = dir(state, name)?;
    if !dir.is_dir() {
        return Ok(());
    }
    let _lock = lock(&dir)?;
    let network = load(state, name)?;
    let members_running = network.members.iter().any(|member| {
        state
            .dir(&member.machine)
            .is_ok_and(|d| Files::new(d).running_pid().is_some())
    });
    let files = Files::new(dir);
    match files.running_pid() {
        Some(pid) if !members_running => stop_switch(&files, pid),
        _ => Ok(()),
    }
}

fn stop_switch(files: &Files, pid: u32) -> Result<(), VmError> {
    qemu::kill(pid);
    if !qemu::wait_gone(pid, Duration::from_secs(10)) {
        return Err(VmError::NoExit(pid));
    }
    files.clean_up();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(nics: &[&str]) -> Machine {
        Machine {
            name: "pg1".to_owned(),
            memory_mib: 512,
            cpus: 1,
            kernel: None,
            initrd: None,
            append: None,
            disks: Vec::new(),
            agent: true,
            net: false,
            forwards: Vec::new(),
            nics: nics.iter().map(|n| n.parse().expect("a nic")).collect(),
        }
    }

    #[test]
    fn nics_parse_and_give_the_guest_its_address_and_netmask() {
        let pg = machine(&["lan:10.77.0.2/24", "back:192.168.5.9/16"]);
        assert_eq!(
            kernel_args(&pg).expect("valid"),
            "ip=10.77.0.2:::255.255.255.0::ens16:off ip=192.168.5.9:::255.255.0.0::ens17:off"
        );
        for bad in [
            "lan",
            "lan:10.77.0.2",
            "lan:10.77.0.300/24",
            "lan:10.0.0.1/33",
        ] {
            assert!(bad.parse::<Nic>().is_err(), "{bad}");
        }
    }

    #[test]
    fn each_member_sends_to_its_own_switch_port_and_the_switch_joins_them_in_one_hub() {
        let network = Network {
            members: vec![
                Member {
                    machine: "pg1".into(),
                    switch_port: 4001,
                    machine_port: 5001,
                },
                Member {
                    machine: "pg2".into(),
                    switch_port: 4002,
                    machine_port: 5002,
                },
            ],
        };
        let args = machine_args(
            &machine(&["lan:10.77.0.1/24"]),
            std::slice::from_ref(&network),
        )
        .expect("member");
        assert_eq!(
            args[1],
            "socket,id=lan0,udp=127.0.0.1:4001,localaddr=127.0.0.1:5001"
        );
        assert!(
            args[3].starts_with("virtio-net-pci,netdev=lan0,mac=52:54:00:"),
            "{args:?}"
        );
        assert!(args[3].ends_with(",addr=0x10"), "{args:?}");
        let files = Files::new(PathBuf::from("/s/.net/lan"));
        let switch: Vec<String> = network
            .switch_command_line("lan", &files)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            switch.contains(
                &"socket,id=port1,udp=127.0.0.1:5002,localaddr=127.0.0.1:4002".to_owned()
            )
        );
        assert!(switch.contains(&"hubport,id=hub1,hubid=0,netdev=port1".to_owned()));
        let stranger = Machine {
            name: "web".into(),
            ..machine(&["lan:10.77.0.9/24"])
        };
        assert!(machine_args(&stranger, &[network]).is_err());
    }

    #[test]
    fn macs_are_stable_and_differ_between_machines() {
        assert_eq!(mac("pg1", "lan"), mac("pg1", "lan"));
        assert_ne!(mac("pg1", "lan"), mac("pg2", "lan"));
        assert!(mac("pg1", "lan").starts_with("52:54:00:"));
    }
}
