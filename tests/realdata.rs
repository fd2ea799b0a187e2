//! Real Arch data, which nobody here wrote, read end to end and checked against pacman.

use std::{collections::BTreeMap, fs};

use pipeline_tests::{Pacman, fetch, index, lines, pacman_list, parse_pacman_info, realdata};

const OFFICIAL_2019: &str = "syncdbs/archlinux-official-2019-06_via-alpm.rs/alpm/tests/db/sync";
const OFFICIAL_2021: &str = "syncdbs/archlinux-official-2021-04_via-paru/testdata/db/sync";
const OFFICIAL_2025: &str = "syncdbs/archlinux-official-2025-02_via-xadaemon-pacman-tools";
const STEAVEN: &str = "packages/steavenrepo/x86_64";

/// Every official database, through `mc-fetch repo` from a `file://` mirror: no error record,
/// and as many packages as the database has entries.
#[test]
fn every_official_sync_database_parses() {
    let cases: [(&str, &[(&str, usize)]); 3] = [
        (
            OFFICIAL_2019,
            &[
                ("core", 231),
                ("extra", 2917),
                ("multilib", 280),
                ("testing", 38),
                ("community-testing", 36),
                ("multilib-testing", 1),
            ],
        ),
        (OFFICIAL_2021, &[("core", 234), ("extra", 3003)]),
        (OFFICIAL_2025, &[("core", 265)]),
    ];
    for (dir, repos) in cases {
        let mirror = format!("file://{}", realdata().join(dir).display());
        for (repo, entries) in repos {
            let run = fetch(&["repo", "--mirror", &mirror, repo]);
            assert_eq!(
                (run.code, run.error_kinds()),
                (0, vec![]),
                "{dir} {repo}: {}",
                run.stderr
            );
            assert_eq!(run.of_type("package").len(), *entries, "{dir} {repo}");
        }
    }
}

