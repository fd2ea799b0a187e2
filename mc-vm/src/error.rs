//! [`VmError`]: everything that can go wrong while driving a machine.

use std::{
    io,
    path::{Path, PathBuf},
};

use crate::machine::MachineError;

/// What went wrong while driving a machine.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The definition or the state folder.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// A file or socket operation failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or socket.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// QEMU could not be run at all.
    #[error("running {program}: {source}")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// QEMU refused to start the machine.
    #[error("QEMU did not start {name}: {message}")]
    Start {
        /// The machine.
        name: String,
        /// QEMU's messages.
        message: String,
    },
    /// The machine does not run.
    #[error("machine {0} is not running")]
    NotRunning(String),
    /// QEMU exited (or was killed) while mc-vm waited for it.
    #[error("QEMU (pid {0}) is gone: it exited or was killed (see qemu.log and console.log)")]
    QemuGone(u32),
    /// The machine already runs.
    #[error("machine {name} is already running (pid {pid})")]
    AlreadyRunning {
        /// The machine.
        name: String,
        /// QEMU's pid.
        pid: u32,
    },
    /// The machine has no guest-agent channel.
    #[error("machine {0} has no guest agent (define it with --agent)")]
    NoAgent(String),
    /// A QMP command failed or QMP did not answer.
    #[error("QMP {}: {message}", path.display())]
    Qmp {
        /// The socket.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The guest agent failed a command.
    #[error("guest agent: {message}")]
    Agent {
        /// What failed.
        message: String,
    },
    /// The guest agent did not answer `guest-sync` in time.
    #[error("the guest agent did not answer within {seconds} s (last: {message})")]
    AgentTimeout {
        /// The timeout.
        seconds: u64,
        /// The last attempt's error.
        message: String,
    },
    /// `exec` was given no program.
    #[error("no command to run")]
    EmptyCommand,
    /// A command in the guest did not finish in time.
    #[error("{command:?} did not finish within {seconds} s")]
    ExecTimeout {
        /// The command.
        command: String,
        /// The timeout.
        seconds: u64,
    },
    /// QEMU did not exit after `quit`.
    #[error("QEMU (pid {0}) did not exit")]
    NoExit(u32),
    /// `qemu-img` failed.
    #[error("{command}: {message}")]
    Image {
        /// The command line.
        command: String,
        /// What it said.
        message: String,
    },
    /// Snapshots need every disk in qcow2.
    #[error("machine {name}: snapshots need qcow2 disks ({reason})")]
    NotSnapshottable {
        /// The machine.
        name: String,
        /// Which disk is not, or that there is none.
        reason: String,
    },
    /// The snapshot name is taken.
    #[error("machine {name} already has a snapshot {snapshot}")]
    SnapshotExists {
        /// The machine.
        name: String,
        /// The snapshot.
        snapshot: String,
    },
    /// No disk, or not every disk, holds the snapshot.
    #[error("machine {name} has no snapshot {snapshot} on {disk}")]
    NoSnapshot {
        /// The machine.
        name: String,
        /// The snapshot.
        snapshot: String,
        /// The disk without it.
        disk: String,
    },
    /// The snapshot name is not a plain name.
    #[error("bad snapshot name {0:?}: use letters, digits, '-', '_' and '.'")]
    BadSnapshotName(String),
    /// `try` needs a stopped machine: its disks must not change under the copy.
    #[error("machine {0} is running: `try` works on a stopped machine's disks (mc-vm down first)")]
    TryRunning(String),
    /// A private network could not be set up.
    #[error("network {name}: {message}")]
    Network {
        /// The network.
        name: String,
        /// What failed.
        message: String,
    },
    /// The console did not show the awaited text in time.
    #[error("the console did not show {until:?} within {seconds} s")]
    ConsoleTimeout {
        /// The text.
        until: String,
        /// The timeout.
        seconds: u64,
    },
}

impl VmError {
    pub(crate) fn io(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            context,
            path,
            source,
        }
    }
}
