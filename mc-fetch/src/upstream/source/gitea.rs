//! Gitea and Forgejo (Codeberg): the highest tag, the latest release, or the newest commit.

use super::{Context, Found, Release, SourceError, forge, malformed, required, text};
use crate::upstream::{config::Entry, http::Request};

pub fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "gitea")?;
    let host = entry.str("host").unwrap_or("gitea.com");
    let api = ctx.base("gitea", &format!("https://{host}"));
    let mut request = Request::get("");
    if let Some(token) = ctx.token(entry, &host.to_lowercase()) {
        request = request.header("Authorization", format!("token {token}"));
    }
    if entry.flag("use_max_tag") {
        let url = format!("{api}/api/v1/repos/{repo}/tags");
        let tags = forge::all_pages(
            ctx,
            Request {
                url: &url,
                ..request
            },
        )?;
        return Ok(Found::Many(
            tags.iter()
                .filter_map(|tag| {
                    let name = text(tag, "name")?;
                    Some(Release {
                        version: name.to_owned(),
                        gitref: Some(format!("refs/tags/{name}")),
                        revision: tag
                            .pointer("/commit/sha")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned),
                        url: Some(format!("https://{host}/{repo}/releases/tag/{name}")),
                    })
                })
                .collect(),
        ));
    }
    let releases = entry.flag("use_latest_release");
    let mut url = if releases {
        format!("{api}/api/v1/repos/{repo}/releases")
    } else {
        format!("{api}/api/v1/repos/{repo}/commits")
    };
    if let (false, Some(branch)) = (releases, entry.str("branch")) {
        url.push_str(&format!("?sha={branch}"));
    }
    let (_, data) = ctx
        .http
        .json(&Request {
            url: &url,
            ..request
        })
        .map_err(SourceError::Malformed)?;
    let first = data
        .get(0)
        .ok_or_else(|| malformed(&url, if releases { "release" } else { "commit" }))?;
    if releases {
        let tag = text(first, "tag_name").ok_or_else(|| malformed(&url, "tag_name"))?;
        return Ok(Found::One(Release {
            version: tag.to_owned(),
            gitref: Some(format!("refs/tags/{tag}")),
            url: text(first, "html_url").map(str::to_owned),
            revision: None,
        }));
    }
    let date = first
        .pointer("/commit/committer/date")
        .and_then(|v| v.as_str())
        .ok_or_else(|| malformed(&url, "commit date"))?;
    Ok(Found::One(Release {
        version: date.split('T').next().unwrap_or(date).replace('-', ""),
        revision: text(first, "sha").map(str::to_owned),
        url: text(first, "html_url").map(str::to_owned),
        gitref: None,
    }))
}
