//! Hostile input for the parsers that read what mirrors serve.
//!
//! Sync databases and packages come from hosts nobody here controls, so a corrupt, truncated or
//! malicious file must end in an `Err` that a tool reports as an error record, never in a panic
//! that takes a whole pipeline down. These tests feed the parsers seeded mutations of valid
//! inputs and random text; the seeds are fixed, so a failure names an input that can be replayed.

use std::{io::Write, panic};

use minicluster::{
    desc, keyvalue,
    package::{Expectations, PackageError, read_package},
    syncdb::{SyncDbError, read_entries, read_served},
};
use sha2::{Digest, Sha256};
use tar::EntryType;

/// xorshift64: a generator with a fixed seed, so every run sees the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n, which is a usize")
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

/// Runs `parse`, turning a panic into a failure that names the input that caused it.
fn no_panic<T>(case: &str, parse: impl FnOnce() -> T) -> T {
    panic::catch_unwind(panic::AssertUnwindSafe(parse))
        .unwrap_or_else(|_| panic!("the parser panicked on {case}"))
}

/// A variant of a valid file, and how it was made.
struct Mutant {
    case: String,
    bytes: Vec<u8>,
    /// Whether `bytes` is a strict prefix of the valid file.
    truncated: bool,
}

/// Seeded variants of `valid`: `flips` with 1–3 flipped bits each, truncations at about 200
/// lengths (always including one byte short), and 20 runs of appended garbage.
fn mutants(valid: &[u8], seed: u64, flips: usize) -> Vec<Mutant> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for _ in 0..flips {
        let mut bytes = valid.to_vec();
        let mut case = String::from("bit flips at");
        for _ in 0..=rng.below(3) {
            let (at, bit) = (rng.below(bytes.len()), rng.below(8));
            bytes[at] ^= 1 << bit;
            case += &format!(" {at}:{bit}");
        }
        out.push(Mutant {
            case,
            bytes,
            truncated: false,
        });
    }
    let step = valid.len().div_ceil(200);
    for len in (0..valid.len()).step_by(step).chain([valid.len() - 1]) {
        let bytes = valid[..len].to_vec();
        out.push(Mutant {
            case: format!("truncation to {len} bytes"),
            bytes,
            truncated: true,
        });
    }
    for _ in 0..20 {
        let len = 1 + rng.below(1024);
        let garbage = rng.bytes(len);
        let case = format!("{} garbage bytes appended", garbage.len());
        out.push(Mutant {
            case,
            bytes: [valid, &garbage].concat(),
            truncated: false,
        });
    }
    out
}

/// A tar member as a test states it; `size` is what the header declares and may lie about `data`.
#[derive(Clone, Copy)]
struct Member<'a> {
    name: &'a str,
    kind: EntryType,
    size: u64,
    data: &'a [u8],
    link: Option<&'a str>,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    let size = data.len() as u64;
    Member {
        name,
        kind: EntryType::Regular,
        size,
        data,
        link: None,
    }
}

/// A plain tar of `members`. Names are written into the header as they are, because
/// `tar::Builder::append_data` refuses the `..` and absolute paths a hostile archive holds.
fn tar_of(members: &[Member]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for member in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(member.kind);
        header.set_size(member.size);
        header.set_mode(if member.kind == EntryType::Regular {
            0o644
        } else {
            0o755
        });
        header.as_old_mut().name[..member.name.len()].copy_from_slice(member.name.as_bytes());
        if let Some(target) = member.link {
            header
                .set_link_name(target)
                .expect("a short relative link target");
        }
        header.set_cksum();
        builder
            .append(&header, member.data)
            .expect("writing to memory");
    }
    builder.into_inner().expect("writing to memory")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("writing to memory")
}

/// Reads `bytes` as a sync database both ways and every entry as a package, ignoring the results.
fn read_sync_db(case: &str, bytes: &[u8]) {
    no_panic(case, || {
        let _ = read_served(bytes);
        for entry in read_entries(bytes).into_iter().flatten() {
            let _ = entry.package("core");
        }
    });
}

