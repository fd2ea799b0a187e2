//! Fetching each planned source into the cache while hashing it, and judging the result.
//!
//! Nothing is unpacked and nothing from the package is run: a source is a stream of bytes that
//! goes through every declared checksum on its way to the cache. Detached signatures are checked
//! against the keyring and the PKGBUILD's `validpgpkeys` once their data is in.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use minicluster::{
    http::Http,
    record::{FindingRecord, Severity, SourceRecord, Verdict},
};

use crate::{
    cache::{self, BaseDir, Cache},
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

/// A finding about one source, before it is tied to the package base and the source's URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Note {
    pub check: &'static str,
    pub severity: Severity,
    pub message: String,
}

impl Note {
    pub(crate) fn new(check: &'static str, severity: Severity, message: String) -> Self {
        Self {
            check,
            severity,
            message,
        }
    }
}

impl Outcome {
    /// Records `note` as a finding about `source` of `base`.
    pub(crate) fn note(&mut self, base: &str, source: &PlannedSource, note: Note) {
        let message = format!("{}: {}", source.file, note.message);
        let subject = Some(source.location.as_str());
        self.finding(base, note.check, note.severity, message, subject);
    }
}

/// What to do with a source once the plan has been read.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Mirror it with git ([`Fetcher::check_git`]).
    Git,
    /// Fetch its bytes and compare its checksums.
    Fetch,
    /// Nothing more: the source's verdict.
    Stop(Verdict),
}

/// The algorithms with a checksum declared (not `SKIP`).
fn declared(source: &PlannedSource) -> Vec<&str> {
    source
        .expected
        .iter()
        .filter(|(_, sum)| sum.is_some())
        .map(|(algo, _)| algo.as_str())
        .collect()
}

/// Whether every checksum declared is `SKIP`.
fn all_skipped(source: &PlannedSource) -> bool {
    !source.expected.is_empty() && declared(source).is_empty()
}

/// What the plan alone says about a source (the name is known to be plain): findings, and
/// whether to fetch it.
fn before_fetch(plan: &Plan, source: &PlannedSource) -> (Vec<Note>, Next) {
    if source.kind == "git" {
        return (Vec::new(), Next::Git);
    }
    if source.is_vcs() {
        let message = format!("a {} source; its revision is not checked yet", source.kind);
        return (
            vec![Note::new("vcs-source", Severity::Info, message)],
            Next::Stop(Verdict::Unverified),
        );
    }
    match source.kind.as_str() {
        "file" => {
            let message = "a file:// URL reads the builder's own files".to_owned();
            return (
                vec![Note::new("hostile-source", Severity::Error, message)],
                Next::Stop(Verdict::Unreachable),
            );
        }
        "ftp" => {
            let message = "ftp sources are not fetched; it was not checked".to_owned();
            return (
                vec![Note::new(
                    "unsupported-protocol",
                    Severity::Warning,
                    message,
                )],
                Next::Stop(Verdict::Unverified),
            );
        }
        _ => {}
    }
    let mut notes = Vec::new();
    if all_skipped(source) && !source.is_signature() {
        let message = "checksum SKIP on a source with fixed content".to_owned();
        notes.push(Note::new("skip-non-vcs", Severity::Warning, message));
    }
    let declared = declared(source);
    if !declared.is_empty() && declared.iter().all(|algo| matches!(*algo, "md5" | "sha1")) {
        let message = format!("only {} checksums, which can be forged", declared.join("/"));
        notes.push(Note::new("weak-checksums", Severity::Warning, message));
    }
    if source.kind == "http" && !source.is_signature() && !signed(plan, source) {
        let message =
            "fetched over http without a signature: anyone on the path can change it".to_owned();
        notes.push(Note::new("insecure-unsigned", Severity::Warning, message));
    }
    (notes, Next::Fetch)
}

/// The verdict on a fetched source with `checksums`, and a finding when they do not match.
fn after_fetch(
    source: &PlannedSource,
    checksums: &BTreeMap<String, String>,
) -> (Verdict, Option<Note>) {
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
    if !mismatched.is_empty() {
        let message = format!("{} checksum does not match", mismatched.join(", "));
        return (
            Verdict::Mismatch,
            Some(Note::new("checksum-mismatch", Severity::Error, message)),
        );
    }
    let verdict = match (declared(source).is_empty(), all_skipped(source)) {
        (false, _) => Verdict::Ok,
        (true, true) => Verdict::Skipped,
        (true, false) => Verdict::Unverified,
    };
    (verdict, None)
}

/// The sources whose declared file names are not one plain path component, with why: such a
/// name would put the download (or its deletion) outside the cache.
fn unsafe_names(plan: &Plan) -> Vec<(usize, &'static str)> {
    plan.sources
        .iter()
        .enumerate()
        .filter_map(|(index, source)| Some((index, cache::plain_name(&source.file)?)))
        .collect()
}

