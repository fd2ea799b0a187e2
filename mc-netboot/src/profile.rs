//! A machine's profile: what `enroll` installs on it. TOML, checked before anything boots: a
//! missing field, an unknown one, or a file it names that is not there refuses the profile.
//!
//! ```toml
//! hostname = "node1"
//!
//! [minimal]                      # the installer of this crate: writes an mc-vm image's root
//! image = "target/vm-image/debian-postgresql"   # an `mc-vm image build --out` folder
//! disk = "/dev/vda"
//! root_password = "..."          # optional; hashed in the installer, never on a command line
//!
//! # or, for Arch Linux with archinstall:
//! [archinstall]
//! archiso = "/srv/archiso"       # `mkarchiso -m netboot` output (holds arch/boot/x86_64/)
//! config = "user_configuration.json"
//! creds = "user_credentials.json"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::NetbootError;

/// A parsed and checked profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The installed machine's host name.
    pub hostname: String,
    /// Extra kernel command line for the installer; `console=ttyS0` when not given.
    #[serde(default = "default_append")]
    pub append: String,
    /// The minimal installer.
    pub minimal: Option<Minimal>,
    /// archiso + archinstall.
    pub archinstall: Option<Archinstall>,
}

fn default_append() -> String {
    "console=ttyS0".to_owned()
}

/// `[minimal]`: write a disk built from an `mc-vm image build` folder (MBR, an ESP with
/// systemd-boot, the root with extlinux), so the machine boots it under BIOS or UEFI.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Minimal {
    /// The image folder (`root.qcow2`, `vmlinuz`, `initrd.img`, `manifest.json`).
    pub image: PathBuf,
    /// The disk to install on, as the installer's kernel names it.
    pub disk: String,
    /// root's password on the installed machine.
    pub root_password: Option<String>,
}

/// `[archinstall]`: boot archiso's netboot kernel and run archinstall with these answers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archinstall {
    /// archiso's netboot artifacts: the folder holding `arch/boot/x86_64/vmlinuz-linux`.
    pub archiso: PathBuf,
    /// archinstall's `--config` file.
    pub config: PathBuf,
    /// archinstall's `--creds` file.
    pub creds: PathBuf,
}

/// The files of an `mc-vm image build` folder the minimal installer needs.
pub const IMAGE_FILES: &[&str] = &["root.qcow2", "vmlinuz", "initrd.img"];

/// archiso's netboot kernel and initramfs, below the artifacts folder.
pub const ARCHISO_FILES: &[&str] = &[
    "arch/boot/x86_64/vmlinuz-linux",
    "arch/boot/x86_64/initramfs-linux.img",
];

impl Profile {
    /// Reads and checks the profile at `path`; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Self, NetbootError> {
        let refuse = |message: String| NetbootError::Profile {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|error| refuse(error.to_string()))?;
        let mut profile: Self =
            toml::from_str(&text).map_err(|error| refuse(error.message().to_owned()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        profile.resolve(base);
        profile.check().map_err(refuse)?;
        Ok(profile)
    }

    fn resolve(&mut self, base: &Path) {
        let absolute = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        if let Some(minimal) = &mut self.minimal {
            absolute(&mut minimal.image);
        }
        if let Some(arch) = &mut self.archinstall {
            absolute(&mut arch.archiso);
            absolute(&mut arch.config);
            absolute(&mut arch.creds);
        }
    }

    fn check(&self) -> Result<(), String> {
        if !is_hostname(&self.hostname) {
            return Err(format!(
                "hostname {:?}: want letters, digits and hyphens, 1-63 of them",
                self.hostname
            ));
        }
        match (&self.minimal, &self.archinstall) {
            (Some(minimal), None) => minimal.check(),
            (None, Some(arch)) => arch.check(),
            (None, None) => {
                Err("missing field `minimal` or `archinstall`: say which installer".into())
            }
            (Some(_), Some(_)) => {
                Err("both `minimal` and `archinstall`: choose one installer".into())
            }
        }
    }

    /// The installer's name: `minimal` or `archinstall`.
    pub fn installer(&self) -> &'static str {
        if self.minimal.is_some() {
            "minimal"
        } else {
            "archinstall"
        }
    }
}

