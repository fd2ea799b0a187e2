//! `mc-fetch upstream`: real configs planned, and checks against the real nvchecker on the same
//! config and the same loopback upstream.

use std::{
    collections::BTreeMap,
    path::Path,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use pipeline_tests::upstream_support::{Answer, Upstream};
use pipeline_tests::{Run, bin, realdata, run};
use serde_json::{Value, json};

/// The chaotic-aur PKGBUILD folders of realdata, unpacked into `dir`; their folders.
fn chaotic_aur(dir: &Path) -> Vec<String> {
    let archive = realdata().join("pkgbuilds/chaotic-aur-packages.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .status()
        .expect("runs tar");
    assert!(status.success(), "unpacking {}", archive.display());
    let mut dirs: Vec<String> = std::fs::read_dir(dir)
        .expect("lists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(".nvchecker.toml").is_file())
        .map(|p| p.display().to_string())
        .collect();
    dirs.sort();
    dirs
}

/// Every entry of the 379 real `.nvchecker.toml` files plans as supported, or names why not:
/// entries nvchecker itself could not check (a `manual` without its version, a `github`
/// without its repository), `cmd` without --allow-cmd, and the nvchecker sources mc-fetch
/// does not implement.
#[test]
fn chaotic_aur_configs_plan() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dirs = chaotic_aur(temp.path());
    assert_eq!(
        dirs.len(),
        379,
        "the realdata archive holds 379 .nvchecker.toml files"
    );
    let mut args = vec!["upstream", "--plan"];
    args.extend(dirs.iter().map(String::as_str));
    let plan = run(&bin("mc-fetch"), &args, "");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plans = plan.of_type("upstream_plan");
    assert_eq!(plans.len(), 379, "one entry per file");
    let supported = plans.iter().filter(|p| p["supported"] == true).count();
    let mut why_not: BTreeMap<String, usize> = BTreeMap::new();
    for entry in plans.iter().filter(|p| p["supported"] == false) {
        let reason = entry["reason"].as_str().expect("a reason");
        assert!(!reason.is_empty());
        assert!(
            entry["config"]
                .as_str()
                .is_some_and(|c| c.ends_with(".nvchecker.toml"))
        );
        let class = if reason.contains("needs the key") {
            format!("{} without its key", entry["source"].as_str().unwrap_or(""))
        } else if reason.contains("--allow-cmd") {
            "cmd without --allow-cmd".to_owned()
        } else if reason.contains("not implemented") {
            format!("{} not implemented", entry["source"].as_str().unwrap_or(""))
        } else {
            panic!("unexpected reason: {entry}");
        };
        *why_not.entry(class).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [
        ("manual without its key", 16),
        ("github without its key", 1),
        ("cmd without --allow-cmd", 2),
        ("debianpkg not implemented", 2),
        ("apt not implemented", 1),
        ("rpmrepo not implemented", 1),
        ("pacman not implemented", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(why_not, expected);
    assert_eq!(supported, 379 - 24);

    args.insert(2, "--allow-cmd");
    let with_cmd = run(&bin("mc-fetch"), &args, "");
    let cmd: Vec<&Value> = with_cmd
        .of_type("upstream_plan")
        .into_iter()
        .filter(|p| p["source"] == "cmd")
        .collect();
    assert_eq!(cmd.len(), 2);
    assert!(cmd.iter().all(|p| p["supported"] == true));
}

/// A git repository with tags, for the git source of both checkers.
fn git_repo(dir: &Path, tags: &[&str]) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("runs git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(dir).expect("mkdir");
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "one"]);
    for tag in tags {
        git(&["tag", tag]);
    }
    dir.display().to_string()
}

/// The upstream both checkers ask: a download folder listing, npm registry documents, and a
/// redirect whose Location names the version.
fn peer_upstream() -> Upstream {
    Upstream::start(|asked| match asked.target.as_str() {
        "/pub/" => Answer::ok(
            "<a href=\"tool-1.9.tar.gz\">tool-1.9.tar.gz</a>\n\
             <a href=\"tool-1.10.tar.gz\">tool-1.10.tar.gz</a>\n\
             <a href=\"tool-1.2.tar.gz\">tool-1.2.tar.gz</a>\n\
             <a href=\"tool-2.0rc1.tar.gz\">tool-2.0rc1.tar.gz</a>\n\
             <a href=\"tool-1.10.post1.tar.gz\">tool-1.10.post1.tar.gz</a>\n",
        ),
        "/npm/left-pad" => Answer::ok(
            r#"{"name":"left-pad","dist-tags":{"latest":"1.3.0","next":"2.0.0-beta"},"versions":{}}"#,
        ),
        "/html/" => Answer::ok(
            "<html><body><table>\n\
             <tr><td class=\"ver\">1.4.2</td></tr>\n\
             <tr><td class=\"ver\">1.10.0</td></tr>\n\
             <tr><td class=\"ver\">1.9.7</td></tr>\n\
             </table><p>Get <a class=\"dl\" href=\"files/tool-2.1.tar.gz\">it</a></p></body></html>\n",
        ),
        "/api/releases.json" => Answer::ok(
            r#"{"releases": [{"tag": "v3.1"}, {"tag": "v3.10"}, {"tag": "v3.9"}], "latest": {"version": "3.10", "build": 42}}"#,
        ),
        "/download/latest" => Answer {
            status: 302,
            ..Answer::default()
        }
        .header("Location", "/download/app-4.5.6-x86_64.AppImage"),
        _ => Answer {
            status: 404,
            ..Answer::default()
        },
    })
}

/// The entries both checkers check, with `[__config__]` naming `newver`.
fn peer_config(dir: &Path, upstream: &str, repo: &str, newver: &str) -> std::path::PathBuf {
    let config = format!(
        r#"[__config__]
oldver = "{newver}.old"
newver = "{newver}"
http_timeout = 10

[__config__.source.npm]
registry = "{upstream}/npm"

[tool]
source = "regex"
url = "{upstream}/pub/"
regex = 'tool-([\d.a-z]+)\.tar\.gz'
exclude_regex = '.*rc.*'

[tool-ignored]
source = "regex"
url = "{upstream}/pub/"
regex = 'tool-([\d.a-z]+)\.tar\.gz'
ignored = "1.10.post1 1.10"

[lib]
source = "git"
git = "{repo}"
prefix = "v"
include_regex = 'v[\d.]+'

[lib-renamed]
source = "git"
git = "{repo}"
from_pattern = '^v(\d+)\.(\d+)$'
to_pattern = '\1_\2'

[left-pad]
source = "npm"

[app]
source = "httpheader"
url = "{upstream}/download/latest"
regex = 'app-([\d.]+)-x86_64'

[pinned]
source = "manual"
manual = "7.0"

[page-text]
source = "htmlparser"
url = "{upstream}/html/"
xpath = '//td[@class="ver"]'

[page-attr]
source = "htmlparser"
url = "{upstream}/html/"
xpath = '//a[@class="dl"]/@href'
from_pattern = '.*tool-(.+)\.tar\.gz'
to_pattern = '\1'

[json-tags]
source = "jq"
url = "{upstream}/api/releases.json"
filter = '.releases[].tag'
prefix = "v"

[json-build]
source = "jq"
url = "{upstream}/api/releases.json"
filter = '.latest.build'
"#
    );
    let path = dir.join(format!("{newver}.toml"));
    std::fs::write(&path, config).expect("writes config");
    path
}

fn versions(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let value: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["version"], 2, "format 2: {text}");
    value["data"]
        .as_object()
        .expect("data")
        .iter()
        .map(|(name, entry)| {
            (
                name.clone(),
                entry["version"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The same config against the same loopback upstream: mc-fetch upstream finds the versions
/// nvchecker finds, writes a newver file nvchecker's nvcmp reads, and nvtake's work is done by
/// `take`.
#[test]
fn same_versions_as_nvchecker() {
    let nv = pipeline_tests::upstream_support::nvchecker_bin();
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = git_repo(
        &temp.path().join("repo"),
        &["v1.0", "v1.2", "v1.10", "v2.0-rc1", "nightly"],
    );
    let upstream = peer_upstream();
    let theirs = peer_config(temp.path(), &upstream.url, &repo, "nvchecker-new.json");
    let ours = peer_config(temp.path(), &upstream.url, &repo, "mc-new.json");
    let out = Command::new(nv.join("nvchecker"))
        .arg("-c")
        .arg(&theirs)
        .output()
        .expect("runs nvchecker");
    assert!(
        out.status.success(),
        "nvchecker: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cache = temp.path().join("cache");
    let cache = cache.display().to_string();
    let mine = run(
        &bin("mc-fetch"),
        &[
            "upstream",
            "--config",
            &ours.display().to_string(),
            "--cache",
            &cache,
        ],
        "",
    );
    assert_eq!(mine.code, 0, "{}\n{:?}", mine.stderr, mine.records);
    let expected = versions(&temp.path().join("nvchecker-new.json"));
    assert_eq!(
        expected.len(),
        11,
        "nvchecker checked every entry: {expected:?}"
    );
    assert_eq!(expected["page-text"], "1.10.0", "{expected:?}");
    assert_eq!(expected["page-attr"], "2.1");
    assert_eq!(expected["json-tags"], "3.10");
    assert_eq!(expected["json-build"], "42");
    assert_eq!(versions(&temp.path().join("mc-new.json")), expected);
    for record in mine.of_type("upstream") {
        let name = record["name"].as_str().expect("name");
        assert_eq!(record["event"], "updated", "no oldver: {record}");
        assert_eq!(
            record["version"].as_str(),
            expected.get(name).map(String::as_str)
        );
    }
    let lib = mine
        .of_type("upstream")
        .into_iter()
        .find(|r| r["name"] == "lib")
        .expect("lib");
    assert_eq!(lib["gitref"], "refs/tags/v1.10");
    assert!(lib["revision"].as_str().is_some_and(|r| r.len() == 40));

    // nvcmp reads our newver file; take writes the oldver file nvcmp compares it with.
    let nvcmp = Command::new(nv.join("nvcmp"))
        .arg("-c")
        .arg(&ours)
        .arg("-j")
        .output()
        .expect("runs nvcmp");
    assert!(
        nvcmp.status.success(),
        "nvcmp: {}",
        String::from_utf8_lossy(&nvcmp.stderr)
    );
    let changes: Value = serde_json::from_slice(&nvcmp.stdout).expect("nvcmp -j prints JSON");
    assert_eq!(changes.as_array().map(Vec::len), Some(11), "{changes}");
    let take = run(
        &bin("mc-fetch"),
        &[
            "upstream",
            "take",
            "--config",
            &ours.display().to_string(),
            "tool",
        ],
        "",
    );
    assert_eq!(take.code, 0, "{}", take.stderr);
    let nvcmp = Command::new(nv.join("nvcmp"))
        .arg("-c")
        .arg(&ours)
        .arg("-j")
        .output()
        .expect("runs nvcmp");
    let changes: Value = serde_json::from_slice(&nvcmp.stdout).expect("JSON");
    assert_eq!(
        changes.as_array().map(Vec::len),
        Some(10),
        "tool was taken: {changes}"
    );

    // A second run: up-to-date against the oldver file for what was taken, from the cache.
    let again = run(
        &bin("mc-fetch"),
        &[
            "upstream",
            "--config",
            &ours.display().to_string(),
            "--cache",
            &cache,
            "--exit-status",
        ],
        "",
    );
    assert_eq!(
        again.code, 2,
        "something is still outdated: {}",
        again.stderr
    );
    let tool = again
        .of_type("upstream")
        .into_iter()
        .find(|r| r["name"] == "tool")
        .expect("tool");
    assert_eq!(tool["event"], "up-to-date");
    assert_eq!(tool["old_version"], expected["tool"]);
}

/// The `upstream` records of a run by entry name.
fn upstream_by_name(run: &Run) -> BTreeMap<String, &Value> {
    run.of_type("upstream")
        .into_iter()
        .map(|r| (r["name"].as_str().unwrap_or("").to_owned(), r))
        .collect()
}

fn unix_in(seconds: u64) -> u64 {
    (SystemTime::now() + Duration::from_secs(seconds))
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Faults of every kind, each on its own entry: a clear error record names the entry, the
/// source and the cause; the other entries are still checked; the exit status is 3.
#[test]
fn faults_become_error_records() {
    let temp = tempfile::tempdir().expect("temp dir");
    let far_reset = unix_in(3600);
    let upstream = Upstream::start(move |asked| {
        let page = |tags: &[&str]| {
            let refs: Vec<Value> = tags
                .iter()
                .map(
                    |t| json!({"ref": format!("refs/tags/{t}"), "object": {"sha": "a".repeat(40)}}),
                )
                .collect();
            Value::Array(refs).to_string()
        };
        match asked.target.as_str() {
            // Pagination: the highest tag is on page 2.
            "/repos/o/paged/git/refs/tags?per_page=100" => Answer::ok(page(&["v1.0", "v1.1"]))
                .header(
                    "Link",
                    "</repos/o/paged/git/refs/tags?per_page=100&page=2>; rel=\"next\"",
                ),
            "/repos/o/paged/git/refs/tags?per_page=100&page=2" => {
                Answer::ok(page(&["v3.0", "v2.0"]))
            }
            "/pypi/malformed/json" => Answer::ok("{\"releases\": [oops"),
            "/pypi/broken/json" => Answer {
                status: 500,
                ..Answer::default()
            },
            "/pypi/slow/json" => Answer {
                delay: Duration::from_secs(30),
                ..Answer::ok("{}")
            },
            "/pypi/good/json" => Answer::ok(
                r#"{"releases": {"1.0": [{"yanked": false}], "1.1": [{"yanked": false}],
                    "2.0b1": [{"yanked": false}], "1.2": [{"yanked": true}]}}"#,
            ),
            "/api/v1/crates/krate" => Answer::ok(
                r#"{"versions": [{"num": "0.9.0", "yanked": false}, {"num": "0.10.0", "yanked": false},
                    {"num": "0.11.0-alpha.1", "yanked": false}, {"num": "0.12.0", "yanked": true}]}"#,
            ),
            _ => Answer {
                status: 404,
                ..Answer::default()
            },
        }
    });
    // The rate-limited API is another host: a limit holds up only its own host's requests.
    let limiting = Upstream::start(move |_| {
        Answer {
            status: 403,
            body: b"{\"message\":\"API rate limit exceeded\"}".to_vec(),
            ..Answer::default()
        }
        .header("X-RateLimit-Remaining", "0")
        .header("X-RateLimit-Reset", far_reset.to_string())
    });
    let config = temp.path().join("nv.toml");
    std::fs::write(
        &config,
        r#"[__config__]
newver = "new.json"
http_timeout = 2

[paged]
source = "github"
github = "o/paged"
use_max_tag = true
prefix = "v"

[limited]
source = "gitea"
gitea = "o/limited"
use_max_tag = true

[also-limited]
source = "gitea"
gitea = "o/also-limited"
use_latest_release = true

[malformed]
source = "pypi"

[broken]
source = "pypi"

[slow]
source = "pypi"

[good]
source = "pypi"

[krate]
source = "cratesio"
"#,
    )
    .expect("writes config");
    // The last good version of a failing entry is kept.
    std::fs::write(
        temp.path().join("new.json"),
        r#"{"version": 2, "data": {"broken": {"version": "0.5"}}}"#,
    )
    .expect("writes newver");
    let url = &upstream.url;
    let mine: Run = run(
        &bin("mc-fetch"),
        &[
            "upstream",
            "--config",
            &config.display().to_string(),
            "--no-cache",
            "--api",
            &format!("github={url}"),
            "--api",
            &format!("pypi={url}"),
            "--api",
            &format!("cratesio={url}"),
            "--retries",
            "2",
            "--api",
            &format!("gitea={}", limiting.url),
            "--per-host",
            "1",
        ],
        "",
    );
    assert_eq!(mine.code, 3, "a check failed: {}", mine.stderr);
    let by_name = upstream_by_name(&mine);
    assert_eq!(by_name.len(), 8, "{:?}", mine.records);
    assert_eq!(by_name["paged"]["version"], "3.0", "{}", by_name["paged"]);
    assert_eq!(
        by_name["good"]["version"], "1.1",
        "no pre-release, no yanked"
    );
    assert_eq!(by_name["krate"]["version"], "0.10.0");
    for (name, cause) in [
        ("limited", "rate limited"),
        ("also-limited", "rate limited"),
        ("malformed", "malformed JSON"),
        ("broken", "HTTP status 500"),
        ("slow", "timed out"),
    ] {
        let record = by_name[name];
        assert_eq!(record["event"], "error", "{record}");
        let error = record["error"].as_str().expect("an error message");
        assert!(error.starts_with(&format!("{name}: source ")), "{error}");
        assert!(error.contains(cause), "{name}: {error}");
    }
    let reset = by_name["limited"]["rate_limit_reset_at"]
        .as_str()
        .expect("reset reported");
    assert!(reset.ends_with('Z'));
    assert_eq!(by_name["broken"]["version"], "0.5");
    assert_eq!(by_name["broken"]["kept_last_good"], true);
    let kept = versions(&temp.path().join("new.json"));
    assert_eq!(kept.get("broken").map(String::as_str), Some("0.5"));
    assert_eq!(kept.get("paged").map(String::as_str), Some("3.0"));
    // One 403 for the limited host (one request at a time there), then it was not asked
    // again; 500s were retried.
    assert_eq!(limiting.requests(), 1, "{:?}", limiting.log());
    let log = upstream.log();
    assert_eq!(
        log.iter().filter(|t| t.starts_with("/pypi/broken")).count(),
        2
    );
}

/// alpm and alpmfiles read the sync databases under `dbpath` as pacman reads them: the
/// version `pacman -Si` shows, and the first path of `pacman -Flq` (the command nvchecker's
/// alpmfiles runs) that the regex matches.
#[test]
fn alpm_sources_read_what_pacman_reads() {
    pipeline_tests::require("pacman", "pacman-package-manager");
    let mirror = pipeline_tests::Mirror::new(&xtask::sample::Spec {
        repos: vec!["core".into()],
        packages: 4,
        ..xtask::sample::Spec::default()
    });
    let temp = tempfile::tempdir().expect("temp dir");
    let dbpath = temp.path().join("db");
    std::fs::create_dir_all(dbpath.join("sync")).expect("mkdir");
    for kind in ["db", "files"] {
        std::fs::copy(
            mirror.repo_dir("core").join(format!("core.{kind}.tar.gz")),
            dbpath.join(format!("sync/core.{kind}")),
        )
        .expect("copies the database");
    }
    let conf = temp.path().join("pacman.conf");
    std::fs::write(
        &conf,
        "[options]\nArchitecture = auto\nSigLevel = Never\n[core]\nServer = file:///nowhere\n",
    )
    .expect("writes pacman.conf");
    let pacman = |args: &[&str]| -> String {
        let out = Command::new("pacman")
            .arg("--config")
            .arg(&conf)
            .arg("--dbpath")
            .arg(&dbpath)
            .args(args)
            .output()
            .expect("runs pacman");
        assert!(
            out.status.success(),
            "pacman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = pacman(&["-Sl", "core"]);
    let (name, version) = listed
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace().skip(1);
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .expect("a package in core");
    let files = pacman(&["-Flq", &format!("core/{name}")]);
    let pattern = r"usr/.*/([^/]+)";
    let full = regex::Regex::new(&format!("^(?:{pattern})$")).expect("regex");
    let peer_file = files
        .lines()
        .find_map(|path| Some(full.captures(path)?[1].to_owned()))
        .expect("a file under usr/ in pacman -Flq");
    let dbpath_text = dbpath.display().to_string();
    let config = temp.path().join("nv.toml");
    std::fs::write(
        &config,
        format!(
            "[own]\nsource = \"alpm\"\nalpm = \"{name}\"\ndbpath = \"{dbpath_text}\"\n\n\
             [stripped]\nsource = \"alpm\"\nalpm = \"{name}\"\nrepo = \"core\"\n\
             dbpath = \"{dbpath_text}\"\nstrip_release = true\n\n\
             [missing]\nsource = \"alpm\"\nalpm = \"not-there\"\ndbpath = \"{dbpath_text}\"\n\n\
             [file]\nsource = \"alpmfiles\"\npkgname = \"{name}\"\nrepo = \"core\"\n\
             filename = '{pattern}'\ndbpath = \"{dbpath_text}\"\n\n\
             [file-any-repo]\nsource = \"alpmfiles\"\npkgname = \"{name}\"\n\
             filename = '{pattern}'\ndbpath = \"{dbpath_text}\"\n"
        ),
    )
    .expect("writes config");
    let checked = run(
        &bin("mc-fetch"),
        &[
            "upstream",
            "--no-cache",
            "--config",
            &config.display().to_string(),
        ],
        "",
    );
    assert_eq!(checked.code, 3, "missing fails: {}", checked.stderr);
    let by_name = upstream_by_name(&checked);
    let version_of = |name: &str| by_name[name]["version"].as_str().unwrap_or("").to_owned();
    assert_eq!(version_of("own"), version);
    let pkgver = version
        .rsplit_once('-')
        .map_or(version.as_str(), |(v, _)| v);
    assert_eq!(version_of("stripped"), pkgver);
    assert_eq!(version_of("file"), peer_file);
    assert_eq!(version_of("file-any-repo"), peer_file);
    let missing = by_name["missing"];
    assert_eq!(missing["event"], "error");
    assert!(
        missing["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found in the ALPM database")),
        "{missing}"
    );
}

/// A 429 with `Retry-After` is waited out when it is short (the retry comes no sooner than it
/// says) and reported when it is long, in seconds or as an HTTP date: the record carries
/// `rate_limit_reset_at` and the host is not asked again in the run.
#[test]
fn retry_after_is_honoured_and_reported() {
    let soon_asked: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let asked = Arc::clone(&soon_asked);
    let soon = Upstream::start(move |_| {
        let mut asked = asked.lock().unwrap_or_else(|e| e.into_inner());
        asked.push(Instant::now());
        if asked.len() == 1 {
            return Answer {
                status: 429,
                ..Answer::default()
            }
            .header("Retry-After", "1");
        }
        Answer::ok(r#"{"releases": {"4.2": [{"yanked": false}]}}"#)
    });
    let in_seconds = Upstream::start(|_| {
        Answer {
            status: 429,
            ..Answer::default()
        }
        .header("Retry-After", "3600")
    });
    let date = SystemTime::now() + Duration::from_secs(7200);
    let as_date = Upstream::start(move |_| {
        Answer {
            status: 429,
            ..Answer::default()
        }
        .header("Retry-After", httpdate::fmt_http_date(date))
    });
    let temp = tempfile::tempdir().expect("temp dir");
    let config = temp.path().join("nv.toml");
    std::fs::write(
        &config,
        "[soon]\nsource = \"pypi\"\n\n[krate-a]\nsource = \"cratesio\"\n\n\
         [krate-b]\nsource = \"cratesio\"\n\n[dated]\nsource = \"npm\"\n",
    )
    .expect("writes config");
    let apis = [
        format!("pypi={}", soon.url),
        format!("cratesio={}", in_seconds.url),
        format!("npm={}", as_date.url),
    ];
    let mut args = vec![
        "upstream",
        "--no-cache",
        "--per-host",
        "1",
        "--max-rate-limit-wait",
        "60",
    ];
    let config = config.display().to_string();
    args.extend(["--config", &config]);
    for api in &apis {
        args.extend(["--api", api]);
    }
    let checked = run(&bin("mc-fetch"), &args, "");
    assert_eq!(checked.code, 3, "{}\n{:?}", checked.stderr, checked.records);
    let by_name = upstream_by_name(&checked);
    assert_eq!(by_name["soon"]["version"], "4.2", "{}", by_name["soon"]);
    let times = soon_asked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(times.len(), 2, "asked again once the limit was over");
    assert!(
        times[1] - times[0] >= Duration::from_millis(950),
        "Retry-After: 1 honoured: {:?}",
        times[1] - times[0]
    );
    let now = minicluster::time::Timestamp::now().unix();
    for (name, at_least) in [("krate-a", 3000), ("krate-b", 3000), ("dated", 7000)] {
        let record = by_name[name];
        assert_eq!(record["event"], "error", "{record}");
        let error = record["error"].as_str().expect("an error");
        assert!(error.contains("rate limited"), "{error}");
        let reset = record["rate_limit_reset_at"]
            .as_str()
            .expect("reset reported");
        let reset: minicluster::time::Timestamp = reset.parse().expect("RFC 3339");
        assert!(
            reset.unix() >= now + at_least,
            "{name}: reset {reset}, now {now}"
        );
    }
    assert_eq!(
        in_seconds.requests(),
        1,
        "one 429, then the host was left alone: {:?}",
        in_seconds.log()
    );
}

/// A second run within `--max-age` answers from the cache without a request; `--refresh`
/// asks again with conditional requests, and a 304 answers from the cache.
#[test]
fn second_run_is_answered_from_the_cache() {
    let temp = tempfile::tempdir().expect("temp dir");
    let upstream = Upstream::start(|asked| {
        let etag = "\"v1\"";
        if asked.if_none_match.as_deref() == Some(etag) {
            return Answer {
                status: 304,
                ..Answer::default()
            }
            .header("ETag", etag);
        }
        Answer::ok("release-3.2.tar.gz release-3.10.tar.gz").header("ETag", etag)
    });
    let config = temp.path().join("nv.toml");
    let mut text = String::new();
    for n in 0..10 {
        text.push_str(&format!(
            "[e{n}]\nsource = \"regex\"\nurl = \"{}/p{n}\"\nregex = 'release-([\\d.]+)\\.tar'\n\n",
            upstream.url
        ));
    }
    std::fs::write(&config, text).expect("writes");
    let cache = temp.path().join("cache").display().to_string();
    let args = [
        "upstream",
        "--config",
        &config.display().to_string(),
        "--cache",
        &cache,
    ];
    let first = run(&bin("mc-fetch"), &args, "");
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.count("requests"), 10);
    assert_eq!(first.count("not_modified"), 0);
    assert_eq!(upstream.requests(), 10);
    let second = run(&bin("mc-fetch"), &args, "");
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        second.count("requests"),
        0,
        "all fresh: {:?}",
        second.records
    );
    assert_eq!(second.count("fresh_from_cache"), 10);
    assert_eq!(upstream.requests(), 10, "the server was not asked");
    let mut refresh = args.to_vec();
    refresh.push("--refresh");
    let third = run(&bin("mc-fetch"), &refresh, "");
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(third.count("requests"), 10);
    assert_eq!(third.count("not_modified"), 10);
    for records in [&second, &third] {
        assert!(
            records
                .of_type("upstream")
                .iter()
                .all(|r| r["version"] == "3.10")
        );
    }
}
