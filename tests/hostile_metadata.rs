//! Packages whose metadata is hostile: a `.PKGINFO` given twice, and one of 50 MB. Real
//! binaries (`mc-repo`, `mc-scan`) against repo-add.

use std::{fs, path::Path, process::Command};

use pipeline_tests::{bin, repo, require, run};

/// A zstd package of `members` (path, content), in that order.
fn package(path: &Path, members: &[(&str, &[u8])]) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        builder.append_data(&mut header, name, *data).expect("tar");
    }
    let tar = builder.into_inner().expect("tar");
    fs::write(path, zstd::encode_all(tar.as_slice(), 3).expect("zstd")).expect("write");
    path.display().to_string()
}

fn pkginfo(name: &str) -> String {
    format!("pkgname = {name}\npkgbase = {name}\npkgver = 1-1\narch = any\nsize = 3\n")
}

fn record(path: &str) -> String {
    format!("{{\"type\":\"package\",\"name\":\"twice\",\"version\":\"1-1\",\"path\":\"{path}\"}}\n")
}

#[test]
fn a_second_pkginfo_is_ignored_as_repo_add_ignores_it_and_mc_scan_flags_it() {
    require("repo-add", "pacman-package-manager");
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (pkginfo("twice"), pkginfo("other"));
    let path = package(
        &dir.path().join("twice-1-1-any.pkg.tar.zst"),
        &[
            (".PKGINFO", first.as_bytes()),
            (".PKGINFO", second.as_bytes()),
            ("usr/share/twice/a", b"ok\n"),
        ],
    );
    let peer = dir.path().join("peer.db.tar.gz");
    let status = Command::new("repo-add")
        .arg(&peer)
        .arg(&path)
        .env("LC_ALL", "C")
        .output()
        .expect("repo-add runs");
    assert!(status.status.success(), "{status:?}");
    let peer_names: Vec<String> =
        minicluster::syncdb::read_entries(fs::File::open(&peer).expect("db"))
            .expect("repo-add's db")
            .iter()
            .filter_map(|entry| entry.package("peer").ok().map(|p| p.name))
            .collect();
    assert_eq!(peer_names, ["twice"], "repo-add takes the first");

    let db = dir.path().join("ours.db.tar.zst").display().to_string();
    let added = repo(&["add", "--repo", &db], &record(&path));
    let names: Vec<_> = added
        .of_type("change")
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, ["twice"], "{added:?}");

    let scanned = run(&bin("mc-scan"), &[&path], "");
    let findings: Vec<_> = scanned
        .of_type("finding")
        .iter()
        .map(|f| {
            (
                f["check"].clone(),
                f["severity"].clone(),
                f["member"].clone(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [(
            "repeated-metadata".into(),
            "error".into(),
            ".PKGINFO".into()
        )],
        "{scanned:?}"
    );
    assert_eq!(scanned.code, 1);
}

#[test]
fn a_50_mb_pkginfo_is_refused_with_a_small_error_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut huge = pkginfo("huge");
    huge.push_str(&"depend = a-dependency-of-some-length\n".repeat(50 << 20 >> 5));
    let path = package(
        &dir.path().join("huge-1-1-any.pkg.tar.zst"),
        &[(".PKGINFO", huge.as_bytes()), ("usr/share/huge/a", b"ok\n")],
    );
    let db = dir.path().join("ours.db.tar.zst").display().to_string();
    let added = repo(&["add", "--repo", &db], &record(&path));
    assert_eq!(added.error_kinds(), ["metadata_too_large"], "{added:?}");
    let message = added.of_type("error")[0].to_string();
    assert!(message.len() < 1000, "a short record: {message}");
    assert_eq!(added.code, 1);
}
