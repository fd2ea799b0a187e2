//! pypi: every release of a project on PyPI's JSON API that is not yanked, and not a
//! pre-release unless `use_pre_release`.

use super::{Context, Found, Release, SourceError, malformed};
use crate::upstream::{
    config::Entry,
    http::Request,
    version::{VersionKey, parse_version},
};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let project = entry.str("pypi").unwrap_or(&entry.name);
    let url = format!(
        "{}/pypi/{project}/json",
        ctx.base("pypi", "https://pypi.org")
    );
    let (_, data) = ctx.http.json(&Request::get(&url)).await?;
    let releases = data
        .get("releases")
        .and_then(|r| r.as_object())
        .ok_or_else(|| malformed(&url, "releases"))?;
    let with_pre = entry.flag("use_pre_release");
    Ok(Found::Many(
        releases
            .iter()
            .filter(|(_, files)| {
                !files
                    .pointer("/0/yanked")
                    .and_then(|y| y.as_bool())
                    .unwrap_or(false)
            })
            .filter(|(version, _)| match parse_version(version) {
                VersionKey::Pep440(key) => with_pre || !key.is_prerelease(),
                VersionKey::Legacy(_) => false,
            })
            .map(|(version, _)| Release {
                version: version.clone(),
                url: Some(format!("https://pypi.org/project/{project}/{version}/")),
                ..Release::default()
            })
            .collect(),
    ))
}
