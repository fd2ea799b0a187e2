//! One module per nvchecker source kind. Each says what it will ask (for `--plan`) and asks it.

mod alpm;
mod aur;
mod bitbucket;
mod cmd;
mod cratesio;
mod forge;
mod git;
mod gitea;
mod github;
mod gitlab;
mod htmlparser;
mod httpheader;
mod jq;
mod manual;
mod npm;
mod pypi;
mod regex;
mod simple_json;

use std::collections::BTreeMap;

use serde_json::Value;

pub use alpm::AlpmBatch;
pub use aur::AurBatch;

use super::{config::Entry, http::Http};

/// A version a source offers, with what it knows about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Release {
    /// The version as the source gives it (before `prefix` and `from_pattern`).
    pub version: String,
    /// A page about it.
    pub url: Option<String>,
    /// The commit.
    pub revision: Option<String>,
    /// The git ref.
    pub gitref: Option<String>,
}

impl Release {
    /// A bare version.
    pub fn plain(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            ..Self::default()
        }
    }
}

/// What a source answered: the one version it chose, or every candidate for the list options
/// (`include_regex`, `ignored`, sort) to choose from.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// The source chose.
    One(Release),
    /// The list options choose.
    Many(Vec<Release>),
}

/// Why a source failed; the message names the cause, the record names entry and source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An HTTP request failed.
    #[error(transparent)]
    Http(#[from] super::http::HttpError),
    /// The entry lacks a key the source needs, or has a bad one.
    #[error("{0}")]
    Config(String),
    /// The upstream answered something the source cannot read.
    #[error("{0}")]
    Malformed(String),
    /// A command (git, cmd) failed.
    #[error("{0}")]
    Command(String),
}

impl SourceError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(error) => error.kind(),
            Self::Config(_) => "bad_entry",
            Self::Malformed(_) => "malformed_reply",
            Self::Command(_) => "command_failed",
        }
    }
}

/// What every source may use.
pub struct Context {
    /// The HTTP client.
    pub http: Http,
    /// API base URLs by source kind (`github` → `https://api.github.com`), from --api and env.
    pub bases: BTreeMap<String, String>,
    /// Tokens by source kind, from the keyfile.
    pub keys: serde_json::Map<String, Value>,
    /// Whether `cmd` entries may run.
    pub allow_cmd: bool,
    /// Seconds a command (git, cmd) may take.
    pub command_timeout: std::time::Duration,
    /// The AUR's answers, asked in batches before the checks start.
    pub aur: AurBatch,
    /// The packages alpm and alpmfiles entries ask about, read before the checks start.
    pub alpm: AlpmBatch,
}

impl Context {
    /// The base URL for `source`: --api/env, else `default`.
    pub fn base(&self, source: &str, default: &str) -> String {
        self.bases
            .get(source)
            .map_or(default, String::as_str)
            .trim_end_matches('/')
            .to_owned()
    }

    /// A token: the entry's `token`, else the keyfile's key named `key`.
    pub fn token(&self, entry: &Entry, key: &str) -> Option<String> {
        entry
            .str("token")
            .or_else(|| self.keys.get(key).and_then(Value::as_str))
            .map(str::to_owned)
    }
}

/// The keys every source reads (nvchecker's common options); `extra` on a record leaves them out.
pub const COMMON_KEYS: &[&str] = &[
    "source",
    "prefix",
    "from_pattern",
    "to_pattern",
    "include_regex",
    "exclude_regex",
    "ignored",
    "missing_ok",
    "sort_version_key",
    "proxy",
    "user_agent",
    "tries",
    "httptoken",
    "verify_cert",
    "token",
];

