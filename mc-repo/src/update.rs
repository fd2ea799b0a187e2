//! Changing a repository: packages are staged one by one (copied into the folder under a
//! temporary name, signed or verified, read once), removals are staged by name, and the
//! databases are written once at the end, only when something changed.
//!
//! The changes are told only once they are made: [`Update::commit`] returns them after the
//! `.db` rename, its commit point. A commit that fails (a full disk) returns one error record
//! instead, and the repository stays as it was.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{self, Seek, Write},
    path::{Path, PathBuf},
};

use minicluster::{
    http::Http,
    openpgp::{Keyring, SigningKey},
    package::{self, Expectations, PackageError},
    pkginfo,
    record::{ChangeAction, ChangeRecord, ErrorRecord, FindingRecord, PackageRecord},
};
use tempfile::TempPath;

use crate::{
    TOOL,
    entry::Entry,
    repository::{RepoError, Repository, set_readable},
};

/// A package to add: a file, or a record pointing at one (`path`) or at a download (`url`).
#[derive(Debug)]
pub enum Source {
    /// A package file.
    Path(PathBuf),
    /// A `package` record.
    Record(Box<PackageRecord>),
}

/// A package file ready to be renamed into the repository folder.
struct Staged {
    /// The copy (or download) waiting in the folder under a temporary name; `None` when the
    /// package already sits in the folder.
    copy: Option<TempPath>,
    /// The copy of its detached signature, likewise.
    signature_copy: Option<TempPath>,
    /// Where to read the signature from (the original `.sig`), when there is one.
    signature: Option<PathBuf>,
    destination: PathBuf,
}

/// How packages and databases are signed and checked.
#[derive(Clone, Copy, Default)]
pub struct Trust<'a> {
    /// Signs the databases, and every package that comes without a signature.
    pub sign: Option<&'a SigningKey>,
    /// Refuses packages whose signature does not verify against this keyring (or that have none).
    pub verify: Option<&'a Keyring>,
}

/// Collects changes, then commits them all at once.
pub struct Update<'a> {
    repository: &'a mut Repository,
    http: &'a Http,
    trust: Trust<'a>,
    remove_old: bool,
    staged: Vec<Staged>,
    replaced_files: Vec<String>,
    added_this_run: BTreeMap<String, String>,
    /// What the run does, `unchanged` packages included, told once committed.
    changes: Vec<ChangeRecord>,
}

/// A commit that failed before its commit point: the repository is as it was.
#[derive(Debug, thiserror::Error)]
#[error(
    "{error}; the repository is as it was: none of the {changes} changes of this run were made"
)]
pub struct CommitError {
    /// What went wrong.
    pub error: RepoError,
    /// How many changes were staged and are now lost.
    pub changes: usize,
}

/// What a commit made.
#[derive(Debug, Default)]
pub struct Committed {
    /// The changes, in the order they were staged.
    pub changes: Vec<ChangeRecord>,
    /// What went wrong after the commit point (a replaced file that could not be deleted).
    pub afterwards: Vec<ErrorRecord>,
}

impl<'a> Update<'a> {
    /// Starts changing `repository`; `remove_old` deletes replaced package files on commit.
    pub fn new(
        repository: &'a mut Repository,
        http: &'a Http,
        trust: Trust<'a>,
        remove_old: bool,
    ) -> Self {
        Self {
            repository,
            http,
            trust,
            remove_old,
            staged: Vec::new(),
            replaced_files: Vec::new(),
            added_this_run: BTreeMap::new(),
            changes: Vec::new(),
        }
    }

