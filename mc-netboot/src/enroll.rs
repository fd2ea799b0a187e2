//! `enroll`: a machine's profile into the served folder, checked first; its secrets into files
//! only root reads (0600 in a 0700 folder).

use std::path::Path;

use minicluster::record::{NetbootEvent, NetbootRecord};
use sha2::{Digest, Sha256};

use crate::{
    NetbootError, disk, events, installer,
    layout::{Enrolled, Layout, Mac, create_private_dir, random_token, write_private},
    profile::{Minimal, Profile},
};

/// Enrolls machine `mac` with the profile at `profile` (a new token; a former outcome is
/// forgotten, so the machine installs again). Returns the `enrolled` record.
pub fn enroll(layout: &Layout, mac: Mac, profile: &Path) -> Result<NetbootRecord, NetbootError> {
    let profile = Profile::load(profile)?;
    let dir = layout.machine_dir(mac);
    create_private_dir(&dir)?;
    let (image, answer) = match &profile.minimal {
        Some(minimal) => {
            let (name, answer) = prepare_minimal(layout, &profile, minimal)?;
            (Some(name), answer)
        }
        None => (None, String::new()),
    };
    if let Some(arch) = &profile.archinstall {
        for (from, name) in [(&arch.config, "config.json"), (&arch.creds, "creds.json")] {
            let bytes = std::fs::read(from).map_err(NetbootError::io("reading", from))?;
            write_private(&dir.join(name), &bytes)?;
        }
    }
    write_private(&dir.join("answer"), answer.as_bytes())?;
    let machine = Enrolled {
        mac: mac.to_string(),
        hostname: profile.hostname.clone(),
        token: random_token()?,
        installer: profile.installer().to_owned(),
        image,
        archiso: profile
            .archinstall
            .as_ref()
            .map(|arch| arch.archiso.clone()),
        append: profile.append.clone(),
    };
    let json = serde_json::to_vec_pretty(&machine).expect("a machine serializes");
    let state = dir.join("state.json");
    if state.exists() {
        std::fs::remove_file(&state).map_err(NetbootError::io("removing", &state))?;
    }
    write_private(&dir.join("machine.json"), &json)?;
    let mut record = events::record(
        NetbootEvent::Enrolled,
        format!(
            "{} ({mac}) installs with {}",
            machine.hostname, machine.installer
        ),
    );
    record.mac = Some(machine.mac);
    record.machine = Some(machine.hostname);
    Ok(record)
}

/// Prepares the image (shared by machines with the same image) and writes the answer.
fn prepare_minimal(
    layout: &Layout,
    profile: &Profile,
    minimal: &Minimal,
) -> Result<(String, String), NetbootError> {
    let manifest_path = minimal.image.join("manifest.json");
    let manifest = std::fs::read(&manifest_path).unwrap_or_default();
    let root = minimal.image.join("root.qcow2");
    let modified = std::fs::metadata(&root)
        .and_then(|meta| meta.modified())
        .map_err(NetbootError::io("reading", &root))?;
    let mut hash = Sha256::new();
    hash.update(&manifest);
    hash.update(format!("{modified:?}"));
    let digest = hash.finalize();
    let name = hex::encode(&digest[..8]);
    let append = serde_json::from_slice::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|m| m["append"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "rw console=ttyS0".to_owned());
    let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let prepared = installer::prepare(&minimal.image, &layout.images().join(&name), id, &append)?;
    let root = &prepared.disk.root;
    let append = disk::with_root(&append, root);
    let fstab = format!("{root} / ext4 rw,errors=remount-ro 0 1");
    let answer = [
        ("MC_HOSTNAME", profile.hostname.as_str()),
        ("MC_DISK", minimal.disk.as_str()),
        ("MC_DISK_BYTES", &prepared.disk.bytes.to_string()),
        ("MC_ROOT_DEV", &disk::partition_device(&minimal.disk, 2)),
        ("MC_APPEND", &append),
        ("MC_FSTAB", &fstab),
        (
            "MC_ROOT_PASSWORD",
            minimal.root_password.as_deref().unwrap_or(""),
        ),
    ]
    .iter()
    .map(|(name, value)| format!("{name}={}\n", shell_quote(value)))
    .collect();
    Ok((name, answer))
}

/// `value` as one word for `sh`, single-quoted.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_come_back_unchanged_from_sh() {
        let value = "it's $HOME `x` \"y\"";
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("v={}; printf %s \"$v\"", shell_quote(value))])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    }
}
