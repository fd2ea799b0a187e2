//! The command line of `mc-index`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::{cli::NetworkArgs, size::Size};

/// Index pacman packages into SQLite, streaming them without keeping them on disk; query it.
///
/// Without a subcommand, reads `package` records on stdin (from `mc-fetch repo`, or
/// `{"type":"package","path":"/some/x.pkg.tar.zst"}`), downloads each package and reads it as it
/// arrives: decompressed and walked in memory, its sha256 checked against the record's. It stores
/// the package's metadata (.PKGINFO, .BUILDINFO), dependencies and every path with its type, size,
/// mode, link target and the sha256 of its content. Nothing but the database is written to disk.
///
/// It prints each package record again with `index_status` (`indexed`, `replaced`, `unchanged`),
/// an `error` record for each package that failed, other records unchanged, and a `summary`
/// record at the end. Re-running skips packages already indexed with the same sha256, so an
/// interrupted run picks up where it stopped.
///
/// Example: `mc-fetch repo core extra | mc-index --db pkgs.sqlite`
#[derive(Debug, Parser)]
#[command(
    name = "mc-index",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = minicluster::cli::EXIT_STATUS_HELP
)]
pub struct Cli {
    /// Query the index instead of filling it.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub index: IndexArgs,
}

/// What `mc-index` can do besides indexing.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the files whose path matches a regular expression, or the packages that hold them.
    ///
    /// Paths look as in pacman's .files databases: no leading `/`, directories end with `/`.
    /// As with `pacman -Fx`, a pattern holding a `/` is matched against the whole path,
    /// unanchored (`(^|/)__pycache__/$` finds every `__pycache__` directory), and any other
    /// against file names, the part after the last `/` (`^libz\.so` finds `usr/lib/libz.so.1`;
    /// directories have none). The pattern first runs over the index's distinct file names, so
    /// a file-name pattern, or a whole-path one anchored at the end, reads only the paths whose
    /// name can match; one anchored at the start (`^usr/bin/`) reads only the paths that start
    /// with its literal prefix; other whole-path patterns read every path. Prints `file` records, or
    /// `package` records with --packages (which reads a package's paths only until one
    /// matches, and none where the name alone decides, as for `(^|/)__pycache__/$`).
    #[command(
        after_help = "Exit status: 0 when something matched, 1 when nothing did (as grep), \
2 for bad usage or a fatal error."
    )]
    Query(QueryArgs),
    /// Print the database schema, with comments on every column.
    Schema,
}

/// Options of indexing.
#[derive(Args, Debug)]
pub struct IndexArgs {
    /// The SQLite database to fill; created when missing.
    #[arg(long, value_name = "FILE", env = "MC_INDEX_DB", required = true)]
    pub db: Option<PathBuf>,
    /// Packages downloaded and read at once [default: four per core, at least 8].
    #[arg(long, short = 'j', value_name = "N", env = "MC_JOBS")]
    pub jobs: Option<usize>,
    /// Index the file lists carried by the records (`mc-fetch repo --files`) instead of
    /// downloading packages: fast, but paths only. Packages read in full later replace them.
    #[arg(long)]
    pub files_db: bool,
    /// Refuse packages with a member that declares more than this many bytes (a corrupt or
    /// hostile archive). SIZE is bytes, or a number with K, M, G or T (powers of 1024).
    #[arg(long, value_name = "SIZE", default_value_t = Size::bytes(64 << 30))]
    pub max_member_size: Size,
    /// No progress line on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub network: NetworkArgs,
}

/// Options of `mc-index query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The index to ask.
    #[arg(long, value_name = "FILE", env = "MC_INDEX_DB")]
    pub db: PathBuf,
    /// Regular expression (Rust regex syntax) matched against each path or file name.
    pub pattern: String,
    /// One package record per package with a matching path, instead of one file record per path.
    #[arg(long)]
    pub packages: bool,
    /// Only packages of this repository.
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    /// Ignore case, as `pacman -F` does.
    #[arg(short, long)]
    pub ignore_case: bool,
}

/// Downloads wait on the network far more than they use a core: four per core, at least 8
/// (on 2 cores and loopback, 8 jobs index 13% faster than 4; on a real mirror the gap grows
/// with the round-trip time).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(8, |cores| (cores.get() * 4).max(8))
}
