//! Image recipes: what `mc-vm image build` puts into an image, read from TOML.
//!
//! ```toml
//! base = "debian"                  # or "arch"
//! suite = "bookworm"               # debian: the release (default bookworm)
//! sources = ["deb http://deb.debian.org/debian-security bookworm-security main"]
//! packages = ["postgresql-15", { name = "redis-server", version = "5:7.0.15-1~deb12u7" }]
//! services = ["postgresql"]
//! downloads = [{ name = "postgresql-15", version = "15.20-0+deb12u1" }]
//! [[files]]
//! path = "/etc/motd"
//! content = "an appliance\n"
//! [[users]]
//! name = "app"
//! [data]
//! mount = "/var/lib/postgresql"
//! size_mib = 2048
//! ```
//!
//! Everything that decides the image's contents is in the recipe, so its hash ([`Recipe::hash`])
//! names a build: the same hash, the same image.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped when the builder itself changes what it makes from a recipe: old caches then miss.
const BUILDER_VERSION: u32 = 3;

/// Where the guest finds the recipe's [`Recipe::downloads`].
pub const DOWNLOADS_DIR: &str = "/var/cache/mc-packages";

/// What went wrong with a recipe.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// It is not a recipe.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What the TOML parser said.
        source: Box<toml::de::Error>,
    },
    /// It parses, but says something the builder cannot do.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The distribution an image is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Base {
    /// Debian, through mmdebstrap from Debian's mirror.
    Debian,
    /// Arch Linux, through pacstrap from the host's pacman mirrors (or an mc-repo repository).
    Arch,
}

/// A package to install, with an optional exact version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PackageSpec {
    /// Just the name: the newest version the sources have.
    Name(String),
    /// A name and an exact version.
    Pinned {
        /// The package.
        name: String,
        /// The version, exactly as the package manager writes it.
        version: Option<String>,
    },
}

impl PackageSpec {
    /// The package's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) | Self::Pinned { name, .. } => name,
        }
    }

    /// The pinned version, if any.
    pub fn version(&self) -> Option<&str> {
        match self {
            Self::Name(_) => None,
            Self::Pinned { version, .. } => version.as_deref(),
        }
    }
}

/// A file written into the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Where, an absolute path in the guest; folders are created.
    pub path: String,
    /// The text; or use `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A file beside the recipe whose bytes are written (read when the recipe is read, so its
    /// contents are part of the hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Permission bits, octal (`"0644"` by default).
    #[serde(default = "default_mode")]
    pub mode: String,
}

fn default_mode() -> String {
    "0644".to_owned()
}

/// A user account made in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// The login name.
    pub name: String,
    /// Supplementary groups (they must exist in the image).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The login shell.
    #[serde(default = "default_shell")]
    pub shell: String,
}

fn default_shell() -> String {
    "/bin/bash".to_owned()
}

/// The data disk: a folder of the image moved onto a disk of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The folder, mounted from the data disk (what the packages put there moves onto it).
    pub mount: String,
    /// The data disk's size in MiB.
    #[serde(default = "default_data_size")]
    pub size_mib: u64,
}

fn default_data_size() -> u64 {
    1024
}

/// A recipe, as read from its TOML file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The distribution.
    pub base: Base,
    /// Debian's release (`bookworm`); ignored for Arch.
    #[serde(default = "default_suite")]
    pub suite: String,
    /// The main mirror; Debian's by default (`http://deb.debian.org/debian`), the host's
    /// pacman mirror list for Arch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// More package sources: `deb ...` lines for Debian, `Server = ...` URLs for Arch.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Packages beyond the base system and what every image gets (systemd, the guest agent,
    /// a kernel).
    #[serde(default)]
    pub packages: Vec<PackageSpec>,
    /// Packages kept in the image but not installed (Debian: their `.deb` files in
    /// [`DOWNLOADS_DIR`]), so that a guest moves between versions with no network and no
    /// `apt-get update`: an appliance's upgrade and downgrade install from there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downloads: Vec<PackageSpec>,
    /// Files to write.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// systemd units to enable.
    #[serde(default)]
    pub services: Vec<String>,
    /// Users to make.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// The data disk, if the image has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSpec>,
    /// Free space left on the root disk beyond what the files take, in MiB.
    #[serde(default = "default_free")]
    pub root_free_mib: u64,
}

fn default_suite() -> String {
    "bookworm".to_owned()
}

fn default_free() -> u64 {
    1024
}