impl Fetcher<'_> {
    /// Fetches and checks every source of `plan` (from the PKGBUILD folder `folder`). When a
    /// source declares a file name that is not one plain name, nothing is fetched.
    pub fn check(&self, folder: &Path, plan: &Plan) -> Outcome {
        let mut outcome = Outcome::default();
        let base = plan.base.as_str();
        let refused = unsafe_names(plan);
        let cache = if refused.is_empty() {
            Cache::open(&self.cache)
                .and_then(|cache| cache.base(base))
                .map_err(|e| format!("the source cache {}: {e}", self.cache.display()))
        } else {
            Err(String::new())
        };
        for (index, source) in plan.sources.iter().enumerate() {
            let mut record = SourceRecord {
                base: base.to_owned(),
                file: source.file.clone(),
                url: source.location.clone(),
                kind: source.kind.clone(),
                verdict: Verdict::Unverified,
                ..SourceRecord::default()
            };
            if let Some((_, reason)) = refused.iter().find(|(at, _)| *at == index) {
                let message = format!(
                    "{reason} ({}): nothing of this package was fetched",
                    source.file.escape_debug()
                );
                let subject = Some(source.location.as_str());
                outcome.finding(base, "hostile-source", Severity::Error, message, subject);
                record.verdict = Verdict::Unreachable;
            } else if refused.is_empty() {
                self.check_source(
                    folder,
                    plan,
                    source,
                    cache.as_ref(),
                    &mut record,
                    &mut outcome,
                );
            }
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
        cache: Result<&BaseDir, &String>,
        record: &mut SourceRecord,
        outcome: &mut Outcome,
    ) {
        let base = plan.base.as_str();
        let (notes, next) = before_fetch(plan, source);
        for note in notes {
            outcome.note(base, source, note);
        }
        let cache = match (next, cache) {
            (Next::Stop(verdict), _) => {
                verdict.clone_into(&mut record.verdict);
                return;
            }
            (_, Err(message)) if source.kind != "local" => {
                let note = Note::new("source-unreachable", Severity::Error, message.clone());
                outcome.note(base, source, note);
                record.verdict = Verdict::Unreachable;
                return;
            }
            (Next::Git, Ok(cache)) => return self.check_git(plan, source, cache, record, outcome),
            (_, cache) => cache.ok(),
        };
        let algorithms: Vec<&str> = source
            .expected
            .keys()
            .map(String::as_str)
            .chain(["sha256"])
            .collect();
        match self.fetch(folder, cache, source, &algorithms) {
            Err(failure) => {
                let check = match failure {
                    FetchFailure::Refused(_) => "hostile-source",
                    _ => "source-unreachable",
                };
                outcome.note(
                    base,
                    source,
                    Note::new(check, Severity::Error, failure.to_string()),
                );
                record.verdict = Verdict::Unreachable;
            }
            Ok((path, size, checksums)) => {
                let (verdict, note) = after_fetch(source, &checksums);
                if let Some(note) = note {
                    outcome.note(base, source, note);
                    // A cached download that does not match is dropped, so the next run
                    // fetches it again; a file beside the PKGBUILD is the user's.
                    if let (Some(cache), false) = (cache, source.kind == "local") {
                        let _ = cache.remove(&source.file);
                    }
                }
                record.path = Some(path.display().to_string());
                record.size_bytes = Some(size);
                verdict.clone_into(&mut record.verdict);
                record.checksums = checksums;
            }
        }
    }

    /// Gets the source's bytes through `hasher`: from beside the PKGBUILD, from the cache, or
    /// downloaded into the cache.
    fn fetch(
        &self,
        folder: &Path,
        cache: Option<&BaseDir>,
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
            let file = minicluster::file::open_regular(&path)
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
        let Some(cache) = cache else {
            return Err(FetchFailure::Unreachable("no source cache".to_owned()));
        };
        let name = source.file.as_str();
        let path = cache.path_of(name);
        let unreachable = |e: io::Error| FetchFailure::Unreachable(e.to_string());
        if let Some(cached) = cache.open_file(name).map_err(unreachable)? {
            self.copy_limited(cached, &mut hasher)?;
            let size = hasher.bytes();
            return Ok((path, size, hasher.finish()));
        }
        let temp = cache.temp(name).map_err(unreachable)?;
        let urls = [source.location.clone()];
        let fetched = self.http.fetch(&urls, |body| {
            let mut out = temp.file();
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
            // The finding's subject is the URL: the message need not say it again.
            other => FetchFailure::Unreachable(other.cause()),
        })?;
        let size = downloaded.bytes();
        temp.persist(name).map_err(unreachable)?;
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
