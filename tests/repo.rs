//! `mc-repo` end to end: real pacman reads what it writes, repo-add agrees with it, and bad
//! input leaves the repository as it was.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use minicluster::openpgp::SigningKey;
use pipeline_tests::{Mirror, Pacman, fetch, lines, repo, require};
use xtask::{sample::Spec, serve::MirrorServer};

/// The package files of a sample mirror's `core`, in name order.
fn packages(mirror: &Mirror) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(mirror.repo_dir("core"))
        .expect("mirror folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.to_string_lossy().contains(".pkg.tar.")
                && !path.to_string_lossy().ends_with(".sig")
        })
        .collect();
    files.sort();
    files
}

fn args<'a>(head: &[&'a str], files: &'a [PathBuf]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(files.iter().map(|p| p.to_str().expect("UTF-8 path")))
        .collect()
}

/// `desc` and `files` texts of a sync database, by entry folder.
fn entries(db: &Path) -> BTreeMap<String, (String, String)> {
    let file = fs::File::open(db).unwrap_or_else(|e| panic!("{}: {e}", db.display()));
    minicluster::syncdb::read_entries(file)
        .expect("readable database")
        .into_iter()
        .map(|entry| {
            (
                entry.folder,
                (
                    entry.desc.unwrap_or_default(),
                    entry.files.unwrap_or_default(),
                ),
            )
        })
        .collect()
}

