//! `serve`: TFTP, HTTP and (with `--proxy-dhcp`) proxy-DHCP in one process, a `netboot` record
//! per event; with `until_installed`, it returns once every enrolled machine has finished
//! (or gone silent for longer than the timeout).
//!
//! HTTP paths: `/ipxe/MAC` (the machine's iPXE script); below `/m/TOKEN/` what only that
//! machine's script names: `vmlinuz`, `initrd`, `answer`, `extents`, `disk?start=&count=`,
//! `archiso/...`, `auto.sh`, `config.json`, `creds.json`; and the installer's reports,
//! `POST /m/TOKEN/step/NAME`, `POST /m/TOKEN/done`, `POST /m/TOKEN/failed/NAME` (body: its log).

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use minicluster::record::{NetbootEvent, NetbootRecord};

use crate::{
    NetbootError, dhcp,
    events::{self, Events},
    http::{self, Handler, Request, Response},
    installer::{self, BLOCK},
    ipxe,
    layout::{BOOT_SCRIPT, Enrolled, Layout, Mac, Outcome, write_atomic},
    tftp,
};

/// How `serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The address to serve on; its IP goes into every URL and DHCP answer.
    pub listen: SocketAddr,
    /// The interface for proxy-DHCP broadcasts; found from the address when not given.
    pub interface: Option<String>,
    /// Answer PXE clients as a proxy-DHCP server.
    pub proxy_dhcp: bool,
    /// Serve TFTP (off when dnsmasq does).
    pub tftp: bool,
    /// Return once every enrolled machine finished.
    pub until_installed: bool,
    /// A machine that reports nothing for this long is failed (with `until_installed`).
    pub timeout: Duration,
}

/// How a `serve` that waited for the machines ended.
#[derive(Debug, Default)]
pub struct Finished {
    /// Machines installed.
    pub done: usize,
    /// Machines that failed or timed out.
    pub failed: usize,
}

/// What the server knows of each machine while it runs: the last log it sent, and when it
/// was last heard of.
#[derive(Default)]
struct Progress {
    last_log: String,
    heard_at: Option<Instant>,
}

struct Server {
    layout: Layout,
    base: String,
    events: Events,
    progress: Mutex<BTreeMap<String, Progress>>,
}

/// Runs the server; returns only with `until_installed` (or on an error at start).
pub fn serve(
    layout: Layout,
    options: &ServeOptions,
    events: Events,
) -> Result<Finished, NetbootError> {
    let IpAddr::V4(ip) = options.listen.ip() else {
        return Err(listen_error(
            options,
            "an IPv4 address is needed (DHCP and PXE are IPv4)",
        ));
    };
    if ip.is_unspecified() {
        return Err(listen_error(
            options,
            "give the address clients reach, not 0.0.0.0: it goes into every URL",
        ));
    }
    let listener = http::bind(options.listen)?;
    let port = listener
        .local_addr()
        .map_err(|source| NetbootError::Listen {
            address: options.listen.to_string(),
            what: "http",
            source,
        })?
        .port();
    let base = format!("http://{ip}:{port}");
    let tftp_root = layout.tftp();
    write_atomic(
        &tftp_root.join(BOOT_SCRIPT),
        ipxe::boot_script(&base).as_bytes(),
        0o644,
    )?;
    provide_ipxe(&tftp_root)?;
    let tftp_socket = options
        .tftp
        .then(|| tftp::bind(SocketAddr::new(IpAddr::V4(ip), 69)))
        .transpose()?;
    let dhcp_sockets = if options.proxy_dhcp {
        let interface = match &options.interface {
            Some(interface) => Some(interface.clone()),
            None => interface_of(ip),
        };
        Some((
            dhcp::bind(dhcp::SERVER_PORT, interface.as_deref())?,
            dhcp::bind(dhcp::PXE_PORT, interface.as_deref())?,
        ))
    } else {
        None
    };
    let server = Arc::new(Server {
        layout: layout.clone(),
        base: base.clone(),
        events: events.clone(),
        progress: Mutex::new(BTreeMap::new()),
    });
    let handler: Arc<dyn Handler> = server.clone();
    std::thread::spawn(move || http::serve(listener, handler));
    if let Some(socket) = tftp_socket {
        let (root, events) = (tftp_root.clone(), events.clone());
        std::thread::spawn(move || tftp::serve(socket, root, events));
    }
    if let Some((discover, request)) = dhcp_sockets {
        for socket in [discover, request] {
            let (layout, events) = (layout.clone(), events.clone());
            std::thread::spawn(move || dhcp::serve(socket, ip, layout, events));
        }
    }
    let mut record = events::record(
        NetbootEvent::Listening,
        format!(
            "HTTP on {base}{}{}",
            if options.tftp {
                ", TFTP on port 69"
            } else {
                ""
            },
            if options.proxy_dhcp {
                ", proxy-DHCP on ports 67 and 4011"
            } else {
                ""
            }
        ),
    );
    record.address = Some(ip.to_string());
    record.path = Some(format!("{base}/"));
    events.emit(record);
    if !options.until_installed {
        loop {
            std::thread::park();
        }
    }
    Ok(server.wait(options.timeout))
}

