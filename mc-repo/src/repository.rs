//! A pacman repository folder: its sync databases, read once, locked, and written atomically.
//!
//! `DIR/NAME.db.tar.EXT` names the repository; beside it live `NAME.files.tar.EXT`, the `NAME.db`
//! and `NAME.files` links pacman downloads, and the package files. A new database is written to a
//! temporary file in the same folder and renamed over the old one, so a pacman reading the
//! repository during an update sees the old database or the new one, never half of one.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use minicluster::{compress::Compression, openpgp::SigningKey, syncdb};

use crate::{
    entry::{Entry, EntryError},
    lock::{Access, Lock, LockError},
};

/// Why a repository cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The `--repo` path does not name a database.
    #[error(
        "{0}: not a repository database name: expected DIR/NAME.db.tar.EXT (EXT: zst, gz, xz, bz2, lz4) or DIR/NAME.db.tar"
    )]
    BadName(PathBuf),
    /// The repository folder cannot be used.
    #[error("{path}: {error}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said (in the message, so not a `source` that would repeat it).
        error: io::Error,
    },
    /// The lock cannot be had: another mc-repo is updating the repository, or the lock file
    /// is not one.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The existing database cannot be read.
    #[error("{path}: {error}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        error: syncdb::SyncDbError,
    },
    /// An entry of the existing database is unreadable.
    #[error("{path}: {error}")]
    Entry {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        error: EntryError,
    },
}

/// How the names of mc-repo's temporary files in a repository folder begin.
pub const TEMP_PREFIX: &str = ".mc-repo-tmp.";

/// An open, locked repository and its entries by package name.
pub struct Repository {
    /// The folder holding the databases and packages.
    pub dir: PathBuf,
    /// The repository name (`NAME` in `NAME.db`).
    pub name: String,
    compression: Compression,
    /// Whether a `.files` database is kept.
    pub with_files: bool,
    /// The packages, by name.
    pub entries: BTreeMap<String, Entry>,
    /// See [`Repository::interrupted_save`].
    interrupted_save: bool,
    temporaries: Temporaries,
    lock: Lock,
}

impl Repository {
    /// Opens (or starts) the repository `path` names, and locks it for writing until dropped.
    pub fn open(path: &Path, with_files: bool) -> Result<Self, RepoError> {
        Self::open_for(path, with_files, Access::Write)
    }

