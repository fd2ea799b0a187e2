//! Package bases' git repositories, cloned or brought up to date with the `git` command.
//!
//! A repository from the AUR is untrusted, so nothing in it ever runs: hooks point at
//! `/dev/null`, submodules are never touched, filters and fsmonitor are off, symbolic links are
//! checked out as plain files, objects are checked as they arrive, and git never prompts. git
//! only ever sees the folder it is given (`--git-dir`, `--work-tree`): it never looks further up
//! for a repository.

use std::{
    io,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

pub use minicluster::aur::is_valid_base;
use minicluster::record::PkgbuildRecord;

/// The GitHub mirror of the AUR: one repository, one branch per package base.
pub const GITHUB_MIRROR: &str = "https://github.com/archlinux/aur.git";

/// What a checkout needs on top of [`minicluster::git`]'s safe settings: symbolic links arrive as
/// plain files, LFS filters are off, and local (`file://`) templates are allowed.
const CHECKOUT_CONFIG: &[&str] = &[
    "core.symlinks=false",
    // The templates may name local repositories (file://), which are no risk here.
    "protocol.file.allow=always",
    "filter.lfs.smudge=",
    "filter.lfs.process=",
    "filter.lfs.required=false",
    "init.defaultBranch=master",
];

/// Where package bases' repositories are.
#[derive(Clone, Debug)]
pub enum GitSource {
    /// One repository per base: a URL with `{base}` for the base's name (the AUR:
    /// `https://aur.archlinux.org/{base}.git`); its `HEAD` is checked out as `master`.
    PerBase(String),
    /// One repository with a branch per base (the GitHub mirror); the branch is checked out.
    BranchPerBase(String),
}

impl GitSource {
    /// The repository URL of `base`.
    pub fn url(&self, base: &str) -> String {
        match self {
            Self::PerBase(template) => template.replace("{base}", base),
            Self::BranchPerBase(url) => url.clone(),
        }
    }

    /// (the remote ref to fetch, the local branch it becomes) for `base`.
    fn refs(&self, base: &str) -> (String, String) {
        match self {
            Self::PerBase(_) => ("HEAD".to_owned(), "master".to_owned()),
            Self::BranchPerBase(_) => (format!("refs/heads/{base}"), base.to_owned()),
        }
    }
}

/// Why a package base could not be cloned or updated.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The name cannot be a folder name or a branch (it came from the RPC: it is untrusted).
    #[error("{0:?} is not a valid package base name")]
    BadName(String),
    /// The folder exists, is not empty, and is not a git repository.
    #[error("{} exists and is not a git repository", .0.display())]
    NotARepository(PathBuf),
    /// The folder could not be created.
    #[error("creating {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// git could not be started, or a git command failed.
    #[error(transparent)]
    Git(#[from] minicluster::git::GitError),
}

impl GitError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadName(_) => "bad_name",
            Self::NotARepository(_) => "not_a_repository",
            Self::Io { .. } => "io",
            Self::Git(_) => "git_failed",
        }
    }
}

