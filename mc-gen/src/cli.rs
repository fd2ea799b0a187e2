//! The command line of `mc-gen`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Generate a production-shaped project from a template, and keep it updatable.
///
/// A template asks a few questions (`mc-gen show TEMPLATE` lists them) and renders a project:
/// vertical slices with a hexagon each (a domain without framework imports, ports, adapters),
/// their tests, architecture guardrails as tests, the organisational files (CODEOWNERS per slice,
/// ADRs, a PR template, a commit-message check) and the deployment as minicluster appliances.
///
/// Answers come from `--answers FILE` (TOML, `question = "answer"`), from JSON lines on stdin
/// (`{"app":"tasker"}`), or from prompts when stdin and stderr are a terminal. Without a
/// terminal, a question with a default takes it and one without is an error naming it (exit 2):
/// mc-gen never waits for input that cannot come.
///
/// The project remembers its template, version, answers and slices in `.mc-gen.toml`, and the
/// pristine render in `.mc-gen/base/`: commit both. `mc-gen update` then re-renders with the
/// newer template and merges 3-way (that render, the new one, your files): your edits stay,
/// the template's changes arrive, and where both changed the same lines the file gets git-style
/// conflict markers and its record says `"action":"conflict"`.
///
/// Prints one `generated` record per file (see mc-records(7)) and a summary.
///
/// Example: `mc-gen new spring-hexagonal --language java --out tasker --set app=tasker`
#[derive(Debug, Parser)]
#[command(name = "mc-gen", version, after_help = GEN_EXIT_HELP)]
pub struct Cli {
    /// Read templates from this folder (`DIR/NAME/template.toml`) instead of the ones built in.
    #[arg(long, global = true, env = "MC_GEN_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// mc-gen's exit codes: the shared ones, with "an item failed" meaning a conflict.
const GEN_EXIT_HELP: &str = "Exit status: 0 when every file was written, 1 when an update left \
conflicts to resolve (each a \"generated\" record with \"action\":\"conflict\"), 2 for bad usage or \
a fatal error (an unknown template, a missing or refused answer).";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new project into a new (or empty) folder.
    New(NewArgs),
    /// Re-render a project with the template's newer version and merge it 3-way with your files.
    Update(UpdateArgs),
    /// Add to a project.
    #[command(subcommand)]
    Add(AddCommand),
    /// List the templates, one `template` record each.
    List,
    /// Show one template and its questions as a `template` record.
    Show {
        /// The template.
        template: String,
    },
}

/// `mc-gen new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The template (`mc-gen list`).
    pub template: String,
    /// The folder to generate into; made if missing, and must be empty.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Answers as TOML (`app = "tasker"`); `-` reads JSON lines from stdin.
    #[arg(long, short = 'a', value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// One answer, `QUESTION=ANSWER`; over the answers file. Repeatable.
    #[arg(long = "set", short = 's', value_name = "QUESTION=ANSWER")]
    pub set: Vec<String>,
    /// The answer to the `language` question (`java`, ...); the same as `--set language=...`.
    #[arg(long, value_name = "LANGUAGE")]
    pub language: Option<String>,
}

/// `mc-gen update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The project folder (with `.mc-gen.toml`).
    pub dir: PathBuf,
    /// The version to move to; the template at hand (built in or `--templates`) must be it.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
}

/// `mc-gen add`.
#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// A new vertical slice: its domain, ports, adapters, migration, tests and owners.
    Slice {
        /// The slice's name: a lower-case domain noun, singular (`note`).
        name: String,
        /// The project folder (with `.mc-gen.toml`).
        dir: PathBuf,
    },
}