    fn open_for(path: &Path, with_files: bool, access: Access) -> Result<Self, RepoError> {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let compression = Compression::from_tar_name(file_name)
            .ok_or_else(|| RepoError::BadName(path.to_owned()))?;
        let name = file_name
            .split_once(".db.tar")
            .map(|(name, _)| name.to_owned())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| RepoError::BadName(path.to_owned()))?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |error| RepoError::Io { path, error }
        };
        if access == Access::Write {
            fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        }
        let lock = Lock::take(&dir.join(format!(".{name}.mc-repo.lock")), access)?;
        let temporaries = Temporaries {
            dir: dir.clone(),
            gate: Arc::default(),
        };
        let mut repository = Self {
            dir,
            name,
            compression,
            with_files,
            entries: BTreeMap::new(),
            interrupted_save: false,
            temporaries,
            lock,
        };
        // Whoever holds the lock, shared or not, knows no writer is at work: the temporary
        // files are what killed runs left. A reader deletes them where it may write.
        if repository.lock.is_held() {
            repository.temporaries.remove_all();
        }
        repository.load()?;
        Ok(repository)
    }

    /// Opens a repository that must exist already, keeping a `.files` database if it has one.
    pub fn open_existing(path: &Path) -> Result<Self, RepoError> {
        Self::open_existing_for(path, Access::Write)
    }

    /// Opens a repository that must exist already to read it only: under a shared lock, so it
    /// works in a folder the user may only read (`list`, `check`).
    pub fn open_to_read(path: &Path) -> Result<Self, RepoError> {
        Self::open_existing_for(path, Access::Read)
    }

    fn open_existing_for(path: &Path, access: Access) -> Result<Self, RepoError> {
        if !path.exists() {
            return Err(RepoError::Io {
                path: path.to_owned(),
                error: io::Error::new(io::ErrorKind::NotFound, "no repository database here"),
            });
        }
        let mut repository = Self::open_for(path, true, access)?;
        repository.with_files = repository.path(&repository.database_name("files")).exists();
        Ok(repository)
    }

    /// The repository's temporary files, for deleting them when the run is interrupted.
    pub fn temporaries(&self) -> Temporaries {
        self.temporaries.clone()
    }

    /// The path of a file in the repository folder.
    pub fn path(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }

    /// The database files this repository keeps (`.db`, and `.files` when kept).
    pub fn database_files(&self) -> Vec<PathBuf> {
        let kinds: &[&str] = if self.with_files {
            &["db", "files"]
        } else {
            &["db"]
        };
        kinds
            .iter()
            .map(|kind| self.path(&self.database_name(kind)))
            .collect()
    }

    fn database_name(&self, kind: &str) -> String {
        let extension = self.compression.extension();
        let dot = if extension.is_empty() { "" } else { "." };
        format!("{}.{kind}.tar{dot}{extension}", self.name)
    }

    /// Reads the existing entries: from the `.files` database when it exists (it holds the
    /// `desc` entries too), else from the `.db`.
    ///
    /// A save renames the `.files` database before the `.db` (see [`Repository::save`]); when
    /// the two disagree, a run was killed between the renames and the `.files` one is the newer:
    /// its entries are taken and [`Repository::interrupted_save`] asks the next commit to finish
    /// writing the `.db`.
    fn load(&mut self) -> Result<(), RepoError> {
        let files_db = self.path(&self.database_name("files"));
        let db = self.path(&self.database_name("db"));
        let entries = match (self.read(&files_db)?, self.read(&db)?) {
            (Some(files), Some(descs)) => {
                let desc_of = |entries: &[syncdb::Entry]| {
                    entries
                        .iter()
                        .map(|entry| (entry.folder.clone(), entry.desc.clone()))
                        .collect::<Vec<_>>()
                };
                self.interrupted_save = desc_of(&files) != desc_of(&descs);
                (files, files_db)
            }
            (Some(files), None) => (files, files_db),
            (None, Some(descs)) => (descs, db),
            (None, None) => return Ok(()),
        };
        let (raw, source) = entries;
        for entry in raw {
            let entry = Entry::from_existing(entry).map_err(|e| RepoError::Entry {
                path: source.clone(),
                error: e,
            })?;
            self.entries.insert(entry.name.clone(), entry);
        }
        Ok(())
    }

    /// The entries of the database `path`, or `None` when there is none.
    fn read(&self, path: &Path) -> Result<Option<Vec<syncdb::Entry>>, RepoError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(RepoError::Io {
                    path: path.to_owned(),
                    error: e,
                });
            }
        };
        syncdb::read_entries(file)
            .map(Some)
            .map_err(|e| RepoError::Database {
                path: path.to_owned(),
                error: e,
            })
    }

    /// Whether an earlier run was killed half way through [`Repository::save`], so the
    /// databases must be written again even when nothing else changes.
    pub fn interrupted_save(&self) -> bool {
        self.interrupted_save
    }

    /// Writes the databases (and their signatures from `sign`, when given) beside the old ones
    /// and renames them into place, after pointing the `NAME.db`/`NAME.files` links at them.
    ///
    /// The `.db` is renamed last: it is the commit point. Whoever sees an entry in it (pacman,
    /// or mc-build deciding a base is already published) also finds the links, the `.files`
    /// database and the signatures of this save, even when the run is killed right after.
    pub fn save(&self, sign: Option<&SigningKey>) -> Result<(), RepoError> {
        let kinds: &[&str] = if self.with_files {
            &["files", "db"]
        } else {
            &["db"]
        };
        let mut entries: Vec<&Entry> = self.entries.values().collect();
        entries.sort_by_cached_key(|entry| entry.folder());
        // Compressing is most of the time a save takes: both databases at once.
        let databases: Vec<io::Result<Vec<u8>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = kinds
                .iter()
                .map(|kind| {
                    let entries = &entries;
                    scope.spawn(move || self.database_bytes(entries, *kind == "files"))
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("compression thread panicked")))
                })
                .collect()
        });
        let mut writes = Vec::new();
        for (kind, bytes) in kinds.iter().zip(databases) {
            let bytes = bytes.map_err(|e| self.io(kind, e))?;
            let file_name = self.database_name(kind);
            if let Some(key) = sign {
                let signature = key
                    .sign_detached(bytes.as_slice())
                    .map_err(|e| self.io(kind, io::Error::other(e)))?;
                self.link(
                    &format!("{}.{kind}.sig", self.name),
                    &format!("{file_name}.sig"),
                )?;
                writes.push((format!("{file_name}.sig"), signature));
            }
            self.link(&format!("{}.{kind}", self.name), &file_name)?;
            writes.push((file_name, bytes));
        }
        for (file_name, bytes) in &writes {
            self.replace(file_name, bytes)?;
        }
        Ok(())
    }

    fn io(&self, kind: &str, error: io::Error) -> RepoError {
        RepoError::Io {
            path: self.path(&self.database_name(kind)),
            error,
        }
    }

    /// The compressed tar of `entries` (in folder order), laid out as repo-add lays it out.
    fn database_bytes(&self, entries: &[&Entry], with_files: bool) -> io::Result<Vec<u8>> {
        self.compression.compress(|out| {
            let mut tar = tar::Builder::new(out);
            for entry in entries {
                let folder = entry.folder();
                append(&mut tar, &format!("{folder}/"), None)?;
                append(
                    &mut tar,
                    &format!("{folder}/desc"),
                    Some(entry.desc.as_bytes()),
                )?;
                if with_files {
                    let files = entry.files.as_deref().unwrap_or("%FILES%\n");
                    append(&mut tar, &format!("{folder}/files"), Some(files.as_bytes()))?;
                }
            }
            tar.finish()
        })
    }

    /// Writes `file_name` in the repository folder through a temporary file and a rename.
    pub fn replace(&self, file_name: &str, bytes: &[u8]) -> Result<(), RepoError> {
        let path = self.path(file_name);
        let io_error = |error| RepoError::Io {
            path: path.clone(),
            error,
        };
        let mut temp = self.temp_file(file_name).map_err(io_error)?;
        temp.write_all(bytes).map_err(io_error)?;
        temp.as_file().sync_all().map_err(io_error)?;
        // Files served to pacman clients must be readable by the web server, not 0600.
        set_readable(temp.path()).map_err(io_error)?;
        temp.persist(&path).map_err(|e| io_error(e.error))?;
        Ok(())
    }

    /// A new temporary file in the repository folder, for what will be renamed to `name`.
    pub fn temp_file(&self, name: &str) -> io::Result<tempfile::NamedTempFile> {
        self.temporaries.file(name)
    }

    /// Points the link `link` at `target` (a name in the same folder), atomically.
    fn link(&self, link: &str, target: &str) -> Result<(), RepoError> {
        let path = self.path(link);
        let io_error = |error| RepoError::Io {
            path: path.clone(),
            error,
        };
        let temp = self.temporaries.symlink(link, target).map_err(io_error)?;
        fs::rename(&temp, &path).map_err(io_error)
    }
}