    /// Stages one package; the warnings about its metadata, or why it was refused.
    pub fn add(&mut self, source: Source) -> Result<Vec<FindingRecord>, Box<ErrorRecord>> {
        let subject = match &source {
            Source::Path(path) => serde_json::json!({ "path": path }),
            Source::Record(record) => record.subject(),
        };
        let refuse = |kind: &str, message: String| {
            Box::new(ErrorRecord::new(TOOL, kind, message, subject.clone()))
        };
        let (file, mut staged) = self
            .local_copy(&source)
            .map_err(|(kind, message)| refuse(kind, message))?;
        let filename = file_name(&staged.destination);
        let expected_sha256 = match &source {
            Source::Record(record) => record.sha256.clone(),
            Source::Path(_) => None,
        };
        let expect = Expectations {
            sha256: expected_sha256,
            ..Expectations::default()
        };
        // Signatures first: nothing untrusted is parsed before it is verified.
        let signature = self
            .signature(&file, &mut staged)
            .map_err(|(kind, message)| refuse(kind, format!("{filename}: {message}")))?;
        let contents = File::open(&file)
            .map_err(PackageError::from)
            .and_then(|handle| package::read_package(handle, &expect))
            // Named as given: `file` may be the temporary copy.
            .map_err(|e| refuse(e.kind(), format!("{filename}: {e}")))?;
        let entry = Entry::from_package(&contents, &filename, signature.as_deref())
            .map_err(|e| refuse("invalid_metadata", format!("{filename}: {e}")))?;
        let base = contents.pkginfo("pkgbase").unwrap_or(&entry.name);
        let shown = match &source {
            Source::Path(path) => path.display().to_string(),
            Source::Record(_) => staged.destination.display().to_string(),
        };
        let warnings = pkginfo::unusual(&contents.pkginfo)
            .iter()
            .map(|unusual| unusual.finding(base, &entry.name, &entry.version, &shown))
            .collect();
        if let Some(other) = self.added_this_run.get(&entry.name) {
            return Err(refuse(
                "duplicate_package",
                format!(
                    "{} {} and {other} in one run: add one version at a time",
                    entry.name, entry.version
                ),
            ));
        }
        let old = self.repository.entries.get(&entry.name);
        let action = match old {
            Some(old) if old.desc == entry.desc => ChangeAction::Unchanged,
            Some(_) => ChangeAction::Replaced,
            None => ChangeAction::Added,
        };
        let change = ChangeRecord {
            action,
            repo: self.repository.name.clone(),
            name: entry.name.clone(),
            version: Some(entry.version.clone()),
            old_version: old.map(|old| old.version.clone()),
            path: Some(staged.destination.display().to_string()),
        };
        self.added_this_run
            .insert(entry.name.clone(), entry.version.clone());
        if action != ChangeAction::Unchanged {
            if let Some(old) = old.filter(|old| old.filename != filename) {
                self.replaced_files.push(old.filename.clone());
            }
            self.repository.entries.insert(entry.name.clone(), entry);
        }
        self.changes.push(change);
        self.staged.push(staged);
        Ok(warnings)
    }

    /// The package's detached signature: its own (verified when a keyring is given), or a new
    /// one when a signing key is given and it has none.
    fn signature(
        &self,
        file: &Path,
        staged: &mut Staged,
    ) -> Result<Option<Vec<u8>>, (&'static str, String)> {
        let existing = staged
            .signature
            .as_ref()
            .map(fs::read)
            .transpose()
            .map_err(|e| ("io", format!("reading its signature: {e}")))?;
        if let Some(keyring) = self.trust.verify {
            let signature = existing.as_deref().ok_or((
                "unsigned_package",
                "no signature (.sig), and --verify was given".to_owned(),
            ))?;
            let data = File::open(file).map_err(|e| ("io", e.to_string()))?;
            keyring
                .verify_detached(data, signature)
                .map_err(|e| (e.kind(), format!("signature does not verify: {e}")))?;
        }
        match (existing, self.trust.sign) {
            (Some(signature), _) => Ok(Some(signature)),
            (None, Some(key)) => {
                let data = File::open(file).map_err(|e| ("io", e.to_string()))?;
                let signature = key
                    .sign_detached(data)
                    .map_err(|e| (e.kind(), format!("signing: {e}")))?;
                let mut temp = self
                    .repository
                    .temp_file(&format!("{}.sig", file_name(&staged.destination)))
                    .map_err(|e| ("io", e.to_string()))?;
                temp.write_all(&signature)
                    .and_then(|()| set_readable(temp.path()))
                    .map_err(|e| ("io", e.to_string()))?;
                staged.signature_copy = Some(temp.into_temp_path());
                Ok(Some(signature))
            }
            (None, None) => Ok(None),
        }
    }

