//! `mc-gen`: projects generated from answers files, their own builds and guardrail tests, and
//! updates merged 3-way into projects their users edited.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use pipeline_tests::{Run, bin, require, run, workspace};
use serde_json::Value;

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
    let names: Vec<&Value> = listed
        .of_type("template")
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert_eq!(
        names,
        ["php-hexagonal", "python-hexagonal", "spring-hexagonal"]
    );
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
    mvn_with(project, args, &[])
}

/// Maven as [`mvn`], with `env` set for it and the test JVMs it forks.
fn mvn_with(project: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let repo = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("mc-gen-m2");
    // Maven 3.8 does not lock its local repository, and two builds downloading into it at once
    // (nextest runs tests in parallel) can break it: the tests' builds take turns.
    fs::create_dir_all(&repo).expect("the local repository's folder");
    let lock = fs::File::create(repo.with_extension("lock")).expect("the lock file");
    lock.lock().expect("the Maven lock");
    let mut mvn = Command::new("mvn");
    mvn.args(["-B", "-q", "-ntp"])
        .arg(format!("-Dmaven.repo.local={}", repo.display()))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(project);
    succeeded(&mut mvn)
}

/// Runs a project's own build or test command: whether it succeeded, and its stdout and stderr.
fn succeeded(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), log)
}

/// One JVM language of spring-hexagonal, and two forbidden dependencies written in it: an
/// insertion after `anchor` in the task domain (domain -> adapter) and in the note slice's
/// service (slice -> another slice's domain).
struct Language {
    name: &'static str,
    extension: &'static str,
    domain_edit: (&'static str, &'static str),
    slice_edit: (&'static str, &'static str),
}

const JAVA: Language = Language {
    name: "java",
    extension: "java",
    domain_edit: (
        "    /** This task, done. */",
        "    static Class<?> wiring() {\n        return dev.tasker.task.adapter.config.TaskConfiguration.class;\n    }\n\n",
    ),
    slice_edit: (
        "    @Override\n    public List<Note> all() {",
        "    public dev.tasker.task.domain.Task asTask(String title) {\n        return dev.tasker.task.domain.Task.open(title);\n    }\n\n",
    ),
};

/// Groovy reads the Java edits as they are.
const GROOVY: Language = Language {
    name: "groovy",
    extension: "groovy",
    ..JAVA
};

const KOTLIN: Language = Language {
    name: "kotlin",
    extension: "kt",
    domain_edit: (
        "    /** This task, done. */",
        "    fun wiring(): Class<*> = dev.tasker.task.adapter.config.TaskConfiguration::class.java\n\n",
    ),
    slice_edit: (
        "    override fun all(): List<Note>",
        "    fun asTask(title: String) = dev.tasker.task.domain.Task.open(title)\n\n",
    ),
};

/// Generates tasker in `language` with a second slice, runs `mvn verify` (green, every kind of
/// test ran), then adds both forbidden dependencies: the ArchUnit tests fail naming both rules.
fn builds_green_and_guardrails_name_the_broken_rules(language: &Language) {
    require("mvn", "maven");
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, _) = generate(dir.path(), "tasker", &["--language", language.name]);
    let project_arg = project.display().to_string();
    assert_eq!(mc_gen(&["add", "slice", "note", &project_arg], "").code, 0);
    let (green, log) = mvn(&project, &["verify"]);
    assert!(green, "mvn verify of the generated project: {log}");
    let reports = project.join("target/surefire-reports");
    for test in [
        "architecture.ArchitectureTest",
        "task.domain.TaskTest",
        "task.application.TaskServiceTest",
        "task.adapter.web.TaskControllerTest",
        "note.adapter.persistence.NoteIntegrationTest",
    ] {
        let report = reports.join(format!("TEST-dev.tasker.{test}.xml"));
        assert!(report.is_file(), "{test} ran");
    }

    let sources = project.join(format!("src/main/{}/dev/tasker", language.name));
    for (file, (anchor, insert)) in [
        (
            format!("task/domain/Task.{}", language.extension),
            language.domain_edit,
        ),
        (
            format!("note/application/NoteService.{}", language.extension),
            language.slice_edit,
        ),
    ] {
        replace_in(&sources.join(file), anchor, &format!("{insert}{anchor}"));
    }
    let only_guardrails = [
        "test",
        "-Dtest=ArchitectureTest",
        "-Dsurefire.failIfNoSpecifiedTests=false",
    ];
    let (green, log) = mvn(&project, &only_guardrails);
    assert_broken(
        green,
        &log,
        &[
            "Rule 'hexagon: a domain depends on nothing but the JDK and its own slice's domain' was violated",
            "Rule 'slices: no slice depends on another slice's classes' was violated",
            "dev.tasker.task.adapter.config.TaskConfiguration",
        ],
    );
}

