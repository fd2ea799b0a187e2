//! GitHub: the latest release, the highest tag or release (`use_max_tag`, `use_max_release`),
//! or the newest commit of a branch, from the REST API (`host` for GitHub Enterprise). Lists
//! are read to their last page (nvchecker reads only the first).

use serde_json::Value;

use super::{
    Context, Found, Release, SourceError,
    forge::{self, CommitShape},
    malformed, required, text,
};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "github")?;
    let host = entry.str("host").unwrap_or("github.com");
    let default = format!("https://api.{host}");
    // An entry's own host wins over the --api default, as it names another GitHub.
    let api = if entry.str("host").is_some() {
        default
    } else {
        ctx.base("github", &default)
    };
    let mut request =
        Request::get("").header("Accept", "application/vnd.github.quicksilver-preview+json");
    if let Some(token) = ctx.token(entry, "github") {
        request = request.header("Authorization", format!("token {token}"));
    }
    let with_pre = entry.flag("include_prereleases");
    if entry.flag("use_latest_release") && !with_pre {
        let url = format!("{api}/repos/{repo}/releases/latest");
        let data = forge::get(ctx, request.at(&url)).await?;
        return release(entry, &data)
            .map(Found::One)
            .ok_or_else(|| malformed(&url, "release"));
    }
    if entry.flag("use_max_tag") {
        let url = format!("{api}/repos/{repo}/git/refs/tags?per_page=100");
        let refs = forge::all_pages(ctx, request.at(&url)).await?;
        let tags: Vec<Release> = refs
            .iter()
            .filter_map(|item| {
                let gitref = text(item, "ref")?;
                let version = gitref.splitn(3, '/').nth(2)?;
                Some(Release {
                    version: version.to_owned(),
                    url: Some(format!("https://{host}/{repo}/releases/tag/{version}")),
                    revision: item
                        .pointer("/object/sha")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    gitref: Some(gitref.to_owned()),
                })
            })
            .collect();
        if tags.is_empty() {
            return Err(SourceError::Malformed(format!("{url}: no tag found")));
        }
        return Ok(Found::Many(tags));
    }
    if entry.flag("use_max_release") || entry.flag("use_latest_release") {
        let url = format!("{api}/repos/{repo}/releases?per_page=100");
        let items = forge::all_pages(ctx, request.at(&url)).await?;
        let flag =
            |item: &Value, key: &str| item.get(key).and_then(Value::as_bool).unwrap_or(false);
        let mut releases = items
            .iter()
            .filter(|item| (with_pre || !flag(item, "prerelease")) && !flag(item, "draft"))
            .filter_map(|item| release(entry, item))
            .peekable();
        if releases.peek().is_none() {
            return Err(SourceError::Malformed(format!("{url}: no release found")));
        }
        // With include_prereleases, use_latest_release means the newest: GitHub lists it first.
        return Ok(if entry.flag("use_latest_release") {
            Found::One(releases.next().expect("peeked"))
        } else {
            Found::Many(releases.collect())
        });
    }
    let mut url = format!("{api}/repos/{repo}/commits?per_page=1");
    if let Some(branch) = entry.str("branch") {
        url.push_str(&format!("&sha={branch}"));
    }
    if let Some(path) = entry.str("path") {
        url.push_str(&format!("&path={path}"));
    }
    let data = forge::get(ctx, request.at(&url)).await?;
    let shape = CommitShape {
        date: "/commit/committer/date",
        revision: "/sha",
        page: "/html_url",
        with_time: true,
    };
    Ok(Found::One(forge::commit(&url, data.get(0), &shape)?))
}

/// A release object's version: its tag, or its name with `use_release_name`.
fn release(entry: &Entry, item: &Value) -> Option<Release> {
    let tag = text(item, "tag_name")?;
    let name = entry
        .flag("use_release_name")
        .then(|| text(item, "name"))
        .flatten();
    Some(Release {
        version: name.unwrap_or(tag).to_owned(),
        url: text(item, "html_url").map(str::to_owned),
        gitref: Some(format!("refs/tags/{tag}")),
        revision: None,
    })
}
