//! Rendering a template with minijinja: every file's path and text are templates over the
//! answers; `ROOT/project/` once, `ROOT/slice/` once per slice. A file that renders to nothing
//! but white space is left out, so a template can make a file depend on an answer.

use std::{
    collections::BTreeMap,
    path::{Component, Path},
};

use minijinja::{Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};

use crate::{error::GenError, template::Template};

/// Rendered files by their path in the project (`/`-separated, relative).
pub type Files = BTreeMap<String, String>;

/// The answers, by question name.
pub type Answers = BTreeMap<String, String>;

/// A template with minijinja set up to render it: strict about undefined variables (a typo in a
/// template is an error, not an empty string) and keeping each file's last newline.
pub struct Renderer<'t> {
    template: &'t Template,
    env: Environment<'static>,
}

impl<'t> Renderer<'t> {
    /// A renderer of `template`.
    pub fn new(template: &'t Template) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        Self { template, env }
    }

    /// Renders `source` (named `origin` in errors) with `context`.
    pub fn string(&self, origin: &str, source: &str, context: &Value) -> Result<String, GenError> {
        self.env
            .render_named_str(origin, source, context)
            .map_err(|source| GenError::Render {
                name: self.template.manifest.name.clone(),
                path: origin.to_owned(),
                source,
            })
    }

    /// The project's variables: the answers, the derived variables, and `slices`.
    fn context(
        &self,
        answers: &Answers,
        slices: &[String],
    ) -> Result<BTreeMap<String, Value>, GenError> {
        let mut vars = variables(answers);
        for (key, source) in &self.template.manifest.derived {
            let value = self.string(
                &format!("derived.{key}"),
                source,
                &Value::from(vars.clone()),
            )?;
            vars.insert(key.clone(), Value::from(value));
        }
        let slice_vars = slices
            .iter()
            .enumerate()
            .map(|(index, slice)| self.slice_context(&vars, slice, index).map(Value::from))
            .collect::<Result<Vec<_>, _>>()?;
        vars.insert("slices".to_owned(), Value::from(slice_vars));
        Ok(vars)
    }

    /// One slice's variables: the project's, `slice`, `slice_index` (from 1) and the manifest's
    /// `[slice]` table.
    fn slice_context(
        &self,
        project: &BTreeMap<String, Value>,
        slice: &str,
        index: usize,
    ) -> Result<BTreeMap<String, Value>, GenError> {
        let mut vars = project.clone();
        vars.insert("slice".to_owned(), Value::from(slice));
        vars.insert("slice_index".to_owned(), Value::from(index + 1));
        for (key, source) in &self.template.manifest.slice {
            let value = self.string(&format!("slice.{key}"), source, &Value::from(vars.clone()))?;
            vars.insert(key.clone(), Value::from(value));
        }
        Ok(vars)
    }

    /// Every file of the project for these answers and slices.
    pub fn render(&self, answers: &Answers, slices: &[String]) -> Result<Files, GenError> {
        let project = self.context(answers, slices)?;
        let project_value = Value::from(project.clone());
        let mut files = Files::new();
        for root in &self.template.manifest.roots {
            let root = self.string("roots", root, &project_value)?;
            self.render_part(&format!("{root}/project/"), &project_value, &mut files)?;
            for (index, slice) in slices.iter().enumerate() {
                let vars = Value::from(self.slice_context(&project, slice, index)?);
                self.render_part(&format!("{root}/slice/"), &vars, &mut files)?;
            }
        }
        Ok(files)
    }

    /// Renders the files under `prefix` into `files`.
    fn render_part(
        &self,
        prefix: &str,
        context: &Value,
        files: &mut Files,
    ) -> Result<(), GenError> {
        for (path, source) in self.template.files.range(prefix.to_owned()..) {
            let Some(relative) = path.strip_prefix(prefix) else {
                break;
            };
            let target = self.string(path, relative, context)?;
            if !is_inside(&target) {
                return Err(GenError::UnsafePath {
                    name: self.template.manifest.name.clone(),
                    path: target,
                });
            }
            let text = self.string(path, source, context)?;
            if !text.trim().is_empty() {
                files.insert(target, text);
            }
        }
        Ok(())
    }
}

/// The answers as template variables.
pub fn variables(answers: &Answers) -> BTreeMap<String, Value> {
    answers
        .iter()
        .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
        .collect()
}

/// Whether `path` stays inside the project folder: relative, without `..`.
fn is_inside(path: &str) -> bool {
    let path = Path::new(path);
    path.components().next().is_some()
        && path
            .components()
            .all(|component| matches!(component, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Catalog;

    fn answers() -> Answers {
        [
            ("app", "tasker"),
            ("package", "dev.tasker"),
            ("language", "java"),
            ("slice", "task"),
            ("owner", "@tasker-team"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn paths_and_slices_render() {
        let template = Catalog::Embedded.get("spring-hexagonal").expect("template");
        let files = Renderer::new(&template)
            .render(&answers(), &["task".to_owned(), "note".to_owned()])
            .expect("renders");
        assert!(files.contains_key("src/main/java/dev/tasker/task/domain/Task.java"));
        assert!(files.contains_key("src/main/java/dev/tasker/note/domain/Note.java"));
        assert!(files.contains_key("src/main/resources/db/migration/V2__create_note.sql"));
        assert!(files["pom.xml"].contains("<artifactId>tasker</artifactId>"));
        assert!(files["pom.xml"].ends_with("</project>\n"));
    }

    #[test]
    fn an_undefined_variable_is_an_error() {
        let mut template = Catalog::Embedded.get("spring-hexagonal").expect("template");
        template
            .files
            .insert("java/project/x.txt".to_owned(), "{{ nope }}".to_owned());
        let error = Renderer::new(&template)
            .render(&answers(), &[])
            .expect_err("undefined");
        assert!(error.to_string().contains("java/project/x.txt"), "{error}");
    }

    #[test]
    fn paths_outside_the_project_are_refused() {
        for path in ["../x", "/etc/passwd", "", "a/../../b"] {
            assert!(!is_inside(path), "{path}");
        }
        assert!(is_inside("src/main/x.java"));
    }
}
