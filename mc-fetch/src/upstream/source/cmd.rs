//! cmd: a shell command's output is the version (only with --allow-cmd). Also runs git for
//! the git source, with the same timeout.

use std::{process::Stdio, time::Duration};

use tokio::process::Command;

use super::{Context, Found, Release, SourceError, required};
use crate::upstream::config::Entry;

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let script = required(entry, "cmd")?;
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    let output = run(&mut command, ctx.command_timeout).await?;
    let version = output.trim();
    if version.is_empty() {
        return Err(SourceError::Command(format!("{script:?} printed nothing")));
    }
    Ok(Found::One(Release::plain(version)))
}

/// Runs a command, killing it after `timeout`; its stdout, or its stderr as the error.
pub async fn run(command: &mut Command, timeout: Duration) -> Result<String, SourceError> {
    let name = format!("{:?}", command.as_std().get_program());
    // Both pipes are read while the command runs, so a chatty one cannot block on a full pipe;
    // a command past its timeout is killed when its future is dropped.
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SourceError::Command(format!("starting {name}: {e}")))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| {
            SourceError::Command(format!("{name} did not finish in {} s", timeout.as_secs()))
        })?
        .map_err(|e| SourceError::Command(format!("waiting for {name}: {e}")))?;
    if !output.status.success() {
        return Err(SourceError::Command(format!(
            "{name} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
