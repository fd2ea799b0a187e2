//! The lock that keeps runs on one repository apart: writers take it exclusively, readers
//! (`list`, `check`) shared, so readers run side by side but never beside a writer.
//!
//! The lock file `DIR/.NAME.mc-repo.lock` sits in a folder others may write to (a shared
//! repository), so it is opened without following a symbolic link: a link planted there would
//! otherwise make mc-repo create or lock whatever file it points at.

use std::{
    fs::{File, OpenOptions},
    io,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use rustix::fs::OFlags;

/// What a run does to the repository, and so which lock it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only: a shared lock, or none when the folder allows no lock file to be made.
    Read,
    /// Changes it: the exclusive lock, the lock file made when missing.
    Write,
}

/// Why the lock cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds the lock in a way that excludes this one.
    #[error("{0}: another mc-repo is updating this repository (lock held)")]
    Held(PathBuf),
    /// The lock file is a symbolic link, or not a regular file.
    #[error("{0}: the lock file is a symbolic link or not a regular file; refusing to use it")]
    NotAFile(PathBuf),
    /// The lock file cannot be opened.
    #[error("{path}: {error}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the system said (in the message, so not a `source` that would repeat it).
        error: io::Error,
    },
}

/// A held lock (or, for a reader in a folder without a lock file it may make, none); released
/// when dropped.
#[derive(Debug)]
pub struct Lock {
    file: Option<File>,
}

impl Lock {
    /// Whether a lock is held (a reader in a read-only folder may hold none).
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }

    /// Takes the lock `path` for `access`, without waiting.
    pub fn take(path: &Path, access: Access) -> Result<Self, LockError> {
        let io_error = |error| LockError::Io {
            path: path.to_owned(),
            error,
        };
        // A FIFO planted as the lock file must not block the open; flock ignores the flag.
        // O_CREAT by hand: a reader makes the lock file too when it may, but opens it read-only
        // (std's `create` insists on write access).
        let flags = OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(access == Access::Write)
            .mode(0o644)
            .custom_flags(flags.bits().cast_signed());
        let file = match options.open(path) {
            Ok(file) => file,
            // ELOOP: the last component is a symbolic link.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                return Err(LockError::NotAFile(path.to_owned()));
            }
            // A reader that may not make the lock file in a read-only folder needs none: no
            // writer (who would have made it) has started.
            Err(e)
                if access == Access::Read
                    && matches!(
                        e.kind(),
                        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                    ) =>
            {
                return Ok(Self { file: None });
            }
            Err(e) => return Err(io_error(e)),
        };
        if !file.metadata().map_err(io_error)?.is_file() {
            return Err(LockError::NotAFile(path.to_owned()));
        }
        let taken = match access {
            Access::Read => file.try_lock_shared(),
            Access::Write => file.try_lock(),
        };
        match taken {
            Ok(()) => Ok(Self { file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held(path.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(e)),
        }
    }
}