/// The guardrails' run failed, and its output names each of `expected` (rules, classes).
fn assert_broken(green: bool, log: &str, expected: &[&str]) {
    assert!(!green, "the guardrails fail: {log}");
    for text in expected {
        assert!(log.contains(text), "{text}: {log}");
    }
}

#[test]
fn slow_spring_hexagonal_java_builds_green_and_its_guardrails_name_the_broken_rules() {
    builds_green_and_guardrails_name_the_broken_rules(&JAVA);
}

#[test]
fn slow_spring_hexagonal_groovy_builds_green_and_its_guardrails_name_the_broken_rules() {
    builds_green_and_guardrails_name_the_broken_rules(&GROOVY);
}

#[test]
fn slow_spring_hexagonal_kotlin_builds_green_and_its_guardrails_name_the_broken_rules() {
    builds_green_and_guardrails_name_the_broken_rules(&KOTLIN);
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

/// Debian's PostgreSQL server, started for one test on 127.0.0.1 in a folder of its own and
/// stopped when dropped. initdb refuses root: as root it runs as `nobody`.
struct Postgres {
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Postgres {
    fn command(&self, tool: &str) -> Command {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        let program = self.bin.join(tool);
        if root {
            let mut setpriv = Command::new("setpriv");
            setpriv
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(program);
            setpriv
        } else {
            Command::new(program)
        }
    }

    fn start(user: &str) -> Self {
        let versions = fs::read_dir("/usr/lib/postgresql")
            .expect("postgresql is installed: apt-get install postgresql (see .ci/run)");
        let mut bins: Vec<PathBuf> = versions
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        bins.sort();
        let bin = bins
            .pop()
            .expect("a PostgreSQL server version in /usr/lib/postgresql");
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).expect("chown to nobody");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Self {
            data: dir.path().join("data"),
            bin,
            port,
            _dir: dir,
        };
        let initdb = server
            .command("initdb")
            .arg("-D")
            .arg(&server.data)
            .args(["-U", user, "--auth=trust", "-E", "UTF8"])
            .output()
            .expect("initdb");
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {}",
            server.data.display()
        );
        let started = server
            .command("pg_ctl")
            .arg("-D")
            .arg(&server.data)
            .args(["-o", &options, "-w", "-l"])
            .arg(server.data.join("log"))
            .arg("start")
            .output()
            .expect("pg_ctl");
        assert!(
            started.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        server
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn slow_spring_hexagonal_integration_tests_pass_on_postgresql() {
    require("mvn", "maven");
    let postgres = Postgres::start("tasker");
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, _) = generate(dir.path(), "tasker", &[]);
    let url = format!("jdbc:postgresql://127.0.0.1:{}/postgres", postgres.port);
    let env = [
        ("TEST_DATABASE_URL", url.as_str()),
        ("TEST_DATABASE_USER", "tasker"),
    ];
    let (green, log) = mvn_with(&project, &["test", "-Dtest=*IntegrationTest"], &env);
    assert!(green, "the integration test on PostgreSQL: {log}");
    let history = Command::new(postgres.bin.join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &postgres.port.to_string(),
            "-U",
            "tasker",
            "-d",
            "postgres",
            "-tAc",
        ])
        .arg("SELECT count(*) FROM flyway_schema_history WHERE success")
        .output()
        .expect("psql");
    assert_eq!(
        String::from_utf8_lossy(&history.stdout).trim(),
        "1",
        "Flyway migrated PostgreSQL: {history:?}"
    );
}

/// A virtual environment with the generated Python project's requirements, shared by the runs
/// under target/ (pip's own cache keeps the downloads).
fn python_venv(requirements: &Path) -> PathBuf {
    require("python3", "python3-venv");
    let venv = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("mc-gen-venv");
    if !venv.join("bin/pip").exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv");
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "-r"])
        .arg(requirements)
        .output()
        .expect("pip");
    assert!(
        installed.status.success(),
        "pip install: {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    venv
}

