//! Appliance definitions: TOML data naming the image recipe, the machines, the client port
//! and URL, and each phase's steps. Built in (`catalog/*.toml`, compiled in) and from a user's
//! folder (`--catalog DIR`, one `APP.toml` per application, which may also replace a built-in
//! one): "develop your own appliances".

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// The built-in definitions: name and TOML text.
const BUILT_IN: &[(&str, &str)] = &[("postgresql", include_str!("../catalog/postgresql.toml"))];

/// The built-in image recipes the definitions name: name and TOML text.
const RECIPES: &[(&str, &str)] = &[(
    "debian-postgresql",
    include_str!("../../mc-vm/recipes/debian-postgresql.toml"),
)];

/// What went wrong with a definition.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No application of that name.
    #[error("unknown app {name:?}: the catalogue has {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// A definition could not be read.
    #[error("{path}: {message}")]
    Bad {
        /// The file (or `built-in NAME`).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Where a phase's step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum On {
    /// The primary (the first role).
    Primary,
    /// Every machine but the primary.
    Replicas,
    /// Every machine.
    All,
}

/// One step of a phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its name in records.
    pub step: String,
    /// Which machines.
    pub on: On,
    /// The shell command (bash, with pipefail), with placeholders.
    pub run: String,
}

/// A limit on one of the metrics the `monitor` phase prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// The alert's name in records.
    pub name: String,
    /// The metric.
    pub metric: String,
    /// The alert is raised when the metric is above this.
    pub above: f64,
}

/// An application's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Its name (`postgresql`).
    pub name: String,
    /// One line for `--help` and `show`.
    pub summary: String,
    /// The image recipe: a built-in recipe's name, or a file beside the definition.
    pub image: String,
    /// Memory per machine in MiB.
    pub memory_mib: u64,
    /// The application's port in the guest, forwarded from the host for clients.
    pub port: u16,
    /// The client URL, with `{password}` and `{port}` (the host port).
    pub url: String,
    /// The roles: the first is the primary's, the second every other machine's.
    pub roles: Vec<String>,
    /// The guest file backups and restores are staged in.
    pub file: String,
    /// The package `upgrade` and `downgrade` change.
    #[serde(default)]
    pub package: Option<String>,
    /// The steps of each phase, by phase name.
    pub phase: BTreeMap<String, Vec<Step>>,
    /// The limits `monitor` raises an alert past.
    #[serde(default)]
    pub alert: Vec<Alert>,
    /// The folder the definition was read from (for its image recipe); built-in: none.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

/// The commands and the phases each needs: an app offers a command when it has them all.
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("up", &["up"]),
    ("check-health", &["check-health"]),
    ("backup", &["backup", "backup-done"]),
    ("restore", &["restore"]),
    ("fail-over", &["probe", "fence", "promote", "rejoin"]),
    (
        "upgrade",
        &["installed-version", "change-version", "rollback"],
    ),
    (
        "downgrade",
        &["installed-version", "change-version", "rollback"],
    ),
    ("monitor", &["monitor"]),
    ("cleanup", &["cleanup"]),
];

impl App {
    /// The steps of `phase` (none when the app has no such phase).
    pub fn steps(&self, phase: &str) -> &[Step] {
        self.phase.get(phase).map_or(&[], Vec::as_slice)
    }

    /// The commands this app offers.
    pub fn offers(&self) -> Vec<&'static str> {
        COMMANDS
            .iter()
            .filter(|(_, phases)| phases.iter().all(|p| self.phase.contains_key(*p)))
            .map(|(command, _)| *command)
            .collect()
    }

    /// The image recipe: its name (for the image cache folder) and TOML text.
    pub fn recipe(&self) -> Result<(String, String), CatalogError> {
        if let Some((name, text)) = RECIPES.iter().find(|(name, _)| *name == self.image) {
            return Ok(((*name).to_owned(), (*text).to_owned()));
        }
        let dir = self.dir.clone().unwrap_or_default();
        let path = dir.join(&self.image);
        let text = std::fs::read_to_string(&path).map_err(|error| CatalogError::Bad {
            path: path.display().to_string(),
            message: format!("image recipe: {error}"),
        })?;
        let name = path
            .file_stem()
            .map_or_else(|| self.name.clone(), |s| s.to_string_lossy().into_owned());
        Ok((name, text))
    }

    fn parse(text: &str, path: &str, dir: Option<&Path>) -> Result<Self, CatalogError> {
        let bad = |message: String| CatalogError::Bad {
            path: path.to_owned(),
            message,
        };
        let mut app: Self = toml::from_str(text).map_err(|error| bad(error.to_string()))?;
        if app.roles.len() != 2 {
            return Err(bad(
                "roles: give two, the primary's and the others'".to_owned()
            ));
        }
        if !app.phase.contains_key("up") {
            return Err(bad("no [[phase.up]] steps".to_owned()));
        }
        app.dir = dir.map(Path::to_owned);
        Ok(app)
    }
}

