//! What can go wrong while generating, one variant per cause.

use std::path::PathBuf;

/// An error of `mc-gen`; each names what it was about.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// No template of that name, embedded or in the templates folder.
    #[error("no template named {name:?} (see `mc-gen list`)")]
    UnknownTemplate {
        /// The name asked for.
        name: String,
    },
    /// A template's `template.toml` is not valid.
    #[error("template {name:?}: template.toml: {source}")]
    Manifest {
        /// The template.
        name: String,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// A template file is not UTF-8 text.
    #[error("template {name:?}: {path} is not UTF-8 text")]
    NotText {
        /// The template.
        name: String,
        /// The file inside the template.
        path: String,
    },
    /// A template (or a file path in it) did not render.
    #[error("template {name:?}: rendering {path}: {source:#}")]
    Render {
        /// The template.
        name: String,
        /// The template file, or the manifest entry.
        path: String,
        /// minijinja's error, with line and column.
        source: minijinja::Error,
    },
    /// A rendered path would leave the project folder.
    #[error("template {name:?}: {path} renders to a path outside the project")]
    UnsafePath {
        /// The template.
        name: String,
        /// The rendered path.
        path: String,
    },
    /// A question has no answer, and there is no terminal to ask on.
    #[error("no answer to question {question:?} ({prompt}): give it in --answers FILE or on stdin")]
    MissingAnswer {
        /// The question's name (the key in the answers file).
        question: String,
        /// The question as it would be asked.
        prompt: String,
    },
    /// An answer that the question does not accept.
    #[error("answer {value:?} to question {question:?}: {reason}")]
    InvalidAnswer {
        /// The question's name.
        question: String,
        /// The answer given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// An answer that names no question of the template.
    #[error("answer to unknown question {question:?} (see `mc-gen show TEMPLATE`)")]
    UnknownQuestion {
        /// The key given.
        question: String,
    },
    /// An answers file or stdin line that does not parse.
    #[error("answers {origin}: {message}")]
    Answers {
        /// The file, or `stdin line N`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A prompt on the terminal failed.
    #[error("asking {question:?} on the terminal: {source}")]
    Prompt {
        /// The question.
        question: String,
        /// dialoguer's error.
        source: dialoguer::Error,
    },
    /// `new` into a folder that already holds files.
    #[error("{} exists and is not empty: `mc-gen new` only writes into a new folder (use `mc-gen update`)", dir.display())]
    NotEmpty {
        /// The folder.
        dir: PathBuf,
    },
    /// A project's `.mc-gen.toml` is missing or invalid.
    #[error("{}: {message}", path.display())]
    Project {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `update --to VERSION` when the template at hand has another version.
    #[error(
        "template {name:?} is at version {have}, not {want} (point --templates at that version)"
    )]
    VersionUnavailable {
        /// The template.
        name: String,
        /// The version found.
        have: String,
        /// The version asked for.
        want: String,
    },
    /// `add slice` on a project whose template version is not the one at hand.
    #[error(
        "the project is at {name} version {project}, this template is {template}: run `mc-gen update` first"
    )]
    Outdated {
        /// The template.
        name: String,
        /// The project's version.
        project: String,
        /// The template's version.
        template: String,
    },
    /// A slice that already exists.
    #[error("the project already has a slice named {slice:?}")]
    SliceExists {
        /// The slice.
        slice: String,
    },
    /// A template without slices.
    #[error("template {name:?} has no slices")]
    NoSlices {
        /// The template.
        name: String,
    },
    /// Reading or writing a file.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done (`reading`, `writing`, ...).
        context: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl GenError {
    /// An I/O error while `context`ing `path`.
    pub fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            path,
            context,
            source,
        }
    }
}
