//! A hostile mirror's sync databases, served on loopback to the real `mc-fetch`: memory bombs,
//! file names that leave the cache, and entries that say the same thing twice.

use std::{
    fs::File,
    io::{self, Read, Write},
    path::Path,
    process::Command,
};

use pipeline_tests::{Run, bin, fetch, parse_output, require};
use xtask::serve::MirrorServer;

/// `len` bytes of `a\n` lines: the cheapest text to compress and the dearest to split into lines.
struct ShortLines {
    left: u64,
}

impl Read for ShortLines {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = if i % 2 == 0 { b'a' } else { b'\n' };
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A desc of package `name`, with `extra` lines after it.
fn desc(name: &str, extra: &str) -> String {
    format!(
        "%FILENAME%\n{name}-1-1-x86_64.pkg.tar.zst\n\n%NAME%\n{name}\n\n%VERSION%\n1-1\n\n{extra}"
    )
}

/// A zstd'd sync database at `core/os/x86_64/core.db` under `root`; each member is
/// (path, header text, bytes of short lines after it), written as it is compressed.
fn write_db(root: &Path, members: &[(&str, String, u64)]) {
    let dir = root.join("core/os/x86_64");
    std::fs::create_dir_all(&dir).expect("mirror folder");
    let file = File::create(dir.join("core.db")).expect("core.db");
    let encoder = zstd::Encoder::new(file, 3).expect("zstd");
    let mut builder = tar::Builder::new(encoder);
    for (path, text, lines) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64 + lines);
        header.set_mode(0o644);
        header.set_cksum();
        let data = text.as_bytes().chain(ShortLines { left: *lines });
        builder.append_data(&mut header, path, data).expect("tar");
    }
    let encoder = builder.into_inner().expect("tar");
    encoder.finish().expect("zstd").flush().expect("flush");
}

/// `mc-fetch repo core` from a mirror serving `root`, under `/usr/bin/time`: the run and its
/// peak resident memory in KiB.
fn fetch_measured(root: &Path, extra: &[&str]) -> (Run, u64) {
    require("/usr/bin/time", "time");
    let server = MirrorServer::start(root, "127.0.0.1:0").expect("server");
    let times = tempfile::NamedTempFile::new().expect("temp file");
    let url = format!("{}/$repo/os/$arch", server.url());
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(times.path())
        .arg(bin("mc-fetch"))
        .args(["repo", "core", "--mirror", &url])
        .args(extra)
        .output()
        .expect("mc-fetch runs");
    let peak = std::fs::read_to_string(times.path()).expect("time's output");
    let peak_kib = peak.trim().lines().last().and_then(|l| l.parse().ok());
    (parse_output(&output), peak_kib.expect("a number of KiB"))
}

#[test]
fn a_sync_db_memory_bomb_is_refused_entry_by_entry_in_bounded_memory() {
    let root = tempfile::tempdir().expect("tempdir");
    let bomb = 250 << 20;
    write_db(
        root.path(),
        &[
            ("a-1-1/desc", desc("a", ""), 0),
            ("bomb1-1-1/desc", desc("bomb1", "%DEPENDS%\n"), bomb),
            ("bomb2-1-1/desc", desc("bomb2", "%DEPENDS%\n"), bomb),
            ("bomb3-1-1/desc", desc("bomb3", "%DEPENDS%\n"), bomb),
            ("z-1-1/desc", desc("z", ""), 0),
        ],
    );
    let size = std::fs::metadata(root.path().join("core/os/x86_64/core.db")).expect("db");
    assert!(size.len() < 1 << 20, "a bomb: {} bytes", size.len());
    let (run, peak_kib) = fetch_measured(root.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let names: Vec<_> = run
        .of_type("package")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, ["a", "z"]);
    let errors = run.of_type("error");
    assert_eq!(errors.len(), 3, "{errors:?}");
    for (error, folder) in errors.iter().zip(["bomb1-1-1", "bomb2-1-1", "bomb3-1-1"]) {
        assert_eq!(error["kind"], "entry_too_large");
        assert_eq!(error["subject"]["entry"], folder);
    }
    eprintln!("mc-fetch repo on the bomb: peak RSS {peak_kib} KiB");
    // Before: 22 GB. Now one 32 MiB entry at most, twice over for reading and copying.
    assert!(peak_kib < 256 << 10, "peak RSS {peak_kib} KiB");

    // The whole database is bounded too, by a size flag (its old spelling in MiB still works).
    for flag in [["--max-db-size", "100M"], ["--max-db-mib", "100"]] {
        let (run, _) = fetch_measured(root.path(), &flag);
        assert_eq!(
            run.error_kinds(),
            ["sync_db_too_large"],
            "{flag:?}: {:?}",
            run.records
        );
        let message = run.of_type("error")[0]["message"].to_string();
        assert!(message.contains("more than 100 MiB"), "{message}");
    }
}

#[test]
fn a_larger_entry_is_read_when_the_flag_allows_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let lines = 1 << 20;
    write_db(
        root.path(),
        &[("big-1-1/desc", desc("big", "%DEPENDS%\n"), lines)],
    );
    let (run, _) = fetch_measured(root.path(), &["--max-entry-mib", "16"]);
    assert_eq!(run.code, 1, "1 MiB of lines costs about 25 MiB parsed");
    assert_eq!(run.error_kinds(), ["entry_too_large"]);
    let (run, _) = fetch_measured(root.path(), &["--max-entry-size", "64M"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let depends = run.of_type("package")[0]["depends"]
        .as_array()
        .map(Vec::len);
    assert_eq!(depends, Some(1 << 19));
}

#[test]
fn file_names_that_leave_the_cache_and_duplicates_are_error_records_naming_the_entry() {
    let root = tempfile::tempdir().expect("tempdir");
    let escaping = "%FILENAME%\n../../../etc/passwd\n\n%NAME%\nevil\n\n%VERSION%\n1-1\n";
    write_db(
        root.path(),
        &[
            ("a-1-1/desc", desc("a", ""), 0),
            ("evil-1-1/desc", escaping.to_owned(), 0),
            ("a-2-1/desc", desc("a", ""), 0),
            ("b-1-1/desc", desc("b", ""), 0),
            ("a-1-1/desc", desc("a", ""), 0),
        ],
    );
    let run = fetch(&[
        "repo",
        "core",
        "--mirror",
        &format!("file://{}/$repo/os/$arch", root.path().display()),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let names: Vec<_> = run
        .of_type("package")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let errors: Vec<_> = run
        .of_type("error")
        .iter()
        .map(|e| (e["kind"].clone(), e["subject"]["entry"].clone()))
        .collect();
    assert_eq!(
        errors,
        [
            ("bad_filename".into(), "evil-1-1".into()),
            ("duplicate_name".into(), "a-2-1".into()),
            ("duplicate_entry".into(), "a-1-1".into()),
        ]
    );
}
