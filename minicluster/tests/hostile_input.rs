//! Hostile input for the parsers that read what mirrors serve.
//!
//! Sync databases and packages come from hosts nobody here controls, so a corrupt, truncated or
//! malicious file must end in an `Err` that a tool reports as an error record, never in a panic
//! that takes a whole pipeline down. These tests feed the parsers seeded mutations of valid
//! inputs and random text; the seeds are fixed, so a failure names an input that can be replayed.

use std::{io::Write, panic};

use minicluster::{
    compress::Compression,
    desc, keyvalue,
    package::{Expectations, PackageError, read_package},
    syncdb::{SyncDbError, read_entries, read_served},
};
use sha2::{Digest, Sha256};
use tar::EntryType::{self, Directory, Regular, Symlink};

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
        usize::try_from(self.next() % n as u64).expect("less than n, a usize")
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

/// Seeded variants of `valid`, each with how it was made: `flips` with 1–3 flipped bits,
/// truncations at about 200 lengths (one byte short among them), and 20 with garbage appended.
fn mutants(valid: &[u8], seed: u64, flips: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for _ in 0..flips {
        let (mut bytes, mut case) = (valid.to_vec(), String::from("bit flips at"));
        for _ in 0..=rng.below(3) {
            let (at, bit) = (rng.below(bytes.len()), rng.below(8));
            bytes[at] ^= 1 << bit;
            case += &format!(" {at}:{bit}");
        }
        out.push((case, bytes));
    }
    let step = valid.len().div_ceil(200);
    for len in (0..valid.len()).step_by(step).chain([valid.len() - 1]) {
        out.push((format!("truncation to {len} bytes"), valid[..len].to_vec()));
    }
    for _ in 0..20 {
        let len = 1 + rng.below(1024);
        let garbage = [valid, &rng.bytes(len)].concat();
        out.push((format!("{len} garbage bytes appended"), garbage));
    }
    out
}

/// A tar member as a test states it: name, type, the size its header declares (which may lie
/// about the data) and data; a symbolic link's data is its target, as on a file system.
type Member<'a> = (&'a str, EntryType, u64, &'a [u8]);

fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    (name, Regular, data.len() as u64, data)
}

/// A plain tar of `members`. Names are written into the header as they are, because
/// `tar::Builder::append_data` refuses the `..` and absolute paths a hostile archive holds.
fn tar_of(members: &[Member]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for &(name, kind, size, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(if kind == Regular { 0o644 } else { 0o755 });
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        let body = if kind == Symlink {
            header.as_old_mut().linkname[..data.len()].copy_from_slice(data);
            &[][..]
        } else {
            data
        };
        header.set_cksum();
        builder.append(&header, body).expect("writing to memory");
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
        let _ = read_served(bytes, |r| read_entries(r));
        for entry in read_entries(bytes).into_iter().flatten() {
            let _ = entry.package("core");
        }
    });
}

#[test]
fn mutated_sync_dbs_never_panic() {
    let plain = tar_of(&[
        ("a-1-1/", Directory, 0, b""),
        file("a-1-1/desc", b"%NAME%\na\n\n%VERSION%\n1-1\n"),
        file("a-1-1/files", b"%FILES%\nusr/\nusr/bin/a\n"),
        file("b-2-1/desc", b"%NAME%\nb\n\n%VERSION%\n2-1\n"),
        file("b-2-1/files", b"%FILES%\nusr/share/b/\n"),
        file("c-1-1/desc", GARBAGE.as_bytes()),
    ]);
    for valid in [plain.clone(), gzip(&plain), zstd(&plain)] {
        let format = Compression::sniff(&valid);
        let entries = read_entries(valid.as_slice()).expect("the unmutated database is valid");
        let packages: Vec<_> = entries.iter().map(|entry| entry.package("core")).collect();
        assert!(packages[..2].iter().all(Result::is_ok), "{packages:?}");
        assert!(packages[2].is_err(), "garbage lines are no desc");
        for (case, bytes) in mutants(&valid, 0x9e37_79b9_7f4a_7c15, 300) {
            read_sync_db(&format!("{format:?} sync db, {case}"), &bytes);
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
            let case = format!("random bytes #{round} behind {magic:02x?}");
            read_sync_db(&case, &bytes);
        }
    }
}

#[test]
fn sync_db_members_declaring_huge_sizes_are_refused() {
    for size in [(256 << 20) + 1, 1 << 40, u64::MAX >> 1] {
        let tar = tar_of(&[("a-1-1/desc", Regular, size, b"%NAME%\n")]);
        // Refused before any of it is read; the stream then ends where the data should be.
        let result = read_entries(zstd(&tar).as_slice());
        assert!(matches!(result, Err(SyncDbError::Archive(_))), "{result:?}");
    }
    // Under the limit but without its data: the stream ends early.
    let tar = tar_of(&[("a-1-1/files", Regular, 1 << 20, b"%FILES%\n")]);
    let result = read_entries(tar.as_slice());
    assert!(matches!(result, Err(SyncDbError::Archive(_))), "{result:?}");
}

/// A `desc` of lines that only look like one.
const GARBAGE: &str = "\0\u{fffd}junk\n=%%\n%lower%\n\r\n%%NAME%%\n\u{202e}x\n";

