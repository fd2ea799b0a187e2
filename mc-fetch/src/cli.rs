//! The command line of `mc-fetch`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::{cli::NetworkArgs, mirror::DEFAULT_MIRROR};

/// Fetch pacman repository metadata and print it as JSON lines.
///
/// Every package becomes one `{"type":"package",...}` line on stdout (see mc-records(7)), ready for
/// `mc-index`, `jq` or any other reader of JSON lines. Failures become `{"type":"error",...}`
/// lines and the run goes on.
///
/// Example: `mc-fetch repo --mirror 'https://geo.mirror.pkgbuild.com/$repo/os/$arch' core | jq .name`
#[derive(Debug, Parser)]
#[command(name = "mc-fetch", version, after_help = minicluster::cli::EXIT_STATUS_HELP)]
pub struct Cli {
    /// What to fetch.
    #[command(subcommand)]
    pub command: Command,
}

/// The sources `mc-fetch` reads.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download sync databases (`REPO.db`, or `REPO.files` with --files) and print their packages.
    ///
    /// Example: `mc-fetch repo core extra | mc-index --db pkgs.sqlite`
    #[command(after_help = minicluster::cli::EXIT_STATUS_HELP)]
    Repo(RepoArgs),
}

/// Options of `mc-fetch repo`.
#[derive(Args, Debug)]
pub struct RepoArgs {
    /// Repositories to fetch (`core`, `extra`, `multilib`, ...).
    #[arg(required = true, value_name = "REPO")]
    pub repos: Vec<String>,
    /// A pacman `Server` URL with `$repo` and `$arch`; repeat it for failover, in order.
    /// `file://` URLs and plain paths read a mirror on disk. Default: Arch's geo mirror.
    #[arg(
        long = "mirror",
        value_name = "URL",
        env = "MC_MIRROR",
        value_delimiter = ','
    )]
    pub mirrors: Vec<String>,
    /// A pacman mirrorlist (`Server = URL` lines); its servers follow those of --mirror.
    #[arg(long, value_name = "FILE", env = "MC_MIRRORLIST")]
    pub mirrorlist: Option<PathBuf>,
    /// Architecture, for `$arch` in server URLs.
    #[arg(long, default_value = "x86_64", env = "MC_ARCH")]
    pub arch: String,
    /// Read `REPO.files` instead of `REPO.db`: every package record also carries its file list
    /// (`"files"`), which `mc-index --files-db` indexes without downloading packages.
    #[arg(long)]
    pub files: bool,
    /// Say nothing on stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub network: NetworkArgs,
}

impl RepoArgs {
    /// The servers to try, in order: --mirror, then the mirrorlist, else the default mirror.
    pub fn servers(&self) -> std::io::Result<Vec<String>> {
        let mut servers = self.mirrors.clone();
        if let Some(list) = &self.mirrorlist {
            servers.extend(minicluster::mirror::read_mirrorlist(list)?);
        }
        if servers.is_empty() {
            servers.push(DEFAULT_MIRROR.to_owned());
        }
        Ok(servers)
    }
}
