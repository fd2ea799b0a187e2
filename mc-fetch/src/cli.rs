//! The command line of `mc-fetch`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minicluster::{
    cli::{EXIT_STATUS_HELP, NetworkArgs},
    http::OpenError,
    mirror::DEFAULT_MIRROR,
    size::Size,
};

use crate::{
    aur::{Aur, DEFAULT_AUR, SearchBy},
    aur_git::{GITHUB_MIRROR, GitSource},
};

/// Fetch pacman repository metadata and AUR packages, and print them as JSON lines.
///
/// Every package becomes one `{"type":"package",...}` line on stdout (see mc-records(7)), ready for
/// `mc-index`, `jq` or any other reader of JSON lines; `mc-fetch aur` prints `aur_package` and
/// `pkgbuild` records. Failures become `{"type":"error",...}` lines and the run goes on.
///
/// Example: `mc-fetch repo --mirror 'https://geo.mirror.pkgbuild.com/$repo/os/$arch' core | jq .name`
#[derive(Debug, Parser)]
#[command(name = "mc-fetch", version, after_help = EXIT_STATUS_HELP)]
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
    #[command(after_help = EXIT_STATUS_HELP)]
    Repo(RepoArgs),
    /// Ask the AUR: package metadata through its RPC (info, search), PKGBUILD repositories
    /// through git (clone).
    ///
    /// Example: `mc-fetch aur info yay paru | jq -r '.name + " " + .version'`
    #[command(after_help = EXIT_STATUS_HELP)]
    Aur(AurArgs),
    /// Check each package's upstream for a newer release, as nvchecker does, reading nvchecker's
    /// TOML config (--config), pkgctl's `.nvchecker.toml` or lilac's `lilac.yaml` in each PKGDIR.
    ///
    /// Each entry gives one `{"type":"upstream",...}` record with nvchecker's event: `updated`
    /// (the version differs from the one the user has), `up-to-date`, `no-result` or `error`
    /// (the entry, its source and the cause; a network failure is never `up-to-date`). With
    /// `newver` in `[__config__]` the newver file is written in nvchecker's format 2 (sorted,
    /// atomic), so `nvcmp` and `nvtake` keep working; a failed entry keeps its last good version.
    ///
    /// The version the user has comes from `package` records on stdin (`mc-fetch repo`,
    /// `mc-repo list`) when one names the entry (package name or base), else from the oldver
    /// file. `pkgbuild` records on stdin (`mc-fetch aur clone`) add their folders as PKGDIRs.
    /// Other records pass through unchanged. A `summary` record ends the run, with the
    /// number of requests made (`requests`), of those answered 304 (`not_modified`) and of
    /// answers used from the cache without asking (`fresh_from_cache`).
    ///
    /// Requests: at most --per-host at once to one host, `max_concurrency` checks at once,
    /// answers kept in `~/.cache/minicluster/upstream` used without asking for --max-age and
    /// asked again conditionally (ETag / If-Modified-Since) after, retries with backoff,
    /// `http_timeout` on each; a rate limit (403/429 with reset headers) is waited out
    /// when it ends within --max-rate-limit-wait, else reported (`rate_limit_reset_at`) and that
    /// host is not asked again in the run.
    ///
    /// Example: `mc-fetch upstream pkgs/* | jq -r 'select(.event=="updated") | .name'`
    #[command(
        after_help = "Exit status: 0 when every check succeeded, 2 (only with --exit-status) when \
        some entry is outdated, 3 when some check failed (pkgctl version check's codes); 2 also \
        for bad usage or a fatal error.",
        args_conflicts_with_subcommands = true
    )]
    Upstream(UpstreamArgs),
}

