//! mc-index's database as other programs meet it: a writer that holds it for a moment, another
//! program's SQLite file given as `--db`, a read-only folder, databases of older schemas.

use std::{
    collections::BTreeSet,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    sync::mpsc,
    time::Duration,
};

use pipeline_tests::{Mirror, Run, bin, fetch, index, parse_output};
use rusqlite::Connection;
use serde_json::Value;

const PYCACHE: &str = "(^|/)__pycache__/$";

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("index.sqlite");
    (dir, db)
}

fn package_lines(mirror: &Mirror) -> Vec<String> {
    let run = fetch(&["repo", "--mirror", &mirror.server_url(), "core", "extra"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.of_type("package")
        .iter()
        .map(|r| format!("{r}\n"))
        .collect()
}

fn index_into(db: &Path, input: &str) -> Run {
    index(&["--db", &db.display().to_string()], input)
}

fn pycache_names(run: &Run) -> BTreeSet<String> {
    run.of_type("package")
        .iter()
        .map(|p| format!("{}/{}", p["repo"], p["name"]).replace('"', ""))
        .collect()
}

/// Another writer holds the database when mc-index starts: it waits, as it does mid-run,
/// instead of failing with `database is locked`.
#[test]
fn a_writer_holding_the_database_for_a_moment_is_waited_for() {
    let mirror = Mirror::sample();
    let input = package_lines(&mirror);
    let (_dir, db) = temp_db();
    let first = index_into(&db, &input[..10].concat());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let (held, hold) = mpsc::channel();
    let holder_db = db.clone();
    let holder = std::thread::spawn(move || {
        let conn = Connection::open(&holder_db).expect("opens");
        conn.execute_batch("BEGIN IMMEDIATE; UPDATE packages SET indexed_at = indexed_at + 1;")
            .expect("takes the write lock");
        held.send(()).expect("tells");
        std::thread::sleep(Duration::from_millis(1500));
        conn.execute_batch("COMMIT;").expect("commits");
    });
    hold.recv().expect("the lock is held");
    let second = index_into(&db, &input.concat());
    holder.join().expect("the holder ends");
    assert_eq!(
        (
            second.code,
            second.count("unchanged"),
            second.count("indexed")
        ),
        (0, 10, input.len() as u64 - 10),
        "{}",
        second.stderr
    );
}

/// `--db` naming another program's SQLite file: refused with a clear error, nothing added.
#[test]
fn a_database_of_another_program_is_refused() {
    let mirror = Mirror::sample();
    let (_dir, db) = temp_db();
    let tables = |db: &Path| -> Vec<String> {
        let conn = Connection::open(db).expect("opens");
        let mut statement = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .expect("prepares");
        statement
            .query_map([], |row| row.get(0))
            .expect("lists")
            .collect::<Result<_, _>>()
            .expect("names")
    };
    Connection::open(&db)
        .expect("creates")
        .execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);")
        .expect("their table");
    let run = index_into(&db, &package_lines(&mirror).concat());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not an mc-index database") && run.stderr.contains("notes"),
        "{}",
        run.stderr
    );
    assert_eq!(tables(&db), ["notes"], "nothing of ours was added");
    let query = index(&["query", "--db", &db.display().to_string(), PYCACHE], "");
    assert_eq!(query.code, 2);
    assert!(
        query.stderr.contains("is not an mc-index database"),
        "{}",
        query.stderr
    );
}

