//! `mc-fetch aur` against a loopback AUR: an RPC answering v5 `info` and `search` from a small
//! package table with aurweb's field names and envelope, and git repositories made here, read
//! through `file://` URLs.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
};

use minicluster::record::Timestamp;
use pipeline_tests::{Run, bin, require, run};
use serde_json::{Value, json};
use xtask::serve::{Fault, MirrorServer, Reply};

/// A package as aurweb's `info` describes it; lists that are empty are left out, as aurweb does.
fn package(name: &str, base: &str, lists: &[(&str, &[&str])]) -> Value {
    let mut package = json!({
        "ID": name.len(), "Name": name, "PackageBaseID": base.len(), "PackageBase": base,
        "Version": "1.2.3-1", "Description": format!("{name}, for tests"),
        "URL": format!("https://example.org/{name}"),
        "URLPath": format!("/cgit/aur.git/snapshot/{base}.tar.gz"),
        "NumVotes": 7, "Popularity": 0.25, "OutOfDate": null, "Maintainer": "alice",
        "Submitter": "bob", "FirstSubmitted": 1_600_000_000, "LastModified": 1_700_000_000,
        "License": ["MIT"], "Keywords": [], "PendingRequests": 0,
    });
    for (field, values) in lists {
        package[*field] = json!(values);
    }
    package
}

/// The AUR the tests ask: packages for dependencies (with a cycle), a split package, a base
/// name that climbs out of the work folder, and `batch-*` names to fill several requests.
fn table() -> Vec<Value> {
    let mut table = vec![
        package(
            "app",
            "app",
            &[
                ("Depends", &["libfoo>=1.0", "glibc", "sh"]),
                ("MakeDepends", &["cmake", "helper-git"]),
                ("CheckDepends", &["ghost"]),
                ("OptDepends", &["zsh: completion"]),
                ("CoMaintainers", &["carol"]),
                ("Keywords", &["demo"]),
            ],
        ),
        package("libfoo", "libfoo", &[("Depends", &["libbar"])]),
        package(
            "libbar",
            "libbar",
            &[("Depends", &["libfoo=1.0", "helper"])],
        ),
        package("helper-git", "helper", &[("Provides", &["helper=9"])]),
        package("python-split-a", "split", &[]),
        package("python-split-b", "split", &[]),
        package("evil", "../evil", &[]),
    ];
    table.extend((0..300).map(|i| {
        let name = format!("batch-package-number-{i:04}");
        package(&name, &name, &[])
    }));
    table
}

/// The query parameters of a request target, decoded.
fn query(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map_or("", |(_, query)| query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), decode(value)))
        .collect()
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn envelope(kind: &str, results: Vec<Value>) -> Reply {
    let body =
        json!({"version": 5, "type": kind, "resultcount": results.len(), "results": results});
    Reply::json(body.to_string())
}

fn rpc_error(message: &str) -> Reply {
    let body =
        json!({"version": 5, "type": "error", "resultcount": 0, "results": [], "error": message});
    Reply::json(body.to_string())
}

/// aurweb's answer to one RPC request.
fn answer(table: &[Value], target: &str) -> Reply {
    let path = target.split('?').next().unwrap_or_default();
    // aurweb's front end refuses long request lines.
    if target.len() > 4096 {
        return Reply {
            status: 414,
            ..Reply::json("")
        };
    }
    if path == "/rpc/v5/info" {
        let names: Vec<String> = query(target)
            .into_iter()
            .filter(|(key, _)| key == "arg[]")
            .map(|(_, value)| value)
            .collect();
        let found = table
            .iter()
            .filter(|p| names.iter().any(|n| p["Name"] == **n));
        return envelope("multiinfo", found.cloned().collect());
    }
    let Some(term) = path.strip_prefix("/rpc/v5/search/").map(decode) else {
        return Reply {
            status: 404,
            ..Reply::json("")
        };
    };
    let by = query(target)
        .into_iter()
        .find(|(key, _)| key == "by")
        .map_or_else(|| "name-desc".to_owned(), |(_, value)| value);
    if term.len() < 2 && by != "maintainer" {
        return rpc_error("Query arg too small.");
    }
    let relation = |p: &Value, field: &str| {
        p[field].as_array().is_some_and(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .any(|v| v.split(['<', '>', '=']).next() == Some(term.as_str()))
        })
    };
    let text = |p: &Value, field: &str| p[field].as_str().is_some_and(|v| v.contains(&term));
    let results = table
        .iter()
        .filter(|p| match by.as_str() {
            "name" => text(p, "Name"),
            "name-desc" => text(p, "Name") || text(p, "Description"),
            "maintainer" => p["Maintainer"] == *term,
            "depends" => relation(p, "Depends"),
            "provides" => relation(p, "Provides") || p["Name"] == *term,
            _ => false,
        })
        .map(|p| {
            // Search results carry neither lists nor the submitter.
            let mut p = p.clone();
            let object = p.as_object_mut().expect("packages are objects");
            object.retain(|key, value| !value.is_array() && key != "Submitter");
            object.remove("PendingRequests");
            p
        })
        .collect();
    envelope("search", results)
}

