//! An appliance's state: `STATE/NAME/appliance.toml` (what `define` chose and what commands
//! changed since: which machine is the primary, the named state a failed command left), its
//! machines' mc-vm state folder `STATE/NAME/vms`, their disks in `STATE/NAME/disks`.
//!
//! `STATE` is `$XDG_STATE_HOME/minicluster/appliances` (else `~/.local/state/...`), images are
//! cached in `$XDG_CACHE_HOME/minicluster/images` (else `~/.cache/...`), so two users or two
//! test runs with their own folders never share machines.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// What went wrong with an appliance's state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The name cannot be a folder name.
    #[error("bad appliance name {0:?}: use letters, digits and '-' (a letter first)")]
    BadName(String),
    /// No appliance of that name.
    #[error("no appliance {0} (mc-appliance define first)")]
    NotDefined(String),
    /// The name is taken.
    #[error(
        "appliance {0} exists already (mc-appliance down and remove its folder, or pick another name)"
    )]
    Exists(String),
    /// A file operation.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `appliance.toml` does not parse.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
}

pub(crate) fn io(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.to_owned();
    move |source| StateError::Io {
        context,
        path,
        source,
    }
}

/// The folders appliances and images live in.
#[derive(Clone, Debug)]
pub struct Folders {
    /// One folder per appliance.
    pub state: PathBuf,
    /// One folder per image recipe.
    pub images: PathBuf,
}

impl Folders {
    /// The XDG defaults, each replaced when given.
    pub fn new(state: Option<PathBuf>, images: Option<PathBuf>) -> Option<Self> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let xdg = |var: &str, fallback: &str| {
            std::env::var_os(var)
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|home| home.join(fallback)))
        };
        Some(Self {
            state: match state {
                Some(dir) => dir,
                None => xdg("XDG_STATE_HOME", ".local/state")?.join("minicluster/appliances"),
            },
            images: match images {
                Some(dir) => dir,
                None => xdg("XDG_CACHE_HOME", ".cache")?.join("minicluster/images"),
            },
        })
    }

    /// The folder of appliance `name`.
    pub fn dir(&self, name: &str) -> Result<PathBuf, StateError> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.len() <= 40
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if valid {
            Ok(self.state.join(name))
        } else {
            Err(StateError::BadName(name.to_owned()))
        }
    }
}

/// One machine of an appliance, as `define` laid it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The mc-vm machine (`NAME-0`, `NAME-1`, ...).
    pub machine: String,
    /// Its address on the private network.
    pub address: String,
    /// The host port forwarded to the application's port.
    pub host_port: u16,
}

/// An appliance's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appliance {
    /// Its name.
    pub name: String,
    /// Its application.
    pub app: String,
    /// The application's password (made at define; in the client URLs).
    pub password: String,
    /// The machines; [`Appliance::primary`] indexes them.
    pub slots: Vec<Slot>,
    /// Which machine is the primary now (it moves with a fail-over).
    pub primary: usize,
    /// `defined`, `running`, `stopped`, or a failed command's named state.
    pub state: String,
    /// For a failed command's state: the command that recovers from it.
    pub recover: Option<String>,
    /// The package version before the last upgrade or downgrade: where `downgrade` goes back to.
    #[serde(default)]
    pub previous_version: Option<String>,
    /// Where its records are logged besides stdout.
    #[serde(default)]
    pub logging: Option<crate::logging::Logging>,
}

impl Appliance {
    /// Reads appliance `name`.
    pub fn load(folders: &Folders, name: &str) -> Result<Self, StateError> {
        let path = folders.dir(name)?.join("appliance.toml");
        let text = match fs::read_to_string(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotDefined(name.to_owned()));
            }
            other => other.map_err(io("reading", &path))?,
        };
        toml::from_str(&text).map_err(|error| StateError::Parse {
            path,
            message: error.to_string(),
        })
    }

    /// Writes it, atomically.
    pub fn save(&self, folders: &Folders) -> Result<(), StateError> {
        let dir = folders.dir(&self.name)?;
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        let path = dir.join("appliance.toml");
        let text = toml::to_string(self).unwrap_or_default();
        minicluster::file::write_atomic(&path, text.as_bytes(), false).map_err(io("writing", &path))
    }

    /// The role of machine number `index`: the primary's, or the others' numbered from the
    /// second replica on (`replica`, `replica-2`, ...).
    pub fn role(&self, index: usize, roles: &[String]) -> String {
        let (first, other) = (&roles[0], &roles[1]);
        if index == self.primary {
            return first.clone();
        }
        let rank = (0..=index).filter(|&i| i != self.primary).count();
        if rank <= 1 {
            other.clone()
        } else {
            format!("{other}-{rank}")
        }
    }

    /// The indexes of the machines that are not the primary.
    pub fn replicas(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| i != self.primary)
            .collect()
    }
}

/// Takes appliance `name`'s lock (created with its folder), waiting for another command on it
/// to finish; released when dropped.
pub fn lock(folders: &Folders, name: &str) -> Result<fs::File, StateError> {
    let dir = folders.dir(name)?;
    fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let path = dir.join("lock");
    let file = fs::File::create(&path).map_err(io("creating", &path))?;
    file.lock().map_err(io("locking", &path))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appliance(primary: usize) -> Appliance {
        let slot = |i: u16| Slot {
            machine: format!("db-{i}"),
            address: format!("10.77.0.{}", 10 + i),
            host_port: 5000 + i,
        };
        Appliance {
            name: "db".into(),
            app: "postgresql".into(),
            password: "pw".into(),
            slots: vec![slot(0), slot(1), slot(2)],
            primary,
            state: "running".into(),
            recover: None,
            previous_version: None,
            logging: None,
        }
    }

    #[test]
    fn roles_follow_the_primary() {
        let roles = ["primary".to_owned(), "replica".to_owned()];
        let names = |a: &Appliance| (0..3).map(|i| a.role(i, &roles)).collect::<Vec<_>>();
        assert_eq!(names(&appliance(0)), ["primary", "replica", "replica-2"]);
        assert_eq!(names(&appliance(1)), ["replica", "primary", "replica-2"]);
        assert_eq!(appliance(1).replicas(), [0, 2]);
    }

    #[test]
    fn names_must_be_plain() {
        let folders = Folders {
            state: "/s".into(),
            images: "/i".into(),
        };
        assert!(folders.dir("db-1").is_ok());
        for bad in ["", "1db", "a/b", "a.b", "..", "a_b"] {
            assert!(folders.dir(bad).is_err(), "{bad}");
        }
    }
}
