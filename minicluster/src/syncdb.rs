//! Sync databases (`core.db`, `core.files`): a compressed tar of `NAME-VERSION/desc` and
//! `NAME-VERSION/files` entries.
//!
//! A database is read as a stream, one entry at a time, under [`Limits`]: a 72 KB database can
//! decompress to gigabytes, and a `files` member of millions of one-byte lines costs far more
//! once split into lines than its size says. An entry over the bound is an [`EntryError`] and
//! the stream goes on; a database over the bound stops with [`SyncDbError::TooLarge`].

use std::{
    collections::BTreeMap,
    io::{self, Read},
};

use crate::{compress, desc, record::PackageRecord, size::Size};

/// What a parsed line costs beyond its text: a `String` (24 bytes) and its allocation's
/// overhead. Entries are bounded by text plus this per line, the memory their parse holds.
const LINE_OVERHEAD_BYTES: u64 = 48;

/// The default bound of one `desc` or `files` member, in MiB: the `files` entry of the largest
/// official package holds about 8 MiB of paths.
pub const DEFAULT_ENTRY_MIB: u64 = 32;

/// The default bound of a whole database, decompressed, in MiB: Arch's `extra.files` is a few
/// hundred MiB.
pub const DEFAULT_DATABASE_MIB: u64 = 2048;

/// How much a sync database may make a reader hold or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest `desc` or `files` member: its text plus [`LINE_OVERHEAD_BYTES`] per line.
    pub entry_bytes: u64,
    /// The whole tar stream, decompressed.
    pub database_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_mib(DEFAULT_ENTRY_MIB, DEFAULT_DATABASE_MIB)
    }
}

impl Limits {
    /// Limits given in MiB, as the command lines take them.
    pub fn from_mib(entry: u64, database: u64) -> Self {
        Self {
            entry_bytes: entry.saturating_mul(1 << 20),
            database_bytes: database.saturating_mul(1 << 20),
        }
    }
}

/// Why a sync database could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum SyncDbError {
    /// The stream is not a (compressed) tar archive, or it ends early.
    #[error("not a readable sync database (compressed tar): {0}")]
    Archive(#[source] io::Error),
    /// A member is larger than [`Limits::entry_bytes`] (only where one entry spoils the whole
    /// database: a repository's own database being rewritten).
    #[error("member {path} holds more than {limit}, more than a sync database entry may")]
    MemberTooLarge {
        /// The member's path.
        path: String,
        /// The bound.
        limit: Size,
    },
    /// The database decompresses to more than [`Limits::database_bytes`].
    #[error("decompresses to more than {limit}, the bound of a whole sync database")]
    TooLarge {
        /// The bound.
        limit: Size,
    },
    /// Local I/O failed: the caller's output, or a temporary copy of the database.
    #[error("local I/O: {0}")]
    Local(#[source] io::Error),
}

impl SyncDbError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "sync_db_too_large",
            Self::Local(_) => "local_io",
            Self::Archive(_) | Self::MemberTooLarge { .. } => "bad_sync_db",
        }
    }
}

/// One package folder of a sync database.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The folder name, `NAME-VERSION`.
    pub folder: String,
    /// Text of the `desc` member.
    pub desc: Option<String>,
    /// Text of the `files` member (only in `.files` databases).
    pub files: Option<String>,
}

/// The outcome of reading one entry: a package, or why its folder could not be read.
pub type EntryResult = Result<PackageRecord, EntryError>;

