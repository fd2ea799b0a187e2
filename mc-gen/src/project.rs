//! A generated project's memory: `.mc-gen.toml` (template, version, answers, slices) and
//! `.mc-gen/base/`, the files exactly as the template last rendered them, the common ancestor of
//! the next `mc-gen update`'s 3-way merge. Both belong in the project's version control.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use minicluster::file::write_atomic;
use serde::{Deserialize, Serialize};

use crate::{
    error::GenError,
    render::{Answers, Files},
};

/// The project file, at the project's root.
pub const PROJECT_FILE: &str = ".mc-gen.toml";
/// The last pristine render, under the project's root.
pub const BASE_DIR: &str = ".mc-gen/base";

/// What `.mc-gen.toml` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The template's name.
    pub template: String,
    /// The template version the project was last rendered with.
    pub version: String,
    /// The vertical slices, in the order they were added.
    #[serde(default)]
    pub slices: Vec<String>,
    /// The answers to the template's questions.
    pub answers: Answers,
}

impl Project {
    /// Reads `DIR/.mc-gen.toml`.
    pub fn read(dir: &Path) -> Result<Self, GenError> {
        let path = dir.join(PROJECT_FILE);
        let text = fs::read_to_string(&path).map_err(GenError::io("reading", &path))?;
        toml::from_str(&text).map_err(|error| GenError::Project {
            path,
            message: error.to_string(),
        })
    }

    /// Writes `DIR/.mc-gen.toml`, atomically.
    pub fn write(&self, dir: &Path) -> Result<(), GenError> {
        let path = dir.join(PROJECT_FILE);
        let text = toml::to_string(self).map_err(|error| GenError::Project {
            path: path.clone(),
            message: error.to_string(),
        })?;
        let text =
            format!("# Written by mc-gen: the template, its version and your answers.\n{text}");
        write_atomic(&path, text.as_bytes(), false).map_err(GenError::io("writing", path))
    }
}

/// Writes `text` to `DIR/PATH` atomically, making its folders; `executable` files get mode
/// 755.
pub fn write_file(dir: &Path, path: &str, text: &str, executable: bool) -> Result<(), GenError> {
    let target = dir.join(path);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(GenError::io("creating", parent))?;
    }
    write_atomic(&target, text.as_bytes(), false).map_err(GenError::io("writing", &target))?;
    if executable {
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
            .map_err(GenError::io("setting the mode of", target))?;
    }
    Ok(())
}

/// The user's version of `DIR/PATH`, if it is there and is text.
pub fn read_file(dir: &Path, path: &str) -> Result<Option<String>, GenError> {
    let target = dir.join(path);
    match fs::read(&target) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(GenError::io("reading", target)(error)),
    }
}

/// The last pristine render of the project in `dir`.
pub fn read_base(dir: &Path) -> Result<Files, GenError> {
    let base = dir.join(BASE_DIR);
    // An update interrupted between the two renames below left the previous base here.
    let base = if base.is_dir() {
        base
    } else {
        sibling(&base, "old")
    };
    let mut files = Files::new();
    if base.is_dir() {
        collect(&base, &base, &mut files)?;
    }
    Ok(files)
}

fn collect(dir: &Path, base: &Path, files: &mut Files) -> Result<(), GenError> {
    for entry in fs::read_dir(dir).map_err(GenError::io("reading", dir))? {
        let path = entry.map_err(GenError::io("reading", dir))?.path();
        if path.is_dir() {
            collect(&path, base, files)?;
        } else {
            let text = fs::read_to_string(&path).map_err(GenError::io("reading", &path))?;
            let relative = path.strip_prefix(base).unwrap_or(&path);
            files.insert(relative.to_string_lossy().into_owned(), text);
        }
    }
    Ok(())
}

/// Replaces the project's base with `files`: written beside it first, then swapped in by
/// renames, so an interrupted run leaves one whole base.
pub fn write_base(dir: &Path, files: &Files) -> Result<(), GenError> {
    let base = dir.join(BASE_DIR);
    let (new, old) = (sibling(&base, "new"), sibling(&base, "old"));
    for stale in [&new, &old] {
        if stale.exists() {
            fs::remove_dir_all(stale).map_err(GenError::io("removing", stale))?;
        }
    }
    for (path, text) in files {
        write_file(&new, path, text, false)?;
    }
    if base.exists() {
        fs::rename(&base, &old).map_err(GenError::io("renaming", &base))?;
    }
    fs::rename(&new, &base).map_err(GenError::io("renaming", &new))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(GenError::io("removing", &old))?;
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_file_and_base_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Project {
            template: "t".to_owned(),
            version: "1".to_owned(),
            slices: vec!["task".to_owned()],
            answers: [("app".to_owned(), "tasker".to_owned())].into(),
        };
        project.write(dir.path()).expect("write");
        assert_eq!(Project::read(dir.path()).expect("read"), project);
        let first: Files = [("a/b.txt".to_owned(), "1\n".to_owned())].into();
        let second: Files = [("c.txt".to_owned(), "2\n".to_owned())].into();
        write_base(dir.path(), &first).expect("base");
        write_base(dir.path(), &second).expect("base again");
        assert_eq!(read_base(dir.path()).expect("read base"), second);
    }
}
