//! A read-only TFTP server (RFC 1350) with the option extension (RFC 2347) for block size and
//! transfer size (RFC 2348, 2349), which iPXE and PXE firmware ask for.
//!
//! Written here rather than taken from a crate: the TFTP crates are async (a runtime for a
//! protocol of four packet types) or unmaintained, and a firmware client needs only read
//! requests. Each transfer gets its own socket and thread, as the RFC's transfer IDs want.

use std::{
    fs::File,
    io::Read,
    net::{SocketAddr, UdpSocket},
    path::{Component, Path, PathBuf},
    time::Duration,
};

use minicluster::record::NetbootEvent;

use crate::{
    NetbootError,
    events::{self, Events},
};

const RRQ: u16 = 1;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;
/// RFC 1350's block size, when the client asks for none.
const DEFAULT_BLOCK: usize = 512;
/// The largest block we agree to: an Ethernet frame without fragmentation.
const MAX_BLOCK: usize = 1468;
const RETRIES: u32 = 5;
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A read request: the file and the options the client asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// The file name as sent.
    pub file: String,
    /// `blksize`, when asked.
    pub block_size: Option<usize>,
    /// Whether `tsize` was asked.
    pub wants_size: bool,
}

/// Parses a read request; `None` for anything else (write requests are refused).
pub fn parse_request(packet: &[u8]) -> Option<Request> {
    if packet.get(..2)? != RRQ.to_be_bytes() {
        return None;
    }
    let mut fields = packet[2..].split(|&b| b == 0).map(String::from_utf8_lossy);
    let file = fields.next()?.into_owned();
    let _mode = fields.next()?;
    let mut request = Request {
        file,
        block_size: None,
        wants_size: false,
    };
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        match name.to_ascii_lowercase().as_str() {
            "blksize" => request.block_size = value.parse().ok().filter(|&n| n >= 8),
            "tsize" => request.wants_size = true,
            _ => {}
        }
    }
    Some(request)
}

/// The file below `root` that `name` names, refusing any way out of it.
pub fn resolve(root: &Path, name: &str) -> Option<PathBuf> {
    let relative = Path::new(name.trim_start_matches('/'));
    if relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        Some(root.join(relative))
    } else {
        None
    }
}

/// Serves the files below `root` on `socket` until the process ends.
pub fn serve(socket: UdpSocket, root: PathBuf, events: Events) {
    let mut buffer = [0u8; 1500];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let Some(request) = parse_request(&buffer[..len]) else {
            let _ = socket.send_to(&error_packet(4, "only read requests"), peer);
            continue;
        };
        let root = root.clone();
        let events = events.clone();
        let local = socket.local_addr().ok();
        std::thread::spawn(move || transfer(&root, request, peer, local, &events));
    }
}

fn transfer(
    root: &Path,
    request: Request,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    events: &Events,
) {
    let mut record = events::record(NetbootEvent::Tftp, "");
    record.address = Some(peer.ip().to_string());
    record.path = Some(request.file.clone());
    let bind = local.map_or_else(
        || SocketAddr::from(([0, 0, 0, 0], 0)),
        |addr| SocketAddr::new(addr.ip(), 0),
    );
    let result = UdpSocket::bind(bind)
        .map_err(|error| error.to_string())
        .and_then(|socket| send_file(&socket, root, &request, peer));
    match result {
        Ok(bytes) => {
            record.size_bytes = Some(bytes);
            record.message = format!("sent {} ({bytes} bytes)", request.file);
        }
        Err(message) => {
            record.ok = false;
            record.message = format!("{}: {message}", request.file);
        }
    }
    events.emit(record);
}

