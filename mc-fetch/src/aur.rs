//! The AUR's RPC, version 5: package metadata by name (`info`) and by search (`search`).
//!
//! Answers are read into private mirror types that accept unknown fields and missing lists, then
//! turned into [`AurPackageRecord`]s. Anything that is not a well-formed v5 answer of the
//! expected type, however hostile, is an [`AnswerError`], never a panic.

use std::io::{self, Read};

use minicluster::{
    http::{FetchError, Http},
    record::{AurPackageRecord, Timestamp},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

pub use minicluster::aur::DEFAULT_AUR;

/// The longest `info` URL sent: aurweb's front end refuses much longer request lines.
pub const MAX_URL_CHARS: usize = 4000;

/// The largest answer read. aurweb caps an answer at 5,000 packages, about 10 MB.
const MAX_ANSWER_BYTES: u64 = 32 << 20;

/// Everything but `A-Z a-z 0-9 - . _ ~` is escaped, in query values and in the path segment of
/// a search term alike.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The fields `search --by` can look in; the names are aurweb's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchBy {
    /// Package names.
    Name,
    /// Package names and descriptions.
    #[default]
    NameDesc,
    /// The maintainer's user name.
    Maintainer,
    /// Run-time dependencies.
    Depends,
    /// Build-time dependencies.
    Makedepends,
    /// Optional dependencies.
    Optdepends,
    /// Test dependencies.
    Checkdepends,
    /// Provided names.
    Provides,
    /// Conflicts.
    Conflicts,
    /// Replaced packages.
    Replaces,
    /// Groups.
    Groups,
    /// The first submitter's user name.
    Submitter,
    /// Keywords.
    Keywords,
    /// Co-maintainers' user names.
    Comaintainers,
}

impl SearchBy {
    /// The value of the `by` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::NameDesc => "name-desc",
            Self::Maintainer => "maintainer",
            Self::Depends => "depends",
            Self::Makedepends => "makedepends",
            Self::Optdepends => "optdepends",
            Self::Checkdepends => "checkdepends",
            Self::Provides => "provides",
            Self::Conflicts => "conflicts",
            Self::Replaces => "replaces",
            Self::Groups => "groups",
            Self::Submitter => "submitter",
            Self::Keywords => "keywords",
            Self::Comaintainers => "comaintainers",
        }
    }
}

/// Why an RPC answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The AUR answered with an error envelope (`{"type":"error","error":...}`).
    #[error("the AUR answered with an error: {0}")]
    Aur(String),
    /// The body broke off.
    #[error("reading the answer: {0}")]
    Io(#[from] io::Error),
    /// The body is larger than any answer the AUR sends.
    #[error("the answer is larger than {} MiB", MAX_ANSWER_BYTES >> 20)]
    TooLarge,
    /// The body is not a v5 envelope with package results.
    #[error("not an AUR RPC answer: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The envelope is of another type than asked for.
    #[error("expected a {expected:?} answer, got {found:?}")]
    WrongType {
        /// The type asked for.
        expected: &'static str,
        /// The type answered.
        found: String,
    },
    /// `resultcount` disagrees with the results: the answer is cut or forged.
    #[error("resultcount says {claimed} but {actual} results came")]
    WrongCount {
        /// What `resultcount` said.
        claimed: u64,
        /// How many results there were.
        actual: usize,
    },
}

impl AnswerError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Aur(_) => "aur_error",
            Self::Io(_) => "download_failed",
            Self::TooLarge
            | Self::Malformed(_)
            | Self::WrongType { .. }
            | Self::WrongCount { .. } => "bad_aur_answer",
        }
    }
}

/// Why an RPC request failed.
pub type RpcError = FetchError<AnswerError>;

/// The error-record kind of a failed request.
pub fn error_kind(error: &RpcError) -> &'static str {
    error.kind(AnswerError::kind)
}

