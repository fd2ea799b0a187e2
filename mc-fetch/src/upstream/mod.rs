//! `mc-fetch upstream`: which packages have a newer upstream release, nvchecker-compatible.
//!
//! Entries come from nvchecker TOML configs, pkgctl's `.nvchecker.toml` and lilac's
//! `lilac.yaml` ([`config`]); each source kind is a module of [`source`]; versions sort as
//! nvchecker sorts them ([`version`]) after its common options ([`options`]); results go into
//! nvchecker's version files ([`versionfile`]). Requests share one client with per-host limits,
//! a conditional-request cache, retries and rate-limit handling ([`http`]).

pub mod aliases;
pub mod cache;
pub mod check;
pub mod config;
pub mod fields;
pub mod guess;
pub mod http;
pub mod options;
pub mod run;
pub mod source;
pub mod toml_parts;
pub mod version;
pub mod versionfile;

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use minicluster::record::UpstreamPlanRecord;

use self::config::{ConfigError, Entry, Settings};

/// Where entries come from and how to check them.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// An nvchecker TOML config (`--config`).
    pub config: Option<PathBuf>,
    /// Package folders with `.nvchecker.toml` or `lilac.yaml`.
    pub dirs: Vec<PathBuf>,
    /// Only these entries (all when empty).
    pub only: Vec<String>,
    /// Let `cmd` entries run their shell command.
    pub allow_cmd: bool,
    /// API base URLs by source kind, overriding the defaults.
    pub bases: BTreeMap<String, String>,
    /// Requests at once per host.
    pub per_host: usize,
    /// Attempts per request.
    pub attempts: u32,
    /// The longest rate-limit wait before a check fails instead.
    pub max_rate_limit_wait: Duration,
    /// Where the conditional-request cache lives; `None` for none.
    pub cache_dir: Option<PathBuf>,
    /// How long a kept answer is used without asking (zero with `--refresh`).
    pub max_age: Duration,
    /// lilac's `aliases.yaml`, to expand `alias:` entries.
    pub lilac_aliases: Option<PathBuf>,
}

/// The entries to check and the settings of the `--config` file.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// `[__config__]` of `--config`.
    pub settings: Settings,
    /// Every entry, `--config`'s first, then each folder's.
    pub entries: Vec<Entry>,
}

/// Reads `--config` and every package folder, keeping only `--entry` names when given.
pub fn load(options: &Options) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded::default();
    if let Some(path) = &options.config {
        let file = config::read_toml(path)?;
        loaded.settings = file.settings;
        loaded.entries = file.entries;
    }
    for dir in &options.dirs {
        loaded.entries.extend(config::read_package_dir(dir)?);
    }
    if let Some(path) = &options.lilac_aliases {
        aliases::expand(&mut loaded.entries, &aliases::read(path)?);
    }
    if !options.only.is_empty() {
        loaded
            .entries
            .retain(|entry| options.only.contains(&entry.name));
    }
    Ok(loaded)
}

/// How each entry will be checked, without any network.
pub fn plan(entries: &[Entry], allow_cmd: bool) -> Vec<UpstreamPlanRecord> {
    entries
        .iter()
        .map(|entry| {
            let (supported, reason) = match source::plan(entry, allow_cmd) {
                Ok(how) => (true, how),
                Err(why) => (false, why),
            };
            UpstreamPlanRecord {
                name: entry.name.clone(),
                source: entry.source().to_owned(),
                config: entry.config.display().to_string(),
                role: entry.role,
                supported,
                reason,
            }
        })
        .collect()
}

// Moved to minicluster (mc-gen writes atomically too); the old paths still work.
pub use minicluster::file::{write_atomic, write_atomic_with};