impl Minimal {
    fn check(&self) -> Result<(), String> {
        need_files(&self.image, IMAGE_FILES, "minimal.image")?;
        if !self.disk.starts_with("/dev/") || self.disk.contains(char::is_whitespace) {
            return Err(format!(
                "minimal.disk {:?}: want a device path like /dev/vda",
                self.disk
            ));
        }
        Ok(())
    }
}

impl Archinstall {
    fn check(&self) -> Result<(), String> {
        need_files(&self.archiso, ARCHISO_FILES, "archinstall.archiso")?;
        let config = read_json(&self.config, "archinstall.config")?;
        check_archinstall_config(&config).map_err(|e| format!("archinstall.config: {e}"))?;
        let creds = read_json(&self.creds, "archinstall.creds")?;
        check_archinstall_creds(&creds).map_err(|e| format!("archinstall.creds: {e}"))
    }
}

fn need_files(dir: &Path, files: &[&str], field: &str) -> Result<(), String> {
    for file in files {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(format!("{field}: {} does not exist", path.display()));
        }
    }
    Ok(())
}

fn read_json(path: &Path, field: &str) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{field}: {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{field}: {}: {error}", path.display()))
}

/// The boot loaders archinstall 4.0 installs (`Bootloader` in `lib/models/bootloader.py`); it
/// capitalizes the configured name and exits on any other, with the machine booted already.
pub const ARCHINSTALL_BOOT_LOADERS: &[&str] =
    &["Systemd-boot", "Grub", "Efistub", "Limine", "Refind"];

/// What an unattended archinstall run (`--config --creds --silent`) needs of its config: an
/// object, with the disk layout (without it archinstall asks), a boot loader archinstall knows
/// (in `bootloader_config`, or the older top-level `bootloader`), and no credentials in it
/// (they belong in `--creds`, which is served to the machine only).
pub fn check_archinstall_config(config: &serde_json::Value) -> Result<(), String> {
    let object = config.as_object().ok_or("not a JSON object")?;
    if !object
        .get("disk_config")
        .is_some_and(serde_json::Value::is_object)
    {
        return Err("missing field `disk_config` (archinstall would ask for the disk)".into());
    }
    let boot_loader = object
        .get("bootloader_config")
        .and_then(|config| config.get("bootloader"))
        .or_else(|| object.get("bootloader"));
    if let Some(boot_loader) = boot_loader {
        let name = boot_loader.as_str().map(capitalize).unwrap_or_default();
        if !ARCHINSTALL_BOOT_LOADERS.contains(&name.as_str()) {
            return Err(format!(
                "boot loader {boot_loader}: archinstall knows {}",
                ARCHINSTALL_BOOT_LOADERS.join(", ")
            ));
        }
    }
    for secret in [
        "root_enc_password",
        "users",
        "encryption_password",
        "!root-password",
    ] {
        if object.contains_key(secret) {
            return Err(format!("`{secret}` belongs in the creds file"));
        }
    }
    Ok(())
}

/// What archinstall's `--creds` must hold for a machine one can log in to: a root password
/// hash, or users each with a name and a password hash (crypt form, `$...`, never plain text).
pub fn check_archinstall_creds(creds: &serde_json::Value) -> Result<(), String> {
    let object = creds.as_object().ok_or("not a JSON object")?;
    let is_hash = |value: Option<&serde_json::Value>| {
        value
            .and_then(serde_json::Value::as_str)
            .is_some_and(|hash| hash.starts_with('$'))
    };
    let root = object.get("root_enc_password");
    if root.is_some() && !is_hash(root) {
        return Err("`root_enc_password` is not a crypt hash ($y$..., $6$...)".into());
    }
    let users = object.get("users").and_then(serde_json::Value::as_array);
    for (index, user) in users.into_iter().flatten().enumerate() {
        if !user
            .get("username")
            .is_some_and(serde_json::Value::is_string)
        {
            return Err(format!("users[{index}]: missing field `username`"));
        }
        if !is_hash(user.get("enc_password")) {
            return Err(format!(
                "users[{index}]: missing field `enc_password` (a crypt hash)"
            ));
        }
    }
    if root.is_none() && users.is_none_or(Vec::is_empty) {
        return Err("missing field `root_enc_password` (or `users`): no one could log in".into());
    }
    Ok(())
}

