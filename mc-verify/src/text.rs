//! Checks on the PKGBUILD and `.install` read as text: they are bash, and are never run. The
//! attack patterns are [`minicluster::scriptlet`]'s, the same mc-scan finds in a built
//! package's `.INSTALL`.

use std::path::Path;

use minicluster::{
    record::{FindingRecord, Severity},
    scriptlet::{self, Script},
};

use crate::plan::Plan;

/// Problems visible in the text of the PKGBUILD and its install scriptlet.
pub fn findings(folder: &Path, plan: &Plan) -> Vec<FindingRecord> {
    let mut findings = Vec::new();
    let finding = |check: &str, severity: Severity, message: String, subject: &str| FindingRecord {
        base: plan.base.clone(),
        check: check.to_owned(),
        severity,
        message,
        subject: Some(subject.to_owned()),
        ..FindingRecord::default()
    };
    let pkgbuild = std::fs::read_to_string(folder.join("PKGBUILD")).unwrap_or_default();
    if let Some(declared) = declared_version(&pkgbuild).filter(|version| *version != plan.version) {
        let message = format!(
            "PKGBUILD declares {declared}, .SRCINFO says {}: .SRCINFO is out of date",
            plan.version
        );
        findings.push(finding(
            "srcinfo-outdated",
            Severity::Warning,
            message,
            "PKGBUILD",
        ));
    }
    let mut scripts = vec![("PKGBUILD".to_owned(), pkgbuild, Script::Pkgbuild)];
    if let Some(install) = &plan.install
        && let Ok(text) = std::fs::read_to_string(folder.join(install))
    {
        scripts.push((install.clone(), text, Script::Scriptlet));
    }
    for (name, text, kind) in &scripts {
        for detection in scriptlet::detect(text, *kind) {
            let message = format!("{name} {}", detection.message);
            findings.push(finding(detection.check, detection.severity, message, name));
        }
        for (number, line) in text.lines().enumerate() {
            let place = format!("{name}:{}", number + 1);
            if let Some(length) = base64_blob(line) {
                let message = format!(
                    "{place}: a {length}-character base64 blob, a common way to hide a payload"
                );
                findings.push(finding("base64-blob", Severity::Warning, message, name));
            }
        }
    }
    findings
}

/// `[epoch:]pkgver-pkgrel` from the PKGBUILD's top-level literal assignments; `None` when any of
/// them is computed (`$var`, `$(...)`) or when a `pkgver()` function rewrites it (VCS packages).
fn declared_version(pkgbuild: &str) -> Option<String> {
    if pkgbuild
        .lines()
        .any(|line| line.trim_start().starts_with("pkgver()"))
    {
        return None;
    }
    let value = |key: &str| {
        pkgbuild.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            let value = value
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .trim_matches(['\'', '"']);
            Some(value.to_owned())
        })
    };
    let (pkgver, pkgrel) = (value("pkgver")?, value("pkgrel")?);
    let epoch = value("epoch");
    let literal = |text: &str| !text.is_empty() && !text.contains(['$', '`', '(', ' ']);
    if !literal(&pkgver) || !literal(&pkgrel) || epoch.as_deref().is_some_and(|e| !literal(e)) {
        return None;
    }
    Some(match epoch.filter(|epoch| epoch != "0") {
        Some(epoch) => format!("{epoch}:{pkgver}-{pkgrel}"),
        None => format!("{pkgver}-{pkgrel}"),
    })
}

/// The length of the longest run of base64 characters, when it is long enough to hide a payload.
fn base64_blob(line: &str) -> Option<usize> {
    const MINIMUM: usize = 120;
    let is_base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    let longest = line
        .split(|c: char| !is_base64(c))
        .map(str::len)
        .max()
        .unwrap_or(0);
    // Checksums are hex: long, but not base64 blobs.
    let hex_only = line
        .split(|c: char| !is_base64(c))
        .filter(|run| run.len() == longest)
        .all(|run| run.chars().all(|c| c.is_ascii_hexdigit()));
    (longest >= MINIMUM && !hex_only).then_some(longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_versions_are_read_and_computed_ones_are_not() {
        assert_eq!(
            declared_version("pkgname=a\npkgver=1.2\npkgrel=3\n"),
            Some("1.2-3".into())
        );
        assert_eq!(
            declared_version("epoch=2\npkgver='1.2'\npkgrel=\"1\"\n"),
            Some("2:1.2-1".into())
        );
        assert_eq!(declared_version("pkgver=$_v\npkgrel=1\n"), None);
        assert_eq!(
            declared_version("pkgver=1\npkgrel=1\npkgver() {\n  git describe\n}\n"),
            None
        );
    }

    #[test]
    fn base64_blobs_but_not_checksums() {
        let payload = "SGVsbG8gd29ybGQhIFRoaXMgaXMgYSBoaWRkZW4gcGF5bG9hZC4g".repeat(3);
        let blob = format!("eval \"$(echo {payload} | base64 -d)\"");
        assert_eq!(base64_blob(&blob), Some(payload.len()));
        let sha512 = format!("sha512sums=('{}')", "ab".repeat(64));
        assert_eq!(base64_blob(&sha512), None);
    }
}
