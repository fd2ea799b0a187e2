//! What the builder writes into every image besides the recipe's files: the mounts, the network
//! and the units that must (or must not) run. Pure text here; [`super::customize`] writes it.

use super::recipe::Recipe;

/// The root file system's label; the kernel command line names the disk itself.
pub const ROOT_LABEL: &str = "mc-root";

/// The data disk's file system label, which `/etc/fstab` mounts it by.
pub const DATA_LABEL: &str = "mc-data";

/// The kernel command line the image boots with: the first virtio disk as root, the serial
/// port as console (for `mc-vm console`).
pub const APPEND: &str = "root=/dev/vda rw console=ttyS0";

/// `/etc/fstab`: the root disk, and the data disk at its mount point. Required (no `nofail`):
/// the services using the folder must not start on the root disk's empty mount point. The
/// device may take minutes to show up on a loaded host under TCG (udev names it), hence the
/// long wait (systemd's default is 90 s).
pub fn fstab(recipe: &Recipe) -> String {
    let mut text = String::from("/dev/vda / ext4 rw,errors=remount-ro 0 1\n");
    if let Some(data) = &recipe.data {
        text.push_str(&format!(
            "LABEL={DATA_LABEL} {} ext4 defaults,x-systemd.device-timeout=15min 0 2\n",
            data.mount
        ));
    }
    text
}

/// systemd-networkd's fallback for every Ethernet card: DHCP, which QEMU's user-mode network
/// answers. Named `95-` so that fixed addresses from the kernel command line (`ip=`, turned into
/// `/run/systemd/network/90-IFACE.network` by systemd-network-generator) come first.
pub const DHCP_NETWORK: &str = "[Match]\nType=ether\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n";

/// Units every image enables: the network, and the generator of fixed addresses.
pub const ENABLED: &[&str] = &[
    "systemd-networkd.service",
    "systemd-network-generator.service",
];

/// Units every image masks: timers that would take the package manager's lock in the middle
/// of an appliance's upgrade, or spend a TCG guest's CPU at boot.
pub const MASKED: &[&str] = &[
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "man-db.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_disk_is_mounted_by_label_and_may_be_missing() {
        let recipe = Recipe::parse(
            "base = \"debian\"\n[data]\nmount = \"/var/lib/postgresql\"",
            "r",
        )
        .expect("parses");
        let fstab = fstab(&recipe);
        assert!(
            fstab.contains("LABEL=mc-data /var/lib/postgresql ext4 defaults,x-systemd"),
            "{fstab}"
        );
        let plain = Recipe::parse("base = \"debian\"", "r").expect("parses");
        assert_eq!(fstab_lines(&super::fstab(&plain)), 1);
    }

    fn fstab_lines(text: &str) -> usize {
        text.lines().count()
    }
}