    /// Stages the removal of package `name`; `false` when the repository does not hold it.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(entry) = self.repository.entries.remove(name) else {
            return false;
        };
        if self.remove_old {
            self.replaced_files.push(entry.filename.clone());
        }
        self.changes.push(ChangeRecord {
            action: ChangeAction::Removed,
            repo: self.repository.name.clone(),
            name: name.to_owned(),
            version: None,
            old_version: Some(entry.version.clone()),
            path: Some(self.repository.path(&entry.filename).display().to_string()),
        });
        true
    }

    /// Whether an entry of the repository names the package file `file_name`.
    fn names_file(&self, file_name: &str) -> bool {
        self.repository
            .entries
            .values()
            .any(|entry| entry.filename == file_name)
    }

    /// The repository being changed.
    pub fn repository(&self) -> &Repository {
        self.repository
    }

    /// The package file to read, and how it gets into the folder.
    fn local_copy(&self, source: &Source) -> Result<(PathBuf, Staged), (&'static str, String)> {
        let record = match source {
            Source::Path(path) => return self.stage_file(path),
            Source::Record(record) => record,
        };
        match (&record.path, &record.url) {
            (Some(path), _) => self.stage_file(Path::new(path)),
            (None, Some(url)) => {
                let filename = record
                    .filename
                    .clone()
                    .or_else(|| url.rsplit('/').next().map(str::to_owned))
                    .filter(|name| !name.is_empty() && !name.contains('/'))
                    .ok_or(("no_location", format!("{url}: no file name")))?;
                self.download(&record.download_urls(), record.csize, &filename)
            }
            (None, None) => Err((
                "no_location",
                "package record has neither \"path\" nor \"url\"".to_owned(),
            )),
        }
    }

    /// Stages a local file: as it is when it already sits in the folder, else as a copy.
    fn stage_file(&self, path: &Path) -> Result<(PathBuf, Staged), (&'static str, String)> {
        let destination = self.repository.path(&file_name(path));
        let signature = signature_of(path).filter(|sig| sig.exists());
        // A package already in the folder (given by its own path, or an identical copy) stays.
        let in_place =
            same_file(path, &destination) || same_content(path, &destination).unwrap_or(false);
        let staged = if in_place {
            Staged {
                copy: None,
                signature_copy: None,
                signature,
                destination,
            }
        } else {
            // A file no entry names is what a killed run left behind: it may be replaced.
            if destination.exists() && self.names_file(&file_name(path)) {
                return Err((
                    "file_conflict",
                    format!(
                        "{} already holds another file of that name",
                        destination.display()
                    ),
                ));
            }
            Staged {
                copy: Some(
                    self.copy_in(path)
                        .map_err(|e| ("io", format!("copying {}: {e}", path.display())))?,
                ),
                signature_copy: signature
                    .as_ref()
                    .map(|sig| self.copy_in(sig))
                    .transpose()
                    .map_err(|e| {
                        (
                            "io",
                            format!("copying the signature of {}: {e}", path.display()),
                        )
                    })?,
                signature,
                destination,
            }
        };
        let file = staged
            .copy
            .as_ref()
            .map_or_else(|| staged.destination.clone(), |copy| copy.to_path_buf());
        Ok((file, staged))
    }

    fn download(
        &self,
        urls: &[String],
        size: Option<u64>,
        filename: &str,
    ) -> Result<(PathBuf, Staged), (&'static str, String)> {
        let destination = self.repository.path(filename);
        if destination.exists() {
            return self.stage_file(&destination);
        }
        let temp = self
            .repository
            .temp_file(filename)
            .map_err(|e| ("io", e.to_string()))?;
        // Written through the handle, never reopened by name: a run interrupted by a signal
        // deletes the name, and must not see it made again (see `crate::interrupt`).
        self.http
            .fetch_sized(urls, size, |body| {
                // Each attempt (the next mirror, a retry) starts the file again.
                let mut out = temp.as_file();
                out.set_len(0)?;
                out.seek(io::SeekFrom::Start(0))?;
                io::copy(body, &mut out).map(drop)
            })
            .map_err(|e| (e.kind(|_| "download_failed"), e.to_string()))?;
        set_readable(temp.path()).map_err(|e| ("io", e.to_string()))?;
        let temp = temp.into_temp_path();
        Ok((
            temp.to_path_buf(),
            Staged {
                copy: Some(temp),
                signature_copy: None,
                signature: None,
                destination,
            },
        ))
    }

    fn copy_in(&self, path: &Path) -> io::Result<TempPath> {
        let mut temp = self.repository.temp_file(&file_name(path))?;
        let mut from = minicluster::file::open_regular(path)?;
        io::copy(&mut from, &mut temp)?;
        set_readable(temp.path())?;
        Ok(temp.into_temp_path())
    }

    /// Renames the staged files into place, writes (and signs) the databases, and removes
    /// replaced files; returns the changes, now made. Nothing is written when nothing changed
    /// (and no earlier save was cut short).
    ///
    /// When writing fails before the commit point, the package files already renamed into
    /// place are deleted again (on a full disk they hold the space the databases need).
    pub fn commit(self) -> Result<Committed, CommitError> {
        let changed = self
            .changes
            .iter()
            .filter(|change| change.action != ChangeAction::Unchanged)
            .count();
        if changed == 0 && !self.repository.interrupted_save() {
            return Ok(Committed {
                changes: self.changes,
                afterwards: Vec::new(),
            });
        }
        let mut placed = Vec::new();
        let written =
            place(self.staged, &mut placed).and_then(|()| self.repository.save(self.trust.sign));
        if let Err(error) = written {
            for path in &placed {
                let _ = fs::remove_file(path);
            }
            return Err(CommitError {
                error,
                changes: changed,
            });
        }
        let mut afterwards = Vec::new();
        if self.remove_old {
            for file in &self.replaced_files {
                let path = self.repository.path(file);
                let _ = fs::remove_file(signature_of(&path).unwrap_or_default());
                if let Err(error) = fs::remove_file(&path) {
                    let message = format!("removing the replaced {}: {error}", path.display());
                    let subject = serde_json::json!({"repo": self.repository.name, "path": path});
                    afterwards.push(ErrorRecord::new(TOOL, "io", message, subject));
                }
            }
        }
        Ok(Committed {
            changes: self.changes,
            afterwards,
        })
    }
}

