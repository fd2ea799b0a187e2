//! Dependencies the set itself built, installed with real pacman into a private root that the
//! sandbox mounts read-only.
//!
//! pacman runs as the caller (root, when mc-build drops to a build user) with `--noscriptlet`
//! and an empty hook folder: the packages were built from untrusted PKGBUILDs, so none of their
//! code runs outside the sandbox. `-dd` because the system's own packages are not in a pacman
//! database here (see [`crate::sandbox`]); the set's own dependencies are resolved by mc-build.

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Why the dependencies could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    /// A file or folder of the private root could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// pacman (through setpriv) could not be started.
    #[error("starting pacman: {0}")]
    Spawn(std::io::Error),
    /// pacman failed.
    #[error("pacman could not install {packages} (see the log)")]
    Pacman {
        /// The packages asked for.
        packages: String,
    },
}

/// A private pacman root for one base, next to its configuration.
#[derive(Debug)]
pub struct DepsRoot {
    /// The root folder (`ROOT/usr/...`), mounted into the sandbox.
    pub root: PathBuf,
    /// pacman's configuration, cache, hooks and keyring: outside the root.
    admin: PathBuf,
}

impl DepsRoot {
    /// A fresh, empty root at `dir/root` (whatever was there is removed).
    pub fn create(dir: &Path) -> Result<Self, DepsError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DepsError::Io { path, source }
        };
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(io(dir))?;
        }
        let root = dir.join("root");
        let admin = dir.join("pacman");
        for sub in [
            root.join("var/lib/pacman"),
            admin.join("cache"),
            admin.join("hooks"),
        ] {
            fs::create_dir_all(&sub).map_err(io(&sub))?;
        }
        Ok(Self { root, admin })
    }

    /// Installs `packages` from the repository `repo_name` in `repo_dir`, pacman's output going
    /// to `log`.
    pub fn install(
        &self,
        repo_dir: &Path,
        repo_name: &str,
        packages: &[String],
        log: &File,
    ) -> Result<(), DepsError> {
        if packages.is_empty() {
            return Ok(());
        }
        let config = self.admin.join("pacman.conf");
        let text = format!(
            "[options]\nArchitecture = auto\nSigLevel = Never\n\n[{repo_name}]\nServer = file://{}\n",
            repo_dir.display()
        );
        fs::write(&config, text).map_err(|source| DepsError::Io {
            path: config.clone(),
            source,
        })?;
        let clone = |log: &File| log.try_clone().map_err(DepsError::Spawn);
        // `setpriv --pdeathsig KILL`: pacman dies with mc-build. An interrupted run must not
        // leave it writing into the root that the next run removes and makes anew.
        let status = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "pacman"])
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(&self.root)
            .arg("--dbpath")
            .arg(self.root.join("var/lib/pacman"))
            .arg("--cachedir")
            .arg(self.admin.join("cache"))
            .arg("--hookdir")
            .arg(self.admin.join("hooks"))
            .arg("--gpgdir")
            .arg(self.admin.join("gnupg"))
            .args(["--noconfirm", "--noscriptlet", "--noprogressbar", "-Sydd"])
            .args(packages)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(clone(log)?)
            .stderr(clone(log)?)
            .status()
            .map_err(DepsError::Spawn)?;
        if status.success() {
            Ok(())
        } else {
            Err(DepsError::Pacman {
                packages: packages.join(" "),
            })
        }
    }
}