/// The repository's database bytes, to prove a failed run left them alone.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .expect("repository folder")
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_name().to_string_lossy().contains(".db")
                || entry.file_name().to_string_lossy().contains(".files")
        })
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                fs::read(entry.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A repository folder holding the first `initial` packages of a mirror.
struct Fixture {
    work: tempfile::TempDir,
    dir: PathBuf,
    db: String,
    files: Vec<PathBuf>,
}

impl Fixture {
    fn new(mirror: &Mirror, initial: usize) -> Self {
        let work = tempfile::tempdir().expect("tempdir");
        let dir = work.path().join("repo");
        let db = dir.join("test.db.tar.zst").display().to_string();
        let files = packages(mirror);
        let run = repo(&args(&["add", "--repo", &db], &files[..initial]), "");
        assert_eq!(run.code, 0, "{}", run.stderr);
        Self {
            work,
            dir,
            db,
            files,
        }
    }
}

#[test]
fn pacman_syncs_searches_and_installs_from_a_signed_repository() {
    let mirror = Mirror::sample();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("mine/os/x86_64");
    let key = SigningKey::generate("minicluster test <test@minicluster.invalid>").expect("key");
    let key_file = work.path().join("key.asc");
    fs::write(&key_file, key.secret_armored().expect("armored")).expect("write key");
    let db = dir.join("mine.db.tar.zst");
    let files = packages(&mirror);
    let (db_arg, key_arg) = (db.display().to_string(), key_file.display().to_string());
    let added = repo(
        &args(&["add", "--repo", &db_arg, "--sign", &key_arg], &files),
        "",
    );
    assert_eq!(
        (added.code, added.count("added")),
        (0, files.len() as u64),
        "{}",
        added.stderr
    );
    assert!(dir.join("mine.db.sig").exists() && dir.join("mine.files.sig").exists());
    let server = MirrorServer::start(work.path(), "127.0.0.1:0").expect("server");
    let pacman = Pacman::trusting(
        &format!("{}/$repo/os/$arch", server.url()),
        &["mine"],
        &key.public_armored().expect("public key"),
        &key.fingerprint(),
    );
    pacman.run(&["-Sy"]);
    let listed = pacman.run(&["-Sl", "mine"]);
    assert_eq!(listed.lines().count(), files.len(), "{listed}");
    assert!(
        listed.contains("mine sample0003 1:3.3-1"),
        "epochs survive: {listed}"
    );
    let info = pacman.run(&["-Si", "mine/python-sample0001"]);
    assert!(info.contains("Version         : 1.1-2"), "{info}");
    pacman.run(&["-Fy"]);
    let owned = pacman.run(&["-Fl", "python-sample0001"]);
    assert!(
        owned
            .contains("python-sample0001 usr/lib/python3.12/site-packages/sample0001/__pycache__/"),
        "{owned}"
    );
    pacman.run(&["-Sdd", "sample0003", "python-sample0001"]);
    assert!(pacman.root().join("usr/bin/sample0003").exists());
    // A database signed by someone else is refused.
    fs::copy(
        dir.join("mine.files.tar.zst.sig"),
        dir.join("mine.db.tar.zst.sig"),
    )
    .expect("swap signature");
    fs::remove_dir_all(pacman.sync_dir()).expect("forget the synced db");
    let refused = pacman.try_run(&["-Sy"]);
    assert!(
        !refused.status.success(),
        "pacman accepted a database with a wrong signature"
    );
}

#[test]
fn entries_equal_repo_adds_field_by_field() {
    require("repo-add", "pacman-package-manager");
    let mirror = Mirror::sample();
    let work = tempfile::tempdir().expect("tempdir");
    let files = packages(&mirror);
    let ours = work.path().join("ours/test.db.tar.gz");
    let theirs = work.path().join("theirs");
    fs::create_dir_all(&theirs).expect("folder");
    let copies: Vec<PathBuf> = files
        .iter()
        .map(|file| {
            let copy = theirs.join(file.file_name().expect("a file"));
            fs::copy(file, &copy).expect("copy");
            copy
        })
        .collect();
    let run = repo(
        &args(&["add", "--repo", &ours.display().to_string()], &files),
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status = Command::new("repo-add")
        .arg("-q")
        .arg(theirs.join("test.db.tar.gz"))
        .args(&copies)
        .status()
        .expect("repo-add runs");
    assert!(status.success());
    let ours = entries(&ours.with_file_name("test.files.tar.gz"));
    let theirs = entries(&theirs.join("test.files.tar.gz"));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (folder, (desc, files)) in &theirs {
        // Debian's repo-add (pacman 6.0.2) still writes alpm-repo-desc v1's %MD5SUM%; v2, which
        // we write and pacman reads, dropped it. Every other section must be identical.
        let without_md5 = desc.replace(&section(desc, "MD5SUM"), "");
        assert_eq!(&ours[folder].0, &without_md5, "{folder} desc");
        assert_eq!(&ours[folder].1, files, "{folder} files");
    }
}

/// The `%NAME%\nvalue\n\n` block of a desc text.
fn section(desc: &str, name: &str) -> String {
    let header = format!("%{name}%\n");
    desc.find(&header)
        .map(|start| {
            let end = desc[start..]
                .find("\n\n")
                .map_or(desc.len(), |end| start + end + 2);
            desc[start..end].to_owned()
        })
        .unwrap_or_default()
}

#[test]
fn bad_packages_are_refused_and_the_repository_is_untouched() {
    let mirror = Mirror::sample();
    let newer = Mirror::new(&Spec {
        release: 1,
        ..Spec::default()
    });
    let Fixture {
        work,
        dir,
        db,
        files,
    } = Fixture::new(&mirror, 3);
    let before = snapshot(&dir);
    let not_a_package = work.path().join("notes-1-1-any.pkg.tar.zst");
    fs::write(&not_a_package, "these are my notes\n").expect("write");
    let corrupt = work.path().join("corrupt-1-1-any.pkg.tar.zst");
    let mut bytes = fs::read(&files[4]).expect("package");
    let middle = bytes.len() / 2;
    bytes[middle..].iter_mut().for_each(|b| *b = !*b);
    fs::write(&corrupt, bytes).expect("write");
    let old_and_new = [packages(&newer)[5].clone(), files[5].clone()];
    let bad = [not_a_package, corrupt];
    let inputs: Vec<PathBuf> = bad.iter().chain(&old_and_new).cloned().collect();
    let run = repo(&args(&["add", "--repo", &db], &inputs), "");
    let mut kinds = run.error_kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        ["corrupt_package", "corrupt_package", "duplicate_package"],
        "{:?}",
        run.records
    );
    assert_eq!(
        run.count("added"),
        1,
        "the first of the two versions is added"
    );
    // Only failures: the databases are not rewritten at all.
    let only_bad = repo(&args(&["add", "--repo", &db], &bad), "");
    assert_eq!(only_bad.code, 1);
    let after_bad = snapshot(&dir);
    assert_ne!(before, after_bad, "the good package was added");
    let again = repo(&args(&["add", "--repo", &db], &bad), "");
    assert_eq!((again.code, snapshot(&dir)), (1, after_bad));
}

#[test]
fn signatures_that_do_not_verify_are_refused() {
    let mirror = Mirror::sample();
    let work = tempfile::tempdir().expect("tempdir");
    let (trusted, stranger) = (
        SigningKey::generate("trusted <t@x.invalid>").expect("key"),
        SigningKey::generate("stranger <s@x.invalid>").expect("key"),
    );
    let keyring = work.path().join("keyring.asc");
    fs::write(&keyring, trusted.public_armored().expect("public")).expect("write");
    let incoming = work.path().join("incoming");
    fs::create_dir_all(&incoming).expect("folder");
    let files = packages(&mirror);
    let mut signed = Vec::new();
    for (file, key) in files[..3].iter().zip([&trusted, &stranger, &trusted]) {
        let copy = incoming.join(file.file_name().expect("a file"));
        fs::copy(file, &copy).expect("copy");
        let signature = key
            .sign_detached(fs::File::open(&copy).expect("open"))
            .expect("sign");
        fs::write(format!("{}.sig", copy.display()), signature).expect("write sig");
        signed.push(copy);
    }
    // The third package's signature is its own, but the file changed after signing.
    fs::write(&signed[2], b"tampered").expect("tamper");
    let unsigned = incoming.join(files[3].file_name().expect("a file"));
    fs::copy(&files[3], &unsigned).expect("copy");
    signed.push(unsigned);
    let db = work
        .path()
        .join("repo/test.db.tar.zst")
        .display()
        .to_string();
    let keyring = keyring.display().to_string();
    let run = repo(
        &args(&["add", "--repo", &db, "--verify", &keyring], &signed),
        "",
    );
    assert_eq!(
        run.error_kinds(),
        ["bad_signature", "unknown_signer", "unsigned_package"],
        "{:?}",
        run.records
    );
    assert_eq!(run.count("added"), 1);
    let checked = repo(&["check", "--repo", &db, "--verify", &keyring], "");
    assert_eq!(
        checked.error_kinds(),
        ["bad_signature", "bad_signature"],
        "databases are unsigned: {:?}",
        checked.records
    );
}

/// Whether the tests run as root (who reads and writes anywhere).
fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

/// Runs `mc-repo ARGS` as `nobody` when the tests run as root (so folder permissions hold),
/// from a copy in `work` (CI's checkout may sit under a folder `nobody` cannot enter).
fn repo_unprivileged(work: &Path, args: &[&str]) -> pipeline_tests::Run {
    let binary = work.join("mc-repo");
    if !binary.exists() {
        fs::copy(pipeline_tests::bin("mc-repo"), &binary).expect("copy the binary");
    }
    let mut command = if as_root() {
        let mut setpriv = Command::new("setpriv");
        setpriv
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary);
        setpriv
    } else {
        Command::new(&binary)
    };
    let output = command.args(args).output().expect("runs");
    pipeline_tests::parse_output(&output)
}

