//! The 3-way merge of `mc-gen update`: for every file, the old render (the common ancestor),
//! the user's file and the new render, merged by diffy. Each file gets one outcome; nothing is
//! written here.

use minicluster::record::GeneratedAction;

use crate::render::Files;

/// What to do with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The file, relative to the project.
    pub path: String,
    /// What happens to it.
    pub action: GeneratedAction,
    /// The text to write, when it changes.
    pub write: Option<String>,
    /// Whether the file is deleted.
    pub delete: bool,
    /// Conflicting hunks in `write`.
    pub conflicts: u64,
}

impl Outcome {
    fn new(path: &str, action: GeneratedAction) -> Self {
        Self {
            path: path.to_owned(),
            action,
            write: None,
            delete: false,
            conflicts: 0,
        }
    }

    fn writing(path: &str, action: GeneratedAction, text: String) -> Self {
        Self {
            write: Some(text),
            ..Self::new(path, action)
        }
    }
}

/// The outcome of every file in the old or the new render, given the user's files (`None`: not
/// there).
pub fn plan(
    old: &Files,
    new: &Files,
    mut user: impl FnMut(&str) -> Option<String>,
) -> Vec<Outcome> {
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| outcome(path, old.get(path), new.get(path), user(path)))
        .collect()
}

fn outcome(
    path: &str,
    old: Option<&String>,
    new: Option<&String>,
    user: Option<String>,
) -> Option<Outcome> {
    use GeneratedAction::{Created, Kept, Removed, Unchanged, Updated};
    Some(match (old, new, user) {
        (None, None, _) | (Some(_), None, None) => return None,
        (None, Some(new), None) => Outcome::writing(path, Created, new.clone()),
        // The user deleted a file the template still has: the deletion stands.
        (Some(_), Some(_), None) => Outcome::new(path, Kept),
        (Some(old), None, Some(user)) if *old == user => Outcome {
            delete: true,
            ..Outcome::new(path, Removed)
        },
        (Some(_), None, Some(_)) => Outcome::new(path, Kept),
        (_, Some(new), Some(user)) if *new == user => Outcome::new(path, Unchanged),
        (Some(old), Some(new), Some(_)) if old == new => Outcome::new(path, Unchanged),
        (Some(old), Some(new), Some(user)) if *old == user => {
            Outcome::writing(path, Updated, new.clone())
        }
        (old, Some(new), Some(user)) => merged(path, old.map_or("", String::as_str), &user, new),
    })
}

/// diffy's merge of the user's and the template's changes since `old`; conflicts are left
/// inline with git's markers (diff3 style, so the ancestor's lines show too).
fn merged(path: &str, old: &str, user: &str, new: &str) -> Outcome {
    match diffy::merge(old, user, new) {
        Ok(text) => Outcome::writing(path, GeneratedAction::Merged, text),
        Err(text) => {
            let conflicts = text
                .lines()
                .filter(|line| line.starts_with("<<<<<<<"))
                .count();
            Outcome {
                conflicts: u64::try_from(conflicts).unwrap_or(u64::MAX),
                ..Outcome::writing(path, GeneratedAction::Conflict, text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect()
    }

    #[test]
    fn every_case_of_old_new_and_user() {
        let old = files(&[
            ("same", "a\n"),
            ("untouched", "a\n"),
            ("edited", "a\nb\nc\nd\ne\n"),
            ("clash", "x\n"),
            ("dropped", "a\n"),
            ("dropped-edited", "a\n"),
            ("deleted", "a\n"),
        ]);
        let new = files(&[
            ("same", "a\n"),
            ("untouched", "b\n"),
            ("edited", "A\nb\nc\nd\ne\n"),
            ("clash", "template\n"),
            ("added", "new\n"),
            ("deleted", "b\n"),
        ]);
        let user = files(&[
            ("same", "mine\n"),
            ("untouched", "a\n"),
            ("edited", "a\nb\nc\nd\nE\n"),
            ("clash", "user\n"),
            ("dropped", "a\n"),
            ("dropped-edited", "mine\n"),
        ]);
        let plan = plan(&old, &new, |path| user.get(path).cloned());
        let by_path = |path: &str| plan.iter().find(|o| o.path == path).expect(path).clone();
        assert_eq!(by_path("same").action, GeneratedAction::Unchanged);
        assert_eq!(by_path("untouched").write.as_deref(), Some("b\n"));
        assert_eq!(by_path("edited").action, GeneratedAction::Merged);
        assert_eq!(by_path("edited").write.as_deref(), Some("A\nb\nc\nd\nE\n"));
        let clash = by_path("clash");
        assert_eq!(
            (clash.action, clash.conflicts),
            (GeneratedAction::Conflict, 1)
        );
        let text = clash.write.expect("written");
        assert!(
            text.contains("user\n") && text.contains("template\n"),
            "{text}"
        );
        assert_eq!(by_path("added").action, GeneratedAction::Created);
        assert!(by_path("dropped").delete);
        assert_eq!(by_path("dropped-edited").action, GeneratedAction::Kept);
        assert_eq!(by_path("deleted").action, GeneratedAction::Kept);
    }
}