/// Python's `str.capitalize()`, as archinstall reads a boot loader's name: the first letter
/// upper-case, the rest lower-case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| {
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

fn is_hostname(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_dir(dir: &Path) -> PathBuf {
        let image = dir.join("image");
        std::fs::create_dir_all(&image).expect("creates");
        for file in IMAGE_FILES {
            std::fs::write(image.join(file), b"x").expect("writes");
        }
        image
    }

    fn load(dir: &Path, text: &str) -> Result<Profile, String> {
        let path = dir.join("profile.toml");
        std::fs::write(&path, text).expect("writes");
        Profile::load(&path).map_err(|error| error.to_string())
    }

    #[test]
    fn a_minimal_profile_loads_with_paths_made_absolute() {
        let dir = tempfile::tempdir().expect("temp dir");
        image_dir(dir.path());
        let profile = load(
            dir.path(),
            "hostname = \"node1\"\n[minimal]\nimage = \"image\"\ndisk = \"/dev/vda\"\n",
        )
        .expect("loads");
        assert_eq!(profile.installer(), "minimal");
        assert_eq!(profile.append, "console=ttyS0");
        assert_eq!(
            profile.minimal.expect("minimal").image,
            dir.path().join("image")
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        image_dir(dir.path());
        let error = load(
            dir.path(),
            "hostname = \"n\"\n[minimal]\nimage = \"image\"\n",
        )
        .expect_err("refused");
        assert!(error.contains("missing field `disk`"), "{error}");
        let error = load(
            dir.path(),
            "[minimal]\nimage = \"image\"\ndisk = \"/dev/vda\"\n",
        )
        .expect_err("refused");
        assert!(error.contains("missing field `hostname`"), "{error}");
        let error = load(dir.path(), "hostname = \"n\"\n").expect_err("refused");
        assert!(error.contains("`minimal` or `archinstall`"), "{error}");
        let error = load(
            dir.path(),
            "hostname = \"n\"\n[minimal]\nimage = \"nosuch\"\ndisk = \"/dev/vda\"\n",
        )
        .expect_err("refused");
        assert!(error.contains("root.qcow2 does not exist"), "{error}");
        let error = load(dir.path(), "hostname = \"n\"\ncolour = 1\n").expect_err("refused");
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn archinstall_answers_are_checked() {
        use serde_json::json;
        assert!(check_archinstall_config(&json!({"disk_config": {}})).is_ok());
        for name in ["Systemd-boot", "systemd-boot", "GRUB"] {
            let config = json!({"disk_config": {}, "bootloader_config": {"bootloader": name}});
            assert!(check_archinstall_config(&config).is_ok(), "{name}");
        }
        for config in [
            json!({"disk_config": {}, "bootloader_config": {"bootloader": "systemd-bootctl"}}),
            json!({"disk_config": {}, "bootloader": "grub-install"}),
            json!({"disk_config": {}, "bootloader_config": {"bootloader": 1}}),
        ] {
            let error = check_archinstall_config(&config).expect_err("refused");
            assert!(error.contains("archinstall knows Systemd-boot"), "{error}");
        }
        let error = check_archinstall_config(&json!({"hostname": "x"})).expect_err("refused");
        assert!(error.contains("`disk_config`"), "{error}");
        let error = check_archinstall_config(&json!({"disk_config": {}, "users": []}))
            .expect_err("refused");
        assert!(error.contains("creds"), "{error}");
        assert!(check_archinstall_creds(&json!({"root_enc_password": "$y$j9T$abc"})).is_ok());
        let error =
            check_archinstall_creds(&json!({"root_enc_password": "hunter2"})).expect_err("refused");
        assert!(error.contains("crypt hash"), "{error}");
        let error =
            check_archinstall_creds(&json!({"users": [{"username": "a"}]})).expect_err("refused");
        assert!(error.contains("`enc_password`"), "{error}");
        let error = check_archinstall_creds(&json!({})).expect_err("refused");
        assert!(error.contains("`root_enc_password`"), "{error}");
    }
}
