//! The source cache, `CACHE/BASE/NAME`, written only through directory handles.
//!
//! A `.SRCINFO` names the files its sources are saved as, so every name that reaches the cache
//! is outside input. [`plain_name`] refuses anything but one plain path component before a
//! source is planned for fetching, and everything written, renamed or deleted here is opened
//! relative to a handle on the cache folder with `O_NOFOLLOW`: a `..`, an absolute path or a
//! symbolic link planted inside the cache cannot make a write land anywhere else.

use std::{
    fs::File,
    hash::{BuildHasher, RandomState},
    io,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// Why a declared file name cannot be used as a name in the cache, if it cannot.
pub fn plain_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an empty file name")
    } else if name == "." || name == ".." {
        Some("a file name that is the folder itself or its parent")
    } else if name.contains('/') {
        Some("a file name that is a path, not one plain name")
    } else if name.contains('\0') {
        Some("a file name with a NUL byte")
    } else {
        None
    }
}

/// The cache folder, held open.
pub struct Cache {
    path: PathBuf,
    dir: OwnedFd,
}

/// One package base's folder in the cache, held open.
pub struct BaseDir {
    path: PathBuf,
    dir: OwnedFd,
}

/// A file being written in a [`BaseDir`] under a temporary name; deleted unless persisted.
pub struct TempFile<'a> {
    base: &'a BaseDir,
    name: String,
    file: File,
}

/// Fails with `InvalidInput` unless `name` is one plain path component.
fn checked(name: &str) -> io::Result<&str> {
    match plain_name(name) {
        None => Ok(name),
        Some(reason) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{reason}: {}", name.escape_debug()),
        )),
    }
}

/// Opens the folder `name` in `parent`, never through a symbolic link.
fn open_dir(parent: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(parent, name, flags, Mode::empty())?)
}

impl Cache {
    /// Opens the cache folder `path`, making it first if need be. The folder itself is the
    /// user's to choose; only what goes inside it is guarded.
    pub fn open(path: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(path)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(path, flags, Mode::empty())?;
        Ok(Self {
            path: path.to_owned(),
            dir,
        })
    }

    /// The folder of package base `base`, made if missing; refused if it is a symbolic link.
    pub fn base(&self, base: &str) -> io::Result<BaseDir> {
        let base = checked(base)?;
        match rustix::fs::mkdirat(&self.dir, base, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(error) => return Err(error.into()),
        }
        Ok(BaseDir {
            path: self.path.join(base),
            dir: open_dir(&self.dir, base)?,
        })
    }
}

impl BaseDir {
    /// Where `name` is, as a path for messages and for the records (`name` must be plain).
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// What kind of entry `name` is, without following a link; `None` when there is none.
    pub fn kind(&self, name: &str) -> io::Result<Option<FileType>> {
        match rustix::fs::statat(&self.dir, checked(name)?, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Opens the cached file `name` for reading: `None` if there is none; an error if it is
    /// a symbolic link or anything but a regular file (a FIFO would never end).
    pub fn open_file(&self, name: &str) -> io::Result<Option<File>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.dir, checked(name)?, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => {
                return Err(io::Error::other(format!(
                    "{} is a symbolic link",
                    self.path_of(name).display()
                )));
            }
            Err(error) => return Err(error.into()),
        };
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file",
                self.path_of(name).display()
            )));
        }
        Ok(Some(file))
    }

    /// A new empty file beside `name`, to be renamed to it by [`TempFile::persist`].
    pub fn temp(&self, name: &str) -> io::Result<TempFile<'_>> {
        let name = checked(name)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let random = RandomState::new();
        for attempt in 0u32..64 {
            let temp = format!(".{name}.{:016x}.part", random.hash_one(attempt));
            match rustix::fs::openat(&self.dir, &temp, flags, Mode::from_raw_mode(0o644)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        base: self,
                        name: temp,
                        file: File::from(fd),
                    });
                }
                Err(rustix::io::Errno::EXIST) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(io::Error::other("no free temporary name"))
    }

    /// Deletes the entry `name` (a link itself, never what it points to).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(
            &self.dir,
            checked(name)?,
            AtFlags::empty(),
        )?)
    }

    /// Makes a new empty folder beside `name`, for a tool (git) that writes a tree there; the
    /// caller moves what it made into place with [`BaseDir::rename`] and removes the rest.
    pub fn temp_dir(&self, name: &str) -> io::Result<tempfile::TempDir> {
        let name = checked(name)?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempdir_in(&self.path)?;
        // The folder must be a real one inside this base, not reached through a link.
        let inside = temp
            .path()
            .file_name()
            .and_then(|part| part.to_str())
            .ok_or_else(|| io::Error::other("temporary folder without a name"))?;
        open_dir(&self.dir, inside)?;
        Ok(temp)
    }

    /// Renames `from` (a path relative to this base: a temporary entry) to `name`, replacing
    /// whatever entry `name` was, never following it.
    pub fn rename(&self, from: &Path, name: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(
            &self.dir,
            from,
            &self.dir,
            checked(name)?,
        )?)
    }
}

impl TempFile<'_> {
    /// The file, open for writing.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Renames the file to `name`, replacing a file (or a link, not its target) there.
    pub fn persist(mut self, name: &str) -> io::Result<()> {
        let renamed =
            rustix::fs::renameat(&self.base.dir, &self.name, &self.base.dir, checked(name)?);
        if renamed.is_ok() {
            self.name.clear();
        }
        Ok(renamed?)
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            let _ = rustix::fs::unlinkat(&self.base.dir, &self.name, AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn only_plain_names_are_accepted() {
        for bad in ["", ".", "..", "../x", "/tmp/x", "a/b", "a\0b"] {
            assert!(plain_name(bad).is_some(), "{bad:?}");
        }
        for good in ["x.tar.gz", "...", ".hidden", "a b", "x?y"] {
            assert_eq!(plain_name(good), None, "{good:?}");
        }
    }

    #[test]
    fn links_planted_in_the_cache_are_not_followed() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = root.path().join("outside");
        std::fs::write(&outside, "precious").expect("write");
        let cache = Cache::open(&root.path().join("cache")).expect("cache");
        let base = cache.base("app").expect("base");
        std::os::unix::fs::symlink(&outside, base.path_of("src.tar")).expect("symlink");
        assert!(base.open_file("src.tar").is_err());
        let temp = base.temp("src.tar").expect("temp");
        temp.file().write_all(b"new").expect("write");
        temp.persist("src.tar").expect("persist");
        base.remove("src.tar").expect("remove");
        assert_eq!(std::fs::read(&outside).expect("read"), b"precious");
        std::os::unix::fs::symlink(root.path(), root.path().join("cache/linked")).expect("link");
        assert!(cache.base("linked").is_err());
        assert!(base.temp("../x").is_err() && cache.base("..").is_err());
    }

    #[test]
    fn an_unpersisted_temporary_file_is_removed() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(root.path()).expect("cache");
        let base = cache.base("app").expect("base");
        drop(base.temp("src.tar").expect("temp"));
        let left = std::fs::read_dir(root.path().join("app")).expect("read_dir");
        assert_eq!(left.count(), 0);
    }
}
