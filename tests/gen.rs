//! `mc-gen`: projects generated from answers files, their own builds and guardrail tests, and
//! updates merged 3-way into projects their users edited.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use pipeline_tests::{Run, bin, require, run, workspace};

const ANSWERS: &str = "app = \"tasker\"\npackage = \"dev.tasker\"\nlanguage = \"java\"\nslice = \"task\"\nowner = \"@tasker-devs\"\n";

fn mc_gen(args: &[&str], stdin: &str) -> Run {
    run(&bin("mc-gen"), args, stdin)
}

/// Every file under `dir`, by relative path, but mc-gen's own memory.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, files: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, base, files);
            } else {
                let relative = path
                    .strip_prefix(base)
                    .expect("inside")
                    .display()
                    .to_string();
                files.insert(relative, fs::read_to_string(&path).expect("text"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files.retain(|path, _| !path.starts_with(".mc-gen"));
    files
}

/// `mc-gen new spring-hexagonal` into `DIR/name` from the answers file; its records.
fn generate(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Run) {
    let answers = dir.join("answers.toml");
    fs::write(&answers, ANSWERS).expect("answers");
    let out = dir.join(name);
    let (answers, out_arg) = (answers.display().to_string(), out.display().to_string());
    let mut args = vec![
        "new",
        "spring-hexagonal",
        "--out",
        &out_arg,
        "--answers",
        &answers,
    ];
    args.extend(extra);
    let generated = mc_gen(&args, "");
    assert_eq!(generated.code, 0, "{generated:?}");
    (out, generated)
}

#[test]
fn new_writes_one_record_per_file_and_remembers_the_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, generated) = generate(dir.path(), "tasker", &[]);
    let files = tree(&out);
    let recorded: Vec<&str> = generated
        .of_type("generated")
        .iter()
        .map(|r| r["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        recorded,
        files.keys().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        generated
            .of_type("generated")
            .iter()
            .all(|r| r["action"] == "created")
    );
    assert_eq!(generated.count("created"), files.len() as u64);
    assert!(files.contains_key("src/main/java/dev/tasker/task/domain/Task.java"));
    assert!(files[".github/CODEOWNERS"].contains("/src/**/dev/tasker/task/\t@tasker-devs"));
    let project: toml::Table =
        toml::from_str(&fs::read_to_string(out.join(".mc-gen.toml")).expect("project file"))
            .expect("TOML");
    assert_eq!(project["template"].as_str(), Some("spring-hexagonal"));
    assert_eq!(project["answers"]["package"].as_str(), Some("dev.tasker"));
    assert_eq!(project["slices"].as_array().map(Vec::len), Some(1));
    let script = fs::metadata(out.join("scripts/check-commit-msg")).expect("script");
    assert_ne!(
        std::os::unix::fs::PermissionsExt::mode(&script.permissions()) & 0o111,
        0
    );

    // The same answers as JSON lines on stdin make the same project.
    let json = dir.path().join("json");
    let json_arg = json.display().to_string();
    let lines = "{\"app\":\"tasker\",\"package\":\"dev.tasker\"}\n{\"owner\":\"@tasker-devs\"}\n";
    let from_stdin = mc_gen(&["new", "spring-hexagonal", "--out", &json_arg], lines);
    assert_eq!(from_stdin.code, 0, "{from_stdin:?}");
    assert_eq!(tree(&json), files);

    // new never writes into a folder that has files.
    let again = mc_gen(&["new", "spring-hexagonal", "--out", &json_arg], lines);
    assert_eq!(again.code, 2, "{again:?}");
}

#[test]
fn a_missing_answer_without_a_terminal_exits_2_naming_the_question() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("p").display().to_string();
    let missing = mc_gen(
        &["new", "spring-hexagonal", "--out", &out],
        "{\"package\":\"dev.x\"}\n",
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("\"app\""), "{}", missing.stderr);
    assert!(!dir.path().join("p").exists(), "nothing written");
    let refused = mc_gen(
        &[
            "new",
            "spring-hexagonal",
            "--out",
            &out,
            "--set",
            "app=Bad Name",
        ],
        "",
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("app"), "{}", refused.stderr);
    let listed = mc_gen(&["list"], "");
    assert_eq!(listed.of_type("template")[0]["name"], "spring-hexagonal");
    let shown = mc_gen(&["show", "spring-hexagonal"], "");
    let questions = shown.of_type("template")[0]["questions"].clone();
    assert_eq!(questions[0]["name"], "app");
    assert_eq!(mc_gen(&["show", "nope"], "").code, 2);
}

