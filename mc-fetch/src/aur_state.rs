//! What `mc-fetch aur clone` remembers of a package base between fetches: the maintainer the
//! AUR named at the last successful fetch. The RPC only ever names the maintainer of today, so
//! this is how a change of hands (an orphan adopted, say) is noticed.
//!
//! The state is a small JSON file inside the checkout's git folder,
//! `DIR/BASE/.git/minicluster-aur.json`: git never checks anything out there, so a repository
//! cannot plant or change it, and it goes away with the checkout.

use std::{
    io::{self, Write},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use minicluster::record::{AurPackageRecord, PkgbuildRecord};
use serde::{Deserialize, Serialize};

/// The state file's name inside `BASE/.git`.
pub const FILE_NAME: &str = "minicluster-aur.json";

/// What one successful fetch saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Seen {
    /// The maintainer the AUR named; `null` for an orphan.
    pub maintainer: Option<String>,
    /// The commit checked out.
    pub commit: Option<String>,
    /// When (Unix seconds).
    pub fetched_at: i64,
}

/// Why the state of a package base could not be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// The state file.
        path: PathBuf,
        /// What was being done (`reading`, `writing`).
        action: &'static str,
        /// What went wrong.
        source: io::Error,
    },
    /// The file is not what this module writes.
    #[error("{} is not a state file of mc-fetch: {source}", path.display())]
    Malformed {
        /// The state file.
        path: PathBuf,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
}

impl StateError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::Malformed { .. } => "bad_state",
        }
    }
}

/// The state file of the checkout in `checkout`.
pub fn path(checkout: &Path) -> PathBuf {
    checkout.join(".git").join(FILE_NAME)
}

/// What the last successful fetch into `checkout` saw; `None` when none was recorded.
pub fn read(checkout: &Path) -> Result<Option<Seen>, StateError> {
    let path = path(checkout);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            let action = "reading";
            return Err(StateError::Io {
                path,
                action,
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StateError::Malformed { path, source })
}

/// Saves `seen` as the state of `checkout`: written beside it, then renamed over it, so a crash
/// leaves the old state or the new one, never half of one.
pub fn write(checkout: &Path, seen: &Seen) -> Result<(), StateError> {
    let path = path(checkout);
    let partial = path.with_file_name(format!(".{FILE_NAME}.{}.partial", std::process::id()));
    let json = serde_json::to_vec(seen).expect("the state serializes");
    let written = std::fs::File::create(&partial)
        .and_then(|mut file| {
            file.write_all(&json)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&partial, &path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        StateError::Io {
            path,
            action: "writing",
            source,
        }
    })
}

/// Fills the AUR fields of a fresh `record` from `package` (what `info` said now) and from the
/// state of the last fetch, then saves this fetch as the new state. On a state that cannot be
/// read the record says there was no earlier fetch, and the state is written anew.
///
/// Returns the problems met; the record is complete either way.
pub fn remember(record: &mut PkgbuildRecord, package: &AurPackageRecord) -> Vec<StateError> {
    let checkout = PathBuf::from(&record.path);
    record.maintainer.clone_from(&package.maintainer);
    record.submitter.clone_from(&package.submitter);
    record.last_modified_at = package.last_modified_at;
    let mut problems = Vec::new();
    match read(&checkout) {
        Ok(Some(seen)) => {
            record.fetched_before = true;
            record.previous_maintainer = seen.maintainer;
        }
        Ok(None) => {}
        Err(problem) => problems.push(problem),
    }
    let seen = Seen {
        maintainer: record.maintainer.clone(),
        commit: record.commit.clone(),
        fetched_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            }),
    };
    if let Err(problem) = write(&checkout, &seen) {
        problems.push(problem);
    }
    problems
}

#[cfg(test)]
mod tests {
    use minicluster::record::Timestamp;

    use super::*;

    fn checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".git")).expect(".git");
        dir
    }

    fn fetch(dir: &Path, maintainer: Option<&str>) -> (PkgbuildRecord, Vec<StateError>) {
        let mut record = PkgbuildRecord {
            base: "app".into(),
            path: dir.display().to_string(),
            commit: Some("c0ffee".into()),
            ..PkgbuildRecord::default()
        };
        let package = AurPackageRecord {
            maintainer: maintainer.map(str::to_owned),
            submitter: Some("bob".into()),
            last_modified_at: Some(Timestamp::from_unix(1_700_000_000)),
            ..AurPackageRecord::default()
        };
        let problems = remember(&mut record, &package);
        (record, problems)
    }

    #[test]
    fn each_fetch_sees_the_maintainer_of_the_one_before() {
        let dir = checkout();
        let (first, problems) = fetch(dir.path(), Some("alice"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            (first.fetched_before, first.previous_maintainer.as_deref()),
            (false, None)
        );
        assert_eq!(
            (first.submitter.as_deref(), first.last_modified_at),
            (Some("bob"), Some(Timestamp::from_unix(1_700_000_000)))
        );
        let (second, _) = fetch(dir.path(), None);
        assert!(second.fetched_before && second.maintainer.is_none());
        assert_eq!(second.previous_maintainer.as_deref(), Some("alice"));
        let (third, _) = fetch(dir.path(), Some("mallory"));
        assert_eq!(
            (third.fetched_before, third.previous_maintainer.as_deref()),
            (true, None),
            "an orphan at the last fetch"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path().join(".git"))
            .expect("listing")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(names, [FILE_NAME], "no partial file is left behind");
    }

    #[test]
    fn a_broken_state_is_reported_and_replaced() {
        let dir = checkout();
        std::fs::write(path(dir.path()), "{not json").expect("write");
        let (record, problems) = fetch(dir.path(), Some("alice"));
        assert_eq!(
            problems.iter().map(StateError::kind).collect::<Vec<_>>(),
            ["bad_state"]
        );
        assert!(!record.fetched_before);
        let state = read(dir.path()).expect("readable").expect("written anew");
        assert_eq!(state.maintainer.as_deref(), Some("alice"));
    }
}
