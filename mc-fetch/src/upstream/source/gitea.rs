//! Gitea and Forgejo (Codeberg): the highest tag, the latest release, or the newest commit.

use super::{
    Context, Found, Release, SourceError,
    forge::{self, CommitShape},
    malformed, required, text,
};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "gitea")?;
    let host = entry.str("host").unwrap_or("gitea.com");
    let api = ctx.base("gitea", &format!("https://{host}"));
    let mut request = Request::get("");
    if let Some(token) = ctx.token(entry, &host.to_lowercase()) {
        request = request.header("Authorization", format!("token {token}"));
    }
    if entry.flag("use_max_tag") {
        let url = format!("{api}/api/v1/repos/{repo}/tags");
        let items = forge::all_pages(ctx, request.at(&url)).await?;
        let page = |name: &str| Some(format!("https://{host}/{repo}/releases/tag/{name}"));
        return Ok(Found::Many(forge::tags(&items, "/commit/sha", page)));
    }
    if entry.flag("use_latest_release") {
        let url = format!("{api}/api/v1/repos/{repo}/releases");
        let data = forge::get(ctx, request.at(&url)).await?;
        let release = data.get(0).ok_or_else(|| malformed(&url, "release"))?;
        let tag = text(release, "tag_name").ok_or_else(|| malformed(&url, "tag_name"))?;
        return Ok(Found::One(Release {
            version: tag.to_owned(),
            gitref: Some(format!("refs/tags/{tag}")),
            url: text(release, "html_url").map(str::to_owned),
            revision: None,
        }));
    }
    let mut url = format!("{api}/api/v1/repos/{repo}/commits");
    if let Some(branch) = entry.str("branch") {
        url.push_str(&format!("?sha={branch}"));
    }
    let data = forge::get(ctx, request.at(&url)).await?;
    let shape = CommitShape {
        date: "/commit/committer/date",
        revision: "/sha",
        page: "/html_url",
        with_time: false,
    };
    Ok(Found::One(forge::commit(&url, data.get(0), &shape)?))
}
