//! lilac's aliases (`--lilac-aliases FILE`): `alias: NAME` in a `lilac.yaml` stands for the
//! nvchecker entry of that name in lilac's `aliases.yaml` (`python: {source: alpm, alpm:
//! python, ...}`), as lilac itself expands it. The entry keeps `alias` as an extra key.

use std::path::Path;

use serde_json::{Map, Value};

use super::config::{ConfigError, Entry};

/// Entries by alias name.
pub type Aliases = Map<String, Value>;

/// Reads lilac's `aliases.yaml`: a mapping of names to nvchecker entries.
pub fn read(path: &Path) -> Result<Aliases, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let document: Value = serde_yaml_ng::from_str(&text).map_err(|source| ConfigError::Yaml {
        path: path.to_owned(),
        source,
    })?;
    match document {
        Value::Object(aliases) if aliases.values().all(Value::is_object) => Ok(aliases),
        _ => Err(ConfigError::Shape {
            path: path.to_owned(),
            message: "not a mapping of names to nvchecker entries".to_owned(),
        }),
    }
}

/// Replaces each `alias: NAME` entry (one without `source`) by its alias's entry; an alias not
/// in the table stays as it is, for `--plan` to name.
pub fn expand(entries: &mut [Entry], aliases: &Aliases) {
    for entry in entries {
        if entry.source() != "alias" {
            continue;
        }
        let Some(Value::String(name)) = entry.options.get("alias").cloned() else {
            continue;
        };
        if let Some(Value::Object(table)) = aliases.get(&name) {
            let mut options = table.clone();
            options.insert("alias".to_owned(), Value::String(name));
            entry.options = options.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_becomes_its_entry() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("aliases.yaml");
        std::fs::write(
            &path,
            "python:\n  source: alpm\n  alpm: python\n  from_pattern: '^(\\d+\\.\\d+)\\..*'\n  to_pattern: '\\1'\n",
        )
        .expect("writes");
        let aliases = read(&path).expect("reads");
        let entry = |alias: &str| Entry {
            name: "pkg:1".to_owned(),
            config: dir.path().join("lilac.yaml"),
            role: Some(minicluster::record::UpstreamRole::Trigger),
            options: [("alias".to_owned(), Value::from(alias))]
                .into_iter()
                .collect(),
        };
        let mut entries = vec![entry("python"), entry("perl")];
        expand(&mut entries, &aliases);
        assert_eq!(entries[0].source(), "alpm");
        assert_eq!(entries[0].str("alpm"), Some("python"));
        assert_eq!(entries[0].str("alias"), Some("python"));
        assert_eq!(
            entries[1].source(),
            "alias",
            "not in the table: left as it is"
        );
    }
}
