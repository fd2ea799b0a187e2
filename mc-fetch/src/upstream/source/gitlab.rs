//! GitLab: the highest tag (`use_max_tag`) or the newest commit's date, from API v4.

use super::{
    Context, Found, SourceError,
    forge::{self, CommitShape},
    required,
};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
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
        let items = forge::all_pages(ctx, request.at(&url)).await?;
        let page = |name: &str| Some(format!("https://{host}/{repo}/-/tags/{name}"));
        return Ok(Found::Many(forge::tags(&items, "/commit/id", page)));
    }
    let mut url = format!("{api}/api/v4/projects/{project}/repository/commits");
    if let Some(branch) = entry.str("branch") {
        url.push_str(&format!("?ref_name={branch}"));
    }
    let data = forge::get(ctx, request.at(&url)).await?;
    let shape = CommitShape {
        date: "/created_at",
        revision: "/id",
        page: "/web_url",
        with_time: false,
    };
    Ok(Found::One(forge::commit(&url, data.get(0), &shape)?))
}
