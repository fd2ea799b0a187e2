//! regex: every match of `regex` on the page at `url` (the first group when there is one).

use super::{Context, Found, Release, SourceError, required};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let url = required(entry, "url")?;
    let pattern = compile(required(entry, "regex")?)?;
    let mut request = Request::get(url);
    if let Some(agent) = entry.str("user_agent") {
        request = request.header("User-Agent", agent);
    }
    let reply = ctx.http.send(&request).await?;
    let found = matches(&pattern, &decode(entry, &reply.body));
    if found.is_empty() && !entry.flag("missing_ok") {
        return Err(SourceError::Malformed(format!(
            "{url}: version string not found"
        )));
    }
    Ok(Found::Many(found))
}

/// A page as text. nvchecker decodes pages as latin1 unless `encoding` says otherwise: every
/// byte is one char.
pub fn decode(entry: &Entry, body: &[u8]) -> String {
    match entry.str("encoding") {
        Some(encoding) if !encoding.eq_ignore_ascii_case("latin1") => {
            String::from_utf8_lossy(body).into_owned()
        }
        _ => body.iter().map(|&byte| char::from(byte)).collect(),
    }
}

/// A pattern as Python's `re` would read it, or why Rust's regex cannot take it.
pub fn compile(pattern: &str) -> Result<regex::Regex, SourceError> {
    let regex = regex::Regex::new(pattern)
        .map_err(|e| SourceError::Config(format!("bad regex {pattern:?}: {e}")))?;
    if regex.captures_len() > 2 {
        return Err(SourceError::Config(format!(
            "regex {pattern:?} has more than one group"
        )));
    }
    Ok(regex)
}

/// `re.findall`: the group when there is one, else the whole match.
pub fn matches(regex: &regex::Regex, text: &str) -> Vec<Release> {
    regex
        .captures_iter(text)
        .filter_map(|caps| caps.get(if caps.len() > 1 { 1 } else { 0 }))
        .map(|m| Release::plain(m.as_str()))
        .collect()
}
