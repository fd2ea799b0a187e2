//! The dnsmasq configuration that serves the same boot as `serve --proxy-dhcp`: proxy-DHCP
//! next to the network's DHCP server, TFTP from `DIR/tftp`; `serve --no-tftp` still serves
//! HTTP (the scripts, the installer, the reports).
//!
//! In proxy mode dnsmasq answers through PXE boot services: a client already running iPXE
//! (option 175, or user class `iPXE`) gets `boot.ipxe`; BIOS and UEFI PXE get an iPXE to
//! chain-load. A boot file name with a dot is sent as it is (without one, dnsmasq would append
//! `.0`).

use std::{fmt::Write, net::Ipv4Addr, path::Path};

use crate::layout::BOOT_SCRIPT;

/// The configuration for a server at `ip` (on `interface`, when given) serving `tftp_root`.
pub fn config(ip: Ipv4Addr, interface: Option<&str>, tftp_root: &Path) -> String {
    let mut text = String::from(
        "# Written by mc-netboot dnsmasq-conf: proxy-DHCP and TFTP for mc-netboot serve --no-tftp.\n",
    );
    let _ = writeln!(
        text,
        "# No DNS; answers PXE clients only, next to the network's own DHCP server."
    );
    text.push_str("port=0\n");
    match interface {
        Some(interface) => {
            let _ = writeln!(text, "interface={interface}");
        }
        None => {
            let _ = writeln!(text, "listen-address={ip}");
        }
    }
    text.push_str("bind-interfaces\n");
    let _ = writeln!(text, "dhcp-range={ip},proxy");
    text.push_str("log-dhcp\nenable-tftp\n");
    let _ = writeln!(text, "tftp-root={}", tftp_root.display());
    text.push_str("dhcp-match=set:ipxe,175\ndhcp-userclass=set:ipxe,iPXE\n");
    for csa in ["x86PC", "X86-64_EFI", "BC_EFI"] {
        let _ = writeln!(
            text,
            "pxe-service=tag:ipxe,{csa},\"mc-netboot\",{BOOT_SCRIPT},{ip}"
        );
    }
    let _ = writeln!(
        text,
        "pxe-service=tag:!ipxe,x86PC,\"mc-netboot: iPXE\",undionly.kpxe,{ip}"
    );
    for csa in ["X86-64_EFI", "BC_EFI"] {
        let _ = writeln!(
            text,
            "pxe-service=tag:!ipxe,{csa},\"mc-netboot: iPXE\",ipxe.efi,{ip}"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnsmasq_accepts_the_configuration() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("dnsmasq.conf");
        std::fs::write(
            &conf,
            config(Ipv4Addr::new(10, 77, 0, 1), Some("br0"), dir.path()),
        )
        .expect("writes");
        // dnsmasq itself, the peer, checks the syntax of every line.
        let Ok(out) = std::process::Command::new("dnsmasq")
            .arg("--test")
            .arg(format!("--conf-file={}", conf.display()))
            .output()
        else {
            panic!("dnsmasq is not installed (Debian: dnsmasq-base)");
        };
        assert!(out.status.success(), "{out:?}");
    }
}
