//! Bitbucket: the highest tag (`use_max_tag`) or the newest commit's date, from API 2.0.

use super::{
    Context, Found, SourceError,
    forge::{self, CommitShape},
    required,
};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let repo = required(entry, "bitbucket")?;
    let api = ctx.base("bitbucket", "https://bitbucket.org");
    if entry.flag("use_max_tag") {
        let url = format!("{api}/api/2.0/repositories/{repo}/refs/tags?pagelen=100");
        let items = forge::all_pages(ctx, Request::get(&url)).await?;
        return Ok(Found::Many(forge::tags(&items, "/target/hash", |_| None)));
    }
    let branch = entry.str("branch").unwrap_or("master");
    let url = format!("{api}/api/2.0/repositories/{repo}/commits/{branch}");
    let data = forge::get(ctx, Request::get(&url)).await?;
    let shape = CommitShape {
        date: "/date",
        revision: "/hash",
        page: "/links/html/href",
        with_time: false,
    };
    Ok(Found::One(forge::commit(
        &url,
        data.pointer("/values/0"),
        &shape,
    )?))
}
