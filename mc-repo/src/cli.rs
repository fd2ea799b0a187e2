//! The command line of `mc-repo`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::{
    cli::{EXIT_STATUS_HELP, NetworkArgs},
    record::Severity,
};

/// Make and maintain pacman repositories: atomic, incremental, readable by real pacman.
///
/// A repository is named by its database file, `DIR/NAME.db.tar.EXT` (EXT: zst, gz, xz, bz2, lz4;
/// `DIR/NAME.db.tar` for none). mc-repo writes `NAME.db.tar.EXT` and `NAME.files.tar.EXT` with the
/// `NAME.db` and `NAME.files` links pacman downloads, exactly as repo-add does, but reads only
/// the packages it adds: the others are taken from the existing database. Every database is
/// written beside the old one and renamed into place; a lock keeps two runs apart.
///
/// It prints one `change` record per package (see mc-records(7)), `error` records for packages it
/// refuses, and a `summary` record. Changes are printed once they are made (the new `.db` in
/// place); a commit that fails (a full disk) is one `commit_failed` error record instead, and the
/// repository stays as it was.
///
/// Locking: `add`, `remove` and `sync` take the lock file `DIR/.NAME.mc-repo.lock` exclusively;
/// `list` and `check` take it shared, so they work on a repository the user may only read (with
/// no lock when there is no lock file and none may be made). A lock file that is a symbolic link
/// is refused, never followed. Whoever holds the lock deletes the temporary files killed runs
/// left (a reader only where it may write).
///
/// Signals: on SIGINT or SIGTERM, `add`, `remove` and `sync` delete their temporary files (a
/// download or copy in progress) and exit with 128 + the signal's number (130, 143), printing no
/// `summary`; the repository is the old one, or the new one when the signal came after the
/// commit. After SIGKILL the next run deletes what was left.
///
/// Example: `mc-repo add --repo /srv/repo/custom.db.tar.zst ~/build/*.pkg.tar.zst`
#[derive(Debug, Parser)]
#[command(name = "mc-repo", version, after_help = EXIT_STATUS_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The operations on a repository.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add packages given as paths, or as `package` records on stdin (`path` or `url`), copying
    /// them into the repository folder when they are not there yet.
    #[command(after_help = EXIT_STATUS_HELP)]
    Add(AddArgs),
    /// Remove packages by name (their files stay in the folder).
    #[command(after_help = EXIT_STATUS_HELP)]
    Remove(RemoveArgs),
    /// Print a `package` record for every package in the repository (read access is enough).
    #[command(after_help = EXIT_STATUS_HELP)]
    List(RepoArg),
    /// Check every entry: its package file exists, has the recorded size and sha256, and its
    /// signature verifies (with --verify). One `error` record per problem. Read access is
    /// enough.
    #[command(after_help = EXIT_STATUS_HELP)]
    Check(CheckArgs),
    /// Make the repository hold exactly the packages a list names, newest versions first.
    ///
    /// Reads `package` records on stdin (from `mc-fetch repo`, builds, ...), picks the newest
    /// version (vercmp order, epochs included) of each name the list file names (`name` or
    /// `repo/name` per line, `#` comments), fetches what is missing, removes what the list no
    /// longer names, and prints a `change` record for each package.
    ///
    /// Example: `mc-fetch repo core extra | mc-repo sync --repo /srv/mine/mine.db.tar.zst --list pkgs.txt`
    #[command(after_help = EXIT_STATUS_HELP)]
    Sync(SyncArgs),
}

/// Signing and signature checks.
#[derive(Args, Debug, Default)]
pub struct TrustArgs {
    /// Sign the databases, and every package without a `.sig`, with this OpenPGP secret key
    /// (unencrypted; from GnuPG: `gpg --export-secret-keys --armor KEYID > key.asc`).
    #[arg(long, value_name = "KEYFILE", env = "MC_REPO_SIGN")]
    pub sign: Option<PathBuf>,
    /// Refuse packages whose `.sig` does not verify against these OpenPGP certificates
    /// (e.g. `gpg --export KEYID > keyring.gpg`, or /usr/share/pacman/keyrings/archlinux.gpg).
    #[arg(long, value_name = "KEYRING", env = "MC_REPO_VERIFY")]
    pub verify: Option<PathBuf>,
}

/// The repository every subcommand works on.
#[derive(Args, Debug)]
pub struct RepoArg {
    /// The repository database: DIR/NAME.db.tar.EXT.
    #[arg(long, value_name = "DIR/NAME.db.tar.EXT", env = "MC_REPO")]
    pub repo: PathBuf,
}

/// Options of `mc-repo add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArg,
    /// Package files to add; without any, `package` records are read from stdin.
    #[arg(value_name = "PKG")]
    pub packages: Vec<PathBuf>,
    /// Keep a `.files` database (for `pacman -F`) beside the `.db`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub files: bool,
    /// Refuse a package (an `error` record `refused_findings`, not added) when a `finding`
    /// record at least this severe (info, warning, error) names it earlier on stdin, as
    /// `mc-scan` writes them before each package record: `mc-build | mc-scan | mc-repo add
    /// --refuse-findings error`. Findings match a package by its file path, or by name and version.
    /// An `error` record about a package (one mc-scan could not scan completely: a member over
    /// its size limit, clamd down) counts as a finding of severity error: it refuses the package
    /// at every threshold.
    #[arg(
        long,
        value_name = "SEVERITY",
        env = "MC_REPO_REFUSE_FINDINGS",
        value_enum
    )]
    pub refuse_findings: Option<Severity>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub update: UpdateArgs,
}

/// What `add` and `sync` share: how packages come in and what happens to the ones they replace.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Delete the package files (and signatures) of versions that are replaced or removed.
    #[arg(long)]
    pub remove_old: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub trust: TrustArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub network: NetworkArgs,
}

/// Options of `mc-repo sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArg,
    /// The packages the repository must hold: `name` or `repo/name` per line, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub list: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub update: UpdateArgs,
}

/// Options of `mc-repo check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArg,
    /// Also verify each package's `.sig` (and the databases') against these certificates.
    #[arg(long, value_name = "KEYRING")]
    pub verify: Option<PathBuf>,
}

/// Options of `mc-repo remove`.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArg,
    /// Names of the packages to remove.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Also delete their package files and signatures.
    #[arg(long)]
    pub remove_files: bool,
    /// Sign the databases with this OpenPGP secret key (see `mc-repo add --help`).
    #[arg(long, value_name = "KEYFILE", env = "MC_REPO_SIGN")]
    pub sign: Option<PathBuf>,
}
