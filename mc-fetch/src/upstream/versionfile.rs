//! nvchecker's version files (oldver, newver): format 2 is
//! `{"version": 2, "data": {NAME: {"version": ..., "url": ..., ...}}}`, keys sorted, indented
//! by two; format 1 (`{NAME: VERSION}`) is read too. Written whole or not at all.

use std::{collections::BTreeMap, path::Path};

use serde_json::Value;

use super::fields::Fields;

/// Every entry's last recorded version and what came with it.
pub type Versions = BTreeMap<String, Fields>;

/// Why a version file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum VersionFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a version file.
    #[error("{path}: not an nvchecker version file: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads a version file; a missing file holds no versions (the first run).
pub fn read(path: &Path) -> Result<Versions, VersionFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Versions::new()),
        Err(source) => {
            return Err(VersionFileError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let format = |message: String| VersionFileError::Format {
        path: path.display().to_string(),
        message,
    };
    if text.trim().is_empty() {
        return Ok(Versions::new());
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    let Value::Object(mut top) = value else {
        return Err(format("not a JSON object".to_owned()));
    };
    match top.get("version").and_then(Value::as_u64) {
        Some(2) => match top.remove("data") {
            Some(Value::Object(data)) => Ok(data
                .into_iter()
                .filter_map(|(name, entry)| match entry {
                    Value::Object(fields) => Some((name, fields.into())),
                    _ => None,
                })
                .collect()),
            _ => Err(format("no data object".to_owned())),
        },
        Some(other) => Err(format(format!("format version {other}"))),
        // Format 1: a flat map of names to versions.
        None => Ok(top
            .into_iter()
            .filter_map(|(name, version)| {
                let version = version.as_str()?.to_owned();
                let fields = [("version".to_owned(), Value::String(version))];
                Some((name, fields.into_iter().collect()))
            })
            .collect()),
    }
}

/// The version recorded for `name`.
pub fn version_of<'a>(versions: &'a Versions, name: &str) -> Option<&'a str> {
    versions.get(name)?.get("version")?.as_str()
}

/// Writes `versions` in format 2, sorted, through a temp file renamed into place.
pub fn write(path: &Path, versions: &Versions) -> Result<(), VersionFileError> {
    /// The file's top level, keys in sorted order; serialized straight from `versions`.
    #[derive(serde::Serialize)]
    struct Document<'a> {
        data: &'a Versions,
        version: u8,
    }
    let document = Document {
        data: versions,
        version: 2,
    };
    super::write_atomic_with(path, true, |out| {
        serde_json::to_writer_pretty(&mut *out, &document).map_err(std::io::Error::from)?;
        out.write_all(b"\n")
    })
    .map_err(|source| VersionFileError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_format_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.json");
        let mut versions = Versions::new();
        let fields: Fields = [("version".to_owned(), Value::from("1.2"))]
            .into_iter()
            .collect();
        versions.insert("b".to_owned(), fields.clone());
        versions.insert("a".to_owned(), fields);
        write(&path, &versions).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.find("\"a\"") < text.find("\"b\""));
        assert_eq!(read(&path).expect("read"), versions);
        std::fs::write(&path, r#"{"a": "1.0"}"#).expect("write");
        assert_eq!(version_of(&read(&path).expect("read"), "a"), Some("1.0"));
        assert!(
            read(&dir.path().join("missing"))
                .expect("missing")
                .is_empty()
        );
    }
}