/// Sets the mode bits of `path`.
fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).expect("chmod");
}

/// A repository of two packages in a folder nobody but root may write to: the folder 0555,
/// the lock file (present when `with_lock`) 0444, everything around it readable by `nobody`.
fn read_only_fixture(mirror: &Mirror, with_lock: bool) -> Fixture {
    let fixture = Fixture::new(mirror, 2);
    for open in [fixture.work.path(), mirror.dir.path()] {
        chmod(open, 0o755);
    }
    let lock = fixture.dir.join(".test.mc-repo.lock");
    if with_lock {
        chmod(&lock, 0o444);
    } else {
        fs::remove_file(&lock).expect("no lock file");
    }
    chmod(&fixture.dir, 0o555);
    fixture
}

#[test]
fn an_unwritable_folder_is_a_clear_error() {
    let mirror = Mirror::sample();
    let Fixture {
        work,
        dir,
        db,
        files,
    } = read_only_fixture(&mirror, true);
    let before = snapshot(&dir);
    let run = repo_unprivileged(work.path(), &args(&["add", "--repo", &db], &files[2..3]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("Permission denied") && run.stderr.contains(&dir.display().to_string()),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&dir), before);
}

/// Issue 18 item 7: `list` and `check` only read, so a user who may only read the repository
/// runs them: under a shared lock on the lock file opened read-only, or none when there is no
/// lock file and the folder allows none to be made. Readers run beside readers, not beside a
/// writer.
#[test]
fn list_and_check_work_on_a_repository_the_user_may_only_read() {
    let mirror = Mirror::sample();
    for with_lock in [true, false] {
        let fixture = read_only_fixture(&mirror, with_lock);
        let db = fixture.db.as_str();
        let listed = repo_unprivileged(fixture.work.path(), &["list", "--repo", db]);
        assert_eq!(listed.code, 0, "lock file {with_lock}: {}", listed.stderr);
        assert_eq!(listed.of_type("package").len(), 2, "{:?}", listed.records);
        let checked = repo_unprivileged(fixture.work.path(), &["check", "--repo", db]);
        assert_eq!(checked.code, 0, "lock file {with_lock}: {}", checked.stderr);
        assert_eq!(checked.count("checked"), 2, "{:?}", checked.records);
        assert!(checked.error_kinds().is_empty(), "{:?}", checked.records);
        let lock = fixture.dir.join(".test.mc-repo.lock");
        assert_eq!(lock.exists(), with_lock, "a reader made no lock file");
        chmod(&fixture.dir, 0o755);
    }
    let Fixture {
        dir,
        db,
        files,
        work: _work,
    } = Fixture::new(&mirror, 2);
    let reader = fs::File::open(dir.join(".test.mc-repo.lock")).expect("lock file");
    reader.try_lock_shared().expect("the test reads too");
    let listed = repo(&["list", "--repo", &db], "");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let refused = repo(&args(&["add", "--repo", &db], &files[2..3]), "");
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("lock held"), "{}", refused.stderr);
}

