//! Sources that read one field of one JSON document: archpkg (archlinux.org's package search),
//! cpan (MetaCPAN), go (the module proxy's `@latest`).

use super::{Context, Found, Release, SourceError, malformed, required, text};
use crate::upstream::{config::Entry, http::Request};

pub async fn archpkg(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let name = entry.str("archpkg").unwrap_or(&entry.name);
    let base = ctx.base("archpkg", "https://archlinux.org");
    let url = format!("{base}/packages/search/json/?name={name}");
    let (_, data) = ctx.http.json(&Request::get(&url)).await?;
    let package = data
        .pointer("/results/0")
        .ok_or_else(|| malformed(&url, "package"))?;
    let pkgver = text(package, "pkgver").ok_or_else(|| malformed(&url, "pkgver"))?;
    let version = match (entry.flag("strip_release"), text(package, "pkgrel")) {
        (false, Some(pkgrel)) => format!("{pkgver}-{pkgrel}"),
        _ => pkgver.to_owned(),
    };
    let version = match package.get("epoch").and_then(|e| e.as_u64()) {
        Some(epoch) if epoch > 0 => format!("{epoch}:{version}"),
        _ => version,
    };
    Ok(Found::One(Release::plain(version)))
}

pub async fn cpan(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let name = entry.str("cpan").unwrap_or(&entry.name);
    let base = ctx.base("cpan", "https://fastapi.metacpan.org");
    let url = format!("{base}/v1/release/{name}");
    let (_, data) = ctx.http.json(&Request::get(&url)).await?;
    let version = data
        .get("version")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .ok_or_else(|| malformed(&url, "version"))?;
    Ok(Found::One(Release {
        version,
        url: Some(format!("https://metacpan.org/release/{name}")),
        ..Release::default()
    }))
}

pub async fn go(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let module = required(entry, "go")?;
    let base = ctx.base("go", "https://proxy.golang.org");
    // The proxy's path escaping: an upper-case letter becomes `!` and its lower case.
    let escaped: String = module
        .chars()
        .flat_map(|c| match c.is_ascii_uppercase() {
            true => vec!['!', c.to_ascii_lowercase()],
            false => vec![c],
        })
        .collect();
    let url = format!("{base}/{escaped}/@latest");
    let (_, data) = ctx.http.json(&Request::get(&url)).await?;
    let version = text(&data, "Version").ok_or_else(|| malformed(&url, "Version"))?;
    Ok(Found::One(Release::plain(version)))
}
