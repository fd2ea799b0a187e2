//! The served folder: what `enroll` writes and `serve` reads.
//!
//! ```text
//! DIR/tftp/boot.ipxe                 the TFTP root (dnsmasq's tftp-root too): chains to HTTP
//! DIR/machines/MAC/machine.json      one enrolled machine (0600, the folder 0700)
//! DIR/machines/MAC/answer            its installer's answer, secrets included (0600)
//! DIR/machines/MAC/state.json        done / failed, written by serve
//! DIR/images/HASH/                   a root image prepared for the installer
//! ```
//!
//! MACs are written lower-case with hyphens in paths (`52-54-00-12-34-56`), with colons in
//! records.

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::NetbootError;

/// The script the TFTP server (or dnsmasq) hands iPXE first.
pub const BOOT_SCRIPT: &str = "boot.ipxe";

/// A MAC address, six bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Parses `52:54:00:12:34:56` (or with hyphens, any case).
    pub fn parse(text: &str) -> Result<Self, NetbootError> {
        let bad = || NetbootError::BadMac(text.to_owned());
        let parts: Vec<&str> = text.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut mac = [0; 6];
        for (byte, part) in mac.iter_mut().zip(parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(Self(mac))
    }

    /// The MAC of a DHCP message's `chaddr`, when it is an Ethernet address.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.get(..6)?.try_into().ok()?))
    }

    /// `52-54-00-12-34-56`, the form in paths.
    pub fn file_name(&self) -> String {
        self.joined("-")
    }

    fn joined(&self, separator: &str) -> String {
        self.0
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(separator)
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.joined(":"))
    }
}

/// An enrolled machine, as `enroll` wrote it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Enrolled {
    /// Its MAC address, colon form.
    pub mac: String,
    /// Its host name.
    pub hostname: String,
    /// The secret part of its URLs on the HTTP server: only the machine's own iPXE script
    /// names it.
    pub token: String,
    /// The installer: `minimal` or `archinstall`.
    pub installer: String,
    /// `minimal`: the prepared image's folder name under `DIR/images`.
    pub image: Option<String>,
    /// `archinstall`: the archiso netboot artifacts (the folder holding `arch/`).
    pub archiso: Option<PathBuf>,
    /// Extra kernel command line for the installer (`console=ttyS0`).
    pub append: String,
}

/// How an installation ended, as `serve` records it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Installed: the machine boots from its disk.
    Done,
    /// It failed at `step`.
    Failed {
        /// The step that failed.
        step: String,
    },
}

/// The served folder.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Its root.
    pub dir: PathBuf,
}

impl Layout {
    /// The folder at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The TFTP root.
    pub fn tftp(&self) -> PathBuf {
        self.dir.join("tftp")
    }

    /// Machine `mac`'s folder.
    pub fn machine_dir(&self, mac: Mac) -> PathBuf {
        self.dir.join("machines").join(mac.file_name())
    }

    /// The prepared images' folder.
    pub fn images(&self) -> PathBuf {
        self.dir.join("images")
    }

    /// Machine `mac`'s enrollment, `None` when it is not enrolled.
    pub fn enrolled(&self, mac: Mac) -> Result<Option<Enrolled>, NetbootError> {
        let path = self.machine_dir(mac).join("machine.json");
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|error| NetbootError::BadState {
                        path,
                        message: error.to_string(),
                    })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(NetbootError::io("reading", &path)(error)),
        }
    }

    /// Every enrolled machine.
    pub fn all_enrolled(&self) -> Result<Vec<Enrolled>, NetbootError> {
        let dir = self.dir.join("machines");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(NetbootError::io("reading", &dir)(error)),
        };
        let mut machines = Vec::new();
        for entry in entries {
            let entry = entry.map_err(NetbootError::io("reading", &dir))?;
            let name = entry.file_name();
            if let Ok(mac) = Mac::parse(&name.to_string_lossy())
                && let Some(machine) = self.enrolled(mac)?
            {
                machines.push(machine);
            }
        }
        machines.sort_by(|a, b| a.mac.cmp(&b.mac));
        Ok(machines)
    }

    /// How machine `mac`'s installation ended, `None` while it has not.
    pub fn outcome(&self, mac: Mac) -> Option<Outcome> {
        let bytes = fs::read(self.machine_dir(mac).join("state.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records how machine `mac`'s installation ended.
    pub fn set_outcome(&self, mac: Mac, outcome: &Outcome) -> Result<(), NetbootError> {
        let json = serde_json::to_vec(outcome).expect("an outcome serializes");
        write_private(&self.machine_dir(mac).join("state.json"), &json)
    }
}

/// Writes `bytes` to `path` atomically (temp file + rename), readable by its owner only: the
/// files of a machine hold secrets.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), NetbootError> {
    write_atomic(path, bytes, 0o600)
}

/// Writes `bytes` to `path` atomically with permissions `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), NetbootError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(NetbootError::io("creating", dir))?;
    let temp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temp)
        .map_err(NetbootError::io("creating", &temp))?;
    // The mode given at creation is cut by the umask, and an old temp file keeps its own.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(NetbootError::io("setting permissions of", &temp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(NetbootError::io("writing", &temp))?;
    fs::rename(&temp, path).map_err(NetbootError::io("renaming", &temp))
}

/// Creates `dir` (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), NetbootError> {
    fs::create_dir_all(dir).map_err(NetbootError::io("creating", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(NetbootError::io("setting permissions of", dir))
}

/// 128 random bits from the kernel, as hex.
pub fn random_token() -> Result<String, NetbootError> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut bytes))
        .map_err(NetbootError::io("reading", path))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_either_form_and_print_in_both() {
        let mac = Mac::parse("52:54:00:AB:cd:01").expect("parses");
        assert_eq!(mac, Mac::parse("52-54-00-ab-cd-01").expect("parses"));
        assert_eq!(mac.to_string(), "52:54:00:ab:cd:01");
        assert_eq!(mac.file_name(), "52-54-00-ab-cd-01");
        for bad in [
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:1",
            "zz:54:00:ab:cd:01",
            "../x",
        ] {
            assert!(Mac::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/answer");
        write_private(&path, b"secret").expect("writes");
        let mode = fs::metadata(&path).expect("exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read(&path).expect("reads"), b"secret");
    }
}