/// Options of `mc-fetch upstream`.
#[derive(Args, Debug)]
pub struct UpstreamArgs {
    /// `take`, or nothing to check.
    #[command(subcommand)]
    pub command: Option<UpstreamCommand>,
    /// An nvchecker TOML config: `[__config__]` (oldver, newver, keyfile, max_concurrency,
    /// http_timeout, proxy) and one table per entry.
    #[arg(long, value_name = "FILE", env = "MC_UPSTREAM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Package folders holding `.nvchecker.toml` and/or `lilac.yaml`.
    #[arg(value_name = "PKGDIR")]
    pub dirs: Vec<PathBuf>,
    /// Check only this entry (repeatable).
    #[arg(long = "entry", value_name = "NAME")]
    pub entries: Vec<String>,
    /// Print one `upstream_plan` record per entry (how it will be checked, or why it cannot
    /// be) without any network.
    #[arg(long)]
    pub plan: bool,
    /// lilac's `aliases.yaml`: an `alias: NAME` entry of a `lilac.yaml` is checked as the
    /// entry NAME stands for there.
    #[arg(long, value_name = "FILE", env = "MC_UPSTREAM_LILAC_ALIASES")]
    pub lilac_aliases: Option<PathBuf>,
    /// Run the shell commands of `cmd` entries.
    #[arg(long)]
    pub allow_cmd: bool,
    /// Exit 2 when some entry is outdated.
    #[arg(long)]
    pub exit_status: bool,
    /// Without a config, derive an entry from each PKGDIR's `.SRCINFO` sources (GitHub,
    /// GitLab, Codeberg releases or tags, PyPI, npm, crates.io, CPAN, git tags).
    #[arg(long)]
    pub guess: bool,
    /// A base URL for a source's API, as SOURCE=URL (github=http://127.0.0.1:8080); also
    /// `MC_UPSTREAM_API_<SOURCE>` in the environment. Sources: github, gitlab, gitea,
    /// bitbucket, pypi, npm, cratesio, aur, archpkg, cpan, go.
    #[arg(long = "api", value_name = "SOURCE=URL")]
    pub apis: Vec<String>,
    /// Requests at once to one host. The default is nvchecker's `max_concurrency` (20), so
    /// entries on one host go as fast as nvchecker's.
    #[arg(
        long,
        default_value_t = 20,
        env = "MC_UPSTREAM_PER_HOST",
        value_name = "N"
    )]
    pub per_host: usize,
    /// The longest rate-limit reset to wait for, in seconds; a later one fails the check.
    #[arg(
        long,
        default_value_t = 60,
        env = "MC_UPSTREAM_RATE_LIMIT_WAIT",
        value_name = "SECONDS"
    )]
    pub max_rate_limit_wait: u64,
    /// Attempts per request for transfer failures and 5xx answers.
    #[arg(long, default_value_t = 3, env = "MC_RETRIES", value_name = "N")]
    pub retries: u32,
    /// Send no conditional requests and keep no cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Seconds a kept answer is used without asking again (longer when the server's
    /// `Cache-Control: max-age` says so; never for `no-cache`). After that it is asked again
    /// conditionally (ETag / If-Modified-Since). A rerun within the window costs no requests;
    /// a daily timer revalidates everything (304 answers cost no API quota on GitHub).
    #[arg(
        long,
        default_value_t = 3 * 3600,
        env = "MC_UPSTREAM_MAX_AGE",
        value_name = "SECONDS"
    )]
    pub max_age: u64,
    /// Ask every upstream again, as if nothing kept were fresh (conditional requests still
    /// save the transfer).
    #[arg(long)]
    pub refresh: bool,
    /// The cache folder. Default: `$XDG_CACHE_HOME/minicluster/upstream`, else
    /// `~/.cache/minicluster/upstream`.
    #[arg(long, value_name = "DIR", env = "MC_UPSTREAM_CACHE")]
    pub cache: Option<PathBuf>,
    /// Say nothing on stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// What `mc-fetch upstream` does besides checking.
#[derive(Debug, Subcommand)]
pub enum UpstreamCommand {
    /// Copy versions from the newver file to the oldver file, as nvtake does: these updates
    /// are handled.
    Take(TakeArgs),
}

/// Options of `mc-fetch upstream take`.
#[derive(Args, Debug)]
pub struct TakeArgs {
    /// The nvchecker config naming the version files.
    #[arg(long, value_name = "FILE", env = "MC_UPSTREAM_CONFIG")]
    pub config: PathBuf,
    /// Entries to take.
    #[arg(value_name = "NAME", required_unless_present = "all")]
    pub names: Vec<String>,
    /// Take every entry.
    #[arg(long)]
    pub all: bool,
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
    /// The largest `desc` or `files` entry read, counting each line as 48 bytes more (what it
    /// costs parsed); a larger entry is an `entry_too_large` error record. SIZE is bytes, or a
    /// number with K, M, G or T (powers of 1024). [default: 32M]
    #[arg(long, value_name = "SIZE", env = "MC_MAX_ENTRY_SIZE")]
    pub max_entry_size: Option<Size>,
    /// The old spelling of --max-entry-size, in MiB.
    #[arg(long, value_name = "MIB", env = "MC_MAX_ENTRY_MIB", hide = true)]
    pub max_entry_mib: Option<u64>,
    /// The largest database read, decompressed; a larger one is a `sync_db_too_large` error
    /// record for its repository. SIZE as for --max-entry-size. [default: 2G]
    #[arg(long, value_name = "SIZE", env = "MC_MAX_DB_SIZE")]
    pub max_db_size: Option<Size>,
    /// The old spelling of --max-db-size, in MiB.
    #[arg(long, value_name = "MIB", env = "MC_MAX_DB_MIB", hide = true)]
    pub max_db_mib: Option<u64>,
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

/// Options of `mc-fetch aur`.
#[derive(Args, Debug)]
pub struct AurArgs {
    /// What to ask.
    #[command(subcommand)]
    pub command: AurCommand,
}

/// The questions `mc-fetch aur` asks.
#[derive(Debug, Subcommand)]
pub enum AurCommand {
    /// Print an `aur_package` record for each package name, with its dependencies; a name the
    /// AUR does not know is a `not_found` error record.
    ///
    /// Names are asked for in batches whose URL stays under 4,000 characters, so any number of
    /// names works.
    ///
    /// Example: `mc-fetch aur info yay paru | jq -r '.name + " " + .version'`
    #[command(after_help = EXIT_STATUS_HELP)]
    Info(InfoArgs),
    /// Print an `aur_package` record for each package a search finds (without the dependency
    /// lists, which only `info` gives).
    ///
    /// Example: `mc-fetch aur search --by maintainer someone | jq -r .name`
    #[command(after_help = EXIT_STATUS_HELP)]
    Search(SearchArgs),
    /// Clone the git repositories of package bases, or bring them up to date, and print a
    /// `pkgbuild` record for each: commit, previous commit, and what changed in between; the
    /// maintainer now and at the previous fetch, the submitter, and when the AUR last changed it.
    ///
    /// NAMEs are package names; `info` maps them to their package bases (a split package's
    /// name to its base), and each base is fetched once, into DIR/BASE. An existing checkout is
    /// fetched and reset to what was fetched: local changes to tracked files are lost, other
    /// files stay. Nothing from a repository is run: git runs without hooks, submodules,
    /// filters or symbolic links, and checks every object it receives.
    ///
    /// The AUR keeps no maintainer history, so each successful fetch writes the maintainer it
    /// saw to DIR/BASE/.git/minicluster-aur.json (replaced whole, never half-written); the next
    /// fetch reports it as `previous_maintainer`, with `fetched_before` true. `mc-verify` turns
    /// a change into a finding. A state file that cannot be read is a `bad_state` error record,
    /// and is written anew.
    ///
    /// With --deps, `package` records on stdin (from `mc-fetch repo`) say what the official
    /// repositories provide; stdin is read only when it is not a terminal.
    ///
    /// Example: `mc-fetch repo core extra | mc-fetch aur clone --deps paru | jq -r .path`
    #[command(after_help = EXIT_STATUS_HELP)]
    Clone(CloneArgs),
}

/// How to reach the AUR's RPC.
#[derive(Args, Clone, Debug)]
pub struct RpcArgs {
    /// The AUR web site; the RPC is URL/rpc/v5/.
    #[arg(long = "aur-url", value_name = "URL", env = "MC_AUR_URL", default_value = DEFAULT_AUR)]
    pub aur_url: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub network: NetworkArgs,
}

impl RpcArgs {
    /// The RPC client these options describe.
    pub fn client(&self) -> Result<Aur, OpenError> {
        Ok(Aur::new(self.network.client()?, &self.aur_url))
    }
}

/// Options of `mc-fetch aur info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Package names.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub rpc: RpcArgs,
}

