//! httpheader: `regex` on a response header (`Location` by default) of `url`.

use super::{Context, Found, SourceError, regex, required};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let url = required(entry, "url")?;
    let pattern = regex::compile(required(entry, "regex")?)?;
    let name = entry.str("header").unwrap_or("Location");
    let request = Request {
        url,
        head: entry
            .str("method")
            .is_none_or(|m| m.eq_ignore_ascii_case("HEAD")),
        follow_redirects: entry.flag("follow_redirects"),
        headers: Vec::new(),
    };
    let reply = ctx.http.send(&request).await?;
    let value = reply
        .header(name)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            SourceError::Malformed(format!("{url}: header {name} not found or empty"))
        })?;
    Ok(Found::Many(regex::matches(&pattern, value)))
}
