//! What changed since the commit the user last fetched: sources, their hosts, checksums, and the
//! install scriptlet. A PKGBUILD that was fine last week and now downloads from somewhere else is
//! how the 2025 AUR attacks looked.

use std::{collections::BTreeSet, path::Path};

use alpm_types::SystemArchitecture;
use minicluster::record::{FindingRecord, Severity};

use crate::plan::{Plan, PlannedSource, plan_text};

/// Findings about the changes from `previous` (a commit of the folder's git repository) to the
/// current `plan`; one `history-unavailable` finding when the old `.SRCINFO` cannot be read.
pub fn findings(
    folder: &Path,
    previous: &str,
    plan: &Plan,
    arch: &SystemArchitecture,
) -> Vec<FindingRecord> {
    let finding = |check: &str, severity: Severity, message: String| FindingRecord {
        base: plan.base.clone(),
        check: check.to_owned(),
        severity,
        message,
        subject: Some(previous.to_owned()),
        ..FindingRecord::default()
    };
    let old = git(folder, &["show", &format!("{previous}:.SRCINFO")]).and_then(|text| {
        plan_text(&text, &format!("{previous}:.SRCINFO"), arch).map_err(|e| e.to_string())
    });
    let old = match old {
        Ok(old) => old,
        Err(message) => {
            return vec![finding(
                "history-unavailable",
                Severity::Info,
                format!("cannot compare with {previous}: {message}"),
            )];
        }
    };
    let mut findings = Vec::new();
    let old_hosts: BTreeSet<String> = old.sources.iter().filter_map(host).collect();
    for source in &plan.sources {
        if let Some(new_host) = host(source).filter(|h| !old_hosts.contains(h)) {
            let message = format!(
                "{}: now downloaded from {new_host}, a host no source used at {previous}",
                source.file
            );
            findings.push(finding("source-host-changed", Severity::Warning, message));
        }
    }
    let names = |plan: &Plan| {
        plan.sources
            .iter()
            .map(|s| s.location.clone())
            .collect::<BTreeSet<_>>()
    };
    let (before, after) = (names(&old), names(plan));
    if before != after {
        let added: Vec<_> = after.difference(&before).cloned().collect();
        let removed: Vec<_> = before.difference(&after).cloned().collect();
        let message =
            format!("sources changed since {previous}: added {added:?}, removed {removed:?}");
        findings.push(finding("sources-changed", Severity::Info, message));
    }
    let same_version = old.version == plan.version;
    for source in &plan.sources {
        let earlier = old.sources.iter().find(|s| s.file == source.file);
        if earlier.is_some_and(|earlier| earlier.expected != source.expected) {
            // New checksums come with new versions; without one, the bytes changed under a name.
            let severity = if same_version {
                Severity::Warning
            } else {
                Severity::Info
            };
            let message = format!(
                "{}: checksums changed since {previous}{}",
                source.file,
                if same_version {
                    " without a version change"
                } else {
                    ""
                }
            );
            findings.push(finding("checksums-changed", severity, message));
        }
    }
    if let Some(install) = plan.install.as_ref().or(old.install.as_ref()) {
        let changed = git(folder, &["diff", "--quiet", previous, "--", install]).is_err()
            || plan.install != old.install;
        if changed {
            findings.push(finding("install-changed", Severity::Warning, format!("the install scriptlet {install} changed since {previous}: read it before upgrading")));
        }
    }
    findings
}

fn host(source: &PlannedSource) -> Option<String> {
    url::Url::parse(&source.location)
        .ok()?
        .host_str()
        .map(str::to_owned)
}

/// Runs a read-only git command (`show`, `diff`) in `folder`; its stdout, or why it failed.
fn git(folder: &Path, args: &[&str]) -> Result<String, String> {
    let location = ["-C".as_ref(), folder.as_os_str()];
    let stdout = minicluster::git::run(&[], &location, args).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}
