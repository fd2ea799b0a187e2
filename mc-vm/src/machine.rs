//! Machine definitions (`STATE/NAME/machine.toml`) and the files a running machine keeps beside
//! its definition.

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// How long a command waits for another one to release a machine's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// What went wrong with a machine's definition or state folder.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// The name cannot be a folder name.
    #[error("bad machine name {0:?}: use letters, digits, '-', '_' and '.'")]
    BadName(String),
    /// No machine of that name is defined.
    #[error("no machine {name} in {}", state.display())]
    NotDefined {
        /// The machine.
        name: String,
        /// The state folder.
        state: PathBuf,
    },
    /// A file the definition names does not exist.
    #[error("machine {name}: {what} {} does not exist", path.display())]
    MissingFile {
        /// The machine.
        name: String,
        /// `kernel`, `initrd` or `disk`.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// Another mc-vm command holds the machine's lock.
    #[error("machine {name} is busy: another mc-vm command held its lock for {seconds} s")]
    Busy {
        /// The machine.
        name: String,
        /// How long this command waited.
        seconds: u64,
    },
    /// Reading or writing a file failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `machine.toml` is not a definition.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        source: toml::de::Error,
    },
}

impl MachineError {
    fn io(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            context,
            path,
            source,
        }
    }
}

/// A machine's definition, as `machine.toml` holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// The machine's name, its folder's name.
    pub name: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Virtual CPUs.
    pub cpus: u32,
    /// A kernel booted directly, absolute path.
    pub kernel: Option<PathBuf>,
    /// Its initramfs, absolute path.
    pub initrd: Option<PathBuf>,
    /// Its command line.
    pub append: Option<String>,
    /// Disk images, absolute paths, attached as virtio-blk in this order.
    #[serde(default)]
    pub disks: Vec<PathBuf>,
    /// Whether the machine has a guest-agent channel.
    #[serde(default)]
    pub agent: bool,
    /// Whether the machine has a network card on QEMU's user-mode network (NAT, no root).
    #[serde(default)]
    pub net: bool,
    /// TCP ports of the host's loopback forwarded to the guest (implies `net`).
    #[serde(default)]
    pub forwards: Vec<Forward>,
    /// Cards on private networks of machines, each with the guest's fixed address.
    #[serde(default)]
    pub nics: Vec<crate::network::Nic>,
}

/// A TCP port forward from the host's loopback into the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// The port on 127.0.0.1.
    pub host_port: u16,
    /// The port in the guest.
    pub guest_port: u16,
}

impl std::str::FromStr for Forward {
    type Err = String;

    /// `HOST:GUEST`, or `tcp:HOST:GUEST`.
    fn from_str(text: &str) -> Result<Self, String> {
        let ports = text.strip_prefix("tcp:").unwrap_or(text);
        let (host, guest) = ports
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected HOST_PORT:GUEST_PORT"))?;
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("{text:?}: {p:?} is not a port (1-65535)"))
        };
        Ok(Self {
            host_port: port(host)?,
            guest_port: port(guest)?,
        })
    }
}

impl std::fmt::Display for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tcp:{}:{}", self.host_port, self.guest_port)
    }
}

/// A disk image's format, as QEMU names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFormat {
    /// QEMU's copy-on-write format: snapshots and overlays.
    Qcow2,
    /// Plain bytes.
    Raw,
}

impl DiskFormat {
    /// The format of the image at `path`, by its magic number (`QFI\xfb` is qcow2).
    pub fn of(path: &Path) -> Result<Self, MachineError> {
        let mut magic = [0; 4];
        let mut file = File::open(path).map_err(MachineError::io("opening", path))?;
        let read =
            io::Read::read(&mut file, &mut magic).map_err(MachineError::io("reading", path))?;
        Ok(if read == 4 && magic == *b"QFI\xfb" {
            Self::Qcow2
        } else {
            Self::Raw
        })
    }

    /// The name QEMU gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Qcow2 => "qcow2",
            Self::Raw => "raw",
        }
    }
}

