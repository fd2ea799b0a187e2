//! Where makepkg runs: the [`Backend`] trait and its bubblewrap implementation.
//!
//! A backend gets a prepared build folder (the PKGBUILD folder's files plus the verified sources)
//! and, when the base needs packages the set made, a private pacman root holding them. It runs
//! makepkg so that the packages land in `FOLDER/out`, and returns how makepkg ended. Everything
//! around it (order, dependencies, repository, records) is backend-independent, so an Arch clean
//! chroot (`makechrootpkg -r CHROOT`, with the dependencies installed by `-I`) or an `mc-vm`
//! machine can follow by implementing [`Backend`].
//!
//! The bubblewrap backend:
//! - drops root first: `setpriv --reuid --regid --clear-groups` to the build user, then runs an
//!   unprivileged `bwrap`. bwrap's own `--uid` would map the user inside a namespace whose owner
//!   is still root outside; with setpriv the kernel sees only the build user, and makepkg (which
//!   refuses root) runs as it;
//! - `--unshare-all` (no network, own IPC for fakeroot, own PID space) for the whole makepkg run:
//!   sources come from the cache, so nothing needs the network;
//! - `--ro-bind / /` (the system read-only), `--tmpfs /tmp` (private), the build folder bound
//!   writable at [`SANDBOX_BUILD`] and the dependency root read-only at [`SANDBOX_DEPS`]. Fixed
//!   paths inside the sandbox keep paths in the packages the same from run to run.
//! - makepkg runs with `--nodeps`: on Debian the system's own packages (glibc, bash, ...) are not
//!   in a pacman database, so makepkg's dependency check would always fail. The dependencies the
//!   set builds are installed into the private root instead, exported to the build as
//!   `MC_BUILD_DEPS_ROOT` with its `usr/bin` first on `PATH` and its headers and libraries on
//!   the compiler's, linker's and loader's search paths (`CPATH`, `LIBRARY_PATH`,
//!   `LD_LIBRARY_PATH`, `PKG_CONFIG_PATH`). bubblewrap 0.8 (Debian bookworm) has no overlay
//!   mounts, which would show the root at `/usr` itself. Integrity checks stay on: makepkg
//!   verifies the cached sources against the PKGBUILD's checksums once more.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
};

/// Where the build folder appears inside the sandbox.
pub const SANDBOX_BUILD: &str = "/tmp/build";
/// Where the dependency root appears inside the sandbox.
pub const SANDBOX_DEPS: &str = "/tmp/deps";

/// Search paths that point compilers, linkers and loaders into the dependency root as well as
/// the system: a header or library the set built is found as if it were installed in `/usr`.
/// (`pkg-config` finds the set's `.pc` files too, though their `prefix=/usr` still points at the
/// system.)
const DEPS_SEARCH_PATHS: &[(&str, &[&str])] = &[
    ("CPATH", &["usr/include"]),
    ("LIBRARY_PATH", &["usr/lib"]),
    ("LD_LIBRARY_PATH", &["usr/lib"]),
    (
        "PKG_CONFIG_PATH",
        &["usr/lib/pkgconfig", "usr/share/pkgconfig"],
    ),
];

/// One makepkg run to perform.
#[derive(Debug)]
pub struct Job<'a> {
    /// Package base.
    pub base: &'a str,
    /// The build folder on the host: PKGBUILD, local files and sources; packages go to `out/`.
    pub folder: &'a Path,
    /// The private pacman root holding the dependencies the set built (possibly empty).
    pub deps_root: &'a Path,
    /// `SOURCE_DATE_EPOCH` for makepkg (fixed for reproducibility checks); `None`: makepkg's
    /// own (now).
    pub source_date_epoch: Option<u64>,
}

/// Why a build could not even start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The sandbox command could not be started.
    #[error("starting {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The log file could not be shared with the build.
    #[error("log file: {0}")]
    Log(std::io::Error),
}

/// An isolation backend: runs makepkg for a prepared job, its output going to `log`.
pub trait Backend: Sync {
    /// Runs the build to its end; the exit status of makepkg (or of the sandbox).
    fn build(&self, job: &Job<'_>, log: File) -> Result<ExitStatus, SandboxError>;
}

/// An unprivileged user to build as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildUser {
    /// User name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home folder (`/nonexistent` for Debian's `nobody`).
    pub home: PathBuf,
}

impl BuildUser {
    /// Looks `name` up in `/etc/passwd`.
    pub fn lookup(name: &str) -> Option<Self> {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 6 && fields[0] == name).then(|| {
                Some(Self {
                    name: name.to_owned(),
                    uid: fields[2].parse().ok()?,
                    gid: fields[3].parse().ok()?,
                    home: PathBuf::from(fields[5]),
                })
            })?
        })
    }
}