impl Recipe {
    /// Reads the recipe at `path`; `source` files are read relative to its folder.
    pub fn read(path: &Path) -> Result<Self, RecipeError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RecipeError::Read {
            path: name.clone(),
            source,
        })?;
        let mut recipe = Self::parse(&text, &name)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for file in &mut recipe.files {
            if let Some(source) = file.source.take() {
                let from = dir.join(&source);
                let bytes = std::fs::read_to_string(&from).map_err(|error| RecipeError::Read {
                    path: from.display().to_string(),
                    source: error,
                })?;
                file.content = Some(bytes);
            }
        }
        Ok(recipe)
    }

    /// Parses recipe text; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, RecipeError> {
        let recipe: Self = toml::from_str(text).map_err(|source| RecipeError::Parse {
            path: name.to_owned(),
            source: Box::new(source),
        })?;
        recipe.check().map_err(|message| RecipeError::Invalid {
            path: name.to_owned(),
            message,
        })?;
        Ok(recipe)
    }

    /// What the parser cannot see: paths, names and modes the builder would trip over.
    fn check(&self) -> Result<(), String> {
        let plain = |text: &str| {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.+@:".contains(c))
        };
        if self.base == Base::Arch && !self.downloads.is_empty() {
            return Err("downloads: only Debian images keep packages to install later".to_owned());
        }
        for package in self.packages.iter().chain(&self.downloads) {
            if !plain(package.name()) {
                return Err(format!(
                    "package {:?} is not a package name",
                    package.name()
                ));
            }
            if package
                .version()
                .is_some_and(|v| !plain(v) && !v.contains('~'))
            {
                return Err(format!("package {}: bad version", package.name()));
            }
        }
        for file in &self.files {
            guest_path(&file.path)?;
            if file.content.is_some() == file.source.is_some() {
                return Err(format!("file {}: give content or source", file.path));
            }
            mode(&file.mode)
                .ok_or_else(|| format!("file {}: bad mode {:?}", file.path, file.mode))?;
        }
        for unit in &self.services {
            if !plain(unit) {
                return Err(format!("service {unit:?} is not a unit name"));
            }
        }
        for user in &self.users {
            if !plain(&user.name) || user.groups.iter().any(|g| !plain(g)) {
                return Err(format!("user {:?}: bad name or group", user.name));
            }
        }
        if let Some(data) = &self.data {
            guest_path(&data.mount)?;
            if data.mount == "/" {
                return Err("data.mount cannot be /".to_owned());
            }
        }
        Ok(())
    }

    /// The sha256 (hex) that names the build: of every field, files' contents included, and the
    /// builder's version.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_vec(&(BUILDER_VERSION, self)).unwrap_or_default();
        hex_lower(&Sha256::digest(canonical))
    }

    /// The packages pinned to a version, by name.
    pub fn pins(&self) -> BTreeMap<&str, &str> {
        self.packages
            .iter()
            .filter_map(|p| Some((p.name(), p.version()?)))
            .collect()
    }
}

/// `path` split into its components below `/`: absolute, no `.`/`..`/empty parts.
pub fn guest_path(path: &str) -> Result<Vec<&str>, String> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("{path:?} is not an absolute path"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    if path == "/" {
        return Ok(Vec::new());
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(format!("{path:?}: no empty, . or .. components"));
    }
    Ok(parts)
}

/// An octal mode (`"0644"`, `"755"`), at most `0o7777`.
pub fn mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|&m| m <= 0o7777)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = r#"
base = "debian"
sources = ["deb http://deb.debian.org/debian-security bookworm-security main"]
packages = ["postgresql-15", { name = "redis-server", version = "5:7.0.15-1~deb12u7" }]
services = ["postgresql"]
[[files]]
path = "/etc/motd"
content = "hi\n"
[[users]]
name = "app"
groups = ["sudo"]
[data]
mount = "/var/lib/postgresql"
"#;

    #[test]
    fn a_recipe_reads_with_its_defaults() {
        let recipe = Recipe::parse(RECIPE, "r.toml").expect("parses");
        assert_eq!(recipe.base, Base::Debian);
        assert_eq!(recipe.suite, "bookworm");
        assert_eq!(recipe.packages[0].name(), "postgresql-15");
        assert_eq!(
            recipe.pins().get("redis-server"),
            Some(&"5:7.0.15-1~deb12u7")
        );
        assert_eq!(recipe.files[0].mode, "0644");
        assert_eq!(recipe.users[0].shell, "/bin/bash");
        assert_eq!(recipe.data.as_ref().map(|d| d.size_mib), Some(1024));
    }

    #[test]
    fn the_hash_follows_every_field_and_nothing_else() {
        let one = Recipe::parse(RECIPE, "a").expect("parses");
        let reformatted = RECIPE.replace("base = \"debian\"", "base   =   'debian'  # same");
        assert_eq!(
            one.hash(),
            Recipe::parse(&reformatted, "b").expect("parses").hash()
        );
        let changed = RECIPE.replace("hi\\n", "ho\\n");
        assert_ne!(
            one.hash(),
            Recipe::parse(&changed, "c").expect("parses").hash()
        );
        assert_eq!(one.hash().len(), 64);
    }

    #[test]
    fn recipes_the_builder_would_trip_over_are_refused() {
        for (bad, says) in [
            ("base = \"gentoo\"", "unknown variant"),
            (
                "base = \"debian\"\npackages = [\"a b\"]",
                "not a package name",
            ),
            (
                "base = \"debian\"\n[[files]]\npath = \"etc/x\"\ncontent = \"\"",
                "absolute",
            ),
            (
                "base = \"debian\"\n[[files]]\npath = \"/etc/../x\"\ncontent = \"\"",
                "..",
            ),
            (
                "base = \"debian\"\n[[files]]\npath = \"/x\"",
                "content or source",
            ),
            (
                "base = \"debian\"\n[[files]]\npath = \"/x\"\ncontent = \"\"\nmode = \"999\"",
                "bad mode",
            ),
            ("base = \"debian\"\n[data]\nmount = \"/\"", "cannot be /"),
            (
                "base = \"arch\"\ndownloads = [\"postgresql\"]",
                "only Debian",
            ),
            (
                "base = \"debian\"\ndownloads = [\"a;b\"]",
                "not a package name",
            ),
            ("base = \"debian\"\nflavour = 1", "unknown field"),
        ] {
            let error = Recipe::parse(bad, "r").expect_err(bad).to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
