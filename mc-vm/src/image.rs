//! Disk images through `qemu-img`: overlays for `try`, committing them back, and the internal
//! snapshots of a stopped machine's qcow2 disks.
//!
//! A running machine's images belong to its QEMU, so snapshots of a running machine go through
//! QMP ([`crate::qmp::Qmp::snapshot`]); listing reads the images with `qemu-img info -U`
//! (shared, read-only) in both cases, so `list` has one source whether the machine runs or not.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde::Deserialize;

use crate::{VmError, machine::DiskFormat};

/// The image tool.
pub const QEMU_IMG: &str = "qemu-img";

/// An internal snapshot of one qcow2 image, as `qemu-img info --output=json` lists it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageSnapshot {
    /// The snapshot's name (QEMU's "tag").
    pub name: String,
    /// Bytes of saved memory and device state; 0 for a disk-only snapshot.
    #[serde(default)]
    pub vm_state_size: u64,
    /// When it was taken, Unix seconds.
    #[serde(default)]
    pub date_sec: i64,
}

impl ImageSnapshot {
    /// When it was taken.
    pub fn created_at(&self) -> minicluster::time::Timestamp {
        minicluster::time::Timestamp::from_unix(self.date_sec)
    }
}

#[derive(Deserialize)]
struct ImageInfo {
    #[serde(default)]
    snapshots: Vec<ImageSnapshot>,
}

/// The internal snapshots of the qcow2 image at `path`.
pub fn snapshots(path: &Path) -> Result<Vec<ImageSnapshot>, VmError> {
    let out = qemu_img(
        Command::new(QEMU_IMG)
            .args(["info", "--output=json", "-U"])
            .arg(path),
    )?;
    let info: ImageInfo = serde_json::from_str(&out).map_err(|error| VmError::Image {
        command: format!("qemu-img info {}", path.display()),
        message: format!("unexpected output: {error}"),
    })?;
    Ok(info.snapshots)
}

/// What a snapshot operation does, through QMP on a running machine or `qemu-img snapshot` on
/// a stopped one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotChange {
    /// Take it.
    Create,
    /// Put the disks (and a running guest) back to it.
    Revert,
    /// Delete it.
    Delete,
}

impl SnapshotChange {
    /// The action's name in job ids.
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Revert => "revert",
            Self::Delete => "delete",
        }
    }
}

/// Runs `qemu-img snapshot` on the image at `path`, which no QEMU may have open.
pub fn snapshot(change: SnapshotChange, tag: &str, path: &Path) -> Result<(), VmError> {
    let flag = match change {
        SnapshotChange::Create => "-c",
        SnapshotChange::Revert => "-a",
        SnapshotChange::Delete => "-d",
    };
    qemu_img(
        Command::new(QEMU_IMG)
            .args(["snapshot", flag, tag])
            .arg(path),
    )
    .map(drop)
}

/// Creates the qcow2 image `overlay` over `base`: reads fall through to `base`, writes stay in
/// `overlay`, and `base` is only ever opened read-only through it.
pub fn create_overlay(base: &Path, overlay: &Path) -> Result<(), VmError> {
    let format = DiskFormat::of(base)?.name();
    qemu_img(
        Command::new(QEMU_IMG)
            .args(["create", "-q", "-f", "qcow2", "-F", format, "-b"])
            .arg(base)
            .arg(overlay),
    )
    .map(drop)
}

/// Writes what `overlay` holds into its backing image (`qemu-img commit`); no QEMU may have
/// either open.
pub fn commit(overlay: &Path) -> Result<(), VmError> {
    qemu_img(Command::new(QEMU_IMG).args(["commit", "-q"]).arg(overlay)).map(drop)
}

/// The overlay of disk number `index` in `dir`.
pub fn overlay_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("disk{index}.qcow2"))
}

fn qemu_img(command: &mut Command) -> Result<String, VmError> {
    let out = command.output().map_err(|source| VmError::Spawn {
        program: QEMU_IMG,
        source,
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let args: Vec<String> = command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        Err(VmError::Image {
            command: format!("{QEMU_IMG} {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}