/// Copies the built-in spring-hexagonal template into `DIR/templates/`, as version `version`,
/// with `edit` applied to its files.
fn template_copy(dir: &Path, version: &str, edit: impl Fn(&Path)) -> PathBuf {
    let root = dir.join(format!("templates-{version}"));
    let status = Command::new("cp")
        .arg("-r")
        .arg(workspace().join("mc-gen/templates"))
        .arg(&root)
        .status()
        .expect("cp");
    assert!(status.success());
    let template = root.join("spring-hexagonal");
    let manifest = template.join("template.toml");
    let text = fs::read_to_string(&manifest).expect("manifest");
    fs::write(
        &manifest,
        text.replace("version = \"1\"", &format!("version = \"{version}\"")),
    )
    .expect("manifest");
    edit(&template);
    root
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).expect("readable");
    assert!(text.contains(from), "{} holds {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).expect("writable");
}

#[test]
fn update_keeps_user_edits_applies_template_changes_and_lists_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v1 = template_copy(dir.path(), "1", |_| {});
    let v1_arg = v1.display().to_string();
    let (project, _) = generate(dir.path(), "tasker", &["--templates", &v1_arg]);

    // The user edits: a line of the README the template will not touch, the pom's description
    // (which the template will change too), and the domain.
    replace_in(
        &project.join("README.md"),
        "## Grow it",
        "## Grow it (our way)",
    );
    let pom = project.join("pom.xml");
    replace_in(
        &pom,
        "(generated by mc-gen)</description>",
        "for our team</description>",
    );
    let task = project.join("src/main/java/dev/tasker/task/domain/Task.java");
    replace_in(
        &task,
        "    /** This task, done. */",
        "    /** Reopened by the user. */\n    public Task reopen() {\n        return new Task(id, title, false);\n    }\n\n    /** This task, done. */",
    );
    let user_task = fs::read_to_string(&task).expect("task");

    // Version 2 of the template changes the README's first paragraph, the pom's description,
    // and adds an ADR.
    let v2 = template_copy(dir.path(), "2", |template| {
        let common = template.join("common/project");
        replace_in(
            &common.join("README.md"),
            "Generated by",
            "Generated (template version 2) by",
        );
        replace_in(
            &template.join("java/project/pom.xml"),
            "(generated by mc-gen)</description>",
            "(mc-gen, v2)</description>",
        );
        fs::write(
            common.join("docs/adr/0005-observability.md"),
            "# 5. Observability for {{ app }}\n",
        )
        .expect("adr");
    });
    let project_arg = project.display().to_string();
    let v2_arg = v2.display().to_string();
    let wrong = mc_gen(
        &["update", &project_arg, "--templates", &v2_arg, "--to", "3"],
        "",
    );
    assert_eq!(wrong.code, 2, "{wrong:?}");
    let updated = mc_gen(
        &["update", &project_arg, "--templates", &v2_arg, "--to", "2"],
        "",
    );
    assert_eq!(updated.code, 1, "a conflict is left: {updated:?}");
    let action = |path: &str| {
        updated
            .of_type("generated")
            .iter()
            .find(|r| r["path"] == path)
            .map(|r| r["action"].as_str().expect("action").to_owned())
            .unwrap_or_else(|| panic!("no record of {path}: {updated:?}"))
    };
    assert_eq!(action("README.md"), "merged");
    let readme = fs::read_to_string(project.join("README.md")).expect("readme");
    assert!(
        readme.contains("Generated (template version 2) by")
            && readme.contains("## Grow it (our way)"),
        "{readme}"
    );
    assert_eq!(action("pom.xml"), "conflict");
    let pom_text = fs::read_to_string(&pom).expect("pom");
    assert!(
        pom_text.contains("<<<<<<<")
            && pom_text.contains("for our team")
            && pom_text.contains("(mc-gen, v2)"),
        "{pom_text}"
    );
    let conflict = updated
        .of_type("generated")
        .into_iter()
        .find(|r| r["path"] == "pom.xml")
        .expect("pom record");
    assert_eq!(conflict["conflicts"], 1);
    assert_eq!(action("docs/adr/0005-observability.md"), "created");
    assert_eq!(
        action("src/main/java/dev/tasker/task/domain/Task.java"),
        "unchanged"
    );
    assert_eq!(fs::read_to_string(&task).expect("task"), user_task);
    assert_eq!(updated.count("conflict"), 1);
    let remembered = fs::read_to_string(project.join(".mc-gen.toml")).expect("project file");
    assert!(remembered.contains("version = \"2\""), "{remembered}");
}

