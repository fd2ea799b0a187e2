//! What every tool's command line shares: network options, `--jobs`, `--quiet` and exit codes
//! (sizes: [`crate::size`]).

use std::{io, time::Duration};

use clap::Args;

use crate::http::{Http, OpenError, RetryPolicy};

/// Every item succeeded.
pub const EXIT_OK: u8 = 0;
/// The run finished, but at least one item failed (see the `error` records).
pub const EXIT_ITEM_FAILED: u8 = 1;
/// Bad usage, or a failure that stopped the whole run.
pub const EXIT_FATAL: u8 = 2;

/// minicluster's cache folder `sub` (`sources`, `build`, `aur`): under `$XDG_CACHE_HOME`, or
/// `$HOME/.cache` when that is unset or not absolute (as the XDG spec says); `None` without either.
pub fn cache_dir(sub: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cache"))
        })?;
    Some(base.join("minicluster").join(sub))
}

/// The exit status of a run that finished: [`EXIT_ITEM_FAILED`] when some item failed.
pub fn status(some_failed: bool) -> u8 {
    if some_failed {
        EXIT_ITEM_FAILED
    } else {
        EXIT_OK
    }
}

/// The exit-status paragraph every tool's `--help` ends with.
pub const EXIT_STATUS_HELP: &str = "Exit status: 0 when every item succeeded, 1 when some item \
failed (each failure is an \"error\" record on stdout), 2 for bad usage or a fatal error.";

/// Network options shared by every tool that downloads.
#[derive(Args, Clone, Debug)]
pub struct NetworkArgs {
    /// Attempts per URL when a transfer fails (connection refused or reset, HTTP 5xx); then the
    /// next mirror is tried.
    #[arg(long, default_value_t = DEFAULT_RETRIES, env = "MC_RETRIES", value_name = "N")]
    pub retries: u32,
    /// Seconds to wait for a connection, and for each chunk of data, before giving up on it; a
    /// body bringing less than 1 KiB in that time has stalled too.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT, env = "MC_TIMEOUT", value_name = "SECONDS")]
    pub timeout: u64,
}

const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_TIMEOUT: u64 = 30;

impl Default for NetworkArgs {
    fn default() -> Self {
        Self {
            retries: DEFAULT_RETRIES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl NetworkArgs {
    /// The HTTP client these options describe.
    pub fn client(&self) -> Result<Http, OpenError> {
        let retry = RetryPolicy {
            attempts: self.retries.max(1),
            ..RetryPolicy::default()
        };
        let timeout = Duration::from_secs(self.timeout.max(1));
        Http::new(retry, timeout, timeout)
    }
}

/// `--jobs`, the same in every tool that works on several items at once.
///
/// One environment variable, `MC_JOBS`, sets it for every tool of a pipeline. One default rule:
/// as many jobs as keep every core busy, which depends on how much of a job's time it waits
/// ([`Load`]); each tool's `--help` names its figure.
#[derive(Args, Clone, Debug, Default)]
pub struct JobsArgs {
    /// Items worked on at once [default: enough to keep every core busy; see above].
    #[arg(long, short = 'j', value_name = "N", env = "MC_JOBS")]
    pub jobs: Option<usize>,
}

/// How much of the machine one job keeps busy, which sets the default `--jobs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// One job uses every core by itself (makepkg with its own `MAKEFLAGS`): one at a time.
    AllCores,
    /// One job keeps one core busy for 1/N of its time, waiting the rest (for the network,
    /// clamd): N per core.
    PerCore(usize),
}

impl JobsArgs {
    /// The jobs to run: `--jobs` if given (at least 1), else the default for `load`.
    pub fn count(&self, load: Load) -> usize {
        self.jobs.unwrap_or_else(|| default_jobs(load)).max(1)
    }
}

/// The default `--jobs` for `load` on this machine.
pub fn default_jobs(load: Load) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    match load {
        Load::AllCores => 1,
        Load::PerCore(n) => cores.saturating_mul(n).max(1),
    }
}

/// `--quiet`, the same in every tool that tells people on stderr how it goes.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct QuietArgs {
    /// Say nothing on stderr but errors (no progress, no notes).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Whether an error only says that the reader of our stdout went away (`mc-index query | head`),
/// which is a normal way for a pipeline to end.
pub fn is_broken_pipe(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// Maps a tool's result to its exit status, reporting a fatal error with its causes on stderr.
/// A closed stdout pipe is a normal end, not an error.
pub fn exit(tool: &str, result: anyhow::Result<u8>) -> std::process::ExitCode {
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(error)
            if error
                .chain()
                .any(|cause| cause.downcast_ref().is_some_and(is_broken_pipe)) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{tool}: error: {error:#}");
            std::process::ExitCode::from(EXIT_FATAL)
        }
    }
}
