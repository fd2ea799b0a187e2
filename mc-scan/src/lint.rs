//! Packaging checks: what namcap users know, and more. Each looks at members as they stream by
//! (or, for the few that need the whole list, at the end of the package).

use minicluster::{record::Severity, scriptlet::Script};

use crate::elf;

pub use minicluster::scriptlet::Check;

/// Every packaging check.
pub const CHECKS: &[Check] = &[
    Check {
        name: "pyc-wrong-python",
        severity: Severity::Warning,
        description: "Python bytecode (.pyc) compiled for another Python version than the one the \
            package is for: its folder (usr/lib/pythonX.Y), its cpython-XY tag or its `python` \
            dependency says one version, the bytecode's magic number another. Python ignores \
            such files and recompiles, or cannot, on every start: the package was built \
            against the wrong interpreter.",
    },
    Check {
        name: "pyc-outside-python-path",
        severity: Severity::Warning,
        description: "Python bytecode outside usr/lib/pythonX.Y/ (site-packages and the \
            standard library), where installed Python code lives: usually a build leftover.",
    },
    Check {
        name: "pyc-without-source",
        severity: Severity::Warning,
        description: "Python bytecode whose .py source is not in the package: the code cannot \
            be read or reviewed, and it breaks when the interpreter changes.",
    },
    Check {
        name: "setuid",
        severity: Severity::Warning,
        description: "A setuid file: it runs with its owner's rights (root) whoever starts \
            it. Legitimate for a few tools (sudo, passwd); anywhere else a way to become root.",
    },
    Check {
        name: "setgid",
        severity: Severity::Warning,
        description: "A setgid file: it runs with its group's rights whoever starts it.",
    },
    Check {
        name: "world-writable",
        severity: Severity::Warning,
        description: "A file or folder anyone may write to (mode o+w; sticky folders such as \
            /tmp excepted): any local user can change what others run or read.",
    },
    Check {
        name: "forbidden-path",
        severity: Severity::Warning,
        description: "A file in usr/local, home, tmp or var/tmp. /usr/local belongs to the \
            machine's administrator, home to its users, and the temporary folders are emptied: \
            packages never install there (the folders themselves, from `filesystem`, are fine).",
    },
    Check {
        name: "rpath-build-dir",
        severity: Severity::Error,
        description: "An ELF RPATH or RUNPATH entry in the build folder, in /tmp, /var/tmp or \
            /home, or relative (not $ORIGIN): the program loads libraries from a place any user \
            may fill on the machine it is installed on.",
    },
    Check {
        name: "build-dir-embedded",
        severity: Severity::Warning,
        description: "The build's own folders ($srcdir or $pkgdir, from .BUILDINFO) written \
            into a file: a configuration or script that points at the build machine, and a \
            package that does not build reproducibly elsewhere.",
    },
    Check {
        name: "repeated-metadata",
        severity: Severity::Error,
        description: "A second .PKGINFO, .BUILDINFO or .MTREE in one package: repo-add and \
            mc-repo read the first, other readers may take the last, so the repository can \
            describe another package than the one that is installed. makepkg never writes two.",
    },
    Check {
        name: minicluster::pkginfo::CHECK,
        severity: Severity::Warning,
        description: "A .PKGINFO value pacman and repo-add take but the specification's parser \
            refuses (makepkg's default packager 'Unknown Packager', a URL or a dependency \
            it cannot parse, ...): mc-repo keeps it as written and says so with the same warning.",
    },
    Check {
        name: "mtree-mismatch",
        severity: Severity::Error,
        description: "A member that disagrees with .MTREE (type, size, sha256, mode or link \
            target), is missing from it, or is listed but absent: the package was altered after \
            makepkg wrote it.",
    },
];

/// Every check of this engine: the packaging checks, then those of install scriptlets
/// (shared with mc-verify, which reads the `.install` before the build).
pub fn all() -> impl Iterator<Item = &'static Check> {
    CHECKS.iter().chain(minicluster::scriptlet::CHECKS)
}

/// The check named `name`.
pub fn check(name: &str) -> Option<&'static Check> {
    all().find(|check| check.name == name)
}