/// A failed request for people: as its `Display`, but with the URL cut short, since an `info`
/// URL can be 4,000 characters long.
pub fn describe(error: &RpcError) -> String {
    let (Some(url), cause) = (error.url(), error.cause()) else {
        return error.to_string();
    };
    match url.char_indices().nth(120) {
        Some((cut, _)) => format!("{}...: {cause}", &url[..cut]),
        None => format!("{url}: {cause}"),
    }
}

/// One `info` request: the names asked for and what the AUR answered.
#[derive(Debug)]
pub struct InfoBatch {
    /// The names asked for, in the order given.
    pub names: Vec<String>,
    /// The packages found, or why the request failed.
    pub result: Result<Vec<AurPackageRecord>, RpcError>,
}

impl InfoBatch {
    /// The names asked for that no result carries (aurweb compares names without case).
    pub fn missing(&self) -> Vec<&str> {
        let Ok(found) = &self.result else {
            return Vec::new();
        };
        self.names
            .iter()
            .filter(|name| !found.iter().any(|p| p.name.eq_ignore_ascii_case(name)))
            .map(String::as_str)
            .collect()
    }
}

/// An AUR RPC client.
#[derive(Clone, Debug)]
pub struct Aur {
    http: Http,
    base_url: String,
}

impl Aur {
    /// A client of the aurweb at `base_url` (`https://aur.archlinux.org`).
    pub fn new(http: Http, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Looks `names` up, one request per batch of names whose URL stays under
    /// [`MAX_URL_CHARS`]; duplicates are asked for once. Requests are made as the iterator is
    /// consumed.
    pub fn info<'a>(&'a self, names: &[String]) -> impl Iterator<Item = InfoBatch> + 'a {
        self.batches(names).into_iter().map(|names| {
            let url = self.info_url(&names);
            let result = self
                .http
                .fetch(&[url], |body| read_answer(body, "multiinfo"));
            InfoBatch { names, result }
        })
    }

    /// Searches `by` a field for `term`.
    pub fn search(&self, term: &str, by: SearchBy) -> Result<Vec<AurPackageRecord>, RpcError> {
        let url = format!(
            "{}/rpc/v5/search/{}?by={}",
            self.base_url,
            utf8_percent_encode(term, COMPONENT),
            by.as_str()
        );
        self.http.fetch(&[url], |body| read_answer(body, "search"))
    }

    /// `names` without duplicates, cut into runs whose `info` URL fits [`MAX_URL_CHARS`]; a
    /// name too long for any URL goes alone (and the AUR will say so).
    fn batches(&self, names: &[String]) -> Vec<Vec<String>> {
        let empty = self.info_url(&[]).len();
        let mut batches: Vec<Vec<String>> = Vec::new();
        let mut length = empty;
        let mut seen = std::collections::HashSet::new();
        for name in names.iter().filter(|name| seen.insert(name.as_str())) {
            let added = "arg[]=&".len() + utf8_percent_encode(name, COMPONENT).to_string().len();
            match batches.last_mut() {
                Some(batch) if length + added <= MAX_URL_CHARS => batch.push(name.clone()),
                _ => {
                    batches.push(vec![name.clone()]);
                    length = empty;
                }
            }
            length += added;
        }
        batches
    }

    fn info_url(&self, names: &[String]) -> String {
        let args: Vec<String> = names
            .iter()
            .map(|name| format!("arg[]={}", utf8_percent_encode(name, COMPONENT)))
            .collect();
        format!("{}/rpc/v5/info?{}", self.base_url, args.join("&"))
    }
}

