//! The iPXE scripts: `boot.ipxe` (the same for every machine, from TFTP) chains to the
//! machine's own script over HTTP, which boots its installer, or leaves to the next boot
//! device once it is installed. Addresses, never host names, in every URL: the installer has
//! no DNS (see systemrescue issue 376 on `SYSAPPEND`).

use crate::layout::{Enrolled, Outcome};

/// `boot.ipxe`: fetch this machine's script from `base` (`http://10.0.0.1:8080`).
pub fn boot_script(base: &str) -> String {
    format!(
        "#!ipxe\necho mc-netboot: asking {base} for ${{mac}}\nchain {base}/ipxe/${{mac:hexhyp}} || exit\n"
    )
}

/// For a machine that is not enrolled: back to the firmware.
pub fn not_enrolled(mac: &str) -> String {
    format!(
        "#!ipxe\necho mc-netboot: {mac} is not enrolled (mc-netboot enroll {mac} --profile FILE)\nexit\n"
    )
}

/// Machine `machine`'s script, given how its installation ended (if it did).
pub fn machine_script(machine: &Enrolled, base: &str, outcome: Option<&Outcome>) -> String {
    if let Some(outcome) = outcome {
        let said = match outcome {
            Outcome::Done => "installed: booting from its disk".to_owned(),
            Outcome::Failed { step } => format!("failed at {step}: enroll it again to retry"),
        };
        return format!(
            "#!ipxe\necho mc-netboot: {} {said}\nexit\n",
            machine.hostname
        );
    }
    let url = format!("{base}/m/{}", machine.token);
    if machine.installer == "archinstall" {
        // archiso's HTTP boot: the kernel and initramfs from arch/boot/x86_64, the root from
        // archiso_http_srv; script= runs our auto.sh once the network is up (ip=dhcp).
        let boot = format!("{url}/archiso/arch/boot/x86_64");
        format!(
            "#!ipxe\nkernel {boot}/vmlinuz-linux initrd=initramfs-linux.img archisobasedir=arch archiso_http_srv={url}/archiso/ ip=dhcp script={url}/auto.sh {append}\ninitrd {boot}/initramfs-linux.img\nboot\n",
            append = machine.append
        )
    } else {
        format!(
            "#!ipxe\nkernel {url}/vmlinuz initrd=installer.img mc.url={url} mc.ip=${{ip}} mc.netmask=${{netmask}} {append}\ninitrd --name installer.img {url}/initrd\nboot\n",
            append = machine.append
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(installer: &str) -> Enrolled {
        Enrolled {
            mac: "52:54:00:12:34:56".into(),
            hostname: "node1".into(),
            token: "t0k".into(),
            installer: installer.into(),
            image: None,
            archiso: None,
            append: "console=ttyS0".into(),
        }
    }

    #[test]
    fn scripts_boot_the_installer_until_it_is_done() {
        let base = "http://10.77.0.1:8080";
        let script = machine_script(&machine("minimal"), base, None);
        assert!(script.starts_with("#!ipxe\n"));
        assert!(script.contains("kernel http://10.77.0.1:8080/m/t0k/vmlinuz initrd=installer.img mc.url=http://10.77.0.1:8080/m/t0k mc.ip=${ip}"), "{script}");
        let arch = machine_script(&machine("archinstall"), base, None);
        assert!(
            arch.contains("archiso_http_srv=http://10.77.0.1:8080/m/t0k/archiso/"),
            "{arch}"
        );
        assert!(
            arch.contains("script=http://10.77.0.1:8080/m/t0k/auto.sh"),
            "{arch}"
        );
        let done = machine_script(&machine("minimal"), base, Some(&Outcome::Done));
        assert!(done.ends_with("exit\n") && !done.contains("t0k"), "{done}");
        assert!(boot_script(base).contains("chain http://10.77.0.1:8080/ipxe/${mac:hexhyp}"));
    }
}