/// The Python version (major, minor) whose bytecode starts with `data`, when it is one this
/// check knows (3.6 to 3.14; magic numbers from CPython's importlib, by release range).
pub fn pyc_python(data: &[u8]) -> Option<(u32, u32)> {
    const RANGES: [(u16, u16, u32); 9] = [
        (3360, 3389, 6),
        (3390, 3399, 7),
        (3400, 3419, 8),
        (3420, 3429, 9),
        (3430, 3449, 10),
        (3450, 3499, 11),
        (3500, 3549, 12),
        (3550, 3599, 13),
        (3600, 3649, 14),
    ];
    let magic = data.get(..4)?;
    if &magic[2..] != b"\r\n" {
        return None;
    }
    let number = u16::from_le_bytes([magic[0], magic[1]]);
    RANGES
        .iter()
        .find(|(low, high, _)| (*low..=*high).contains(&number))
        .map(|(_, _, minor)| (3, *minor))
}

/// The version in a `pythonX.Y/` folder of `path`.
fn folder_python(path: &str) -> Option<(u32, u32)> {
    path.split('/')
        .find_map(|part| part.strip_prefix("python"))
        .and_then(parse_version)
}

/// The version in a `NAME.cpython-XY.pyc` tag.
fn tag_python(path: &str) -> Option<(u32, u32)> {
    let name = path.rsplit('/').next()?;
    let tag = name
        .split('.')
        .find_map(|part| part.strip_prefix("cpython-"))?;
    let (major, minor) = tag.split_at_checked(1)?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `3.12` (or `3.12.4`) as (3, 12).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((major, minor.parse().ok()?))
}

/// The first `python` dependency (`python>=3.12`, `python<3.13`, `python=3.12`) that version
/// `v` breaks.
fn broken_dependency(depends: &[String], v: (u32, u32)) -> Option<&str> {
    depends.iter().map(String::as_str).find(|depend| {
        let Some(rest) = depend.strip_prefix("python") else {
            return false;
        };
        let (op, version) = match rest.find(|c: char| c.is_ascii_digit()) {
            Some(at) => rest.split_at(at),
            None => return false,
        };
        let Some(wanted) = parse_version(version) else {
            return false;
        };
        match op {
            ">=" => v < wanted,
            ">" => v <= wanted,
            "<" => v >= wanted,
            "<=" => v > wanted,
            "=" => v != wanted,
            _ => false,
        }
    })
}

/// A finding of a lint check, before it is tied to its package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The check's name.
    pub check: &'static str,
    /// The explanation for this member.
    pub message: String,
}

fn problem(check: &'static str, message: String) -> Problem {
    Problem { check, message }
}

/// What `.PKGINFO` and `.BUILDINFO` tell the checks.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `depend` values.
    pub depends: Vec<String>,
    /// The build's `$srcdir`/`$pkgdir` candidates and its build folder.
    pub build_dirs: Vec<String>,
}

impl Context {
    /// Learns the build folders from `.BUILDINFO`'s builddir, startdir and pkgbase, the way
    /// makepkg derives `$srcdir` and `$pkgdir` from them.
    pub fn learn_buildinfo(&mut self, buildinfo: &[(String, String)]) {
        let get = |key: &str| minicluster::keyvalue::last(buildinfo, key).map(str::to_owned);
        let (Some(builddir), Some(pkgbase)) = (get("builddir"), get("pkgbase")) else {
            return;
        };
        let mut dirs = vec![
            format!("{builddir}/{pkgbase}/src"),
            format!("{builddir}/{pkgbase}/pkg"),
        ];
        if let Some(startdir) = get("startdir") {
            dirs.extend([format!("{startdir}/src"), format!("{startdir}/pkg")]);
        }
        // A folder so short it could be anything (`/`, `/b`) finds nothing useful.
        dirs.retain(|dir| dir.len() > 6);
        dirs.dedup();
        self.build_dirs = dirs;
    }
}