/// makepkg inside bubblewrap; as `user` when given (mc-build runs as root), else as whoever runs
/// mc-build.
#[derive(Debug)]
pub struct Bubblewrap {
    /// The user to drop to, when running as root.
    pub user: Option<BuildUser>,
    /// makepkg's `PACKAGER` (`Name <email>`): its own default, `Unknown Packager`, is not a
    /// valid packager for the ALPM crates, so mc-repo refuses such packages.
    pub packager: String,
}

impl Bubblewrap {
    /// The whole command line: `[setpriv ... --] bwrap ... makepkg ...`.
    pub fn command(&self, job: &Job<'_>) -> Command {
        let mut command = match &self.user {
            Some(user) => {
                let mut setpriv = Command::new("setpriv");
                setpriv
                    .arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--clear-groups", "--", "bwrap"]);
                setpriv
            }
            None => Command::new("bwrap"),
        };
        let folder = job.folder.display().to_string();
        let deps = job.deps_root.display().to_string();
        command
            .args(["--unshare-all", "--die-with-parent", "--new-session"])
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
            .args(["--tmpfs", "/tmp"])
            .args(["--bind", &folder, SANDBOX_BUILD])
            .args(["--ro-bind", &deps, SANDBOX_DEPS])
            .args(["--chdir", SANDBOX_BUILD])
            .args(["--setenv", "PKGDEST", &format!("{SANDBOX_BUILD}/out")])
            .args(["--setenv", "SRCDEST", SANDBOX_BUILD])
            .args(["--setenv", "BUILDDIR", &format!("{SANDBOX_BUILD}/work")])
            .args(["--setenv", "MC_BUILD_DEPS_ROOT", SANDBOX_DEPS])
            .args(DEPS_SEARCH_PATHS.iter().flat_map(|(name, paths)| {
                let value = paths
                    .iter()
                    .map(|path| format!("{SANDBOX_DEPS}/{path}"))
                    .collect::<Vec<_>>()
                    .join(":");
                ["--setenv".to_owned(), (*name).to_owned(), value]
            }))
            .args(["--setenv", "PACKAGER", &self.packager])
            .args(job.source_date_epoch.iter().flat_map(|epoch| {
                [
                    "--setenv".to_owned(),
                    "SOURCE_DATE_EPOCH".to_owned(),
                    epoch.to_string(),
                ]
            }))
            .args(["makepkg", "--nodeps", "--noconfirm", "--noprogressbar"])
            .env_clear()
            .env(
                "PATH",
                format!("{SANDBOX_DEPS}/usr/bin:/usr/local/bin:/usr/bin:/bin"),
            )
            // Without a build user, a home that does not exist: nothing lands "at home".
            .env(
                "HOME",
                self.user
                    .as_ref()
                    .map_or_else(|| PathBuf::from("/nonexistent"), |u| u.home.clone()),
            )
            .env("LANG", "C.UTF-8")
            .env(
                "USER",
                self.user.as_ref().map_or("build", |u| u.name.as_str()),
            )
            .stdin(Stdio::null());
        command
    }
}

impl Backend for Bubblewrap {
    fn build(&self, job: &Job<'_>, log: File) -> Result<ExitStatus, SandboxError> {
        let mut command = self.command(job);
        let err = log.try_clone().map_err(SandboxError::Log)?;
        command.stdout(log).stderr(err);
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command.spawn().map_err(|source| SandboxError::Spawn {
            program: program.clone(),
            source,
        })?;
        child
            .wait()
            .map_err(|source| SandboxError::Spawn { program, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_drops_to_the_build_user_before_bubblewrap() {
        let sandbox = Bubblewrap {
            user: Some(BuildUser {
                name: "nobody".to_owned(),
                uid: 65534,
                gid: 65534,
                home: PathBuf::from("/nonexistent"),
            }),
            packager: "Builder <build@example.org>".to_owned(),
        };
        let job = Job {
            base: "a",
            folder: Path::new("/w/a"),
            deps_root: Path::new("/w/deps/a"),
            source_date_epoch: Some(1_700_000_000),
        };
        let command = sandbox.command(&job);
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(command.get_program(), "setpriv");
        assert_eq!(
            args[..4],
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        );
        let joined = args.join(" ");
        assert!(joined.contains("bwrap --unshare-all"), "{joined}");
        assert!(joined.contains("--bind /w/a /tmp/build"), "{joined}");
        assert!(joined.contains("--ro-bind /w/deps/a /tmp/deps"), "{joined}");
        assert!(
            joined.contains("--setenv SOURCE_DATE_EPOCH 1700000000"),
            "{joined}"
        );
        assert!(
            joined.ends_with("makepkg --nodeps --noconfirm --noprogressbar"),
            "{joined}"
        );
    }
}
