//! The command line of `mc-verify`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::cli::NetworkArgs;

/// Check what a PKGBUILD would download, before anything is built, and never by running it.
///
/// For each PKGBUILD folder (given as arguments, or as `pkgbuild` records on stdin from
/// `mc-fetch aur clone`), reads `.SRCINFO` (the PKGBUILD's declarative form; the PKGBUILD itself
/// is bash and is only read as text), fetches every source of the architecture into the source
/// cache while streaming it through every declared checksum, and verifies detached OpenPGP
/// signatures against the keyrings and the PKGBUILD's `validpgpkeys`. Nothing is unpacked.
///
/// Prints one `source` record per source and one `finding` record per problem, each with a
/// stable `check` id and a severity (see mc-records(7)): checksum-mismatch, skip-non-vcs,
/// weak-checksums, insecure-unsigned, signature-invalid, signature-unknown-key,
/// validpgpkeys-missing, source-unreachable, hostile-source, srcinfo-outdated,
/// download-and-execute, base64-blob, unsupported-protocol, vcs-source.
///
/// Example: `mc-verify --keyring /usr/share/pacman/keyrings/archlinux.gpg ~/aur/yay`
#[derive(Debug, Parser)]
#[command(
    name = "mc-verify",
    version,
    after_help = VERIFY_EXIT_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Other work on findings.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub check: CheckArgs,
}

/// What `mc-verify` does besides checking.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn `finding` records on stdin into one short, polite Markdown comment per package base,
    /// ready to post on its AUR page: a `comment` record each, and `--out DIR/BASE.md` files.
    ///
    /// Only findings of severity warning or error are reported. Posting needs your AUR login and
    /// is left to you: paste the comment on the package's page.
    ///
    /// Example: `mc-verify ~/aur/* | mc-verify report --out comments/`
    Report(ReportArgs),
}

/// Options of `mc-verify report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Also write each comment to DIR/BASE.md.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Options of checking.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// PKGBUILD folders (holding `.SRCINFO`); without any, `pkgbuild` records are read on stdin.
    #[arg(value_name = "PKGBUILD_DIR")]
    pub folders: Vec<PathBuf>,
    /// OpenPGP certificates to check signatures with (armored or binary; repeatable).
    #[arg(
        long,
        value_name = "FILE",
        env = "MC_VERIFY_KEYRING",
        value_delimiter = ','
    )]
    pub keyring: Vec<PathBuf>,
    /// A keyserver (HKP/HKPS, e.g. https://keyserver.ubuntu.com) to fetch `validpgpkeys` that no
    /// keyring holds. Keys are kept in memory for this run only; no GnuPG state is touched.
    #[arg(long, value_name = "URL", env = "MC_VERIFY_KEYSERVER")]
    pub keyserver: Option<String>,
    /// The source cache: `CACHE/PKGBASE/FILE` [default: $XDG_CACHE_HOME/minicluster/sources].
    #[arg(long, value_name = "DIR", env = "MC_VERIFY_CACHE")]
    pub cache: Option<PathBuf>,
    /// The architecture whose sources are checked.
    #[arg(long, default_value = "x86_64", env = "MC_ARCH")]
    pub arch: String,
    /// Refuse a source larger than this many bytes (one that never ends, say).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 30)]
    pub max_source_size: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub network: NetworkArgs,
}

/// `mc-verify`'s exit codes: findings of severity `error` count as failures.
const VERIFY_EXIT_HELP: &str = "Exit status: 0 when no error was found, 1 when some source or \
check failed (an \"error\" record or a \"finding\" of severity \"error\"), 2 for bad usage or a \
fatal error.";