/// The checks on one member's metadata and content (`data` is empty for all but files).
pub fn member(
    context: &Context,
    path: &str,
    kind: minicluster::package::EntryKind,
    mode: u32,
    data: &[u8],
) -> Vec<Problem> {
    use minicluster::package::EntryKind;
    let mut found = Vec::new();
    let is_dir = kind == EntryKind::Dir;
    if !is_dir && kind != EntryKind::Link {
        if mode & 0o4000 != 0 {
            found.push(problem("setuid", format!("setuid file, mode {mode:o}")));
        }
        if mode & 0o2000 != 0 {
            found.push(problem("setgid", format!("setgid file, mode {mode:o}")));
        }
    }
    if kind != EntryKind::Link && mode & 0o002 != 0 && !(is_dir && mode & 0o1000 != 0) {
        found.push(problem(
            "world-writable",
            format!("anyone may write to it: mode {mode:o}"),
        ));
    }
    let forbidden = ["usr/local/", "home/", "tmp/", "var/tmp/"]
        .into_iter()
        .find(|root| path.starts_with(root) && path.len() > root.len());
    if let Some(root) = forbidden.filter(|_| !is_dir) {
        found.push(problem(
            "forbidden-path",
            format!("installed under /{root}, which no package may fill"),
        ));
    }
    if path.starts_with('.') {
        if path == ".INSTALL" {
            let text = String::from_utf8_lossy(data);
            let detections = minicluster::scriptlet::detect(&text, Script::Scriptlet);
            found.extend(detections.into_iter().map(|d| problem(d.check, d.message)));
        }
        return found;
    }
    if path.ends_with(".pyc") {
        found.extend(pyc(context, path, data));
    }
    if elf::is_elf(data) {
        found.extend(rpath(context, data));
    }
    if let Some(dir) = context
        .build_dirs
        .iter()
        .find(|dir| memchr::memmem::find(data, dir.as_bytes()).is_some())
    {
        found.push(problem(
            "build-dir-embedded",
            format!("holds the build folder {dir}"),
        ));
    }
    found
}

fn pyc(context: &Context, path: &str, data: &[u8]) -> Vec<Problem> {
    let mut found = Vec::new();
    let in_python_path = path
        .strip_prefix("usr/lib/")
        .is_some_and(|rest| rest.starts_with("python") && folder_python(rest).is_some());
    if !in_python_path {
        found.push(problem(
            "pyc-outside-python-path",
            "bytecode outside usr/lib/pythonX.Y/".to_owned(),
        ));
    }
    let Some(actual) = pyc_python(data) else {
        return found;
    };
    let show = |(major, minor): (u32, u32)| format!("{major}.{minor}");
    let expected = [
        folder_python(path).map(|v| (v, "its folder")),
        tag_python(path).map(|v| (v, "its cpython tag")),
    ];
    if let Some((wanted, why)) = expected.into_iter().flatten().find(|(v, _)| *v != actual) {
        found.push(problem(
            "pyc-wrong-python",
            format!(
                "bytecode for Python {}, but {why} says Python {}",
                show(actual),
                show(wanted)
            ),
        ));
    } else if let Some(depend) = broken_dependency(&context.depends, actual) {
        found.push(problem(
            "pyc-wrong-python",
            format!(
                "bytecode for Python {}, but the package depends on {depend}",
                show(actual)
            ),
        ));
    }
    found
}

fn rpath(context: &Context, data: &[u8]) -> Vec<Problem> {
    elf::search_paths(data)
        .into_iter()
        .filter(|dir| {
            let origin = dir.starts_with("$ORIGIN") || dir.starts_with("${ORIGIN}");
            let unsafe_root = ["/tmp", "/var/tmp", "/home"]
                .iter()
                .any(|root| dir == root || dir.starts_with(&format!("{root}/")));
            let in_build = context
                .build_dirs
                .iter()
                .any(|build| dir.starts_with(build.as_str()));
            in_build || unsafe_root || !(origin || dir.starts_with('/'))
        })
        .map(|dir| {
            problem(
                "rpath-build-dir",
                format!("RPATH/RUNPATH entry {dir:?} (libraries are loaded from there)"),
            )
        })
        .collect()
}

