//! The same mirror through our pipeline and through the real tools: the answers must agree.

use std::{collections::BTreeSet, fs, process::Command};

use pipeline_tests::{
    Mirror, Pacman, Run, fetch, index, lines, pacman_list, parse_pacman_info, require,
};

const PYCACHE: &str = "(^|/)__pycache__/$";

/// Fetches and indexes the whole sample mirror into `db`.
fn index_mirror(mirror: &Mirror, db: &str) -> Run {
    let fetched = fetch(&["repo", "--mirror", &mirror.server_url(), "core", "extra"]);
    assert_eq!(fetched.code, 0, "{}", fetched.stderr);
    let indexed = index(&["--db", db], &lines(&fetched.of_type("package")));
    assert_eq!(
        (indexed.code, indexed.error_kinds()),
        (0, vec![]),
        "{}",
        indexed.stderr
    );
    indexed
}

fn temp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("index.sqlite").display().to_string();
    (dir, db)
}

/// `mc-index query --packages` and `pacman -Fx` name the same packages, with the same versions.
#[test]
fn pycache_packages_equal_pacman_files() {
    let mirror = Mirror::sample();
    let (_dir, db) = temp_db();
    index_mirror(&mirror, &db);
    let ours: BTreeSet<String> = index(&["query", "--db", &db, PYCACHE, "--packages"], "")
        .of_type("package")
        .iter()
        .map(|p| {
            format!(
                "{}/{} {}",
                p["repo"].as_str().unwrap_or_default(),
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let pacman = Pacman::new(&mirror.server_url(), &["core", "extra"]);
    pacman.run(&["-Fy"]);
    let theirs: BTreeSet<String> = pacman
        .run(&["-Fx", PYCACHE, "--machinereadable"])
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\0').collect();
            format!("{}/{} {}", fields[0], fields[1], fields[2])
        })
        .collect();
    let expected: BTreeSet<String> = mirror.summary.pycache_packages.iter().cloned().collect();
    assert_eq!(ours, theirs);
    let names: BTreeSet<String> = ours
        .iter()
        .map(|p| p.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, expected, "the generator's own account");
    // And the decoys (`not__pycache__/`) are what the anchored pattern leaves out.
    let loose = index(&["query", "--db", &db, "__pycache__/$", "--packages"], "");
    assert!(loose.of_type("package").len() > ours.len());
}

/// Our file lists equal the `.files` entries `repo-add` writes for the same packages.
#[test]
fn file_lists_equal_repo_adds() {
    require("repo-add", "pacman-package-manager");
    require("bsdtar", "libarchive-tools");
    let mirror = Mirror::sample();
    let (_dir, db) = temp_db();
    index_mirror(&mirror, &db);
    let work = tempfile::tempdir().expect("tempdir");
    let packages: Vec<_> = fs::read_dir(mirror.repo_dir("core"))
        .expect("mirror folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().contains(".pkg.tar."))
        .collect();
    let repo_db = work.path().join("peer.db.tar.gz");
    let status = Command::new("repo-add")
        .arg("-q")
        .arg(&repo_db)
        .args(&packages)
        .status()
        .expect("repo-add runs");
    assert!(status.success());
    let files_db =
        fs::File::open(work.path().join("peer.files.tar.gz")).expect("repo-add wrote .files");
    let entries = minicluster::syncdb::read_entries(files_db).expect("repo-add's database reads");
    assert_eq!(entries.len(), packages.len());
    for entry in entries {
        let package = entry.package("core").expect("valid entry");
        let theirs = package.files.unwrap_or_default();
        let ours: Vec<String> = index(&["query", "--db", &db, "--repo", "core", "(^|/)"], "")
            .of_type("file")
            .iter()
            .filter(|f| f["name"] == package.name.as_str())
            .map(|f| f["path"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(ours, theirs, "{}", package.name);
    }
}

/// Versions and relations as `pacman -Si` prints them from the same mirror, for every package.
#[test]
fn package_fields_equal_pacman_sync_info() {
    let mirror = Mirror::sample();
    let (_dir, db) = temp_db();
    index_mirror(&mirror, &db);
    let pacman = Pacman::new(&mirror.server_url(), &["core", "extra"]);
    pacman.run(&["-Sy"]);
    let theirs = parse_pacman_info(&pacman.run(&["-Si"]));
    let ours = index(&["query", "--db", &db, "(^|/)", "--packages"], "");
    assert_eq!(ours.of_type("package").len(), theirs.len());
    for package in ours.of_type("package") {
        let key = (
            package["repo"].as_str().unwrap_or_default().to_owned(),
            package["name"].as_str().unwrap_or_default().to_owned(),
        );
        let info = &theirs[&key];
        let list = |field: &str, separator: &str| pacman_list(&package[field], separator);
        assert_eq!(package["version"], info["Version"], "{key:?}");
        assert_eq!(list("depends", "  "), info["Depends On"], "{key:?}");
        assert_eq!(list("provides", "  "), info["Provides"], "{key:?}");
        assert_eq!(list("optdepends", "\n"), info["Optional Deps"], "{key:?}");
        assert_eq!(package["desc"], info["Description"], "{key:?}");
        assert_eq!(package["arch"], info["Architecture"], "{key:?}");
    }
}

/// Real pacman installs the sample packages (zst, xz and gz alike) and finds them intact: the
/// generator's output is what makepkg would make.
#[test]
fn pacman_installs_the_sample_packages() {
    let mirror = Mirror::sample();
    let pacman = Pacman::new(&mirror.server_url(), &["core", "extra"]);
    pacman.run(&["-Sy"]);
    let names: Vec<String> = fs::read_dir(mirror.repo_dir("core"))
        .expect("mirror folder")
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            let (name, _) = file.split_once(".pkg.tar.")?;
            Some(name.rsplitn(4, '-').nth(3)?.to_owned())
        })
        .take(4)
        .collect();
    let mut args = vec!["-Sdd"];
    args.extend(names.iter().map(String::as_str));
    pacman.run(&args);
    let check = pacman.run(&["-Qkk"]);
    assert!(
        check.lines().all(|line| line.ends_with(" 0 altered files")),
        "{check}"
    );
}

/// Patterns of every shape the query planner tells apart (file-name patterns, whole-path ones
/// anchored at the end whose literals name the file, alternations, case-insensitive spellings,
/// ones that read every path), find the same files as `pacman -Fx`, path for path.
/// pacman matches without regard to case, so ours runs with `-i`.
#[test]
fn queries_of_every_shape_equal_pacman_files() {
    let mirror = Mirror::sample();
    let (_dir, db) = temp_db();
    index_mirror(&mirror, &db);
    let pacman = Pacman::new(&mirror.server_url(), &["core", "extra"]);
    pacman.run(&["-Fy"]);
    let patterns = [
        PYCACHE,
        "data00[12]\\.txt",
        "^usr/bin/",
        "\\.pyc$",
        "(sample0001|sample0003)-alias$",
        "__PYCACHE__/$",
        "/not__pycache__/$|^usr/lib/python3\\.12/$",
        "^[a-z]+/$",
        "y.*c",
        "^__init__\\.",
        "/__init__\\.cpython-312\\.pyc$",
        "python3\\.12/site-packages/$",
        "(/bin/sample0001|/sample0002-alias)$",
        "S/$",
        // Decided by the file name alone (a --packages query reads no path for them).
        "__pycache__/$",
        "(^|/)site-packages/$",
        // Anchored at the start: read through each package's range of paths.
        "^usr/(bin|share)/",
        "^usr/lib/python3\\.1[0-9]/",
    ];
    let packages = |query: &[&str]| -> BTreeSet<String> {
        let args = [&["query", "--db", &db, "--packages"], query].concat();
        index(&args, "")
            .of_type("package")
            .iter()
            .map(|p| format!("{}/{}", p["repo"], p["name"]).replace('"', ""))
            .collect()
    };
    for pattern in patterns {
        let files = |case: &[&str]| -> BTreeSet<String> {
            let args = [&["query", "--db", &db], case, &[pattern]].concat();
            index(&args, "")
                .of_type("file")
                .iter()
                .map(|f| format!("{}/{} {}", f["repo"], f["name"], f["path"]).replace('"', ""))
                .collect()
        };
        let ours = files(&["-i"]);
        let owners = |files: &BTreeSet<String>| -> BTreeSet<String> {
            files
                .iter()
                .map(|f| f.split(' ').next().unwrap_or_default().to_owned())
                .collect()
        };
        // --packages answers the same, whichever way it finds them: pacman's packages with -i
        // (below), the owners of the matching paths without (pacman has no case-sensitive -F).
        assert_eq!(packages(&["-i", pattern]), owners(&ours), "{pattern} -i");
        assert_eq!(packages(&[pattern]), owners(&files(&[])), "{pattern}");
        let output = pacman.try_run(&["-Fx", pattern, "--machinereadable"]);
        let theirs: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split('\0').collect();
                format!("{}/{} {}", fields[0], fields[1], fields[3])
            })
            .collect();
        assert!(!theirs.is_empty(), "{pattern} matches something");
        assert_eq!(ours, theirs, "{pattern}");
        // pacman -F ignores case; a whole-path pattern's case-sensitive answer is its matches
        // that the pattern matches with case (a leading `/` dropped, as pacman drops it).
        if pattern.contains('/') {
            let exact = regex::Regex::new(pattern.trim_start_matches('/')).expect("valid");
            let sensitive: BTreeSet<String> = theirs
                .iter()
                .filter(|line| exact.is_match(line.split_once(' ').map_or("", |(_, path)| path)))
                .cloned()
                .collect();
            assert_eq!(files(&[]), sensitive, "{pattern} with case");
        }
    }
}

