//! `mc-build` end to end: real makepkg inside bubblewrap, as an unprivileged user, on PKGBUILDs
//! made here; real pacman reads and installs what it built from the repository it filled.

use std::{
    fs,
    io::{Read, Write},
    net::TcpListener,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use pipeline_tests::{
    Pacman, Run, bin, lines,
    makepkg::{Pkg, Set, test_user},
    parse_output, repo, require,
};
use serde_json::Value;

/// The build record of `base`.
fn build_of<'a>(run: &'a Run, base: &str) -> &'a Value {
    run.of_type("build")
        .into_iter()
        .find(|r| r["base"] == base)
        .unwrap_or_else(|| panic!("no build record for {base}: {run:?}"))
}

fn status(run: &Run, base: &str) -> String {
    build_of(run, base)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn built_bases(run: &Run) -> Vec<String> {
    run.of_type("build")
        .iter()
        .map(|r| r["base"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn chain(set: &Set) -> Vec<String> {
    vec![
        set.add(&Pkg {
            base: "chain-c",
            depends: &["chain-b>=1.0"],
            build: "test -f \"$MC_BUILD_DEPS_ROOT/usr/share/chain-b/data\" && \
                    test -f \"$MC_BUILD_DEPS_ROOT/usr/share/chain-a/data\"",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "chain-b",
            depends: &["chain-a"],
            build: "grep -qx chain-a \"$MC_BUILD_DEPS_ROOT/usr/share/chain-a/data\"",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "chain-a",
            // makepkg refuses root anyway; this says the sandbox did not hand it root either.
            build: "test \"$(id -u)\" != 0",
            ..Pkg::default()
        }),
    ]
}

#[test]
fn a_chain_builds_in_order_against_the_earlier_packages_and_pacman_installs_it() {
    let set = Set::new();
    let folders = chain(&set);
    let first = set.build(&[], &folders, "");
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(built_bases(&first), ["chain-a", "chain-b", "chain-c"]);
    assert_eq!(first.count("built"), 3);
    for record in first.of_type("build") {
        assert_eq!(record["status"], "built", "{record}");
        let log = record["log_path"].as_str().expect("a log");
        let text = fs::read_to_string(log).expect("the log is kept");
        assert!(text.contains("Finished making"), "{text}");
        let package = &record["packages"][0];
        assert_eq!(package["name"], record["base"]);
        assert_eq!(package["version"], "1.0-1");
        assert_eq!(
            package["sha256"].as_str().map(str::len),
            Some(64),
            "{package}"
        );
        let path = package["path"].as_str().expect("a path");
        assert_eq!(
            package["csize"].as_u64(),
            fs::metadata(path).ok().map(|m| m.len())
        );
    }
    let pacman = Pacman::new(
        &format!("file://{}", set.repo_dir().display()),
        &["mc-build"],
    );
    for record in first.of_type("package") {
        let info = pacman.run(&["-Qip", record["path"].as_str().expect("a path")]);
        assert!(
            info.contains(&format!(
                "Name            : {}",
                record["name"].as_str().unwrap_or_default()
            )),
            "{info}"
        );
    }
    pacman.run(&["-Sy"]);
    pacman.run(&["-S", "chain-c"]);
    for name in ["chain-a", "chain-b", "chain-c"] {
        let data = pacman.root().join(format!("usr/share/{name}/data"));
        assert_eq!(
            fs::read_to_string(&data).ok().as_deref(),
            Some(format!("{name}\n").as_str())
        );
    }

    let again = set.build(&[], &folders, "");
    assert_eq!(again.code, 0, "{again:?}");
    for base in ["chain-a", "chain-b", "chain-c"] {
        let record = build_of(&again, base);
        assert_eq!(
            (record["status"].as_str(), record["reason"].as_str()),
            (Some("built"), Some("already built"))
        );
    }
}

/// A C library the set built is found by the compiler, the linker and the loader of the next
/// build, though it lives in the private root and not in `/usr`.
#[test]
fn a_library_the_set_built_compiles_links_and_runs_in_the_next_base() {
    require("gcc", "gcc");
    let set = Set::new();
    let folders = vec![
        set.add(&Pkg {
            base: "clib-user",
            depends: &["clib"],
            build: "echo '#include <clib.h>' > main.c && \
                    echo 'int main(void) { return clib_answer() == 42 ? 0 : 1; }' >> main.c && \
                    gcc -o main main.c -lclib && ./main",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "clib",
            build: "echo 'int clib_answer(void);' > clib.h && \
                    echo 'int clib_answer(void) { return 42; }' > clib.c && \
                    gcc -shared -fPIC -o libclib.so clib.c",
            package: "install -Dm644 clib.h \"$pkgdir/usr/include/clib.h\"\n\
                      install -Dm755 libclib.so \"$pkgdir/usr/lib/libclib.so\"",
            ..Pkg::default()
        }),
    ];
    let run = set.build(&[], &folders, "");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(built_bases(&run), ["clib", "clib-user"]);
}

#[test]
fn an_interrupted_run_resumes_with_what_is_left() {
    let set = Set::new();
    let folders = chain(&set);
    let args = set.args(&[], &folders);
    let mut child = Command::new(bin("mc-build"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mc-build starts");
    // Done means in the repository's database, not just copied beside it.
    let database = set.repo_dir().join("mc-build.db.tar.zst");
    let published = || {
        std::fs::File::open(&database)
            .ok()
            .and_then(|file| minicluster::syncdb::read_entries(file).ok())
            .is_some_and(|entries| entries.iter().any(|e| e.folder == "chain-a-1.0-1"))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !published() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kills mc-build");
    let _ = child.wait();
    assert!(published(), "chain-a was never published");

    // In parallel now: chain-c still waits for chain-b, whose file its build() checks.
    let rest = set.build(&["--jobs", "3"], &folders, "");
    assert_eq!(rest.code, 0, "{rest:?}");
    assert_eq!(build_of(&rest, "chain-a")["reason"], "already built");
    for base in ["chain-b", "chain-c"] {
        let record = build_of(&rest, base);
        assert_eq!(
            (record["status"].as_str(), record["reason"].as_str()),
            (Some("built"), None),
            "{record}"
        );
    }
}

#[test]
fn a_split_package_makes_every_package_and_its_users_see_them() {
    let set = Set::new();
    let folders = vec![
        set.add(&Pkg {
            base: "uses-pair",
            depends: &["pair-tools"],
            build: "test -f \"$MC_BUILD_DEPS_ROOT/usr/share/pair-tools/data\"",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "pair",
            split: &["pair-lib", "pair-tools"],
            ..Pkg::default()
        }),
    ];
    let result = set.build(&[], &folders, "");
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(built_bases(&result), ["pair", "uses-pair"]);
    let names: Vec<&str> = build_of(&result, "pair")["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["pair-lib", "pair-tools"]);

    // `mc-build | mc-repo add` publishes the same packages elsewhere.
    let elsewhere = set.path("published/mine.db.tar.zst").display().to_string();
    let published = repo(
        &["add", "--repo", &elsewhere],
        &lines(&result.records.iter().collect::<Vec<_>>()),
    );
    assert_eq!(published.code, 0, "{published:?}");
    assert_eq!(published.count("added"), 3, "{published:?}");
}

#[test]
fn a_failed_build_skips_what_needs_it_and_keep_going_builds_the_rest() {
    let set = Set::new();
    let folders = vec![
        set.add(&Pkg {
            base: "broken",
            build: "echo 'compiler says no' >&2; false",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "needs-broken",
            depends: &["broken"],
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "zz-independent",
            ..Pkg::default()
        }),
    ];
    let stopped = set.build(&[], &folders, "");
    assert_eq!(stopped.code, 1, "{stopped:?}");
    assert_eq!(status(&stopped, "broken"), "failed");
    assert_eq!(
        build_of(&stopped, "needs-broken")["reason"],
        "dependency broken failed"
    );
    assert_eq!(status(&stopped, "zz-independent"), "skipped");

    let going = set.build(&["--keep-going"], &folders, "");
    assert_eq!(going.code, 1, "{going:?}");
    let broken = build_of(&going, "broken");
    assert_eq!(broken["status"], "failed");
    let log = fs::read_to_string(broken["log_path"].as_str().expect("a log")).expect("log kept");
    assert!(log.contains("compiler says no"), "{log}");
    assert_eq!(status(&going, "needs-broken"), "skipped");
    assert_eq!(status(&going, "zz-independent"), "built");
    assert_eq!(
        (
            going.count("built"),
            going.count("failed"),
            going.count("skipped")
        ),
        (1, 1, 1)
    );
}

#[test]
fn a_dependency_cycle_is_an_error_naming_it() {
    let set = Set::new();
    let folders = vec![
        set.add(&Pkg {
            base: "loop-x",
            depends: &["loop-y"],
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "loop-y",
            depends: &["loop-x"],
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "behind",
            depends: &["loop-x"],
            ..Pkg::default()
        }),
    ];
    let result = set.build(&["--keep-going"], &folders, "");
    assert_eq!(result.code, 1, "{result:?}");
    let errors = result.of_type("error");
    let mut subjects: Vec<&str> = errors
        .iter()
        .filter_map(|e| e["subject"]["base"].as_str())
        .collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["loop-x", "loop-y"]);
    for error in &errors {
        assert_eq!(error["kind"], "dependency_cycle");
        assert_eq!(
            error["message"],
            "dependency cycle: loop-x → loop-y → loop-x"
        );
    }
    assert_eq!(
        build_of(&result, "behind")["reason"],
        "dependency loop-x failed"
    );
}

/// A loopback HTTP server that answers every request; the port it listens on.
fn serve_http() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0; 1024];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nhi\n");
        }
    });
    port
}

#[test]
fn the_build_has_no_network_and_cannot_write_outside_its_folder() {
    require("curl", "curl");
    let set = Set::new();
    let port = serve_http();
    let url = format!("http://127.0.0.1:{port}/");
    let outside = Command::new("curl")
        .args(["-sS", "--max-time", "5", &url])
        .output()
        .expect("curl");
    assert!(
        outside.status.success(),
        "the server answers outside the sandbox"
    );
    let marker = format!("mc-build-escape-{}", std::process::id());
    let network = format!("curl -sS --max-time 5 {url}");
    let var_tmp = format!("echo x > /tmp/../var/tmp/{marker}");
    let home = format!("echo x > \"$HOME/{marker}\"");
    // A world-writable host folder outside /tmp (the sandbox's /tmp is its own): only the
    // read-only system stops the build user from writing there.
    let host = tempfile::tempdir_in("/var/tmp").expect("a folder in /var/tmp");
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let escaped = host.path().join("escaped");
    let original = format!("echo x > {}", escaped.display());
    let folders = vec![
        set.add(&Pkg {
            base: "wants-network",
            build: &network,
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "writes-var-tmp",
            build: &var_tmp,
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "writes-home",
            build: &home,
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "writes-host-folder",
            build: &original,
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "writes-own-folder",
            build: "echo x > \"$srcdir/ok\" && echo y > /tmp/private",
            ..Pkg::default()
        }),
    ];
    let result = set.build(&["--keep-going"], &folders, "");
    for base in [
        "wants-network",
        "writes-var-tmp",
        "writes-home",
        "writes-host-folder",
    ] {
        assert_eq!(status(&result, base), "failed", "{result:?}");
    }
    assert_eq!(status(&result, "writes-own-folder"), "built", "{result:?}");
    assert!(!Path::new("/var/tmp").join(&marker).exists());
    assert!(!escaped.exists());
    for base in ["writes-var-tmp", "writes-host-folder"] {
        let log = build_of(&result, base)["log_path"]
            .as_str()
            .expect("log")
            .to_owned();
        let text = fs::read_to_string(log).expect("log");
        assert!(text.contains("Read-only file system"), "{base}: {text}");
    }
    let log = fs::read_to_string(
        build_of(&result, "wants-network")["log_path"]
            .as_str()
            .expect("log"),
    )
    .expect("log");
    assert!(log.contains("curl: (7)"), "{log}");
}

#[test]
fn sources_come_from_the_cache_and_makepkg_checks_them() {
    let set = Set::new();
    let content = "verified source\n";
    let sum = "2c0b6bbd1f2a0c4d0c1c8f5f8c7a4c7e6b1e5c9e3e0c5d9e1b2a3f4c5d6e7f80";
    let real = sha256_of(content);
    let folders = vec![
        set.add(&Pkg {
            base: "cached",
            sources: &[("input.txt", &real)],
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "tampered",
            sources: &[("input.txt", sum)],
            ..Pkg::default()
        }),
    ];
    for base in ["cached", "tampered"] {
        let dir = set.path("cache").join(base);
        fs::create_dir_all(&dir).expect("cache folder");
        fs::write(dir.join("input.txt"), content).expect("cached source");
    }
    let result = set.build(&["--keep-going"], &folders, "");
    assert_eq!(status(&result, "cached"), "built", "{result:?}");
    let tampered = build_of(&result, "tampered");
    assert_eq!(tampered["status"], "failed");
    assert!(
        tampered["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("One or more files did not pass the validity check"),
        "{tampered}"
    );
    let package = build_of(&result, "cached")["packages"][0]["path"]
        .as_str()
        .expect("path")
        .to_owned();
    let listing = Command::new("bsdtar")
        .args(["-xOf", &package, "usr/share/cached/input.txt"])
        .output()
        .expect("bsdtar");
    assert_eq!(String::from_utf8_lossy(&listing.stdout), content);
}

fn sha256_of(text: &str) -> String {
    let output = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&output.stdout)[..64].to_owned()
}

#[test]
fn an_error_finding_refuses_the_base_unless_ignored() {
    let set = Set::new();
    let folder = set.add(&Pkg {
        base: "flagged",
        ..Pkg::default()
    });
    let finding = "{\"type\":\"finding\",\"base\":\"flagged\",\"check\":\"checksum-mismatch\",\
                   \"severity\":\"error\",\"message\":\"bad\",\"subject\":null}\n";
    let refused = set.build(&[], std::slice::from_ref(&folder), finding);
    assert_eq!(refused.code, 1);
    assert_eq!(refused.of_type("finding").len(), 1, "input is forwarded");
    let record = build_of(&refused, "flagged");
    assert_eq!(record["status"], "failed");
    assert!(
        record["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("refused: mc-verify finding checksum-mismatch"),
        "{record}"
    );
    let pkgbuild =
        format!("{{\"type\":\"pkgbuild\",\"base\":\"flagged\",\"path\":\"{folder}\"}}\n");
    let ignored = set.build(&["--ignore-findings"], &[], &format!("{finding}{pkgbuild}"));
    assert_eq!(ignored.code, 0, "{ignored:?}");
    assert_eq!(status(&ignored, "flagged"), "built");
}

#[test]
fn build_records_match_the_documented_shape() {
    let set = Set::new();
    let folder = set.add(&Pkg {
        base: "shape",
        ..Pkg::default()
    });
    let output = Command::new(bin("mc-build"))
        .args(set.args(&[], &[folder]))
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let result = parse_output(&output);
    let mut keys: Vec<&str> = build_of(&result, "shape")
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // Every field of mc-records(7), always present, and nothing else.
    assert_eq!(
        keys,
        [
            "base",
            "elapsed_ms",
            "first_difference",
            "log_path",
            "lost_workers",
            "packages",
            "reason",
            "reproducible",
            "status",
            "type",
            "version",
            "worker"
        ]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with(r#"{"type":"build""#))
        .expect("a build line");
    assert!(
        line.starts_with(
            r#"{"type":"build","base":"shape","version":"1.0-1","status":"built","reason":null,"elapsed_ms":"#
        ),
        "{line}"
    );
}

/// Whether `base` is inside makepkg right now: its build folder has makepkg's work folder, and
/// no package yet.
fn in_makepkg(set: &Set, base: &str) -> bool {
    let folder = set.path("work/bases").join(base);
    let out_empty = fs::read_dir(folder.join("out")).is_ok_and(|mut dir| dir.next().is_none());
    folder.join("work").exists() && out_empty
}

/// Runs mc-build with `jobs` on two independent bases that sleep in build(); whether both were
/// ever seen inside makepkg at once.
fn overlapped(jobs: &str) -> bool {
    let set = Set::new();
    let folders: Vec<String> = ["par-1", "par-2"]
        .iter()
        .map(|base| {
            set.add(&Pkg {
                base,
                build: "sleep 2",
                ..Pkg::default()
            })
        })
        .collect();
    let args = set.args(&["--jobs", jobs], &folders);
    let mut child = Command::new(bin("mc-build"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mc-build starts");
    let mut both = false;
    while child.try_wait().expect("waits").is_none() {
        both |= in_makepkg(&set, "par-1") && in_makepkg(&set, "par-2");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("finishes");
    let result = parse_output(&output);
    assert_eq!(result.count("built"), 2, "{result:?}");
    both
}

#[test]
fn jobs_build_independent_bases_at_once() {
    assert!(overlapped("2"), "--jobs 2 never ran both builds at once");
    assert!(!overlapped("1"), "--jobs 1 ran two builds at once");
}

#[test]
fn check_reproducible_tells_a_reproducible_package_from_one_that_is_not() {
    let set = Set::new();
    let folders = vec![
        set.add(&Pkg {
            base: "steady",
            ..Pkg::default()
        }),
        set.add(&Pkg {
            base: "noisy",
            package: "od -x -N 16 /dev/urandom > \"$pkgdir/usr/share/noisy/noise\"",
            ..Pkg::default()
        }),
    ];
    let result = set.build(&["--check-reproducible"], &folders, "");
    assert_eq!(result.code, 0, "{result:?}");
    let steady = build_of(&result, "steady");
    assert_eq!(
        (&steady["reproducible"], &steady["first_difference"]),
        (&Value::Bool(true), &Value::Null)
    );
    let noisy = build_of(&result, "noisy");
    assert_eq!(noisy["reproducible"], false);
    assert_eq!(
        noisy["first_difference"],
        "noisy-1.0-1-any.pkg.tar.gz: usr/share/noisy/noise"
    );
    assert_eq!(result.count("unreproducible"), 1);
    let rebuild_log = set.path("work/logs/noisy.rebuild.log");
    assert!(rebuild_log.exists(), "the second build keeps its own log");
}

#[test]
fn bad_usage_and_a_missing_build_user_exit_2() {
    let set = Set::new();
    let usage = set.build(&["--jobs", "many"], &[], "");
    assert_eq!(usage.code, 2, "{usage:?}");
    let root = Command::new("id").arg("-u").output().expect("id").stdout == b"0\n";
    let no_user = set.build(&["--build-user", "mc-build-no-such-user"], &[], "");
    if root {
        assert_eq!(no_user.code, 2, "{no_user:?}");
        assert!(
            no_user.stderr.contains("build user mc-build-no-such-user"),
            "{no_user:?}"
        );
    } else {
        // Not root: makepkg runs as the caller, and the option does not matter.
        assert_eq!(no_user.code, 0, "{no_user:?}");
    }
}

#[test]
fn makepkg_runs_as_the_build_user() {
    let set = Set::new();
    let root = Command::new("id").arg("-u").output().expect("id").stdout == b"0\n";
    let user = if root {
        test_user()
    } else {
        let me = Command::new("id").arg("-un").output().expect("id").stdout;
        String::from_utf8_lossy(&me).trim().to_owned()
    };
    let check = format!("test \"$(id -un)\" = {user}");
    let folder = set.add(&Pkg {
        base: "whoami",
        build: &check,
        ..Pkg::default()
    });
    let result = set.build(&["--build-user", &user], &[folder], "");
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(status(&result, "whoami"), "built");
}
