//! `mc-vm` as a library: QEMU machines defined in a state folder, started in the background and
//! driven only through QMP ([`qmp::Qmp`]) and the guest agent ([`agent::Agent`]).
//!
//! The operations take a [`State`] (the folder of machines), a machine's name and a plain
//! option struct, and return the records the command line prints: [`define`], [`show`],
//! [`list`], [`up`], [`status`], [`exec`], [`push`], [`pull`], [`snapshot()`], [`snapshots`],
//! [`try_change`], [`down`]. Each takes the machine's lock while it works on it.
//!
//! [`build`] makes images from recipes (`mc-vm image build`).
//!
//! Inside: [`machine`] holds definitions and locks; [`qemu`] builds QEMU's command line and
//! starts it; [`power`] boots and stops; [`image`] runs `qemu-img`; [`run`] is the command line.

pub mod agent;
mod api;
pub mod build;
pub mod cli;
mod console;
mod error;
mod guest_io;
pub mod image;
pub mod machine;
pub mod network;
mod power;
pub mod qemu;
pub mod qmp;
mod run;
mod snapshot;
mod trial;

pub use crate::{
    api::{
        Accel, DownOptions, Listed, UpOptions, WaitFor, define, down, exec, list, show, status, up,
    },
    error::VmError,
    guest_io::{PullOptions, pull, push},
    image::SnapshotChange,
    machine::{Forward, Machine, State},
    network::Nic,
    run::run,
    snapshot::{SnapshotOptions, snapshot, snapshots},
    trial::{TryOptions, try_change},
};

/// The tool's name in error records.
pub const TOOL: &str = "mc-vm";