/// Reads an answer of type `expected` (`multiinfo` or `search`), at most [`MAX_ANSWER_BYTES`].
fn read_answer(
    body: &mut dyn Read,
    expected: &'static str,
) -> Result<Vec<AurPackageRecord>, AnswerError> {
    let mut bytes = Vec::new();
    body.take(MAX_ANSWER_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ANSWER_BYTES {
        return Err(AnswerError::TooLarge);
    }
    parse_answer(&bytes, expected)
}

/// Parses an RPC answer of type `expected`.
pub fn parse_answer(
    bytes: &[u8],
    expected: &'static str,
) -> Result<Vec<AurPackageRecord>, AnswerError> {
    let envelope: Envelope = serde_json::from_slice(bytes)?;
    if envelope.kind == "error" {
        let message = envelope.error.unwrap_or_else(|| "(no message)".to_owned());
        return Err(AnswerError::Aur(message));
    }
    if envelope.kind != expected {
        return Err(AnswerError::WrongType {
            expected,
            found: envelope.kind,
        });
    }
    if envelope.resultcount != envelope.results.len() as u64 {
        return Err(AnswerError::WrongCount {
            claimed: envelope.resultcount,
            actual: envelope.results.len(),
        });
    }
    Ok(envelope.results.into_iter().map(Into::into).collect())
}

/// `{"version":5,"type":...,"resultcount":N,"results":[...]}`, or an error envelope.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    resultcount: u64,
    #[serde(default)]
    results: Vec<RpcPackage>,
}

/// One result, with aurweb's field names. `search` results carry no lists.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RpcPackage {
    name: String,
    package_base: String,
    version: String,
    description: Option<String>,
    #[serde(rename = "URL")]
    url: Option<String>,
    maintainer: Option<String>,
    submitter: Option<String>,
    #[serde(default)]
    co_maintainers: Vec<String>,
    #[serde(default)]
    num_votes: u64,
    #[serde(default)]
    popularity: f64,
    out_of_date: Option<i64>,
    first_submitted: Option<i64>,
    last_modified: Option<i64>,
    #[serde(rename = "URLPath")]
    url_path: Option<String>,
    #[serde(default)]
    depends: Vec<String>,
    #[serde(default)]
    make_depends: Vec<String>,
    #[serde(default)]
    check_depends: Vec<String>,
    #[serde(default)]
    opt_depends: Vec<String>,
    #[serde(default)]
    provides: Vec<String>,
    #[serde(default)]
    conflicts: Vec<String>,
    #[serde(default)]
    replaces: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    license: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
}

