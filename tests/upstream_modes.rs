//! `mc-fetch upstream` in the ways users run it besides `--config`: package folders with
//! records on stdin from `mc-fetch repo`, `--guess` from `.SRCINFO`, and the daily systemd
//! units of `contrib/systemd`, whose commands run here as systemd would run them.

use std::{path::Path, process::Command};

use pipeline_tests::upstream_support::{Answer, Upstream};
use pipeline_tests::{Mirror, bin, fetch, run, run_output, workspace};
use serde_json::{Value, json};
use xtask::sample::Spec;

/// Runs `program args` with `stdin`: its output as text, and as records.
fn piped(program: &Path, args: &[&str], stdin: &str) -> (String, pipeline_tests::Run) {
    let output = run_output(program, args, stdin);
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        pipeline_tests::parse_output(&output),
    )
}

/// The pkgver of a pacman version (no epoch, no pkgrel).
fn pkgver(version: &str) -> &str {
    let version = version.split_once(':').map_or(version, |(_, rest)| rest);
    version
        .rsplit_once('-')
        .map_or(version, |(pkgver, _)| pkgver)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("writes");
}

/// `mc-fetch repo | mc-fetch upstream PKGDIR...`: the repository's package records give
/// `old_version` (by package base), a `pkgbuild` record adds its folder, other records pass
/// through unchanged, and jq picks the bases to rebuild.
#[test]
fn stdin_records_give_old_versions_and_folders() {
    let mirror = Mirror::new(&Spec {
        repos: vec!["core".into()],
        packages: 3,
        ..Spec::default()
    });
    let repo = fetch(&["repo", "--mirror", &mirror.server_url(), "core"]);
    assert_eq!(repo.code, 0, "{}", repo.stderr);
    let packages = repo.of_type("package");
    assert!(packages.len() >= 2, "{:?}", repo.records);
    let base = |p: &Value| {
        p["base"]
            .as_str()
            .or(p["name"].as_str())
            .expect("a base")
            .to_owned()
    };
    let (current, outdated) = (packages[0], packages[1]);
    let current_ver = pkgver(current["version"].as_str().expect("version")).to_owned();
    let outdated_ver = pkgver(outdated["version"].as_str().expect("version")).to_owned();

    let temp = tempfile::tempdir().expect("temp dir");
    let (current_base, outdated_base) = (base(current), base(outdated));
    write(
        &temp.path().join(&current_base).join(".nvchecker.toml"),
        &format!("[{current_base}]\nsource = \"manual\"\nmanual = \"{current_ver}\"\n"),
    );
    // lilac.yaml: the first entry is the package's own version, the second a trigger.
    write(
        &temp.path().join(&outdated_base).join("lilac.yaml"),
        "update_on:\n  - source: manual\n    manual: \"999.1\"\n  - source: manual\n    manual: \"7\"\n",
    );
    let from_record = temp.path().join("from-record");
    write(
        &from_record.join(".nvchecker.toml"),
        "[from-record]\nsource = \"manual\"\nmanual = \"1.0\"\n",
    );
    let mut stdin = String::new();
    for package in &packages {
        stdin.push_str(&package.to_string());
        stdin.push('\n');
    }
    let pkgbuild = json!({"type": "pkgbuild", "base": "from-record", "path": from_record.display().to_string()});
    let unknown = r#"{"type":"not_yet_invented","x":[1,2]}"#;
    stdin.push_str(&format!("{pkgbuild}\n{unknown}\n"));

    let dirs = [
        temp.path().join(&current_base).display().to_string(),
        temp.path().join(&outdated_base).display().to_string(),
    ];
    let mut args = vec!["upstream", "--no-cache"];
    args.extend(dirs.iter().map(String::as_str));
    let (stdout, checked) = piped(&bin("mc-fetch"), &args, &stdin);
    assert_eq!(checked.code, 0, "{}\n{:?}", checked.stderr, checked.records);
    assert!(
        stdout.lines().any(|line| line == unknown),
        "an unknown record passes through unchanged:\n{stdout}"
    );
    let by_name = |name: &str| -> Value {
        checked
            .of_type("upstream")
            .into_iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no record for {name}: {:?}", checked.records))
            .clone()
    };
    let current_record = by_name(&current_base);
    assert_eq!(current_record["event"], "up-to-date", "{current_record}");
    assert_eq!(current_record["old_version"], current_ver.as_str());
    assert!(
        current_record["config"]
            .as_str()
            .is_some_and(|c| c.ends_with(".nvchecker.toml"))
    );
    let outdated_record = by_name(&outdated_base);
    assert_eq!(outdated_record["event"], "updated");
    assert_eq!(outdated_record["old_version"], outdated_ver.as_str());
    assert_eq!(outdated_record["version"], "999.1");
    assert_eq!(outdated_record["role"], "version");
    let trigger = by_name(&format!("{outdated_base}:1"));
    assert_eq!(trigger["role"], "trigger");
    assert_eq!(
        trigger["old_version"],
        Value::Null,
        "a trigger is not the package's version"
    );
    assert_eq!(by_name("from-record")["version"], "1.0");

    // The README's pipe: jq names what to rebuild.
    let (names, _) = piped(
        Path::new("jq"),
        &[
            "-c",
            r#"select(.type == "upstream" and .event == "updated") | .name"#,
        ],
        &stdout,
    );
    let mut names: Vec<String> = names
        .lines()
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        outdated_base.clone(),
        format!("{outdated_base}:1"),
        "from-record".to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);
}