/// A WAL database in a folder the user cannot write (no `-shm` can be made) is still queried:
/// opened read-only, as immutable when it has no write-ahead log to replay.
#[test]
fn a_wal_database_in_a_read_only_folder_can_be_queried() {
    let mirror = Mirror::sample();
    let work = tempfile::tempdir().expect("tempdir");
    let folder = work.path().join("ro");
    fs::create_dir(&folder).expect("folder");
    let db = folder.join("index.sqlite");
    let indexed = index_into(&db, &package_lines(&mirror).concat());
    assert_eq!(indexed.code, 0, "{}", indexed.stderr);
    // Checkpointed and closed by its last connection: the -wal and -shm files go away, the
    // file stays in WAL mode.
    let conn = Connection::open(&db).expect("opens");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    drop(conn);
    assert!(!folder.join("index.sqlite-shm").exists());
    // The binary where an unprivileged user can run it, the folder read-only to everyone.
    let binary = work.path().join("mc-index");
    fs::copy(bin("mc-index"), &binary).expect("copies");
    for (path, mode) in [(work.path(), 0o755), (&folder, 0o555), (&db, 0o444)] {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let db_arg = db.display().to_string();
    let query_args = ["query", "--db", db_arg.as_str(), PYCACHE, "--packages"];
    // Root writes anywhere: run as nobody then, so the folder is read-only for real.
    let output = if is_root() {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary)
            .args(query_args)
            .output()
    } else {
        Command::new(&binary).args(query_args).output()
    }
    .expect("runs");
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).expect("chmod back");
    let run = parse_output(&output);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: BTreeSet<String> = mirror.summary.pycache_packages.iter().cloned().collect();
    assert_eq!(pycache_names(&run), expected);
    assert!(
        !folder.join("index.sqlite-shm").exists(),
        "nothing was written"
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The tables of schema version 1, which carried no application id; `files` had hex digests
/// and no rowid.
const SCHEMA_1: &str = "
CREATE TABLE packages (id INTEGER PRIMARY KEY, repo TEXT NOT NULL, name TEXT NOT NULL,
    base TEXT, version TEXT NOT NULL, arch TEXT, filename TEXT, url TEXT, path TEXT, sha256 TEXT,
    csize INTEGER, isize INTEGER, builddate INTEGER, packager TEXT, description TEXT,
    url_upstream TEXT, indexed_from TEXT NOT NULL, indexed_at INTEGER NOT NULL,
    UNIQUE (repo, name));
CREATE TABLE relations (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL);
CREATE TABLE metadata (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE files (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    path TEXT NOT NULL, kind TEXT, size INTEGER, mode INTEGER, link_target TEXT, sha256 TEXT,
    PRIMARY KEY (package_id, path)) WITHOUT ROWID;
PRAGMA user_version = 1;
INSERT INTO packages (id, repo, name, version, indexed_from, indexed_at)
    VALUES (1, 'core', 'python-old', '1-1', 'package', 0);
INSERT INTO files VALUES
    (1, 'usr/lib/python3.12/__pycache__/', 'dir', 0, 493, NULL, NULL),
    (1, 'usr/lib/python3.12/x.py', 'file', 3, 420, NULL,
     'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
";

/// Schema version 2: `files` with a rowid and blob digests, fed into a trigram index by
/// triggers.
const SCHEMA_2: &str = "
PRAGMA application_id = 0x6D634958;
CREATE TABLE packages (id INTEGER PRIMARY KEY, repo TEXT NOT NULL, name TEXT NOT NULL,
    base TEXT, version TEXT NOT NULL, arch TEXT, filename TEXT, url TEXT, path TEXT, sha256 TEXT,
    csize INTEGER, isize INTEGER, builddate INTEGER, packager TEXT, description TEXT,
    url_upstream TEXT, indexed_from TEXT NOT NULL, indexed_at INTEGER NOT NULL,
    UNIQUE (repo, name));
CREATE INDEX packages_name ON packages (name);
CREATE TABLE relations (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL);
CREATE TABLE metadata (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE files (id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    path TEXT NOT NULL, kind TEXT, size INTEGER, mode INTEGER, link_target TEXT, sha256 BLOB);
CREATE INDEX files_package ON files (package_id);
CREATE VIRTUAL TABLE files_trigram USING fts5 (
    path, content = '', contentless_delete = 1, tokenize = 'trigram', detail = 'none');
CREATE TRIGGER files_trigram_insert AFTER INSERT ON files BEGIN
    INSERT INTO files_trigram (rowid, path) VALUES (new.id, char(2) || new.path || char(3));
END;
CREATE TRIGGER files_trigram_delete AFTER DELETE ON files BEGIN
    DELETE FROM files_trigram WHERE rowid = old.id;
END;
PRAGMA user_version = 2;
INSERT INTO packages (id, repo, name, version, indexed_from, indexed_at)
    VALUES (1, 'core', 'python-old', '1-1', 'package', 0);
INSERT INTO files (package_id, path, kind, size, mode, link_target, sha256) VALUES
    (1, 'usr/lib/python3.12/__pycache__/', 'dir', 0, 493, NULL, NULL),
    (1, 'usr/lib/python3.12/x.py', 'file', 3, 420, NULL,
     unhex('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'));
";

/// Schema version 3: file names in `names`, without their reversed spelling, and `files_name`
/// without the package.
const SCHEMA_3: &str = "
PRAGMA application_id = 0x6D634958;
CREATE TABLE packages (id INTEGER PRIMARY KEY, repo TEXT NOT NULL, name TEXT NOT NULL,
    base TEXT, version TEXT NOT NULL, arch TEXT, filename TEXT, url TEXT, path TEXT, sha256 TEXT,
    csize INTEGER, isize INTEGER, builddate INTEGER, packager TEXT, description TEXT,
    url_upstream TEXT, indexed_from TEXT NOT NULL, indexed_at INTEGER NOT NULL,
    file_count INTEGER NOT NULL DEFAULT 0, UNIQUE (repo, name));
CREATE INDEX packages_name ON packages (name);
CREATE TABLE relations (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL);
CREATE INDEX relations_name ON relations (name, kind);
CREATE INDEX relations_package ON relations (package_id);
CREATE TABLE metadata (package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX metadata_package ON metadata (package_id);
CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE files (id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    name_id INTEGER NOT NULL REFERENCES names (id), path TEXT NOT NULL, kind TEXT,
    size INTEGER, mode INTEGER, link_target TEXT, sha256 BLOB);
CREATE INDEX files_package ON files (package_id);
CREATE INDEX files_name ON files (name_id);
PRAGMA user_version = 3;
INSERT INTO packages (id, repo, name, version, indexed_from, indexed_at, file_count)
    VALUES (1, 'core', 'python-old', '1-1', 'package', 0, 2);
INSERT INTO names (id, name) VALUES (1, '__pycache__/'), (2, 'x.py');
INSERT INTO files (package_id, name_id, path, kind, size, mode, link_target, sha256) VALUES
    (1, 1, 'usr/lib/python3.12/__pycache__/', 'dir', 0, 493, NULL, NULL),
    (1, 2, 'usr/lib/python3.12/x.py', 'file', 3, 420, NULL,
     unhex('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'));
";

/// Schema version 4: version 3 with names' reversed spelling and the package in `files_name`,
/// but no path in `files_package`.
fn schema_4() -> String {
    SCHEMA_3
        .replace(
            "name TEXT NOT NULL UNIQUE);",
            "name TEXT NOT NULL UNIQUE, reversed TEXT NOT NULL);
CREATE INDEX names_reversed ON names (reversed);",
        )
        .replace("ON files (name_id);", "ON files (name_id, package_id);")
        .replace("user_version = 3", "user_version = 4")
        .replace(
            "(1, '__pycache__/'), (2, 'x.py')",
            "(1, '__pycache__/', '/__ehcacyp__'), (2, 'x.py', 'yp.x')",
        )
        .replace("INTO names (id, name)", "INTO names (id, name, reversed)")
}

/// A database of an older schema (1 to 4) is upgraded in place by the next indexing run
/// (digests kept, file names, their reversed spelling and counts filled in, version 2's
/// trigram index dropped, indexes rebuilt); a query before that says how to upgrade it.
#[test]
fn an_older_database_is_upgraded_by_the_next_run() {
    let schema_4 = schema_4();
    for (version, schema) in [
        (1, SCHEMA_1),
        (2, SCHEMA_2),
        (3, SCHEMA_3),
        (4, schema_4.as_str()),
    ] {
        let (_dir, db) = temp_db();
        Connection::open(&db)
            .expect("creates")
            .execute_batch(schema)
            .expect("an older database");
        let db_arg = db.display().to_string();
        let early = index(&["query", "--db", &db_arg, PYCACHE], "");
        assert_eq!(early.code, 2);
        assert!(
            early.stderr.contains(&format!("schema version {version}")),
            "{}",
            early.stderr
        );
        let upgrade = index_into(&db, "");
        assert_eq!(upgrade.code, 0, "{}", upgrade.stderr);
        let pycache = index(&["query", "--db", &db_arg, PYCACHE, "--packages"], "");
        assert_eq!(
            pycache_names(&pycache),
            BTreeSet::from(["core/python-old".to_owned()]),
            "version {version}"
        );
        assert_eq!(pycache.of_type("package")[0]["file_count"], 2);
        let file = index(&["query", "--db", &db_arg, "^x\\.py$"], "");
        let digests: Vec<&Value> = file.of_type("file").iter().map(|f| &f["sha256"]).collect();
        assert_eq!(
            digests,
            [&Value::from(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            )],
            "version {version}"
        );
        let tables: Vec<String> = Connection::open(&db)
            .expect("opens")
            .prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'files%' ORDER BY name")
            .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
            .expect("lists");
        assert_eq!(tables, ["files", "files_name", "files_package"]);
        // Both indexes as this version makes them: `^` patterns and names read through them.
        let prefixed = index(&["query", "--db", &db_arg, "^usr/lib/python3\\.12/"], "");
        assert_eq!(prefixed.of_type("file").len(), 2, "version {version}");
    }
}
