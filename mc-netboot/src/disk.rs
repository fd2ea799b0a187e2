//! The installed disk, built once per image on the server and written by the installer extent
//! by extent: one layout that boots under BIOS and under UEFI.
//!
//! ```text
//! sector 0        MBR: syslinux's boot code, partition 2 active
//! partition 1     ESP (vfat, type ef): systemd-boot as EFI/BOOT/BOOTX64.EFI (the removable
//!                 media path, so no EFI variable has to name it), the kernel, the initramfs and
//!                 one loader entry
//! partition 2     the image's root (ext4, type 83); the installer puts extlinux into its
//!                 boot sector
//! ```
//!
//! An MBR and not GPT: GPT's backup header sits at the end of the disk, whose size the server
//! does not know; both firmwares boot an MBR disk. The root is named by `PARTUUID` (the MBR's
//! disk id), so the disk's name in the installer does not matter to the installed system.

use std::{
    fs,
    io::Write,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{NetbootError, installer::run};

/// Where the ESP starts: 1 MiB, as partitioning tools align.
const ESP_START: u64 = 1 << 20;
/// Room in the ESP besides the kernel and initramfs.
const ESP_SPARE: u64 = 16 << 20;
/// The smallest ESP.
const ESP_MIN: u64 = 64 << 20;
/// systemd-boot (Debian's `systemd-boot-efi`, Arch's `systemd`).
pub const SYSTEMD_BOOT: &str = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
/// syslinux's MBR boot code, which boots the active partition (Debian's `syslinux-common`,
/// Arch's `syslinux`).
const MBR_CODE: &[&str] = &[
    "/usr/lib/syslinux/mbr/mbr.bin",
    "/usr/lib/syslinux/bios/mbr.bin",
];
/// The boot code's share of the MBR; the disk id and the partition table follow it.
const MBR_CODE_BYTES: usize = 440;

/// The built disk.
pub struct Disk {
    /// Its size: the target disk must hold at least this.
    pub bytes: u64,
    /// The root partition's `root=` (`PARTUUID=6d630001-02`).
    pub root: String,
}

/// Builds `out` (a sparse raw disk) from the image folder `image` with the disk id `id`; the
/// installed kernel's command line is `append` (with `root=` set to the root partition).
pub fn build(image: &Path, out: &Path, id: u32, append: &str) -> Result<Disk, NetbootError> {
    let root_bytes = virtual_size(&image.join("root.qcow2"))?;
    let boot_files = [image.join("vmlinuz"), image.join("initrd.img")];
    let mut boot_bytes = 0;
    for file in &boot_files {
        boot_bytes += fs::metadata(file)
            .map_err(NetbootError::io("reading", file))?
            .len();
    }
    let esp_bytes = (boot_bytes + ESP_SPARE)
        .next_multiple_of(1 << 20)
        .max(ESP_MIN);
    let root_start = ESP_START + esp_bytes;
    let bytes = root_start + root_bytes.next_multiple_of(512);
    let root = root_of(id);
    let cmdline = with_root(append, &root);

    let temp = out.with_extension("tmp");
    let file = fs::File::create(&temp).map_err(NetbootError::io("creating", &temp))?;
    file.set_len(bytes)
        .map_err(NetbootError::io("sizing", &temp))?;
    partition(&temp, id, esp_bytes, root_start)?;
    let code = mbr_code()?;
    file.write_all_at(&code[..MBR_CODE_BYTES.min(code.len())], 0)
        .map_err(NetbootError::io("writing", &temp))?;
    let esp = out.with_extension("esp");
    build_esp(&esp, esp_bytes, &boot_files, &cmdline)?;
    place(&esp, "raw", &temp, ESP_START, esp_bytes)?;
    fs::remove_file(&esp).map_err(NetbootError::io("removing", &esp))?;
    place(
        &image.join("root.qcow2"),
        "qcow2",
        &temp,
        root_start,
        root_bytes,
    )?;
    fs::rename(&temp, out).map_err(NetbootError::io("renaming", &temp))?;
    Ok(Disk { bytes, root })
}

/// The disk `out` built already (by [`build`] with the disk id `id`), `None` when it is not.
pub fn built(out: &Path, id: u32) -> Option<Disk> {
    let bytes = fs::metadata(out).ok()?.len();
    Some(Disk {
        bytes,
        root: root_of(id),
    })
}

/// The root partition, by the disk id and its number.
fn root_of(id: u32) -> String {
    format!("PARTUUID={id:08x}-02")
}

/// The name of partition `number` of the disk `disk` (`/dev/vda2`, `/dev/nvme0n1p2`).
pub fn partition_device(disk: &str, number: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{number}")
    } else {
        format!("{disk}{number}")
    }
}

