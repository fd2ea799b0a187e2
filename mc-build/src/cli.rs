//! The command line of `mc-build`.

use std::path::PathBuf;

use clap::Parser;
use minicluster::cli::{EXIT_STATUS_HELP, JobsArgs};

/// `--jobs` as mc-build counts it.
const JOBS_HELP: &str = "Builds to run at once: bases that do not need each other build \
concurrently [default: 1, as makepkg's own MAKEFLAGS keeps every core busy]";

/// Build PKGBUILDs in dependency order: unprivileged, offline, isolated.
///
/// Reads the `.SRCINFO` of each PKGBUILD folder (given as arguments, or as `pkgbuild` records on
/// stdin), works out the build order from depends, makedepends and checkdepends across the set
/// (split packages and provides included), and builds each base with makepkg inside bubblewrap:
/// as an unprivileged user, with the system read-only, a private /tmp, only the build folder
/// writable and no network at all. Sources come from mc-verify's cache, and makepkg checks them
/// against the PKGBUILD's checksums. Packages the set builds go into a repository (--repo), and
/// a base that needs them gets them installed into a private pacman root, visible to its build as
/// `$MC_BUILD_DEPS_ROOT`, with `$MC_BUILD_DEPS_ROOT/usr/bin` first on PATH and its headers and
/// libraries on CPATH, LIBRARY_PATH, LD_LIBRARY_PATH and PKG_CONFIG_PATH, so a library the set
/// built compiles and links into the next base.
///
/// makepkg runs with --nodeps: Debian's system packages are not in a pacman database, so only the
/// dependencies the set builds are installed; the rest must be on the system.
///
/// Prints one `build` record per base (status built, failed or skipped; see mc-records(7)), a
/// `package` record per package made (so `mc-build ... | mc-repo add --repo ...` publishes them
/// elsewhere too), `error` records (a `dependency_cycle` for each base in a cycle), and a
/// `summary` record; the same summary goes to stderr. Records read on stdin are forwarded. A
/// base whose packages for its version are already in the repository is not built again, so a
/// run that was interrupted resumes where it stopped. Stdin is read unless it is a terminal.
///
/// With `--engine buildbot --master URL`, each ready base becomes a force build of the master's
/// `mc-build` builder (--print-master-cfg prints its configuration); the worker runs mc-build for
/// that base, in its own sandbox, and its packages and log come back through the master into
/// --repo. The records are the same, with the `worker` that built it. Workers must see the
/// PKGBUILD folders, --sources and --repo at the same paths, and mc-build the master's files.
///
/// Example: `mc-verify ~/aur/* | mc-build --keep-going ~/aur/*`
#[derive(Debug, Parser)]
#[command(
    name = "mc-build",
    version,
    after_help = EXIT_STATUS_HELP,
    mut_arg("jobs", |arg| arg.help(JOBS_HELP))
)]
pub struct Cli {
    /// PKGBUILD folders (each holding `PKGBUILD` and `.SRCINFO`).
    #[arg(value_name = "PKGBUILD_DIR")]
    pub folders: Vec<PathBuf>,
    /// The repository built packages go into [default: WORK/repo/mc-build.db.tar.zst].
    #[arg(long, value_name = "DIR/NAME.db.tar.EXT", env = "MC_BUILD_REPO")]
    pub repo: Option<PathBuf>,
    /// Work folder: a build folder per base, logs in `WORK/logs/BASE.log`, dependency roots
    /// [default: $XDG_CACHE_HOME/minicluster/build].
    #[arg(long, value_name = "WORK", env = "MC_BUILD_WORK")]
    pub work: Option<PathBuf>,
    /// mc-verify's source cache, `CACHE/BASE/FILE` [default: $XDG_CACHE_HOME/minicluster/sources].
    #[arg(long, value_name = "CACHE", env = "MC_BUILD_SOURCES")]
    pub sources: Option<PathBuf>,
    /// The unprivileged user makepkg runs as when mc-build runs as root.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "nobody",
        env = "MC_BUILD_USER"
    )]
    pub build_user: String,
    /// The packager written into the packages (makepkg's PACKAGER, `Name <email>`).
    #[arg(
        long,
        value_name = "NAME <EMAIL>",
        default_value = "mc-build <mc-build@localhost>",
        env = "PACKAGER"
    )]
    pub packager: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub jobs: JobsArgs,
    /// Build every base twice, with the same SOURCE_DATE_EPOCH, and report in its `build`
    /// record whether the packages are bit-identical (and the first member that differs).
    /// On this machine only (not with --master).
    #[arg(long, conflicts_with = "master")]
    pub check_reproducible: bool,
    /// After a failed build, go on with every base that does not depend on it.
    #[arg(long)]
    pub keep_going: bool,
    /// Build bases that have a `finding` of severity error on stdin.
    #[arg(long)]
    pub ignore_findings: bool,
    /// Who builds: `local` (this machine) or `buildbot` (the workers of the master at
    /// --master, each running mc-build in its own sandbox; --jobs defaults to their number).
    #[arg(long, value_enum, default_value_t = EngineKind::Local, env = "MC_BUILD_ENGINE")]
    pub engine: EngineKind,
    /// The buildbot master's web URL (`http://HOST:8010`) for `--engine buildbot`; its
    /// master.cfg needs the `mc-build` builder (see --print-master-cfg).
    #[arg(
        long,
        value_name = "URL",
        env = "MC_BUILD_MASTER",
        required_if_eq("engine", "buildbot")
    )]
    pub master: Option<String>,
    /// A file holding the master's login: `USER:PASSWORD`, or the password of user `mc-build`.
    #[arg(long, value_name = "FILE", env = "MC_BUILD_TOKEN")]
    pub token: Option<PathBuf>,
    /// Print a buildbot master.cfg with the builder --engine buildbot needs, for a master at
    /// --master (its web port), the workers named by --worker and the login in --token, its
    /// workers running this mc-build; then exit.
    #[arg(long, requires = "master")]
    pub print_master_cfg: bool,
    /// A worker of the printed master.cfg, `NAME:PASSWORD` (repeatable).
    #[arg(
        long = "worker",
        value_name = "NAME:PASSWORD",
        requires = "print_master_cfg"
    )]
    pub workers: Vec<String>,
    /// The port the printed master.cfg has workers connect to.
    #[arg(long, value_name = "PORT", default_value_t = 9989)]
    pub worker_port: u16,
    /// Install --deps from this repository instead of --repo (a buildbot worker reads the
    /// coordinator's).
    #[arg(long, value_name = "DIR/NAME.db.tar.EXT")]
    pub deps_repo: Option<PathBuf>,
    /// Packages to install before building, besides those the set itself needs (a
    /// coordinator names them for its workers), comma-separated.
    #[arg(long, value_name = "PACKAGE,...", value_delimiter = ',')]
    pub deps: Vec<String>,
}

/// Who runs the builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// This machine.
    Local,
    /// A buildbot master's workers.
    Buildbot,
}
