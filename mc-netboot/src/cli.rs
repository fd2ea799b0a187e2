//! The command line. The doc comments are the help text and the man page.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

/// Install machines unattended over the network: proxy-DHCP, TFTP and HTTP for iPXE, and an
/// installer that reports each step back.
///
/// A machine's firmware (or QEMU's iPXE ROM) gets its address from the network's own DHCP
/// server and the boot file from `serve --proxy-dhcp` (or from dnsmasq, configured by
/// `dnsmasq-conf`); iPXE fetches `boot.ipxe` by TFTP, then the machine's own script by HTTP,
/// which boots its installer; the installer writes the disk, sets up booting from it, reports
/// every step and reboots. `serve` prints a `netboot` record per event (man 7 mc-records), so
/// a Makefile can wait for "done":
///
///   mc-netboot enroll 52:54:00:12:34:56 --dir /srv/netboot --profile node1.toml
///
///   mc-netboot serve --dir /srv/netboot --listen 10.0.0.1:8080 --proxy-dhcp --until-installed
#[derive(Debug, Parser)]
#[command(name = "mc-netboot", version, after_help = minicluster::cli::EXIT_STATUS_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve TFTP, HTTP and (with --proxy-dhcp) proxy-DHCP for the enrolled machines.
    ///
    /// Runs as root (ports 67, 69, 4011). The HTTP address is --listen, or the IPv4 address of
    /// --interface with --port (port 0: any free one; the `listening` record names the URL).
    /// iPXE for PXE clients (undionly.kpxe, ipxe.efi) comes from Debian's `ipxe` package
    /// unless DIR/tftp has its own. Without --until-installed it runs until stopped.
    Serve(ServeArgs),
    /// Enroll a machine: check its profile, then prepare its iPXE script and installer answer.
    ///
    /// The profile (TOML) names the installer: `[minimal]` (image = an `mc-vm image build
    /// --out` folder, disk = "/dev/vda", root_password optional) or `[archinstall]` (archiso =
    /// archiso's netboot artifacts, config and creds = archinstall's --config and --creds
    /// files). A missing or unknown field, or a file it names that is not there, refuses the
    /// profile (exit 2) before anything is written. Secrets are written 0600 and served only
    /// to the machine's own URL while it installs; none goes on a kernel command line.
    Enroll(EnrollArgs),
    /// Print the dnsmasq configuration (proxy-DHCP and TFTP) that serves the same boot.
    ///
    /// Run `mc-netboot serve --no-tftp` beside it for HTTP:
    ///
    ///   mc-netboot dnsmasq-conf --dir /srv/netboot --listen 10.0.0.1 > netboot.conf
    ///
    ///   dnsmasq --keep-in-foreground --conf-file=netboot.conf
    DnsmasqConf(DnsmasqArgs),
}

/// The served folder.
#[derive(Args, Debug)]
pub struct DirArgs {
    /// The folder enroll writes and serve serves (machines, images, the TFTP root `tftp/`).
    #[arg(long, env = "MC_NETBOOT_DIR", value_name = "DIR")]
    pub dir: PathBuf,
}

/// `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The served folder.
    #[command(flatten)]
    pub dir: DirArgs,
    /// The address machines reach the server on, IP:PORT for HTTP (an IP address: it goes
    /// into every URL and DHCP answer, and the installer has no DNS). Without it, the first
    /// IPv4 address of --interface, with --port.
    #[arg(
        long,
        env = "MC_NETBOOT_LISTEN",
        value_name = "ADDR",
        required_unless_present = "interface"
    )]
    pub listen: Option<SocketAddr>,
    /// The interface machines are on: proxy-DHCP broadcasts go out of it, and without
    /// --listen the server takes its IPv4 address. By default the one holding --listen.
    #[arg(long, env = "MC_NETBOOT_INTERFACE", value_name = "IF")]
    pub interface: Option<String>,
    /// The HTTP port when the address comes from --interface (0: any free one).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "PORT",
        conflicts_with = "listen"
    )]
    pub port: u16,
    /// Answer PXE clients with the boot file, next to the network's own DHCP server.
    #[arg(long)]
    pub proxy_dhcp: bool,
    /// Do not serve TFTP (dnsmasq does: see dnsmasq-conf).
    #[arg(long)]
    pub no_tftp: bool,
    /// Exit once every enrolled machine has finished: 0 when all installed, 1 when one failed.
    #[arg(long)]
    pub until_installed: bool,
    /// With --until-installed: a machine silent for this long fails, with its last log lines.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `enroll`.
#[derive(Args, Debug)]
pub struct EnrollArgs {
    /// The machine's MAC address (52:54:00:12:34:56).
    pub mac: String,
    /// The served folder.
    #[command(flatten)]
    pub dir: DirArgs,
    /// The machine's profile (TOML).
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
}

/// `dnsmasq-conf`.
#[derive(Args, Debug)]
pub struct DnsmasqArgs {
    /// The served folder.
    #[command(flatten)]
    pub dir: DirArgs,
    /// The server's IP address.
    #[arg(long, value_name = "IP")]
    pub listen: std::net::Ipv4Addr,
    /// The interface to answer on; by default the one holding --listen.
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
}