#[test]
fn add_slice_renders_a_slice_and_merges_the_shared_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, _) = generate(dir.path(), "tasker", &[]);
    let codeowners = project.join(".github/CODEOWNERS");
    replace_in(&codeowners, "*\t@tasker-devs", "*\t@tasker-devs @lead");
    let project_arg = project.display().to_string();
    let added = mc_gen(&["add", "slice", "note", &project_arg], "");
    assert_eq!(added.code, 0, "{added:?}");
    for path in [
        "src/main/java/dev/tasker/note/domain/Note.java",
        "src/main/java/dev/tasker/note/adapter/web/NoteController.java",
        "src/test/java/dev/tasker/note/application/NoteServiceTest.java",
        "src/main/resources/db/migration/V2__create_note.sql",
    ] {
        assert!(
            added
                .of_type("generated")
                .iter()
                .any(|r| r["path"] == path && r["action"] == "created"),
            "{path}: {added:?}"
        );
    }
    let owners = fs::read_to_string(&codeowners).expect("codeowners");
    assert!(
        owners.contains("@lead") && owners.contains("/dev/tasker/note/\t@tasker-devs"),
        "{owners}"
    );
    assert_eq!(
        mc_gen(&["add", "slice", "note", &project_arg], "").code,
        2,
        "twice"
    );
    assert_eq!(
        mc_gen(&["add", "slice", "Bad", &project_arg], "").code,
        2,
        "refused name"
    );
}

