//! Bitbucket: the highest tag (`use_max_tag`) or the newest commit's date, from API 2.0.

use super::{Context, Found, Release, SourceError, forge, malformed, required, text};
use crate::upstream::{config::Entry, http::Request};

pub fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "bitbucket")?;
    let api = ctx.base("bitbucket", "https://bitbucket.org");
    if entry.flag("use_max_tag") {
        let url = format!("{api}/api/2.0/repositories/{repo}/refs/tags?pagelen=100");
        let tags = forge::all_pages(ctx, Request::get(&url))?;
        return Ok(Found::Many(
            tags.iter()
                .filter_map(|tag| {
                    let name = text(tag, "name")?;
                    Some(Release {
                        version: name.to_owned(),
                        gitref: Some(format!("refs/tags/{name}")),
                        revision: tag
                            .pointer("/target/hash")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned),
                        url: None,
                    })
                })
                .collect(),
        ));
    }
    let branch = entry.str("branch").unwrap_or("master");
    let url = format!("{api}/api/2.0/repositories/{repo}/commits/{branch}");
    let (_, data) = ctx
        .http
        .json(&Request::get(&url))
        .map_err(SourceError::Malformed)?;
    let commit = data
        .pointer("/values/0")
        .ok_or_else(|| malformed(&url, "commit"))?;
    let date = text(commit, "date").ok_or_else(|| malformed(&url, "commit date"))?;
    Ok(Found::One(Release {
        version: date.split('T').next().unwrap_or(date).replace('-', ""),
        revision: text(commit, "hash").map(str::to_owned),
        url: None,
        gitref: None,
    }))
}
