//! One package, scanned in one pass: every member through YARA, ClamAV and the packaging checks
//! as it streams out of the compressed package, one member in memory at a time.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read,
    sync::Arc,
    time::Duration,
};

use minicluster::{
    keyvalue,
    package::{self, EntryKind, Expectations, Member, PackageError},
    pkginfo,
    record::{FindingRecord, ScanEngine, Severity},
};
use sha2::{Digest, Sha256};

use crate::{
    budget::Budget,
    clamav::{Clam, ClamAv, ClamError, Hit},
    lint, mtree, yara,
};

/// A member buffer larger than this is freed after its member rather than kept for the next:
/// the budget counts only members being scanned.
const KEPT_BUFFER_BYTES: usize = 1 << 20;

/// What the scanner does and does not do.
#[derive(Clone, Debug)]
pub struct Options {
    /// Checks, rules and engines turned off.
    pub disabled: BTreeSet<String>,
    /// The member bytes all jobs may hold at once; its capacity is the largest member read.
    pub budget: Arc<Budget>,
    /// How long YARA may spend on one member.
    pub yara_timeout: Duration,
}

/// A failure that did not stop the scan of a package but left part of it unscanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineError {
    /// Stable snake_case name (`clamd_timeout`, `yara_failed`, ...).
    pub kind: String,
    /// What went wrong.
    pub message: String,
}

/// What scanning one package found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The package's name, from `.PKGINFO` (empty when it was never read).
    pub name: String,
    /// Its full version.
    pub version: String,
    /// Its findings, in member order.
    pub findings: Vec<FindingRecord>,
    /// Engines that failed on it.
    pub engine_errors: Vec<EngineError>,
    /// Why the package could not be read to its end, if it could not.
    pub read_error: Option<PackageError>,
    /// Bytes of the package file.
    pub bytes: u64,
}

impl Outcome {
    /// The outcome of a package whose worker thread died (a bug): an error, never silence.
    pub fn lost() -> Self {
        let error = std::io::Error::other("the scanning thread stopped before this package");
        Self {
            read_error: Some(PackageError::Stream(error)),
            ..Self::default()
        }
    }
}

/// A finding before it is tied to its package (whose name `.PKGINFO` tells only later).
struct Raw {
    engine: ScanEngine,
    check: String,
    severity: Severity,
    message: String,
    member: Option<String>,
}

/// Scans packages, one at a time.
pub struct Scanner<'r> {
    yara: yara::Scanner<'r>,
    clamav: ClamAv,
    options: Options,
    buffer: Vec<u8>,
}

impl<'r> Scanner<'r> {
    /// A scanner over `rules` with `clamav`.
    pub fn new(rules: &'r yara::Rules, clamav: ClamAv, options: Options) -> Self {
        Self {
            yara: rules.scanner(options.yara_timeout),
            clamav,
            options,
            buffer: Vec::new(),
        }
    }

    fn enabled(&self, name: &str) -> bool {
        !self.options.disabled.contains(name)
    }

    /// Scans the package read from `input`; `path` names its file in the findings.
    pub fn scan(&mut self, input: impl Read + Send, path: &str) -> Outcome {
        // Members over the budget are skipped here, not refused by the reader, so the members
        // after one are still scanned; the reader's own limit stops only absurd sizes.
        let expect = Expectations::default();
        let clamav = std::mem::replace(&mut self.clamav, ClamAv::Off);
        let mut walk = Walk {
            scanner: self,
            clam: Clam::new(&clamav),
            found: Vec::new(),
            errors: Vec::new(),
            context: lint::Context::default(),
            pkginfo: Vec::new(),
            mtree: None,
            metadata_seen: Vec::new(),
            paths: Vec::new(),
        };
        let walked = package::walk_package(input, &expect, |member, content| {
            walk.member(member, content)
        });
        let mut outcome = walk.finish();
        self.clamav = clamav;
        match walked {
            Ok(walked) => outcome.bytes = walked.csize,
            Err(error) => outcome.read_error = Some(error),
        }
        if outcome.read_error.is_none() && outcome.name.is_empty() {
            outcome.read_error = Some(PackageError::NoPkginfo);
        }
        for finding in &mut outcome.findings {
            finding.path = Some(path.to_owned());
        }
        outcome
    }
}

