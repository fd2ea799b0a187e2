//! git: the tags of a repository (`git ls-remote --tags --refs`), or with `use_commit` the
//! commit a branch (or HEAD) points at.

use tokio::process::Command;

use super::{Context, Found, Release, SourceError, cmd, required};
use crate::upstream::config::Entry;

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let remote = required(entry, "git")?;
    let mut command = Command::new("git");
    // Never ask for a password on a terminal: a missing repository fails instead.
    command.env("GIT_TERMINAL_PROMPT", "0").arg("ls-remote");
    if entry.flag("use_commit") {
        let gitref = entry
            .str("branch")
            .map(|branch| format!("refs/heads/{branch}"));
        command.arg(remote).arg(gitref.as_deref().unwrap_or("HEAD"));
        let output = cmd::run(&mut command, ctx.command_timeout).await?;
        let commit = output
            .split_whitespace()
            .next()
            .ok_or_else(|| SourceError::Malformed(format!("{remote}: no such ref")))?;
        return Ok(Found::One(Release {
            version: commit.to_owned(),
            revision: Some(commit.to_owned()),
            gitref,
            url: None,
        }));
    }
    command.args(["--tags", "--refs", remote]);
    let output = cmd::run(&mut command, ctx.command_timeout).await?;
    Ok(Found::Many(
        output
            .lines()
            .filter_map(|line| {
                let (revision, tag) = line.split_once("\trefs/tags/")?;
                Some(Release {
                    version: tag.to_owned(),
                    revision: Some(revision.to_owned()),
                    gitref: Some(format!("refs/tags/{tag}")),
                    url: None,
                })
            })
            .collect(),
    ))
}