/// `--guess` without any config: entries from `.SRCINFO` sources (a GitHub tag archive, a
/// PyPI sdist, a tarball in a folder listing), checked against the APIs on loopback, with the
/// versions the user has from `package` records on stdin.
#[test]
fn guess_checks_srcinfo_sources_end_to_end() {
    let upstream = Upstream::start(|asked| match asked.target.as_str() {
        "/repos/o/foo/git/refs/tags?per_page=100" => Answer::ok(
            json!([
                {"ref": "refs/tags/v1.2", "object": {"sha": "a".repeat(40)}},
                {"ref": "refs/tags/v1.10", "object": {"sha": "b".repeat(40)}},
                {"ref": "refs/tags/v1.9", "object": {"sha": "c".repeat(40)}}
            ])
            .to_string(),
        ),
        "/pypi/bar/json" => {
            Answer::ok(r#"{"releases": {"2.0": [{"yanked": false}], "2.1": [{"yanked": false}]}}"#)
        }
        "/pub/" => Answer::ok("<a href=\"baz-0.3.tar.xz\">x</a> <a href=\"baz-0.4.tar.xz\">x</a>"),
        _ => Answer {
            status: 404,
            ..Answer::default()
        },
    });
    let temp = tempfile::tempdir().expect("temp dir");
    let srcinfo = |base: &str, pkgver: &str, source: &str| {
        write(
            &temp.path().join(base).join(".SRCINFO"),
            &format!(
                "pkgbase = {base}\n\tpkgver = {pkgver}\n\tpkgrel = 1\n\tarch = any\n\
                 \tsource = {source}\n\tsha256sums = SKIP\n\npkgname = {base}\n"
            ),
        );
        temp.path().join(base).display().to_string()
    };
    let dirs = [
        srcinfo(
            "foo",
            "1.9",
            "foo-1.9.tar.gz::https://github.com/o/foo/archive/refs/tags/v1.9.tar.gz",
        ),
        srcinfo(
            "bar",
            "2.1",
            "https://files.pythonhosted.org/packages/source/b/bar/bar-2.1.tar.gz",
        ),
        srcinfo(
            "baz",
            "0.3",
            &format!("{}/pub/baz-0.3.tar.xz", upstream.url),
        ),
    ];
    let mut plan_args = vec!["upstream", "--guess", "--plan"];
    plan_args.extend(dirs.iter().map(String::as_str));
    let plan = run(&bin("mc-fetch"), &plan_args, "");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let sources: Vec<(&str, &str)> = plan
        .of_type("upstream_plan")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or(""),
                p["source"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [("foo", "github"), ("bar", "pypi"), ("baz", "regex")]
    );

    let apis = [
        format!("github={}", upstream.url),
        format!("pypi={}", upstream.url),
    ];
    let mut args = vec!["upstream", "--guess", "--no-cache", "--exit-status"];
    for api in &apis {
        args.extend(["--api", api]);
    }
    args.extend(dirs.iter().map(String::as_str));
    let stdin = [("foo", "1.9-1"), ("bar", "1:2.1-3"), ("baz", "0.3-1")]
        .iter()
        .map(|(name, version)| {
            json!({"type": "package", "repo": "mine", "name": name, "base": name, "version": version})
                .to_string()
                + "\n"
        })
        .collect::<String>();
    let checked = run(&bin("mc-fetch"), &args, &stdin);
    assert_eq!(
        checked.code, 2,
        "something is outdated: {}\n{:?}",
        checked.stderr, checked.records
    );
    let found: Vec<(String, String, String)> = checked
        .of_type("upstream")
        .iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or("").to_owned();
            (text("name"), text("version"), text("event"))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let expect = |name: &str, version: &str, event: &str| {
        (name.to_owned(), version.to_owned(), event.to_owned())
    };
    assert_eq!(
        found,
        [
            expect("bar", "2.1", "up-to-date"),
            expect("baz", "0.4", "updated"),
            expect("foo", "1.10", "updated"),
        ]
    );
}

/// A command line of a unit file as `/bin/sh -c` gets it: systemd's quoting undone, `$$`
/// made `$`, and the specifiers `%h`, `%S` and `%%` filled in.
fn unit_command(unit: &str, key: &str, home: &Path, state: &Path) -> String {
    let line = unit
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key}= in the unit"));
    let quoted = line
        .strip_prefix("/bin/sh -c \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{key} is /bin/sh -c \"...\": {line}"));
    quoted
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
        .replace("$$", "$")
        .replace("%%", "\u{0}")
        .replace("%h", &home.display().to_string())
        .replace("%S", &state.display().to_string())
        .replace('\u{0}', "%")
}

