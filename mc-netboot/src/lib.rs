//! `mc-netboot` as a library: unattended installation of machines over the network.
//!
//! The chain a machine follows: its firmware (or QEMU's iPXE option ROM) asks DHCP; the
//! network's own DHCP server gives it an address and [`dhcp`] (proxy-DHCP, or dnsmasq with the
//! configuration [`dnsmasq`] writes) names the boot file; [`tftp`] sends `boot.ipxe`, which
//! chains to the machine's own iPXE script over [`http`]; that boots the installer
//! ([`installer`]), which fetches its answer, writes the disk, sets up booting from it, phones
//! home after each step and reboots. Every event is a `netboot` record ([`events`]).
//!
//! [`enroll`] prepares a machine from a profile ([`profile`]), which is checked before anything
//! boots; [`layout`] is the served folder.

pub mod cli;
pub mod cpio;
pub mod dhcp;
pub mod disk;
pub mod dnsmasq;
pub mod enroll;
mod error;
pub mod events;
pub mod http;
pub mod installer;
pub mod ipxe;
pub mod layout;
pub mod profile;
mod run;
pub mod serve;
pub mod tftp;

pub use crate::{error::NetbootError, run::run};

/// The tool's name in error records.
pub const TOOL: &str = "mc-netboot";
