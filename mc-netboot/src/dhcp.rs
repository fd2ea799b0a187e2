//! Proxy-DHCP (PXE specification 2.1, section 2.2.3): next to the network's own DHCP server,
//! which hands out addresses, answer a booting machine's DHCPDISCOVER with only the boot
//! server and file; and answer the ProxyDHCPREQUEST iPXE then sends to port 4011.
//!
//! The boot file follows what the client is (DHCP options 77, 175 and 93, RFC 4578): iPXE gets
//! `boot.ipxe` (which chains to HTTP), BIOS PXE `undionly.kpxe` and UEFI PXE `ipxe.efi` (both
//! iPXE builds, to be put into the TFTP root: Debian's and Arch's `ipxe` packages ship them).
//! Only enrolled machines that are not installed yet get an answer, so an installed machine's
//! firmware goes on to boot from its disk.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

use dhcproto::{
    Decodable, Encodable,
    v4::{self, DhcpOption, MessageType, Opcode, OptionCode},
};
use minicluster::record::NetbootEvent;
use socket2::{Domain, Protocol, Socket, Type};

use crate::{
    NetbootError,
    events::{self, Events},
    layout::{BOOT_SCRIPT, Layout, Mac},
};

/// The DHCP server port.
pub const SERVER_PORT: u16 = 67;
/// The PXE boot server port, where iPXE sends its ProxyDHCPREQUEST.
pub const PXE_PORT: u16 = 4011;
const CLIENT_PORT: u16 = 68;

/// What a client runs, as its DHCP options say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// iPXE already (QEMU's option ROM, or after a chain-load).
    Ipxe,
    /// BIOS PXE (option 93 = 0).
    Bios,
    /// UEFI PXE (option 93 = 7 or 9, x86-64).
    Uefi,
}

impl Firmware {
    /// The client's firmware; `None` for an architecture we have no boot file for.
    pub fn of(message: &v4::Message) -> Option<Self> {
        let opts = message.opts();
        let user_class_ipxe = matches!(opts.get(OptionCode::UserClass),
            Some(DhcpOption::UserClass(class)) if class.windows(4).any(|w| w == b"iPXE"));
        if user_class_ipxe || opts.get(OptionCode::Unknown(175)).is_some() {
            return Some(Self::Ipxe);
        }
        match opts.get(OptionCode::ClientSystemArchitecture) {
            Some(DhcpOption::ClientSystemArchitecture(arch)) => match u16::from(*arch) {
                0 => Some(Self::Bios),
                7 | 9 => Some(Self::Uefi),
                _ => None,
            },
            _ => Some(Self::Bios),
        }
    }

    /// The word records use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipxe => "ipxe",
            Self::Bios => "bios",
            Self::Uefi => "uefi",
        }
    }

    /// The file it boots next, from the TFTP root.
    pub fn boot_file(self) -> &'static str {
        match self {
            Self::Ipxe => BOOT_SCRIPT,
            Self::Bios => "undionly.kpxe",
            Self::Uefi => "ipxe.efi",
        }
    }
}

/// Whether the client says it boots by PXE (option 60 starts with `PXEClient`).
fn is_pxe_client(message: &v4::Message) -> bool {
    matches!(message.opts().get(OptionCode::ClassIdentifier),
        Some(DhcpOption::ClassIdentifier(class)) if class.starts_with(b"PXEClient"))
}

/// The proxy answer to `request` (a DISCOVER on port 67, or a REQUEST on port 4011) from the
/// boot server `server`: no address, only the server and the boot file.
pub fn answer(request: &v4::Message, server: Ipv4Addr, firmware: Firmware) -> v4::Message {
    let kind = if request.opts().has_msg_type(MessageType::Request) {
        MessageType::Ack
    } else {
        MessageType::Offer
    };
    let mut reply = v4::Message::new_with_id(
        request.xid(),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        server,
        request.giaddr(),
        request.chaddr(),
    );
    reply
        .set_opcode(Opcode::BootReply)
        .set_flags(request.flags())
        .set_fname_str(firmware.boot_file());
    let opts = reply.opts_mut();
    opts.insert(DhcpOption::MessageType(kind));
    opts.insert(DhcpOption::ServerIdentifier(server));
    opts.insert(DhcpOption::ClassIdentifier(b"PXEClient".to_vec()));
    // PXE_DISCOVERY_CONTROL = 8: boot the file in this answer, no boot server discovery.
    opts.insert(DhcpOption::VendorExtensions(vec![6, 1, 8, 255]));
    if let Some(DhcpOption::ClientMachineIdentifier(uuid)) =
        request.opts().get(OptionCode::ClientMachineIdentifier)
    {
        opts.insert(DhcpOption::ClientMachineIdentifier(uuid.clone()));
    }
    reply
}

