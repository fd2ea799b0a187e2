//! The records `mc-vm` prints: `vm` (shared with other tools, in [`minicluster::record`]),
//! `vm_snapshot` and `vm_try`. mc-records(7) describes every field.

use minicluster::record::{ErrorRecord, VmRecord};
use serde::Serialize;

/// One line of `mc-vm`'s output.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Output {
    /// A machine after an action.
    Vm(Box<VmRecord>),
    /// A snapshot of a machine's disks.
    VmSnapshot(SnapshotRecord),
    /// The verdict of `mc-vm try`.
    VmTry(TryRecord),
    /// A machine `list` could not read; the others are listed.
    Error(ErrorRecord),
}

/// A snapshot, after `snapshot create|revert|delete` or for each of `snapshot list`.
#[derive(Debug, Default, Serialize)]
pub struct SnapshotRecord {
    /// The machine.
    pub machine: String,
    /// The snapshot's name.
    pub snapshot: String,
    /// `create`, `list`, `revert` or `delete`.
    pub action: String,
    /// `create`, `revert`, `delete`: whether the machine ran, so QMP did it with memory and
    /// device state; else `qemu-img` did, for the disks only. `list`: whether the snapshot holds
    /// memory and device state (it was taken while the machine ran).
    pub live: bool,
    /// Bytes of saved memory and device state (0 for a disk-only snapshot); `null` after delete.
    pub vm_state_bytes: Option<u64>,
    /// When the snapshot was taken, RFC 3339 UTC; `null` after delete.
    pub created: Option<String>,
    /// The disks holding the snapshot.
    pub disks: Vec<String>,
    /// Wall time of the action in milliseconds.
    pub elapsed_ms: u64,
}

/// What `mc-vm try` did on a throwaway copy of a machine.
#[derive(Debug, Default, Serialize)]
pub struct TryRecord {
    /// The machine.
    pub machine: String,
    /// `passed` when the run step and every check exited 0, else `failed`.
    pub verdict: String,
    /// Whether the copy's disks were committed into the machine's (`--keep` and passed).
    pub kept: bool,
    /// Milliseconds from starting QEMU until the copy's guest agent answered.
    pub agent_ready_ms: Option<u64>,
    /// The steps in the order they ran: the `--run` command, then each `--check`.
    pub steps: Vec<Step>,
    /// Wall time in milliseconds, boot and clean-up included.
    pub elapsed_ms: u64,
}

/// One command of `mc-vm try`, run in the guest as `sh -c COMMAND`.
#[derive(Debug, Default, Serialize)]
pub struct Step {
    /// `run` or `check`.
    pub step: String,
    /// The shell command.
    pub command: String,
    /// Its exit code (128 + N when killed by signal N); `null` when it did not finish.
    pub exit_code: Option<i64>,
    /// Its standard output, as UTF-8 (lossy).
    pub stdout: String,
    /// Its standard error, as UTF-8 (lossy).
    pub stderr: String,
    /// Why it did not finish (a timeout, the guest gone); else `null`.
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

impl Step {
    /// Whether the step exited 0.
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Unix seconds as RFC 3339 UTC (`2026-12-02T01:05:03Z`).
pub fn rfc3339(unix: i64) -> String {
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Days to a civil date: Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_become_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_625_962), "2026-11-25T16:59:22Z");
    }
}