impl From<RpcPackage> for AurPackageRecord {
    fn from(package: RpcPackage) -> Self {
        Self {
            name: package.name,
            base: package.package_base,
            version: package.version,
            desc: package.description,
            url_upstream: package.url,
            maintainer: package.maintainer,
            submitter: package.submitter,
            co_maintainers: package.co_maintainers,
            votes: package.num_votes,
            popularity: package.popularity,
            out_of_date_at: package.out_of_date.map(Timestamp::from_unix),
            first_submitted_at: package.first_submitted.map(Timestamp::from_unix),
            last_modified_at: package.last_modified.map(Timestamp::from_unix),
            url_path: package.url_path,
            depends: package.depends,
            makedepends: package.make_depends,
            checkdepends: package.check_depends,
            optdepends: package.opt_depends,
            provides: package.provides,
            conflicts: package.conflicts,
            replaces: package.replaces,
            groups: package.groups,
            licenses: package.license,
            keywords: package.keywords,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use minicluster::http::RetryPolicy;

    use super::*;

    const INFO: &str = r#"{"version":5,"type":"multiinfo","resultcount":1,"results":[{
        "ID":1,"Name":"yay","PackageBaseID":2,"PackageBase":"yay","Version":"12.4.2-1",
        "Description":"helper","URL":"https://github.com/Jguer/yay","URLPath":"/cgit/aur.git/snapshot/yay.tar.gz",
        "NumVotes":2300,"Popularity":25.5,"OutOfDate":null,"Maintainer":"jguer","Submitter":"jguer",
        "FirstSubmitted":1475688004,"LastModified":1721000000,"Depends":["pacman>6.1","git"],
        "MakeDepends":["go>=1.21"],"License":["GPL-3.0-or-later"],"Keywords":["yay"],
        "CoMaintainers":["x"],"PendingRequests":0}]}"#;

    fn aur() -> Aur {
        let retry = RetryPolicy {
            attempts: 1,
            first_backoff: Duration::from_millis(1),
        };
        let http =
            Http::new(retry, Duration::from_secs(1), Duration::from_secs(1)).expect("client");
        Aur::new(http, "https://aur.example.org/")
    }

    #[test]
    fn info_fields_map_to_the_record() {
        let records = parse_answer(INFO.as_bytes(), "multiinfo").expect("valid answer");
        let yay = &records[0];
        assert_eq!((yay.name.as_str(), yay.base.as_str()), ("yay", "yay"));
        assert_eq!((yay.votes, yay.popularity), (2300, 25.5));
        assert_eq!(yay.makedepends, ["go>=1.21"]);
        assert_eq!(yay.licenses, ["GPL-3.0-or-later"]);
        assert_eq!(yay.co_maintainers, ["x"]);
        assert!(yay.checkdepends.is_empty() && yay.out_of_date_at.is_none());
        assert_eq!(
            yay.url_upstream.as_deref(),
            Some("https://github.com/Jguer/yay")
        );
    }

    #[test]
    fn errors_and_wrong_shapes_are_told_apart() {
        let error = br#"{"version":5,"type":"error","resultcount":0,"results":[],"error":"Query arg too small."}"#;
        assert!(
            matches!(parse_answer(error, "search"), Err(AnswerError::Aur(m)) if m == "Query arg too small.")
        );
        assert!(matches!(
            parse_answer(INFO.as_bytes(), "search"),
            Err(AnswerError::WrongType { .. })
        ));
        let forged = br#"{"type":"search","resultcount":99999999999999,"results":[]}"#;
        assert!(matches!(
            parse_answer(forged, "search"),
            Err(AnswerError::WrongCount { .. })
        ));
        for bad in [
            &b"<html>"[..],
            b"[]",
            b"{}",
            br#"{"type":"search","results":[{"Name":5}]}"#,
        ] {
            let error = parse_answer(bad, "search").expect_err("not an answer");
            assert_eq!(error.kind(), "bad_aur_answer", "{error}");
        }
    }

    /// Every prefix of a valid answer, and every byte of it replaced by a handful of others,
    /// parses or fails: nothing panics.
    #[test]
    fn mangled_answers_never_panic() {
        let bytes = INFO.as_bytes();
        for end in 0..bytes.len() {
            let _ = parse_answer(&bytes[..end], "multiinfo");
        }
        for at in 0..bytes.len() {
            for replacement in [b'"', b'{', b']', b'0', b'-', 0xff, b'\\', b'n'] {
                let mut mangled = bytes.to_vec();
                mangled[at] = replacement;
                let _ = parse_answer(&mangled, "multiinfo");
            }
        }
        let deep = "[".repeat(100_000);
        assert!(parse_answer(deep.as_bytes(), "multiinfo").is_err());
    }

    #[test]
    fn messages_cut_long_urls() {
        let url = format!(
            "https://aur.example.org/rpc/v5/info?{}",
            "arg[]=x&".repeat(400)
        );
        let error = FetchError::Content {
            url,
            source: AnswerError::TooLarge,
        };
        let message = describe(&error);
        assert!(message.len() < 200, "{message}");
        assert!(
            message.ends_with("...: the answer is larger than 32 MiB"),
            "{message}"
        );
    }

    #[test]
    fn info_urls_stay_short_and_escape_names() {
        let aur = aur();
        let names: Vec<String> = (0..1000)
            .map(|i| format!("python-package-{i:04}"))
            .collect();
        let batches = aur.batches(&names);
        assert!(batches.len() > 1);
        assert_eq!(batches.concat(), names, "every name once, in order");
        for batch in &batches {
            assert!(aur.info_url(batch).len() <= MAX_URL_CHARS);
        }
        assert!(
            aur.info_url(&batches[0]).len() > MAX_URL_CHARS - 40,
            "batches are full"
        );
        let twice = vec!["a+b".to_owned(), "a+b".to_owned(), "c@d".to_owned()];
        assert_eq!(
            aur.info_url(&aur.batches(&twice)[0]),
            "https://aur.example.org/rpc/v5/info?arg[]=a%2Bb&arg[]=c%40d"
        );
    }
}