/// Hostile bodies, served under `/hostile/NAME/rpc/...`.
fn hostile(name: &str) -> Reply {
    let body: String = match name {
        "html" => "<html><body>Welcome to nginx!</body></html>".into(),
        "empty" => String::new(),
        "types" => r#"{"version":5,"type":"multiinfo","resultcount":1,"results":[{"Name":["a"],"PackageBase":1,"Version":null}]}"#.into(),
        "lists" => r#"{"version":5,"type":"multiinfo","resultcount":1,"results":[{"Name":"a","PackageBase":"a","Version":"1","Depends":"glibc"}]}"#.into(),
        "count" => r#"{"version":5,"type":"multiinfo","resultcount":18446744073709551615,"results":[]}"#.into(),
        "float_count" => r#"{"version":5,"type":"multiinfo","resultcount":1e300,"results":[]}"#.into(),
        "other_type" => r#"{"version":5,"type":"search","resultcount":0,"results":[]}"#.into(),
        "deep" => "[".repeat(200_000),
        "array" => "[1,2,3]".into(),
        _ => "null".into(),
    };
    Reply::json(body)
}

/// The loopback AUR, its package table, and every RPC request target it was sent.
struct Aur {
    _dir: tempfile::TempDir,
    server: MirrorServer,
    table: Arc<Mutex<Vec<Value>>>,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Aur {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = MirrorServer::start(dir.path(), "127.0.0.1:0").expect("server");
        let targets: Arc<Mutex<Vec<String>>> = Arc::default();
        let table = Arc::new(Mutex::new(table()));
        let (log, packages) = (Arc::clone(&targets), Arc::clone(&table));
        server.route("/rpc/", move |target| {
            log.lock().expect("log").push(target.to_owned());
            answer(&packages.lock().expect("table"), target)
        });
        server.route("/hostile/", |target| {
            hostile(target.split('/').nth(2).unwrap_or_default())
        });
        Self {
            _dir: dir,
            server,
            table,
            targets,
        }
    }

