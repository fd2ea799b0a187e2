//! Building one base: prepare its folder, install what it needs from the set and run the
//! backend ([`Workshop`], any number at once), then publish what it made into the repository
//! ([`Publisher`], one at a time).

use std::{
    collections::BTreeSet,
    fs::{self, File},
    io::Write,
    path::{Path, PathBuf},
};

use mc_repo::{
    repository::{RepoError, Repository},
    update::{Source, Trust, Update},
};
use minicluster::{http::Http, record::PackageRecord};

use crate::{
    deps::DepsRoot,
    order::Providers,
    sandbox::{Backend, BuildUser, Job},
    srcinfo::Base,
};

/// What every build of a run shares, read-only, so several builds can run at once.
pub struct Workshop<'a> {
    /// Where build folders, logs and dependency roots go.
    pub work: PathBuf,
    /// mc-verify's source cache.
    pub sources: PathBuf,
    /// The repository's folder and name, where dependencies come from.
    pub repo_dir: PathBuf,
    /// The repository's name (`NAME` in `NAME.db`).
    pub repo_name: String,
    /// The isolation backend.
    pub backend: &'a dyn Backend,
    /// The user that owns build folders, when mc-build runs as root.
    pub user: Option<BuildUser>,
}

/// Publishes what builds made, one at a time: the repository is written by one thread only.
pub struct Publisher {
    /// The repository packages go into.
    pub repository: Repository,
    /// For [`Update`]; packages are local files, so it never downloads.
    pub http: Http,
}

/// Which build of a base this is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Attempt {
    /// `SOURCE_DATE_EPOCH`, fixed when builds are compared.
    pub source_date_epoch: Option<u64>,
    /// The second build of `--check-reproducible`: it logs to `BASE.rebuild.log`.
    pub rebuild: bool,
}

/// A build that did not produce packages, and why.
#[derive(Debug)]
pub struct Failure(pub String);

impl<T: std::fmt::Display> From<T> for Failure {
    fn from(error: T) -> Self {
        Self(error.to_string())
    }
}

impl Workshop<'_> {
    /// The log of `base`.
    pub fn log_path(&self, base: &str) -> PathBuf {
        log_path(&self.work, base)
    }

    /// Builds `base` from `folder` after installing `needed` (package names the set made);
    /// the folder holding the packages made.
    pub fn build(
        &self,
        base: &Base,
        folder: &Path,
        needed: &[String],
        attempt: Attempt,
    ) -> Result<PathBuf, Failure> {
        let log_path = if attempt.rebuild {
            self.work
                .join("logs")
                .join(format!("{}.rebuild.log", base.name))
        } else {
            self.log_path(&base.name)
        };
        let mut log = File::create(&log_path)
            .map_err(|e| format!("creating the log {}: {e}", log_path.display()))?;
        let build_dir = self.work.join("bases").join(&base.name);
        self.prepare(base, folder, &build_dir)
            .map_err(|e| format!("preparing {}: {e}", build_dir.display()))?;
        let deps = DepsRoot::create(&self.work.join("deps").join(&base.name))?;
        if !needed.is_empty() {
            writeln!(
                log,
                "==> mc-build: installing {} from the set",
                needed.join(" ")
            )?;
            deps.install(&self.repo_dir, &self.repo_name, needed, &log)?;
        }
        writeln!(log, "==> mc-build: makepkg in {}", build_dir.display())?;
        let job = Job {
            base: &base.name,
            folder: &build_dir,
            deps_root: &deps.root,
            source_date_epoch: attempt.source_date_epoch,
        };
        let status = self.backend.build(&job, log)?;
        if status.success() {
            Ok(build_dir.join("out"))
        } else {
            let why = last_error(&log_path).map_or_else(String::new, |line| format!(": {line}"));
            Err(Failure(format!(
                "makepkg failed ({status}){why}; log: {}",
                log_path.display()
            )))
        }
    }

    /// A fresh build folder: the PKGBUILD folder's files (without `.git`), the cached sources
    /// beside them, an empty `out/`, all owned by the build user.
    fn prepare(&self, base: &Base, folder: &Path, build_dir: &Path) -> std::io::Result<()> {
        if build_dir.exists() {
            fs::remove_dir_all(build_dir)?;
        }
        copy_tree(folder, build_dir)?;
        let cached = self.sources.join(&base.name);
        if cached.is_dir() {
            for entry in fs::read_dir(&cached)? {
                let entry = entry?;
                let to = build_dir.join(entry.file_name());
                if entry.file_type()?.is_file() && !to.exists() {
                    fs::copy(entry.path(), to)?;
                }
            }
        }
        fs::create_dir_all(build_dir.join("out"))?;
        if let Some(user) = &self.user {
            chown_tree(build_dir, user)?;
        }
        Ok(())
    }
}