/// One package's walk.
struct Walk<'s, 'r, 'c> {
    scanner: &'s mut Scanner<'r>,
    clam: Clam<'c>,
    found: Vec<Raw>,
    errors: Vec<EngineError>,
    context: lint::Context,
    pkginfo: Vec<(String, String)>,
    mtree: Option<BTreeMap<String, mtree::Expected>>,
    /// The metadata members read so far: a second one is flagged, not read.
    metadata_seen: Vec<String>,
    /// Every member path seen, without a trailing `/`.
    paths: Vec<String>,
}

impl Walk<'_, '_, '_> {
    fn member(&mut self, member: &Member, content: &mut dyn Read) -> Result<(), PackageError> {
        let budget = Arc::clone(&self.scanner.options.budget);
        let file = member.kind == EntryKind::File;
        let skipped = file && member.size > budget.capacity();
        if skipped {
            self.errors.push(EngineError {
                kind: "member_too_large".to_owned(),
                message: format!(
                    "{}: {} bytes, over --max-member-size ({} bytes): this member was not \
                     scanned (the others were)",
                    member.path,
                    member.size,
                    budget.capacity()
                ),
            });
        }
        let _lease = (file && !skipped).then(|| budget.take(member.size));
        let mut data = std::mem::take(&mut self.scanner.buffer);
        data.clear();
        if file && !skipped {
            let size = usize::try_from(member.size).unwrap_or(usize::MAX);
            data.try_reserve_exact(size)
                .map_err(|e| PackageError::Stream(std::io::Error::other(e)))?;
            content.take(member.size).read_to_end(&mut data)?;
        }
        let result = self.inspect(member, &data, skipped);
        if data.capacity() > KEPT_BUFFER_BYTES {
            data = Vec::new();
        }
        self.scanner.buffer = data;
        self.paths
            .push(member.path.trim_end_matches('/').to_owned());
        result
    }

    /// The engines on one member; a `skipped` one (too large to read) gets only the checks of
    /// its metadata.
    fn inspect(&mut self, member: &Member, data: &[u8], skipped: bool) -> Result<(), PackageError> {
        let path = member.path.as_str();
        let repeated = matches!(path, ".PKGINFO" | ".BUILDINFO" | ".MTREE")
            && self.metadata_seen.iter().any(|seen| seen == path);
        if repeated {
            let message =
                format!("a second {path}: repo-add reads the first, others may read this one");
            self.lint(
                lint::Problem {
                    check: "repeated-metadata",
                    message,
                },
                Some(path),
            );
        } else if path.starts_with('.') {
            self.metadata_seen.push(path.to_owned());
        }
        match path {
            _ if repeated => {}
            ".PKGINFO" => {
                self.pkginfo = keyvalue::parse(&String::from_utf8_lossy(data));
                self.context.depends = keyvalue::values(&self.pkginfo, "depend")
                    .map(str::to_owned)
                    .collect();
            }
            ".BUILDINFO" => self
                .context
                .learn_buildinfo(&keyvalue::parse(&String::from_utf8_lossy(data))),
            ".MTREE" => self.mtree = Some(mtree::read(data)?),
            _ => {}
        }
        if member.kind == EntryKind::File && !skipped {
            self.yara(path, data);
            self.clamav(path, data);
        }
        if self.scanner.enabled(ScanEngine::Lint.as_str()) {
            for problem in lint::member(&self.context, path, member.kind, member.mode, data) {
                self.lint(problem, Some(path));
            }
            if !skipped {
                self.compare_mtree(member, data);
            }
        }
        Ok(())
    }

    fn yara(&mut self, path: &str, data: &[u8]) {
        if !self.scanner.enabled(ScanEngine::Yara.as_str()) {
            return;
        }
        match self.scanner.yara.scan(path, data) {
            Ok(matches) => {
                for found in matches {
                    if self.scanner.enabled(&found.rule) {
                        self.found.push(Raw {
                            engine: ScanEngine::Yara,
                            check: found.rule,
                            // A YARA rule may name any severity; an unknown one weighs as an
                            // error.
                            severity: Severity::from_name(&found.severity).unwrap_or_default(),
                            message: match &found.evidence {
                                Some(text) => format!("{} Matched: {text:?}", found.description),
                                None => found.description,
                            },
                            member: Some(path.to_owned()),
                        });
                    }
                }
            }
            Err(error) => self.errors.push(EngineError {
                kind: "yara_failed".to_owned(),
                message: format!("YARA on {path}: {error}"),
            }),
        }
    }

    fn clamav(&mut self, path: &str, data: &[u8]) {
        if !self.scanner.enabled(ScanEngine::Clamav.as_str()) {
            return;
        }
        let hits = self.clam.scan(path, data);
        self.clamav_hits(hits);
    }

    fn clamav_hits(&mut self, hits: Result<Vec<Hit>, ClamError>) {
        let hits = match hits {
            Ok(hits) => hits,
            Err(error) => {
                self.errors.push(EngineError {
                    kind: error.kind().to_owned(),
                    message: format!("{error}; ClamAV did not scan this package"),
                });
                return;
            }
        };
        for hit in hits {
            let raw = match hit {
                Hit::Found { member, signature } => Raw {
                    engine: ScanEngine::Clamav,
                    message: match member {
                        Some(_) => format!("ClamAV signature {signature} matched"),
                        None => format!(
                            "ClamAV signature {signature} matched the package's files, and \
                             ClamAV did not name one member"
                        ),
                    },
                    check: signature,
                    severity: Severity::Error,
                    member,
                },
                Hit::TooLarge(member) => Raw {
                    engine: ScanEngine::Clamav,
                    check: "clamav-not-scanned".to_owned(),
                    severity: Severity::Info,
                    message: "not scanned by ClamAV: larger than clamd's stream limit \
                              (--clamd-max-stream-size, clamd's StreamMaxLength)"
                        .to_owned(),
                    member: Some(member),
                },
            };
            if self.scanner.enabled(&raw.check) {
                self.found.push(raw);
            }
        }
    }

    fn lint(&mut self, problem: lint::Problem, member: Option<&str>) {
        if !self.scanner.enabled(problem.check) {
            return;
        }
        let severity = lint::check(problem.check).map_or(Severity::Warning, |check| check.severity);
        self.found.push(Raw {
            engine: ScanEngine::Lint,
            check: problem.check.to_owned(),
            severity,
            message: problem.message,
            member: member.map(str::to_owned),
        });
    }

    fn compare_mtree(&mut self, member: &Member, data: &[u8]) {
        let Some(entries) = &self.mtree else { return };
        if member.path == ".MTREE" {
            return;
        }
        let key = member.path.trim_end_matches('/');
        let message = match entries.get(key) {
            None => Some("not listed in .MTREE".to_owned()),
            Some(expected) => {
                let sha256 = (member.kind == EntryKind::File && expected.sha256.is_some())
                    .then(|| hex::encode(Sha256::digest(data)));
                mtree::differences(expected, member, sha256.as_deref())
            }
        };
        if let Some(message) = message {
            let problem = lint::Problem {
                check: "mtree-mismatch",
                message,
            };
            self.lint(problem, Some(&member.path.clone()));
        }
    }

    fn finish(mut self) -> Outcome {
        let hits = std::mem::replace(&mut self.clam, Clam::Off).finish();
        self.clamav_hits(hits);
        if self.scanner.enabled(ScanEngine::Lint.as_str()) {
            let paths = std::mem::take(&mut self.paths);
            for (path, problem) in lint::orphan_bytecode(paths.iter().map(String::as_str)) {
                self.lint(problem, Some(&path));
            }
            if let Some(entries) = self.mtree.take() {
                let seen: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
                for missing in entries.keys().filter(|path| !seen.contains(path.as_str())) {
                    let problem = lint::Problem {
                        check: "mtree-mismatch",
                        message: "listed in .MTREE but not in the package".to_owned(),
                    };
                    self.lint(problem, Some(missing));
                }
            }
        }
        // The warnings mc-repo gives when it adds the package, told before it is added.
        for unusual in pkginfo::unusual(&self.pkginfo) {
            let problem = lint::Problem {
                check: pkginfo::CHECK,
                message: unusual.to_string(),
            };
            self.lint(problem, Some(".PKGINFO"));
        }
        let get = |key: &str| keyvalue::last(&self.pkginfo, key).unwrap_or_default();
        let (name, version) = (get("pkgname").to_owned(), get("pkgver").to_owned());
        let base = keyvalue::last(&self.pkginfo, "pkgbase").unwrap_or(&name);
        let findings = self
            .found
            .into_iter()
            .map(|raw| FindingRecord {
                base: base.to_owned(),
                check: raw.check,
                severity: raw.severity,
                message: raw.message,
                subject: raw.member.clone(),
                package: Some(name.clone()),
                version: Some(version.clone()),
                path: None,
                member: raw.member,
                engine: Some(raw.engine),
            })
            .collect();
        Outcome {
            findings,
            engine_errors: self.errors,
            name,
            version,
            ..Outcome::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A package of `(path, mode, content)` files after a `.PKGINFO` and a `.MTREE` of `mtree`.
    fn package(mtree: &str, files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(mtree.as_bytes()).expect("in memory");
        let mtree = gz.finish().expect("in memory");
        let pkginfo = b"pkgname = demo\npkgbase = demo\npkgver = 1-1\n".to_vec();
        let mut builder = tar::Builder::new(Vec::new());
        let metadata: [(&str, u32, &[u8]); 2] =
            [(".MTREE", 0o644, &mtree), (".PKGINFO", 0o644, &pkginfo)];
        for (path, mode, data) in metadata.iter().chain(files) {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            builder
                .append_data(&mut header, path, *data)
                .expect("in memory");
        }
        builder.into_inner().expect("in memory")
    }

    fn checks(outcome: &Outcome) -> Vec<(String, String)> {
        outcome
            .findings
            .iter()
            .map(|f| (f.check.clone(), f.member.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn members_are_compared_with_mtree_and_findings_name_the_package() {
        let sha = hex::encode(Sha256::digest(b"ok\n"));
        let mtree = format!(
            "#mtree\n/set type=file mode=644\n./.PKGINFO size=43\n./usr/a size=3 sha256digest={sha}\n\
             ./usr/b size=3 sha256digest={sha}\n./usr/gone size=1\n"
        );
        let bytes = package(
            &mtree,
            &[
                ("usr/a", 0o644, b"ok\n"),
                ("usr/b", 0o755, b"no\n"),
                ("usr/extra", 0o644, b""),
            ],
        );
        let rules = yara::Rules::load(&[]).expect("rules");
        let options = Options {
            disabled: BTreeSet::new(),
            budget: Arc::new(Budget::new(1 << 20)),
            yara_timeout: Duration::from_secs(10),
        };
        let mut scanner = Scanner::new(&rules, ClamAv::Off, options);
        let outcome = scanner.scan(bytes.as_slice(), "/x/demo.pkg.tar");
        assert!(outcome.read_error.is_none(), "{:?}", outcome.read_error);
        let mismatch = |member: &str| ("mtree-mismatch".to_owned(), member.to_owned());
        assert_eq!(
            checks(&outcome),
            [
                mismatch("usr/b"),
                mismatch("usr/extra"),
                mismatch("usr/gone")
            ]
        );
        assert!(
            outcome.findings[0]
                .message
                .contains("mode 755, .MTREE says 644")
        );
        assert!(outcome.findings[0].message.contains("sha256"));
        let finding = &outcome.findings[0];
        assert_eq!(
            (
                finding.package.as_deref(),
                finding.version.as_deref(),
                finding.path.as_deref()
            ),
            (Some("demo"), Some("1-1"), Some("/x/demo.pkg.tar"))
        );
        assert_eq!(outcome.bytes, bytes.len() as u64);
    }
}
