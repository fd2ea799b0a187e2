//! GitHub: the latest release, the highest tag or release (`use_max_tag`, `use_max_release`),
//! or the newest commit of a branch, from the REST API (`host` for GitHub Enterprise).

use serde_json::Value;

use super::{Context, Found, Release, SourceError, forge, malformed, required, text};
use crate::upstream::{config::Entry, http::Request};

pub fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "github")?;
    let host = entry.str("host").unwrap_or("github.com");
    let default = format!("https://api.{host}");
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
    let web = |tag: &str| format!("https://{host}/{repo}/releases/tag/{tag}");
    if entry.flag("use_latest_release") && !entry.flag("include_prereleases") {
        let url = format!("{api}/repos/{repo}/releases/latest");
        let (_, data) = ctx
            .http
            .json(&Request {
                url: &url,
                ..request
            })
            .map_err(SourceError::Malformed)?;
        let tag = text(&data, "tag_name").ok_or_else(|| malformed(&url, "release"))?;
        let version = release_version(entry, &data).unwrap_or(tag);
        return Ok(Found::One(Release {
            version: version.to_owned(),
            url: text(&data, "html_url").map(str::to_owned),
            gitref: Some(format!("refs/tags/{tag}")),
            revision: None,
        }));
    }
    if entry.flag("use_max_tag") {
        let url = format!("{api}/repos/{repo}/git/refs/tags?per_page=100");
        let refs = forge::all_pages(
            ctx,
            Request {
                url: &url,
                ..request
            },
        )?;
        let tags: Vec<Release> = refs
            .iter()
            .filter_map(|item| {
                let gitref = text(item, "ref")?;
                let version = gitref.splitn(3, '/').nth(2)?;
                Some(Release {
                    version: version.to_owned(),
                    url: Some(web(version)),
                    revision: item
                        .get("object")
                        .and_then(|o| text(o, "sha"))
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
        let releases = forge::all_pages(
            ctx,
            Request {
                url: &url,
                ..request
            },
        )?;
        let with_pre = entry.flag("include_prereleases");
        let found: Vec<Release> = releases
            .iter()
            .filter(|item| {
                with_pre
                    || !item
                        .get("prerelease")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
            })
            .filter(|item| !item.get("draft").and_then(Value::as_bool).unwrap_or(false))
            .filter_map(|item| {
                let tag = text(item, "tag_name")?;
                Some(Release {
                    version: release_version(entry, item).unwrap_or(tag).to_owned(),
                    url: text(item, "html_url").map(str::to_owned),
                    gitref: Some(format!("refs/tags/{tag}")),
                    revision: None,
                })
            })
            .collect();
        if found.is_empty() {
            return Err(SourceError::Malformed(format!("{url}: no release found")));
        }
        // With include_prereleases, use_latest_release means the newest: GitHub lists it first.
        return Ok(if entry.flag("use_latest_release") {
            Found::One(found.into_iter().next().expect("not empty"))
        } else {
            Found::Many(found)
        });
    }
    let mut url = format!("{api}/repos/{repo}/commits?per_page=1");
    if let Some(branch) = entry.str("branch") {
        url.push_str(&format!("&sha={branch}"));
    }
    if let Some(path) = entry.str("path") {
        url.push_str(&format!("&path={path}"));
    }
    let (_, data) = ctx
        .http
        .json(&Request {
            url: &url,
            ..request
        })
        .map_err(SourceError::Malformed)?;
    let commit = data.get(0).ok_or_else(|| malformed(&url, "commit"))?;
    let date = commit
        .pointer("/commit/committer/date")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(&url, "commit date"))?;
    Ok(Found::One(Release {
        version: forge::date_version(date),
        revision: text(commit, "sha").map(str::to_owned),
        url: text(commit, "html_url").map(str::to_owned),
        gitref: None,
    }))
}

fn release_version<'a>(entry: &Entry, release: &'a Value) -> Option<&'a str> {
    entry
        .flag("use_release_name")
        .then(|| text(release, "name"))
        .flatten()
}