#[test]
fn slow_python_hexagonal_tests_pass_and_import_contracts_name_the_broken_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("tasker");
    let out_arg = out.display().to_string();
    let answers = "{\"app\":\"tasker\",\"slice\":\"task\",\"owner\":\"@tasker-devs\"}\n";
    let generated = mc_gen(&["new", "python-hexagonal", "--out", &out_arg], answers);
    assert_eq!(generated.code, 0, "{generated:?}");
    assert_eq!(mc_gen(&["add", "slice", "note", &out_arg], "").code, 0);
    let venv = python_venv(&out.join("requirements.txt"));
    let pytest = |only: &[&str]| {
        succeeded(
            Command::new(venv.join("bin/python"))
                .args(["-m", "pytest", "-v", "-p", "no:cacheprovider"])
                .args(only)
                .current_dir(&out),
        )
    };
    let (green, log) = pytest(&[]);
    assert!(green, "pytest of the generated project: {log}");
    for test in [
        "test_import_contracts_are_kept",
        "test_a_blank_title_is_refused",
        "test_post_opens_a_note",
        "test_an_opened_task_is_listed_and_can_be_completed",
    ] {
        assert!(log.contains(&format!("::{test} PASSED")), "{test}: {log}");
    }

    // domain -> adapter, and slice -> another slice's domain.
    let src = out.join("src/tasker");
    let anchor = "from dataclasses import dataclass, replace\n";
    replace_in(
        &src.join("task/domain.py"),
        anchor,
        &format!("{anchor}\nfrom tasker.task.adapter import web\n"),
    );
    let anchor = "from .domain import Note\n";
    replace_in(
        &src.join("note/application.py"),
        anchor,
        &format!("{anchor}from tasker.task.domain import Task\n"),
    );
    // The guardrails alone after the forbidden imports: a domain importing its adapter is an
    // import cycle too, which would stop the other test files from loading.
    let (green, log) = pytest(&["tests/test_architecture.py"]);
    assert_broken(
        green,
        &log,
        &[
            "hexagon: adapter above application above domain, never upwards BROKEN",
            "hexagon: a domain and its application import no framework BROKEN",
            "slices: no slice imports another slice BROKEN",
            "tasker.note is not allowed to import tasker.task",
        ],
    );
}

#[test]
fn php_hexagonal_tests_pass_and_the_layer_rules_name_the_broken_rules() {
    require("phpunit", "phpunit");
    let dir = tempfile::tempdir().expect("tempdir");
    let answers = dir.path().join("answers.toml");
    fs::write(&answers, "app = \"tasker\"\nowner = \"@tasker-devs\"\n").expect("answers");
    let out = dir.path().join("tasker");
    let (out_arg, answers_arg) = (out.display().to_string(), answers.display().to_string());
    let generated = mc_gen(
        &[
            "new",
            "php-hexagonal",
            "--out",
            &out_arg,
            "--answers",
            &answers_arg,
        ],
        "",
    );
    assert_eq!(generated.code, 0, "{generated:?}");
    assert_eq!(mc_gen(&["add", "slice", "note", &out_arg], "").code, 0);
    let phpunit = || succeeded(Command::new("phpunit").arg("--testdox").current_dir(&out));
    let (green, log) = phpunit();
    assert!(green, "phpunit of the generated project: {log}");
    for test in [
        "A domain uses nothing but its own domain",
        "Slices are independent",
        "Post opens a note",
        "An opened task is listed and can be completed",
    ] {
        assert!(log.contains(&format!("✔ {test}")), "{test}: {log}");
    }

    // domain -> adapter, and slice -> another slice's domain.
    let anchor = "namespace Tasker\\Task\\Domain;\n";
    replace_in(
        &out.join("src/Task/Domain/Task.php"),
        anchor,
        &format!("{anchor}\nuse Tasker\\Task\\Adapter\\Web\\TaskController;\n"),
    );
    let anchor = "use Tasker\\Note\\Domain\\Note;\n";
    replace_in(
        &out.join("src/Note/Application/NoteService.php"),
        anchor,
        &format!("{anchor}use Tasker\\Task\\Domain\\Task;\n"),
    );
    let (green, log) = phpunit();
    assert_broken(
        green,
        &log,
        &[
            "Rule 'hexagon: a domain depends on nothing but PHP and its own slice's domain' was violated",
            "Task.php uses Tasker\\Task\\Adapter\\Web\\TaskController",
            "Rule 'slices: no slice depends on another slice's classes' was violated",
            "NoteService.php uses Tasker\\Task\\Domain\\Task",
        ],
    );
}

#[test]
fn slow_spring_hexagonal_frontend_component_tests_pass() {
    require("npm", "npm");
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, _) = generate(dir.path(), "tasker", &[]);
    let project_arg = project.display().to_string();
    assert_eq!(mc_gen(&["add", "slice", "note", &project_arg], "").code, 0);
    let frontend = project.join("frontend");
    let (installed, log) = succeeded(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&frontend),
    );
    assert!(installed, "npm install: {log}");
    let (green, log) = succeeded(
        Command::new("npx")
            .args(["vitest", "run", "--reporter=verbose"])
            .env("NO_COLOR", "1")
            .current_dir(&frontend),
    );
    assert!(green, "vitest: {log}");
    for slice in ["task", "note"] {
        let test =
            format!("lists the {slice}s the API returns, with a Done button for the open ones");
        assert!(log.contains(&test), "{test}: {log}");
    }
}