/// A lock file planted as a symbolic link (to a file of the user's, or to one that does not
/// exist yet) is refused, not followed: nothing is created, locked or changed through it.
#[test]
fn a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_untouched() {
    let mirror = Mirror::sample();
    let Fixture {
        work,
        dir,
        db,
        files,
    } = Fixture::new(&mirror, 1);
    let before = snapshot(&dir);
    let victim = work.path().join("victim");
    fs::write(&victim, "the user's own file\n").expect("victim");
    let modified = fs::metadata(&victim)
        .and_then(|m| m.modified())
        .expect("mtime");
    let lock = dir.join(".test.mc-repo.lock");
    let absent = work.path().join("made-through-the-link");
    for target in [&victim, &absent] {
        fs::remove_file(&lock).expect("the lock file goes");
        std::os::unix::fs::symlink(target, &lock).expect("planted link");
        let add = args(&["add", "--repo", &db], &files[1..2]);
        for command in [add, vec!["list", "--repo", &db]] {
            let run = repo(&command, "");
            assert_eq!(run.code, 2, "{command:?}: {}", run.stderr);
            assert!(
                run.stderr.contains("symbolic link") && run.stderr.contains(".test.mc-repo.lock"),
                "{}",
                run.stderr
            );
        }
        assert_eq!(snapshot(&dir), before, "nothing was added");
    }
    assert_eq!(
        fs::read_to_string(&victim).expect("victim"),
        "the user's own file\n"
    );
    assert_eq!(
        fs::metadata(&victim)
            .and_then(|m| m.modified())
            .expect("mtime"),
        modified
    );
    assert!(!absent.exists(), "no file was made through the link");
}

#[test]
fn adding_one_package_reads_no_other_package() {
    let mirror = Mirror::sample();
    let count = packages(&mirror).len();
    let Fixture {
        dir,
        db,
        files,
        work: _work,
    } = Fixture::new(&mirror, count - 1);
    let (first, last) = files.split_at(count - 1);
    // The packages in the repository are gone: only the database can describe them now.
    for file in first {
        fs::remove_file(dir.join(file.file_name().expect("a file"))).expect("remove");
    }
    let run = repo(&args(&["add", "--repo", &db], last), "");
    assert_eq!((run.code, run.count("added")), (0, 1), "{}", run.stderr);
    let listed = repo(&["list", "--repo", &db], "");
    assert_eq!(listed.of_type("package").len(), files.len());
    let checked = repo(&["check", "--repo", &db], "");
    assert_eq!(checked.error_kinds(), vec!["missing_file"; first.len()]);
}

#[test]
fn a_held_lock_stops_a_second_run() {
    let work = tempfile::tempdir().expect("tempdir");
    let db = work.path().join("test.db.tar.zst").display().to_string();
    let lock = fs::File::create(work.path().join(".test.mc-repo.lock")).expect("lock file");
    lock.try_lock().expect("the test takes the lock");
    let run = repo(&["list", "--repo", &db], "");
    assert_eq!(run.code, 2);
    let run = repo(&["add", "--repo", &db], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("lock held"), "{}", run.stderr);
}

