//! `--check-reproducible`: two builds of a base, with the same `SOURCE_DATE_EPOCH`, compared
//! byte for byte; when they differ, the first tar member that does.

use std::{
    fs::{self, File},
    io::{self, Read},
    path::{Path, PathBuf},
};

use minicluster::compress;

/// What comparing two builds found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether every package file of the second build is bit-identical to the first's.
    pub identical: bool,
    /// When not: `FILE: MEMBER` of the first member that differs (`FILE: compressed stream` when
    /// only the compression does, `FILE: missing` when a package was made only once).
    pub first_difference: Option<String>,
}

/// Compares the package files in `first` with those of the same name in `second`.
pub fn compare(first: &Path, second: &Path) -> io::Result<Verdict> {
    let mut names: Vec<_> = package_files(first)?
        .into_iter()
        .chain(package_files(second)?)
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let (a, b) = (first.join(&name), second.join(&name));
        if !a.exists() || !b.exists() {
            return Ok(different(format!("{name}: missing")));
        }
        if fs::read(&a)? != fs::read(&b)? {
            let member =
                first_member_difference(&a, &b)?.unwrap_or_else(|| "compressed stream".to_owned());
            return Ok(different(format!("{name}: {member}")));
        }
    }
    Ok(Verdict {
        identical: true,
        first_difference: None,
    })
}

fn different(what: String) -> Verdict {
    Verdict {
        identical: false,
        first_difference: Some(what),
    }
}

fn package_files(dir: &Path) -> io::Result<Vec<String>> {
    Ok(fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".pkg.tar") && !name.ends_with(".sig"))
        .collect())
}

/// One tar member: its path, its raw header (mode, owner, times, ...) and its content.
type Member = (PathBuf, Vec<u8>, Vec<u8>);

fn members(path: &Path) -> io::Result<Vec<Member>> {
    let mut archive = tar::Archive::new(compress::decompress(File::open(path)?)?);
    let mut members = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let meta = entry.header().as_bytes().to_vec();
        let name = entry.path()?.into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        members.push((name, meta, content));
    }
    Ok(members)
}

/// The path of the first member that differs between two package files, if any does. Files
/// come before the metadata members (`.PKGINFO`, `.MTREE`, ...), which only mirror them: the
/// file that differs is the useful answer.
fn first_member_difference(a: &Path, b: &Path) -> io::Result<Option<String>> {
    let (a, b) = (members(a)?, members(b)?);
    let metadata = |member: &&Member| member.0.to_string_lossy().starts_with('.');
    for wanted_metadata in [false, true] {
        let pick = |all: &[Member]| -> Vec<Member> {
            all.iter()
                .filter(|m| metadata(m) == wanted_metadata)
                .cloned()
                .collect()
        };
        let (a, b) = (pick(&a), pick(&b));
        for index in 0..a.len().max(b.len()) {
            match (a.get(index), b.get(index)) {
                (Some(x), Some(y)) if x == y => {}
                (Some((path, ..)), _) | (None, Some((path, ..))) => {
                    return Ok(Some(path.display().to_string()));
                }
                (None, None) => break,
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(dir: &Path, name: &str, members: &[(&str, &str)]) {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .expect("tar member");
        }
        let bytes = builder.into_inner().expect("tar");
        fs::write(dir.join(name), bytes).expect("package file");
    }

    #[test]
    fn the_first_differing_member_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (one, two) = (dir.path().join("1"), dir.path().join("2"));
        for (folder, stamp) in [(&one, "1"), (&two, "2")] {
            fs::create_dir_all(folder).expect("folder");
            let pkginfo = format!("pkgname = x\nbuilddate = {stamp}\n");
            let members = [(".PKGINFO", pkginfo.as_str()), ("usr/share/x/stamp", stamp)];
            package(folder, "x-1-1-any.pkg.tar", &members);
            package(
                folder,
                "y-1-1-any.pkg.tar",
                &[(".PKGINFO", "pkgname = y\n")],
            );
        }
        let verdict = compare(&one, &two).expect("compares");
        assert_eq!(
            verdict.first_difference.as_deref(),
            Some("x-1-1-any.pkg.tar: usr/share/x/stamp")
        );
        fs::remove_file(two.join("x-1-1-any.pkg.tar")).expect("removes");
        fs::copy(one.join("x-1-1-any.pkg.tar"), two.join("x-1-1-any.pkg.tar")).expect("copies");
        let same = compare(&one, &two).expect("compares");
        assert_eq!((same.identical, same.first_difference), (true, None));
    }
}
