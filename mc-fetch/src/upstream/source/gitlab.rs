//! GitLab: the highest tag (`use_max_tag`) or the newest commit's date, from API v4.

use super::{Context, Found, Release, SourceError, forge, malformed, required, text};
use crate::upstream::{config::Entry, http::Request};

pub fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "gitlab")?;
    let host = entry.str("host").unwrap_or("gitlab.com");
    let api = ctx.base("gitlab", &format!("https://{host}"));
    let project = percent_encoding::utf8_percent_encode(repo, percent_encoding::NON_ALPHANUMERIC);
    let mut request = Request::get("");
    let key = format!("gitlab_{}", host.to_lowercase());
    if let Some(token) = ctx
        .token(entry, &key)
        .or_else(|| ctx.token(entry, &host.to_lowercase()))
    {
        request = request.header("PRIVATE-TOKEN", token);
    }
    if entry.flag("use_max_tag") {
        let url = format!("{api}/api/v4/projects/{project}/repository/tags?per_page=100");
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
                            .pointer("/commit/id")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned),
                        url: Some(format!("https://{host}/{repo}/-/tags/{name}")),
                    })
                })
                .collect(),
        ));
    }
    let mut url = format!("{api}/api/v4/projects/{project}/repository/commits");
    if let Some(branch) = entry.str("branch") {
        url.push_str(&format!("?ref_name={branch}"));
    }
    let (_, data) = ctx
        .http
        .json(&Request {
            url: &url,
            ..request
        })
        .map_err(SourceError::Malformed)?;
    let commit = data.get(0).ok_or_else(|| malformed(&url, "commit"))?;
    let date = text(commit, "created_at").ok_or_else(|| malformed(&url, "commit date"))?;
    Ok(Found::One(Release {
        version: date.split('T').next().unwrap_or(date).replace('-', ""),
        revision: text(commit, "id").map(str::to_owned),
        url: text(commit, "web_url").map(str::to_owned),
        gitref: None,
    }))
}