/// Options of `mc-fetch aur search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// What to look for (at least two characters, except with `--by maintainer`).
    #[arg(value_name = "TERM")]
    pub term: String,
    /// The field to search.
    #[arg(long, value_enum, default_value_t)]
    pub by: SearchBy,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub rpc: RpcArgs,
}

/// Options of `mc-fetch aur clone`.
#[derive(Args, Debug)]
pub struct CloneArgs {
    /// Package names.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// The folder holding one repository per package base, DIR/BASE. Default:
    /// `$XDG_CACHE_HOME/minicluster/aur`, else `~/.cache/minicluster/aur`.
    #[arg(long, value_name = "DIR", env = "MC_AUR_WORK")]
    pub work: Option<PathBuf>,
    /// Where a package base's repository is: `{base}` stands for the base, `{aur}` for
    /// --aur-url (`file:///srv/aur/{base}.git` reads local repositories). Its `HEAD` is checked
    /// out as branch `master`. Default: `{aur}/{base}.git`; with --github-mirror:
    /// https://github.com/archlinux/aur.git.
    #[arg(long = "git-url", value_name = "TEMPLATE", env = "MC_AUR_GIT_URL")]
    pub git_url: Option<String>,
    /// Fetch from one repository that holds a branch per package base, the AUR's GitHub mirror
    /// (useful when the AUR is down); --git-url names another such repository.
    #[arg(long)]
    pub github_mirror: bool,
    /// Also fetch the AUR packages that the named ones depend on (depends, makedepends,
    /// checkdepends), recursively, except what the `package` records on stdin provide.
    #[arg(long)]
    pub deps: bool,
    /// Say nothing on stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub rpc: RpcArgs,
}

impl CloneArgs {
    /// The work folder: --work, else the cache folder; `None` without HOME.
    pub fn work_dir(&self) -> Option<PathBuf> {
        if let Some(work) = &self.work {
            return Some(work.clone());
        }
        minicluster::cli::cache_dir("aur")
    }

    /// Where the repositories come from; an error for a template that would give every base
    /// the same repository.
    pub fn git_source(&self) -> Result<GitSource, String> {
        let aur = self.rpc.aur_url.trim_end_matches('/');
        if self.github_mirror {
            let url = self.git_url.as_deref().unwrap_or(GITHUB_MIRROR);
            return Ok(GitSource::BranchPerBase(url.replace("{aur}", aur)));
        }
        let template = self.git_url.as_deref().unwrap_or("{aur}/{base}.git");
        if !template.contains("{base}") {
            return Err(format!(
                "--git-url {template:?} has no {{base}}: every package base would be the same \
                 repository (use --github-mirror for one repository with a branch per base)"
            ));
        }
        Ok(GitSource::PerBase(template.replace("{aur}", aur)))
    }
}