#[test]
fn sync_makes_the_repository_hold_exactly_the_list() {
    let (old, new) = (
        Mirror::sample(),
        Mirror::new(&Spec {
            release: 1,
            repos: vec!["extra".into()],
            ..Spec::default()
        }),
    );
    let records = |mirror: &Mirror, repo_name: &str| {
        let run = fetch(&["repo", "--mirror", &mirror.server_url(), repo_name]);
        run.of_type("package")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut offered = records(&old, "core");
    offered.extend(records(&new, "extra"));
    let input = lines(&offered.iter().collect::<Vec<_>>());
    let work = tempfile::tempdir().expect("tempdir");
    let db = work
        .path()
        .join("mine/mine.db.tar.zst")
        .display()
        .to_string();
    let list = work.path().join("packages.txt");
    // sample0003: core has 1:3.3-1, extra 1:3.3-2 (newer); core/sample0001 must come from core.
    fs::write(
        &list,
        "# my machine\nsample0003\ncore/python-sample0001\nsample0002\n",
    )
    .expect("list");
    let list_arg = list.display().to_string();
    let first = repo(&["sync", "--repo", &db, "--list", &list_arg], &input);
    assert_eq!(
        (first.code, first.count("added")),
        (0, 3),
        "{:?}",
        first.records
    );
    let versions: BTreeMap<String, String> = repo(&["list", "--repo", &db], "")
        .of_type("package")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["version"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(versions["sample0003"], "1:3.3-2");
    assert_eq!(versions["python-sample0001"], "1.1-2");
    fs::write(
        &list,
        "sample0003\npython-sample0001\nsample0004\nnot-anywhere\n",
    )
    .expect("list");
    let requests_before = old.server.requests().len() + new.server.requests().len();
    let second = repo(
        &["sync", "--repo", &db, "--list", &list_arg, "--remove-old"],
        &input,
    );
    assert_eq!(second.error_kinds(), ["not_available"]);
    let counts = ["added", "removed", "unchanged", "replaced"].map(|key| second.count_or_zero(key));
    assert_eq!(counts, [1, 1, 1, 1], "{:?}", second.records);
    let downloads = old.server.requests().len() + new.server.requests().len() - requests_before;
    assert_eq!(
        downloads, 2,
        "only the new sample0004 and python-sample0001's newer build"
    );
}

/// SIGKILL in the middle of a large add: the repository is the old one, whole, and the next run
/// clears what the killed one left behind.
#[test]
fn a_killed_run_leaves_the_old_repository() {
    let mirror = Mirror::new(&Spec {
        repos: vec!["core".into()],
        packages: 150,
        ..Spec::default()
    });
    let Fixture {
        dir,
        db,
        files,
        work: _work,
    } = Fixture::new(&mirror, 3);
    let before = snapshot(&dir);
    let mut child = Command::new(pipeline_tests::bin("mc-repo"))
        .args(args(&["add", "--repo", &db], &files[3..]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    std::thread::sleep(std::time::Duration::from_millis(40));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let after = snapshot(&dir);
    let entries_now = entries(&dir.join("test.files.tar.zst")).len();
    assert!(
        after == before || entries_now == files.len(),
        "old or new, never between: {entries_now} entries"
    );
    let next = repo(&["list", "--repo", &db], "");
    assert_eq!(next.code, 0);
    let leftovers = fs::read_dir(&dir)
        .expect("folder")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(mc_repo::repository::TEMP_PREFIX)
        })
        .count();
    assert_eq!(leftovers, 0);
}

/// A package file no entry names (left by a run killed between copying and writing the
/// database) is replaced; one an entry names is not.
#[test]
fn only_files_the_database_names_are_protected() {
    let mirror = Mirror::sample();
    let Fixture {
        dir,
        db,
        files,
        work: _work,
    } = Fixture::new(&mirror, 1);
    let stray = dir.join(files[1].file_name().expect("a file"));
    fs::write(&stray, "left by a killed run").expect("write");
    let run = repo(&args(&["add", "--repo", &db], &files[1..2]), "");
    assert_eq!((run.code, run.count("added")), (0, 1), "{:?}", run.records);
    assert_eq!(
        fs::read(&stray).expect("read"),
        fs::read(&files[1]).expect("read")
    );
    let named = dir.join(files[0].file_name().expect("a file"));
    fs::write(&named, "not what the database says").expect("write");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let copy = elsewhere.path().join(files[0].file_name().expect("a file"));
    fs::copy(&files[0], &copy).expect("copy");
    let refused = repo(&["add", "--repo", &db, copy.to_str().expect("UTF-8")], "");
    assert_eq!(refused.error_kinds(), ["file_conflict"]);
}

/// A run killed between the renames of one save leaves the `.files` database newer than the
/// `.db`: the next run writes the `.db` again, even when it adds nothing new.
#[test]
fn a_save_cut_between_its_renames_is_finished_by_the_next_run() {
    let mirror = Mirror::sample();
    let Fixture {
        dir,
        db,
        files,
        work: _work,
    } = Fixture::new(&mirror, 1);
    let old_db = fs::read(&db).expect("the .db");
    let run = repo(&args(&["add", "--repo", &db], &files[1..2]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    fs::write(&db, old_db).expect("the .db as before its rename");

    let again = repo(&args(&["add", "--repo", &db], &files[1..2]), "");
    assert_eq!((again.code, again.count("unchanged")), (0, 1), "{again:?}");
    assert_eq!(
        entries(Path::new(&db)).keys().collect::<Vec<_>>(),
        entries(&dir.join("test.files.tar.zst"))
            .keys()
            .collect::<Vec<_>>()
    );
    assert_eq!(entries(Path::new(&db)).len(), 2);
}

/// Builds a package with real makepkg under Debian's own `/etc/makepkg.conf` (no PACKAGER, no
/// GPGKEY) as an unprivileged user; returns its path. makepkg writes
/// `packager = Unknown Packager` into such packages.
fn makepkg_with_defaults(dir: &Path, name: &str) -> PathBuf {
    require("makepkg", "makepkg");
    require("fakeroot", "fakeroot");
    require("bsdtar", "libarchive-tools");
    let user = pipeline_tests::makepkg::test_user();
    let folder = dir.join(name);
    fs::create_dir_all(&folder).expect("PKGBUILD folder");
    fs::write(
        folder.join("PKGBUILD"),
        format!(
            "pkgname={name}\npkgver=1.0\npkgrel=1\npkgdesc='made with makepkg defaults'\n\
             arch=(any)\nlicense=(MIT)\npackage() {{\n  mkdir -p \"$pkgdir/usr/share/{name}\"\n  \
             echo hello > \"$pkgdir/usr/share/{name}/data\"\n}}\n"
        ),
    )
    .expect("PKGBUILD");
    let chown = Command::new("chown")
        .args(["-R", &user])
        .arg(dir)
        .status()
        .expect("chown");
    assert!(chown.success());
    let built = Command::new("setpriv")
        .args(["--reuid", &user, "--regid", &user, "--clear-groups", "--"])
        .args([
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            "HOME=/nonexistent",
            "makepkg",
        ])
        .current_dir(&folder)
        .output()
        .expect("makepkg runs");
    assert!(
        built.status.success(),
        "makepkg: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let package = fs::read_dir(&folder)
        .expect("PKGBUILD folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.to_string_lossy().contains(".pkg.tar"))
        .expect("makepkg made a package");
    let pkginfo = Command::new("bsdtar")
        .arg("-xOf")
        .arg(&package)
        .arg(".PKGINFO")
        .output()
        .expect("bsdtar");
    assert!(
        String::from_utf8_lossy(&pkginfo.stdout).contains("packager = Unknown Packager"),
        "makepkg's default packager"
    );
    package
}

#[test]
fn a_package_from_makepkgs_defaults_goes_through_index_repo_and_scan_and_pacman_installs_it() {
    let work = tempfile::tempdir().expect("tempdir");
    let package = makepkg_with_defaults(&work.path().join("build"), "hello-defaults");
    let path = package.display().to_string();
    let db = work.path().join("index.sqlite").display().to_string();
    let record = format!("{{\"type\":\"package\",\"path\":\"{path}\"}}\n");
    let indexed = pipeline_tests::index(&["--db", &db], &record);
    assert_eq!(
        (indexed.code, indexed.count("indexed")),
        (0, 1),
        "{indexed:?}"
    );
    let scanned = pipeline_tests::run(
        &pipeline_tests::bin("mc-scan"),
        &[],
        &lines(&indexed.records.iter().collect::<Vec<_>>()),
    );
    assert_eq!(scanned.code, 0, "{scanned:?}");
    let errors: Vec<_> = scanned
        .of_type("finding")
        .into_iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // mc-scan tells the warning mc-repo will give, before the package is added.
    let told: Vec<_> = scanned
        .of_type("finding")
        .into_iter()
        .filter(|f| f["check"] == "pkginfo-nonstandard")
        .collect();
    assert!(
        told.len() == 1 && told[0]["severity"] == "warning" && told[0]["member"] == ".PKGINFO",
        "{told:?}"
    );
    let dir = work.path().join("mine/os/x86_64");
    let repo_db = dir.join("mine.db.tar.gz").display().to_string();
    let added = repo(
        &["add", "--repo", &repo_db, "--refuse-findings", "error"],
        &lines(&scanned.records.iter().collect::<Vec<_>>()),
    );
    assert_eq!((added.code, added.count("added")), (0, 1), "{added:?}");
    // mc-scan's, forwarded, and mc-repo's own.
    let warnings = added.of_type("finding");
    assert!(
        warnings.len() == 2
            && warnings
                .iter()
                .all(|w| w["check"] == "pkginfo-nonstandard" && w["severity"] == "warning"),
        "{warnings:?}"
    );
    let server = MirrorServer::start(work.path(), "127.0.0.1:0").expect("server");
    let pacman = Pacman::new(&format!("{}/$repo/os/$arch", server.url()), &["mine"]);
    pacman.run(&["-Sy"]);
    let info = pacman.run(&["-Si", "mine/hello-defaults"]);
    assert!(info.contains("Unknown Packager"), "{info}");
    pacman.run(&["-S", "hello-defaults"]);
    assert!(pacman.root().join("usr/share/hello-defaults/data").exists());
}

/// The temporary files mc-repo left in `dir`, with their sizes.
fn temporaries(dir: &Path) -> Vec<u64> {
    fs::read_dir(dir)
        .expect("folder")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(mc_repo::repository::TEMP_PREFIX)
        })
        .map(|e| e.metadata().map_or(0, |meta| meta.len()))
        .collect()
}

/// A two-package mirror whose first package's body never ends (one request), with the
/// package records `mc-fetch repo` gives for it and that package's URL path.
fn endless_mirror() -> (Mirror, Vec<serde_json::Value>, String) {
    let mirror = Mirror::new(&Spec {
        repos: vec!["core".into()],
        packages: 2,
        ..Spec::default()
    });
    let fetched = fetch(&["repo", "core", "--mirror", &mirror.server_url()]);
    let records: Vec<serde_json::Value> = fetched.of_type("package").into_iter().cloned().collect();
    let url = records[0]["url"].as_str().expect("url");
    let path = format!("/{}", url.splitn(4, '/').nth(3).expect("path"));
    mirror.server.fail(&path, &[xtask::serve::Fault::Endless]);
    (mirror, records, path)
}

/// Starts `mc-repo add --repo DB` of `record` and waits until its download shows in `dir` as a
/// temporary file of over 1 MiB (the test fails when it never does).
fn start_endless_add(db: &str, dir: &Path, record: &serde_json::Value) -> std::process::Child {
    let mut child = Command::new(pipeline_tests::bin("mc-repo"))
        .args(["add", "--repo", db])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(lines(&[record]).as_bytes())
            .expect("writes");
    }
    let growing = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        temporaries(dir).iter().any(|&size| size > 1 << 20)
    });
    if !growing {
        let _ = child.kill();
        panic!("the endless download never showed as a temporary file");
    }
    child
}

#[test]
fn an_endless_download_stops_at_its_csize_and_a_killed_one_is_cleaned_up() {
    let (mirror, records, path) = endless_mirror();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("repo");
    let db = dir.join("test.db.tar.zst").display().to_string();
    let run = repo(
        &["add", "--repo", &db, "--timeout", "5"],
        &lines(&records.iter().collect::<Vec<_>>()),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.error_kinds(), ["size_mismatch"], "{:?}", run.records);
    assert_eq!(run.count("added"), 1);
    assert_eq!(temporaries(&dir), Vec::<u64>::new());
    // Without a csize the download is cut only at the hard cap: kill the run while it grows,
    // and the next run deletes what it left.
    let mut unsized_record = records[0].clone();
    unsized_record["csize"] = serde_json::Value::Null;
    mirror.server.fail(&path, &[xtask::serve::Fault::Endless]);
    let mut child = start_endless_add(&db, &dir, &unsized_record);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(!temporaries(&dir).is_empty());
    let next = repo(&["add", "--repo", &db], "");
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(temporaries(&dir), Vec::<u64>::new());
}

/// Issue 18 item 5: SIGINT (Ctrl-C) and SIGTERM in the middle of an endless download delete
/// its temporary file at once, and the run exits with 128 + the signal's number.
#[test]
fn sigint_and_sigterm_delete_the_temporary_download_and_exit_128_plus_the_signal() {
    let (mirror, records, path) = endless_mirror();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("repo");
    let db = dir.join("test.db.tar.zst").display().to_string();
    let mut unsized_record = records[0].clone();
    unsized_record["csize"] = serde_json::Value::Null;
    for (signal, status) in [("INT", 130), ("TERM", 143)] {
        mirror.server.fail(&path, &[xtask::serve::Fault::Endless]);
        let mut child = start_endless_add(&db, &dir, &unsized_record);
        let sent = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -s {signal}");
        // A bound against a hang, not a timing: the run normally ends at once.
        let exited = (0..600).find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            child.try_wait().expect("waits")
        });
        let Some(exited) = exited else {
            let _ = child.kill();
            panic!("SIG{signal}: mc-repo did not exit within a minute");
        };
        assert_eq!(exited.code(), Some(status), "SIG{signal}: {exited:?}");
        assert_eq!(temporaries(&dir), Vec::<u64>::new(), "SIG{signal}");
        assert!(!Path::new(&db).exists(), "nothing was committed");
    }
}