/// Why one entry of an otherwise readable database is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{folder}: {problem}")]
pub struct EntryError {
    /// The entry's folder, `NAME-VERSION`.
    pub folder: String,
    /// A stable snake_case name for error records (`bad_entry`, `entry_too_large`, ...).
    pub kind: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl EntryError {
    fn new(folder: &str, kind: &'static str, problem: String) -> Self {
        Self {
            folder: folder.to_owned(),
            kind,
            problem,
        }
    }
}

/// What a sync database URL served.
#[derive(Debug)]
pub enum Served<T> {
    /// The database, as the reader made it.
    Entries(T),
    /// The text of a symbolic link (`core.db.tar.gz`): some hosts (GitHub Pages, a git checkout
    /// served as it is) serve `core.db` as a file holding its link target.
    LinkText(String),
}

/// Reads what a sync database URL served with `read` (which gets the whole stream back), or
/// the name it links to.
pub fn read_served<T>(
    input: impl Read + Send,
    read: impl FnOnce(&mut (dyn Read + Send)) -> Result<T, SyncDbError>,
) -> Result<Served<T>, SyncDbError> {
    let mut input = input;
    let mut head = Vec::new();
    input
        .by_ref()
        .take(256)
        .read_to_end(&mut head)
        .map_err(SyncDbError::Archive)?;
    if let Some(target) = link_text(&head) {
        return Ok(Served::LinkText(target));
    }
    read(&mut io::Cursor::new(head).chain(input)).map(Served::Entries)
}

/// The link target when `head` is nothing but a file name like `core.db.tar.zst`.
fn link_text(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(head).ok()?.trim_end_matches('\n');
    let plain_name = !text.is_empty()
        && text.len() < 256
        && !text.contains(['/', '\n', '\0'])
        && text.contains(".tar");
    plain_name.then(|| text.to_owned())
}

/// Counts what the decompressor yields and fails once it passes the database bound.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other("sync database over its bound"));
        }
        Ok(n)
    }
}

/// One member read under the entry bound: its text, or the bound it broke.
enum Member {
    Text(String),
    TooLarge,
}

fn read_member(member: &mut impl Read, size: u64, limit: u64) -> io::Result<Member> {
    if size > limit {
        return Ok(Member::TooLarge);
    }
    // Capacity from what arrives, not from what a (possibly hostile) header declares.
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
    member
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    if (bytes.len() as u64).saturating_add(lines.saturating_mul(LINE_OVERHEAD_BYTES)) > limit {
        return Ok(Member::TooLarge);
    }
    Ok(Member::Text(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }))
}

/// An entry being gathered from adjacent members of one folder.
struct Pending {
    entry: Entry,
    problem: Option<EntryError>,
}

/// Reads a sync database stream in any compression pacman accepts and hands each entry to
/// `visit` as soon as its folder's members are read, in the order of the tar.
///
/// repo-add writes a folder's `desc` and `files` next to each other, so an entry is the run of
/// adjacent members of one folder; a folder that comes back later is visited again, for the
/// caller to merge or refuse. A member over [`Limits::entry_bytes`] makes its entry an
/// [`EntryError`]. Returns how many entries were visited.
pub fn stream_entries(
    input: impl Read + Send,
    limits: Limits,
    mut visit: impl FnMut(Result<Entry, EntryError>) -> io::Result<()>,
) -> Result<usize, SyncDbError> {
    let bounded = Bounded {
        inner: compress::decompress(input).map_err(SyncDbError::Archive)?,
        read: 0,
        limit: limits.database_bytes,
    };
    let mut archive = tar::Archive::new(bounded);
    let result = stream_members(&mut archive, limits, &mut visit);
    let over = archive.into_inner().read > limits.database_bytes;
    match result {
        Err(SyncDbError::Archive(_)) if over => Err(SyncDbError::TooLarge {
            limit: Size::bytes(limits.database_bytes),
        }),
        result => result,
    }
}

fn stream_members<R: Read>(
    archive: &mut tar::Archive<R>,
    limits: Limits,
    visit: &mut impl FnMut(Result<Entry, EntryError>) -> io::Result<()>,
) -> Result<usize, SyncDbError> {
    let mut pending: Option<Pending> = None;
    let mut count = 0;
    let mut flush = |pending: Option<Pending>| -> Result<(), SyncDbError> {
        let Some(Pending { entry, problem }) = pending else {
            return Ok(());
        };
        count += 1;
        visit(problem.map_or(Ok(entry), Err)).map_err(SyncDbError::Local)
    };
    for member in archive.entries().map_err(SyncDbError::Archive)? {
        let mut member = member.map_err(SyncDbError::Archive)?;
        let path = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        let Some((folder, kind @ ("desc" | "files"))) = path.trim_end_matches('/').rsplit_once('/')
        else {
            continue;
        };
        if pending.as_ref().is_some_and(|p| p.entry.folder != folder) {
            flush(pending.take())?;
        }
        let current = pending.get_or_insert_with(|| Pending {
            entry: Entry {
                folder: folder.to_owned(),
                ..Entry::default()
            },
            problem: None,
        });
        let size = member.header().size().map_err(SyncDbError::Archive)?;
        let text = match read_member(&mut member, size, limits.entry_bytes) {
            Ok(Member::Text(text)) => text,
            Ok(Member::TooLarge) => {
                let limit = Size::bytes(limits.entry_bytes);
                let problem = format!("its {kind} member holds more than {limit}");
                current.problem = Some(EntryError::new(folder, "entry_too_large", problem));
                continue;
            }
            Err(error) => return Err(SyncDbError::Archive(error)),
        };
        if current.problem.is_some() {
            continue;
        }
        if kind == "desc" {
            current.entry.desc = Some(text);
        } else {
            current.entry.files = Some(text);
        }
    }
    flush(pending)?;
    Ok(count)
}