/// `mc-index --files-db` answers the same question from the `.files` databases alone, and a
/// later full index replaces those entries.
#[test]
fn files_db_mode_gives_the_same_answer() {
    let mirror = Mirror::sample();
    let (_dir, db) = temp_db();
    let listed = fetch(&[
        "repo",
        "--files",
        "--mirror",
        &mirror.server_url(),
        "core",
        "extra",
    ]);
    let quick = index(
        &["--db", &db, "--files-db"],
        &lines(&listed.of_type("package")),
    );
    assert_eq!(
        (quick.code, quick.count("indexed")),
        (0, mirror.summary.packages as u64),
        "{}",
        quick.stderr
    );
    let answer = |db: &str| -> BTreeSet<String> {
        index(&["query", "--db", db, PYCACHE, "--packages"], "")
            .of_type("package")
            .iter()
            .map(|p| format!("{} {}", p["name"], p["indexed_from"]))
            .collect()
    };
    let from_files_db = answer(&db);
    assert_eq!(from_files_db.len(), mirror.summary.pycache_packages.len());
    assert!(from_files_db.iter().all(|p| p.ends_with("\"files_db\"")));
    let full = index_mirror(&mirror, &db);
    assert_eq!(
        full.count("replaced"),
        mirror.summary.packages as u64,
        "full reads replace paths-only entries"
    );
    assert!(answer(&db).iter().all(|p| p.ends_with("\"package\"")));
}
