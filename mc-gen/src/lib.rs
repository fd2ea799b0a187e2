//! `mc-gen` as a library: templates as data ([`template::Catalog`]), answers
//! ([`answers::resolve`]), rendering with minijinja ([`render::Renderer`]), a project's memory
//! ([`project::Project`]) and the 3-way merge of updates ([`merge::plan`]).

pub mod answers;
pub mod cli;
pub mod error;
pub mod merge;
pub mod project;
pub mod render;
pub mod template;

use std::{
    io::{self, IsTerminal},
    path::Path,
};

use minicluster::{
    record::{GeneratedAction, GeneratedRecord, Record, TemplateQuestion, TemplateRecord},
    report::Report,
};

use crate::{
    answers::{Asker, Defaults, Terminal},
    cli::{AddCommand, Cli, Command, NewArgs, UpdateArgs},
    error::GenError,
    merge::Outcome,
    project::Project,
    render::{Answers, Renderer},
    template::{Catalog, Template},
};

/// The tool's name in records.
pub const TOOL: &str = "mc-gen";

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let catalog = Catalog::new(cli.templates);
    let mut report = Report::stdout(TOOL);
    match cli.command {
        Command::List => {
            for template in catalog.list()? {
                report.write(&template_record(&template))?;
                report.count("templates");
            }
        }
        Command::Show { template } => {
            report.write(&template_record(&catalog.get(&template)?))?;
            report.count("templates");
        }
        Command::New(args) => new(&catalog, &args, &mut report)?,
        Command::Update(args) => update(&catalog, &args, &mut report)?,
        Command::Add(AddCommand::Slice { name, dir }) => {
            add_slice(&catalog, &name, &dir, &mut report)?
        }
    }
    Ok(report.finish()?)
}

/// Who answers open questions: the terminal when there is one to ask on, else the defaults.
fn asker() -> Box<dyn Asker> {
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        Box::new(Terminal)
    } else {
        Box::new(Defaults)
    }
}

/// The answers given on the command line: the file (or stdin), then `--set` and `--language`.
fn given_answers(args: &NewArgs) -> Result<Answers, GenError> {
    let mut given = match &args.answers {
        Some(path) if path == Path::new("-") => answers::from_json_lines(io::stdin().lock())?,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(GenError::io("reading", path))?;
            answers::from_toml(&path.display().to_string(), &text)?
        }
        None if !io::stdin().is_terminal() => answers::from_json_lines(io::stdin().lock())?,
        None => Answers::new(),
    };
    for pair in &args.set {
        let (key, value) = pair.split_once('=').ok_or_else(|| GenError::Answers {
            origin: "--set".to_owned(),
            message: format!("{pair:?} is not QUESTION=ANSWER"),
        })?;
        given.insert(key.to_owned(), value.to_owned());
    }
    if let Some(language) = &args.language {
        given.insert("language".to_owned(), language.clone());
    }
    Ok(given)
}

fn new(catalog: &Catalog, args: &NewArgs, report: &mut Report) -> anyhow::Result<()> {
    let template = catalog.get(&args.template)?;
    let answers = answers::resolve(&template, &given_answers(args)?, asker().as_mut())?;
    let occupied = std::fs::read_dir(&args.out).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        return Err(GenError::NotEmpty {
            dir: args.out.clone(),
        }
        .into());
    }
    let slices = first_slice(&template, &answers);
    let project = Project {
        template: template.manifest.name.clone(),
        version: template.manifest.version.clone(),
        slices,
        answers,
    };
    apply(&template, &project, &args.out, report)
}

/// The slice the answers name, as the project's first.
fn first_slice(template: &Template, answers: &Answers) -> Vec<String> {
    template
        .manifest
        .slice_question
        .as_ref()
        .and_then(|question| answers.get(question))
        .cloned()
        .into_iter()
        .collect()
}