/// `append` with its `root=` replaced by (or, without one, followed by) `root=ROOT`.
pub fn with_root(append: &str, root: &str) -> String {
    let mut words: Vec<String> = append
        .split_whitespace()
        .filter(|word| !word.starts_with("root="))
        .map(str::to_owned)
        .collect();
    words.insert(0, format!("root={root}"));
    words.join(" ")
}

/// The MBR: partition 1 the ESP, partition 2 (active) the rest.
fn partition(disk: &Path, id: u32, esp_bytes: u64, root_start: u64) -> Result<(), NetbootError> {
    let script = format!(
        "label: dos\nlabel-id: 0x{id:08x}\nstart={}, size={}, type=ef\nstart={}, type=83, bootable\n",
        ESP_START / 512,
        esp_bytes / 512,
        root_start / 512
    );
    let line = format!("sfdisk {}", disk.display());
    let failed = |message: String| NetbootError::Command {
        command: line.clone(),
        message,
    };
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(disk)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| failed(error.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|error| failed(error.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|error| failed(error.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

fn mbr_code() -> Result<Vec<u8>, NetbootError> {
    let found = MBR_CODE.iter().map(Path::new).find(|path| path.is_file());
    let path = found.unwrap_or(Path::new(MBR_CODE[0]));
    fs::read(path).map_err(NetbootError::io("reading", path))
}

/// The ESP as a file system image (mkfs.vfat and mtools: nothing is mounted).
fn build_esp(
    esp: &Path,
    bytes: u64,
    boot_files: &[PathBuf; 2],
    cmdline: &str,
) -> Result<(), NetbootError> {
    let _ = fs::remove_file(esp);
    run(Command::new("mkfs.vfat")
        .args(["-n", "ESP", "-C"])
        .arg(esp)
        .arg((bytes / 1024).to_string()))?;
    let image = esp.to_string_lossy().into_owned();
    run(Command::new("mmd").args([
        "-i",
        &image,
        "::/EFI",
        "::/EFI/BOOT",
        "::/loader",
        "::/loader/entries",
    ]))?;
    let dir = esp.with_extension("esp.d");
    fs::create_dir_all(&dir).map_err(NetbootError::io("creating", &dir))?;
    let loader = dir.join("loader.conf");
    let entry = dir.join("mc.conf");
    let write = |path: &Path, text: String| {
        fs::write(path, text).map_err(NetbootError::io("writing", path))
    };
    write(
        &loader,
        "default mc.conf\ntimeout 0\neditor no\n".to_owned(),
    )?;
    write(
        &entry,
        format!("title minicluster\nlinux /vmlinuz\ninitrd /initrd.img\noptions {cmdline}\n"),
    )?;
    let [kernel, initrd] = boot_files;
    for (from, to) in [
        (Path::new(SYSTEMD_BOOT), "::/EFI/BOOT/BOOTX64.EFI"),
        (loader.as_path(), "::/loader/loader.conf"),
        (entry.as_path(), "::/loader/entries/mc.conf"),
        (kernel.as_path(), "::/vmlinuz"),
        (initrd.as_path(), "::/initrd.img"),
    ] {
        run(Command::new("mcopy").args(["-i", &image]).arg(from).arg(to))?;
    }
    fs::remove_dir_all(&dir).map_err(NetbootError::io("removing", &dir))
}

/// Copies the image `source` (of `format`) into the raw `disk` at `offset`, `size` bytes, its
/// zeros left as holes.
fn place(
    source: &Path,
    format: &str,
    disk: &Path,
    offset: u64,
    size: u64,
) -> Result<(), NetbootError> {
    let target = format!(
        "driver=raw,offset={offset},size={size},file.driver=file,file.filename={}",
        disk.display()
    );
    run(Command::new("qemu-img")
        .args(["convert", "-n", "--target-is-zero", "-f", format])
        .arg(source)
        .args(["--target-image-opts", &target]))
    .map(drop)
}

/// An image's virtual size (`qemu-img info`).
fn virtual_size(image: &Path) -> Result<u64, NetbootError> {
    let info = run(Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(image))?;
    serde_json::from_str::<serde_json::Value>(&info)
        .ok()
        .and_then(|info| info["virtual-size"].as_u64())
        .ok_or_else(|| NetbootError::Command {
            command: format!("qemu-img info {}", image.display()),
            message: "no virtual-size".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_set_on_the_command_line() {
        assert_eq!(
            with_root("root=/dev/vda rw console=ttyS0", "PARTUUID=6d630001-02"),
            "root=PARTUUID=6d630001-02 rw console=ttyS0"
        );
        assert_eq!(with_root("quiet", "/dev/sda2"), "root=/dev/sda2 quiet");
        assert_eq!(partition_device("/dev/vda", 2), "/dev/vda2");
        assert_eq!(partition_device("/dev/nvme0n1", 2), "/dev/nvme0n1p2");
    }
}
