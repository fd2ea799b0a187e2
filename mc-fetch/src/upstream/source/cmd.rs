//! cmd: a shell command's output is the version (only with --allow-cmd). Also runs git for
//! the git source, with the same timeout.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use super::{Context, Found, Release, SourceError, required};
use crate::upstream::config::Entry;

pub fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let script = required(entry, "cmd")?;
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    let output = run(&mut command, ctx.command_timeout)?;
    let version = output.trim();
    if version.is_empty() {
        return Err(SourceError::Command(format!("{script:?} printed nothing")));
    }
    Ok(Found::One(Release::plain(version)))
}

/// Runs a command, killing it after `timeout`; its stdout, or its stderr as the error.
pub fn run(command: &mut Command, timeout: Duration) -> Result<String, SourceError> {
    let name = format!("{:?}", command.get_program());
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SourceError::Command(format!("starting {name}: {e}")))?;
    // Read both pipes on their own threads, so a chatty command cannot block on a full pipe.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceError::Command(format!(
                    "{name} did not finish in {} s",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(SourceError::Command(format!("waiting for {name}: {e}"))),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(SourceError::Command(format!(
            "{name} failed ({status}): {}",
            stderr.trim()
        )));
    }
    Ok(stdout)
}