fn listen_error(options: &ServeOptions, message: &str) -> NetbootError {
    NetbootError::Listen {
        address: options.listen.to_string(),
        what: "http",
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    }
}

/// iPXE builds for PXE clients that do not run iPXE yet (the proxy's boot files, see
/// [`dhcp::Firmware`]), where Debian's `ipxe` package puts them.
const IPXE_BUILDS: &[(&str, &str)] = &[
    ("undionly.kpxe", "/usr/lib/ipxe/undionly.kpxe"),
    ("ipxe.efi", "/usr/lib/ipxe/ipxe.efi"),
];

/// Copies the installed iPXE builds into the TFTP root, unless it has its own.
fn provide_ipxe(tftp_root: &Path) -> Result<(), NetbootError> {
    for (name, installed) in IPXE_BUILDS {
        let (target, installed) = (tftp_root.join(name), Path::new(installed));
        if !target.exists() && installed.is_file() {
            let bytes = std::fs::read(installed).map_err(NetbootError::io("reading", installed))?;
            write_atomic(&target, &bytes, 0o644)?;
        }
    }
    Ok(())
}

/// The interface that holds `ip`, for broadcasts out of it.
fn interface_of(ip: Ipv4Addr) -> Option<String> {
    ipv4_addresses()
        .into_iter()
        .find_map(|(interface, address)| (address == ip).then_some(interface))
}

/// The first IPv4 address of `interface`, for `serve --interface` without `--listen`.
pub fn address_of(interface: &str) -> Result<Ipv4Addr, NetbootError> {
    ipv4_addresses()
        .into_iter()
        .find_map(|(name, address)| (name == interface).then_some(address))
        .ok_or_else(|| NetbootError::NoAddress(interface.to_owned()))
}

/// Every interface's IPv4 addresses (`ip -o -4 addr show`: `2: br0    inet 10.77.0.1/24 ...`).
fn ipv4_addresses() -> Vec<(String, Ipv4Addr)> {
    let Ok(out) = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let address = words.get(3)?.split('/').next()?.parse().ok()?;
            Some(((*words.get(1)?).to_owned(), address))
        })
        .collect()
}