    /// Hands every package of `base` to `maintainer` (`None`: orphans them), changed at
    /// `last_modified`, as adopting or disowning does on the AUR.
    fn set_maintainer(&self, base: &str, maintainer: Option<&str>, last_modified: i64) {
        let mut table = self.table.lock().expect("table");
        for package in table.iter_mut().filter(|p| p["PackageBase"] == base) {
            package["Maintainer"] = json!(maintainer);
            package["LastModified"] = json!(last_modified);
        }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    fn info_targets(&self) -> Vec<String> {
        let targets = self.targets.lock().expect("log");
        targets
            .iter()
            .filter(|t| t.starts_with("/rpc/v5/info"))
            .cloned()
            .collect()
    }

    /// `mc-fetch aur ARGS --aur-url URL`, with `stdin`.
    fn fetch(&self, args: &[&str], stdin: &str) -> Run {
        let mut args = args.to_vec();
        let url = self.url();
        args.extend(["--aur-url", &url, "--retries", "1"]);
        let mut full = vec!["aur"];
        full.extend(args);
        run(&bin("mc-fetch"), &full, stdin)
    }
}

fn names(records: &[&Value]) -> Vec<String> {
    let mut names: Vec<String> = records
        .iter()
        .map(|r| {
            r["name"]
                .as_str()
                .or(r["base"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn info_asks_in_batches_and_maps_every_field() {
    let aur = Aur::start();
    let mut wanted: Vec<String> = (0..300)
        .map(|i| format!("batch-package-number-{i:04}"))
        .collect();
    wanted.extend([
        "app".to_owned(),
        "no-such-package".to_owned(),
        "app".to_owned(),
    ]);
    let mut args = vec!["info"];
    args.extend(wanted.iter().map(String::as_str));
    let run = aur.fetch(&args, "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.of_type("aur_package").len(), 301);
    let error = run.of_type("error")[0];
    assert_eq!(
        (&error["kind"], &error["subject"]["name"], &error["tool"]),
        (
            &json!("not_found"),
            &json!("no-such-package"),
            &json!("mc-fetch")
        )
    );
    let targets = aur.info_targets();
    assert!(targets.len() >= 3, "{} requests", targets.len());
    assert!(
        targets.iter().all(|t| t.len() <= 4000),
        "every URL stays short"
    );
    let app = run
        .of_type("aur_package")
        .into_iter()
        .find(|p| p["name"] == "app")
        .expect("app");
    let expected = json!({
        "type": "aur_package", "name": "app", "base": "app", "version": "1.2.3-1",
        "desc": "app, for tests", "url_upstream": "https://example.org/app",
        "maintainer": "alice", "submitter": "bob", "co_maintainers": ["carol"], "votes": 7,
        "popularity": 0.25, "out_of_date_at": null, "first_submitted_at": "2020-09-13T12:26:40Z",
        "last_modified_at": "2023-11-14T22:13:20Z", "url_path": "/cgit/aur.git/snapshot/app.tar.gz",
        "depends": ["libfoo>=1.0", "glibc", "sh"], "makedepends": ["cmake", "helper-git"],
        "checkdepends": ["ghost"], "optdepends": ["zsh: completion"], "provides": [],
        "conflicts": [], "replaces": [], "groups": [], "licenses": ["MIT"], "keywords": ["demo"],
    });
    assert_eq!(*app, expected);
}

#[test]
fn search_finds_by_field_and_an_rpc_error_is_an_error_record() {
    let aur = Aur::start();
    let run = aur.fetch(&["search", "--by", "depends", "libbar"], "");
    assert_eq!(
        (run.code, names(&run.of_type("aur_package"))),
        (0, vec!["libfoo".to_owned()])
    );
    let found = run.of_type("aur_package")[0];
    assert_eq!(
        (&found["depends"], &found["submitter"]),
        (&json!([]), &Value::Null)
    );
    let run = aur.fetch(&["search", "split"], "");
    assert_eq!(
        names(&run.of_type("aur_package")),
        ["python-split-a", "python-split-b"]
    );
    let run = aur.fetch(&["search", "x"], "");
    assert_eq!(
        (run.code, run.error_kinds()),
        (1, vec!["aur_error".to_owned()])
    );
    let error = run.of_type("error")[0];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("Query arg too small."))
    );
    assert_eq!(error["subject"], json!({"term": "x", "by": "name-desc"}));
}

#[test]
fn hostile_answers_are_error_records() {
    let aur = Aur::start();
    let hostile = [
        "html",
        "empty",
        "types",
        "lists",
        "count",
        "float_count",
        "other_type",
        "deep",
        "array",
        "null",
    ];
    for name in hostile {
        let url = format!("{}/hostile/{name}", aur.url());
        let run = run(
            &bin("mc-fetch"),
            &["aur", "info", "a", "b", "--aur-url", &url],
            "",
        );
        assert_eq!(
            (run.code, run.error_kinds()),
            (1, vec!["bad_aur_answer".to_owned()]),
            "{name}: {run:?}"
        );
        assert_eq!(
            run.of_type("error")[0]["subject"]["names"],
            json!(["a", "b"])
        );
        let run = run_search(&url);
        assert!(run.code <= 1, "{name}: {run:?}");
    }
    aur.server
        .fail("/rpc/v5/info", &[Fault::Status(503), Fault::Truncate]);
    let run = aur.fetch(&["info", "app"], "");
    assert_eq!(
        (run.code, run.error_kinds()),
        (1, vec!["http_status".to_owned()])
    );
    let run = aur.fetch(&["info", "app"], "");
    assert_eq!(
        (run.code, run.error_kinds()),
        (1, vec!["download_failed".to_owned()])
    );
    let run = aur.fetch(&["info", "app"], "");
    assert_eq!(run.code, 0, "the AUR is back");
}

fn run_search(url: &str) -> Run {
    run(
        &bin("mc-fetch"),
        &["aur", "search", "abc", "--aur-url", url],
        "",
    )
}

/// Git repositories made here, one per package base, served as `file://` URLs.
struct Upstream {
    dir: tempfile::TempDir,
}

impl Upstream {
    fn new() -> Self {
        require("git", "git");
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `--git-url` for these repositories.
    fn template(&self) -> String {
        format!("file://{}/{{base}}", self.dir.path().display())
    }

    /// Commits `files` (name, content) to `repo`, creating it; returns the commit.
    fn commit(&self, repo: &str, branch: &str, files: &[(&str, &str)]) -> String {
        let dir = self.dir.path().join(repo);
        if dir.exists() {
            git(&dir, &["checkout", "--quiet", "-B", branch]);
        } else {
            git(&dir, &["init", "--quiet", "--initial-branch", branch]);
        }
        for (name, content) in files {
            std::fs::write(dir.join(name), content).expect("write");
        }
        git(&dir, &["add", "--all"]);
        git(&dir, &["commit", "--quiet", "--message", "update"]);
        git(&dir, &["rev-parse", "HEAD"]).trim().to_owned()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    std::fs::create_dir_all(dir).expect("folder");
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.org"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn pkgbuilds(run: &Run) -> Vec<&Value> {
    let mut records = run.of_type("pkgbuild");
    records.sort_by_key(|r| r["base"].as_str().map(str::to_owned));
    records
}

#[test]
fn clone_then_update_reports_what_changed_and_runs_nothing() {
    let (aur, upstream) = (Aur::start(), Upstream::new());
    let work = tempfile::tempdir().expect("tempdir");
    let first = upstream.commit(
        "app",
        "main",
        &[
            ("PKGBUILD", "pkgname=app\npkgver=1\nbuild() { :; }\n"),
            (".SRCINFO", "pkgbase = app\n"),
        ],
    );
    let template = upstream.template();
    let work_dir = work.path().display().to_string();
    let clone = ["clone", "--work", &work_dir, "--git-url", &template, "app"];
    let run = aur.fetch(&clone, "");
    assert_eq!(run.code, 0, "{run:?}");
    let checkout = work.path().join("app");
    let expected = json!({
        "type": "pkgbuild", "base": "app", "path": checkout.display().to_string(),
        "git_url": template.replace("{base}", "app"), "commit": first, "previous_commit": null,
        "files_changed": [], "insertions": 0, "deletions": 0, "maintainer": "alice",
        "previous_maintainer": null, "fetched_before": false, "submitter": "bob",
        "last_modified_at": "2023-11-14T22:13:20Z",
    });
    assert_eq!(*run.of_type("pkgbuild")[0], expected);
    assert!(checkout.join("PKGBUILD").is_file());

    // A hook planted in the checkout, a local edit, a stray file, and upstream news.
    let marker = work.path().join("hook-ran");
    let hook = checkout.join(".git/hooks/post-checkout");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", marker.display())).expect("hook");
    make_executable(&hook);
    std::fs::write(checkout.join("PKGBUILD"), "local edit\n").expect("edit");
    std::fs::write(checkout.join("notes.txt"), "mine\n").expect("stray file");
    let second = upstream.commit(
        "app",
        "main",
        &[
            (
                "PKGBUILD",
                "pkgname=app\npkgver=2\nbuild() { :; }\ncheck() { :; }\npackage() { :; }\n",
            ),
            ("app.install", "post_install() {\n  echo hi\n}\n"),
        ],
    );
    std::os::unix::fs::symlink("/etc/passwd", upstream.dir.path().join("app/link")).expect("link");
    let third = upstream.commit("app", "main", &[]);
    let run = aur.fetch(&clone, "");
    assert_eq!(run.code, 0, "{run:?}");
    let record = run.of_type("pkgbuild")[0];
    assert_ne!(second, third);
    assert_eq!(
        (&record["commit"], &record["previous_commit"]),
        (&json!(third), &json!(first))
    );
    assert_eq!(
        record["files_changed"],
        json!(["PKGBUILD", "app.install", "link"])
    );
    assert_eq!(
        (&record["insertions"], &record["deletions"]),
        (&json!(7), &json!(1))
    );
    let pkgbuild = std::fs::read_to_string(checkout.join("PKGBUILD")).expect("PKGBUILD");
    assert!(
        pkgbuild.contains("pkgver=2"),
        "reset to upstream: {pkgbuild}"
    );
    assert!(checkout.join("notes.txt").exists(), "untracked files stay");
    assert!(!marker.exists(), "the planted hook did not run");
    let link = checkout.join("link");
    assert!(
        !link.symlink_metadata().expect("link").is_symlink(),
        "links are plain files"
    );

    let run = aur.fetch(&clone, "");
    let record = run.of_type("pkgbuild")[0];
    assert_eq!(
        (&record["commit"], &record["previous_commit"]),
        (&json!(third), &json!(third))
    );
    assert_eq!(
        (&record["files_changed"], &record["insertions"]),
        (&json!([]), &json!(0))
    );
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn split_packages_resolve_to_one_base_and_bad_bases_are_refused() {
    let (aur, upstream) = (Aur::start(), Upstream::new());
    let work = tempfile::tempdir().expect("tempdir");
    upstream.commit("split", "master", &[("PKGBUILD", "pkgbase=split\n")]);
    let (template, work_dir) = (upstream.template(), work.path().display().to_string());
    let args = [
        "clone",
        "--work",
        &work_dir,
        "--git-url",
        &template,
        "python-split-a",
        "python-split-b",
        "evil",
        "missing-one",
    ];
    let run = aur.fetch(&args, "");
    assert_eq!(run.code, 1);
    assert_eq!(names(&pkgbuilds(&run)), ["split"]);
    assert_eq!(run.error_kinds(), ["bad_name", "not_found"]);
    assert!(!work.path().join("../evil").exists());

    let stray = work.path().join("app");
    std::fs::create_dir(&stray).expect("folder");
    std::fs::write(stray.join("file"), "not git").expect("file");
    let args = ["clone", "--work", &work_dir, "--git-url", &template, "app"];
    assert_eq!(aur.fetch(&args, "").error_kinds(), ["not_a_repository"]);

    let no_base = aur.fetch(
        &[
            "clone",
            "--work",
            &work_dir,
            "--git-url",
            "file:///x",
            "app",
        ],
        "",
    );
    assert_eq!(no_base.code, 2);
    assert!(no_base.stderr.contains("{base}"), "{}", no_base.stderr);
}

#[test]
fn deps_are_followed_through_cycles_minus_official_packages() {
    let (aur, upstream) = (Aur::start(), Upstream::new());
    for base in ["app", "libfoo", "libbar", "helper"] {
        upstream.commit(
            base,
            "master",
            &[("PKGBUILD", &format!("pkgbase={base}\n"))],
        );
    }
    let official: String = [
        json!({"type": "package", "repo": "core", "name": "glibc", "version": "2.40-1"}),
        json!({"type": "package", "repo": "core", "name": "bash", "provides": ["sh=5.2"]}),
        json!({"type": "package", "repo": "extra", "name": "cmake", "version": "3.30-1"}),
        json!({"type": "vm", "name": "ignored"}),
    ]
    .iter()
    .map(|record| format!("{record}\n"))
    .collect();
    let work = tempfile::tempdir().expect("tempdir");
    let (template, work_dir) = (upstream.template(), work.path().display().to_string());
    let args = [
        "clone",
        "--deps",
        "--work",
        &work_dir,
        "--git-url",
        &template,
        "app",
    ];
    let run = aur.fetch(&args, &official);
    assert_eq!(
        names(&pkgbuilds(&run)),
        ["app", "helper", "libbar", "libfoo"],
        "{run:?}"
    );
    assert_eq!(run.error_kinds(), ["unresolved_dependency"]);
    let error = run.of_type("error")[0];
    assert_eq!(
        error["subject"],
        json!({"name": "ghost", "required_by": "app"})
    );
    assert_eq!(run.code, 1);
    let asked: Vec<String> = aur.info_targets();
    for name in ["libfoo", "libbar", "glibc", "cmake", "sh"] {
        let times = asked
            .iter()
            .filter(|t| t.contains(&format!("={name}&")) || t.ends_with(&format!("={name}")))
            .count();
        let expected = usize::from(name.starts_with("lib"));
        assert_eq!(times, expected, "{name} asked {times} times: {asked:?}");
    }
}

#[test]
fn the_github_mirror_has_a_branch_per_base() {
    let (aur, upstream) = (Aur::start(), Upstream::new());
    let app = upstream.commit("mirror", "app", &[("PKGBUILD", "pkgbase=app\n")]);
    let split = upstream.commit("mirror", "split", &[("PKGBUILD", "pkgbase=split\n")]);
    let mirror = format!("file://{}", upstream.dir.path().join("mirror").display());
    let work = tempfile::tempdir().expect("tempdir");
    let work_dir = work.path().display().to_string();
    let args = [
        "clone",
        "--github-mirror",
        "--git-url",
        &mirror,
        "--work",
        &work_dir,
        "app",
        "python-split-b",
    ];
    let run = aur.fetch(&args, "");
    assert_eq!(run.code, 0, "{run:?}");
    let records = pkgbuilds(&run);
    assert_eq!(
        (&records[0]["commit"], &records[1]["commit"]),
        (&json!(app), &json!(split))
    );
    assert_eq!(records[0]["git_url"], json!(mirror));
    let pkgbuild: PathBuf = work.path().join("split/PKGBUILD");
    assert_eq!(
        std::fs::read_to_string(pkgbuild).expect("PKGBUILD"),
        "pkgbase=split\n"
    );
}

/// The AUR names only today's maintainer; each clone remembers it in the checkout's git folder,
/// so the next one can say who maintained the package before: alice, then no one (disowned),
/// then mallory (an orphan adopted).
#[test]
fn each_clone_reports_the_maintainer_before_and_now() {
    let (aur, upstream) = (Aur::start(), Upstream::new());
    upstream.commit("app", "master", &[("PKGBUILD", "pkgname=app\n")]);
    let work = tempfile::tempdir().expect("tempdir");
    let (template, work_dir) = (upstream.template(), work.path().display().to_string());
    let clone = ["clone", "--work", &work_dir, "--git-url", &template, "app"];
    let maintainers = |run: &Run| {
        assert_eq!(run.code, 0, "{run:?}");
        let record = run.of_type("pkgbuild")[0].clone();
        let fields = [
            "maintainer",
            "previous_maintainer",
            "fetched_before",
            "last_modified_at",
        ];
        fields.map(|field| record[field].clone())
    };
    let first = maintainers(&aur.fetch(&clone, ""));
    assert_eq!(
        first,
        [
            json!("alice"),
            Value::Null,
            json!(false),
            json!(Timestamp::from_unix(1_700_000_000))
        ]
    );
    let state = work.path().join("app/.git/minicluster-aur.json");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("JSON");
    assert_eq!(saved["maintainer"], "alice");

    aur.set_maintainer("app", None, 1_700_000_100);
    let second = maintainers(&aur.fetch(&clone, ""));
    assert_eq!(
        second,
        [
            Value::Null,
            json!("alice"),
            json!(true),
            json!(Timestamp::from_unix(1_700_000_100))
        ]
    );

    aur.set_maintainer("app", Some("mallory"), 1_700_000_200);
    let third = maintainers(&aur.fetch(&clone, ""));
    assert_eq!(
        third,
        [
            json!("mallory"),
            Value::Null,
            json!(true),
            json!(Timestamp::from_unix(1_700_000_200))
        ]
    );
    let record = aur.fetch(&clone, "").of_type("pkgbuild")[0].clone();
    assert_eq!(
        (&record["previous_maintainer"], &record["submitter"]),
        (&json!("mallory"), &json!("bob"))
    );

    // A state file that is not ours: reported, and written anew.
    std::fs::write(&state, "garbage").expect("write");
    let run = aur.fetch(&clone, "");
    assert_eq!(
        (run.code, run.error_kinds()),
        (1, vec!["bad_state".to_owned()])
    );
    assert_eq!(run.of_type("pkgbuild")[0]["fetched_before"], false);
    assert_eq!(maintainers(&aur.fetch(&clone, ""))[2], json!(true));
    let status = git(&work.path().join("app"), &["status", "--porcelain"]);
    assert_eq!(status, "", "the state file is not part of the checkout");
}