/// How an entry of this kind is checked: a line for `--plan` (what will be asked), or why it
/// cannot be. `Err` carries the reason.
pub fn plan(entry: &Entry, allow_cmd: bool) -> Result<String, String> {
    let required = |key: &str| {
        entry
            .str(key)
            .map(str::to_owned)
            .ok_or_else(|| format!("source {} needs the key {key:?}", entry.source()))
    };
    let or_name = |key: &str| entry.str(key).unwrap_or(&entry.name).to_owned();
    match entry.source() {
        "github" => Ok(format!("GitHub API for {}", required("github")?)),
        "gitlab" => Ok(format!("GitLab API for {}", required("gitlab")?)),
        "gitea" => Ok(format!("Gitea API for {}", required("gitea")?)),
        "bitbucket" => Ok(format!("Bitbucket API for {}", required("bitbucket")?)),
        "git" => Ok(format!("git ls-remote {}", required("git")?)),
        "regex" => {
            required("regex")?;
            Ok(format!("regex on {}", required("url")?))
        }
        "httpheader" => Ok(format!("headers of {}", required("url")?)),
        "htmlparser" => {
            required("xpath")?;
            Ok(format!("XPath on {}", required("url")?))
        }
        "jq" => Ok(format!(
            "jq filter {:?} on {}",
            entry.str("filter").unwrap_or("."),
            required("url")?
        )),
        "alpm" => Ok(format!(
            "pacman sync database in {} for {}",
            entry.str("dbpath").unwrap_or("/var/lib/pacman"),
            or_name("alpm")
        )),
        "alpmfiles" => {
            required("filename")?;
            Ok(format!(
                "pacman files database in {} for {}",
                entry.str("dbpath").unwrap_or("/var/lib/pacman"),
                required("pkgname")?
            ))
        }
        "pypi" => Ok(format!("PyPI JSON of {}", or_name("pypi"))),
        "npm" => Ok(format!("npm registry document of {}", or_name("npm"))),
        "cratesio" => Ok(format!("crates.io API for {}", or_name("cratesio"))),
        "aur" => Ok(format!("AUR RPC v5 info for {}", or_name("aur"))),
        "archpkg" => Ok(format!(
            "archlinux.org package search for {}",
            or_name("archpkg")
        )),
        "cpan" => Ok(format!("MetaCPAN release of {}", or_name("cpan"))),
        "go" => Ok(format!("Go module proxy for {}", required("go")?)),
        "manual" => Ok(format!("manual version {}", manual::version(entry)?)),
        "cmd" if allow_cmd => Ok(format!("runs sh -c {:?}", required("cmd")?)),
        "cmd" => Err(format!(
            "source cmd runs a shell command ({:?}): only with --allow-cmd",
            entry.str("cmd").unwrap_or("")
        )),
        "alias" => Err(format!(
            "lilac alias {:?}: not in lilac's table of well-known entries (give its \
             aliases.yaml with --lilac-aliases)",
            entry.str("alias").unwrap_or("")
        )),
        "vcs" | "alpm-lilac" => Err(format!(
            "source {} is lilac's own, not nvchecker's; mc-fetch upstream does not check it",
            entry.source()
        )),
        "" => Err("the entry has no source".to_owned()),
        other => Err(format!(
            "nvchecker source {other} is not implemented by mc-fetch upstream"
        )),
    }
}

/// Asks the entry's source.
pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    match entry.source() {
        "github" => github::check(ctx, entry).await,
        "gitlab" => gitlab::check(ctx, entry).await,
        "gitea" => gitea::check(ctx, entry).await,
        "bitbucket" => bitbucket::check(ctx, entry).await,
        "git" => git::check(ctx, entry).await,
        "regex" => regex::check(ctx, entry).await,
        "httpheader" => httpheader::check(ctx, entry).await,
        "htmlparser" => htmlparser::check(ctx, entry).await,
        "jq" => jq::check(ctx, entry).await,
        "alpm" => alpm::check(ctx, entry),
        "alpmfiles" => alpm::check_files(ctx, entry),
        "pypi" => pypi::check(ctx, entry).await,
        "npm" => npm::check(ctx, entry).await,
        "cratesio" => cratesio::check(ctx, entry).await,
        "aur" => aur::check(ctx, entry).await,
        "archpkg" => simple_json::archpkg(ctx, entry).await,
        "cpan" => simple_json::cpan(ctx, entry).await,
        "go" => simple_json::go(ctx, entry).await,
        "manual" => manual::version(entry)
            .map(|version| Found::One(Release::plain(version)))
            .map_err(SourceError::Config),
        "cmd" if ctx.allow_cmd => cmd::check(ctx, entry).await,
        _ => Err(SourceError::Config(
            plan(entry, ctx.allow_cmd)
                .err()
                .unwrap_or_else(|| "unsupported source".to_owned()),
        )),
    }
}

/// A key that must be there.
fn required<'a>(entry: &'a Entry, key: &str) -> Result<&'a str, SourceError> {
    entry
        .str(key)
        .ok_or_else(|| SourceError::Config(format!("needs the key {key:?}")))
}

/// `field` of a JSON object as text.
fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

/// The error for an answer without what a source looks for.
fn malformed(url: &str, what: &str) -> SourceError {
    SourceError::Malformed(format!("{url}: no {what} in the reply"))
}