/// Maven with one local repository for every test run, kept under target/ (CI downloads it
/// from Maven Central once per fresh checkout).
fn mvn(project: &Path, args: &[&str]) -> (bool, String) {
    let repo = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("mc-gen-m2");
    let output = Command::new("mvn")
        .args(["-B", "-q", "-ntp"])
        .arg(format!("-Dmaven.repo.local={}", repo.display()))
        .args(args)
        .current_dir(project)
        .output()
        .expect("mvn runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn slow_spring_hexagonal_java_builds_green_and_its_guardrails_name_the_broken_rules() {
    require("mvn", "maven");
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, _) = generate(dir.path(), "tasker", &[]);
    let project_arg = project.display().to_string();
    assert_eq!(mc_gen(&["add", "slice", "note", &project_arg], "").code, 0);
    let (green, log) = mvn(&project, &["verify"]);
    assert!(green, "mvn verify of the generated project: {log}");
    let reports = project.join("target/surefire-reports");
    for test in [
        "architecture.ArchitectureTest",
        "task.domain.TaskTest",
        "task.adapter.web.TaskControllerTest",
        "note.adapter.persistence.NoteIntegrationTest",
    ] {
        assert!(
            reports
                .join(format!("TEST-dev.tasker.{test}.xml"))
                .is_file(),
            "{test} ran"
        );
    }

    // domain -> adapter, and slice -> another slice's internals.
    let task = project.join("src/main/java/dev/tasker/task/domain/Task.java");
    replace_in(
        &task,
        "    /** This task, done. */",
        "    static Class<?> wiring() {\n        return dev.tasker.task.adapter.config.TaskConfiguration.class;\n    }\n\n    /** This task, done. */",
    );
    let note = project.join("src/main/java/dev/tasker/note/application/NoteService.java");
    replace_in(
        &note,
        "    @Override\n    public List<Note> all() {",
        "    public dev.tasker.task.domain.Task asTask(String title) {\n        return dev.tasker.task.domain.Task.open(title);\n    }\n\n    @Override\n    public List<Note> all() {",
    );
    let (green, log) = mvn(
        &project,
        &[
            "test",
            "-Dtest=ArchitectureTest",
            "-Dsurefire.failIfNoSpecifiedTests=false",
        ],
    );
    assert!(!green, "the guardrails fail: {log}");
    for rule in [
        "Rule 'hexagon: a domain depends on nothing but the JDK and its own slice's domain' was violated",
        "Rule 'slices: no slice depends on another slice's classes' was violated",
    ] {
        assert!(log.contains(rule), "{rule}: {log}");
    }
    assert!(
        log.contains("dev.tasker.task.adapter.config.TaskConfiguration"),
        "names the class: {log}"
    );
}

/// A tmux session on its own socket, ended when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-S").arg(&self.socket);
        command
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "gen"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits (up to a minute: a loaded machine is slow, and this is no timing check) until the
    /// screen shows `text`, then types `keys` and Enter.
    fn answer(&self, text: &str, keys: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !self.screen().contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "no prompt {text:?} on the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if !keys.is_empty() {
            let typed = self
                .command()
                .args(["send-keys", "-t", "gen", "-l", keys])
                .status()
                .expect("send-keys");
            assert!(typed.success());
        }
        let entered = self
            .command()
            .args(["send-keys", "-t", "gen", "Enter"])
            .status()
            .expect("send-keys");
        assert!(entered.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The server is usually gone already: the session ended with mc-gen.
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn prompts_on_a_terminal_make_the_same_project_as_the_answers_file() {
    require("tmux", "tmux");
    let dir = tempfile::tempdir().expect("tempdir");
    let (from_file, _) = generate(dir.path(), "from-file", &[]);
    let out = dir.path().join("interactive");
    let done = dir.path().join("exit-status");
    let tmux = Tmux {
        socket: dir.path().join("tmux.socket"),
    };
    let script = format!(
        "{} new spring-hexagonal --out {} >/dev/null; echo $? > {}",
        bin("mc-gen").display(),
        out.display(),
        done.display()
    );
    let started = tmux
        .command()
        .args([
            "new-session",
            "-d",
            "-s",
            "gen",
            "-x",
            "160",
            "-y",
            "40",
            &script,
        ])
        .status()
        .expect("tmux");
    assert!(started.success());
    tmux.answer("Application name", "tasker");
    tmux.answer("Base package", "dev.tasker");
    tmux.answer("JVM language", "");
    tmux.answer("First vertical slice", "");
    tmux.answer("Code owner", "@tasker-devs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "mc-gen did not end:\n{}",
            tmux.screen()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        fs::read_to_string(&done).expect("status").trim(),
        "0",
        "{}",
        tmux.screen()
    );
    assert_eq!(tree(&out), tree(&from_file));
    let remembered =
        |dir: &Path| fs::read_to_string(dir.join(".mc-gen.toml")).expect("project file");
    assert_eq!(remembered(&out), remembered(&from_file));
}
