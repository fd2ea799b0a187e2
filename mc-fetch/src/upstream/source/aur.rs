//! aur: a package's version from the AUR's RPC v5, asked for every aur entry at once in
//! batches of 100 names (the RPC's documented limit) before the checks start.

use std::collections::HashMap;

use serde_json::Value;

use super::{Context, Found, Release, SourceError, text};
use crate::upstream::{
    config::Entry,
    http::{Http, Request},
};

/// Names per RPC request.
const BATCH: usize = 100;

/// The RPC's answers, by package name: the package, `None` when the AUR does not know it, or
/// why its batch failed.
#[derive(Debug, Default)]
pub struct AurBatch {
    answers: HashMap<String, Result<Option<Value>, String>>,
}

impl AurBatch {
    /// Asks the RPC at `base` about every name.
    pub async fn ask(http: &Http, base: &str, names: &[String]) -> Self {
        let mut answers = HashMap::new();
        let mut names: Vec<&String> = names.iter().collect();
        names.sort();
        names.dedup();
        for batch in names.chunks(BATCH) {
            let mut url = format!("{}/rpc/?v=5&type=info", base.trim_end_matches('/'));
            for name in batch {
                url.push_str("&arg[]=");
                url.extend(percent_encoding::utf8_percent_encode(
                    name,
                    percent_encoding::NON_ALPHANUMERIC,
                ));
            }
            match http.json(&Request::get(&url)).await {
                Ok((_, data)) => {
                    let mut found: HashMap<String, Value> = data
                        .get("results")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|r| Some((text(r, "Name")?.to_owned(), r.clone())))
                        .collect();
                    for name in batch {
                        answers.insert((*name).clone(), Ok(found.remove(name.as_str())));
                    }
                }
                Err(error) => {
                    for name in batch {
                        answers.insert((*name).clone(), Err(error.to_string()));
                    }
                }
            }
        }
        Self { answers }
    }

    /// The AUR name an entry asks about.
    pub fn name(entry: &Entry) -> &str {
        entry.str("aur").unwrap_or(&entry.name)
    }
}

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let name = AurBatch::name(entry);
    let package = match ctx.aur.answers.get(name) {
        Some(Ok(Some(package))) => package,
        Some(Ok(None)) => {
            return Err(SourceError::Malformed(format!(
                "the AUR has no package {name}"
            )));
        }
        Some(Err(error)) => return Err(SourceError::Malformed(error.clone())),
        None => return Err(SourceError::Malformed(format!("{name} was not asked"))),
    };
    let version = text(package, "Version")
        .ok_or_else(|| SourceError::Malformed(format!("AUR package {name} has no Version")))?;
    let version = if entry.flag("strip_release") {
        version
            .rsplit_once('-')
            .map_or(version, |(pkgver, _)| pkgver)
    } else {
        version
    };
    Ok(Found::One(Release {
        version: version.to_owned(),
        url: Some(format!("https://aur.archlinux.org/packages/{name}")),
        ..Release::default()
    }))
}
