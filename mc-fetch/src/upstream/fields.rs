//! [`Fields`]: the few keys of one entry (its options) or of one version (a version file's
//! item), kept small. A run holds one of each per entry at once; as a `serde_json::Map` (a
//! BTreeMap) even one key costs a ~600-byte node, which at 5,000 entries was most of a run's
//! memory.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Keys and their values, sorted by key, each key once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(Box<[(String, Value)]>);

impl Fields {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let index = self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        self.0.get(index).map(|(_, value)| value)
    }

    /// Whether `key` is there.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every key and value, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(key, value)| (key, value))
    }
}

impl FromIterator<(String, Value)> for Fields {
    /// A later value of a key replaces an earlier one, as a map's insert does.
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(items: I) -> Self {
        let mut items: Vec<(String, Value)> = items.into_iter().collect();
        items.reverse();
        // Stable: of equal keys, the last given comes first and is the one dedup keeps.
        items.sort_by(|(a, _), (b, _)| a.cmp(b));
        items.dedup_by(|(later, _), (kept, _)| later == kept);
        Self(items.into_boxed_slice())
    }
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Self {
        map.into_iter().collect()
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_last_value_wins_and_serialized_as_a_map() {
        let fields: Fields = [
            ("version".to_owned(), Value::from("1")),
            ("url".to_owned(), Value::from("u")),
            ("version".to_owned(), Value::from("2")),
        ]
        .into_iter()
        .collect();
        assert_eq!(fields.get("version"), Some(&Value::from("2")));
        assert!(fields.contains_key("url") && !fields.contains_key("gitref"));
        let text = serde_json::to_string(&fields).expect("serializes");
        assert_eq!(text, r#"{"url":"u","version":"2"}"#);
        assert_eq!(
            serde_json::from_str::<Fields>(&text).expect("parses"),
            fields
        );
    }
}
