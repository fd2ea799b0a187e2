//! cratesio: every version of a crate that is not yanked and is semver, without pre-releases
//! unless `use_pre_release`.

use std::sync::LazyLock;

use super::{Context, Found, Release, SourceError, malformed, text};
use crate::upstream::{config::Entry, http::Request};

static SEMVER: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$",
    )
    .expect("the semver pattern compiles")
});

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let name = entry.str("cratesio").unwrap_or(&entry.name);
    let url = format!(
        "{}/api/v1/crates/{name}",
        ctx.base("cratesio", "https://crates.io")
    );
    let (_, data) = ctx.http.json(&Request::get(&url)).await?;
    let versions = data
        .get("versions")
        .and_then(|v| v.as_array())
        .ok_or_else(|| malformed(&url, "versions"))?;
    let with_pre = entry.flag("use_pre_release");
    Ok(Found::Many(
        versions
            .iter()
            .filter(|v| !v.get("yanked").and_then(|y| y.as_bool()).unwrap_or(false))
            .filter_map(|v| text(v, "num"))
            .filter(|num| {
                SEMVER
                    .captures(num)
                    .is_some_and(|caps| with_pre || caps.name("pre").is_none())
            })
            .map(|num| Release {
                version: num.to_owned(),
                url: Some(format!("https://crates.io/crates/{name}/{num}")),
                ..Release::default()
            })
            .collect(),
    ))
}
