//! The command line of `mc-verify`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::{
    aur::DEFAULT_AUR,
    cli::{EXIT_STATUS_HELP, NetworkArgs},
    size::Size,
};

/// Check what a PKGBUILD would download, before anything is built, and never by running it.
///
/// For each PKGBUILD folder (given as arguments, or as `pkgbuild` records on stdin from
/// `mc-fetch aur clone`), reads `.SRCINFO` (the PKGBUILD's declarative form; the PKGBUILD itself
/// is bash and is only read as text), fetches every source of the architecture into the source
/// cache while streaming it through every declared checksum, and verifies detached OpenPGP
/// signatures against the keyrings and the PKGBUILD's `validpgpkeys`. Nothing is unpacked.
///
/// Git sources are kept as makepkg keeps them, as bare mirrors (`CACHE/PKGBASE/NAME`: `git clone
/// --mirror`, later `git fetch --prune`; hooks off, nothing checked out). The revision the
/// fragment names (`#commit=`, `#tag=`, `#branch=`, else HEAD) is resolved and recorded as the
/// source record's `checksums.commit`; with `?signed`, the OpenPGP signature of the tag (or of
/// the commit) is verified as a detached signature is. Other VCS sources are not fetched.
///
/// Prints one `source` record per source and one `finding` record per problem, each with a
/// stable `check` id and a severity (see mc-records(7)): checksum-mismatch, skip-non-vcs,
/// weak-checksums, insecure-unsigned, signature-invalid, signature-unknown-key,
/// validpgpkeys-missing, source-unreachable, hostile-source, srcinfo-outdated,
/// base64-blob, unsupported-protocol, vcs-ref-missing, vcs-tag-forged, vcs-floating-ref (a
/// branch, HEAD or an abbreviated commit; info for -git, -hg, -svn, -bzr and -fossil packages),
/// vcs-source (an svn, hg, bzr or fossil source, not checked).
///
/// The PKGBUILD and its `.install` are read as shell with simple obfuscations undone (split
/// strings, quotes inside words, printf/echo -e escapes, eval, base64), for the checks mc-scan
/// runs on a built package's `.INSTALL`: download-execute, decode-execute, reverse-shell,
/// persistence (errors; for the PKGBUILD only writes outside $pkgdir), pkgbuild-runs-download
/// (warning), and from the `.install` install-package-manager (error) and install-network
/// (warning).
///
/// From `pkgbuild` records, also what changed since the commit fetched before
/// (source-host-changed, sources-changed, checksums-changed, install-changed,
/// history-unavailable) and who maintains the package: maintainer-changed (warning; "adopted"
/// when it was an orphan at the previous fetch), orphan (info), adopted-recently (warning, a
/// heuristic: no previous fetch, the maintainer is not the submitter, and the AUR changed the
/// package in the last 30 days).
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
    /// ready to post on its AUR page: a `comment` record each, `--out DIR/BASE.md` files, and a
    /// `summary` record (comments, posted, failed).
    ///
    /// Only findings of severity warning or error are reported, and none about who maintains
    /// the package (maintainer-changed, adopted-recently): those are for you.
    ///
    /// Nothing is sent anywhere unless --post is given. With --post, each comment is posted on
    /// its package base's AUR page as the user whose login session --cookie holds, once (a
    /// failed post is not repeated): a post that fails, or that the AUR answers with its login
    /// page, is a `post_failed` error record. Nothing remembers what was posted: every run
    /// posts again, so post once per set of findings.
    ///
    /// Example: `mc-verify ~/aur/* | mc-verify report --out comments/`
    #[command(after_help = EXIT_STATUS_HELP)]
    Report(ReportArgs),
}

/// Options of `mc-verify report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Also write each comment to DIR/BASE.md.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Post each comment on its package base's AUR page (`POST URL/pkgbase/BASE/comments`),
    /// without subscribing to its notifications. Needs --cookie.
    #[arg(long, requires = "cookie")]
    pub post: bool,
    /// The AUR login session for --post: a file holding the `AURSID` cookie (and
    /// `AURREMEMBER`, if the login was remembered), as a Netscape cookies.txt (`curl -c`, a
    /// browser export) or lines `AURSID=VALUE`. Keep it private: it is your login.
    #[arg(long, value_name = "FILE", env = "MC_AUR_COOKIE")]
    pub cookie: Option<PathBuf>,
    /// The AUR web site comments are posted to.
    #[arg(long = "aur-url", value_name = "URL", env = "MC_AUR_URL", default_value = DEFAULT_AUR)]
    pub aur_url: String,
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
    /// Refuse a source larger than this (one that never ends, say). SIZE is bytes, or a number
    /// with K, M, G or T (powers of 1024).
    #[arg(long, value_name = "SIZE", default_value_t = Size::bytes(8 << 30))]
    pub max_source_size: Size,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub network: NetworkArgs,
}

/// `mc-verify`'s exit codes: findings of severity `error` count as failures.
const VERIFY_EXIT_HELP: &str = "Exit status: 0 when no error was found, 1 when some source or \
check failed (an \"error\" record or a \"finding\" of severity \"error\"), 2 for bad usage or a \
fatal error.";