/// `git --version`, to fail early when git is missing.
pub fn git_version() -> Result<String, GitError> {
    let output = Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(minicluster::git::GitError::Spawn)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A work folder of package bases' repositories, `WORK/BASE`.
#[derive(Clone, Debug)]
pub struct Checkouts {
    work: PathBuf,
    source: GitSource,
    timeout: Duration,
}

impl Checkouts {
    /// Checkouts in `work` from `source`; a transfer slower than 1 kB/s for `timeout` fails.
    pub fn new(work: PathBuf, source: GitSource, timeout: Duration) -> Self {
        Self {
            work,
            source,
            timeout,
        }
    }

    /// Clones `base` into `WORK/BASE`, or fetches it and resets it to what was fetched
    /// (discarding local changes to tracked files), and says what changed.
    pub fn update(&self, base: &str) -> Result<PkgbuildRecord, GitError> {
        if !is_valid_base(base) {
            return Err(GitError::BadName(base.to_owned()));
        }
        let dir = self.work.join(base);
        let url = self.source.url(base);
        let (remote_ref, branch) = self.source.refs(base);
        let tracking = format!("refs/remotes/origin/{branch}");
        self.prepare(&dir)?;
        let previous = self.head(&dir)?;
        self.git(&dir, &["config", "--", "remote.origin.url", &url])?;
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        self.git(&dir, &["config", "--", "remote.origin.fetch", &refspec])?;
        let fetch = format!("+{remote_ref}:{tracking}");
        self.git(&dir, &["fetch", "--quiet", "--no-tags", "origin", &fetch])?;
        self.git(
            &dir,
            &["checkout", "--quiet", "--force", "-B", &branch, &tracking],
        )?;
        let commit = self
            .head(&dir)?
            .ok_or_else(|| minicluster::git::GitError::Failed {
                command: "checkout".to_owned(),
                message: "no commit is checked out".to_owned(),
            })?;
        let mut record = PkgbuildRecord {
            base: base.to_owned(),
            path: dir.display().to_string(),
            git_url: Some(url),
            commit: Some(commit.clone()),
            previous_commit: previous.clone(),
            ..PkgbuildRecord::default()
        };
        if let Some(previous) = previous.filter(|previous| *previous != commit) {
            let range = format!("{previous}..{commit}");
            let numstat = self.git(
                &dir,
                &[
                    "diff",
                    "--numstat",
                    "-z",
                    "--no-renames",
                    "--no-ext-diff",
                    "--no-textconv",
                    &range,
                ],
            )?;
            for (insertions, deletions, file) in parse_numstat(&numstat) {
                record.insertions += insertions;
                record.deletions += deletions;
                record.files_changed.push(file);
            }
        }
        Ok(record)
    }

    /// Makes `dir` a git repository unless it is one; refuses a folder holding something else.
    fn prepare(&self, dir: &Path) -> Result<(), GitError> {
        if dir.join(".git").is_dir() {
            return Ok(());
        }
        let io_error = |source| GitError::Io {
            path: dir.to_owned(),
            source,
        };
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(GitError::NotARepository(dir.to_owned()));
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io_error)?;
            }
            Err(error) => return Err(io_error(error)),
        }
        self.git(dir, &["init", "--quiet"]).map(drop)
    }

    /// The commit checked out in `dir`, `None` before the first checkout.
    fn head(&self, dir: &Path) -> Result<Option<String>, GitError> {
        match self.git(dir, &["rev-parse", "--quiet", "--verify", "HEAD^{commit}"]) {
            Ok(commit) => Ok(Some(commit.trim().to_owned())),
            Err(GitError::Git(minicluster::git::GitError::Failed { .. })) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Runs `git ARGS` on the repository in `dir`; returns its stdout.
    fn git(&self, dir: &Path, args: &[&str]) -> Result<String, GitError> {
        let low_speed_time = format!("http.lowSpeedTime={}", self.timeout.as_secs().max(1));
        let settings: Vec<&str> = CHECKOUT_CONFIG
            .iter()
            .copied()
            .chain([low_speed_time.as_str()])
            .collect();
        let git_dir = dir.join(".git");
        let location = [
            "--git-dir".as_ref(),
            git_dir.as_os_str(),
            "--work-tree".as_ref(),
            dir.as_os_str(),
        ];
        let stdout = minicluster::git::run(&settings, &location, args)?;
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }
}

/// `git diff --numstat -z` output as (insertions, deletions, path); binary files count 0 lines.
fn parse_numstat(output: &str) -> Vec<(u64, u64, String)> {
    output
        .split('\0')
        .filter_map(|entry| {
            let mut fields = entry.splitn(3, '\t');
            let (added, removed, path) = (fields.next()?, fields.next()?, fields.next()?);
            Some((
                added.parse().unwrap_or(0),
                removed.parse().unwrap_or(0),
                path.to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_counts_text_and_names_binary_files() {
        let output = ["2\t1\tPKGBUILD", "-\t-\tlogo.png", "10\t0\tnew file", ""].join("\0");
        let parsed = parse_numstat(&output);
        assert_eq!(
            parsed,
            [
                (2, 1, "PKGBUILD".to_owned()),
                (0, 0, "logo.png".to_owned()),
                (10, 0, "new file".to_owned())
            ]
        );
    }
}