/// Renames the staged copies into place, noting each file placed (to undo on failure).
fn place(staged: Vec<Staged>, placed: &mut Vec<PathBuf>) -> Result<(), RepoError> {
    for staged in staged {
        let signature_destination = signature_of(&staged.destination);
        if let Some(copy) = staged.copy {
            persist(copy, &staged.destination)?;
            placed.push(staged.destination.clone());
        }
        if let (Some(signature), Some(destination)) = (staged.signature_copy, signature_destination)
        {
            persist(signature, &destination)?;
            placed.push(destination);
        }
    }
    Ok(())
}

fn persist(temp: TempPath, destination: &Path) -> Result<(), RepoError> {
    temp.persist(destination).map_err(|e| RepoError::Io {
        path: destination.to_owned(),
        error: e.error,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `X.sig` beside `X`.
fn signature_of(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".sig");
    Some(path.with_file_name(name))
}

/// Whether two files hold the same bytes.
fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    use io::Read;
    if fs::metadata(a)?.len() != fs::metadata(b)?.len() {
        return Ok(false);
    }
    let (mut a, mut b) = (
        io::BufReader::new(File::open(a)?),
        io::BufReader::new(File::open(b)?),
    );
    let (mut chunk_a, mut chunk_b) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    loop {
        let read = a.read(&mut chunk_a)?;
        if read == 0 {
            return Ok(true);
        }
        b.read_exact(&mut chunk_b[..read])?;
        if chunk_a[..read] != chunk_b[..read] {
            return Ok(false);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