/// The catalogue: the built-in definitions, then those of `dir` (which replace built-in ones of
/// the same name).
pub fn load(dir: Option<&Path>) -> Result<BTreeMap<String, App>, CatalogError> {
    let mut apps = BTreeMap::new();
    for (name, text) in BUILT_IN {
        let app = App::parse(text, &format!("built-in {name}"), None)?;
        apps.insert(app.name.clone(), app);
    }
    let Some(dir) = dir else {
        return Ok(apps);
    };
    let entries = std::fs::read_dir(dir).map_err(|error| CatalogError::Bad {
        path: dir.display().to_string(),
        message: error.to_string(),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|error| CatalogError::Bad {
            path: shown.clone(),
            message: error.to_string(),
        })?;
        // A recipe beside the definitions is no definition.
        if toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("base")) {
            continue;
        }
        let app = App::parse(&text, &shown, Some(dir))?;
        apps.insert(app.name.clone(), app);
    }
    Ok(apps)
}

/// The app `name` of the catalogue.
pub fn find(apps: &BTreeMap<String, App>, name: &str) -> Result<App, CatalogError> {
    apps.get(name)
        .cloned()
        .ok_or_else(|| CatalogError::Unknown {
            name: name.to_owned(),
            known: apps.keys().cloned().collect(),
        })
}

/// `--help`'s list: each built-in app and the commands it offers.
pub fn help() -> String {
    let mut text = String::from(
        "Apps and the commands they offer (besides define, up, down, status, show):\n",
    );
    if let Ok(apps) = load(None) {
        for app in apps.values() {
            let offered: Vec<&str> = app.offers().into_iter().filter(|c| *c != "up").collect();
            text.push_str(&format!(
                "  {}: {}\n    {}\n",
                app.name,
                app.summary,
                offered.join(", ")
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_postgresql_offers_its_commands_and_names_a_built_in_recipe() {
        let apps = load(None).expect("built-ins parse");
        let pg = find(&apps, "postgresql").expect("there");
        assert_eq!(
            pg.offers(),
            [
                "up",
                "check-health",
                "backup",
                "restore",
                "fail-over",
                "upgrade",
                "downgrade",
                "monitor",
                "cleanup"
            ]
        );
        let (name, recipe) = pg.recipe().expect("built in");
        assert_eq!(name, "debian-postgresql");
        assert!(recipe.contains("postgresql-15"));
        let error = find(&apps, "nextcloud").expect_err("unknown").to_string();
        assert!(
            error.contains("unknown app \"nextcloud\"") && error.contains("postgresql"),
            "{error}"
        );
    }

    #[test]
    fn a_users_folder_adds_and_replaces_definitions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let own = include_str!("../catalog/postgresql.toml")
            .replace("name = \"postgresql\"", "name = \"mydb\"")
            .replace(
                "image = \"debian-postgresql\"",
                "image = \"mydb.image.toml\"",
            );
        std::fs::write(dir.path().join("mydb.toml"), own).expect("writes");
        std::fs::write(dir.path().join("mydb.image.toml"), "base = \"debian\"\n").expect("writes");
        let apps = load(Some(dir.path())).expect("loads");
        assert_eq!(apps.keys().collect::<Vec<_>>(), ["mydb", "postgresql"]);
        let (name, text) = apps["mydb"].recipe().expect("beside it");
        assert_eq!(
            (name.as_str(), text.as_str()),
            ("mydb.image", "base = \"debian\"\n")
        );
        std::fs::write(dir.path().join("bad.toml"), "name = 1").expect("writes");
        assert!(load(Some(dir.path())).is_err());
    }
}