/// `pyc-without-source` over the whole member list: bytecode whose `.py` is not there.
pub fn orphan_bytecode<'a>(
    paths: impl IntoIterator<Item = &'a str> + Clone,
) -> Vec<(String, Problem)> {
    let all: std::collections::BTreeSet<&str> = paths.clone().into_iter().collect();
    paths
        .into_iter()
        .filter(|path| path.ends_with(".pyc"))
        .filter_map(|path| {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
            let module = name.split('.').next().unwrap_or(name);
            let source_dir = dir.strip_suffix("/__pycache__").unwrap_or(dir);
            let source = if source_dir.is_empty() {
                format!("{module}.py")
            } else {
                format!("{source_dir}/{module}.py")
            };
            (!all.contains(source.as_str())).then(|| {
                let message = format!("no {source} beside it");
                (path.to_owned(), problem("pyc-without-source", message))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use minicluster::package::EntryKind;

    use super::*;

    fn checks(
        context: &Context,
        path: &str,
        kind: EntryKind,
        mode: u32,
        data: &[u8],
    ) -> Vec<&'static str> {
        member(context, path, kind, mode, data)
            .into_iter()
            .map(|p| p.check)
            .collect()
    }

    #[test]
    fn modes_and_places() {
        let none = Context::default();
        assert_eq!(
            checks(&none, "usr/bin/x", EntryKind::File, 0o4755, b""),
            ["setuid"]
        );
        assert_eq!(
            checks(&none, "usr/bin/x", EntryKind::File, 0o2755, b""),
            ["setgid"]
        );
        assert_eq!(
            checks(&none, "usr/x", EntryKind::File, 0o666, b""),
            ["world-writable"]
        );
        assert!(checks(&none, "tmp/", EntryKind::Dir, 0o1777, b"").is_empty());
        assert!(checks(&none, "usr/local/bin/", EntryKind::Dir, 0o755, b"").is_empty());
        assert_eq!(
            checks(&none, "usr/local/bin/x", EntryKind::File, 0o755, b""),
            ["forbidden-path"]
        );
        assert!(checks(&none, "usr/bin/l", EntryKind::Link, 0o777, b"").is_empty());
    }

    #[test]
    fn bytecode_versions() {
        let py311 = b"\xa7\x0d\r\n\0\0\0\0";
        let py312 = b"\xcb\x0d\r\n\0\0\0\0";
        assert_eq!(pyc_python(py311), Some((3, 11)));
        assert_eq!(pyc_python(py312), Some((3, 12)));
        assert_eq!(pyc_python(b"pacman mirror"), None);
        let none = Context::default();
        let path = "usr/lib/python3.12/site-packages/m/__pycache__/a.cpython-312.pyc";
        assert!(checks(&none, path, EntryKind::File, 0o644, py312).is_empty());
        assert_eq!(
            checks(&none, path, EntryKind::File, 0o644, py311),
            ["pyc-wrong-python"]
        );
        let depends = Context {
            depends: vec!["python>=3.13".into()],
            ..Context::default()
        };
        let bare = "usr/lib/python3/dist/m.pyc";
        assert_eq!(
            checks(&depends, bare, EntryKind::File, 0o644, py312),
            ["pyc-outside-python-path", "pyc-wrong-python"]
        );
        let paths = [
            "usr/lib/python3.12/site-packages/m/__init__.py",
            "usr/lib/python3.12/site-packages/m/__pycache__/__init__.cpython-312.pyc",
            "usr/lib/python3.12/site-packages/m/__pycache__/gone.cpython-312.pyc",
        ];
        let orphans = orphan_bytecode(paths);
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].0, paths[2]);
    }

    #[test]
    fn build_folders_and_scriptlets() {
        let mut context = Context::default();
        let buildinfo = [
            ("builddir", "/build"),
            ("pkgbase", "foo"),
            ("startdir", "/startdir"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        context.learn_buildinfo(&buildinfo);
        let config = b"prefix=/build/foo/pkg/foo/usr\n";
        assert_eq!(
            checks(
                &context,
                "usr/lib/pkgconfig/foo.pc",
                EntryKind::File,
                0o644,
                config
            ),
            ["build-dir-embedded"]
        );
        let install = b"post_install() {\n  # curl is mentioned here only\n  wget -q https://x.invalid/y\n}\n";
        let found = member(&context, ".INSTALL", EntryKind::File, 0o644, install);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.starts_with("line 3"), "{found:?}");
        let quiet =
            b"post_install() {\n  echo 'sync your mirrors, see https://wiki.archlinux.org'\n}\n";
        assert!(member(&context, ".INSTALL", EntryKind::File, 0o644, quiet).is_empty());
    }
}