fn send_file(
    socket: &UdpSocket,
    root: &Path,
    request: &Request,
    peer: SocketAddr,
) -> Result<u64, String> {
    socket
        .set_read_timeout(Some(RETRY_AFTER))
        .map_err(|error| error.to_string())?;
    let opened = resolve(root, &request.file)
        .ok_or_else(|| "outside the TFTP root".to_owned())
        .and_then(|path| crate::http::open_file(&path).map_err(|error| error.to_string()));
    let (mut file, size) = match opened {
        Ok(opened) => opened,
        Err(message) => {
            let _ = socket.send_to(&error_packet(1, "file not found"), peer);
            return Err(message);
        }
    };
    let block_size = request
        .block_size
        .map_or(DEFAULT_BLOCK, |n| n.min(MAX_BLOCK));
    if request.block_size.is_some() || request.wants_size {
        let mut oack = OACK.to_be_bytes().to_vec();
        if request.block_size.is_some() {
            push_option(&mut oack, "blksize", &block_size.to_string());
        }
        if request.wants_size {
            push_option(&mut oack, "tsize", &size.to_string());
        }
        if !exchange(socket, &oack, peer, 0)? {
            // The client only wanted the size (iPXE asks, then requests again).
            return Ok(0);
        }
    }
    let mut block: u16 = 1;
    let mut sent = 0u64;
    let mut data = vec![0u8; block_size];
    loop {
        let len = read_full(&mut file, &mut data).map_err(|error| error.to_string())?;
        let mut packet = DATA.to_be_bytes().to_vec();
        packet.extend_from_slice(&block.to_be_bytes());
        packet.extend_from_slice(&data[..len]);
        if !exchange(socket, &packet, peer, block)? {
            return Err(format!("the client gave up after {sent} bytes"));
        }
        sent += len as u64;
        if len < block_size {
            return Ok(sent);
        }
        block = block.wrapping_add(1);
    }
}

/// Sends `packet` until the client acknowledges `block`: `Ok(false)` when it answers with an
/// error (it does not want the file after all).
fn exchange(
    socket: &UdpSocket,
    packet: &[u8],
    peer: SocketAddr,
    block: u16,
) -> Result<bool, String> {
    let mut answer = [0u8; 516];
    for _ in 0..RETRIES {
        socket
            .send_to(packet, peer)
            .map_err(|error| error.to_string())?;
        loop {
            match socket.recv_from(&mut answer) {
                Ok((len, from)) if from == peer && len >= 4 => {
                    let opcode = u16::from_be_bytes([answer[0], answer[1]]);
                    let acked = u16::from_be_bytes([answer[2], answer[3]]);
                    match opcode {
                        ACK if acked == block => return Ok(true),
                        ERROR => return Ok(false),
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    Err(format!("no acknowledgement of block {block}"))
}

fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn push_option(packet: &mut Vec<u8>, name: &str, value: &str) {
    for field in [name, value] {
        packet.extend_from_slice(field.as_bytes());
        packet.push(0);
    }
}

fn error_packet(code: u16, message: &str) -> Vec<u8> {
    let mut packet = ERROR.to_be_bytes().to_vec();
    packet.extend_from_slice(&code.to_be_bytes());
    packet.extend_from_slice(message.as_bytes());
    packet.push(0);
    packet
}

/// Binds the TFTP port on `address` (port 69 unless one is given).
pub fn bind(address: SocketAddr) -> Result<UdpSocket, NetbootError> {
    UdpSocket::bind(address).map_err(|source| NetbootError::Listen {
        address: address.to_string(),
        what: "tftp",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_requests_parse_with_their_options() {
        let packet = b"\x00\x01boot.ipxe\x00octet\x00blksize\x001432\x00tsize\x000\x00";
        let request = parse_request(packet).expect("a read request");
        assert_eq!(
            request,
            Request {
                file: "boot.ipxe".into(),
                block_size: Some(1432),
                wants_size: true
            }
        );
        assert!(
            parse_request(b"\x00\x02x\x00octet\x00").is_none(),
            "a write request"
        );
        assert!(parse_request(b"\x00").is_none());
    }

    #[test]
    fn names_cannot_leave_the_root() {
        let root = Path::new("/srv/tftp");
        assert_eq!(resolve(root, "/boot.ipxe"), Some(root.join("boot.ipxe")));
        assert_eq!(
            resolve(root, "efi/ipxe.efi"),
            Some(root.join("efi/ipxe.efi"))
        );
        assert_eq!(resolve(root, "../etc/shadow"), None);
        assert_eq!(resolve(root, "a/../../x"), None);
    }
}