/// `.PKGINFO`, a gzip'd `.MTREE`, two directories, a file, a symlink and `extra`, zstd'd.
fn package_with(extra: &[Member]) -> Vec<u8> {
    let script = b"#!/bin/sh\necho a\n";
    let (size, digest) = (script.len(), hex::encode(Sha256::digest(script)));
    let mtree = format!(
        "#mtree\n/set mode=644 uid=0 gid=0 type=file\n\
         ./usr type=dir mode=755 time=1700000000.0\n./usr/bin type=dir mode=755 time=1700000000.0\n\
         ./usr/bin/a time=1700000000.0 size={size} sha256digest={digest}\n\
         ./usr/bin/alias type=link link=a time=1700000000.0\n"
    );
    let mtree = gzip(mtree.as_bytes());
    let mut members = vec![
        file(".PKGINFO", b"pkgname = a\npkgver = 1-1\n"),
        file(".MTREE", &mtree),
        ("usr/", Directory, 0, b""),
        ("usr/bin/", Directory, 0, b""),
        file("usr/bin/a", script),
        ("usr/bin/alias", Symlink, 0, b"a"),
    ];
    members.extend_from_slice(extra);
    zstd(&tar_of(&members))
}

#[test]
fn mutated_packages_never_panic_and_truncated_ones_fail() {
    let valid = package_with(&[]);
    let expect = Expectations::default();
    let contents = read_package(valid.as_slice(), &expect).expect("the unmutated package is valid");
    assert_eq!(contents.pkginfo("pkgname"), Some("a"));
    let paths: Vec<_> = contents.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["usr/", "usr/bin/", "usr/bin/a", "usr/bin/alias"]);
    for (case, bytes) in mutants(&valid, 0xd1b5_4a32_d192_ed03, 300) {
        let case = format!("package, {case}");
        let result = no_panic(&case, || read_package(bytes.as_slice(), &expect));
        if let Ok(contents) = result {
            assert!(bytes.len() >= valid.len(), "{case}: truncated yet read");
            assert_eq!(contents.csize, bytes.len() as u64, "{case}");
        }
    }
}

#[test]
fn climbing_and_absolute_paths_are_unsafe() {
    for name in ["../x", "/etc/passwd", "usr/../../x", "./../x"] {
        let bytes = package_with(&[file(name, b"root::0:0::/root:/bin/sh\n")]);
        let result = read_package(bytes.as_slice(), &Expectations::default());
        let refused = matches!(&result, Err(PackageError::UnsafePath(path)) if path == name);
        assert!(refused, "{name}: {result:?}");
    }
}

#[test]
fn a_member_declaring_one_tib_fails_without_being_read() {
    use PackageError::{MemberTooLarge, Stream};
    let bytes = package_with(&[("usr/bin/huge", Regular, 1 << 40, b"tiny")]);
    let no_limit = Expectations {
        max_member_bytes: u64::MAX,
        ..Expectations::default()
    };
    for expect in [Expectations::default(), no_limit] {
        let result = read_package(bytes.as_slice(), &expect);
        let refused = matches!(result, Err(MemberTooLarge { .. } | Stream(_)));
        assert!(refused, "limit {}: {result:?}", expect.max_member_bytes);
    }
}

/// Characters and pieces a line parser could trip on; section headers come from [`DESC`].
const PIECES: [&str; 18] = [
    "%", "\n", "\r", "\n\n", "=", " = ", "#", "a", "0", "-", ":", "é", "𝄞", "\0", "\u{fffd}",
    "\u{feff}", "\u{202e}", "%NAME%",
];

/// A valid `desc` that is also a `files` entry and has a `key = value` line.
const DESC: &str = "%NAME%\na\n\n%VERSION%\n1:1-1\n\n%CSIZE%\n9\n\n%FILES%\nusr/\npkgname = a\n";

#[test]
fn random_text_never_panics_the_line_parsers() {
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    let mut packages = 0;
    for round in 0..3000 {
        // Even rounds are random text; odd rounds insert a few pieces into a valid desc.
        let (mut text, edits) = match round % 2 {
            0 => (String::new(), rng.below(100)),
            _ => (DESC.to_owned(), rng.below(4)),
        };
        for _ in 0..edits {
            let at = text.floor_char_boundary(rng.below(text.len() + 1));
            text.insert_str(at, PIECES[rng.below(PIECES.len())]);
        }
        let case = format!("random text #{round}: {text:?}");
        let (package, files, pairs) = no_panic(&case, || {
            let package = desc::package("fuzz", &text);
            (package, desc::files(&text), keyvalue::parse(&text))
        });
        if let Ok(package) = package {
            packages += 1;
            for value in [package.name, package.version] {
                assert!(!value.is_empty() && !value.contains('\n'), "{case}");
            }
        }
        for path in files.unwrap_or_default() {
            assert!(!path.is_empty() && !path.contains('\n'), "{case}");
        }
        for (key, value) in pairs {
            assert!(key == key.trim() && value == value.trim(), "{case}");
            assert!(!key.contains('\n') && !value.contains('\n'), "{case}");
        }
    }
    assert!(packages > 100, "the generator rarely reached a valid desc");
}