#[test]
fn errors_name_the_url_once_and_the_file_as_given() {
    let work = tempfile::tempdir().expect("tempdir");
    let db = work
        .path()
        .join("repo/test.db.tar.zst")
        .display()
        .to_string();
    let url = "http://127.0.0.1:9/x-1-1-any.pkg.tar.zst";
    let record = serde_json::json!({"type": "package", "name": "x", "url": url});
    // Records on stdin are read only when no file is named: two runs.
    let (download, file) = (
        repo(
            &["add", "--repo", &db, "--retries", "1"],
            &lines(&[&record]),
        ),
        repo(&["add", "--repo", &db, "/etc/passwd"], ""),
    );
    assert_eq!((download.code, file.code), (1, 1), "{}", download.stderr);
    let records = download.records.iter().chain(&file.records);
    let messages: Vec<&str> = records
        .filter(|r| r["type"] == "error")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    for message in &messages {
        assert!(
            !message.contains(mc_repo::repository::TEMP_PREFIX),
            "{message}"
        );
        assert!(message.matches(url).count() <= 1, "{message}");
    }
    assert!(
        messages.iter().any(|m| m.starts_with("passwd: ")),
        "{messages:?}"
    );
}

/// What the full-disk run does inside its own mount namespace: the repository folder `$1`
/// becomes a small tmpfs holding a copy of the repository `$2` and the new package `$3` (so
/// adding it copies nothing), the tmpfs is filled to the last byte, `$4 add` runs, and the
/// folder as it is afterwards is copied to `$5` (without the filler) before the namespace,
/// and the tmpfs with it, goes away.
const FULL_DISK_SCRIPT: &str = r#"set -eu
dir=$1 before=$2 package=$3 mc_repo=$4 out=$5
mount -t tmpfs -o size=8m,mode=0755 mc-repo-full "$dir"
cp -a "$before/." "$dir/"
cp "$package" "$dir/"
dd if=/dev/zero of="$dir/filler" bs=4k 2>/dev/null || true
set +e
"$mc_repo" add --repo "$dir/test.db.tar.zst" "$dir/${package##*/}" >"$out/stdout" 2>"$out/stderr"
echo $? >"$out/code"
set -e
df -B1 --output=avail "$dir" | tail -n 1 >"$out/avail"
rm "$dir/filler"
cp -a "$dir/." "$out/after/"
"#;