/// A UDP socket on `port` of every address, allowed to broadcast, bound to `interface` when
/// given (so broadcasts go out there without a default route).
pub fn bind(port: u16, interface: Option<&str>) -> Result<UdpSocket, NetbootError> {
    let address = SocketAddr::from(([0, 0, 0, 0], port));
    let listen = |source| NetbootError::Listen {
        address: format!("{address} {}", interface.unwrap_or("")),
        what: "proxy-dhcp",
        source,
    };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(listen)?;
    socket.set_reuse_address(true).map_err(listen)?;
    socket.set_broadcast(true).map_err(listen)?;
    if let Some(interface) = interface {
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(listen)?;
    }
    socket.bind(&address.into()).map_err(listen)?;
    Ok(socket.into())
}

/// Answers on `socket` (port 67: DISCOVERs, broadcast back; port 4011: REQUESTs, answered to
/// their sender) until the process ends.
pub fn serve(socket: UdpSocket, server: Ipv4Addr, layout: Layout, events: Events) {
    let mut buffer = [0u8; 1500];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let Ok(request) = v4::Message::from_bytes(&buffer[..len]) else {
            continue;
        };
        let discover = request.opts().has_msg_type(MessageType::Discover);
        let proxy_request =
            request.opts().has_msg_type(MessageType::Request) && peer.port() != CLIENT_PORT;
        if request.opcode() != Opcode::BootRequest
            || !(discover || proxy_request)
            || !is_pxe_client(&request)
        {
            continue;
        }
        let Some(mac) = Mac::from_bytes(request.chaddr()) else {
            continue;
        };
        let Some(firmware) = Firmware::of(&request) else {
            continue;
        };
        let enrolled = layout.enrolled(mac).ok().flatten();
        let mut record = events::record(NetbootEvent::Dhcp, "");
        record.mac = Some(mac.to_string());
        record.firmware = Some(firmware.name().to_owned());
        let Some(machine) = enrolled else {
            record.ok = false;
            record.message = format!("{mac} is not enrolled: not answered");
            events.emit(record);
            continue;
        };
        record.machine = Some(machine.hostname.clone());
        if layout.outcome(mac).is_some() {
            record.message = format!("{mac} is installed: not answered, it boots from its disk");
            events.emit(record);
            continue;
        }
        let reply = answer(&request, server, firmware);
        let destination = if discover {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT))
        } else {
            peer
        };
        let sent = reply
            .to_vec()
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                socket
                    .send_to(&bytes, destination)
                    .map_err(|error| error.to_string())
            });
        record.path = Some(firmware.boot_file().to_owned());
        if let SocketAddr::V4(peer) = peer
            && !peer.ip().is_unspecified()
        {
            record.address = Some(peer.ip().to_string());
        }
        match sent {
            Ok(_) => {
                let kind = if discover { "offer" } else { "ack" };
                record.message = format!("proxy {kind}: {} from {server}", firmware.boot_file());
            }
            Err(error) => {
                record.ok = false;
                record.message = format!("sending to {destination}: {error}");
            }
        }
        events.emit(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover(options: &[DhcpOption]) -> v4::Message {
        let mut message = v4::Message::new_with_id(
            7,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &[0x52, 0x54, 0, 0x12, 0x34, 0x56],
        );
        message
            .opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        message.opts_mut().insert(DhcpOption::ClassIdentifier(
            b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
        ));
        for option in options {
            message.opts_mut().insert(option.clone());
        }
        // Through the wire format, as the server sees it.
        v4::Message::from_bytes(&message.to_vec().expect("encodes")).expect("decodes")
    }

    #[test]
    fn the_boot_file_follows_the_firmware() {
        let arch = |n: u16| DhcpOption::ClientSystemArchitecture(n.into());
        let bios = discover(&[arch(0)]);
        assert_eq!(Firmware::of(&bios), Some(Firmware::Bios));
        assert_eq!(Firmware::of(&discover(&[arch(7)])), Some(Firmware::Uefi));
        assert_eq!(Firmware::of(&discover(&[arch(9)])), Some(Firmware::Uefi));
        assert_eq!(Firmware::of(&discover(&[arch(2)])), None, "Itanium");
        let ipxe = discover(&[arch(0), DhcpOption::UserClass(b"iPXE".to_vec())]);
        assert_eq!(Firmware::of(&ipxe), Some(Firmware::Ipxe));
        assert!(is_pxe_client(&bios));
    }

    #[test]
    fn a_proxy_offer_names_the_server_and_file_but_no_address() {
        let server = Ipv4Addr::new(10, 77, 0, 1);
        let request = discover(&[DhcpOption::ClientSystemArchitecture(7.into())]);
        let reply = answer(&request, server, Firmware::Uefi);
        let reply = v4::Message::from_bytes(&reply.to_vec().expect("encodes")).expect("decodes");
        assert_eq!(reply.opcode(), Opcode::BootReply);
        assert_eq!(reply.xid(), 7);
        assert_eq!(reply.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(reply.siaddr(), server);
        assert_eq!(reply.chaddr(), request.chaddr());
        let file = reply.fname_str().and_then(Result::ok).unwrap_or_default();
        assert_eq!(file.trim_end_matches('\0'), "ipxe.efi");
        assert!(reply.opts().has_msg_type(MessageType::Offer));
        assert!(is_pxe_client(&reply));
        assert_eq!(
            reply.opts().get(OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(server))
        );
    }
}
