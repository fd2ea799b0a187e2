//! manual: the version written in the entry.

use super::super::config::Entry;

/// The `manual` key, as text (TOML numbers too, as nvchecker's `str()` would give).
pub fn version(entry: &Entry) -> Result<String, String> {
    match entry.options.get("manual") {
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(serde_json::Value::Number(number)) => Ok(number.to_string()),
        _ => Err("source manual needs the key \"manual\"".to_owned()),
    }
}