/// Reads every entry of a sync database stream (a repository's own, to rewrite it), in folder
/// name order; members of one folder may stand anywhere in the tar. An entry over the bound
/// spoils the whole database here.
pub fn read_entries(input: impl Read + Send) -> Result<Vec<Entry>, SyncDbError> {
    let limits = Limits::default();
    let mut folders: BTreeMap<String, Entry> = BTreeMap::new();
    let mut too_large = None;
    stream_entries(input, limits, |entry| {
        match entry {
            Ok(entry) => {
                let merged = folders.entry(entry.folder.clone()).or_default();
                merged.folder = entry.folder;
                merged.desc = entry.desc.or(merged.desc.take());
                merged.files = entry.files.or(merged.files.take());
            }
            Err(error) => {
                too_large.get_or_insert(error.folder);
            }
        }
        Ok(())
    })?;
    match too_large {
        Some(path) => Err(SyncDbError::MemberTooLarge {
            path,
            limit: Size::bytes(limits.entry_bytes),
        }),
        None => Ok(folders.into_values().collect()),
    }
}

impl Entry {
    /// The package this entry describes, with its file list when the entry has one.
    pub fn package(&self, repo: &str) -> EntryResult {
        let error = |problem: String| EntryError::new(&self.folder, "bad_entry", problem);
        let desc = self
            .desc
            .as_deref()
            .ok_or_else(|| error("no desc member".to_owned()))?;
        let mut package = desc::package(repo, desc).map_err(|e| error(e.to_string()))?;
        if let Some(files) = &self.files {
            package.files = Some(desc::files(files).map_err(|e| error(e.to_string()))?);
        }
        if let Some(filename) = package.filename.as_deref().filter(|f| !plain_file_name(f)) {
            let problem = format!("%FILENAME% {filename:?} is not a plain file name");
            return Err(EntryError::new(&self.folder, "bad_filename", problem));
        }
        Ok(package)
    }
}

