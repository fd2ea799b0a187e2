//! The bootstrap commands of each base, as pure command lines, and how to read back what they
//! installed.
//!
//! Debian: `mmdebstrap` (in a mount namespace of its own) from Debian's mirror (`--variant=apt`, so only what the recipe and every
//! image need is installed; `--include=name=version` pins). Arch: `pacstrap` from the host's
//! pacman configuration (`-c` shares the host's package cache); a pinned version is passed as
//! `name=version`, which pacman resolves as a dependency expression. Both bootstrap into a plain
//! folder; nothing is mounted.

use std::{ffi::OsString, path::Path};

use super::recipe::{Base, DOWNLOADS_DIR, PackageSpec, Recipe};

/// Debian's main mirror, when the recipe names none.
pub const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// What every Debian image gets: an init that boots on its own (systemd, udev for the agent's
/// port and the network cards), the guest agent, a kernel with an initramfs that finds virtio
/// disks, and `ip` for the appliances' network steps.
const DEBIAN_BASE: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "qemu-guest-agent",
    "linux-image-amd64",
    "initramfs-tools",
    "iproute2",
    "e2fsprogs",
];

/// The same for Arch: `base` is systemd and udev already; the fallback initramfs has every
/// module, virtio included.
const ARCH_BASE: &[&str] = &[
    "base",
    "linux",
    "mkinitcpio",
    "qemu-guest-agent",
    "iproute2",
];

/// The program and arguments that bootstrap `recipe` into the empty folder `root`.
pub fn bootstrap(recipe: &Recipe, root: &Path) -> (&'static str, Vec<OsString>) {
    let base: &[&str] = match recipe.base {
        Base::Debian => DEBIAN_BASE,
        Base::Arch => ARCH_BASE,
    };
    let mut packages: Vec<String> = base.iter().map(|&p| p.to_owned()).collect();
    for package in &recipe.packages {
        packages.retain(|p| p != package.name());
        packages.push(requirement(package));
    }
    match recipe.base {
        Base::Debian => {
            let mut args: Vec<OsString> = vec![
                "--variant=apt".into(),
                "--format=directory".into(),
                "--quiet".into(),
                format!("--include={}", packages.join(",")).into(),
            ];
            args.extend(download_hook(&recipe.downloads));
            args.extend([
                recipe.suite.clone().into(),
                root.into(),
                recipe.mirror.as_deref().unwrap_or(DEBIAN_MIRROR).into(),
            ]);
            args.extend(recipe.sources.iter().map(OsString::from));
            // mmdebstrap mounts /proc, /sys and /dev into the root while it installs; in a mount
            // namespace of its own those mounts end with it, even when it is killed.
            let mut unshared: Vec<OsString> = vec![
                "--mount".into(),
                "--propagation".into(),
                "private".into(),
                "mmdebstrap".into(),
            ];
            unshared.extend(args);
            ("unshare", unshared)
        }
        Base::Arch => {
            // -c: the host's package cache; -G/-M: the host's keyring and mirror list stay the
            // host's (the image gets its own from its packages).
            let mut args: Vec<OsString> = vec!["-c".into(), "-G".into(), "-M".into(), root.into()];
            args.extend(packages.into_iter().map(OsString::from));
            ("pacstrap", args)
        }
    }
}

/// `name=version`, or the name alone: what apt and pacman both take.
fn requirement(package: &PackageSpec) -> String {
    match package.version() {
        Some(version) => format!("{}={version}", package.name()),
        None => package.name().to_owned(),
    }
}

/// mmdebstrap's hook that fetches `downloads` into [`DOWNLOADS_DIR`] with the image's own apt
/// (its sources and lists are there until mmdebstrap cleans up, after the hooks); apt's
/// sandbox user is root, as the folder is root's.
fn download_hook(downloads: &[PackageSpec]) -> Option<OsString> {
    if downloads.is_empty() {
        return None;
    }
    let wanted: Vec<String> = downloads.iter().map(requirement).collect();
    Some(
        format!(
            "--customize-hook=mkdir -p \"$1{DOWNLOADS_DIR}\" && chroot \"$1\" sh -c 'cd {DOWNLOADS_DIR} && apt-get download -q -o APT::Sandbox::User=root {}'",
            wanted.join(" ")
        )
        .into(),
    )
}