/// The temporary files of a writer in the repository folder.
///
/// Their names start with [`TEMP_PREFIX`]: a run killed before its renames leaves such files
/// behind, and the next writer, holding the lock, knows they are stale and deletes them. A run
/// interrupted by a signal deletes its own (see [`crate::interrupt`]): every temporary file is
/// made through the gate, which [`Temporaries::remove_for_good`] closes first, so none can
/// appear after it has looked.
#[derive(Clone, Debug)]
pub struct Temporaries {
    dir: PathBuf,
    gate: Arc<Mutex<()>>,
}

impl Temporaries {
    fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new temporary file, for what will be renamed to `name`.
    fn file(&self, name: &str) -> io::Result<tempfile::NamedTempFile> {
        let _open = self.gate();
        tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{name}."))
            .tempfile_in(&self.dir)
    }

    /// A temporary symbolic link to `target`, for what will be renamed to `name`.
    fn symlink(&self, name: &str, target: &str) -> io::Result<PathBuf> {
        let _open = self.gate();
        let temp = self.dir.join(format!("{TEMP_PREFIX}{name}"));
        let _ = fs::remove_file(&temp);
        std::os::unix::fs::symlink(target, &temp)?;
        Ok(temp)
    }

    /// Deletes every temporary file in the folder (the caller holds the exclusive lock).
    fn remove_all(&self) {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in listing.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Closes the gate for the rest of the process, then deletes every temporary file: for a
    /// run about to exit on a signal. Whoever makes a temporary file next waits forever.
    pub fn remove_for_good(&self) {
        let closed = self.gate();
        self.remove_all();
        std::mem::forget(closed);
    }
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: Option<&[u8]>) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    let data = match data {
        Some(data) => {
            header.set_mode(0o644);
            data
        }
        None => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            &[]
        }
    };
    header.set_size(data.len() as u64);
    // A fixed time: the same entries always make the same database bytes.
    header.set_mtime(0);
    tar.append_data(&mut header, path, data)
}

/// Makes a file world-readable (0644).
pub fn set_readable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
}
