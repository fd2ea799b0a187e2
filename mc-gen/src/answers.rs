//! Answers to a template's questions: from an answers file (TOML), JSON lines on stdin, the
//! project's `.mc-gen.toml`, or prompts on a terminal. Without a terminal, a question with a
//! default takes it and a question without one is an error naming it: mc-gen never waits for
//! input that cannot come.

use std::io::BufRead;

use minijinja::Value;
use regex::Regex;

use crate::{
    error::GenError,
    render::{Answers, Renderer, variables},
    template::{Question, Template},
};

/// Who answers the questions the given answers leave open.
pub trait Asker {
    /// The answer to `question`, whose default (rendered) is `default`.
    fn ask(&mut self, question: &Question, default: Option<&str>) -> Result<String, GenError>;
}

/// No one: the default, or an error naming the question.
pub struct Defaults;

impl Asker for Defaults {
    fn ask(&mut self, question: &Question, default: Option<&str>) -> Result<String, GenError> {
        default
            .map(str::to_owned)
            .ok_or_else(|| GenError::MissingAnswer {
                question: question.name.clone(),
                prompt: question.prompt.clone(),
            })
    }
}

/// The person at the terminal, asked with dialoguer prompts on stderr.
pub struct Terminal;

impl Asker for Terminal {
    fn ask(&mut self, question: &Question, default: Option<&str>) -> Result<String, GenError> {
        let prompt_error = |source| GenError::Prompt {
            question: question.name.clone(),
            source,
        };
        let theme = dialoguer::theme::SimpleTheme;
        if question.choices.is_empty() {
            let mut input =
                dialoguer::Input::<String>::with_theme(&theme).with_prompt(&question.prompt);
            if let Some(default) = default {
                input = input.default(default.to_owned());
            }
            input.interact_text().map_err(prompt_error)
        } else {
            let chosen = default
                .and_then(|default| question.choices.iter().position(|c| c == default))
                .unwrap_or(0);
            let index = dialoguer::Select::with_theme(&theme)
                .with_prompt(&question.prompt)
                .items(&question.choices)
                .default(chosen)
                .interact()
                .map_err(prompt_error)?;
            Ok(question.choices[index].clone())
        }
    }
}

/// Reads an answers file: a TOML table of `question = "answer"` (numbers and booleans are
/// taken as their text).
pub fn from_toml(origin: &str, text: &str) -> Result<Answers, GenError> {
    let table: toml::Table = toml::from_str(text).map_err(|error| GenError::Answers {
        origin: origin.to_owned(),
        message: error.to_string(),
    })?;
    table
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                toml::Value::String(text) => text,
                toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                    value.to_string()
                }
                other => {
                    return Err(GenError::Answers {
                        origin: origin.to_owned(),
                        message: format!("{key}: an answer is a string, not {}", other.type_str()),
                    });
                }
            };
            Ok((key, value))
        })
        .collect()
}

/// Reads answers as JSON lines: each line an object of `"question": "answer"`; later lines
/// override earlier ones.
pub fn from_json_lines(input: impl BufRead) -> Result<Answers, GenError> {
    let mut answers = Answers::new();
    for (number, line) in input.lines().enumerate() {
        let origin = || format!("stdin line {}", number + 1);
        let line = line.map_err(|error| GenError::Answers {
            origin: origin(),
            message: error.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line)
            .map_err(|error| GenError::Answers {
                origin: origin(),
                message: format!("not a JSON object: {error}"),
            })?;
        for (key, value) in object {
            let value = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
                _ => {
                    return Err(GenError::Answers {
                        origin: origin(),
                        message: format!("{key}: an answer is a string"),
                    });
                }
            };
            answers.insert(key, value);
        }
    }
    Ok(answers)
}

/// Every answer the template needs: `given` where it has one (checked), else from `asker`.
pub fn resolve(
    template: &Template,
    given: &Answers,
    asker: &mut dyn Asker,
) -> Result<Answers, GenError> {
    let questions = &template.manifest.questions;
    if let Some(unknown) = given
        .keys()
        .find(|key| !questions.iter().any(|q| &q.name == *key))
    {
        return Err(GenError::UnknownQuestion {
            question: unknown.clone(),
        });
    }
    let renderer = Renderer::new(template);
    let mut answers = Answers::new();
    for question in questions {
        let value = match given.get(&question.name) {
            Some(value) => value.clone(),
            None => {
                let default = question
                    .default
                    .as_deref()
                    .map(|source| {
                        let context = Value::from(variables(&answers));
                        renderer.string(
                            &format!("questions.{}.default", question.name),
                            source,
                            &context,
                        )
                    })
                    .transpose()?;
                asker.ask(question, default.as_deref())?
            }
        };
        check(question, &value)?;
        answers.insert(question.name.clone(), value);
    }
    Ok(answers)
}

/// Whether `question` accepts `value`.
fn check(question: &Question, value: &str) -> Result<(), GenError> {
    let invalid = |reason: String| GenError::InvalidAnswer {
        question: question.name.clone(),
        value: value.to_owned(),
        reason,
    };
    if !question.choices.is_empty() && !question.choices.iter().any(|choice| choice == value) {
        return Err(invalid(format!(
            "not one of {}",
            question.choices.join(", ")
        )));
    }
    if let Some(pattern) = &question.pattern {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|error| invalid(format!("the template's pattern is invalid: {error}")))?;
        if !regex.is_match(value) {
            return Err(invalid(format!("does not match {pattern}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Catalog;

    fn template() -> Template {
        Catalog::Embedded.get("spring-hexagonal").expect("template")
    }

    #[test]
    fn defaults_render_over_earlier_answers() {
        let given = from_toml("test", "app = \"tasker\"").expect("toml");
        let answers = resolve(&template(), &given, &mut Defaults).expect("resolved");
        assert_eq!(answers["package"], "org.example.tasker");
        assert_eq!(answers["owner"], "@tasker-team");
    }

    #[test]
    fn a_missing_answer_without_default_names_the_question() {
        let error = resolve(&template(), &Answers::new(), &mut Defaults).expect_err("missing");
        assert!(matches!(&error, GenError::MissingAnswer { question, .. } if question == "app"));
    }

    #[test]
    fn answers_are_checked() {
        for line in [
            r#"{"app":"Tasker"}"#,
            r#"{"app":"tasker","language":"cobol"}"#,
            r#"{"nope":"x"}"#,
        ] {
            let given = from_json_lines(line.as_bytes()).expect("json");
            assert!(
                resolve(&template(), &given, &mut Defaults).is_err(),
                "{line}"
            );
        }
    }

    #[test]
    fn json_lines_merge_and_bad_lines_say_where() {
        let given =
            from_json_lines("{\"app\":\"a\"}\n\n{\"app\":\"b\"}\n".as_bytes()).expect("json");
        assert_eq!(given["app"], "b");
        let error = from_json_lines("{}\n[1]\n".as_bytes()).expect_err("not an object");
        assert!(error.to_string().contains("stdin line 2"), "{error}");
    }
}