/// The program and arguments that list the packages installed in `root`, one `NAME VERSION`
/// per line.
pub fn list_installed(base: Base, root: &Path) -> (&'static str, Vec<OsString>) {
    match base {
        Base::Debian => {
            let mut admindir = OsString::from("--admindir=");
            admindir.push(root.join("var/lib/dpkg"));
            (
                "dpkg-query",
                vec![
                    admindir,
                    "--show".into(),
                    "--showformat=${Package} ${Version}\\n".into(),
                ],
            )
        }
        Base::Arch => {
            let mut dbpath = OsString::from("--dbpath=");
            dbpath.push(root.join("var/lib/pacman"));
            ("pacman", vec![dbpath, "-Q".into()])
        }
    }
}

/// The kernel and initramfs file names below `root/boot` for kernel release `release`
/// (Debian), or the fixed names (Arch: the fallback image, which has every module).
pub fn boot_files(base: Base, release: &str) -> (String, String) {
    match base {
        Base::Debian => (
            format!("vmlinuz-{release}"),
            format!("initrd.img-{release}"),
        ),
        Base::Arch => (
            "vmlinuz-linux".to_owned(),
            "initramfs-linux-fallback.img".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn debian_pins_go_to_apt_and_extra_sources_follow_the_mirror() {
        let recipe = Recipe::parse(
            r#"base = "debian"
sources = ["deb http://deb.debian.org/debian-security bookworm-security main"]
packages = [{ name = "postgresql-15", version = "15.18-0+deb12u1" }, "linux-image-amd64"]
downloads = [{ name = "libpq5", version = "15.20-0+deb12u1" }, "zstd"]"#,
            "r",
        )
        .expect("parses");
        let (program, args) = bootstrap(&recipe, Path::new("/w/root"));
        let args = strings(&args);
        assert_eq!(program, "unshare");
        assert_eq!(
            &args[..4],
            ["--mount", "--propagation", "private", "mmdebstrap"]
        );
        let include = args
            .iter()
            .find(|a| a.starts_with("--include="))
            .expect("includes");
        assert!(
            include.contains(",postgresql-15=15.18-0+deb12u1"),
            "{include}"
        );
        assert_eq!(include.matches("linux-image-amd64").count(), 1, "{include}");
        assert!(include.contains("qemu-guest-agent") && include.contains("systemd-sysv"));
        let hook = args
            .iter()
            .find(|a| a.starts_with("--customize-hook="))
            .expect("downloads");
        assert!(
            hook.contains("cd /var/cache/mc-packages && apt-get download")
                && hook.ends_with(" libpq5=15.20-0+deb12u1 zstd'"),
            "{hook}"
        );
        assert_eq!(
            &args[args.len() - 4..],
            [
                "bookworm",
                "/w/root",
                DEBIAN_MIRROR,
                "deb http://deb.debian.org/debian-security bookworm-security main"
            ]
        );
    }

    #[test]
    fn arch_bootstraps_with_pacstrap_into_the_folder() {
        let recipe =
            Recipe::parse("base = \"arch\"\npackages = [\"postgresql\"]", "r").expect("parses");
        let (program, args) = bootstrap(&recipe, Path::new("/w/root"));
        assert_eq!(program, "pacstrap");
        let args = strings(&args);
        assert_eq!(&args[..4], ["-c", "-G", "-M", "/w/root"]);
        assert!(
            args.contains(&"qemu-guest-agent".to_owned())
                && args.ends_with(&["postgresql".to_owned()])
        );
        assert_eq!(list_installed(Base::Arch, Path::new("/r")).0, "pacman");
    }
}
