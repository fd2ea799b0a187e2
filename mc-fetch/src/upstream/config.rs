//! Reading nvchecker entries from the three places users keep them: an nvchecker TOML config
//! (with `[__config__]`), pkgctl's `.nvchecker.toml` beside a PKGBUILD, and lilac's
//! `lilac.yaml` (`update_on:`).

use std::path::{Path, PathBuf};

use minicluster::record::UpstreamRole;
use serde_json::{Map, Value};

use super::{fields::Fields, toml_parts};

/// One entry to check: a table of nvchecker's TOML, or an item of lilac's `update_on:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The entry's name: the table name; for lilac, the package base (`BASE:N` for triggers).
    pub name: String,
    /// The file it was read from.
    pub config: PathBuf,
    /// For a `lilac.yaml` entry: `version` (the first) or `trigger` (the others).
    pub role: Option<UpstreamRole>,
    /// The entry's keys as written (`source`, `github`, `prefix`, ...).
    pub options: Fields,
}

impl Entry {
    /// The source kind: `source`, else lilac's own `alias` kind when an `alias` key is there.
    pub fn source(&self) -> &str {
        match self.options.get("source").and_then(Value::as_str) {
            Some(source) => source,
            None if self.options.contains_key("alias") => "alias",
            None => "",
        }
    }

    /// A string option.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(Value::as_str)
    }

    /// A boolean option (nvchecker treats a missing one as false).
    pub fn flag(&self, key: &str) -> bool {
        self.options
            .get(key)
            .is_some_and(|value| value.as_bool().unwrap_or(false))
    }
}

/// `[__config__]` of an nvchecker config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The version file with the versions the user has.
    pub oldver: Option<PathBuf>,
    /// The version file this run writes.
    pub newver: Option<PathBuf>,
    /// A TOML file with `[keys]`: tokens by source (`github = "..."`).
    pub keyfile: Option<PathBuf>,
    /// Checks running at once (nvchecker's default: 20).
    pub max_concurrency: Option<usize>,
    /// Seconds before a request gives up (nvchecker's default: 20).
    pub http_timeout: Option<u64>,
    /// An HTTP proxy for every request.
    pub proxy: Option<String>,
    /// API base URLs from `[__config__.source.KIND]` (npm's `registry`).
    pub bases: std::collections::BTreeMap<String, String>,
}

/// A config file's entries and settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigFile {
    /// `[__config__]`, with relative paths resolved against the file's folder.
    pub settings: Settings,
    /// Every entry, in file order.
    pub entries: Vec<Entry>,
}

/// Why a config file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Box<toml::de::Error>,
    },
    /// The file is not valid YAML.
    #[error("{path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
    /// A part of the file does not have the shape nvchecker or lilac expects.
    #[error("{path}: {message}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads an nvchecker TOML config (the `--config` file, or pkgctl's `.nvchecker.toml`).
