//! Running git on repositories nobody here wrote (AUR package bases, PKGBUILD sources).
//!
//! Every command gets settings that keep a hostile repository (or a surprising user
//! configuration) from running anything or waiting for a person: no hooks, no fsmonitor, no
//! submodules, no credential helpers or prompts, no `ext::` transport, objects checked on arrival,
//! a stalled transfer ended. Callers add what their own use needs (`extra` settings).

use std::{
    ffi::OsStr,
    io,
    process::{Command, Stdio},
};

/// The settings every git command runs with.
const SAFE_CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "transfer.fsckObjects=true",
    "protocol.ext.allow=never",
    "credential.helper=",
    "gc.auto=0",
    "maintenance.auto=false",
    "http.lowSpeedLimit=1000",
];

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("running git: {0}")]
    Spawn(#[source] io::Error),
    /// The command failed; `message` is what git said on stderr, on one line.
    #[error("git {command}: {message}")]
    Failed {
        /// The subcommand and its arguments.
        command: String,
        /// What git said.
        message: String,
    },
}

/// Runs `git` with the safe settings, then `extra` settings, then the `location` options
/// (`--git-dir DIR`, `-C DIR`, ...), then the subcommand `args`; returns its stdout.
pub fn run(extra: &[&str], location: &[&OsStr], args: &[&str]) -> Result<Vec<u8>, GitError> {
    let output = Command::new("git")
        .args(
            SAFE_CONFIG
                .iter()
                .chain(extra)
                .flat_map(|setting| ["-c", setting]),
        )
        .args(location)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let message = if said.is_empty() {
        format!("failed ({})", output.status)
    } else {
        said.join("; ").chars().take(2000).collect()
    };
    Err(GitError::Failed {
        command: args.join(" "),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_say_what_git_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = run(&[], &[OsStr::new("-C"), dir.path().as_os_str()], &["log"]);
        let Err(GitError::Failed { command, message }) = result else {
            panic!("git log outside a repository must fail: {result:?}");
        };
        assert_eq!(command, "log");
        assert!(message.contains("not a git repository"), "{message}");
    }
}