impl Server {
    /// Waits until every enrolled machine has an outcome; a machine silent for `timeout` (since
    /// the start, or since it was last heard of) is failed with its last log lines.
    fn wait(&self, timeout: Duration) -> Finished {
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let machines = self.layout.all_enrolled().unwrap_or_default();
            let mut finished = Finished::default();
            let mut waiting = false;
            for machine in &machines {
                let Ok(mac) = Mac::parse(&machine.mac) else {
                    continue;
                };
                match self.layout.outcome(mac) {
                    Some(Outcome::Done) => finished.done += 1,
                    Some(Outcome::Failed { .. }) => finished.failed += 1,
                    None => {
                        let heard = self
                            .progress
                            .lock()
                            .ok()
                            .and_then(|p| p.get(&machine.mac).and_then(|p| p.heard_at));
                        if heard.unwrap_or(started).elapsed() > timeout {
                            self.time_out(machine, mac, timeout);
                            finished.failed += 1;
                        } else {
                            waiting = true;
                        }
                    }
                }
            }
            if !waiting && !machines.is_empty() {
                return finished;
            }
        }
    }

    fn time_out(&self, machine: &Enrolled, mac: Mac, timeout: Duration) {
        let last = self
            .progress
            .lock()
            .ok()
            .and_then(|p| p.get(&machine.mac).map(|p| p.last_log.clone()))
            .unwrap_or_default();
        let _ = self.layout.set_outcome(
            mac,
            &Outcome::Failed {
                step: "timeout".into(),
            },
        );
        let mut record = self.machine_record(NetbootEvent::Failed, machine);
        record.ok = false;
        record.step = Some("timeout".into());
        record.log = Some(last_lines(&last, 20));
        record.message = format!(
            "{}: no word from the installer for {} s",
            machine.hostname,
            timeout.as_secs()
        );
        self.events.emit(record);
    }

    fn machine_record(&self, event: NetbootEvent, machine: &Enrolled) -> NetbootRecord {
        let mut record = events::record(event, "");
        record.mac = Some(machine.mac.clone());
        record.machine = Some(machine.hostname.clone());
        record
    }

    fn by_token(&self, token: &str) -> Option<(Mac, Enrolled)> {
        self.layout
            .all_enrolled()
            .ok()?
            .into_iter()
            .find(|machine| machine.token == token)
            .and_then(|machine| Some((Mac::parse(&machine.mac).ok()?, machine)))
    }

    fn heard(&self, machine: &Enrolled, log: Option<&str>) {
        if let Ok(mut progress) = self.progress.lock() {
            let entry = progress.entry(machine.mac.clone()).or_default();
            entry.heard_at = Some(Instant::now());
            if let Some(log) = log {
                entry.last_log = log.to_owned();
            }
        }
    }

    /// A machine's own paths, below `/m/TOKEN/`.
    fn machine_path(
        &self,
        request: &Request,
        mac: Mac,
        machine: &Enrolled,
        rest: &str,
    ) -> Response {
        self.heard(machine, None);
        let dir = self.layout.machine_dir(mac);
        let image = machine
            .image
            .as_ref()
            .map(|name| self.layout.images().join(name));
        let finished = self.layout.outcome(mac).is_some();
        match (request.method.as_str(), rest) {
            ("POST", _) => self.report(request, mac, machine, rest),
            // Secrets go out only while the machine installs.
            (_, "answer" | "config.json" | "creds.json") if finished => {
                Response::Text(403, "installed\n".into())
            }
            (_, "answer" | "config.json" | "creds.json") => Response::File(dir.join(rest)),
            (_, "auto.sh") => Response::Text(200, archinstall_script(&self.base, &machine.token)),
            (_, "vmlinuz" | "extents") => match image {
                Some(image) => Response::File(image.join(rest)),
                None => Response::Text(404, "no image\n".into()),
            },
            (_, "initrd") => match image {
                Some(image) => Response::File(image.join("installer.img")),
                None => Response::Text(404, "no image\n".into()),
            },
            (_, "disk") => match (image, parse_blocks(request.query.as_deref())) {
                (Some(image), Some((start, count))) => Response::Part {
                    path: image.join(installer::DISK),
                    offset: start * BLOCK,
                    length: count * BLOCK,
                },
                _ => Response::Text(400, "want ?start=N&count=M\n".into()),
            },
            _ => match (rest.strip_prefix("archiso/"), &machine.archiso) {
                (Some(file), Some(archiso)) => match tftp::resolve(archiso, file) {
                    Some(path) => Response::File(path),
                    None => Response::Text(403, "outside the artifacts\n".into()),
                },
                _ => Response::Text(404, "not found\n".into()),
            },
        }
    }

    /// The installer phoning home.
    fn report(&self, request: &Request, mac: Mac, machine: &Enrolled, rest: &str) -> Response {
        let log = String::from_utf8_lossy(&request.body).into_owned();
        self.heard(machine, Some(&log));
        let (event, step) = match rest.split_once('/') {
            Some(("step", step)) => (NetbootEvent::Step, Some(step)),
            Some(("failed", step)) => (NetbootEvent::Failed, Some(step)),
            None if rest == "done" => (NetbootEvent::Done, None),
            _ => return Response::Text(404, "not a report\n".into()),
        };
        let mut record = self.machine_record(event, machine);
        record.address = Some(request.peer.ip().to_string());
        record.step = step.map(str::to_owned);
        match event {
            NetbootEvent::Step => {
                record.message = format!("{}: {} done", machine.hostname, step.unwrap_or(""));
            }
            NetbootEvent::Done => {
                let _ = self.layout.set_outcome(mac, &Outcome::Done);
                record.log = Some(log);
                record.message = format!("{} installed; it boots from its disk", machine.hostname);
            }
            _ => {
                let step = step.unwrap_or("").to_owned();
                record.ok = false;
                record.log = Some(log);
                record.message = format!("{}: step {step} failed", machine.hostname);
                let _ = self.layout.set_outcome(mac, &Outcome::Failed { step });
            }
        }
        self.events.emit(record);
        Response::Text(200, "ok\n".into())
    }
}

