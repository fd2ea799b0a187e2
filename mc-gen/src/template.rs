//! Templates as data: a folder with `template.toml` (name, version, questions) and the files to
//! render. The templates of `mc-gen/templates/` are embedded in the binary, so an installed
//! mc-gen works anywhere; `--templates DIR` reads them from a folder instead (another version,
//! or your own).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use include_dir::{Dir, include_dir};
use serde::Deserialize;

use crate::error::GenError;

/// The templates built into the binary.
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The file that describes a template.
pub const MANIFEST: &str = "template.toml";

/// What `template.toml` says.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The template's name, as `mc-gen new NAME` takes it.
    pub name: String,
    /// Its version: `.mc-gen.toml` records it, `mc-gen update` moves a project to a newer one.
    pub version: String,
    /// One line for `mc-gen list`.
    pub description: String,
    /// The folders rendered, in order, each a template string (`"{{ language }}"`); each holds
    /// `project/` (rendered once) and `slice/` (rendered once per slice).
    pub roots: Vec<String>,
    /// The question whose answer names the first slice.
    #[serde(default)]
    pub slice_question: Option<String>,
    /// Rendered files written executable (scripts, git hooks).
    #[serde(default)]
    pub executable: Vec<String>,
    /// The questions, asked in order.
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Variables computed from the answers (`package_path = "{{ package | replace('.', '/') }}"`).
    #[serde(default)]
    pub derived: BTreeMap<String, String>,
    /// Variables of one slice's files, computed from the answers and `slice`, the slice's name.
    #[serde(default)]
    pub slice: BTreeMap<String, String>,
}

/// One question of a template.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The key in answers files and in the templates.
    pub name: String,
    /// The question as asked.
    pub prompt: String,
    /// The answer taken when none is given, a template string over the answers before it.
    pub default: Option<String>,
    /// The only answers allowed, when the question is a choice.
    #[serde(default)]
    pub choices: Vec<String>,
    /// A regular expression the whole answer must match.
    pub pattern: Option<String>,
}

/// A template, read whole: its manifest and its files' text by path inside the template.
#[derive(Clone, Debug)]
pub struct Template {
    /// What `template.toml` says.
    pub manifest: Manifest,
    /// Every other file, by its path relative to the template folder (`java/project/pom.xml`).
    pub files: BTreeMap<String, String>,
}

/// Where templates come from.
#[derive(Clone, Debug)]
pub enum Catalog {
    /// The templates built into the binary.
    Embedded,
    /// Folders `DIR/NAME/` with a `template.toml` each.
    Folder(PathBuf),
}

impl Catalog {
    /// The catalog `--templates` names, or the embedded one.
    pub fn new(folder: Option<PathBuf>) -> Self {
        folder.map_or(Self::Embedded, Self::Folder)
    }

    /// Every template, by name.
    pub fn list(&self) -> Result<Vec<Template>, GenError> {
        let mut names = match self {
            Self::Embedded => EMBEDDED
                .dirs()
                .filter_map(|dir| dir.path().to_str().map(str::to_owned))
                .collect::<Vec<_>>(),
            Self::Folder(root) => std::fs::read_dir(root)
                .map_err(GenError::io("reading", root))?
                .filter_map(Result::ok)
                .filter(|entry| entry.path().join(MANIFEST).is_file())
                .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
                .collect(),
        };
        names.sort();
        names.iter().map(|name| self.get(name)).collect()
    }

    /// The template `name`.
    pub fn get(&self, name: &str) -> Result<Template, GenError> {
        let unknown = || GenError::UnknownTemplate {
            name: name.to_owned(),
        };
        // A name is one folder, never a path out of the catalog.
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(unknown());
        }
        let mut files = BTreeMap::new();
        match self {
            Self::Embedded => {
                let dir = EMBEDDED.get_dir(name).ok_or_else(unknown)?;
                embedded_files(name, dir, dir.path(), &mut files)?;
            }
            Self::Folder(root) => {
                let dir = root.join(name);
                if !dir.join(MANIFEST).is_file() {
                    return Err(unknown());
                }
                folder_files(name, &dir, &dir, &mut files)?;
            }
        }
        let manifest = files.remove(MANIFEST).ok_or_else(unknown)?;
        let manifest = toml::from_str(&manifest).map_err(|source| GenError::Manifest {
            name: name.to_owned(),
            source,
        })?;
        Ok(Template { manifest, files })
    }
}

fn text(name: &str, path: &str, bytes: Vec<u8>) -> Result<String, GenError> {
    String::from_utf8(bytes).map_err(|_| GenError::NotText {
        name: name.to_owned(),
        path: path.to_owned(),
    })
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn embedded_files(
    name: &str,
    dir: &Dir<'_>,
    base: &Path,
    files: &mut BTreeMap<String, String>,
) -> Result<(), GenError> {
    for file in dir.files() {
        let path = relative(base, file.path());
        let content = text(name, &path, file.contents().to_vec())?;
        files.insert(path, content);
    }
    for sub in dir.dirs() {
        embedded_files(name, sub, base, files)?;
    }
    Ok(())
}

fn folder_files(
    name: &str,
    dir: &Path,
    base: &Path,
    files: &mut BTreeMap<String, String>,
) -> Result<(), GenError> {
    for entry in std::fs::read_dir(dir).map_err(GenError::io("reading", dir))? {
        let path = entry.map_err(GenError::io("reading", dir))?.path();
        if path.is_dir() {
            folder_files(name, &path, base, files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(GenError::io("reading", &path))?;
            let relative = relative(base, &path);
            files.insert(relative.clone(), text(name, &relative, bytes)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_reads() {
        let templates = Catalog::Embedded.list().expect("embedded templates read");
        assert!(
            templates
                .iter()
                .any(|t| t.manifest.name == "spring-hexagonal")
        );
        for template in templates {
            assert!(!template.files.is_empty(), "{}", template.manifest.name);
        }
    }

    #[test]
    fn a_name_is_never_a_path() {
        for name in ["", "../etc", "a/b", ".hidden"] {
            assert!(matches!(
                Catalog::Embedded.get(name),
                Err(GenError::UnknownTemplate { .. })
            ));
        }
    }
}
