//! The command lines as a new user meets them: help, usage errors, exit codes.

use pipeline_tests::{bin, fetch, index};

#[test]
fn help_teaches_and_names_the_exit_codes() {
    for (tool, args) in [
        ("mc-fetch", vec!["--help"]),
        ("mc-fetch", vec!["repo", "--help"]),
        ("mc-fetch", vec!["aur", "--help"]),
        ("mc-fetch", vec!["aur", "clone", "--help"]),
        ("mc-index", vec!["--help"]),
        ("mc-index", vec!["query", "--help"]),
        ("mc-build", vec!["--help"]),
    ] {
        let output = std::process::Command::new(bin(tool))
            .args(&args)
            .output()
            .expect("runs");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{tool} {args:?}");
        assert!(help.contains("Exit status: 0"), "{tool} {args:?}: {help}");
        assert!(
            help.contains("Example") || args.len() > 1,
            "{tool} {args:?} shows an example"
        );
    }
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let no_repo = fetch(&["repo"]);
    assert_eq!(no_repo.code, 2);
    assert!(no_repo.stderr.contains("<REPO>"), "{}", no_repo.stderr);
    let no_db = index(&[], "");
    assert_eq!(no_db.code, 2);
    assert!(no_db.stderr.contains("--db"), "{}", no_db.stderr);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("i.sqlite").display().to_string();
    let empty = index(&["--db", &db], "");
    assert_eq!((empty.code, empty.count("indexed")), (0, 0));
    let bad_regex = index(&["query", "--db", &db, "(unclosed"], "");
    assert_eq!(bad_regex.code, 2);
    assert!(
        bad_regex.stderr.contains("invalid regular expression"),
        "{}",
        bad_regex.stderr
    );
    let missing = index(&["query", "--db", "/nonexistent/x.sqlite", "."], "");
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/nonexistent/x.sqlite"),
        "{}",
        missing.stderr
    );
}

#[test]
fn no_match_exits_1_like_grep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("i.sqlite").display().to_string();
    index(&["--db", &db], "");
    let run = index(&["query", "--db", &db, "nothing-matches-this"], "");
    assert_eq!((run.code, run.records.len()), (1, 0));
}

#[test]
fn the_schema_is_printed_with_its_comments() {
    let output = std::process::Command::new(bin("mc-index"))
        .arg("schema")
        .output()
        .expect("runs");
    let schema = String::from_utf8_lossy(&output.stdout);
    for table in ["packages", "relations", "metadata", "files"] {
        assert!(
            schema.contains(&format!("CREATE TABLE IF NOT EXISTS {table}")),
            "{table}"
        );
    }
}