pub fn read_toml(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = read(path)?;
    let table = parse_toml(&text).map_err(|source| ConfigError::Toml {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    let mut file = ConfigFile::default();
    let base = path.parent().unwrap_or(Path::new("."));
    for (name, value) in table {
        let Value::Object(options) = toml_to_json(value) else {
            return Err(ConfigError::Shape {
                path: path.to_owned(),
                message: format!("{name:?} is not a table"),
            });
        };
        if name == "__config__" {
            file.settings = settings(&options, base);
            continue;
        }
        file.entries.push(Entry {
            name,
            config: path.to_owned(),
            role: None,
            options: options.into(),
        });
    }
    Ok(file)
}

/// A config's tables, parsed a part at a time ([`super::toml_parts`]). A part that does not
/// parse, or parts that do not merge, are a broken file: the whole text is parsed again for
/// the error, whose line numbers are then the file's.
fn parse_toml(text: &str) -> Result<toml::Table, toml::de::Error> {
    let mut table = toml::Table::new();
    for part in toml_parts::parts(text) {
        let merged = toml::from_str(part)
            .ok()
            .and_then(|part| toml_parts::merge(&mut table, part).ok());
        if merged.is_none() {
            return toml::from_str(text);
        }
    }
    Ok(table)
}

fn settings(options: &Map<String, Value>, base: &Path) -> Settings {
    // nvchecker resolves these paths against the config file's folder.
    let path = |key: &str| {
        let value = options.get(key)?.as_str()?;
        Some(base.join(expand_home(value)))
    };
    let number = |key: &str| options.get(key).and_then(Value::as_u64);
    Settings {
        oldver: path("oldver"),
        newver: path("newver"),
        keyfile: path("keyfile"),
        max_concurrency: number("max_concurrency").and_then(|n| usize::try_from(n).ok()),
        http_timeout: number("http_timeout"),
        proxy: options
            .get("proxy")
            .and_then(Value::as_str)
            .map(str::to_owned),
        bases: options
            .get("source")
            .and_then(|sources| sources.pointer("/npm/registry"))
            .and_then(Value::as_str)
            .map(|registry| ("npm".to_owned(), registry.to_owned()))
            .into_iter()
            .collect(),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Reads the `update_on:` list of a `lilac.yaml`; the package base is the folder's name. The
/// first item checks the package's own version; the others are rebuild triggers, named
/// `BASE:1`, `BASE:2`, ... as lilac names them.
pub fn read_lilac(path: &Path) -> Result<Vec<Entry>, ConfigError> {
    let text = read(path)?;
    let document: Value = serde_yaml_ng::from_str(&text).map_err(|source| ConfigError::Yaml {
        path: path.to_owned(),
        source,
    })?;
    let shape = |message: String| ConfigError::Shape {
        path: path.to_owned(),
        message,
    };
    let base = path
        .parent()
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .and_then(|dir| {
            dir.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .ok_or_else(|| shape("cannot tell the package base from the folder".to_owned()))?;
    let Some(items) = document.get("update_on") else {
        return Ok(Vec::new());
    };
    let items = items
        .as_array()
        .ok_or_else(|| shape("update_on is not a list".to_owned()))?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let options =
                item.as_object().cloned().map(Fields::from).ok_or_else(|| {
                    shape(format!("update_on item {} is not a mapping", index + 1))
                })?;
            Ok(Entry {
                name: if index == 0 {
                    base.clone()
                } else {
                    format!("{base}:{index}")
                },
                config: path.to_owned(),
                role: Some(if index == 0 {
                    UpstreamRole::Version
                } else {
                    UpstreamRole::Trigger
                }),
                options,
            })
        })
        .collect()
}

/// The entries of a package folder: its `.nvchecker.toml` and its `lilac.yaml`, both when both
/// are there. A folder with neither gives no entries.
pub fn read_package_dir(dir: &Path) -> Result<Vec<Entry>, ConfigError> {
    let mut entries = Vec::new();
    let toml = dir.join(".nvchecker.toml");
    if toml.is_file() {
        entries.extend(read_toml(&toml)?.entries);
    }
    let lilac = dir.join("lilac.yaml");
    if lilac.is_file() {
        entries.extend(read_lilac(&lilac)?);
    }
    Ok(entries)
}

/// Tokens by source kind from nvchecker's keyfile (`[keys]` table).
pub fn read_keyfile(path: &Path) -> Result<Map<String, Value>, ConfigError> {
    let text = read(path)?;
    let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Toml {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    match table.get("keys").cloned().map(toml_to_json) {
        Some(Value::Object(keys)) => Ok(keys),
        Some(_) => Err(ConfigError::Shape {
            path: path.to_owned(),
            message: "keys is not a table".to_owned(),
        }),
        None => Ok(Map::new()),
    }
}

fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(number) => Value::from(number),
        toml::Value::Float(number) => Value::from(number),
        toml::Value::Boolean(flag) => Value::Bool(flag),
        toml::Value::Datetime(time) => Value::String(time.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_with_config_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nv.toml");
        std::fs::write(
            &path,
            "[__config__]\noldver = \"old.json\"\nmax_concurrency = 5\n\n\
             [foo]\nsource = \"github\"\ngithub = \"a/b\"\nautobump = true\n",
        )
        .expect("write");
        let file = read_toml(&path).expect("read");
        assert_eq!(file.settings.oldver, Some(dir.path().join("old.json")));
        assert_eq!(file.settings.max_concurrency, Some(5));
        assert_eq!(file.entries.len(), 1);
        assert_eq!(file.entries[0].source(), "github");
        assert!(file.entries[0].flag("autobump"));
    }

    #[test]
    fn lilac_update_on_roles() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pkg = dir.path().join("python-foo");
        std::fs::create_dir(&pkg).expect("mkdir");
        let path = pkg.join("lilac.yaml");
        std::fs::write(
            &path,
            "maintainers:\n  - github: x\nupdate_on:\n  - source: pypi\n    pypi: foo\n  - alias: python\n",
        )
        .expect("write");
        let entries = read_lilac(&path).expect("read");
        assert_eq!(entries[0].name, "python-foo");
        assert_eq!(entries[0].role, Some(UpstreamRole::Version));
        assert_eq!(entries[1].name, "python-foo:1");
        assert_eq!(entries[1].source(), "alias");
    }
}