/// `.files` databases: the 2019 official ones, and the real personal repository's.
#[test]
fn files_databases_carry_every_path() {
    let pkgfile = realdata()
        .join("syncdbs/archlinux-official-2019-10-files_via-pkgfile/tests/golden/alpm/x86_64");
    let mirror = format!("{}/$repo", pkgfile.display());
    let run = fetch(&[
        "repo", "--files", "--mirror", &mirror, "multilib", "testing",
    ]);
    assert_eq!((run.code, run.error_kinds()), (0, vec![]), "{}", run.stderr);
    assert_eq!(run.of_type("package").len(), 279 + 13);
    let paths: usize = run
        .of_type("package")
        .iter()
        .map(|p| p["files"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(paths > 10_000, "only {paths} paths");
    let arcanis = realdata().join(
        "syncdbs/arcanisrepo-files_via-ahriman/tests/testresources/core/arcanisrepo.files.tar.gz",
    );
    let entries = minicluster::syncdb::read_entries(fs::File::open(arcanis).expect("real data"))
        .expect("readable");
    for entry in &entries {
        let package = entry.package("arcanisrepo").expect("valid entry");
        assert!(
            package.files.is_some_and(|files| !files.is_empty()),
            "{}",
            package.name
        );
    }
}

/// Names, versions and dependencies as `pacman -Si` prints them from the same database.
#[test]
fn fields_agree_with_pacman_on_real_databases() {
    for (dir, repo) in [
        (OFFICIAL_2021, "core"),
        (OFFICIAL_2025, "core"),
        (OFFICIAL_2019, "extra"),
    ] {
        let pacman = Pacman::new("file:///nonexistent/$repo", &[repo]);
        fs::create_dir_all(pacman.sync_dir()).expect("sync folder");
        fs::copy(
            realdata().join(dir).join(format!("{repo}.db")),
            pacman.sync_dir().join(format!("{repo}.db")),
        )
        .expect("copy db");
        let theirs = parse_pacman_info(&pacman.run(&["-Si"]));
        let mirror = format!("file://{}", realdata().join(dir).display());
        let ours = fetch(&["repo", "--mirror", &mirror, repo]);
        assert_eq!(ours.of_type("package").len(), theirs.len(), "{dir}");
        for package in ours.of_type("package") {
            let name = package["name"].as_str().expect("name");
            let info = &theirs[&(repo.to_owned(), name.to_owned())];
            assert_eq!(package["version"], info["Version"], "{name}");
            assert_eq!(
                pacman_list(&package["depends"], "  "),
                info["Depends On"],
                "{name} depends"
            );
            assert_eq!(
                pacman_list(&package["provides"], "  "),
                info["Provides"],
                "{name} provides"
            );
            assert_eq!(
                pacman_list(&package["conflicts"], "  "),
                info["Conflicts With"],
                "{name} conflicts"
            );
            assert_eq!(package["arch"], info["Architecture"], "{name}");
        }
    }
}

/// The real signed repository's packages, streamed and indexed: every file list equals the
/// repository's own `.files` entry. Three packages are absent from the snapshot: `not_found`.
#[test]
fn real_packages_index_with_their_files_entries() {
    let mirror = realdata().join(STEAVEN).display().to_string();
    let listed = fetch(&["repo", "--files", "--mirror", &mirror, "SteavenLinux"]);
    let expected: BTreeMap<String, Vec<String>> = listed
        .of_type("package")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                sorted(&p["files"]),
            )
        })
        .collect();
    let db = tempfile::tempdir().expect("tempdir");
    let db = db.path().join("index.sqlite");
    let db_arg = db.display().to_string();
    let indexed = index(&["--db", &db_arg], &lines(&listed.of_type("package")));
    assert_eq!(
        indexed.error_kinds(),
        ["not_found"; 3],
        "{}",
        indexed.stderr
    );
    assert_eq!(indexed.code, 1);
    assert_eq!(indexed.count("indexed"), 37);
    let everything = index(&["query", "--db", &db_arg, "(^|/)"], "");
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in everything.of_type("file") {
        got.entry(file["name"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(file["path"].as_str().unwrap_or_default().to_owned());
    }
    // Meta packages have no files, so they are absent from the query's answer.
    for package in indexed.of_type("package") {
        let name = package["name"].as_str().unwrap_or_default();
        let mut paths = got.remove(name).unwrap_or_default();
        paths.sort();
        assert_eq!(&paths, &expected[name], "{name}");
        assert_eq!(package["file_count"], paths.len(), "{name}");
    }
    assert!(got.is_empty(), "files of packages never indexed: {got:?}");
}

fn sorted(values: &serde_json::Value) -> Vec<String> {
    let mut values: Vec<String> = values
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    values.sort();
    values
}

/// The 2019 test package was stripped after the database was made: its sha256 no longer
/// matches, and the index says so instead of storing it.
#[test]
fn a_stripped_package_fails_its_checksum() {
    let mirror = format!("file://{}", realdata().join(OFFICIAL_2019).display());
    let core = fetch(&["repo", "--mirror", &mirror, "core"]);
    let mut pacman = core
        .of_type("package")
        .into_iter()
        .find(|p| p["name"] == "pacman")
        .expect("pacman in core")
        .clone();
    let stripped = realdata().join("syncdbs/archlinux-official-2019-06_via-alpm.rs/alpm/tests/pacman-5.1.3-1-x86_64.pkg.tar.xz");
    pacman["path"] = stripped.display().to_string().into();
    let db = tempfile::tempdir().expect("tempdir");
    let db_arg = db.path().join("i.sqlite").display().to_string();
    let run = index(&["--db", &db_arg], &format!("{pacman}\n"));
    assert_eq!(
        (run.code, run.error_kinds()),
        (1, vec!["sha256_mismatch".to_owned()])
    );
    // The same file given without the database's promise indexes fine: it is a valid package.
    let plain = index(
        &["--db", &db_arg],
        &format!(
            "{{\"type\":\"package\",\"path\":{:?}}}\n",
            stripped.display().to_string()
        ),
    );
    assert_eq!(
        (plain.code, plain.count("indexed")),
        (0, 1),
        "{:?}",
        plain.records
    );
    assert_eq!(plain.of_type("package")[0]["name"], "pacman");
}

/// A real database recompressed every way pacman allows reads the same, whatever its file is
/// called: mirrors serve `core.db` as gzip, zstd, xz, bzip2 or a plain tar.
#[test]
fn every_sync_database_compression_reads_the_same() {
    let original = realdata().join(OFFICIAL_2021).join("core.db");
    let mirror = format!("file://{}", realdata().join(OFFICIAL_2021).display());
    let expected = fetch(&["repo", "--mirror", &mirror, "core"]).records;
    let mut tar = Vec::new();
    minicluster::compress::decompress(fs::File::open(&original).expect("real data"))
        .and_then(|mut gzip| std::io::copy(&mut gzip, &mut tar))
        .expect("gunzip");
    for (tool, args) in [
        ("zstd", &["-q", "-c"][..]),
        ("xz", &["-c"][..]),
        ("bzip2", &["-c"][..]),
        ("cat", &[][..]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new(tool)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let mut stdin = child.stdin.take().expect("stdin");
        let input = tar.clone();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let output = child.wait_with_output().expect("compresses");
        writer.join().expect("writer").expect("written");
        fs::write(dir.path().join("core.db"), output.stdout).expect("write");
        let run = fetch(&[
            "repo",
            "--mirror",
            &dir.path().display().to_string(),
            "core",
        ]);
        let strip_urls = |records: &[serde_json::Value]| -> Vec<serde_json::Value> {
            records
                .iter()
                .map(|r| serde_json::json!([r["name"], r["version"], r["sha256"], r["depends"]]))
                .collect()
        };
        assert_eq!(strip_urls(&run.records), strip_urls(&expected), "{tool}");
    }
}

/// The checksums the index computes from content equal those the real packages' `.MTREE` files
/// claim, read with `alpm-mtree`.
#[test]
fn content_checksums_equal_the_real_mtree_digests() {
    let db = tempfile::tempdir().expect("tempdir");
    let db_arg = db.path().join("i.sqlite").display().to_string();
    let packages: Vec<_> = fs::read_dir(realdata().join(STEAVEN))
        .expect("real data")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".pkg.tar.zst"))
        .collect();
    let input: String = packages
        .iter()
        .map(|p| format!("{}\n", serde_json::json!({"type": "package", "path": p})))
        .collect();
    assert_eq!(index(&["--db", &db_arg], &input).code, 0);
    let ours: BTreeMap<(String, String), String> = index(&["query", "--db", &db_arg, "."], "")
        .of_type("file")
        .iter()
        .filter(|f| f["kind"] == "file")
        .map(|f| {
            (
                (
                    f["name"].as_str().unwrap_or_default().to_owned(),
                    f["path"].as_str().unwrap_or_default().to_owned(),
                ),
                f["sha256"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut compared = 0;
    for package in &packages {
        let (name, digests) = mtree_digests(package);
        for (path, digest) in digests {
            assert_eq!(
                ours.get(&(name.clone(), path.clone())),
                Some(&digest),
                "{name} {path}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, ours.len(), "every regular file was compared");
}

/// The package name and the sha256 of every regular file its `.MTREE` lists.
fn mtree_digests(package: &std::path::Path) -> (String, Vec<(String, String)>) {
    use std::io::Read;
    let stream =
        minicluster::compress::decompress(fs::File::open(package).expect("package")).expect("zstd");
    let mut archive = tar::Archive::new(stream);
    let (mut name, mut mtree) = (String::new(), String::new());
    for member in archive.entries().expect("tar") {
        let mut member = member.expect("member");
        let path = member.path().expect("path").display().to_string();
        let mut bytes = Vec::new();
        match path.as_str() {
            ".PKGINFO" => {
                member.read_to_end(&mut bytes).expect("read");
                let pairs = minicluster::keyvalue::parse(&String::from_utf8_lossy(&bytes));
                name = minicluster::keyvalue::last(&pairs, "pkgname")
                    .unwrap_or_default()
                    .to_owned();
            }
            ".MTREE" => {
                member.read_to_end(&mut bytes).expect("read");
                minicluster::compress::decompress(bytes.as_slice())
                    .and_then(|mut text| text.read_to_string(&mut mtree))
                    .expect("gzip");
            }
            _ => {}
        }
    }
    let parsed: alpm_mtree::Mtree = mtree.parse().expect("alpm-mtree reads real .MTREE files");
    let (alpm_mtree::Mtree::V1(paths) | alpm_mtree::Mtree::V2(paths)) = parsed;
    let files = paths
        .into_iter()
        .filter_map(|path| match path {
            alpm_mtree::mtree::v2::Path::File(file) => {
                let path = file.path.display().to_string();
                let path = path.strip_prefix("./").unwrap_or(&path).to_owned();
                (!path.starts_with('.')).then(|| (path, file.sha256_digest.to_string()))
            }
            _ => None,
        })
        .collect();
    (name, files)
}

/// Every real `.SRCINFO` of the PKGBUILD archive (2,533 of chaotic-aur's packages) is read:
/// what makepkg wrote, pacman and makepkg take, so we take it too.
#[test]
fn every_real_srcinfo_is_read() {
    let work = tempfile::tempdir().expect("tempdir");
    let unpacked = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(realdata().join("pkgbuilds/chaotic-aur-packages.tar.gz"))
        .arg("-C")
        .arg(work.path())
        .status()
        .expect("tar runs");
    assert!(unpacked.success(), "tar -xzf");
    let mut folders: Vec<std::path::PathBuf> = fs::read_dir(work.path())
        .expect("unpacked")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|folder| folder.join(".SRCINFO").exists())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2533);
    let mut refused = BTreeMap::new();
    let mut noted = BTreeMap::new();
    for folder in &folders {
        let base = folder
            .file_name()
            .expect("a folder")
            .to_string_lossy()
            .into_owned();
        match minicluster::srcinfo::read_noting(folder) {
            Ok(read) if read.notes.is_empty() => {}
            Ok(read) => {
                noted.insert(base, read.notes);
            }
            Err(error) => {
                refused.insert(base, error);
            }
        }
    }
    // makepkg refuses to build stockfish ("pkgver is not allowed to contain colons, forward
    // slashes, hyphens or whitespace"), and upscayl-ncnn's .SRCINFO is empty.
    assert_eq!(
        refused.keys().map(String::as_str).collect::<Vec<_>>(),
        ["stockfish", "upscayl-ncnn"],
        "{refused:#?}"
    );
    assert!(
        matches!(
            refused["upscayl-ncnn"],
            minicluster::srcinfo::SrcinfoError::Empty(_)
        ),
        "{refused:?}"
    );
    assert!(
        refused["stockfish"]
            .to_string()
            .contains("pkgver = 20260630-60888387")
    );
    assert_eq!(
        noted.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "amiberry",
            "buttermanager",
            "keymapper-git",
            "nvchad-git",
            "python-materialyoucolor",
            "qownnotes",
            "quartus-130",
            "ruby-fusuma-plugin-sendkey",
            "superslicer-profiles-git",
        ],
        "{noted:#?}"
    );
    // The one value read otherwise than trimmed that pacman compares: the empty epoch, which
    // makepkg itself writes for `$epoch:$pkgver` without an epoch. pacman's vercmp agrees.
    let epoch = &noted["superslicer-profiles-git"];
    assert!(
        epoch
            .iter()
            .any(|note| note.message.contains("empty epoch")),
        "{epoch:?}"
    );
    let same = std::process::Command::new("vercmp")
        .args([":r16.a95ec3a", "0:r16.a95ec3a"])
        .output()
        .expect("vercmp runs");
    assert_eq!(String::from_utf8_lossy(&same.stdout).trim(), "0");
}

/// Name → version of a real sync database's entries.
fn versions(db: &str) -> BTreeMap<String, String> {
    let file = fs::File::open(realdata().join(db)).expect("database");
    minicluster::syncdb::read_entries(file)
        .expect("readable")
        .into_iter()
        .filter_map(|entry| {
            let desc = entry.desc?;
            let name = minicluster::desc::first_value(&desc, "NAME")?.to_owned();
            let version = minicluster::desc::first_value(&desc, "VERSION")?.to_owned();
            Some((name, version))
        })
        .collect()
}

/// Our vercmp (mc-repo sync picks the newest by it) gives pacman's answer on every package
/// that is in core in 2019, 2021 and 2025: each version against the others.
#[test]
fn vercmp_agrees_with_pacman_on_real_versions() {
    pipeline_tests::require("vercmp", "pacman-package-manager");
    let years = [
        versions(&format!("{OFFICIAL_2019}/core.db")),
        versions(&format!("{OFFICIAL_2021}/core.db")),
        versions(&format!("{OFFICIAL_2025}/core.db")),
    ];
    let mut pairs = Vec::new();
    for (name, oldest) in &years[0] {
        let (Some(middle), Some(newest)) = (years[1].get(name), years[2].get(name)) else {
            continue;
        };
        pairs.extend([(oldest, middle), (middle, newest), (newest, oldest)]);
    }
    assert!(pairs.len() > 300, "{} pairs", pairs.len());
    for (a, b) in pairs {
        let out = std::process::Command::new("vercmp")
            .args([a, b])
            .output()
            .expect("vercmp runs");
        let theirs: i32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a number");
        assert_eq!(
            minicluster::vercmp::vercmp(a, b),
            theirs.cmp(&0),
            "vercmp {a} {b}"
        );
    }
}