impl Machine {
    /// Checks that every file the definition names exists.
    pub fn check_files(&self) -> Result<(), MachineError> {
        let files = self
            .kernel
            .iter()
            .map(|path| ("kernel", path))
            .chain(self.initrd.iter().map(|path| ("initrd", path)))
            .chain(self.disks.iter().map(|path| ("disk", path)));
        for (what, path) in files {
            if !path.is_file() {
                return Err(MachineError::MissingFile {
                    name: self.name.clone(),
                    what,
                    path: path.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The state folder: one sub-folder per machine.
#[derive(Clone, Debug)]
pub struct State {
    root: PathBuf,
}

impl State {
    /// The state folder at `root` (created when a machine is first defined).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The default: `$XDG_STATE_HOME/minicluster/vm`, or `~/.local/state/minicluster/vm`.
    pub fn default_root() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
            })?;
        Some(base.join("minicluster/vm"))
    }

    /// The folder of machine `name`.
    pub fn dir(&self, name: &str) -> Result<PathBuf, MachineError> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if valid {
            Ok(self.root.join(name))
        } else {
            Err(MachineError::BadName(name.to_owned()))
        }
    }

    /// Writes `machine`'s definition, atomically.
    pub fn define(&self, machine: &Machine) -> Result<(), MachineError> {
        let dir = self.dir(&machine.name)?;
        fs::create_dir_all(&dir).map_err(MachineError::io("creating", &dir))?;
        let text = toml::to_string(machine).expect("a definition always serialises");
        let path = dir.join("machine.toml");
        let partial = dir.join("machine.toml.partial");
        fs::write(&partial, text).map_err(MachineError::io("writing", &partial))?;
        fs::rename(&partial, &path).map_err(MachineError::io("renaming", &partial))
    }

    /// Reads machine `name`'s definition.
    pub fn load(&self, name: &str) -> Result<Machine, MachineError> {
        let path = self.dir(name)?.join("machine.toml");
        let text = match fs::read_to_string(&path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(MachineError::NotDefined {
                    name: name.to_owned(),
                    state: self.root.clone(),
                });
            }
            other => other.map_err(MachineError::io("reading", &path))?,
        };
        toml::from_str(&text).map_err(|source| MachineError::Parse { path, source })
    }

    /// The names of all defined machines, sorted.
    pub fn names(&self) -> Result<Vec<String>, MachineError> {
        let entries = match fs::read_dir(&self.root) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(MachineError::io("reading", &self.root))?,
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(MachineError::io("reading", &self.root))?;
            if entry.path().join("machine.toml").is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Takes machine `name`'s lock, waiting up to `wait` for another mc-vm command to finish
    /// with it. The lock is released when the file is dropped (or the process ends).
    pub fn lock(&self, name: &str, wait: Duration) -> Result<File, MachineError> {
        let path = self.dir(name)?.join("lock");
        let file = File::create(&path).map_err(MachineError::io("creating", &path))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(MachineError::Busy {
                        name: name.to_owned(),
                        seconds: wait.as_secs(),
                    });
                }
                Err(fs::TryLockError::Error(source)) => {
                    return Err(MachineError::io("locking", &path)(source));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_makes_the_second_command_wait_then_give_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = State::new(dir.path().to_owned());
        fs::create_dir_all(dir.path().join("m")).expect("creates");
        let held = state.lock("m", Duration::ZERO).expect("first lock");
        let started = Instant::now();
        let second = state.lock("m", Duration::from_millis(300));
        assert!(
            matches!(second, Err(MachineError::Busy { .. })),
            "{second:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        drop(held);
        state.lock("m", Duration::ZERO).expect("free again");
    }

    #[test]
    fn forwards_parse_with_or_without_the_protocol() {
        let forward = Forward {
            host_port: 8080,
            guest_port: 80,
        };
        assert_eq!("8080:80".parse(), Ok(forward));
        assert_eq!("tcp:8080:80".parse(), Ok(forward));
        assert_eq!(forward.to_string(), "tcp:8080:80");
        for bad in ["8080", "0:80", "8080:70000", "udp:1:2:3", "a:b"] {
            assert!(bad.parse::<Forward>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_that_are_not_plain_folder_names_are_refused() {
        let state = State::new(PathBuf::from("/state"));
        assert_eq!(
            state.dir("web-1.x").ok(),
            Some(PathBuf::from("/state/web-1.x"))
        );
        for bad in ["", "..", ".hidden", "a/b", "a b"] {
            assert!(
                matches!(state.dir(bad), Err(MachineError::BadName(_))),
                "{bad}"
            );
        }
    }
}
