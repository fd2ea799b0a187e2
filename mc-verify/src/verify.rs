//! Fetching each planned source into the cache while hashing it, and judging the result.
//!
//! Nothing is unpacked and nothing from the package is run: a source is a stream of bytes that
//! goes through every declared checksum on its way to the cache. Detached signatures are checked
//! against the keyring and the PKGBUILD's `validpgpkeys` once their data is in.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use minicluster::{
    http::Http,
    record::{FindingRecord, Severity, SourceRecord, Verdict},
};

use crate::{
    hashing::MultiHasher,
    keys::Keys,
    plan::{Plan, PlannedSource},
};

/// Where sources go and how far a download may run.
pub struct Fetcher<'a> {
    /// The HTTP client (retries, timeouts).
    pub http: &'a Http,
    /// The source cache: `CACHE/BASE/FILE`.
    pub cache: PathBuf,
    /// The largest source accepted, in bytes.
    pub max_bytes: u64,
    /// Certificates signatures are checked against.
    pub keys: &'a Keys,
}

/// What checking one package base found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One record per source.
    pub sources: Vec<SourceRecord>,
    /// Problems, most serious first within each source.
    pub findings: Vec<FindingRecord>,
}

impl Outcome {
    pub(crate) fn finding(
        &mut self,
        base: &str,
        check: &str,
        severity: Severity,
        message: String,
        subject: Option<&str>,
    ) {
        self.findings.push(FindingRecord {
            base: base.to_owned(),
            check: check.to_owned(),
            severity,
            message,
            subject: subject.map(str::to_owned),
            ..FindingRecord::default()
        });
    }

    /// Judges a signature check's result (the signer's fingerprint, or why it failed) against
    /// `validpgpkeys`, with a finding unless it passes; the source's verdict and signer.
    pub(crate) fn signature(
        &mut self,
        plan: &Plan,
        name: &str,
        verified: Result<String, String>,
    ) -> (Verdict, Option<String>) {
        let base = plan.base.as_str();
        match verified {
            Ok(signer)
                if plan
                    .valid_pgp_keys
                    .iter()
                    .any(|key| signer.ends_with(key.as_str())) =>
            {
                (Verdict::SignatureOk, Some(signer))
            }
            Ok(signer) => {
                self.finding(
                    base,
                    "signature-unknown-key",
                    Severity::Error,
                    format!("{name}: signed by {signer}, which `validpgpkeys` does not list"),
                    Some(name),
                );
                (Verdict::SignatureBad, Some(signer))
            }
            Err(message) => {
                self.finding(
                    base,
                    "signature-invalid",
                    Severity::Error,
                    format!("{name}: {message}"),
                    Some(name),
                );
                (Verdict::SignatureBad, None)
            }
        }
    }
}

/// Why getting a source's bytes failed.
#[derive(Debug, thiserror::Error)]
enum FetchFailure {
    #[error("{0}")]
    Unreachable(String),
    #[error("larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Refused(String),
}