/// Whether `name` is one path component a download may be saved under: pacman joins
/// `%FILENAME%` to its cache folder and to the server URL.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(members: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .expect("in-memory tar");
        }
        builder.into_inner().expect("in-memory tar")
    }

    #[test]
    fn reads_desc_and_files_in_any_member_order() {
        let tar = tar_of(&[
            ("a-1-1/files", "%FILES%\nusr/\nusr/bin/a\n"),
            ("b-2-1/desc", "%NAME%\nb\n\n%VERSION%\n2-1\n"),
            ("a-1-1/desc", "%NAME%\na\n\n%VERSION%\n1-1\n"),
        ]);
        let compressed = zstd::encode_all(tar.as_slice(), 3).expect("zstd");
        let entries = read_entries(compressed.as_slice()).expect("readable");
        let packages: Vec<_> = entries
            .iter()
            .map(|entry| entry.package("core").expect("valid entry"))
            .collect();
        assert_eq!(packages[0].name, "a");
        assert_eq!(
            packages[0].files.as_deref(),
            Some(&["usr/".to_owned(), "usr/bin/a".to_owned()][..])
        );
        assert_eq!(packages[1].files, None);
    }

    #[test]
    fn link_text_is_recognised() {
        let served = read_served(&b"core.db.tar.gz"[..], |r| read_entries(r)).expect("reads");
        assert!(matches!(served, Served::LinkText(name) if name == "core.db.tar.gz"));
        let tar = tar_of(&[("a-1-1/desc", "%NAME%\na\n\n%VERSION%\n1-1\n")]);
        let served = read_served(tar.as_slice(), |r| read_entries(r));
        assert!(matches!(served, Ok(Served::Entries(e)) if e.len() == 1));
    }

    #[test]
    fn a_non_tar_is_an_error() {
        let result =
            read_entries(&b"<html>404 not found</html> and some more text to fill a block"[..]);
        assert!(result.is_err());
    }

    #[test]
    fn an_entry_without_desc_is_an_entry_error() {
        let entries =
            read_entries(tar_of(&[("x-1-1/files", "%FILES%\n")]).as_slice()).expect("tar");
        assert!(entries[0].package("core").is_err());
    }

    /// Every entry `stream_entries` visits, under `limits`.
    fn streamed(
        tar: &[u8],
        limits: Limits,
    ) -> (Vec<Result<Entry, EntryError>>, Result<usize, SyncDbError>) {
        let mut visited = Vec::new();
        let result = stream_entries(tar, limits, |entry| {
            visited.push(entry);
            Ok(())
        });
        (visited, result)
    }

    #[test]
    fn an_entry_over_its_bound_is_an_entry_error_and_the_stream_goes_on() {
        let lines = "a\n".repeat(40_000);
        let files = format!("%FILES%\n{lines}");
        let tar = tar_of(&[
            ("a-1-1/desc", "%NAME%\na\n\n%VERSION%\n1-1\n"),
            ("a-1-1/files", &files),
            ("b-1-1/desc", "%NAME%\nb\n\n%VERSION%\n1-1\n"),
        ]);
        // 80 KB of text, but 40,000 lines cost about 2 MiB parsed: over a 1 MiB bound.
        let (visited, result) = streamed(&tar, Limits::from_mib(1, 16));
        assert_eq!(result.expect("readable"), 2);
        let error = visited[0].as_ref().expect_err("over the bound");
        assert_eq!(
            (error.folder.as_str(), error.kind),
            ("a-1-1", "entry_too_large")
        );
        assert!(visited[1].is_ok());
        let (visited, _) = streamed(&tar, Limits::from_mib(4, 16));
        assert!(
            visited.iter().all(Result::is_ok),
            "under a 4 MiB bound it reads"
        );
    }

    #[test]
    fn a_database_over_its_bound_stops_with_too_large() {
        let files = format!("%FILES%\n{}", "usr/share/x/".repeat(200_000));
        let tar = tar_of(&[("a-1-1/files", &files), ("b-1-1/desc", "%NAME%\nb\n")]);
        let (_, result) = streamed(&tar, Limits::from_mib(4, 1));
        assert!(
            matches!(result, Err(SyncDbError::TooLarge { limit }) if limit == Size::mib(1)),
            "{result:?}"
        );
    }

    #[test]
    fn a_folder_coming_back_is_visited_again() {
        let tar = tar_of(&[
            ("a-1-1/desc", "%NAME%\na\n"),
            ("b-1-1/desc", "%NAME%\nb\n"),
            ("a-1-1/files", "%FILES%\n"),
        ]);
        let (visited, _) = streamed(&tar, Limits::default());
        let folders: Vec<_> = visited
            .iter()
            .flatten()
            .map(|e| e.folder.as_str())
            .collect();
        assert_eq!(folders, ["a-1-1", "b-1-1", "a-1-1"]);
    }

    #[test]
    fn a_filename_that_is_not_one_path_component_is_refused() {
        for filename in [
            "../../../etc/passwd",
            "/etc/passwd",
            "a/b.pkg.tar.zst",
            "..",
            ".",
        ] {
            let desc = format!("%FILENAME%\n{filename}\n\n%NAME%\na\n\n%VERSION%\n1-1\n");
            let entry = Entry {
                folder: "a-1-1".into(),
                desc: Some(desc),
                files: None,
            };
            let error = entry.package("core").expect_err(filename);
            assert_eq!(error.kind, "bad_filename");
        }
    }
}
