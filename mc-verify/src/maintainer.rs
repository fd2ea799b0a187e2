//! Who maintains a package base, and whether that changed: in June 2026, orphaned AUR packages
//! were adopted and then given install scripts that fetched malware. The facts come from the
//! `pkgbuild` records of `mc-fetch aur clone`: the maintainer now (from the RPC), the one seen
//! at the previous fetch (its state file), the submitter, and the AUR's last change.

use minicluster::record::{FindingRecord, PkgbuildRecord, Severity, Timestamp};

/// The checks of this module; their findings are for the user, not for the maintainers (see
/// [`crate::report`]).
pub const CHECKS: &[&str] = &["maintainer-changed", "orphan", "adopted-recently"];

/// How recent a last change must be for `adopted-recently`.
pub const RECENT_DAYS: i64 = 30;

const DAY: i64 = 86_400;

/// Findings about the maintainer of `pkgbuild`'s base, `now` being the current Unix time:
///
/// - `maintainer-changed` (warning): the maintainer differs from the one at the previous fetch;
///   "adopted" when the package was an orphan then.
/// - `orphan` (info): no one maintains it.
/// - `adopted-recently` (warning): no previous fetch to compare with, the maintainer is not the
///   submitter, and the AUR changed the package in the last [`RECENT_DAYS`] days: a heuristic,
///   as an old hand-over looks the same.
///
/// A record without anything from the AUR (no maintainer, submitter, last change or previous
/// fetch: one written by hand, or by a tool that did not ask) gets none, since "no maintainer"
/// would only mean "not known".
pub fn findings(pkgbuild: &PkgbuildRecord, now: i64) -> Vec<FindingRecord> {
    let knows_the_aur = pkgbuild.fetched_before
        || pkgbuild.maintainer.is_some()
        || pkgbuild.submitter.is_some()
        || pkgbuild.last_modified_at.is_some();
    if !knows_the_aur {
        return Vec::new();
    }
    let finding = |check: &str, severity: Severity, message: String| FindingRecord {
        base: pkgbuild.base.clone(),
        check: check.to_owned(),
        severity,
        message,
        subject: pkgbuild.maintainer.clone(),
        ..FindingRecord::default()
    };
    let mut findings = Vec::new();
    let (now_by, before) = (&pkgbuild.maintainer, &pkgbuild.previous_maintainer);
    let change = match (before, now_by) {
        _ if !pkgbuild.fetched_before || now_by == before => None,
        (None, Some(new)) => Some(format!(
            "adopted by {new} since the last fetch, when it was an orphan: read every change \
             before building (adopted orphans were how the 2026 AUR attacks began)"
        )),
        (Some(old), Some(new)) => Some(format!(
            "maintained by {new} since the last fetch; {old} maintained it then: read every \
             change before building"
        )),
        (Some(old), None) => Some(format!(
            "{old}, who maintained it at the last fetch, has disowned it: anyone can adopt it now"
        )),
        (None, None) => None,
    };
    if let Some(message) = change {
        findings.push(finding("maintainer-changed", Severity::Warning, message));
    }
    if now_by.is_none() {
        let message = "no one maintains it (an orphan): anyone can adopt it and push changes, so \
                       read every update before building"
            .to_owned();
        findings.push(finding("orphan", Severity::Info, message));
    }
    if let (false, Some(maintainer), Some(changed)) = (
        pkgbuild.fetched_before,
        now_by,
        pkgbuild.last_modified_at.map(Timestamp::unix),
    ) {
        let age_days = (now - changed).max(0) / DAY;
        if pkgbuild.submitter.as_ref() != Some(maintainer) && age_days <= RECENT_DAYS {
            let submitter = pkgbuild
                .submitter
                .as_deref()
                .map_or_else(|| "an unknown user".to_owned(), str::to_owned);
            let when = match age_days {
                0 => "today".to_owned(),
                1 => "1 day ago".to_owned(),
                days => format!("{days} days ago"),
            };
            let message = format!(
                "maintained by {maintainer} but submitted by {submitter}, and changed {when}: it \
                 may have changed hands recently. This is a heuristic (the AUR keeps no \
                 maintainer history and there was no earlier fetch to compare with): read its git \
                 log before building"
            );
            findings.push(finding("adopted-recently", Severity::Warning, message));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn record(
        maintainer: Option<&str>,
        previous: Option<&str>,
        fetched_before: bool,
        age_days: i64,
    ) -> PkgbuildRecord {
        PkgbuildRecord {
            base: "app".into(),
            maintainer: maintainer.map(str::to_owned),
            previous_maintainer: previous.map(str::to_owned),
            fetched_before,
            submitter: Some("alice".into()),
            last_modified_at: Some(Timestamp::from_unix(NOW - age_days * DAY)),
            ..PkgbuildRecord::default()
        }
    }

    fn checks(record: &PkgbuildRecord) -> Vec<(String, Severity)> {
        findings(record, NOW)
            .into_iter()
            .map(|f| (f.check, f.severity))
            .collect()
    }

    fn pair(check: &str, severity: Severity) -> (String, Severity) {
        (check.to_owned(), severity)
    }

    #[test]
    fn changes_since_the_last_fetch() {
        let same = record(Some("alice"), Some("alice"), true, 1);
        assert!(checks(&same).is_empty());
        let changed = record(Some("mallory"), Some("alice"), true, 1);
        assert_eq!(
            checks(&changed),
            [pair("maintainer-changed", Severity::Warning)]
        );
        let adopted = findings(&record(Some("mallory"), None, true, 400), NOW);
        assert!(adopted[0].message.starts_with("adopted by mallory"));
        assert_eq!(adopted[0].subject.as_deref(), Some("mallory"));
        let disowned = record(None, Some("alice"), true, 400);
        assert_eq!(
            checks(&disowned),
            [
                pair("maintainer-changed", Severity::Warning),
                pair("orphan", Severity::Info)
            ]
        );
    }

    #[test]
    fn without_an_earlier_fetch_a_recent_change_of_hands_is_guessed() {
        let recent = findings(&record(Some("mallory"), None, false, 5), NOW);
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].check, "adopted-recently");
        assert!(
            recent[0].message.contains("5 days ago") && recent[0].message.contains("heuristic"),
            "{}",
            recent[0].message
        );
        for quiet in [
            record(Some("mallory"), None, false, RECENT_DAYS + 1),
            record(Some("alice"), None, false, 0),
            record(Some("mallory"), Some("mallory"), true, 0),
        ] {
            assert!(checks(&quiet).is_empty(), "{quiet:?}");
        }
        let future = record(Some("mallory"), None, false, -3);
        assert!(findings(&future, NOW)[0].message.contains("today"));
    }

    #[test]
    fn orphans_are_told_but_unknown_maintainers_are_not() {
        let orphan = record(None, None, false, 1000);
        assert_eq!(checks(&orphan), [pair("orphan", Severity::Info)]);
        let unknown = PkgbuildRecord {
            base: "app".into(),
            ..PkgbuildRecord::default()
        };
        assert!(checks(&unknown).is_empty());
    }
}
