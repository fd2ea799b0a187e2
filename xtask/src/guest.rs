//! A small test guest for `mc-vm`, built from Debian packages: the `linux-image-amd64` kernel
//! (downloaded with `apt-get download` and unpacked with `dpkg -x`, never installed) and a busybox
//! initramfs that loads the virtio modules, sets up the network card when there is one (QEMU's
//! user-mode addresses), starts a shell on the serial console, and runs `qemu-ga` on the guest
//! agent's port.
//!
//! The kernel package has no `modules.dep` (depmod makes it on installation), so the module order
//! comes from each module's own `depends=` entry in its `.modinfo` section.

use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use flate2::{Compression, write::GzEncoder};

/// Modules the guest loads, with their dependencies: virtio over PCI, the console (the agent's
/// virtio-serial port), block devices, the network card, and ext4 for data disks.
const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_console",
    "virtio_blk",
    "virtio_net",
    "ext4",
];

/// The name of the virtio-serial port `qemu-ga` listens on; `mc-vm` names its port the same.
pub const AGENT_PORT: &str = "org.qemu.guest_agent.0";

/// What [`build`] made.
#[derive(Debug)]
pub struct Guest {
    /// The kernel image, `OUT/vmlinuz`.
    pub kernel: PathBuf,
    /// The initramfs, `OUT/initrd.img` (cpio newc, gzip).
    pub initrd: PathBuf,
    /// The kernel's release, as `uname -r` prints it in the guest.
    pub release: String,
}

/// Builds the guest into `out`; the kernel package is kept in `out/cache` for the next run.
///
/// Test processes build it at the same time (nextest runs each test in its own process), so a
/// lock on `out` makes them take turns, and the images are renamed into place: a QEMU that is
/// reading the previous `initrd.img` keeps reading a whole file.
pub fn build(out: &Path) -> anyhow::Result<Guest> {
    let cache = out.join("cache");
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let lock_path = out.join(".build.lock");
    let lock = fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let package = kernel_package()?;
    let root = cache.join(&package);
    if !root.join("boot").is_dir() {
        let deb = download(&cache, &package)?;
        let partial = cache.join(format!("{package}.partial"));
        let _ = fs::remove_dir_all(&partial);
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(&partial))?;
        fs::rename(&partial, &root).with_context(|| format!("renaming {}", partial.display()))?;
    }
    let release = only_entry(&root.join("lib/modules"))?;
    let kernel = out.join("vmlinuz");
    let vmlinuz = root.join(format!("boot/vmlinuz-{release}"));
    let image = fs::read(&vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    replace(&kernel, &image)?;
    let initrd = out.join("initrd.img");
    replace(
        &initrd,
        &initramfs(&root.join("lib/modules").join(&release))?,
    )?;
    Ok(Guest {
        kernel,
        initrd,
        release,
    })
}

/// Writes `path` through a temporary file beside it and a rename.
fn replace(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    let temp = PathBuf::from(temp);
    fs::write(&temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
    fs::rename(&temp, path).with_context(|| format!("renaming {}", temp.display()))
}

/// The versioned kernel package `linux-image-amd64` depends on (`linux-image-6.1.0-NN-amd64`).
fn kernel_package() -> anyhow::Result<String> {
    let out = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    out.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends: "))
        .find(|name| name.starts_with("linux-image-"))
        .map(str::to_owned)
        .context("apt-cache depends linux-image-amd64 names no linux-image package")
}

/// The `.deb` of `package` in `cache`, downloaded unless it is there already.
fn download(cache: &Path, package: &str) -> anyhow::Result<PathBuf> {
    let find = || -> anyhow::Result<Option<PathBuf>> {
        for entry in fs::read_dir(cache)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(&format!("{package}_")) && name.ends_with(".deb") {
                return Ok(Some(path));
            }
        }
        Ok(None)
    };
    if let Some(deb) = find()? {
        return Ok(deb);
    }
    run(Command::new("apt-get")
        .args(["download", "-q", package])
        .current_dir(cache))?;
    find()?.with_context(|| format!("apt-get download {package} left no .deb"))
}

/// The name of the one entry of `dir`.
fn only_entry(dir: &Path) -> anyhow::Result<String> {
    let mut names = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    match (names.pop(), names.is_empty()) {
        (Some(name), true) => Ok(name),
        _ => bail!("expected one kernel release in {}", dir.display()),
    }
}

/// The initramfs: busybox, qemu-ga with its libraries, the modules and `/init`, gzipped.
fn initramfs(modules_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let mut cpio = Cpio::default();
    for dir in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "var",
        "var/lib", "etc", "modules",
    ] {
        cpio.dir(dir);
    }
    cpio.symlink("var/run", "/run");
    cpio.device("dev/console", 5, 1);
    cpio.file("bin/busybox", 0o755, read("/bin/busybox")?);
    let qemu_ga = "/usr/sbin/qemu-ga";
    cpio.file(&qemu_ga[1..], 0o755, read(qemu_ga)?);
    for lib in shared_libraries(qemu_ga)? {
        let parent = Path::new(&lib[1..])
            .parent()
            .expect("a library path has a parent");
        cpio.dirs(parent);
        cpio.file(&lib[1..], 0o755, read(&lib)?);
    }
    let order = module_order(modules_dir)?;
    for (name, path) in &order {
        cpio.file(&format!("modules/{name}.ko"), 0o644, read(path)?);
    }
    let names: Vec<&str> = order.iter().map(|(name, _)| name.as_str()).collect();
    cpio.file("init", 0o755, init_script(&names).into_bytes());
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&cpio.finish())?;
    Ok(gz.finish()?)
}

