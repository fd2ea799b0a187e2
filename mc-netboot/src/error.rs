//! What can go wrong, one variant per cause.

use std::path::{Path, PathBuf};

/// An error of `mc-netboot`.
#[derive(Debug, thiserror::Error)]
pub enum NetbootError {
    /// A file or folder operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A socket could not be opened.
    #[error("listening on {address} ({what}): {source}")]
    Listen {
        /// The address.
        address: String,
        /// The service (`tftp`, `http`, `proxy-dhcp`).
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The profile is not usable; nothing was enrolled.
    #[error("profile {}: {message}", path.display())]
    Profile {
        /// The profile file.
        path: PathBuf,
        /// What is wrong with it (a missing field is named).
        message: String,
    },
    /// A MAC address that is not six hex pairs.
    #[error("bad MAC address {0:?}: want six hex pairs like 52:54:00:12:34:56")]
    BadMac(String),
    /// `serve --interface` without `--listen`, and the interface has no IPv4 address.
    #[error("interface {0} has no IPv4 address (or no such interface): give --listen IP:PORT")]
    NoAddress(String),
    /// A program the tool runs failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output, or why it did not start.
        message: String,
    },
    /// A machine's state file does not parse.
    #[error("{}: {message}", path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl NetbootError {
    /// A closure mapping an I/O error on `path` to [`NetbootError::Io`].
    pub fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