/// The README's daily timer: `systemd-analyze verify` accepts both units, and their commands,
/// run as systemd runs them (the unit's environment, the state folder made as StateDirectory=
/// makes it), write the records of every package folder and the bases to rebuild.
#[test]
fn daily_timer_units_write_records_and_outdated_list() {
    let units = workspace().join("contrib/systemd");
    let service = std::fs::read_to_string(units.join("mc-upstream.service")).expect("the service");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.join("mc-upstream.service"))
        .arg(units.join("mc-upstream.timer"))
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin",
                bin("mc-fetch").parent().expect("bin dir").display()
            ),
        )
        .output()
        .expect("runs systemd-analyze (Debian systemd)");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    let ours: Vec<&str> = complaints
        .lines()
        .filter(|line| line.contains("mc-upstream"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {complaints}");

    let home = tempfile::tempdir().expect("temp dir");
    let state = home.path().join(".local/state");
    let pkgs = home.path().join("pkgs");
    write(
        &pkgs.join("old/.nvchecker.toml"),
        "[old]\nsource = \"manual\"\nmanual = \"2.0\"\n",
    );
    write(
        &pkgs.join("same/.nvchecker.toml"),
        "[same]\nsource = \"manual\"\nmanual = \"1.0\"\n",
    );
    std::fs::create_dir_all(state.join("minicluster")).expect("StateDirectory=");
    let path = format!(
        "{}:/usr/bin:/bin",
        bin("mc-fetch").parent().expect("bin dir").display()
    );
    let environment: Vec<(String, String)> = service
        .lines()
        .filter_map(|line| line.strip_prefix("Environment="))
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| {
            (
                key.to_owned(),
                value.replace("%h", &home.path().display().to_string()),
            )
        })
        .collect();
    for key in ["ExecStart", "ExecStopPost"] {
        let command = unit_command(&service, key, home.path(), &state);
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .envs(environment.iter().map(|(k, v)| (k, v)))
            .env("PATH", &path)
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join(".cache"))
            .env("STATE_DIRECTORY", state.join("minicluster"))
            .status()
            .expect("runs sh");
        assert!(status.success(), "{key}: {command}");
    }
    let records =
        std::fs::read_to_string(state.join("minicluster/upstream.jsonl")).expect("the records");
    let upstream: Vec<Value> = records
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|r| r["type"] == "upstream")
        .collect();
    assert_eq!(upstream.len(), 2, "{records}");
    let outdated =
        std::fs::read_to_string(state.join("minicluster/outdated.txt")).expect("outdated.txt");
    let mut names: Vec<&str> = outdated.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["old", "same"], "nothing known: both are updated");
    assert!(
        !state.join("minicluster/upstream.jsonl.new").exists(),
        "the records were renamed into place"
    );
}

/// `--lilac-aliases`: an `alias:` entry of a `lilac.yaml` is checked as the entry lilac's
/// `aliases.yaml` gives it (its common options too); without the file `--plan` says why not.
#[test]
fn lilac_aliases_expand_alias_entries() {
    let temp = tempfile::tempdir().expect("temp dir");
    let pkg = temp.path().join("python-foo");
    write(
        &pkg.join("lilac.yaml"),
        "update_on:\n  - source: manual\n    manual: \"1.0\"\n  - alias: python\n",
    );
    let aliases = temp.path().join("aliases.yaml");
    write(
        &aliases,
        "python:\n  source: manual\n  manual: \"3.13.1\"\n  from_pattern: '^(\\d+\\.\\d+)\\..*'\n  to_pattern: '\\1'\n",
    );
    let dir = pkg.display().to_string();
    let plan = run(&bin("mc-fetch"), &["upstream", "--plan", &dir], "");
    let alias = plan
        .of_type("upstream_plan")
        .into_iter()
        .find(|p| p["name"] == "python-foo:1")
        .cloned()
        .expect("the alias entry");
    assert_eq!(alias["supported"], false);
    assert!(
        alias["reason"]
            .as_str()
            .is_some_and(|r| r.contains("--lilac-aliases")),
        "{alias}"
    );
    let file = aliases.display().to_string();
    let checked = run(
        &bin("mc-fetch"),
        &["upstream", "--no-cache", "--lilac-aliases", &file, &dir],
        "",
    );
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    let trigger = checked
        .of_type("upstream")
        .into_iter()
        .find(|r| r["name"] == "python-foo:1")
        .cloned()
        .expect("the alias entry");
    assert_eq!(trigger["source"], "manual");
    assert_eq!(trigger["version"], "3.13", "the alias's to_pattern applies");
    assert_eq!(trigger["extra"]["alias"], "python");
}