impl Fetcher<'_> {
    /// Fetches and checks every source of `plan` (from the PKGBUILD folder `folder`).
    pub fn check(&self, folder: &Path, plan: &Plan) -> Outcome {
        let mut outcome = Outcome::default();
        let base = plan.base.as_str();
        for source in &plan.sources {
            let record = self.check_source(folder, plan, source, &mut outcome);
            outcome.sources.push(record);
        }
        self.check_signatures(plan, &mut outcome);
        let has_signatures = plan
            .sources
            .iter()
            .any(|source| source.is_signature() || source.is_signed_git());
        if has_signatures && plan.valid_pgp_keys.is_empty() {
            outcome.finding(
                base,
                "validpgpkeys-missing",
                Severity::Warning,
                "the sources include signatures, but no `validpgpkeys` says whose to accept"
                    .to_owned(),
                None,
            );
        }
        outcome
    }

    fn check_source(
        &self,
        folder: &Path,
        plan: &Plan,
        source: &PlannedSource,
        outcome: &mut Outcome,
    ) -> SourceRecord {
        let base = plan.base.as_str();
        let mut record = SourceRecord {
            base: base.to_owned(),
            file: source.file.clone(),
            url: source.location.clone(),
            kind: source.kind.clone(),
            verdict: Verdict::Unverified,
            ..SourceRecord::default()
        };
        let declared: Vec<&str> = source
            .expected
            .iter()
            .filter(|(_, sum)| sum.is_some())
            .map(|(algo, _)| algo.as_str())
            .collect();
        if source.kind == "git" {
            self.check_git(plan, source, &mut record, outcome);
            return record;
        }
        if source.is_vcs() {
            outcome.finding(
                base,
                "vcs-source",
                Severity::Info,
                format!(
                    "{}: a {} source; its revision is not checked yet",
                    source.file, source.kind
                ),
                Some(&source.location),
            );
            return record;
        }
        if source.kind == "file" {
            let message = format!(
                "{}: a file:// URL reads the builder's own files",
                source.file
            );
            outcome.finding(
                base,
                "hostile-source",
                Severity::Error,
                message,
                Some(&source.location),
            );
            record.verdict = Verdict::Unreachable;
            return record;
        }
        if source.kind == "ftp" {
            outcome.finding(
                base,
                "unsupported-protocol",
                Severity::Warning,
                format!(
                    "{}: ftp sources are not fetched; it was not checked",
                    source.file
                ),
                Some(&source.location),
            );
            return record;
        }
        let all_skipped = !source.expected.is_empty() && declared.is_empty();
        if all_skipped && !source.is_signature() {
            outcome.finding(
                base,
                "skip-non-vcs",
                Severity::Warning,
                format!(
                    "{}: checksum SKIP on a source with fixed content",
                    source.file
                ),
                Some(&source.location),
            );
        }
        if !declared.is_empty() && declared.iter().all(|algo| matches!(*algo, "md5" | "sha1")) {
            outcome.finding(
                base,
                "weak-checksums",
                Severity::Warning,
                format!(
                    "{}: only {} checksums, which can be forged",
                    source.file,
                    declared.join("/")
                ),
                Some(&source.location),
            );
        }
        if matches!(source.kind.as_str(), "http" | "ftp")
            && !source.is_signature()
            && !signed(plan, source)
        {
            outcome.finding(
                base,
                "insecure-unsigned",
                Severity::Warning,
                format!(
                    "{}: fetched over {} without a signature: anyone on the path can change it",
                    source.file, source.kind
                ),
                Some(&source.location),
            );
        }
        let algorithms: Vec<&str> = source
            .expected
            .keys()
            .map(String::as_str)
            .chain(["sha256"])
            .collect();
        match self.fetch(folder, base, source, &algorithms) {
            Err(FetchFailure::Refused(message)) => {
                outcome.finding(
                    base,
                    "hostile-source",
                    Severity::Error,
                    format!("{}: {message}", source.file),
                    Some(&source.location),
                );
                record.verdict = Verdict::Unreachable;
            }
            Err(failure) => {
                outcome.finding(
                    base,
                    "source-unreachable",
                    Severity::Error,
                    format!("{}: {failure}", source.file),
                    Some(&source.location),
                );
                record.verdict = Verdict::Unreachable;
            }
            Ok((path, size, checksums)) => {
                record.path = Some(path.display().to_string());
                record.size_bytes = Some(size);
                let mismatched: Vec<&str> = source
                    .expected
                    .iter()
                    .filter_map(|(algo, expected)| {
                        expected
                            .as_ref()
                            .filter(|sum| checksums.get(algo) != Some(*sum))
                            .map(|_| algo.as_str())
                    })
                    .collect();
                record.verdict = if !mismatched.is_empty() {
                    outcome.finding(
                        base,
                        "checksum-mismatch",
                        Severity::Error,
                        format!(
                            "{}: {} checksum does not match",
                            source.file,
                            mismatched.join(", ")
                        ),
                        Some(&source.location),
                    );
                    if source.kind != "local" {
                        let _ = fs::remove_file(&path);
                    }
                    Verdict::Mismatch
                } else if declared.is_empty() {
                    if all_skipped {
                        Verdict::Skipped
                    } else {
                        Verdict::Unverified
                    }
                } else {
                    Verdict::Ok
                };
                record.checksums = checksums;
            }
        }
        record
    }

    /// Gets the source's bytes through `hasher`: from beside the PKGBUILD, from the cache, or
    /// downloaded into the cache.
    fn fetch(
        &self,
        folder: &Path,
        base: &str,
        source: &PlannedSource,
        algorithms: &[&str],
    ) -> Result<(PathBuf, u64, BTreeMap<String, String>), FetchFailure> {
        let mut hasher = MultiHasher::new(algorithms.iter().copied());
        if source.kind == "local" {
            let relative = Path::new(&source.location);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|part| matches!(part, std::path::Component::ParentDir))
            {
                return Err(FetchFailure::Refused(
                    "a local source outside the PKGBUILD's folder".to_owned(),
                ));
            }
            let path = folder.join(relative);
            let file = File::open(&path)
                .map_err(|e| FetchFailure::Unreachable(format!("{}: {e}", path.display())))?;
            self.copy_limited(file, &mut hasher)?;
            let size = hasher.bytes();
            return Ok((path, size, hasher.finish()));
        }
        if !matches!(source.kind.as_str(), "http" | "https") {
            return Err(FetchFailure::Refused(format!(
                "a {} URL: only http(s) sources and files beside the PKGBUILD are fetched",
                source.kind
            )));
        }
        let dir = self.cache.join(base);
        fs::create_dir_all(&dir)
            .map_err(|e| FetchFailure::Unreachable(format!("{}: {e}", dir.display())))?;
        let path = dir.join(&source.file);
        if let Ok(cached) = File::open(&path) {
            self.copy_limited(cached, &mut hasher)?;
            let size = hasher.bytes();
            return Ok((path, size, hasher.finish()));
        }
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", source.file))
            .tempfile_in(&dir)
            .map_err(|e| FetchFailure::Unreachable(e.to_string()))?;
        let urls = [source.location.clone()];
        let fetched = self.http.fetch(&urls, |body| {
            let mut out = temp.as_file();
            let mut tee = Tee {
                hasher: MultiHasher::new(algorithms.iter().copied()),
                out: &mut out,
            };
            self.copy_limited(body, &mut tee).map(|()| tee.hasher)
        });
        let downloaded = fetched.map_err(|e| match e {
            minicluster::http::FetchError::Content {
                source: FetchFailure::TooLarge(limit),
                ..
            } => FetchFailure::TooLarge(limit),
            other => FetchFailure::Unreachable(other.to_string()),
        })?;
        let size = downloaded.bytes();
        temp.persist(&path)
            .map_err(|e| FetchFailure::Unreachable(e.to_string()))?;
        Ok((path, size, downloaded.finish()))
    }

    /// Copies `from` into `to`, refusing to go past the size limit (a source that never ends).
    fn copy_limited(&self, from: impl Read, to: &mut impl Write) -> Result<(), FetchFailure> {
        let copied = io::copy(&mut from.take(self.max_bytes.saturating_add(1)), to)
            .map_err(|e| FetchFailure::Unreachable(e.to_string()))?;
        if copied > self.max_bytes {
            return Err(FetchFailure::TooLarge(self.max_bytes));
        }
        Ok(())
    }

    /// Checks each detached signature source against the source it signs.
    fn check_signatures(&self, plan: &Plan, outcome: &mut Outcome) {
        for index in 0..outcome.sources.len() {
            let signature = &outcome.sources[index];
            if !plan.sources[index].is_signature() || signature.path.is_none() {
                continue;
            }
            let stem = signature
                .file
                .rsplit_once('.')
                .map(|(stem, _)| stem.to_owned())
                .unwrap_or_default();
            let data = outcome
                .sources
                .iter()
                .find(|s| s.file == stem)
                .and_then(|s| s.path.clone());
            let (Some(data), Some(signature_path)) = (data, signature.path.clone()) else {
                continue;
            };
            let verified = self.verify(&data, &signature_path);
            let (verdict, signer) = outcome.signature(plan, &stem, verified);
            outcome.sources[index].verdict = verdict;
            outcome.sources[index].signer = signer;
        }
    }

    fn verify(&self, data: &str, signature: &str) -> Result<String, String> {
        let signature = fs::read(signature).map_err(|e| e.to_string())?;
        self.keys.verify(Path::new(data), &signature)
    }
}

/// Whether some signature source signs `source`.
fn signed(plan: &Plan, source: &PlannedSource) -> bool {
    plan.sources.iter().any(|other| {
        other.is_signature()
            && other
                .file
                .rsplit_once('.')
                .is_some_and(|(stem, _)| stem == source.file)
    })
}

/// Writes to a file and a hasher at once.
struct Tee<'a, W: Write> {
    hasher: MultiHasher,
    out: &'a mut W,
}

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.out.write(bytes)?;
        self.hasher.write_all(&bytes[..written])?;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