fn update(catalog: &Catalog, args: &UpdateArgs, report: &mut Report) -> anyhow::Result<()> {
    let mut project = Project::read(&args.dir)?;
    let template = catalog.get(&project.template)?;
    if let Some(want) = &args.to
        && *want != template.manifest.version
    {
        return Err(GenError::VersionUnavailable {
            name: project.template.clone(),
            have: template.manifest.version.clone(),
            want: want.clone(),
        }
        .into());
    }
    // A newer version may ask new questions: the old answers stand, the new ones are asked.
    project.answers = answers::resolve(&template, &project.answers, asker().as_mut())?;
    project.version = template.manifest.version.clone();
    apply(&template, &project, &args.dir, report)
}

fn add_slice(catalog: &Catalog, name: &str, dir: &Path, report: &mut Report) -> anyhow::Result<()> {
    let mut project = Project::read(dir)?;
    let template = catalog.get(&project.template)?;
    if project.version != template.manifest.version {
        return Err(GenError::Outdated {
            name: project.template.clone(),
            project: project.version.clone(),
            template: template.manifest.version.clone(),
        }
        .into());
    }
    let question = template
        .manifest
        .questions
        .iter()
        .find(|q| Some(&q.name) == template.manifest.slice_question.as_ref())
        .ok_or_else(|| GenError::NoSlices {
            name: project.template.clone(),
        })?;
    // The slice name obeys the slice question's rules: ask the resolver to check it.
    let mut check = project.answers.clone();
    check.insert(question.name.clone(), name.to_owned());
    answers::resolve(&template, &check, &mut Defaults)?;
    if project.slices.iter().any(|slice| slice == name) {
        return Err(GenError::SliceExists {
            slice: name.to_owned(),
        }
        .into());
    }
    project.slices.push(name.to_owned());
    apply(&template, &project, dir, report)
}

/// Renders `project` and brings `dir` to it: a 3-way merge of the last pristine render (none
/// for a new project), the new one and the files in `dir`. The project file and the base are
/// written last, so an interrupted run is redone by running it again.
fn apply(
    template: &Template,
    project: &Project,
    dir: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let new = Renderer::new(template).render(&project.answers, &project.slices)?;
    let old = project::read_base(dir)?;
    let mut unreadable = None;
    let plan = merge::plan(&old, &new, |path| {
        project::read_file(dir, path).unwrap_or_else(|error| {
            unreadable.get_or_insert(error);
            None
        })
    });
    if let Some(error) = unreadable {
        return Err(error.into());
    }
    for outcome in &plan {
        if let Some(text) = &outcome.write {
            let executable = template.manifest.executable.contains(&outcome.path);
            project::write_file(dir, &outcome.path, text, executable)?;
        }
        if outcome.delete {
            let path = dir.join(&outcome.path);
            std::fs::remove_file(&path).map_err(GenError::io("removing", path))?;
        }
        report.write(&Record::Generated(generated(project, dir, outcome)))?;
        report.count(outcome.action.as_str());
        if outcome.action == GeneratedAction::Conflict {
            report.mark_unsuccessful();
        }
    }
    project::write_base(dir, &new)?;
    project.write(dir)?;
    Ok(())
}

fn generated(project: &Project, dir: &Path, outcome: &Outcome) -> GeneratedRecord {
    GeneratedRecord {
        template: project.template.clone(),
        version: project.version.clone(),
        path: outcome.path.clone(),
        action: outcome.action,
        size_bytes: std::fs::metadata(dir.join(&outcome.path))
            .ok()
            .map(|metadata| metadata.len()),
        conflicts: outcome.conflicts,
    }
}

fn template_record(template: &Template) -> Record {
    let manifest = &template.manifest;
    Record::Template(TemplateRecord {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        questions: manifest
            .questions
            .iter()
            .map(|q| TemplateQuestion {
                name: q.name.clone(),
                prompt: q.prompt.clone(),
                default: q.default.clone(),
                choices: q.choices.clone(),
            })
            .collect(),
    })
}