fn valid_sync_db() -> Vec<u8> {
    tar_of(&[
        Member {
            kind: EntryType::Directory,
            ..file("a-1-1/", b"")
        },
        file(
            "a-1-1/desc",
            b"%NAME%\na\n\n%VERSION%\n1-1\n\n%CSIZE%\n42\n\n%DEPENDS%\nb\n",
        ),
        file("a-1-1/files", b"%FILES%\nusr/\nusr/bin/a\n"),
        file(
            "b-2-1/desc",
            b"%FILENAME%\nb-2-1-any.pkg.tar.zst\n\n%NAME%\nb\n\n%VERSION%\n2-1\n",
        ),
        file("b-2-1/files", b"%FILES%\nusr/share/b/\n"),
    ])
}

#[test]
fn sync_db_fixture_is_valid_in_every_compression() {
    for bytes in [
        valid_sync_db(),
        gzip(&valid_sync_db()),
        zstd(&valid_sync_db()),
    ] {
        let entries = read_entries(bytes.as_slice()).expect("a valid sync database");
        let names: Vec<_> = entries
            .iter()
            .map(|e| e.package("core").expect("valid").name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}

#[test]
fn mutated_sync_dbs_never_panic() {
    let plain = valid_sync_db();
    for (format, valid) in [
        ("tar", plain.clone()),
        ("gzip", gzip(&plain)),
        ("zstd", zstd(&plain)),
    ] {
        for mutant in mutants(&valid, 0x9e37_79b9_7f4a_7c15, 300) {
            read_sync_db(&format!("{format} sync db, {}", mutant.case), &mutant.bytes);
        }
    }
}

#[test]
fn random_bytes_behind_every_magic_never_panic() {
    let magics: [&[u8]; 6] = [
        b"",
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
        b"\xfd7zXZ\0",
        b"BZh9",
        b"\x04\x22\x4d\x18",
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for magic in magics {
        for round in 0..100 {
            let len = rng.below(2048);
            let bytes = [magic, &rng.bytes(len)].concat();
            read_sync_db(
                &format!("random bytes #{round} after magic {magic:02x?}"),
                &bytes,
            );
        }
    }
}

#[test]
fn sync_db_members_declaring_huge_sizes_are_refused() {
    for size in [(256 << 20) + 1, 1 << 40, u64::MAX >> 1] {
        let tar = tar_of(&[Member {
            size,
            ..file("a-1-1/desc", b"%NAME%\n")
        }]);
        let result = read_entries(zstd(&tar).as_slice());
        assert!(matches!(result, Err(SyncDbError::MemberTooLarge { size: s, .. }) if s == size));
    }
    // Under the limit but missing its data: the stream ends early.
    let tar = tar_of(&[Member {
        size: 1 << 20,
        ..file("a-1-1/files", b"%FILES%\n")
    }]);
    assert!(matches!(
        read_entries(tar.as_slice()),
        Err(SyncDbError::Archive(_))
    ));
}

#[test]
fn a_desc_of_garbage_lines_is_an_entry_error() {
    let garbage = "\u{0}\u{fffd}junk\n=%%\n%lower%\n\r\n%%NAME%%\n\u{202e}x\n".as_bytes();
    let tar = tar_of(&[file("a-1-1/desc", garbage), file("a-1-1/files", garbage)]);
    let entries = read_entries(gzip(&tar).as_slice()).expect("the archive itself is fine");
    assert_eq!(entries.len(), 1);
    assert!(entries[0].package("core").is_err());
}

/// `.PKGINFO`, a gzip'd `.MTREE`, two directories, a file and a symlink, zstd-compressed.
fn valid_package(extra: &[Member]) -> Vec<u8> {
    let script = b"#!/bin/sh\necho a\n";
    let mtree = format!(
        "#mtree\n/set mode=644 uid=0 gid=0 type=file\n\
         ./usr type=dir mode=755 time=1700000000.0\n./usr/bin type=dir mode=755 time=1700000000.0\n\
         ./usr/bin/a time=1700000000.0 size={} sha256digest={}\n\
         ./usr/bin/alias type=link link=a time=1700000000.0\n",
        script.len(),
        hex::encode(Sha256::digest(script)),
    );
    let mtree = gzip(mtree.as_bytes());
    let mut members = vec![
        file(".PKGINFO", b"pkgname = a\npkgver = 1-1\n"),
        file(".MTREE", &mtree),
        Member {
            kind: EntryType::Directory,
            ..file("usr/", b"")
        },
        Member {
            kind: EntryType::Directory,
            ..file("usr/bin/", b"")
        },
        file("usr/bin/a", script),
        Member {
            kind: EntryType::Symlink,
            link: Some("a"),
            ..file("usr/bin/alias", b"")
        },
    ];
    members.extend_from_slice(extra);
    zstd(&tar_of(&members))
}

#[test]
fn package_fixture_is_valid() {
    let contents = read_package(valid_package(&[]).as_slice(), &Expectations::default())
        .expect("a valid package");
    assert_eq!(contents.pkginfo("pkgname"), Some("a"));
    assert_eq!(contents.mtree_problem, None);
    let paths: Vec<_> = contents.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["usr/", "usr/bin/", "usr/bin/a", "usr/bin/alias"]);
    assert!(contents.entries[2].sha256.is_some(), "taken from .MTREE");
}

#[test]
fn mutated_packages_never_panic_and_truncated_ones_fail() {
    let valid = valid_package(&[]);
    for mutant in mutants(&valid, 0xd1b5_4a32_d192_ed03, 300) {
        let case = format!("package, {}", mutant.case);
        let result = no_panic(&case, || {
            read_package(mutant.bytes.as_slice(), &Expectations::default())
        });
        if let Ok(contents) = result {
            assert!(!mutant.truncated, "{case}: read as a whole package");
            assert_eq!(contents.csize, mutant.bytes.len() as u64, "{case}");
        }
    }
}

#[test]
fn climbing_and_absolute_paths_are_unsafe() {
    for name in [
        "../etc/passwd",
        "/etc/passwd",
        "usr/../../etc/passwd",
        "./../x",
    ] {
        let bytes = valid_package(&[file(name, b"root::0:0::/root:/bin/sh\n")]);
        let result = read_package(bytes.as_slice(), &Expectations::default());
        assert!(
            matches!(result, Err(PackageError::UnsafePath(ref p)) if p == name),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn a_member_declaring_one_tib_fails_without_reading_it() {
    let bytes = valid_package(&[Member {
        size: 1 << 40,
        ..file("usr/bin/huge", b"tiny")
    }]);
    let no_limit = Expectations {
        max_member_bytes: u64::MAX,
        ..Expectations::default()
    };
    for expect in [Expectations::default(), no_limit] {
        let result = read_package(bytes.as_slice(), &expect);
        assert!(
            matches!(
                result,
                Err(PackageError::MemberTooLarge { .. } | PackageError::Stream(_))
            ),
            "limit {}: {result:?}",
            expect.max_member_bytes
        );
    }
}

#[test]
fn random_text_never_panics_the_line_parsers() {
    const PIECES: [&str; 26] = [
        "%",
        "\n",
        "\r\n",
        "\n\n",
        "=",
        " = ",
        "#",
        "a",
        "Z",
        "0",
        "9",
        "-",
        ":",
        "é",
        "\u{fffd}",
        "\u{feff}",
        "\u{202e}",
        "𝄞",
        "\0",
        "%NAME%",
        "%VERSION%",
        "%FILES%",
        "%CSIZE%",
        "%BUILDDATE%",
        "pkgname",
        "18446744073709551616",
    ];
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    let mut packages = 0;
    for round in 0..3000 {
        let text: String = (0..rng.below(120))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect();
        let case = format!("random text #{round}: {text:?}");
        let (package, files, pairs) = no_panic(&case, || {
            let package = desc::package("fuzz", &text);
            (package, desc::files(&text), keyvalue::parse(&text))
        });
        if let Ok(package) = package {
            packages += 1;
            assert!(
                !package.name.is_empty() && !package.name.contains('\n'),
                "{case}"
            );
            assert!(
                !package.version.is_empty() && !package.version.contains('\n'),
                "{case}"
            );
        }
        for path in files.unwrap_or_default() {
            assert!(!path.is_empty() && !path.contains('\n'), "{case}");
        }
        for (key, value) in pairs {
            assert_eq!(
                (key.trim(), value.trim()),
                (key.as_str(), value.as_str()),
                "{case}"
            );
            assert!(!key.contains('\n') && !value.contains('\n'), "{case}");
        }
    }
    assert!(packages > 0, "the generator never reached a valid desc");
}
