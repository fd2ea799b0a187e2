//! The minimal installer: an initramfs made of the image's own (its kernel's modules) with
//! `installer/init.sh` as `/init`, a static busybox and extlinux appended; and the disk built
//! from the image for it to fetch (sparse, [`crate::disk`]) with the list of its data extents.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    NetbootError,
    cpio::{self, Entry},
    disk::{self, Disk},
    layout::write_atomic,
};

/// The installer's `/init`.
pub const INIT: &str = include_str!("installer/init.sh");
/// The disk image in a prepared folder, served in ranges of blocks.
pub const DISK: &str = "disk.raw";
/// The block size of the extent list and of the installer's `dd`.
pub const BLOCK: u64 = 65536;
/// A static busybox (Debian's `busybox-static`, Arch's `busybox`).
pub const BUSYBOX: &str = "/bin/busybox";
/// extlinux (Debian's and Arch's `syslinux`/`extlinux`), with the C library it links.
pub const EXTLINUX: &str = "/usr/bin/extlinux";

/// An image prepared for the installer, in `DIR/images/NAME`.
pub struct Prepared {
    /// Its folder.
    pub dir: PathBuf,
    /// The disk the installer writes.
    pub disk: Disk,
}

/// Prepares the `mc-vm image build` folder `image` into `out` (once: a folder already
/// prepared is reused): `disk.raw` (see [`crate::disk`], disk id `id`, the installed kernel's
/// command line `append`), `extents`, `vmlinuz`, `installer.img`.
pub fn prepare(image: &Path, out: &Path, id: u32, append: &str) -> Result<Prepared, NetbootError> {
    fs::create_dir_all(out).map_err(NetbootError::io("creating", out))?;
    let raw = out.join(DISK);
    let disk = match disk::built(&raw, id) {
        Some(disk) => disk,
        None => disk::build(image, &raw, id, append)?,
    };
    let map = run(Command::new("qemu-img")
        .args(["map", "--output=json", "-f", "raw"])
        .arg(&raw))?;
    let extents = extents(&map).map_err(|message| NetbootError::Command {
        command: format!("qemu-img map {}", raw.display()),
        message,
    })?;
    write_atomic(&out.join("extents"), extents.as_bytes(), 0o644)?;
    let kernel = image.join("vmlinuz");
    fs::copy(&kernel, out.join("vmlinuz")).map_err(NetbootError::io("copying", &kernel))?;
    let initrd = installer_initrd(&image.join("initrd.img"))?;
    write_atomic(&out.join("installer.img"), &initrd, 0o644)?;
    Ok(Prepared {
        dir: out.to_owned(),
        disk,
    })
}

/// The data extents of `qemu-img map --output=json`, as lines `START COUNT` in [`BLOCK`]s,
/// widened to whole blocks and merged.
pub fn extents(map: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Extent {
        start: u64,
        length: u64,
        data: bool,
        #[serde(default)]
        zero: bool,
    }
    let list: Vec<Extent> = serde_json::from_str(map).map_err(|error| error.to_string())?;
    let mut blocks: Vec<(u64, u64)> = Vec::new();
    for extent in list.iter().filter(|e| e.data && !e.zero && e.length > 0) {
        let first = extent.start / BLOCK;
        let end = (extent.start + extent.length).div_ceil(BLOCK);
        match blocks.last_mut() {
            Some((_, last_end)) if *last_end >= first => *last_end = (*last_end).max(end),
            _ => blocks.push((first, end)),
        }
    }
    Ok(blocks
        .iter()
        .map(|(first, end)| format!("{first} {}\n", end - first))
        .collect())
}

/// The image's initramfs with the installer appended (the kernel unpacks one archive after
/// the other; a later file replaces an earlier one, so `/init` is ours).
pub fn installer_initrd(image_initrd: &Path) -> Result<Vec<u8>, NetbootError> {
    let mut bytes = fs::read(image_initrd).map_err(NetbootError::io("reading", image_initrd))?;
    while !bytes.len().is_multiple_of(4) {
        bytes.push(0);
    }
    let read = |path: &Path| fs::read(path).map_err(NetbootError::io("reading", path));
    let busybox = read(Path::new(BUSYBOX))?;
    let extlinux = read(Path::new(EXTLINUX))?;
    let libraries = shared_libraries(Path::new(EXTLINUX))?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for library in &libraries {
        let name = library
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((format!("mc/{name}"), read(library)?));
    }
    let mut entries = vec![
        Entry {
            path: "mc",
            mode: 0o755,
            data: None,
        },
        Entry {
            path: "init",
            mode: 0o755,
            data: Some(INIT.as_bytes()),
        },
        Entry {
            path: "mc/busybox",
            mode: 0o755,
            data: Some(&busybox),
        },
        Entry {
            path: "mc/extlinux",
            mode: 0o755,
            data: Some(&extlinux),
        },
    ];
    entries.extend(files.iter().map(|(path, data)| Entry {
        path,
        mode: 0o755,
        data: Some(data),
    }));
    bytes.extend(cpio::archive(&entries));
    Ok(bytes)
}

/// The shared libraries `program` loads, the dynamic loader among them (from `ldd`).
fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>, NetbootError> {
    let out = run(Command::new("ldd").arg(program))?;
    Ok(out
        .lines()
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| word.starts_with('/'))
                .map(PathBuf::from)
        })
        .collect())
}

pub(crate) fn run(command: &mut Command) -> Result<String, NetbootError> {
    let line = format!("{command:?}");
    let out = command.output().map_err(|error| NetbootError::Command {
        command: line.clone(),
        message: error.to_string(),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetbootError::Command {
            command: line,
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_are_whole_blocks_merged() {
        let map = r#"[{"start":0,"length":4096,"depth":0,"present":true,"zero":false,"data":true},
            {"start":4096,"length":131072,"depth":0,"present":true,"zero":true,"data":false},
            {"start":135168,"length":4096,"depth":0,"present":true,"zero":false,"data":true},
            {"start":139264,"length":61440,"depth":0,"present":true,"zero":false,"data":true},
            {"start":1048576,"length":65537,"depth":0,"present":true,"zero":false,"data":true}]"#;
        assert_eq!(extents(map).expect("parses"), "0 1\n2 2\n16 2\n");
    }
}
