//! `mc-verify report`: findings turned into one short, polite comment per package.

use std::collections::BTreeMap;

use minicluster::record::{CommentRecord, FindingRecord, Severity};

use crate::maintainer;

/// One comment per package base with a finding of severity `warning` or `error`. `info`
/// findings are for the user, not for the maintainers; so are findings about who maintains the
/// package ([`maintainer::CHECKS`]): telling a new maintainer that they are new helps no one,
/// and a public hint that they might be an attacker, on a guess, is unfair.
pub fn comments(findings: &[FindingRecord]) -> Vec<CommentRecord> {
    let mut by_base: BTreeMap<&str, Vec<&FindingRecord>> = BTreeMap::new();
    for finding in findings.iter().filter(|f| {
        f.severity >= Severity::Warning && !maintainer::CHECKS.contains(&f.check.as_str())
    }) {
        by_base.entry(&finding.base).or_default().push(finding);
    }
    by_base
        .into_iter()
        .map(|(base, mut found)| {
            // Errors first, then in check order, so the comment reads most-important-first.
            found.sort_by_key(|f| (f.severity != Severity::Error, f.check.clone()));
            let mut markdown = format!(
                "Hello! An automated check of the sources of `{base}` (minicluster's mc-verify, which \
                 reads .SRCINFO and never runs the PKGBUILD) noticed:\n\n"
            );
            for finding in &found {
                markdown.push_str(&format!("- **{}** `{}`: {}\n", finding.severity, finding.check, escape(&finding.message)));
            }
            markdown.push_str(
                "\nSome of these can have innocent explanations (an upstream re-release, say). \
                 Could you take a look when you have a moment? Thank you for maintaining this package.\n",
            );
            CommentRecord {
                base: base.to_owned(),
                findings: found.len() as u64,
                markdown,
            }
        })
        .collect()
}

/// Keeps text from a PKGBUILD from becoming Markdown: backticks and brackets are neutralised.
fn escape(text: &str) -> String {
    text.replace('`', "'")
        .replace('[', "\\[")
        .replace(']', "\\]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(base: &str, check: &str, severity: Severity) -> FindingRecord {
        FindingRecord {
            base: base.into(),
            check: check.into(),
            severity,
            message: format!("{check} in `PKGBUILD` [link](x)"),
            subject: None,
            ..FindingRecord::default()
        }
    }

    #[test]
    fn one_comment_per_base_errors_first_info_and_maintainers_left_out() {
        let comments = comments(&[
            finding("a", "weak-checksums", Severity::Warning),
            finding("a", "checksum-mismatch", Severity::Error),
            finding("a", "vcs-source", Severity::Info),
            finding("b", "vcs-source", Severity::Info),
            finding("c", "maintainer-changed", Severity::Warning),
            finding("c", "adopted-recently", Severity::Warning),
        ]);
        assert_eq!(comments.len(), 1);
        let text = &comments[0].markdown;
        assert_eq!(comments[0].findings, 2);
        assert!(
            text.find("checksum-mismatch") < text.find("weak-checksums"),
            "{text}"
        );
        assert!(
            !text.contains("vcs-source") && !text.contains("[link]"),
            "{text}"
        );
        assert!(text.starts_with("Hello!") && text.contains("Thank you"));
    }
}
