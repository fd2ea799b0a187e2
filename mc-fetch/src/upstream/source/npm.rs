//! npm: the `latest` dist-tag of a package's registry document.

use super::{Context, Found, Release, SourceError, malformed, text};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let package = entry.str("npm").unwrap_or(&entry.name);
    let url = format!(
        "{}/{package}",
        ctx.base("npm", "https://registry.npmjs.org")
    );
    let request = Request::get(&url).header("Accept", "application/vnd.npm.install-v1+json");
    let (_, data) = ctx.http.json(&request).await?;
    let latest = data
        .get("dist-tags")
        .and_then(|tags| text(tags, "latest"))
        .ok_or_else(|| malformed(&url, "dist-tags.latest"))?;
    Ok(Found::One(Release {
        version: latest.to_owned(),
        url: Some(format!(
            "https://www.npmjs.com/package/{package}/v/{latest}"
        )),
        ..Release::default()
    }))
}
