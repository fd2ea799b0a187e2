//! PKGBUILD folders made on the spot and built by `mc-build` with real makepkg, as an
//! unprivileged user: what the mc-build and mc-scan tests share.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{Run, bin, require, run};

/// One package base to write: `PKGBUILD` and the `.SRCINFO` makepkg would print for it.
#[derive(Default)]
pub struct Pkg<'a> {
    /// Package base.
    pub base: &'a str,
    /// Split packages; empty for a single package named like the base.
    pub split: &'a [&'a str],
    /// Run-time dependencies.
    pub depends: &'a [&'a str],
    /// The body of `build()`.
    pub build: &'a str,
    /// `(file, sha256)` sources.
    pub sources: &'a [(&'a str, &'a str)],
    /// More lines for every `package_NAME()`.
    pub package: &'a str,
    /// An install scriptlet (`install=BASE.install`), when not empty.
    pub install: &'a str,
}

impl Pkg<'_> {
    /// The packages it makes.
    pub fn names(&self) -> Vec<&str> {
        if self.split.is_empty() {
            vec![self.base]
        } else {
            self.split.to_vec()
        }
    }

    /// Writes the base into `dir/BASE`; returns that folder.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let folder = dir.join(self.base);
        fs::create_dir_all(&folder).expect("PKGBUILD folder");
        let names = self.names();
        let quoted = |items: &[&str]| items.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>();
        let files: Vec<&str> = self.sources.iter().map(|(file, _)| *file).collect();
        let sums: Vec<&str> = self.sources.iter().map(|(_, sum)| *sum).collect();
        let mut pkgbuild = format!(
            "pkgbase={}\npkgname=({})\npkgver=1.0\npkgrel=1\narch=(any)\ndepends=({})\n\
             source=({})\nsha256sums=({})\nbuild() {{\n{}\n}}\n",
            self.base,
            quoted(&names).join(" "),
            quoted(self.depends).join(" "),
            quoted(&files).join(" "),
            quoted(&sums).join(" "),
            if self.build.is_empty() {
                "true"
            } else {
                self.build
            },
        );
        for name in &names {
            pkgbuild.push_str(&format!(
                "package_{name}() {{\n  mkdir -p \"$pkgdir/usr/share/{name}\"\n  \
                 echo {name} > \"$pkgdir/usr/share/{name}/data\"\n  \
                 for f in {}; do cp \"$srcdir/$f\" \"$pkgdir/usr/share/{name}/\"; done\n{}\n}}\n",
                files.join(" "),
                self.package,
            ));
        }
        let mut srcinfo = format!(
            "pkgbase = {}\n\tpkgver = 1.0\n\tpkgrel = 1\n\tarch = any\n",
            self.base
        );
        for dep in self.depends {
            srcinfo.push_str(&format!("\tdepends = {dep}\n"));
        }
        if !self.install.is_empty() {
            let script = format!("{}.install", self.base);
            fs::write(folder.join(&script), self.install).expect("install scriptlet");
            pkgbuild.push_str(&format!("install={script}\n"));
            srcinfo.push_str(&format!("\tinstall = {script}\n"));
        }
        for (file, sum) in self.sources {
            srcinfo.push_str(&format!("\tsource = {file}\n\tsha256sums = {sum}\n"));
        }
        for name in &names {
            srcinfo.push_str(&format!("\npkgname = {name}\n"));
        }
        fs::write(folder.join("PKGBUILD"), pkgbuild).expect("PKGBUILD");
        fs::write(folder.join(".SRCINFO"), srcinfo).expect(".SRCINFO");
        folder
    }
}

/// A work folder, PKGBUILD folders and a source cache in one temporary folder.
pub struct Set {
    dir: tempfile::TempDir,
}

impl Set {
    /// A new set; fails unless makepkg and its peers are installed.
    // No `Default`: making a set asserts that the peers are there, which a default should not.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        require("makepkg", "makepkg");
        require("bwrap", "bubblewrap");
        require("fakeroot", "fakeroot");
        require("bsdtar", "libarchive-tools");
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `sub` inside its folder.
    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Writes `pkg` into its PKGBUILD folders; returns the base's folder.
    pub fn add(&self, pkg: &Pkg<'_>) -> String {
        pkg.write(&self.path("pkgbuilds")).display().to_string()
    }

    /// mc-build's arguments: work folder, source cache, `extra`, `folders`.
    pub fn args<'a>(&'a self, extra: &[&'a str], folders: &'a [String]) -> Vec<String> {
        let mut args = vec![
            "--work".to_owned(),
            self.path("work").display().to_string(),
            "--sources".to_owned(),
            self.path("cache").display().to_string(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args.extend(folders.iter().cloned());
        args
    }

    /// `mc-build --work W --sources C EXTRA... FOLDERS...` with `stdin`.
    pub fn build(&self, extra: &[&str], folders: &[String], stdin: &str) -> Run {
        let args = self.args(extra, folders);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&bin("mc-build"), &args, stdin)
    }

    /// The repository mc-build fills.
    pub fn repo_dir(&self) -> PathBuf {
        self.path("work/repo")
    }
}

/// The unprivileged user the issue asks the tests to create: a system user without a home or a
/// shell, made once (runs in parallel may race to make it; whoever loses finds it there).
pub fn test_user() -> String {
    let name = "mc-build-test";
    let exists = |name: &str| {
        Command::new("id")
            .arg(name)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !exists(name) {
        let _ = Command::new("useradd")
            .args(["--system", "--no-create-home", "--home-dir", "/nonexistent"])
            .args(["--shell", "/usr/sbin/nologin", name])
            .output();
    }
    assert!(exists(name), "useradd {name} failed");
    name.to_owned()
}
