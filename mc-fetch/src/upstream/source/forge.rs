//! What the forge APIs (GitHub, GitLab, Gitea, Bitbucket) share: JSON lists split over pages
//! that `Link: <...>; rel="next"` headers chain together.

use serde_json::Value;

use super::{Context, Release, SourceError, malformed};
use crate::upstream::http::Request;

/// No tag list needs more pages than this; a server that links on forever is cut off here.
const MAX_PAGES: usize = 100;

/// Every item of a paged JSON list, following `rel="next"` links.
pub async fn all_pages(ctx: &Context, first: Request<'_>) -> Result<Vec<Value>, SourceError> {
    let mut items = Vec::new();
    let mut url = first.url.to_owned();
    for _ in 0..MAX_PAGES {
        let request = first.at(&url);
        let (reply, value) = ctx.http.json(&request).await?;
        match value {
            Value::Array(page) => items.extend(page),
            // Bitbucket wraps its pages: {"values": [...], "next": URL}.
            Value::Object(mut page) => {
                if let Some(Value::Array(values)) = page.remove("values") {
                    items.extend(values);
                }
                match page.get("next").and_then(Value::as_str) {
                    Some(next) => {
                        url = next.to_owned();
                        continue;
                    }
                    None => return Ok(items),
                }
            }
            _ => return Err(SourceError::Malformed(format!("{url}: not a JSON list"))),
        }
        // A relative link is relative to the page it came with.
        let next = reply.header("link").and_then(next_link).and_then(|next| {
            let base = reqwest::Url::parse(&url).ok()?;
            base.join(&next).ok().map(String::from)
        });
        match next {
            Some(next) => url = next,
            None => return Ok(items),
        }
    }
    Ok(items)
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

/// GETs one JSON document; a body that is not JSON is a malformed reply.
pub async fn get(ctx: &Context, request: Request<'_>) -> Result<Value, SourceError> {
    ctx.http
        .json(&request)
        .await
        .map(|(_, value)| value)
        .map_err(SourceError::from)
}

/// Tags of a forge's tag list: each item's `name`, its commit at `revision` (a JSON
/// pointer), and its page from `page`.
pub fn tags(
    items: &[Value],
    revision: &str,
    page: impl Fn(&str) -> Option<String>,
) -> Vec<Release> {
    items
        .iter()
        .filter_map(|tag| {
            let name = tag.get("name")?.as_str()?;
            Some(Release {
                version: name.to_owned(),
                gitref: Some(format!("refs/tags/{name}")),
                revision: tag
                    .pointer(revision)
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                url: page(name),
            })
        })
        .collect()
}

/// Where a forge's commit JSON keeps what the version is made of (JSON pointers).
pub struct CommitShape {
    /// The commit time.
    pub date: &'static str,
    /// The commit hash.
    pub revision: &'static str,
    /// The commit's page.
    pub page: &'static str,
    /// GitHub's versions carry the time of day (`YYYYMMDD.HHMMSS`), the others only the day.
    pub with_time: bool,
}

/// The version nvchecker makes of a forge's newest commit: its date.
pub fn commit(
    url: &str,
    commit: Option<&Value>,
    shape: &CommitShape,
) -> Result<Release, SourceError> {
    let commit = commit.ok_or_else(|| malformed(url, "commit"))?;
    let date = commit
        .pointer(shape.date)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(url, "commit date"))?;
    let field = |pointer: &str| {
        commit
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(Release {
        version: if shape.with_time {
            date_version(date)
        } else {
            date.split('T').next().unwrap_or(date).replace('-', "")
        },
        revision: field(shape.revision),
        url: field(shape.page),
        gitref: None,
    })
}

/// nvchecker's version for a commit date: `2024-01-02T03:04:05Z` → `20240102.030405`.
pub fn date_version(date: &str) -> String {
    date.trim_end_matches('Z')
        .replace(['-', ':'], "")
        .replace('T', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header() {
        let header = "<https://x/tags?page=2>; rel=\"next\", <https://x/tags?page=5>; rel=\"last\"";
        assert_eq!(next_link(header).as_deref(), Some("https://x/tags?page=2"));
        assert_eq!(next_link("<https://x/1>; rel=\"prev\""), None);
    }

    #[test]
    fn commit_date() {
        assert_eq!(date_version("2024-01-02T03:04:05Z"), "20240102.030405");
    }
}