impl Publisher {
    /// A publisher into `repository`; it first finishes a save an earlier run was killed in,
    /// so that what [`Publisher::already_built`] finds is also what pacman reads.
    pub fn new(mut repository: Repository, http: Http) -> Result<Self, RepoError> {
        Update::new(&mut repository, &http, Trust::default(), true)
            .commit()
            .map_err(|failed| failed.error)?;
        Ok(Self { repository, http })
    }

    /// The packages of `base` at its version when the repository holds all of them already.
    pub fn already_built(&self, base: &Base) -> Option<Vec<PackageRecord>> {
        base.packages
            .iter()
            .map(|package| {
                let entry = self.repository.entries.get(&package.name)?;
                (entry.version == base.version).then(|| self.package_record(&package.name))?
            })
            .collect()
    }

    fn package_record(&self, name: &str) -> Option<PackageRecord> {
        let entry = self.repository.entries.get(name)?;
        let mut record = entry.record(&self.repository.name);
        record.path = Some(self.repository.path(&entry.filename).display().to_string());
        Some(record)
    }

    /// Adds the packages in `out` to the repository; their records as the repository has them.
    pub fn publish(&mut self, out: &Path) -> Result<Vec<PackageRecord>, Failure> {
        let mut files: Vec<PathBuf> = fs::read_dir(out)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                let name = path.to_string_lossy();
                name.contains(".pkg.tar") && !name.ends_with(".sig")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Failure("makepkg made no package".to_owned()));
        }
        let mut update = Update::new(&mut self.repository, &self.http, Trust::default(), true);
        for file in files {
            update
                .add(Source::Path(file))
                .map_err(|error| Failure(error.message))?;
        }
        let names: BTreeSet<String> = update
            .commit()?
            .changes
            .into_iter()
            .map(|change| change.name)
            .collect();
        Ok(names
            .iter()
            .filter_map(|name| self.package_record(name))
            .collect())
    }
}

/// The log of `base` in the work folder `work`.
pub fn log_path(work: &Path, base: &str) -> PathBuf {
    work.join("logs").join(format!("{base}.log"))
}

/// The package names `base` needs from the set, with their run-time dependencies within the
/// set, transitively (pacman installs them with `-dd`, so nothing else pulls them in).
pub fn needed(base: &Base, bases: &[Base], providers: &Providers) -> Vec<String> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<&String> = base.needs.iter().collect();
    while let Some(name) = queue.pop() {
        let Some((provider, package)) = providers.get(name) else {
            continue;
        };
        if provider == &base.name || !wanted.insert(package.clone()) {
            continue;
        }
        let made = bases
            .iter()
            .filter(|b| &b.name == provider)
            .flat_map(|b| &b.packages)
            .find(|p| &p.name == package);
        queue.extend(made.into_iter().flat_map(|p| &p.depends));
    }
    wanted.into_iter().collect()
}

/// The last `==> ERROR:` line of a makepkg log.
fn last_error(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|line| line.contains("ERROR"))
        .map(|line| line.trim_start_matches("==> ").trim().to_owned())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if entry.file_name() == ".git" {
            continue;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn chown_tree(path: &Path, user: &BuildUser) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{order::providers, srcinfo::Package};

    #[test]
    fn needed_follows_run_time_dependencies_within_the_set() {
        let package = |name: &str, depends: &[&str]| Package {
            name: name.to_owned(),
            provides: Vec::new(),
            depends: depends.iter().map(|d| (*d).to_owned()).collect(),
        };
        let bases = [
            Base {
                name: "lib".to_owned(),
                packages: vec![package("lib", &["glibc"]), package("lib-doc", &[])],
                ..Base::default()
            },
            Base {
                name: "tool".to_owned(),
                packages: vec![package("tool", &["lib"])],
                ..Base::default()
            },
            Base {
                name: "app".to_owned(),
                packages: vec![package("app", &[])],
                needs: ["tool".to_owned(), "bash".to_owned()].into(),
                ..Base::default()
            },
        ];
        let providers = providers(&bases);
        assert_eq!(needed(&bases[2], &bases, &providers), ["lib", "tool"]);
    }
}