/// Issue 18 item 8: `mc-repo add` on a full disk prints no `added` record for the package it
/// could not commit, but one `commit_failed` error record and a summary, exits 1, and leaves
/// the old repository whole: pacman syncs it and repo-add adds to it afterwards.
#[test]
fn a_full_disk_is_one_commit_failed_error_and_the_old_repository_stays_readable() {
    if !as_root() {
        eprintln!("skipped: mounting a small tmpfs for the full disk needs root (CI runs as root)");
        return;
    }
    require("unshare", "util-linux");
    require("repo-add", "pacman-package-manager");
    let mirror = Mirror::sample();
    let Fixture {
        work,
        dir: before,
        files,
        ..
    } = Fixture::new(&mirror, 2);
    let (dir, out) = (work.path().join("mount"), work.path().join("out"));
    fs::create_dir_all(out.join("after")).expect("folders");
    fs::create_dir(&dir).expect("mount point");
    let status = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            FULL_DISK_SCRIPT,
            "sh",
        ])
        .args([
            &dir,
            &before,
            &files[2],
            &pipeline_tests::bin("mc-repo"),
            &out,
        ])
        .status()
        .expect("unshare runs");
    assert!(status.success(), "the full-disk script failed: {status:?}");
    let read = |name: &str| fs::read_to_string(out.join(name)).expect("script output");
    assert_eq!(read("avail").trim(), "0", "the tmpfs was full");
    let output = std::process::Output {
        status,
        stdout: fs::read(out.join("stdout")).expect("stdout"),
        stderr: fs::read(out.join("stderr")).expect("stderr"),
    };
    let run = pipeline_tests::parse_output(&output);
    let records = &run.records;
    assert_eq!(read("code").trim(), "1", "{}{records:?}", run.stderr);
    assert!(run.of_type("change").is_empty(), "{records:?}");
    assert_eq!(run.error_kinds(), ["commit_failed"], "{records:?}");
    assert!(
        run.of_type("error")[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("No space left") && m.contains("as it was")),
        "{records:?}"
    );
    assert_eq!(run.of_type("summary").len(), 1, "{records:?}");
    let after = out.join("after");
    assert_eq!(
        snapshot(&after),
        snapshot(&before),
        "the old databases, byte for byte"
    );
    assert_eq!(temporaries(&after), Vec::<u64>::new());
    let pacman = Pacman::new(&format!("file://{}", after.display()), &["test"]);
    pacman.run(&["-Sy"]);
    let listed = pacman.run(&["-Slq", "test"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let added = Command::new("repo-add")
        .arg(after.join("test.db.tar.zst"))
        .arg(after.join(files[2].file_name().expect("a file")))
        .output()
        .expect("repo-add runs");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert_eq!(entries(&after.join("test.db.tar.zst")).len(), 3);
}