fn read(path: impl AsRef<Path>) -> anyhow::Result<Vec<u8>> {
    let path = path.as_ref();
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The absolute paths of the shared libraries `binary` loads, the dynamic loader included.
fn shared_libraries(binary: &str) -> anyhow::Result<Vec<String>> {
    let out = run(Command::new("ldd").arg(binary))?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let path = line.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| path.to_owned())
        })
        .collect())
}

/// [`MODULES`] and their dependencies as (name, file), each after the modules it depends on.
fn module_order(modules_dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut files = BTreeMap::new();
    index_modules(&modules_dir.join("kernel"), &mut files)?;
    let mut order = Vec::new();
    for name in MODULES {
        visit(name, &files, &mut order, 0)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    order: &mut Vec<(String, PathBuf)>,
    depth: usize,
) -> anyhow::Result<()> {
    if order.iter().any(|(done, _)| done == name) {
        return Ok(());
    }
    if depth > 32 {
        bail!("module dependencies of {name} form a cycle");
    }
    let path = files
        .get(name)
        .with_context(|| format!("kernel module {name} not in the package"))?;
    for dependency in module_depends(&read(path)?) {
        visit(&dependency, files, order, depth + 1)?;
    }
    order.push((name.to_owned(), path.clone()));
    Ok(())
}

/// The `depends=` list of a module's `.modinfo` section, names normalised to underscores.
fn module_depends(module: &[u8]) -> Vec<String> {
    let key = b"\0depends=";
    let Some(start) = module.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let value = &module[start + key.len()..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end])
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| name.replace('-', "_"))
        .collect()
}

/// Maps every module name under `dir` to its file.
fn index_modules(dir: &Path, files: &mut BTreeMap<String, PathBuf>) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            index_modules(&path, files)?;
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && let Some(stem) = name.strip_suffix(".ko")
        {
            files.insert(stem.replace('-', "_"), path);
        }
    }
    Ok(())
}

/// `/init`: mounts, modules in order, the network when there is a card, a shell on the serial
/// console, then `qemu-ga` on the agent's port for as long as it runs.
fn init_script(modules: &[&str]) -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in {modules}; do insmod /modules/$module.ko || echo "init: insmod $module failed"; done
ip link set lo up
# QEMU's user-mode network: the guest is 10.0.2.15, the gateway 10.0.2.2.
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
    echo "init: eth0 is 10.0.2.15"
fi
# A shell on the serial console, for `mc-vm console`.
sh </dev/ttyS0 >/dev/ttyS0 2>&1 &
port=
for attempt in $(seq 100); do
    for name in /sys/class/virtio-ports/*/name; do
        [ "$(cat "$name" 2>/dev/null)" = {AGENT_PORT} ] && port=/dev/$(basename "$(dirname "$name")")
    done
    [ -n "$port" ] && [ -e "$port" ] && break
    sleep 0.1
done
if [ -n "$port" ]; then
    echo "init: qemu-ga on $port"
    qemu-ga -m virtio-serial -p "$port"
else
    echo "init: no virtio-serial port named {AGENT_PORT}"
fi
poweroff -f
"#,
        modules = modules.join(" ")
    )
}

/// Runs `command`; its stdout, or an error with its stderr.
fn run(command: &mut Command) -> anyhow::Result<String> {
    let out = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A cpio archive in the `newc` format, the one the kernel unpacks as an initramfs.
#[derive(Default)]
struct Cpio {
    out: Vec<u8>,
    inode: u32,
    dirs: Vec<String>,
}

impl Cpio {
    fn dir(&mut self, path: &str) {
        if !self.dirs.iter().any(|d| d == path) {
            self.dirs.push(path.to_owned());
            self.entry(path, 0o040_755, (0, 0), b"");
        }
    }

    /// `path` and every folder above it.
    fn dirs(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            self.dirs(parent);
        }
        if let Some(path) = path.to_str().filter(|p| !p.is_empty()) {
            self.dir(path);
        }
    }

    fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        self.entry(path, 0o100_000 | mode, (0, 0), &data);
    }

    fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, 0o120_777, (0, 0), target.as_bytes());
    }

    fn device(&mut self, path: &str, major: u32, minor: u32) {
        self.entry(path, 0o020_600, (major, minor), b"");
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.inode += 1;
        let size = u32::try_from(data.len()).expect("initramfs files are under 4 GiB");
        let name_size = u32::try_from(name.len() + 1).expect("short names");
        let fields = [
            self.inode, mode, 0, 0, 1, 0, size, 0, 0, rdev.0, rdev.1, name_size, 0,
        ];
        self.out.extend_from_slice(b"070701");
        for field in fields {
            self.out
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), b"");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_depends_reads_the_modinfo_entry() {
        let module =
            b"\x7fELF...\0license=GPL\0depends=virtio_ring,virtio-pci-modern-dev\0name=x\0";
        assert_eq!(
            module_depends(module),
            ["virtio_ring", "virtio_pci_modern_dev"]
        );
        assert!(module_depends(b"\0depends=\0").is_empty());
    }

    #[test]
    fn cpio_entries_are_aligned_and_end_with_a_trailer() {
        let mut cpio = Cpio::default();
        cpio.file("init", 0o755, b"#!/bin/sh\n".to_vec());
        let out = cpio.finish();
        assert!(out.starts_with(b"070701"));
        assert_eq!(out.len() % 4, 0);
        let trailer = out.windows(10).position(|w| w == b"TRAILER!!!");
        assert!(trailer.is_some());
    }
}