impl Handler for Server {
    fn respond(&self, request: &Request) -> Response {
        let path = request.path.trim_start_matches('/');
        if let Some(mac) = path.strip_prefix("ipxe/") {
            return match Mac::parse(mac) {
                Ok(mac) => match self.layout.enrolled(mac).ok().flatten() {
                    Some(machine) => Response::Text(
                        200,
                        ipxe::machine_script(
                            &machine,
                            &self.base,
                            self.layout.outcome(mac).as_ref(),
                        ),
                    ),
                    None => Response::Text(200, ipxe::not_enrolled(&mac.to_string())),
                },
                Err(_) => Response::Text(400, "bad MAC\n".into()),
            };
        }
        if let Some((token, rest)) = path.strip_prefix("m/").and_then(|p| p.split_once('/'))
            && let Some((mac, machine)) = self.by_token(token)
        {
            return self.machine_path(request, mac, &machine, rest);
        }
        Response::Text(404, "not found\n".into())
    }

    fn sent(&self, request: &Request, result: Result<u64, String>) {
        let path = request.path.trim_start_matches('/');
        // Reports have their own records, and the disk's extents are the write-disk step.
        if request.method == "POST" || path.ends_with("/disk") {
            return;
        }
        let mut record = events::record(NetbootEvent::Http, "");
        record.address = Some(request.peer.ip().to_string());
        let shown = match path.strip_prefix("m/").and_then(|p| p.split_once('/')) {
            // The token stays out of the records, which are not secret.
            Some((token, rest)) => {
                if let Some((_, machine)) = self.by_token(token) {
                    record.mac = Some(machine.mac.clone());
                    record.machine = Some(machine.hostname.clone());
                }
                format!("/m/TOKEN/{rest}")
            }
            None => format!("/{path}"),
        };
        if let Some(mac) = path.strip_prefix("ipxe/").and_then(|m| Mac::parse(m).ok()) {
            record.mac = Some(mac.to_string());
            record.machine = self.layout.enrolled(mac).ok().flatten().map(|m| m.hostname);
        }
        match result {
            Ok(bytes) => {
                record.size_bytes = Some(bytes);
                record.message = format!("sent {shown} ({bytes} bytes)");
            }
            Err(error) => {
                record.ok = false;
                record.message = format!("{shown}: {error}");
            }
        }
        record.path = Some(shown);
        self.events.emit(record);
    }
}

/// `?start=N&count=M`.
fn parse_blocks(query: Option<&str>) -> Option<(u64, u64)> {
    let mut start = None;
    let mut count = None;
    for pair in query?.split('&') {
        match pair.split_once('=')? {
            ("start", value) => start = value.parse().ok(),
            ("count", value) => count = value.parse().ok(),
            _ => {}
        }
    }
    Some((start?, count?))
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// archiso's `script=`: fetch the answers (0600), run archinstall unattended, report each step
/// with its log, reboot.
fn archinstall_script(base: &str, token: &str) -> String {
    format!(
        r#"#!/bin/bash
# mc-netboot: archinstall unattended, reporting to {base}
url={base}/m/{token}
log=/tmp/mc-netboot.log
report() {{ curl -fsS -o /dev/null --data-binary @"$log" "$url/$1"; }}
umask 077
if ! curl -fsS -o /root/config.json "$url/config.json" || ! curl -fsS -o /root/creds.json "$url/creds.json"; then
    echo "fetching the answers failed" >>"$log"; report failed/answer; exit 1
fi
report step/answer
if archinstall --config /root/config.json --creds /root/creds.json --silent >>"$log" 2>&1; then
    rm -f /root/creds.json
    report step/archinstall
    report done
    systemctl reboot
else
    report failed/archinstall
fi
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ranges_parse_from_the_query() {
        assert_eq!(parse_blocks(Some("start=16&count=2")), Some((16, 2)));
        assert_eq!(parse_blocks(Some("count=2&start=0")), Some((0, 2)));
        assert_eq!(parse_blocks(Some("start=x&count=2")), None);
        assert_eq!(parse_blocks(None), None);
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
    }
}
